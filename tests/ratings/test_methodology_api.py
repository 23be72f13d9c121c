"""Methodologies and enrolment through the API."""

import json
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from marketplace.models import Membership
from ratings.models import Enrolment, Methodology, Watch
from ratings.services.methodologies import (
    enrolment_sign,
    methodology_new_version,
    methodology_publish,
)
from ratings.views.methodologies import (
    DEFAULT_BANDS,
    DEFAULT_INDICATORS,
    DEFAULT_MEASURES,
    DEFAULT_OVERRIDES,
)
from tests.marketplace.factories import UserFactory
from tests.ratings.test_methodology_views import (
    body_with,
    draft,
    entity_with,
    member_of,
    published,
    stored,
)

pytestmark = pytest.mark.django_db

Role = Membership.Role
CONTENT: dict[str, Any] = {
    "indicators": DEFAULT_INDICATORS,
    "bands": DEFAULT_BANDS,
    "overrides": DEFAULT_OVERRIDES,
    "measures": DEFAULT_MEASURES,
}
NEW = {
    "code": "developer-credit",
    "name_en": "Agent developer credit",
    "text_en": "How we rate agent developers.",
    "commitment_en": "We commit to honest dealing.",
}


@pytest.fixture
def api() -> APIClient:
    return APIClient(HTTP_ACCEPT_LANGUAGE="en")


def _error(response: Any) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"}
    return body["error"]  # type: ignore[no-any-return]  # JSON is Any


def _url(methodology: Methodology, action: str = "") -> str:
    return f"/api/v1/credit/methodologies/{methodology.public_id}/{action}"


def _queries(api: APIClient, url: str, *, expected: int) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = api.get(url)
    assert response.status_code == 200
    assert len(response.json()["results"]) == expected
    return len(captured.captured_queries)


# --- A body's methodologies -------------------------------------------------------


def test_an_analyst_writes_sets_and_publishes_a_methodology(api: APIClient) -> None:
    # given
    body, analyst = body_with()
    api.force_authenticate(analyst)

    # when
    created = api.post(
        f"/api/v1/credit/bodies/{body.slug}/methodologies/",
        {**NEW, "validity_days": 730},
        format="json",
    )
    methodology = Methodology.objects.get(body=body)
    content = api.put(_url(methodology), CONTENT, format="json")
    publish = api.post(_url(methodology, "publish/"))

    # then
    assert created.status_code == 201
    assert created.json()["state"] == "draft"
    assert created.json()["url"] is None
    assert methodology.validity_days == 730
    assert content.status_code == 200
    assert len(content.json()["indicators"]) == len(DEFAULT_INDICATORS)
    assert content.json()["indicators"][0]["weight"] == "30"
    assert content.json()["measures"][0] == {
        "grade": "AAA",
        "kind": "fast_track",
        "duration_days": 365,
        "repair_after_days": 90,
    }
    assert publish.status_code == 200
    assert publish.json()["state"] == "published"
    assert publish.json()["url"].endswith(
        f"/credit/methodologies/{body.slug}/developer-credit/v1/"
    )


@pytest.mark.parametrize(
    ("role", "status"), [(Role.MEMBER, 403), (Role.COMMITTEE_MEMBER, 403)]
)
def test_only_authors_write_methodologies(
    api: APIClient, role: str, status: int
) -> None:
    # given
    body, analyst = body_with()
    methodology = draft(body, analyst)
    before = stored(methodology)
    api.force_authenticate(member_of(body, role))

    # when
    responses = [
        api.post(
            f"/api/v1/credit/bodies/{body.slug}/methodologies/", NEW, format="json"
        ),
        api.put(_url(methodology), {**CONTENT, "overrides": []}, format="json"),
        api.post(_url(methodology, "publish/")),
    ]

    # then
    assert [r.status_code for r in responses] == [status] * 3
    assert Methodology.objects.filter(body=body).count() == 1
    assert stored(methodology) == before


def test_outsiders_do_not_see_drafts_nor_write(api: APIClient) -> None:
    # given
    body, analyst = body_with()
    methodology = draft(body, analyst)
    api.force_authenticate(UserFactory.create())

    # when
    read = api.get(_url(methodology))
    put = api.put(_url(methodology), CONTENT, format="json")
    publish = api.post(_url(methodology, "publish/"))
    create = api.post(
        f"/api/v1/credit/bodies/{body.slug}/methodologies/", NEW, format="json"
    )
    listed = api.get(f"/api/v1/credit/bodies/{body.slug}/methodologies/")

    # then
    assert [read.status_code, put.status_code, publish.status_code] == [404] * 3
    assert create.status_code == 403
    assert listed.json()["results"] == []


