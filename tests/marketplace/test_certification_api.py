"""The certification REST API: schemes, certificates and their states, requests,
the public verifier, and the operator's accreditations, domain requirements and
trusted issuers."""

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from rest_framework.test import APIClient

from config import keys
from marketplace import credentials
from marketplace.models import (
    Accreditation,
    Agent,
    AgentVersion,
    Certificate,
    CertificationRequest,
    Domain,
    ImportedCredential,
    Membership,
    Scheme,
    TrustedIssuer,
    User,
)
from marketplace.selectors.certification import version_certifiable_by
from marketplace.services import credentials as credential_services
from marketplace.services.certification import (
    certificate_revoke,
    certificate_suspend,
    certification_request_create,
    certification_request_refuse,
    certification_request_respond,
    certification_request_withdraw,
    domain_set_requirements,
)
from tests.marketplace.certification_fixtures import (
    LEVELS,
    certify_on_request,
    make_body,
    make_certificate,
    make_operator,
    make_scheme,
    make_version,
)
from tests.marketplace.factories import (
    AgentVersionFactory,
    DomainFactory,
    MembershipFactory,
    OrganizationFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

API = "/api/v1"
REPORT_URL = "https://lab.example.com/reports/7.pdf"


@pytest.fixture
def api() -> APIClient:
    return APIClient(HTTP_ACCEPT_LANGUAGE="en")


def _error(response: Any) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"}, body
    return body["error"]  # type: ignore[no-any-return]  # JSON is Any


def _publisher_member(version: AgentVersion) -> User:
    user = UserFactory.create()
    MembershipFactory.create(
        user=user, organization=version.agent.publisher, role=Membership.Role.OWNER
    )
    return user


def _issue_input(
    version: AgentVersion, scheme: Scheme, /, **changes: Any
) -> dict[str, Any]:
    agent = version.agent
    values: dict[str, Any] = {
        "publisher": agent.publisher.slug,
        "agent": agent.slug,
        "version": version.version,
        "scheme": scheme.code,
        "level": "basic",
        "assessor": "Li Wei",
        "report_url": REPORT_URL,
    }
    values.update(changes)
    return values


def _scheme_input(**changes: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "code": "agent-privacy",
        "name_en": "Agent privacy",
        "name_zh": "智能体隐私",
        "dimension": "security",
        "levels": LEVELS,
        "criteria_en": "Handles personal data as declared.",
    }
    values.update(changes)
    return values


# --- Schemes ------------------------------------------------------------------------


def test_anyone_lists_schemes_filtered_by_body_dimension_and_state(
    api: APIClient,
) -> None:
    # given
    first = make_body(accredited=("security", "privacy"))
    second = make_body()
    make_scheme(first, code="first-security")
    make_scheme(first, code="first-privacy", dimension="privacy")
    closed = make_scheme(second, code="second-security")
    closed.active = False
    closed.save()
    # when
    everything = api.get(f"{API}/certification/schemes/")
    of_first = api.get(
        f"{API}/certification/schemes/", {"body": first.organization.slug}
    )
    privacy = api.get(f"{API}/certification/schemes/", {"dimension": "privacy"})
    inactive = api.get(f"{API}/certification/schemes/", {"active": "false"})
    # then
    assert everything.status_code == 200
    assert [s["code"] for s in everything.json()["results"]] == [
        "first-privacy",
        "first-security",
        "second-security",
    ]
    assert {s["code"] for s in of_first.json()["results"]} == {
        "first-privacy",
        "first-security",
    }
    assert [s["code"] for s in privacy.json()["results"]] == ["first-privacy"]
    assert [s["code"] for s in inactive.json()["results"]] == ["second-security"]
    listed = everything.json()["results"][1]
    assert listed["body"] == first.organization.slug
    assert listed["levels"][0] == LEVELS[0]
    assert listed["valid_certificates"] == 0
    assert listed["url"] == "http://testserver/schemes/first-security/"


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"body": "no-such-body"}, "body"),
        ({"dimension": "taste"}, "dimension"),
        ({"active": "perhaps"}, "active"),
    ],
)
def test_bad_scheme_filters_are_a_400_naming_the_field(
    api: APIClient, query: dict[str, str], field: str
) -> None:
    response = api.get(f"{API}/certification/schemes/", query)
    assert response.status_code == 400
    assert field in _error(response)["details"]


def test_the_scheme_list_keeps_its_query_count(
    api: APIClient, django_assert_num_queries: Callable[..., Any]
) -> None:
    body = make_body()
    scheme = make_scheme(body, code="counted")
    make_certificate(body, scheme)
    # count and page
    with django_assert_num_queries(2):
        assert api.get(f"{API}/certification/schemes/").status_code == 200
    for index in range(4):
        make_scheme(body, code=f"more-{index}")
    with django_assert_num_queries(2):
        response = api.get(f"{API}/certification/schemes/")
    assert response.json()["count"] == 5


def test_a_scheme_is_public_and_an_unknown_one_is_a_404(api: APIClient) -> None:
    body = make_body()
    scheme = make_scheme(body, code="public-scheme")
    make_certificate(body, scheme)
    response = api.get(f"{API}/certification/schemes/public-scheme/")
    assert response.status_code == 200
    assert response.json()["valid_certificates"] == 1
    assert response.json()["criteria_en"] == scheme.criteria_en
    assert api.get(f"{API}/certification/schemes/nothing/").status_code == 404


def test_the_bodys_owner_defines_a_scheme(api: APIClient) -> None:
    # given
    body = make_body()
    api.force_authenticate(body.owner)
    # when
    response = api.post(
        f"{API}/certification/bodies/{body.organization.slug}/schemes/",
        _scheme_input(),
        format="json",
    )
    # then
    assert response.status_code == 201, response.json()
    assert response.json()["code"] == "agent-privacy"
    assert response.json()["validity_days"] == 365
    assert Scheme.objects.get(code="agent-privacy").body == body.organization


def test_only_the_bodys_owners_and_administrators_define_schemes(
    api: APIClient,
) -> None:
    body = make_body()
    other = make_body()
    url = f"{API}/certification/bodies/{body.organization.slug}/schemes/"
    assert api.post(url, _scheme_input(), format="json").status_code == 401
    for user in (body.assessor, body.member, other.owner):
        api.force_authenticate(user)
        response = api.post(url, _scheme_input(), format="json")
        assert response.status_code == 403
        assert _error(response)["code"] == "permission_denied"
    assert not Scheme.objects.exists()


def test_a_scheme_outside_the_bodys_accreditation_is_refused(api: APIClient) -> None:
    body = make_body(accredited=("security",))
    api.force_authenticate(body.owner)
    response = api.post(
        f"{API}/certification/bodies/{body.organization.slug}/schemes/",
        _scheme_input(dimension="privacy"),
        format="json",
    )
    assert response.status_code == 403
    assert _error(response)["code"] == "not_accredited"


def test_a_taken_scheme_code_is_a_409(api: APIClient) -> None:
    body = make_body()
    make_scheme(body, code="agent-privacy")
    api.force_authenticate(body.owner)
    response = api.post(
        f"{API}/certification/bodies/{body.organization.slug}/schemes/",
        _scheme_input(),
        format="json",
    )
    assert response.status_code == 409
    assert "code" in _error(response)["details"]


