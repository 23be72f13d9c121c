import os
import shutil
from collections.abc import Iterator
from typing import Any

import pytest

CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or ""


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not (CHROMIUM and os.path.exists(CHROMIUM)):
        if os.environ.get("AGENTSTORE_REQUIRE_ALL"):
            pytest.fail("no Chromium found, and CI requires the browser tests")
        pytest.skip("no Chromium found (apt-get install chromium runs these tests)")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the live server's ORM
    # calls happen in its own threads, the test's own ORM calls here are safe.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(
        locale="en-GB", viewport={"width": 1280, "height": 900}
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()