def test_anonymous_reads_published_but_writes_nothing(api: APIClient) -> None:
    # given
    body, analyst = body_with()
    methodology = published(body, analyst)

    # when
    read = api.get(_url(methodology))
    create = api.post(
        f"/api/v1/credit/bodies/{body.slug}/methodologies/", NEW, format="json"
    )
    new_version = api.post(_url(methodology, "new-version/"))

    # then
    assert read.status_code == 200
    assert read.json()["bands"][0]["definition_zh"].startswith("诚信记录优良")
    assert create.status_code == 401
    assert new_version.status_code == 401


def test_members_list_drafts_others_only_published(api: APIClient) -> None:
    # given
    body, analyst = body_with()
    published(body, analyst, code="in-force")
    draft(body, analyst, code="work-in-progress")
    url = f"/api/v1/credit/bodies/{body.slug}/methodologies/"

    # when
    public = api.get(url)
    api.force_authenticate(member_of(body, Role.MEMBER))
    member = api.get(url)
    unknown = api.get("/api/v1/credit/bodies/nobody/methodologies/")

    # then
    assert [m["code"] for m in public.json()["results"]] == ["in-force"]
    assert sorted(m["code"] for m in member.json()["results"]) == [
        "in-force",
        "work-in-progress",
    ]
    assert unknown.status_code == 404


def test_bad_methodology_settings_are_400(api: APIClient) -> None:
    # given
    body, analyst = body_with()
    api.force_authenticate(analyst)

    # when
    response = api.post(
        f"/api/v1/credit/bodies/{body.slug}/methodologies/",
        {**NEW, "code": "not a slug!", "coverage_threshold": 2, "validity_days": "x"},
        format="json",
    )

    # then
    assert response.status_code == 400
    assert set(_error(response)["details"]) == {
        "code",
        "coverage_threshold",
        "validity_days",
    }
    assert not Methodology.objects.exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**CONTENT, "indicators": "many"}, "indicators"),
        ({**CONTENT, "bands": [1, 2]}, "bands.0"),
        ({"bands": DEFAULT_BANDS}, "indicators"),
        (
            {**CONTENT, "indicators": [{**DEFAULT_INDICATORS[0], "weight": [1]}]},
            "indicators",
        ),
        (
            {**CONTENT, "indicators": [{**DEFAULT_INDICATORS[0], "source": "stars"}]},
            "indicators",
        ),
        (
            {**CONTENT, "measures": [{"grade": "Z", "kind": "downrank"}]},
            "measures",
        ),
        ({**CONTENT, "overrides": [{"kind": "force"}]}, "overrides"),
    ],
)
def test_bad_content_is_400_with_its_field_and_changes_nothing(
    api: APIClient, body: dict[str, Any], field: str
) -> None:
    # given
    organization, analyst = body_with()
    methodology = draft(organization, analyst)
    before = stored(methodology)
    api.force_authenticate(analyst)

    # when
    response = api.put(_url(methodology), body, format="json")

    # then
    assert response.status_code == 400
    assert field in _error(response)["details"]
    assert stored(methodology) == before


def test_malformed_json_is_400_and_changes_nothing(api: APIClient) -> None:
    # given
    body, analyst = body_with()
    methodology = draft(body, analyst)
    before = stored(methodology)
    api.force_authenticate(analyst)

    # when
    response = api.put(
        _url(methodology),
        json.dumps(CONTENT)[:-10],
        content_type="application/json",
    )

    # then
    assert response.status_code == 400
    assert _error(response)["code"] == "parse_error"
    assert stored(methodology) == before


def test_the_message_of_an_unknown_source_names_it(api: APIClient) -> None:
    # given
    body, analyst = body_with()
    methodology = draft(body, analyst)
    api.force_authenticate(analyst)

    # when
    response = api.put(
        _url(methodology),
        {
            **CONTENT,
            "indicators": [
                DEFAULT_INDICATORS[0],
                {**DEFAULT_INDICATORS[1], "source": "stars"},
            ],
        },
        format="json",
    )

    # then
    assert _error(response)["details"]["indicators"] == [
        "Indicator 2 needs a known source."
    ]