def test_schemes_of_an_unknown_body_are_a_404(api: APIClient) -> None:
    api.force_authenticate(make_body().owner)
    response = api.post(
        f"{API}/certification/bodies/no-body/schemes/", _scheme_input(), format="json"
    )
    assert response.status_code == 404


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"levels": "basic"}, "levels"),
        ({"levels": []}, "levels"),
        ({"levels": [{"code": "Basic Level!", "name_en": "Basic"}]}, "levels"),
        ({"levels": [{"code": "basic"}]}, "levels.0.name_en"),
        ({"validity_days": "a year"}, "validity_days"),
        ({"validity_days": 0}, "validity_days"),
        ({"code": "Not A Slug"}, "code"),
        ({"dimension": "taste"}, "dimension"),
        ({"name_en": ["Agent", "privacy"]}, "name_en"),
    ],
)
def test_bad_scheme_input_is_a_400_naming_the_field(
    api: APIClient, change: dict[str, Any], field: str
) -> None:
    body = make_body()
    api.force_authenticate(body.owner)
    response = api.post(
        f"{API}/certification/bodies/{body.organization.slug}/schemes/",
        _scheme_input(**change),
        format="json",
    )
    assert response.status_code == 400
    assert field in _error(response)["details"], _error(response)
    assert not Scheme.objects.exists()


def test_the_owner_closes_a_scheme_and_cannot_change_its_code(api: APIClient) -> None:
    # given
    body = make_body()
    make_scheme(body, code="to-close")
    url = f"{API}/certification/schemes/to-close/"
    api.force_authenticate(body.owner)
    # when
    closed = api.patch(url, {"active": False, "validity_days": 180}, format="json")
    recoded = api.patch(url, {"code": "renamed"}, format="json")
    empty = api.patch(url, {}, format="json")
    # then
    assert closed.status_code == 200, closed.json()
    assert closed.json()["active"] is False
    assert closed.json()["validity_days"] == 180
    assert recoded.status_code == 400
    assert "code" in _error(recoded)["details"]
    assert empty.status_code == 400
    assert Scheme.objects.get().code == "to-close"


def test_only_the_owner_changes_a_scheme(api: APIClient) -> None:
    body = make_body()
    make_scheme(body, code="kept")
    url = f"{API}/certification/schemes/kept/"
    assert api.patch(url, {"active": False}, format="json").status_code == 401
    api.force_authenticate(body.assessor)
    assert api.patch(url, {"active": False}, format="json").status_code == 403
    api.force_authenticate(body.owner)
    assert api.patch(f"{API}/certification/schemes/none/", {}).status_code == 404
    assert Scheme.objects.get().active is True


# --- Issuing ----------------------------------------------------------------------


def test_an_assessor_issues_a_certificate_and_anyone_reads_it(api: APIClient) -> None:
    # given
    body = make_body()
    scheme = make_scheme(body, code="sec-base")
    version = make_version()
    api.force_authenticate(body.assessor)
    # when
    response = api.post(
        f"{API}/certificates/", _issue_input(version, scheme), format="json"
    )
    # then
    assert response.status_code == 201, response.json()
    issued = response.json()
    certificate = Certificate.objects.get()
    assert issued["serial"] == certificate.serial
    assert issued["state"] == "valid"
    assert issued["scheme"] == "sec-base"
    assert issued["level_name"] == "Basic"
    assert issued["agent_identifier"] == version.agent.identifier
    assert issued["version"] == version.version
    serial = certificate.serial
    assert issued["url"] == f"http://testserver/certificates/{serial}/"
    assert (
        issued["credential_url"]
        == f"http://testserver/certificates/{serial}/credential.jwt"
    )
    assert issued["credential_status"]["index"] == certificate.status_index
    assert issued["credential_status"]["status_list"] == (
        "http://testserver/certificates/status-list.json"
    )
    assert [event["action"] for event in issued["events"]] == ["issued"]
    api.force_authenticate(None)
    detail = api.get(f"{API}/certificates/{serial}/")
    assert detail.status_code == 200
    assert detail.json() == issued
    assert "actor" not in detail.json()["events"][0]


def test_a_report_file_is_uploaded_with_the_certificate(api: APIClient) -> None:
    body = make_body()
    scheme = make_scheme(body)
    version = make_version()
    api.force_authenticate(body.assessor)
    report = SimpleUploadedFile(
        "report.pdf", b"%PDF-1.7\nfindings\n", content_type="application/pdf"
    )
    fields = _issue_input(version, scheme, report_url="")
    response = api.post(
        f"{API}/certificates/", {**fields, "report_file": report}, format="multipart"
    )
    assert response.status_code == 201, response.json()
    assert len(response.json()["report_sha256"]) == 64
    assert Certificate.objects.get().report_file


def test_issuing_needs_an_issuer_of_the_schemes_body(api: APIClient) -> None:
    body = make_body()
    other = make_body()
    scheme = make_scheme(body)
    version = make_version()
    payload = _issue_input(version, scheme)
    assert api.post(f"{API}/certificates/", payload, format="json").status_code == 401
    for user in (body.member, other.assessor, other.owner, _publisher_member(version)):
        api.force_authenticate(user)
        response = api.post(f"{API}/certificates/", payload, format="json")
        assert response.status_code == 403
    assert not Certificate.objects.exists()


def test_an_assessor_does_not_certify_an_agent_of_their_own_organisation(
    api: APIClient,
) -> None:
    body = make_body()
    scheme = make_scheme(body)
    version = make_version()
    MembershipFactory.create(user=body.assessor, organization=version.agent.publisher)
    api.force_authenticate(body.assessor)
    response = api.post(
        f"{API}/certificates/", _issue_input(version, scheme), format="json"
    )
    assert response.status_code == 403
    assert _error(response)["code"] == "conflict_of_interest"


def test_an_unrequested_draft_is_unknown_to_the_body(api: APIClient) -> None:
    body = make_body()
    scheme = make_scheme(body)
    draft = AgentVersionFactory.create(state=AgentVersion.State.DRAFT)
    api.force_authenticate(body.assessor)
    response = api.post(
        f"{API}/certificates/", _issue_input(draft, scheme), format="json"
    )
    assert response.status_code == 400
    assert "version" in _error(response)["details"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"scheme": "no-such-scheme"}, "scheme"),
        ({"version": "9.9.9"}, "version"),
        ({"level": "legendary"}, "level"),
        ({"report_url": "ftp://lab.example.com/r.pdf"}, "report_url"),
        ({"report_url": "http://lab.example.com/r.pdf"}, "report_url"),
        ({"report_url": ""}, "report"),
        ({"assessor": ["Li", "Wei"]}, "assessor"),
        ({"assessor": ""}, "assessor"),
        ({"request": "not-a-uuid"}, "request"),
        ({"request": "6f1c2b8e-5d7a-4c1e-9a0b-3e2f1d4c5b6a"}, "request"),
        ({"version": None}, "version"),
    ],
)
def test_bad_issue_input_is_a_400_naming_the_field(
    api: APIClient, change: dict[str, Any], field: str
) -> None:
    body = make_body()
    scheme = make_scheme(body)
    version = make_version()
    api.force_authenticate(body.assessor)
    response = api.post(
        f"{API}/certificates/", _issue_input(version, scheme, **change), format="json"
    )
    assert response.status_code == 400
    assert field in _error(response)["details"], _error(response)
    assert not Certificate.objects.exists()


