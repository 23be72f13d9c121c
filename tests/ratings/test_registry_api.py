"""The credit registry's stable JSON (``/credit/<publisher>.json``) and its API
(``/api/v1/credit/entities/``, ``.../<slug>/``, ``/api/v1/credit/dishonesty-list/``)."""

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from ratings.models import GradeMeasure, Rating, Sanction, Watch
from tests.ratings.test_registry import (
    Scene,
    make_published,
    make_scene,
    publisher,
    queries_of,
    rating_row,
    sanction_on,
)

pytestmark = pytest.mark.django_db

State = Rating.State


@pytest.fixture
def scene() -> Scene:
    return make_scene()


@pytest.fixture
def published(monkeypatch: pytest.MonkeyPatch) -> Rating:
    return make_published(monkeypatch)


def _document(client: Client, slug: str) -> dict[str, Any]:
    response = client.get(reverse("credit-profile-json", kwargs={"publisher": slug}))
    assert response.status_code == 200
    data: dict[str, Any] = response.json()
    return data


# --- The stable JSON ---------------------------------------------------------------


def test_profile_json_of_a_published_rating(client: Client, published: Rating) -> None:
    # when
    response = client.get(
        reverse("credit-profile-json", kwargs={"publisher": published.entity.slug})
    )
    # then: public, cacheable, readable by any site
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == "*"
    assert "public" in response["Cache-Control"]
    assert "max-age=300" in response["Cache-Control"]
    data = response.json()
    assert set(data) == {
        "publisher",
        "ratings",
        "dishonesty_listed",
        "sanctions",
        "generated_at",
    }
    assert data["publisher"]["slug"] == published.entity.slug
    assert data["publisher"]["url"] == (
        f"http://testserver/publishers/{published.entity.slug}/"
    )
    [entry] = data["ratings"]
    methodology = published.cycle.methodology
    assert entry["body"] == {
        "slug": published.cycle.body.slug,
        "name": published.cycle.body.name,
    }
    assert entry["current"] is True
    assert entry["grade"] == "BBB"
    assert entry["grade_definition"] == {"en": "BBB means...", "zh": ""}
    assert entry["outlook"] == "stable"
    assert entry["on_watch"] is False
    assert entry["score"] == str(published.score)
    assert entry["evidence_hash"] == published.evidence_hash
    assert entry["methodology"] == {
        "code": methodology.code,
        "version": methodology.version,
        "url": f"http://testserver/credit/methodologies/{published.cycle.body.slug}/"
        f"{methodology.code}/v{methodology.version}/",
    }
    assert [h["state"] for h in entry["history"]] == ["published"]
    assert data["dishonesty_listed"] is False


def test_profile_json_contributions_add_up_to_the_score(
    client: Client, published: Rating
) -> None:
    [entry] = _document(client, published.entity.slug)["ratings"]
    indicators = entry["indicators"]
    assert [i["code"] for i in indicators] == ["findings", "reviews", "disclosure"]
    assert {i["name"]["en"] for i in indicators} == {
        "Misconduct findings",
        "Review score",
        "Disclosure completeness",
    }
    # decimal strings with two places, adding up exactly
    for item in indicators:
        assert isinstance(item["contribution"], str)
        assert len(item["contribution"].split(".")[1]) == 2
    total = sum((Decimal(i["contribution"]) for i in indicators), Decimal(0))
    assert total == Decimal(entry["score"])
    assert str(total) == entry["score"]


def test_profile_json_history_and_lapsed_ratings(client: Client, scene: Scene) -> None:
    # given: a superseded rating, then one that lapsed yesterday
    entity = publisher()
    now = timezone.now()
    rating_row(
        scene,
        entity,
        grade="A",
        state=State.SUPERSEDED,
        published_at=now - timedelta(days=500),
    )
    rating_row(
        scene,
        entity,
        grade="BBB",
        published_at=now - timedelta(days=366),
        valid_until=now - timedelta(days=1),
    )
    # when
    [entry] = _document(client, entity.slug)["ratings"]
    # then
    assert entry["current"] is False
    assert entry["grade"] is None
    assert entry["score"] is None
    assert entry["indicators"] == []
    assert [(h["grade"], h["state"]) for h in entry["history"]] == [
        ("BBB", "published"),
        ("A", "superseded"),
    ]


def test_profile_json_watch_and_sanctions(client: Client, scene: Scene) -> None:
    entity = publisher()
    rating = rating_row(scene, entity, grade="D")
    Watch.objects.create(
        entity=entity,
        body=scene.body,
        reason=Watch.Reason.RECALL,
        due_at=timezone.now() + timedelta(days=90),
    )
    sanction_on(rating)
    sanction_on(rating, kind=GradeMeasure.Kind.DOWNRANK, state=Sanction.State.EXPIRED)
    data = _document(client, entity.slug)
    [entry] = data["ratings"]
    assert entry["on_watch"] is True
    assert entry["watch"]["reason"] == "recall"
    assert data["dishonesty_listed"] is True
    assert sorted((s["kind"], s["state"]) for s in data["sanctions"]) == [
        ("dishonesty_list", "active"),
        ("downrank", "expired"),
    ]