def test_a_published_methodology_is_409_to_edit_and_gets_a_new_version(
    api: APIClient,
) -> None:
    # given
    body, analyst = body_with()
    methodology = published(body, analyst)
    before = stored(methodology)
    api.force_authenticate(analyst)

    # when
    edit = api.put(_url(methodology), {**CONTENT, "overrides": []}, format="json")
    publish = api.post(_url(methodology, "publish/"))
    new = api.post(_url(methodology, "new-version/"))

    # then
    assert edit.status_code == 409
    assert _error(edit)["code"] == "methodology_immutable"
    assert publish.status_code == 409
    assert stored(methodology) == before
    assert new.status_code == 201
    assert new.json()["version"] == 2
    assert new.json()["state"] == "draft"
    assert len(new.json()["indicators"]) == len(DEFAULT_INDICATORS)


def test_a_draft_that_is_not_whole_is_400_to_publish(api: APIClient) -> None:
    # given
    body, analyst = body_with()
    methodology = draft(body, analyst)
    api.force_authenticate(analyst)
    api.put(
        _url(methodology),
        {**CONTENT, "indicators": DEFAULT_INDICATORS[:1]},
        format="json",
    )

    # when
    response = api.post(_url(methodology, "publish/"))

    # then
    assert response.status_code == 400
    assert "indicators" in _error(response)["details"]
    methodology.refresh_from_db()
    assert methodology.state == Methodology.State.DRAFT


# --- The public list --------------------------------------------------------------


def test_the_public_list_has_published_and_retired_never_drafts(
    api: APIClient,
) -> None:
    # given
    body, analyst = body_with()
    first = published(body, analyst)
    second = methodology_publish(
        actor=analyst,
        methodology=methodology_new_version(actor=analyst, methodology=first),
    )
    draft(body, analyst, code="secret")

    # when
    everything = api.get("/api/v1/credit/methodologies/")
    retired = api.get("/api/v1/credit/methodologies/?state=retired")
    drafts = api.get("/api/v1/credit/methodologies/?state=draft")
    other_body = api.get("/api/v1/credit/methodologies/?body=nobody")

    # then
    assert [(m["version"], m["state"]) for m in everything.json()["results"]] == [
        (second.version, "published"),
        (first.version, "retired"),
    ]
    assert [m["version"] for m in retired.json()["results"]] == [1]
    assert drafts.status_code == 400
    assert other_body.json()["results"] == []


def test_the_public_list_has_a_constant_number_of_queries(api: APIClient) -> None:
    # given
    url = "/api/v1/credit/methodologies/"
    body, analyst = body_with()
    published(body, analyst, code="code-0")
    few = _queries(api, url, expected=1)

    # when
    for n in range(1, 6):
        other, author = body_with()
        published(other, author, code=f"code-{n}")
    many = _queries(api, url, expected=6)

    # then
    assert few == many


def test_the_body_list_has_a_constant_number_of_queries(api: APIClient) -> None:
    # given
    body, analyst = body_with()
    api.force_authenticate(analyst)
    url = f"/api/v1/credit/bodies/{body.slug}/methodologies/"
    published(body, analyst, code="code-0")
    few = _queries(api, url, expected=1)

    # when
    for n in range(1, 6):
        draft(body, analyst, code=f"code-{n}")
    many = _queries(api, url, expected=6)

    # then
    assert few == many


# --- Enrolment --------------------------------------------------------------------


def test_an_owner_enrols_and_withdraws(api: APIClient) -> None:
    # given
    entity, owner = entity_with()
    body, analyst = body_with()
    published(body, analyst, commitment_zh="我们承诺。")
    api.force_authenticate(owner)
    url = f"/api/v1/credit/entities/{entity.slug}/enrolments/"

    # when
    signed = api.post(url, {"body": body.slug}, format="json")
    listed = api.get(url)
    withdrawn = api.post(f"/api/v1/credit/enrolments/{signed.json()['id']}/withdraw/")

    # then
    assert signed.status_code == 201
    assert signed.json()["commitment_text"] == "We commit to honest dealing."
    assert signed.json()["signed_by"] == owner.username
    assert signed.json()["methodology"] == "developer-credit v1"
    assert [e["active"] for e in listed.json()["results"]] == [True]
    assert withdrawn.status_code == 200
    assert withdrawn.json()["active"] is False
    assert withdrawn.json()["withdrawn_by"] == owner.username