def test_malformed_json_is_a_400(api: APIClient) -> None:
    body = make_body()
    api.force_authenticate(body.assessor)
    response = api.post(
        f"{API}/certificates/", "{not json", content_type="application/json"
    )
    assert response.status_code == 400
    assert _error(response)["code"] == "parse_error"


def test_a_second_live_certificate_of_the_same_scheme_is_a_409(
    api: APIClient,
) -> None:
    body = make_body()
    scheme = make_scheme(body)
    version = make_version()
    make_certificate(body, scheme, version)
    api.force_authenticate(body.assessor)
    response = api.post(
        f"{API}/certificates/", _issue_input(version, scheme), format="json"
    )
    assert response.status_code == 409
    assert _error(response)["code"] == "already_certified"


# --- Requests -------------------------------------------------------------------------


def _request_input(
    version: AgentVersion, scheme: Scheme, /, **changes: Any
) -> dict[str, Any]:
    agent = version.agent
    values: dict[str, Any] = {
        "publisher": agent.publisher.slug,
        "agent": agent.slug,
        "version": version.version,
        "scheme": scheme.code,
        "level": "enhanced",
        "message": "Please assess before our launch.",
    }
    values.update(changes)
    return values


def test_a_request_goes_from_the_publisher_to_a_certificate(api: APIClient) -> None:
    # given: a draft version, which only its publisher and the body asked see
    body = make_body()
    scheme = make_scheme(body, code="requested-scheme")
    version = AgentVersionFactory.create(state=AgentVersion.State.DRAFT)
    member = _publisher_member(version)
    api.force_authenticate(member)
    # when: the publisher asks
    created = api.post(
        f"{API}/certification/requests/", _request_input(version, scheme), format="json"
    )
    # then
    assert created.status_code == 201, created.json()
    public_id = created.json()["id"]
    assert created.json()["state"] == "requested"
    assert created.json()["body"] == body.organization.slug
    assert created.json()["requested_by"] == member.username
    # when: the body accepts and issues from the request
    api.force_authenticate(body.assessor)
    accepted = api.post(
        f"{API}/certification/requests/{public_id}/accept/", {}, format="json"
    )
    assert accepted.status_code == 200, accepted.json()
    assert accepted.json()["state"] == "accepted"
    issued = api.post(
        f"{API}/certificates/",
        _issue_input(version, scheme, level="enhanced", request=public_id),
        format="json",
    )
    # then
    assert issued.status_code == 201, issued.json()
    detail = api.get(f"{API}/certification/requests/{public_id}/")
    assert detail.json()["state"] == "issued"
    assert [(event["action"], event["actor"]) for event in detail.json()["events"]] == [
        ("request_created", member.username),
        ("request_accepted", body.assessor.username),
        ("issued", body.assessor.username),
        ("request_issued", body.assessor.username),
    ]


def test_both_sides_list_their_requests_and_nobody_else_sees_them(
    api: APIClient,
) -> None:
    # given
    body = make_body()
    scheme = make_scheme(body)
    version = make_version()
    member = _publisher_member(version)
    request = certification_request_create(
        actor=member, version=version, scheme=scheme, level="basic"
    )
    url = f"{API}/certification/requests/"
    # then
    assert api.get(url).status_code == 401
    api.force_authenticate(member)
    assert [r["id"] for r in api.get(url).json()["results"]] == [str(request.public_id)]
    mine = api.get(f"{url}{request.public_id}/")
    assert mine.status_code == 200
    assert [event["action"] for event in mine.json()["events"]] == ["request_created"]
    assert api.get(url, {"side": "body"}).json()["results"] == []
    assert api.get(url, {"state": "accepted"}).json()["results"] == []
    api.force_authenticate(body.assessor)
    assert len(api.get(url, {"side": "body"}).json()["results"]) == 1
    assert api.get(url, {"side": "publisher"}).json()["results"] == []
    assert api.get(url, {"side": "both"}).status_code == 400
    assert api.get(url, {"state": "pending"}).status_code == 400
    outsider = make_body().assessor
    api.force_authenticate(outsider)
    assert api.get(url).json()["results"] == []
    detail = f"{url}{request.public_id}/"
    assert api.get(detail).status_code == 404
    assert api.post(f"{detail}accept/", {}, format="json").status_code == 404
    assert api.get(f"{url}{request.public_id.hex[:8]}/").status_code == 404


def test_the_request_list_keeps_its_query_count(
    api: APIClient, django_assert_num_queries: Callable[..., Any]
) -> None:
    body = make_body()
    scheme = make_scheme(body)
    api.force_authenticate(body.assessor)

    def ask() -> None:
        version = make_version()
        certification_request_create(
            actor=_publisher_member(version),
            version=version,
            scheme=scheme,
            level="basic",
        )

    ask()
    # the session's user is forced: the count and the page
    with django_assert_num_queries(2):
        assert api.get(f"{API}/certification/requests/").json()["count"] == 1
    for _index in range(4):
        ask()
    with django_assert_num_queries(2):
        assert api.get(f"{API}/certification/requests/").json()["count"] == 5


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"scheme": "no-such-scheme"}, "scheme"),
        ({"version": "0.0.0"}, "version"),
        ({"agent": "nobody"}, "version"),
        ({"level": "legendary"}, "level"),
        ({"level": 3}, None),
        ({"message": "x" * 5001}, "message"),
    ],
)
def test_bad_request_input_is_a_400_naming_the_field(
    api: APIClient, change: dict[str, Any], field: str | None
) -> None:
    body = make_body()
    scheme = make_scheme(body)
    version = make_version()
    api.force_authenticate(_publisher_member(version))
    response = api.post(
        f"{API}/certification/requests/",
        _request_input(version, scheme, **change),
        format="json",
    )
    assert response.status_code == 400
    if field:
        assert field in _error(response)["details"], _error(response)
    assert not CertificationRequest.objects.exists()


def test_only_the_publishers_members_ask_and_only_once_at_a_time(
    api: APIClient,
) -> None:
    body = make_body()
    scheme = make_scheme(body)
    version = make_version()
    payload = _request_input(version, scheme)
    url = f"{API}/certification/requests/"
    assert api.post(url, payload, format="json").status_code == 401
    api.force_authenticate(body.assessor)
    assert api.post(url, payload, format="json").status_code == 403
    api.force_authenticate(_publisher_member(version))
    assert api.post(url, payload, format="json").status_code == 201
    again = api.post(url, payload, format="json")
    assert again.status_code == 409
    assert "scheme" in _error(again)["details"]


