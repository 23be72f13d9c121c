from collections.abc import Iterator
from pathlib import Path

import pytest
from django.test import Client

from marketplace.models import User
from tests.marketplace.factories import UserFactory


@pytest.fixture(autouse=True)
def _media_storage(settings: object, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"  # type: ignore[attr-defined]


@pytest.fixture(autouse=True)
def _empty_cache() -> Iterator[None]:
    """Rate-limit counters and cached values do not leak from one test to the next."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _english_by_default(settings: object) -> Iterator[None]:
    """Pages answer in the browser's language; tests speak English unless a test
    says otherwise."""
    from django.utils import translation

    with translation.override("en"):
        yield


@pytest.fixture
def user(db: None) -> User:
    return UserFactory.create()


@pytest.fixture
def client() -> Client:
    """A browser that asks for English (the site's default language is Chinese)."""
    return Client(HTTP_ACCEPT_LANGUAGE="en")