def test_profile_json_of_unknown_and_unrated(client: Client) -> None:
    response = client.get(
        reverse("credit-profile-json", kwargs={"publisher": "no-such-one"})
    )
    assert response.status_code == 404
    assert response["Access-Control-Allow-Origin"] == "*"
    assert "detail" in response.json()
    fresh = publisher()
    data = _document(client, fresh.slug)
    assert data["ratings"] == []
    assert data["sanctions"] == []


# --- The API -------------------------------------------------------------------------


def test_api_entity_detail_is_the_stable_document(
    client: Client, published: Rating
) -> None:
    api = client.get(
        reverse("api-credit-entity-detail", kwargs={"slug": published.entity.slug})
    )
    assert api.status_code == 200
    page = _document(client, published.entity.slug)
    api_data = api.json()
    api_data.pop("generated_at")
    page.pop("generated_at")
    assert api_data == page
    missing = client.get(reverse("api-credit-entity-detail", kwargs={"slug": "nope"}))
    assert missing.status_code == 404


def test_api_entity_list_and_filters(client: Client, scene: Scene) -> None:
    rating_row(scene, publisher("Alpha Labs"), grade="A")
    rating_row(scene, publisher("Beta Works"), grade="BBB")
    rating_row(scene, publisher("Gamma Soft"), grade="B")
    url = reverse("api-credit-entity-list")

    def names(**query: str) -> list[str]:
        response = client.get(url, query)
        assert response.status_code == 200, response.content
        return [item["entity"]["name"] for item in response.json()["results"]]

    assert names() == ["Alpha Labs", "Beta Works", "Gamma Soft"]
    assert names(grade="BBB") == ["Alpha Labs", "Beta Works"]
    assert names(grade="BBB", match="exactly") == ["Beta Works"]
    assert names(q="gamma") == ["Gamma Soft"]
    assert names(body=scene.body.slug) == ["Alpha Labs", "Beta Works", "Gamma Soft"]
    item = client.get(url, {"q": "alpha"}).json()["results"][0]
    assert item["grade"] == "A"
    assert item["score"] == "72.35"
    assert item["body"]["slug"] == scene.body.slug
    assert item["credit_profile_url"] == "http://testserver" + reverse(
        "credit-profile", kwargs={"publisher": item["entity"]["slug"]}
    )


@pytest.mark.parametrize(
    "query",
    [
        {"grade": "ZZZ"},
        {"match": "roughly"},
        {"body": "no-such-body"},
        {"body": "bad slug!"},
        {"page": "x"},
        {"page": "0"},
        {"page_size": "0"},
    ],
)
def test_api_entity_list_bad_query_answers_400(
    client: Client, scene: Scene, query: dict[str, str]
) -> None:
    rating_row(scene, publisher())
    response = client.get(reverse("api-credit-entity-list"), query)
    assert response.status_code == 400


@pytest.mark.parametrize(
    "name", ["api-credit-entity-list", "api-credit-dishonesty-list"]
)
def test_api_list_query_counts_are_constant(
    client: Client, scene: Scene, django_assert_num_queries: Any, name: str
) -> None:
    def add(n: int) -> None:
        for _ in range(n):
            sanction_on(rating_row(scene, publisher(), grade="D"))

    url = reverse(name)
    add(2)
    small = queries_of(client, url)
    add(6)
    with django_assert_num_queries(small):
        response = client.get(url)
    assert len(response.json()["results"]) == 8


def test_api_dishonesty_list_lists_only_what_is_in_force(
    client: Client, scene: Scene
) -> None:
    listed = sanction_on(rating_row(scene, publisher("Listed Co"), grade="D"))
    sanction_on(
        rating_row(scene, publisher("Lifted Co"), grade="D"),
        state=Sanction.State.LIFTED,
    )
    sanction_on(
        rating_row(scene, publisher("Ran Out Co"), grade="D"),
        ends_in=timedelta(days=-2),
    )
    response = client.get(reverse("api-credit-dishonesty-list"))
    assert response.status_code == 200
    data = response.json()
    assert [r["entity"]["slug"] for r in data["results"]] == [listed.entity.slug]
    assert data["results"][0]["reason"] == "Listed for fraud."
    assert (
        client.get(reverse("api-credit-dishonesty-list"), {"page": "x"}).status_code
        == 400
    )


def test_api_is_read_only(client: Client, scene: Scene) -> None:
    entity = publisher()
    rating_row(scene, entity)
    for url in (
        reverse("api-credit-entity-list"),
        reverse("api-credit-entity-detail", kwargs={"slug": entity.slug}),
        reverse("api-credit-dishonesty-list"),
    ):
        assert client.post(url, {}).status_code in (401, 403, 405)
    for url in (
        reverse("credit-profile-json", kwargs={"publisher": entity.slug}),
        reverse("credit-profile", kwargs={"publisher": entity.slug}),
        reverse("credit-registry"),
    ):
        assert client.post(url, {}).status_code == 405