def test_answers_to_a_request_follow_its_states_and_its_sides(
    api: APIClient,
) -> None:
    # given
    body = make_body()
    scheme = make_scheme(body)
    version = make_version()
    member = _publisher_member(version)
    request = certification_request_create(
        actor=member, version=version, scheme=scheme, level="basic"
    )
    base = f"{API}/certification/requests/{request.public_id}"
    # the publisher does not answer for the body, nor the body withdraw
    api.force_authenticate(member)
    assert api.post(f"{base}/accept/", {}, format="json").status_code == 403
    assert (
        api.post(f"{base}/decline/", {"reason": "No."}, format="json").status_code
        == 403
    )
    api.force_authenticate(body.assessor)
    assert api.post(f"{base}/withdraw/", {}, format="json").status_code == 403
    # declining needs reasons
    missing = api.post(f"{base}/decline/", {}, format="json")
    assert missing.status_code == 400
    assert "reason" in _error(missing)["details"]
    # refusing needs an accepted request
    early = api.post(f"{base}/refuse/", {"reason": "Fails."}, format="json")
    assert early.status_code == 409
    assert _error(early)["code"] == "invalid_transition"
    # accepted, then refused; nothing follows a refusal
    assert api.post(f"{base}/accept/", {}, format="json").status_code == 200
    assert api.post(f"{base}/accept/", {}, format="json").status_code == 409
    refused = api.post(
        f"{base}/refuse/", {"reason": "Leaks the thread."}, format="json"
    )
    assert refused.status_code == 200
    assert refused.json()["state"] == "refused"
    api.force_authenticate(member)
    assert api.post(f"{base}/withdraw/", {}, format="json").status_code == 409


def test_the_publisher_withdraws_and_the_body_declines(api: APIClient) -> None:
    body = make_body()
    scheme = make_scheme(body)
    version = make_version()
    member = _publisher_member(version)
    first = certification_request_create(
        actor=member, version=version, scheme=scheme, level="basic"
    )
    api.force_authenticate(member)
    withdrawn = api.post(
        f"{API}/certification/requests/{first.public_id}/withdraw/",
        {"reason": "Not ready."},
        format="json",
    )
    assert withdrawn.status_code == 200
    assert withdrawn.json()["state"] == "withdrawn"
    second = certification_request_create(
        actor=member, version=version, scheme=scheme, level="basic"
    )
    api.force_authenticate(body.owner)
    declined = api.post(
        f"{API}/certification/requests/{second.public_id}/decline/",
        {"reason": "Outside our scope."},
        format="json",
    )
    assert declined.status_code == 200
    assert declined.json()["events"][-1]["reason"] == "Outside our scope."


def test_an_assessor_of_the_publisher_cannot_accept_its_request(
    api: APIClient,
) -> None:
    body = make_body()
    scheme = make_scheme(body)
    version = make_version()
    request = certification_request_create(
        actor=_publisher_member(version), version=version, scheme=scheme, level="basic"
    )
    MembershipFactory.create(user=body.assessor, organization=version.agent.publisher)
    api.force_authenticate(body.assessor)
    response = api.post(
        f"{API}/certification/requests/{request.public_id}/accept/", {}, format="json"
    )
    assert response.status_code == 403
    assert _error(response)["code"] == "conflict_of_interest"


# --- A certificate's states ---------------------------------------------------------


def test_the_body_suspends_reinstates_and_revokes(api: APIClient) -> None:
    # given
    body = make_body()
    certificate = make_certificate(body, make_scheme(body))
    base = f"{API}/certificates/{certificate.serial}"
    api.force_authenticate(body.assessor)
    # when / then
    suspended = api.post(f"{base}/suspend/", {"reason": "Re-testing."}, format="json")
    assert suspended.status_code == 200, suspended.json()
    assert suspended.json()["state"] == "suspended"
    assert suspended.json()["state_reason"] == "Re-testing."
    reinstated = api.post(f"{base}/reinstate/", {}, format="json")
    assert reinstated.json()["state"] == "valid"
    revoked = api.post(f"{base}/revoke/", {"reason": "Key leak."}, format="json")
    assert revoked.json()["state"] == "revoked"
    assert [event["action"] for event in revoked.json()["events"]] == [
        "issued",
        "suspended",
        "reinstated",
        "revoked",
    ]


def test_invalid_certificate_transitions_are_a_409(api: APIClient) -> None:
    body = make_body()
    certificate = make_certificate(body, make_scheme(body))
    base = f"{API}/certificates/{certificate.serial}"
    api.force_authenticate(body.owner)
    valid = api.post(f"{base}/reinstate/", {}, format="json")
    assert valid.status_code == 409
    assert _error(valid)["code"] == "invalid_transition"
    api.post(f"{base}/revoke/", {"reason": "Withdrawn."}, format="json")
    for action in ("suspend", "revoke"):
        response = api.post(f"{base}/{action}/", {"reason": "Again."}, format="json")
        assert response.status_code == 409
    assert api.post(
        f"{base}/extend/", {"version": "2.0.0"}, format="json"
    ).status_code in (400, 409)


def test_only_the_issuing_body_changes_a_certificate(api: APIClient) -> None:
    body = make_body()
    other = make_body()
    certificate = make_certificate(body, make_scheme(body))
    base = f"{API}/certificates/{certificate.serial}"
    reason = {"reason": "Because."}
    assert api.post(f"{base}/suspend/", reason, format="json").status_code == 401
    for user in (other.assessor, other.owner, body.member):
        api.force_authenticate(user)
        for action in ("suspend", "revoke", "reinstate"):
            response = api.post(f"{base}/{action}/", reason, format="json")
            assert response.status_code == 403, action
    certificate.refresh_from_db()
    assert certificate.state == Certificate.State.VALID


@pytest.mark.parametrize(
    ("payload", "field"),
    [({}, "reason"), ({"reason": "  "}, "reason"), ({"reason": ["a"]}, "reason")],
)
def test_suspending_and_revoking_need_a_reason(
    api: APIClient, payload: dict[str, Any], field: str
) -> None:
    body = make_body()
    certificate = make_certificate(body, make_scheme(body))
    api.force_authenticate(body.assessor)
    for action in ("suspend", "revoke"):
        response = api.post(
            f"{API}/certificates/{certificate.serial}/{action}/", payload, format="json"
        )
        assert response.status_code == 400
        assert field in _error(response)["details"]


def test_unknown_serials_are_a_404(api: APIClient) -> None:
    body = make_body()
    api.force_authenticate(body.assessor)
    assert api.get(f"{API}/certificates/C2025-NONE-XXXX/").status_code == 404
    for action in ("suspend", "reinstate", "revoke", "extend"):
        response = api.post(
            f"{API}/certificates/C2025-NONE-XXXX/{action}/",
            {"reason": "x", "version": "1"},
            format="json",
        )
        assert response.status_code == 404


def test_a_certificate_is_extended_to_a_later_version(api: APIClient) -> None:
    # given
    body = make_body()
    scheme = make_scheme(body)
    certificate = make_certificate(body, scheme)
    later = make_version(agent=certificate.agent, version="2.0.0")
    api.force_authenticate(body.assessor)
    # when
    response = api.post(
        f"{API}/certificates/{certificate.serial}/extend/",
        {"version": "2.0.0"},
        format="json",
    )
    # then
    assert response.status_code == 201, response.json()
    assert response.json()["extends"] == certificate.serial
    assert response.json()["version"] == later.version
    assert (
        response.json()["valid_until"]
        == api.get(f"{API}/certificates/{certificate.serial}/").json()["valid_until"]
    )