def test_enrolling_in_chinese_signs_the_chinese_commitment() -> None:
    # given
    entity, owner = entity_with()
    body, analyst = body_with()
    published(body, analyst, commitment_zh="我们承诺。")
    api = APIClient(HTTP_ACCEPT_LANGUAGE="zh-hans")
    api.force_authenticate(owner)

    # when
    response = api.post(
        f"/api/v1/credit/entities/{entity.slug}/enrolments/",
        {"body": body.slug},
        format="json",
    )

    # then
    assert response.json()["commitment_text"] == "我们承诺。"


@pytest.mark.parametrize("who", ["member", "other_owner", "anonymous"])
def test_only_the_entity_s_owners_and_administrators_enrol(
    api: APIClient, who: str
) -> None:
    # given
    entity, owner = entity_with()
    body, analyst = body_with()
    published(body, analyst)
    enrolment = enrolment_sign(actor=owner, entity=entity, body=body)
    if who == "member":
        api.force_authenticate(member_of(entity, Role.MEMBER))
    elif who == "other_owner":
        api.force_authenticate(entity_with()[1])
    url = f"/api/v1/credit/entities/{entity.slug}/enrolments/"

    # when
    listed = api.get(url)
    signed = api.post(url, {"body": body.slug}, format="json")
    withdrawn = api.post(f"/api/v1/credit/enrolments/{enrolment.pk}/withdraw/")

    # then
    expected = {
        "member": [403, 403, 403],
        "other_owner": [403, 403, 404],
        "anonymous": [401, 401, 401],
    }[who]
    assert [listed.status_code, signed.status_code, withdrawn.status_code] == expected
    enrolment.refresh_from_db()
    assert enrolment.withdrawn_at is None
    assert Enrolment.objects.count() == 1


def test_bad_enrolments_are_refused(api: APIClient) -> None:
    # given
    entity, owner = entity_with()
    body, analyst = body_with()
    published(body, analyst)
    enrolment_sign(actor=owner, entity=entity, body=body)
    silent, _ = body_with()
    api.force_authenticate(owner)
    url = f"/api/v1/credit/entities/{entity.slug}/enrolments/"

    # when
    twice = api.post(url, {"body": body.slug}, format="json")
    no_methodology = api.post(url, {"body": silent.slug}, format="json")
    unknown_body = api.post(url, {"body": "nobody"}, format="json")
    no_body = api.post(url, {}, format="json")
    unknown_entity = api.get("/api/v1/credit/entities/nobody/enrolments/")

    # then
    assert twice.status_code == 409
    assert _error(twice)["code"] == "already_enrolled"
    assert no_methodology.status_code == 400
    assert _error(no_methodology)["code"] == "no_methodology"
    assert unknown_body.status_code == 400
    assert "body" in _error(unknown_body)["details"]
    assert no_body.status_code == 400
    assert unknown_entity.status_code == 404


def test_withdrawing_on_watch_is_409(api: APIClient) -> None:
    # given
    entity, owner = entity_with()
    body, analyst = body_with()
    published(body, analyst)
    enrolment = enrolment_sign(actor=owner, entity=entity, body=body)
    Watch.objects.create(
        entity=entity,
        body=body,
        reason=Watch.Reason.ANALYST,
        due_at=timezone.now() + timedelta(days=90),
    )
    api.force_authenticate(owner)

    # when
    response = api.post(f"/api/v1/credit/enrolments/{enrolment.pk}/withdraw/")
    unknown = api.post("/api/v1/credit/enrolments/999999/withdraw/")

    # then
    assert response.status_code == 409
    assert _error(response)["code"] == "withdrawal_on_watch"
    enrolment.refresh_from_db()
    assert enrolment.withdrawn_at is None
    assert unknown.status_code == 404


def test_the_enrolment_list_has_a_constant_number_of_queries(api: APIClient) -> None:
    # given
    entity, owner = entity_with()
    api.force_authenticate(owner)
    url = f"/api/v1/credit/entities/{entity.slug}/enrolments/"
    body, analyst = body_with()
    published(body, analyst)
    enrolment_sign(actor=owner, entity=entity, body=body)
    few = _queries(api, url, expected=1)

    # when
    for _ in range(4):
        other, author = body_with()
        published(other, author)
        enrolment_sign(actor=owner, entity=entity, body=other)
    many = _queries(api, url, expected=5)

    # then
    assert few == many


def test_a_bad_page_number_is_404_not_an_error(api: APIClient) -> None:
    # when
    response = api.get("/api/v1/credit/methodologies/", {"page": "abc"})

    # then
    assert response.status_code == 404
    assert _error(response)["code"] == "not_found"