def test_extending_needs_a_known_version_of_the_agent_and_an_issuer(
    api: APIClient,
) -> None:
    body = make_body()
    certificate = make_certificate(body, make_scheme(body))
    make_version(version="3.0.0")  # of another agent
    url = f"{API}/certificates/{certificate.serial}/extend/"
    api.force_authenticate(make_body().assessor)
    assert api.post(url, {"version": "3.0.0"}, format="json").status_code == 403
    api.force_authenticate(body.assessor)
    unknown = api.post(url, {"version": "3.0.0"}, format="json")
    assert unknown.status_code == 400
    assert "version" in _error(unknown)["details"]
    same = api.post(url, {"version": certificate.version.version}, format="json")
    assert same.status_code == 400
    assert _error(same)["code"] == "extend_mismatch"
    missing = api.post(url, {}, format="json")
    assert "version" in _error(missing)["details"]


# --- The certificate list -------------------------------------------------------


def test_anyone_lists_certificates_with_filters(api: APIClient) -> None:
    # given
    body = make_body(accredited=("security", "privacy"))
    other = make_body()
    security = make_scheme(body, code="list-security")
    privacy = make_scheme(body, code="list-privacy", dimension="privacy")
    version = make_version()
    first = make_certificate(body, security, version)
    second = make_certificate(body, privacy, version)
    third = make_certificate(other, make_scheme(other, code="other-security"))
    certificate_suspend(actor=body.assessor, certificate=second, reason="Checking.")
    agent = f"{version.agent.publisher.slug}/{version.agent.slug}"

    def serials(**query: str) -> list[str]:
        response = api.get(f"{API}/certificates/", query)
        assert response.status_code == 200, response.json()
        return [c["serial"] for c in response.json()["results"]]

    # then
    assert serials() == [third.serial, second.serial, first.serial]
    assert serials(agent=agent) == [second.serial, first.serial]
    assert serials(publisher=version.agent.publisher.slug) == [
        second.serial,
        first.serial,
    ]
    assert serials(body=other.organization.slug) == [third.serial]
    assert serials(scheme="list-privacy") == [second.serial]
    assert serials(state="suspended") == [second.serial]
    assert serials(agent=agent, state="valid") == [first.serial]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"agent": "no-slash"}, "agent"),
        ({"agent": "nobody/nothing"}, "agent"),
        ({"body": "no-body"}, "body"),
        ({"scheme": "no-scheme"}, "scheme"),
        ({"publisher": "no-publisher"}, "publisher"),
        ({"state": "shiny"}, "state"),
    ],
)
def test_bad_certificate_filters_are_a_400_naming_the_field(
    api: APIClient, query: dict[str, str], field: str
) -> None:
    response = api.get(f"{API}/certificates/", query)
    assert response.status_code == 400
    assert field in _error(response)["details"]


def test_the_certificate_list_keeps_its_query_count(
    api: APIClient, django_assert_num_queries: Callable[..., Any]
) -> None:
    body = make_body()
    scheme = make_scheme(body)
    make_certificate(body, scheme)
    query = {"body": body.organization.slug, "scheme": scheme.code}
    # the body, the scheme, the count and the page
    with django_assert_num_queries(4):
        assert api.get(f"{API}/certificates/", query).json()["count"] == 1
    for _index in range(4):
        make_certificate(body, scheme)
    with django_assert_num_queries(4):
        assert api.get(f"{API}/certificates/", query).json()["count"] == 5
    with django_assert_num_queries(2):
        assert api.get(f"{API}/certificates/").json()["count"] == 5


# --- Verification ---------------------------------------------------------------


def _verify(api: APIClient, payload: Any, **kwargs: Any) -> Any:
    return api.post(f"{API}/certificates/verify/", payload, format="json", **kwargs)


def test_the_verifier_follows_a_certificate_through_its_states(
    api: APIClient,
) -> None:
    # given
    body = make_body()
    certificate = make_certificate(body, make_scheme(body))
    token = certificate.credential
    # when / then: valid
    valid = _verify(api, {"credential": token})
    assert valid.status_code == 200
    assert valid.json()["status"] == "valid"
    assert valid.json()["reasons"] == []
    assert valid.json()["kid"] == certificate.kid
    assert valid.json()["credential"]["id"].endswith(
        f"/certificates/{certificate.serial}/"
    )
    # suspended
    certificate_suspend(actor=body.assessor, certificate=certificate, reason="Check.")
    suspended = _verify(api, {"credential": token})
    assert suspended.json()["status"] == "suspended"
    # revoked
    certificate_revoke(actor=body.assessor, certificate=certificate, reason="Leak.")
    revoked = _verify(api, {"credential": token})
    assert revoked.status_code == 200
    assert revoked.json()["status"] == "revoked"
    assert revoked.json()["reasons"]


def test_a_tampered_credential_is_invalid(api: APIClient) -> None:
    body = make_body()
    token = make_certificate(body, make_scheme(body)).credential
    header, payload, signature = token.split(".")
    claims = json.loads(keys.b64url_decode(payload))
    claims["credentialSubject"]["achievement"]["name"] = "Top marks"
    forged = ".".join([header, keys.b64url(json.dumps(claims).encode()), signature])
    for bad in (forged, "not a token", "a.b.c"):
        response = _verify(api, {"credential": bad})
        assert response.status_code == 200
        assert response.json()["status"] == "invalid"
        assert response.json()["reasons"]
    assert _verify(api, {"credential": forged}).json()["credential"] is None


def test_the_verifier_uses_the_documents_it_is_given(api: APIClient) -> None:
    # given: the documents an outside verifier downloaded while it was valid
    body = make_body()
    certificate = make_certificate(body, make_scheme(body))
    jwks = json.loads(json.dumps(credential_services.jwks()))
    lists = [json.loads(json.dumps(credential_services.status_list_document()))]
    certificate_revoke(actor=body.assessor, certificate=certificate, reason="Leak.")
    token = certificate.credential
    # when
    old = _verify(api, {"credential": token, "jwks": jwks, "status_lists": lists})
    unknown_key = _verify(api, {"credential": token, "jwks": {"keys": []}})
    no_lists = _verify(api, {"credential": token, "status_lists": []})
    later = _verify(
        api,
        {
            "credential": token,
            "status_lists": lists,
            "at": (timezone.now() + timedelta(days=800)).isoformat(),
        },
    )
    # then
    assert old.json()["status"] == "valid"
    assert unknown_key.json()["status"] == "invalid"
    assert no_lists.json()["status"] == "unknown"
    # A list signed 800 days before says nothing about that day's status.
    assert later.json()["status"] == "unknown"


def test_the_verifier_needs_no_sign_in_and_no_csrf_token(api: APIClient) -> None:
    body = make_body()
    token = make_certificate(body, make_scheme(body)).credential
    browser = APIClient(enforce_csrf_checks=True)
    browser.force_login(UserFactory.create())
    response = browser.post(
        f"{API}/certificates/verify/", {"credential": token}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["status"] == "valid"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({}, "credential"),
        ({"credential": 42}, "credential"),
        ({"credential": ["a.b.c"]}, "credential"),
        ({"credential": None}, "credential"),
        ({"credential": "a.b.c", "jwks": []}, "jwks"),
        ({"credential": "a.b.c", "jwks": "keys"}, "jwks"),
        ({"credential": "a.b.c", "status_lists": {}}, "status_lists"),
        ({"credential": "a.b.c", "status_lists": [1]}, "status_lists.0"),
        ({"credential": "a.b.c", "at": "tomorrow"}, "at"),
        ({"credential": "a.b.c", "at": "2027-01-01T00:00:00"}, "at"),
    ],
)
def test_a_malformed_verification_request_is_a_400_naming_the_field(
    api: APIClient, payload: dict[str, Any], field: str
) -> None:
    response = _verify(api, payload)
    assert response.status_code == 400
    assert field in _error(response)["details"], _error(response)


def test_a_verification_request_over_64_kib_is_a_400(api: APIClient) -> None:
    response = _verify(api, {"credential": "a" * (64 * 1024)})
    assert response.status_code == 400
    assert _error(response)["code"] == "request_too_large"
    not_json = api.post(
        f"{API}/certificates/verify/", "[", content_type="application/json"
    )
    assert not_json.status_code == 400
    assert _error(_verify(api, ["a.b.c"]))["details"]


def test_the_verifier_is_throttled_once_a_rate_is_set(
    api: APIClient, settings: Any
) -> None:
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
            "certificate_verify": "2/min",
        },
    }
    assert _verify(api, {"credential": "a.b.c"}).status_code == 200
    assert _verify(api, {"credential": "a.b.c"}).status_code == 200
    assert _verify(api, {"credential": "a.b.c"}).status_code == 429


# --- The operator -------------------------------------------------------------------


def test_the_operator_accredits_a_body_and_suspends_the_accreditation(
    api: APIClient,
) -> None:
    # given
    operator = make_operator()
    body = make_body(accredited=())
    api.force_authenticate(operator)
    payload = {"body": body.organization.slug, "dimension": "privacy"}
    # when
    granted = api.post(f"{API}/certification/accreditations/", payload, format="json")
    again = api.post(f"{API}/certification/accreditations/", payload, format="json")
    # then
    assert granted.status_code == 201, granted.json()
    assert granted.json()["state"] == "active"
    assert again.status_code == 200
    url = f"{API}/certification/accreditations/{granted.json()['id']}/state/"
    no_reason = api.post(url, {"state": "suspended"}, format="json")
    assert no_reason.status_code == 400
    assert "reason" in _error(no_reason)["details"]
    suspended = api.post(
        url, {"state": "suspended", "reason": "Audit overdue."}, format="json"
    )
    assert suspended.status_code == 200
    assert suspended.json()["state"] == "suspended"
    assert suspended.json()["body"] == body.organization.slug
    assert Accreditation.objects.get().state == Accreditation.State.SUSPENDED


def test_only_the_operator_accredits(api: APIClient) -> None:
    body = make_body()
    accreditation = Accreditation.objects.get()
    payload = {"body": body.organization.slug, "dimension": "privacy"}
    state_url = f"{API}/certification/accreditations/{accreditation.pk}/state/"
    change = {"state": "withdrawn", "reason": "x"}
    assert (
        api.post(
            f"{API}/certification/accreditations/", payload, format="json"
        ).status_code
        == 401
    )
    assert api.post(state_url, change, format="json").status_code == 401
    for user in (body.owner, UserFactory.create()):
        api.force_authenticate(user)
        response = api.post(
            f"{API}/certification/accreditations/", payload, format="json"
        )
        assert response.status_code == 403
        assert _error(response)["message"] == "Only the platform operator does this."
        assert api.post(state_url, change, format="json").status_code == 403
    assert Accreditation.objects.get().state == Accreditation.State.ACTIVE


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"body": "no-body", "dimension": "privacy"}, "body"),
        ({"dimension": "privacy"}, "body"),
        ({"body": "{body}", "dimension": "taste"}, "dimension"),
        ({"body": "{body}", "dimension": "privacy", "reason": 5 * ["x"]}, "reason"),
    ],
)
def test_bad_accreditation_input_is_a_400_naming_the_field(
    api: APIClient, payload: dict[str, Any], field: str
) -> None:
    body = make_body(accredited=())
    if payload.get("body") == "{body}":
        payload = {**payload, "body": body.organization.slug}
    api.force_authenticate(make_operator())
    response = api.post(f"{API}/certification/accreditations/", payload, format="json")
    assert response.status_code == 400
    assert field in _error(response)["details"]


def test_a_publisher_is_not_accredited_and_unknown_accreditations_are_a_404(
    api: APIClient,
) -> None:
    publisher = OrganizationFactory.create()
    api.force_authenticate(make_operator())
    response = api.post(
        f"{API}/certification/accreditations/",
        {"body": publisher.slug, "dimension": "security"},
        format="json",
    )
    assert response.status_code == 400
    assert _error(response)["code"] == "not_a_body"
    missing = api.post(
        f"{API}/certification/accreditations/999999/state/",
        {"state": "active"},
        format="json",
    )
    assert missing.status_code == 404
    bad_state = api.post(
        f"{API}/certification/accreditations/999999/state/",
        {"state": "paused"},
        format="json",
    )
    assert bad_state.status_code == 404


def test_the_operator_sets_what_a_domain_requires(api: APIClient) -> None:
    # given
    body = make_body()
    make_scheme(body, code="req-a")
    make_scheme(body, code="req-b")
    domain = DomainFactory.create(code="finance")
    url = f"{API}/certification/domains/finance/requirements/"
    api.force_authenticate(make_operator())
    # when
    response = api.put(
        url,
        {"schemes": ["req-b", "req-a"], "dimensions": ["security", "privacy"]},
        format="json",
    )
    # then
    assert response.status_code == 200, response.json()
    assert response.json() == {
        "code": "finance",
        "required_schemes": ["req-a", "req-b"],
        "required_dimensions": ["privacy", "security"],
    }
    domain.refresh_from_db()
    assert set(domain.required_schemes.values_list("code", flat=True)) == {
        "req-a",
        "req-b",
    }
    cleared = api.put(url, {"schemes": [], "dimensions": []}, format="json")
    assert cleared.json()["required_schemes"] == []
    assert not Domain.objects.get(code="finance").required_schemes.exists()


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"schemes": ["nope"], "dimensions": []}, "schemes"),
        ({"schemes": "req-a", "dimensions": []}, "schemes"),
        ({"schemes": [], "dimensions": ["taste"]}, "dimensions"),
        ({"schemes": [], "dimensions": "security"}, "dimensions"),
        ({"dimensions": []}, "schemes"),
    ],
)
def test_bad_domain_requirements_are_a_400_naming_the_field(
    api: APIClient, payload: dict[str, Any], field: str
) -> None:
    DomainFactory.create(code="finance")
    api.force_authenticate(make_operator())
    response = api.put(
        f"{API}/certification/domains/finance/requirements/", payload, format="json"
    )
    assert response.status_code == 400
    assert field in _error(response)["details"]


def test_only_the_operator_sets_domain_requirements(api: APIClient) -> None:
    DomainFactory.create(code="finance")
    url = f"{API}/certification/domains/finance/requirements/"
    payload = {"schemes": [], "dimensions": ["security"]}
    assert api.put(url, payload, format="json").status_code == 401
    api.force_authenticate(make_body().owner)
    assert api.put(url, payload, format="json").status_code == 403
    api.force_authenticate(make_operator())
    missing = api.put(
        f"{API}/certification/domains/nowhere/requirements/", payload, format="json"
    )
    assert missing.status_code == 404
    assert Domain.objects.get(code="finance").required_dimensions == []


def _foreign_key() -> tuple[Ed25519PrivateKey, str]:
    key = Ed25519PrivateKey.generate()
    public = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return key, keys.b64url(public)


ISSUER_ID = "https://other.example/issuers/lab"


def test_the_operator_trusts_and_stops_trusting_an_issuer(api: APIClient) -> None:
    # given
    _key, public = _foreign_key()
    api.force_authenticate(make_operator())
    url = f"{API}/certification/trusted-issuers/"
    payload = {"name": "Other Lab", "issuer_id": ISSUER_ID, "public_key": public}
    # when
    added = api.post(url, payload, format="json")
    # then
    assert added.status_code == 201, added.json()
    assert added.json()["kid"] == keys.okp_thumbprint(public)
    assert [i["name"] for i in api.get(url).json()["results"]] == ["Other Lab"]
    assert api.post(url, payload, format="json").status_code == 409
    revoked = api.post(f"{url}{added.json()['id']}/revoke/")
    assert revoked.status_code == 200
    assert revoked.json()["revoked_at"] is not None
    assert api.get(url).json()["results"] == []
    assert api.post(f"{url}999999/revoke/").status_code == 404


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"public_key": "short"}, "public_key"),
        ({"issuer_id": "ftp://other.example"}, "issuer_id"),
        ({"name": ""}, "name"),
        ({"platform_url": "not a url"}, "platform_url"),
        ({"public_key": None}, "public_key"),
    ],
)
def test_bad_trusted_issuers_are_a_400_naming_the_field(
    api: APIClient, change: dict[str, Any], field: str
) -> None:
    _key, public = _foreign_key()
    api.force_authenticate(make_operator())
    payload = {"name": "Other Lab", "issuer_id": ISSUER_ID, "public_key": public}
    response = api.post(
        f"{API}/certification/trusted-issuers/", {**payload, **change}, format="json"
    )
    assert response.status_code == 400
    assert field in _error(response)["details"]
    assert not TrustedIssuer.objects.exists()


def test_the_trusted_issuer_list_keeps_its_query_count(
    api: APIClient, django_assert_num_queries: Callable[..., Any]
) -> None:
    operator = make_operator()
    api.force_authenticate(operator)
    url = f"{API}/certification/trusted-issuers/"

    def trust(name: str) -> None:
        payload = {
            "name": name,
            "issuer_id": ISSUER_ID,
            "public_key": _foreign_key()[1],
        }
        assert api.post(url, payload, format="json").status_code == 201

    trust("First")
    # the operator check, the count and the page
    with django_assert_num_queries(3):
        assert api.get(url).json()["count"] == 1
    for index in range(4):
        trust(f"More {index}")
    with django_assert_num_queries(3):
        assert api.get(url).json()["count"] == 5


def test_only_the_operator_sees_and_changes_trusted_issuers(api: APIClient) -> None:
    _key, public = _foreign_key()
    url = f"{API}/certification/trusted-issuers/"
    payload = {"name": "Other Lab", "issuer_id": ISSUER_ID, "public_key": public}
    assert api.get(url).status_code == 401
    api.force_authenticate(make_body().owner)
    assert api.get(url).status_code == 403
    assert api.post(url, payload, format="json").status_code == 403
    assert not TrustedIssuer.objects.exists()


# --- Importing another platform's credential ------------------------------------------


def _foreign_credential(agent: Agent, key: Ed25519PrivateKey, kid: str) -> str:
    now = timezone.now()
    credential = credentials.certificate_credential(
        credential_id="https://other.example/credentials/42",
        name="Other privacy seal",
        issuer={"id": ISSUER_ID, "type": ["Profile"], "name": "Other Lab"},
        achievement={
            "id": "https://other.example/achievements/privacy",
            "type": ["Achievement"],
            "achievementType": "Certification",
            "name": "Privacy seal",
            "description": "Handles personal data with care.",
            "criteria": {"narrative": "Audited."},
        },
        subject_id=agent.identifier,
        subject_name=agent.name,
        version="1.0.0",
        digest_hex="ab" * 32,
        valid_from=now - timedelta(days=1),
        valid_until=now + timedelta(days=300),
        status_index=7,
        status_list_url="https://other.example/status/list",
    )
    return credentials.vc_jwt_sign(credential=credential, key=key, kid=kid)


@pytest.fixture
def foreign() -> tuple[AgentVersion, str]:
    """A published version and a credential about its agent, signed by an issuer
    the operator trusts."""
    key, public = _foreign_key()
    api = APIClient()
    api.force_authenticate(make_operator())
    added = api.post(
        f"{API}/certification/trusted-issuers/",
        {"name": "Other Lab", "issuer_id": ISSUER_ID, "public_key": public},
        format="json",
    )
    version = make_version()
    return version, _foreign_credential(version.agent, key, added.json()["kid"])


def test_a_publisher_member_imports_a_trusted_credential(
    api: APIClient, foreign: tuple[AgentVersion, str]
) -> None:
    version, token = foreign
    agent = version.agent
    url = f"{API}/agents/{agent.publisher.slug}/{agent.slug}/credentials/import/"
    api.force_authenticate(_publisher_member(version))
    response = api.post(url, {"credential": token}, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["issuer"] == "Other Lab"
    assert response.json()["credential_id"] == "https://other.example/credentials/42"
    assert response.json()["achievement"] == "Privacy seal"
    assert ImportedCredential.objects.get().agent == agent
    assert api.post(url, {"credential": token}, format="json").status_code == 409


def test_importing_is_for_the_publishers_members(
    api: APIClient, foreign: tuple[AgentVersion, str]
) -> None:
    version, token = foreign
    agent = version.agent
    url = f"{API}/agents/{agent.publisher.slug}/{agent.slug}/credentials/import/"
    assert api.post(url, {"credential": token}, format="json").status_code == 401
    api.force_authenticate(UserFactory.create())
    assert api.post(url, {"credential": token}, format="json").status_code == 403
    missing = f"{API}/agents/{agent.publisher.slug}/nothing/credentials/import/"
    assert api.post(missing, {"credential": token}, format="json").status_code == 404
    assert not ImportedCredential.objects.exists()


@pytest.mark.parametrize(
    "credential", [42, None, ["a.b.c"], "", "not a credential", "a" * 70000]
)
def test_a_bad_credential_to_import_is_a_400_naming_it(
    api: APIClient, foreign: tuple[AgentVersion, str], credential: Any
) -> None:
    version, _token = foreign
    agent = version.agent
    api.force_authenticate(_publisher_member(version))
    response = api.post(
        f"{API}/agents/{agent.publisher.slug}/{agent.slug}/credentials/import/",
        {"credential": credential},
        format="json",
    )
    assert response.status_code == 400
    assert "credential" in _error(response)["details"]


def test_our_own_certificate_is_not_a_foreign_credential(
    api: APIClient, foreign: tuple[AgentVersion, str]
) -> None:
    version, _token = foreign
    body = make_body()
    certificate = make_certificate(body, make_scheme(body), version)
    agent = version.agent
    api.force_authenticate(_publisher_member(version))
    response = api.post(
        f"{API}/agents/{agent.publisher.slug}/{agent.slug}/credentials/import/",
        {"credential": certificate.credential},
        format="json",
    )
    assert response.status_code == 400
    assert "credential" in _error(response)["details"]


# --- What the public sees of agents never published -------------------------------


def _quarantined(body: Any, scheme: Scheme) -> Certificate:
    """A certificate its agent's domain requires, revoked: the listing is
    quarantined."""
    certificate = make_certificate(body, scheme)
    domain_set_requirements(
        actor=make_operator(),
        domain=certificate.agent.domain,
        schemes=[scheme],
        dimensions=[],
    )
    certificate_revoke(actor=body.assessor, certificate=certificate, reason="Hole")
    certificate.refresh_from_db()
    assert Agent.objects.get(pk=certificate.agent_id).status == "quarantined"
    return certificate


def test_certificates_of_agents_never_published_are_not_listed(
    api: APIClient,
) -> None:
    # given: a published agent, a quarantined one and one only ever a draft
    body = make_body()
    scheme = make_scheme(body, code="visible-sec")
    published = make_certificate(body, scheme)
    quarantined = _quarantined(body, scheme)
    hidden = certify_on_request(body, scheme, make_version(state="draft"))
    hidden_agent = f"{hidden.agent.publisher.slug}/{hidden.agent.slug}"
    # when
    listed = api.get(f"{API}/certificates/").json()
    of_body = api.get(f"{API}/certificates/", {"body": body.organization.slug}).json()
    of_scheme = api.get(f"{API}/certificates/", {"scheme": scheme.code}).json()
    of_publisher = api.get(
        f"{API}/certificates/", {"publisher": hidden.agent.publisher.slug}
    ).json()
    of_hidden = api.get(f"{API}/certificates/", {"agent": hidden_agent})
    # then: the quarantined agent's revocation stays visible
    expected = [quarantined.serial, published.serial]
    assert [c["serial"] for c in listed["results"]] == expected
    assert listed["count"] == 2
    assert [c["serial"] for c in of_body["results"]] == expected
    assert [c["serial"] for c in of_scheme["results"]] == expected
    assert of_publisher["results"] == []
    assert of_hidden.status_code == 400
    assert _error(of_hidden)["details"] == {"agent": ["Unknown agent."]}


def test_public_scheme_counts_leave_out_agents_never_published(
    api: APIClient,
) -> None:
    # given
    body = make_body()
    scheme = make_scheme(body, code="counted-sec")
    make_certificate(body, scheme)
    certify_on_request(body, scheme, make_version(state="draft"))
    # when
    detail = api.get(f"{API}/certification/schemes/counted-sec/").json()
    listed = api.get(f"{API}/certification/schemes/").json()["results"]
    # then
    assert detail["valid_certificates"] == 1
    assert [s["valid_certificates"] for s in listed] == [1]


def test_the_certificate_of_an_agent_never_published_names_the_agent_only(
    api: APIClient,
) -> None:
    # given
    body = make_body()
    scheme = make_scheme(body)
    certificate = certify_on_request(body, scheme, make_version(state="draft"))
    # when: anyone holding the serial reads it
    public = api.get(f"{API}/certificates/{certificate.serial}/")
    # then
    assert public.status_code == 200
    data = public.json()
    assert data["agent_name"] == certificate.agent.name
    assert (data["publisher"], data["agent"], data["agent_identifier"]) == (
        None,
        None,
        None,
    )
    assert data["digest"] == certificate.digest
    # the issuing body's staff, acting on it, get it in full
    api.force_authenticate(body.assessor)
    suspended = api.post(
        f"{API}/certificates/{certificate.serial}/suspend/",
        {"reason": "Retest"},
        format="json",
    ).json()
    assert suspended["agent"] == certificate.agent.slug
    assert suspended["agent_identifier"] == certificate.agent.identifier


def test_a_published_agents_certificate_names_its_address(api: APIClient) -> None:
    body = make_body()
    certificate = make_certificate(body, make_scheme(body))
    data = api.get(f"{API}/certificates/{certificate.serial}/").json()
    assert data["publisher"] == certificate.agent.publisher.slug
    assert data["agent"] == certificate.agent.slug
    assert data["agent_identifier"] == certificate.agent.identifier


# --- A draft is the body's to see only while a request for it is open -------------


def _asked(body: Any, scheme: Scheme, outcome: str) -> AgentVersion:
    """A draft whose publisher asked ``body`` for ``scheme``, the request then
    left ``outcome``."""
    draft = make_version(state="draft")
    member = _publisher_member(draft)
    request = certification_request_create(
        actor=member, version=draft, scheme=scheme, level="basic"
    )
    if outcome in ("accepted", "refused"):
        certification_request_respond(actor=body.assessor, request=request, accept=True)
    if outcome == "declined":
        certification_request_respond(
            actor=body.assessor, request=request, accept=False, reason="Too busy"
        )
    elif outcome == "refused":
        certification_request_refuse(
            actor=body.assessor, request=request, reason="Fails the suite"
        )
    elif outcome == "withdrawn":
        certification_request_withdraw(actor=member, request=request, reason="Later")
    request.refresh_from_db()
    assert request.state == outcome
    return draft


@pytest.mark.parametrize(
    ("outcome", "known"),
    [
        ("requested", True),
        ("accepted", True),
        ("declined", False),
        ("withdrawn", False),
        ("refused", False),
    ],
)
def test_only_an_open_request_shows_the_draft_to_the_body(
    outcome: str, known: bool
) -> None:
    # given
    body = make_body()
    scheme = make_scheme(body)
    draft = _asked(body, scheme, outcome)
    agent = draft.agent
    # when
    found = version_certifiable_by(
        user=body.assessor,
        publisher=agent.publisher.slug,
        agent=agent.slug,
        version=draft.version,
    )
    # then
    assert (found == draft) is known
    assert (found is None) is not known


@pytest.mark.parametrize("outcome", ["declined", "withdrawn"])
def test_a_closed_request_does_not_let_the_body_issue_for_the_draft(
    api: APIClient, outcome: str
) -> None:
    # given
    body = make_body()
    scheme = make_scheme(body)
    draft = _asked(body, scheme, outcome)
    api.force_authenticate(body.assessor)
    # when
    response = api.post(
        f"{API}/certificates/", _issue_input(draft, scheme), format="json"
    )
    # then: the draft is as unknown as any other
    assert response.status_code == 400
    assert _error(response)["details"] == {
        "version": ["Unknown version of this agent."]
    }
    assert not Certificate.objects.exists()


# --- Hostile JSON -----------------------------------------------------------------


@pytest.mark.parametrize("path", ["/certificates/verify/", "/auth/token/"])
def test_deeply_nested_json_is_a_400_not_a_500(api: APIClient, path: str) -> None:
    # given: under the verifier's 64 KiB, nested far deeper than Python recurses
    body = "[" * 30_000 + "]" * 30_000
    # when
    response = api.post(f"{API}{path}", body, content_type="application/json")
    # then
    assert response.status_code == 400
    assert _error(response)["code"] == "parse_error"
    nested = api.post(
        f"{API}{path}",
        '{"a":' * 10_000 + "1" + "}" * 10_000,
        content_type="application/json",
    )
    assert nested.status_code == 400
