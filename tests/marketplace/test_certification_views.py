from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from config import keys
from marketplace import credentials
from marketplace.models import (
    Accreditation,
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
from marketplace.services.certification import (
    certificate_suspend,
    certification_request_create,
    certification_request_respond,
)
from marketplace.services.recognition import trusted_issuer_add
from tests.marketplace.certification_fixtures import (
    Body,
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
    UserFactory,
)

pytestmark = pytest.mark.django_db

REPORT_URL = "https://lab.example.com/reports/7.pdf"


# --- Builders ---------------------------------------------------------------------


@dataclass
class Setting:
    body: Body
    scheme: Scheme
    version: AgentVersion
    publisher_member: User


def _setting() -> Setting:
    """An accredited body with a scheme, and a published version whose publisher
    has an owner."""
    body = make_body()
    scheme = make_scheme(body, code=f"{body.organization.slug}-sec")
    version = make_version()
    member = UserFactory.create()
    MembershipFactory.create(
        user=member, organization=version.agent.publisher, role=Membership.Role.OWNER
    )
    return Setting(body=body, scheme=scheme, version=version, publisher_member=member)


def _ask(setting: Setting, *, level: str = "basic") -> CertificationRequest:
    return certification_request_create(
        actor=setting.publisher_member,
        version=setting.version,
        scheme=setting.scheme,
        level=level,
        message="Please assess.",
    )


def _accepted(setting: Setting) -> CertificationRequest:
    return certification_request_respond(
        actor=setting.body.assessor, request=_ask(setting), accept=True
    )


def _request_url(request: CertificationRequest) -> str:
    return reverse("certification-request", kwargs={"public_id": request.public_id})


def _manage_url(certificate: Certificate) -> str:
    return reverse(
        "certification-certificate-manage", kwargs={"serial": certificate.serial}
    )


def _agent_url(version: AgentVersion) -> str:
    agent = version.agent
    return reverse(
        "console-agent-certification",
        kwargs={"publisher": agent.publisher.slug, "agent": agent.slug},
    )


def _body_url(name: str, body: Body, **kwargs: Any) -> str:
    return reverse(name, kwargs={"body": body.organization.slug, **kwargs})


def _issue_data(
    version: AgentVersion, scheme: Scheme, /, **overrides: Any
) -> dict[str, Any]:
    agent = version.agent
    data = {
        "agent": f"{agent.publisher.slug}/{agent.slug}",
        "version": version.version,
        "scheme": scheme.code,
        "level": "basic",
        "assessor": "Li Wei",
        "report_url": REPORT_URL,
    }
    data.update(overrides)
    return data


def _prefixed(prefix: str, data: dict[str, Any]) -> dict[str, Any]:
    return {f"{prefix}-{key}": value for key, value in data.items()}


def _html(response: Any) -> str:
    return str(response.content.decode())


def _query_count(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries)


# --- Who may come in --------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_sign_in(client: Client) -> None:
    # given
    setting = _setting()
    request = _ask(setting)
    certificate = make_certificate(setting.body, setting.scheme)
    urls = [
        reverse("certification-dashboard"),
        reverse("certification-operator"),
        _body_url("certification-scheme-new", setting.body),
        _body_url("certification-scheme-edit", setting.body, code=setting.scheme.code),
        _body_url("certification-body-certificates", setting.body),
        _body_url("certification-issue", setting.body),
        _request_url(request),
        _manage_url(certificate),
        _agent_url(setting.version),
    ]
    for url in urls:
        # when
        response = client.get(url)
        # then
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("login")), url
    assert (
        client.post(_body_url("certification-issue", setting.body)).status_code == 302
    )


def test_strangers_are_denied_every_body_page(client: Client) -> None:
    # given
    setting = _setting()
    client.force_login(UserFactory.create())
    # when / then
    for url in (
        _body_url("certification-scheme-new", setting.body),
        _body_url("certification-scheme-edit", setting.body, code=setting.scheme.code),
        _body_url("certification-body-certificates", setting.body),
        _body_url("certification-issue", setting.body),
        reverse("certification-operator"),
        _agent_url(setting.version),
    ):
        assert client.get(url).status_code == 403, url


def test_unknown_bodies_requests_and_certificates_are_not_found(client: Client) -> None:
    # given
    setting = _setting()
    client.force_login(setting.body.owner)
    # when / then
    for url in (
        "/certification/no-such-body/certificates/",
        "/certification/no-such-body/issue/",
        "/certification/no-such-body/schemes/new/",
        _body_url("certification-scheme-edit", setting.body, code="no-such-scheme"),
        "/certification/requests/not-a-uuid/",
        "/certification/requests/00000000-0000-0000-0000-000000000000/",
        "/certification/certificates/C0000-XXXX-XXXX/manage/",
        "/console/agents/nobody/nothing/certification/",
    ):
        assert client.get(url).status_code == 404, url


# --- The dashboard ----------------------------------------------------------------


def test_the_dashboard_shows_a_body_its_requests_certificates_and_schemes(
    client: Client,
) -> None:
    # given
    setting = _setting()
    request = _ask(setting)
    certificate = make_certificate(setting.body, setting.scheme)
    client.force_login(setting.body.assessor)
    # when
    response = client.get(reverse("certification-dashboard"))
    # then
    html = _html(response)
    assert response.status_code == 200
    assert setting.body.organization.name in html
    assert _request_url(request) in html
    assert certificate.serial in html
    assert _manage_url(certificate) in html
    assert reverse("scheme-detail", kwargs={"code": setting.scheme.code}) in html
    assert _body_url("certification-issue", setting.body) in html
    # an assessor does not define schemes
    assert _body_url("certification-scheme-new", setting.body) not in html


def test_the_dashboard_filters_the_issued_certificates_by_state(client: Client) -> None:
    # given
    setting = _setting()
    valid = make_certificate(setting.body, setting.scheme)
    suspended = make_certificate(setting.body, setting.scheme)
    certificate_suspend(
        actor=setting.body.assessor, certificate=suspended, reason="Retest due"
    )
    client.force_login(setting.body.owner)
    # when
    html = _html(client.get(reverse("certification-dashboard") + "?state=suspended"))
    # then
    assert suspended.serial in html
    assert valid.serial not in html
    assert _body_url("certification-scheme-new", setting.body) in html
    # a state that does not exist filters nothing, and breaks nothing
    response = client.get(reverse("certification-dashboard") + "?state=bogus")
    assert response.status_code == 200
    assert valid.serial in _html(response)


def test_the_dashboard_shows_a_publisher_its_requests_and_certificates(
    client: Client,
) -> None:
    # given
    setting = _setting()
    request = _ask(setting)
    other = make_version(agent=setting.version.agent, version="2.0.0")
    certificate = make_certificate(setting.body, setting.scheme, other)
    client.force_login(setting.publisher_member)
    # when
    html = _html(client.get(reverse("certification-dashboard")))
    # then
    assert _request_url(request) in html
    assert certificate.serial in html
    assert _agent_url(setting.version) in html
    assert "Your certification bodies" not in html


def _grow_dashboard(setting: Setting, count: int) -> None:
    for _ in range(count):
        version = make_version()
        MembershipFactory.create(
            user=setting.publisher_member,
            organization=version.agent.publisher,
            role=Membership.Role.OWNER,
        )
        certification_request_create(
            actor=setting.publisher_member,
            version=version,
            scheme=setting.scheme,
            level="basic",
        )
        make_certificate(setting.body, setting.scheme, version)


def test_the_dashboard_runs_as_many_queries_whatever_its_size(client: Client) -> None:
    # given
    setting = _setting()
    url = reverse("certification-dashboard")
    _grow_dashboard(setting, 1)
    for user in (setting.body.owner, setting.publisher_member):
        client.force_login(user)
        small = _query_count(client, url)
        # when
        _grow_dashboard(setting, 3)
        # then
        assert _query_count(client, url) == small


# --- Schemes ----------------------------------------------------------------------

SCHEME_DATA = {
    "code": "privacy-seal",
    "name_en": "Privacy seal",
    "name_zh": "隐私印章",
    "dimension": "security",
    "levels": "basic|Basic|基础级\nhigh|High",
    "criteria_en": "Handles personal data with care.",
    "criteria_zh": "",
    "validity_days": "180",
}


def test_an_owner_creates_a_scheme(client: Client) -> None:
    # given
    body = make_body()
    client.force_login(body.owner)
    url = _body_url("certification-scheme-new", body)
    assert client.get(url).status_code == 200
    # when
    response = client.post(url, SCHEME_DATA)
    # then
    assert response.status_code == 302
    scheme = Scheme.objects.get(code="privacy-seal")
    assert scheme.body == body.organization
    assert scheme.levels == [
        {"code": "basic", "name_en": "Basic", "name_zh": "基础级"},
        {"code": "high", "name_en": "High", "name_zh": ""},
    ]
    assert scheme.validity_days == 180
    assert "privacy-seal" in _html(client.get(response["Location"]))


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"levels": "Basic level"}, "levels", "write code|English name|Chinese name"),
        ({"levels": "Bad Code|Basic"}, "levels", "Give one to five levels"),
        ({"levels": ""}, "levels", "This field is required."),
        ({"dimension": "privacy"}, "dimension", "Select a valid choice"),
        ({"validity_days": "0"}, "validity_days", "greater than or equal to 1"),
    ],
)
def test_a_bad_scheme_comes_back_with_the_error(
    client: Client, change: dict[str, str], field: str, message: str
) -> None:
    # given
    body = make_body()
    client.force_login(body.owner)
    url = _body_url("certification-scheme-new", body)
    # when
    response = client.post(url, {**SCHEME_DATA, **change})
    # then
    assert response.status_code == 400
    assert field in response.context["form"].errors
    assert message in _html(response)
    assert not Scheme.objects.filter(code="privacy-seal").exists()


def test_a_taken_code_comes_back_as_a_conflict(client: Client) -> None:
    body = make_body()
    make_scheme(body, code="privacy-seal")
    client.force_login(body.owner)
    response = client.post(_body_url("certification-scheme-new", body), SCHEME_DATA)
    assert response.status_code == 409
    assert "code" in response.context["form"].errors
    assert "already exists" in _html(response)


def test_only_owners_and_administrators_define_schemes(client: Client) -> None:
    # given
    body = make_body()
    url = _body_url("certification-scheme-new", body)
    for user in (body.member, body.assessor):
        client.force_login(user)
        # when / then
        assert client.get(url).status_code == 403
        assert client.post(url, SCHEME_DATA).status_code == 403
    assert not Scheme.objects.filter(code="privacy-seal").exists()


def test_an_owner_edits_and_closes_a_scheme(client: Client) -> None:
    # given
    setting = _setting()
    scheme = setting.scheme
    url = _body_url("certification-scheme-edit", setting.body, code=scheme.code)
    client.force_login(setting.body.owner)
    html = _html(client.get(url))
    assert "basic|Basic|基础级" in html
    # when
    response = client.post(
        url,
        {
            **SCHEME_DATA,
            "code": "ignored",
            "dimension": "privacy",
            "name_en": "Renamed",
            "levels": "basic|Basic|基础级\nenhanced|Enhanced",
        },
    )
    # then
    assert response.status_code == 302
    scheme.refresh_from_db()
    assert scheme.name_en == "Renamed"
    assert scheme.active is False
    assert scheme.code == f"{setting.body.organization.slug}-sec"
    assert scheme.dimension == "security"
    assert scheme.level_codes == ["basic", "enhanced"]


def test_a_level_that_certificates_hold_stays(client: Client) -> None:
    # given
    setting = _setting()
    make_certificate(setting.body, setting.scheme, level="advanced")
    url = _body_url("certification-scheme-edit", setting.body, code=setting.scheme.code)
    client.force_login(setting.body.owner)
    # when
    response = client.post(url, {**SCHEME_DATA, "levels": "basic|Basic"})
    # then
    assert response.status_code == 400
    assert "Certificates hold the levels advanced" in _html(response)
    setting.scheme.refresh_from_db()
    assert "advanced" in setting.scheme.level_codes


def test_another_body_cannot_edit_the_scheme(client: Client) -> None:
    # given
    setting = _setting()
    other = make_body()
    client.force_login(other.owner)
    # when: through its own address, the scheme is not found
    url = _body_url("certification-scheme-edit", other, code=setting.scheme.code)
    assert client.post(url, SCHEME_DATA).status_code == 404
    # and through the scheme's body, it is denied
    url = _body_url("certification-scheme-edit", setting.body, code=setting.scheme.code)
    assert client.post(url, SCHEME_DATA).status_code == 403
    # then
    setting.scheme.refresh_from_db()
    assert setting.scheme.name_en != "Privacy seal"


# --- A body's certificates --------------------------------------------------------


def test_members_list_what_their_body_issued(client: Client) -> None:
    # given
    setting = _setting()
    valid = make_certificate(setting.body, setting.scheme)
    suspended = make_certificate(setting.body, setting.scheme)
    certificate_suspend(
        actor=setting.body.assessor, certificate=suspended, reason="Retest due"
    )
    other = make_body()
    foreign = make_certificate(other, make_scheme(other, code="other-sec"))
    url = _body_url("certification-body-certificates", setting.body)
    client.force_login(setting.body.member)
    # when
    html = _html(client.get(url))
    # then
    assert valid.serial in html
    assert suspended.serial in html
    assert foreign.serial not in html
    # a plain member does not manage them
    assert _manage_url(valid) not in html
    filtered = _html(client.get(url + "?state=suspended"))
    assert suspended.serial in filtered
    assert valid.serial not in filtered
    # a stranger, or a member of another body, is denied
    client.force_login(other.owner)
    assert client.get(url).status_code == 403


def test_the_body_list_runs_as_many_queries_whatever_its_size(client: Client) -> None:
    # given
    setting = _setting()
    url = _body_url("certification-body-certificates", setting.body)
    make_certificate(setting.body, setting.scheme)
    client.force_login(setting.body.assessor)
    small = _query_count(client, url)
    # when
    for _ in range(4):
        make_certificate(setting.body, setting.scheme)
    # then
    assert _query_count(client, url) == small


# --- Issuing ----------------------------------------------------------------------


def test_an_assessor_issues_a_certificate_directly(client: Client) -> None:
    # given
    setting = _setting()
    url = _body_url("certification-issue", setting.body)
    client.force_login(setting.body.assessor)
    assert setting.scheme.code in _html(client.get(url))
    # when
    response = client.post(url, _issue_data(setting.version, setting.scheme))
    # then
    certificate = Certificate.objects.get(version=setting.version)
    assert response.status_code == 302
    assert response["Location"] == _manage_url(certificate)
    assert certificate.level == "basic"
    assert certificate.report_url == REPORT_URL
    assert certificate.issued_by == setting.body.assessor


def test_a_report_file_can_be_uploaded(client: Client) -> None:
    setting = _setting()
    client.force_login(setting.body.owner)
    report = SimpleUploadedFile(
        "report.pdf", b"%PDF-1.4 test report", content_type="application/pdf"
    )
    data = _issue_data(setting.version, setting.scheme, report_url="")
    response = client.post(
        _body_url("certification-issue", setting.body), {**data, "report_file": report}
    )
    assert response.status_code == 302
    certificate = Certificate.objects.get(version=setting.version)
    assert certificate.report_sha256
    assert certificate.report_file


def test_a_plain_member_cannot_issue(client: Client) -> None:
    # given
    setting = _setting()
    url = _body_url("certification-issue", setting.body)
    client.force_login(setting.body.member)
    # when
    assert client.get(url).status_code == 403
    response = client.post(url, _issue_data(setting.version, setting.scheme))
    # then
    assert response.status_code == 403
    assert not Certificate.objects.exists()


def test_nobody_certifies_their_own_publishers_agent(client: Client) -> None:
    setting = _setting()
    MembershipFactory.create(
        user=setting.body.assessor,
        organization=setting.version.agent.publisher,
        role=Membership.Role.MEMBER,
    )
    client.force_login(setting.body.assessor)
    response = client.post(
        _body_url("certification-issue", setting.body),
        _issue_data(setting.version, setting.scheme),
    )
    assert response.status_code == 403
    assert not Certificate.objects.exists()


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"report_url": "http://lab.example.com/r.pdf"}, "report_url", "https://"),
        ({"report_url": ""}, None, "Attach the test report or give its URL."),
        ({"level": "platinum"}, "level", "Select a valid choice"),
        ({"agent": "no slash"}, "agent", "publisher/agent"),
        ({"agent": "nobody/nothing"}, "version", "no such version"),
        ({"version": "9.9.9"}, "version", "no such version"),
        ({"assessor": ""}, "assessor", "This field is required."),
        ({"scheme": "someone-elses"}, "scheme", "Select a valid choice"),
    ],
)
def test_bad_issuing_input_comes_back_with_the_error(
    client: Client, change: dict[str, str], field: str | None, message: str
) -> None:
    # given
    setting = _setting()
    client.force_login(setting.body.assessor)
    # when
    response = client.post(
        _body_url("certification-issue", setting.body),
        _issue_data(setting.version, setting.scheme, **change),
    )
    # then
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert (field or "__all__") in errors
    assert message in _html(response)
    assert not Certificate.objects.exists()


def test_a_level_of_another_scheme_is_refused(client: Client) -> None:
    # given: a second scheme of the body with a level the first has not
    setting = _setting()
    make_scheme(
        setting.body,
        code="second",
        levels=[{"code": "gold", "name_en": "Gold", "name_zh": "金"}],
    )
    client.force_login(setting.body.assessor)
    # when
    response = client.post(
        _body_url("certification-issue", setting.body),
        _issue_data(setting.version, setting.scheme, level="gold"),
    )
    # then
    assert response.status_code == 400
    assert "The scheme has no level gold." in _html(response)
    assert not Certificate.objects.exists()


def test_an_oversize_report_comes_back_with_the_error(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    setting = _setting()
    monkeypatch.setattr(
        "marketplace.services.certification.REPORT_MAX_BYTES", 16, raising=True
    )
    client.force_login(setting.body.assessor)
    report = SimpleUploadedFile("report.txt", b"x" * 17, content_type="text/plain")
    data = _issue_data(setting.version, setting.scheme, report_url="")
    response = client.post(
        _body_url("certification-issue", setting.body), {**data, "report_file": report}
    )
    assert response.status_code == 400
    assert "report_file" in response.context["form"].errors
    assert not Certificate.objects.exists()


# --- Requests ---------------------------------------------------------------------


def test_both_sides_see_a_request_and_its_history(client: Client) -> None:
    # given
    setting = _setting()
    request = _accepted(setting)
    url = _request_url(request)
    # the body's staff see the issue form, pre-filled
    client.force_login(setting.body.assessor)
    response = client.get(url)
    html = _html(response)
    assert response.status_code == 200
    assert "Please assess." in html
    assert "Issue the certificate" in html
    issue_form = response.context["forms"]["issue"]
    agent = setting.version.agent
    assert issue_form["agent"].value() == f"{agent.publisher.slug}/{agent.slug}"
    assert issue_form["version"].value() == setting.version.version
    assert "Withdraw the request" not in html
    # a plain member of the body sees it, without the actions
    client.force_login(setting.body.member)
    html = _html(client.get(url))
    assert "Please assess." in html
    assert "Issue the certificate" not in html
    # the publisher withdraws
    client.force_login(setting.publisher_member)
    html = _html(client.get(url))
    assert "Withdraw the request" in html
    assert "Accept and start assessing" not in html
    # strangers and other bodies find nothing
    for user in (UserFactory.create(), make_body().assessor):
        client.force_login(user)
        assert client.get(url).status_code == 404


def test_the_body_accepts_then_issues_from_the_request(client: Client) -> None:
    # given
    setting = _setting()
    request = _ask(setting, level="enhanced")
    url = _request_url(request)
    client.force_login(setting.body.assessor)
    # when
    response = client.post(url, {"action": "accept"})
    # then
    assert response.status_code == 302
    request.refresh_from_db()
    assert request.state == CertificationRequest.State.ACCEPTED
    # when
    data = {
        "action": "issue",
        **_prefixed(
            "issue", _issue_data(setting.version, setting.scheme, level="enhanced")
        ),
    }
    response = client.post(url, data)
    # then
    assert response.status_code == 302
    request.refresh_from_db()
    assert request.state == CertificationRequest.State.ISSUED
    certificate = Certificate.objects.get(request=request)
    assert certificate.level == "enhanced"
    assert "Certificate issued" in _html(client.get(url))


def test_issuing_from_a_request_with_bad_input_shows_the_error(client: Client) -> None:
    setting = _setting()
    request = _accepted(setting)
    client.force_login(setting.body.assessor)
    data = {
        "action": "issue",
        **_prefixed(
            "issue",
            _issue_data(
                setting.version, setting.scheme, report_url="http://insecure.example/"
            ),
        ),
    }
    response = client.post(_request_url(request), data)
    assert response.status_code == 400
    assert "report_url" in response.context["forms"]["issue"].errors
    request.refresh_from_db()
    assert request.state == CertificationRequest.State.ACCEPTED
    assert not Certificate.objects.exists()


def test_declining_and_refusing_need_a_reason(client: Client) -> None:
    # given
    setting = _setting()
    request = _ask(setting)
    url = _request_url(request)
    client.force_login(setting.body.owner)
    # when
    response = client.post(url, {"action": "decline", "decline-reason": "  "})
    # then
    assert response.status_code == 400
    assert "reason" in response.context["forms"]["decline"].errors
    request.refresh_from_db()
    assert request.state == CertificationRequest.State.REQUESTED
    # when
    response = client.post(
        url, {"action": "decline", "decline-reason": "Out of our scope."}
    )
    # then
    assert response.status_code == 302
    request.refresh_from_db()
    assert request.state == CertificationRequest.State.DECLINED
    assert "Out of our scope." in _html(client.get(url))
    # and a refusal likewise
    second = _accepted(setting)
    second_url = _request_url(second)
    assert client.post(second_url, {"action": "refuse"}).status_code == 400
    response = client.post(
        second_url, {"action": "refuse", "refuse-reason": "Fails test 4.2."}
    )
    assert response.status_code == 302
    second.refresh_from_db()
    assert second.state == CertificationRequest.State.REFUSED


def test_a_move_the_request_does_not_allow_is_a_conflict(client: Client) -> None:
    setting = _setting()
    request = _ask(setting)
    client.force_login(setting.body.owner)
    response = client.post(
        _request_url(request), {"action": "refuse", "refuse-reason": "No."}
    )
    assert response.status_code == 409
    assert "cannot become" in _html(response)
    request.refresh_from_db()
    assert request.state == CertificationRequest.State.REQUESTED
    # accepting twice tells why, and changes nothing
    client.post(_request_url(request), {"action": "accept"})
    response = client.post(_request_url(request), {"action": "accept"}, follow=True)
    assert "cannot become" in _html(response)


def test_the_publisher_cannot_answer_its_own_request(client: Client) -> None:
    # given
    setting = _setting()
    request = _ask(setting)
    url = _request_url(request)
    client.force_login(setting.publisher_member)
    # when / then
    assert client.post(url, {"action": "accept"}).status_code == 403
    assert (
        client.post(url, {"action": "decline", "decline-reason": "x"}).status_code
        == 403
    )
    data = {
        "action": "issue",
        **_prefixed("issue", _issue_data(setting.version, setting.scheme)),
    }
    assert client.post(url, data).status_code == 403
    request.refresh_from_db()
    assert request.state == CertificationRequest.State.REQUESTED
    assert not Certificate.objects.exists()


def test_the_body_cannot_withdraw_and_a_plain_member_cannot_answer(
    client: Client,
) -> None:
    # given
    setting = _setting()
    request = _ask(setting)
    url = _request_url(request)
    # when / then
    client.force_login(setting.body.owner)
    assert client.post(url, {"action": "withdraw"}).status_code == 403
    client.force_login(setting.body.member)
    assert client.post(url, {"action": "accept"}).status_code == 403
    request.refresh_from_db()
    assert request.state == CertificationRequest.State.REQUESTED


def test_the_publisher_withdraws_its_request(client: Client) -> None:
    setting = _setting()
    request = _ask(setting)
    client.force_login(setting.publisher_member)
    response = client.post(
        _request_url(request), {"action": "withdraw", "withdraw-reason": ""}
    )
    assert response.status_code == 302
    request.refresh_from_db()
    assert request.state == CertificationRequest.State.WITHDRAWN


def test_an_unknown_action_changes_nothing(client: Client) -> None:
    setting = _setting()
    request = _ask(setting)
    client.force_login(setting.body.owner)
    response = client.post(_request_url(request), {"action": "explode"}, follow=True)
    assert response.status_code == 200
    assert "Choose what to do with the request." in _html(response)
    request.refresh_from_db()
    assert request.state == CertificationRequest.State.REQUESTED


# --- Managing a certificate -------------------------------------------------------


def test_an_assessor_suspends_reinstates_and_revokes(client: Client) -> None:
    # given
    setting = _setting()
    certificate = make_certificate(setting.body, setting.scheme)
    url = _manage_url(certificate)
    client.force_login(setting.body.assessor)
    assert "Suspend the certificate" in _html(client.get(url))
    # when: no reason
    response = client.post(url, {"action": "suspend", "suspend-reason": ""})
    # then
    assert response.status_code == 400
    assert "reason" in response.context["forms"]["suspend"].errors
    certificate.refresh_from_db()
    assert certificate.state == Certificate.State.VALID
    # when
    response = client.post(url, {"action": "suspend", "suspend-reason": "Retest due"})
    # then
    assert response.status_code == 302
    certificate.refresh_from_db()
    assert certificate.state == Certificate.State.SUSPENDED
    assert "Make it valid again" in _html(client.get(url))
    # when
    assert client.post(url, {"action": "reinstate"}).status_code == 302
    certificate.refresh_from_db()
    assert certificate.state == Certificate.State.VALID
    # when: revoking needs a reason too
    assert client.post(url, {"action": "revoke"}).status_code == 400
    response = client.post(url, {"action": "revoke", "revoke-reason": "Flaw found"})
    assert response.status_code == 302
    certificate.refresh_from_db()
    assert certificate.state == Certificate.State.REVOKED
    assert certificate.state_reason == "Flaw found"
    # a revoked certificate is final
    response = client.post(url, {"action": "reinstate"})
    assert response.status_code == 409
    assert "cannot become" in _html(response)


def test_an_assessor_extends_a_certificate_to_a_later_version(client: Client) -> None:
    # given
    setting = _setting()
    certificate = make_certificate(setting.body, setting.scheme, setting.version)
    later = AgentVersionFactory.create(
        agent=setting.version.agent, version="3.0.0", state=AgentVersion.State.SUBMITTED
    )
    # the publisher asks the body for the new version, which it may then see
    certification_request_create(
        actor=setting.publisher_member,
        version=later,
        scheme=setting.scheme,
        level="basic",
    )
    client.force_login(setting.body.owner)
    url = _manage_url(certificate)
    assert "3.0.0" in _html(client.get(url))
    # when
    response = client.post(url, {"action": "extend", "extend-version": "3.0.0"})
    # then
    extended = Certificate.objects.get(version=later)
    assert response.status_code == 302
    assert response["Location"] == _manage_url(extended)
    assert extended.extends == certificate
    assert extended.valid_until == certificate.valid_until
    # a version that is not offered is refused
    response = client.post(url, {"action": "extend", "extend-version": "9.9.9"})
    assert response.status_code == 400


def test_only_the_issuing_bodys_staff_manage_a_certificate(client: Client) -> None:
    # given
    setting = _setting()
    certificate = make_certificate(setting.body, setting.scheme)
    url = _manage_url(certificate)
    data = {"action": "suspend", "suspend-reason": "Because"}
    for user in (
        setting.body.member,
        make_body().assessor,
        setting.publisher_member,
        UserFactory.create(),
    ):
        client.force_login(user)
        # when / then
        assert client.get(url).status_code == 403
        assert client.post(url, data).status_code == 403
    certificate.refresh_from_db()
    assert certificate.state == Certificate.State.VALID


# --- The publisher's page of an agent ---------------------------------------------


def test_the_publisher_sees_versions_certificates_and_open_requests(
    client: Client,
) -> None:
    # given
    setting = _setting()
    certificate = make_certificate(setting.body, setting.scheme, setting.version)
    newer = make_version(agent=setting.version.agent, version="2.0.0")
    request = certification_request_create(
        actor=setting.publisher_member,
        version=newer,
        scheme=setting.scheme,
        level="basic",
    )
    client.force_login(setting.publisher_member)
    # when
    response = client.get(_agent_url(setting.version))
    # then
    html = _html(response)
    assert response.status_code == 200
    assert certificate.serial in html
    assert "2.0.0" in html
    assert _request_url(request) in html
    assert setting.scheme.code in html


def test_the_publisher_asks_for_certification(client: Client) -> None:
    # given
    setting = _setting()
    client.force_login(setting.publisher_member)
    data = {
        "action": "request",
        "request-version": setting.version.version,
        "request-scheme": setting.scheme.code,
        "request-level": "enhanced",
        "request-message": "Ready when you are.",
    }
    # when
    response = client.post(_agent_url(setting.version), data)
    # then
    request = CertificationRequest.objects.get(version=setting.version)
    assert response.status_code == 302
    assert response["Location"] == _request_url(request)
    assert request.level == "enhanced"
    assert request.requested_by == setting.publisher_member
    # asking again while it is open is a conflict shown on the form
    response = client.post(_agent_url(setting.version), data)
    assert response.status_code == 409
    assert "already has an open request" in _html(response)


def test_a_level_the_scheme_lacks_is_refused_on_the_request_form(
    client: Client,
) -> None:
    setting = _setting()
    other = make_body()
    make_scheme(
        other,
        code="gold-scheme",
        levels=[{"code": "gold", "name_en": "Gold", "name_zh": "金"}],
    )
    client.force_login(setting.publisher_member)
    for level, message in (
        ("gold", "The scheme has no level gold."),
        ("tin", "valid choice"),
    ):
        response = client.post(
            _agent_url(setting.version),
            {
                "action": "request",
                "request-version": setting.version.version,
                "request-scheme": setting.scheme.code,
                "request-level": level,
            },
        )
        assert response.status_code == 400
        assert "level" in response.context["request_form"].errors
        assert message in _html(response)
    assert not CertificationRequest.objects.exists()


def test_only_the_publishers_editors_see_the_agent_page(client: Client) -> None:
    # given
    setting = _setting()
    analyst = UserFactory.create()
    MembershipFactory.create(
        user=analyst,
        organization=setting.version.agent.publisher,
        role=Membership.Role.ANALYST,
    )
    url = _agent_url(setting.version)
    data = {
        "action": "request",
        "request-version": setting.version.version,
        "request-scheme": setting.scheme.code,
        "request-level": "basic",
    }
    for user in (analyst, setting.body.owner, UserFactory.create()):
        client.force_login(user)
        # when / then
        assert client.get(url).status_code == 403
        assert client.post(url, data).status_code == 403
    assert not CertificationRequest.objects.exists()


def test_the_agent_page_runs_as_many_queries_whatever_its_size(client: Client) -> None:
    # given
    setting = _setting()
    make_certificate(setting.body, setting.scheme, setting.version)
    url = _agent_url(setting.version)
    client.force_login(setting.publisher_member)
    small = _query_count(client, url)
    # when
    for number in range(3):
        version = make_version(agent=setting.version.agent, version=f"4.0.{number}")
        make_certificate(setting.body, setting.scheme, version)
        certification_request_create(
            actor=setting.publisher_member,
            version=version,
            scheme=make_scheme(setting.body, code=f"extra-{number}"),
            level="basic",
        )
    # then
    assert _query_count(client, url) == small


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _foreign_token(agent_identifier: str, agent_name: str) -> tuple[str, TrustedIssuer]:
    key = Ed25519PrivateKey.generate()
    public = keys.b64url(key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))
    issuer = trusted_issuer_add(
        actor=make_operator(),
        name="Other Trust Lab",
        issuer_id="https://other.example/issuers/lab",
        public_key=public,
    )
    now = timezone.now()
    credential = {
        "@context": [credentials.VC_CONTEXT, credentials.OB_CONTEXT],
        "id": "https://other.example/credentials/42",
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "name": "Other privacy seal",
        "issuer": {"id": issuer.issuer_id, "type": ["Profile"], "name": "Other Lab"},
        "validFrom": _stamp(now - timedelta(days=1)),
        "validUntil": _stamp(now + timedelta(days=300)),
        "credentialSubject": {
            "id": agent_identifier,
            "type": ["AchievementSubject"],
            "name": agent_name,
            "achievement": {
                "id": "https://other.example/achievements/privacy",
                "type": ["Achievement"],
                "achievementType": "Certification",
                "name": "Privacy seal",
                "description": "Handles personal data with care.",
                "criteria": {"narrative": "Audited."},
            },
        },
    }
    return credentials.vc_jwt_sign(
        credential=credential, key=key, kid=issuer.kid
    ), issuer


def test_the_publisher_imports_a_credential_of_another_platform(client: Client) -> None:
    # given
    setting = _setting()
    agent = setting.version.agent
    token, issuer = _foreign_token(agent.identifier, agent.name)
    client.force_login(setting.publisher_member)
    upload = SimpleUploadedFile(
        "credential.jwt", token.encode(), content_type="text/plain"
    )
    # when
    response = client.post(
        _agent_url(setting.version),
        {"action": "import", "import-credential_file": upload},
    )
    # then
    assert response.status_code == 302
    imported = ImportedCredential.objects.get(agent=agent)
    assert imported.issuer == issuer
    assert "Other privacy seal" in _html(client.get(_agent_url(setting.version)))
    # the same again, pasted, is a conflict on the form
    response = client.post(
        _agent_url(setting.version), {"action": "import", "import-credential": token}
    )
    assert response.status_code == 409
    assert "imported already" in _html(response)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"import-credential": "not.a.jwt"}, "The credential was not accepted"),
        ({}, "Paste the credential or upload its file."),
        (
            {
                "import-credential_file": SimpleUploadedFile(
                    "big.jwt", b"a" * (64 * 1024 + 1)
                )
            },
            "larger than 64 KB",
        ),
        (
            {"import-credential_file": SimpleUploadedFile("bin.jwt", b"\xff\xfe\x00")},
            "as text",
        ),
    ],
)
def test_a_bad_credential_comes_back_with_the_error(
    client: Client, data: dict[str, Any], message: str
) -> None:
    setting = _setting()
    client.force_login(setting.publisher_member)
    response = client.post(_agent_url(setting.version), {"action": "import", **data})
    assert response.status_code == 400
    assert message in _html(response)
    assert not ImportedCredential.objects.exists()


def test_a_credential_about_another_agent_is_refused(client: Client) -> None:
    setting = _setting()
    token, _issuer = _foreign_token("did:web:elsewhere.example", "Someone else")
    client.force_login(setting.publisher_member)
    response = client.post(
        _agent_url(setting.version), {"action": "import", "import-credential": token}
    )
    assert response.status_code == 400
    assert "not this agent" in _html(response)
    assert not ImportedCredential.objects.exists()


# --- The operator -----------------------------------------------------------------


def _operator_client(client: Client) -> User:
    operator = make_operator()
    client.force_login(operator)
    return operator


def test_only_the_operator_sees_the_operator_page(client: Client) -> None:
    body = make_body()
    url = reverse("certification-operator")
    for user in (body.owner, UserFactory.create()):
        client.force_login(user)
        assert client.get(url).status_code == 403
        data = {
            "action": "grant",
            "grant-body": body.organization.slug,
            "grant-dimension": "privacy",
        }
        assert client.post(url, data).status_code == 403
    assert not Accreditation.objects.filter(dimension="privacy").exists()
    _operator_client(client)
    html = _html(client.get(url))
    assert body.organization.name in html


def test_the_operator_accredits_a_body(client: Client) -> None:
    # given
    body = make_body()
    _operator_client(client)
    url = reverse("certification-operator")
    # when
    response = client.post(
        url,
        {
            "action": "grant",
            "grant-body": body.organization.slug,
            "grant-dimension": "privacy",
        },
    )
    # then
    assert response.status_code == 302
    assert (
        Accreditation.objects.get(body=body.organization, dimension="privacy").state
        == Accreditation.State.ACTIVE
    )
    # an unknown body, or an organisation that is not a body, comes back
    response = client.post(
        url, {"action": "grant", "grant-body": "nobody", "grant-dimension": "privacy"}
    )
    assert response.status_code == 400
    assert "No certification body has this address." in _html(response)
    publisher = make_version().agent.publisher
    response = client.post(
        url,
        {"action": "grant", "grant-body": publisher.slug, "grant-dimension": "privacy"},
    )
    assert response.status_code == 400


def test_the_operator_suspends_an_accreditation_with_a_reason(client: Client) -> None:
    # given
    body = make_body()
    accreditation = Accreditation.objects.get(body=body.organization)
    _operator_client(client)
    url = reverse("certification-operator")
    data = {
        "action": "accreditation",
        "accreditation-accreditation": str(accreditation.pk),
        "accreditation-state": "suspended",
    }
    # when
    response = client.post(url, data)
    # then
    assert response.status_code == 400
    assert "Say why." in _html(response)
    accreditation.refresh_from_db()
    assert accreditation.state == Accreditation.State.ACTIVE
    # when
    response = client.post(url, {**data, "accreditation-reason": "Audit pending"})
    # then
    assert response.status_code == 302
    accreditation.refresh_from_db()
    assert accreditation.state == Accreditation.State.SUSPENDED
    # when: reinstated
    response = client.post(
        url, {**data, "accreditation-state": "active", "accreditation-reason": ""}
    )
    assert response.status_code == 302
    accreditation.refresh_from_db()
    assert accreditation.state == Accreditation.State.ACTIVE
    # an unknown accreditation is not found, a bad state comes back
    assert (
        client.post(
            url,
            {
                **data,
                "accreditation-accreditation": "999999",
                "accreditation-reason": "x",
            },
        ).status_code
        == 404
    )
    assert client.post(url, {**data, "accreditation-state": "gone"}).status_code == 400


def test_the_operator_sets_a_domains_requirements(client: Client) -> None:
    # given
    setting = _setting()
    domain = DomainFactory.create(code="health", name_en="Health", name_zh="健康")
    _operator_client(client)
    url = reverse("certification-operator")
    # when
    response = client.post(
        url,
        {
            "action": "requirements",
            "requirements-domain": "health",
            "requirements-schemes": [setting.scheme.code],
            "requirements-dimensions": ["privacy", "security"],
        },
    )
    # then
    assert response.status_code == 302
    domain = Domain.objects.get(pk=domain.pk)
    assert list(domain.required_schemes.all()) == [setting.scheme]
    assert domain.required_dimensions == ["privacy", "security"]
    form = client.get(url + "?domain=health").context["forms"]["requirements"]
    assert form.initial["schemes"] == [setting.scheme.code]
    # a dimension that does not exist comes back
    response = client.post(
        url,
        {
            "action": "requirements",
            "requirements-domain": "health",
            "requirements-dimensions": ["beauty"],
        },
    )
    assert response.status_code == 400


def test_the_operator_trusts_and_stops_trusting_an_issuer(client: Client) -> None:
    # given
    _operator_client(client)
    url = reverse("certification-operator")
    key = Ed25519PrivateKey.generate()
    public = keys.b64url(key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))
    data = {
        "action": "issuer_add",
        "issuer-name": "Other Trust Lab",
        "issuer-platform_url": "https://other.example/",
        "issuer-issuer_id": "https://other.example/issuers/lab",
        "issuer-public_key": public,
        "issuer-kid": "",
    }
    # when: a bad key
    response = client.post(url, {**data, "issuer-public_key": "short"})
    # then
    assert response.status_code == 400
    assert "32 bytes in base64url" in _html(response)
    # when
    response = client.post(url, data)
    # then
    assert response.status_code == 302
    issuer = TrustedIssuer.objects.get()
    assert issuer.kid
    assert issuer.kid in _html(client.get(url))
    # when
    response = client.post(url, {"action": "issuer_revoke", "revoke-issuer": issuer.pk})
    # then
    assert response.status_code == 302
    issuer.refresh_from_db()
    assert issuer.revoked_at is not None
    assert issuer.kid not in _html(client.get(url))
    assert (
        client.post(
            url, {"action": "issuer_revoke", "revoke-issuer": "999999"}
        ).status_code
        == 404
    )


def test_the_operator_page_runs_as_many_queries_whatever_its_size(
    client: Client,
) -> None:
    # given
    operator = _operator_client(client)
    make_body(operator=operator)
    DomainFactory.create()
    url = reverse("certification-operator")
    client.force_login(operator)
    small = _query_count(client, url)
    # when
    for _ in range(3):
        body = make_body(accredited=("security", "privacy"), operator=operator)
        make_scheme(body, code=f"{body.organization.slug}-x")
        DomainFactory.create(code=f"d-{body.organization.slug}")
    key = Ed25519PrivateKey.generate()
    trusted_issuer_add(
        actor=operator,
        name="Lab",
        issuer_id="https://lab.example/",
        public_key=keys.b64url(
            key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        ),
    )
    # then
    assert _query_count(client, url) == small


def test_the_extend_form_offers_the_versions_the_api_takes(client: Client) -> None:
    # given: a certificate on 2.0.0; 1.x came before it
    setting = _setting()
    agent = setting.version.agent
    current = make_version(agent=agent, version="2.0.0")
    certificate = make_certificate(setting.body, setting.scheme, current)
    states = AgentVersion.State
    published = make_version(agent=agent, version="3.0.0")
    asked = AgentVersionFactory.create(
        agent=agent, version="3.1.0", state=states.SUBMITTED
    )
    certification_request_create(
        actor=setting.publisher_member,
        version=asked,
        scheme=setting.scheme,
        level="basic",
    )
    unasked = [
        AgentVersionFactory.create(agent=agent, version=f"3.2.{index}", state=state)
        for index, state in enumerate(
            (states.DRAFT, states.SUBMITTED, states.IN_REVIEW)
        )
    ]
    closed = [
        AgentVersionFactory.create(agent=agent, version=f"3.3.{index}", state=state)
        for index, state in enumerate((states.REJECTED, states.YANKED, states.RECALLED))
    ]
    client.force_login(setting.body.assessor)
    url = _manage_url(certificate)
    # when
    response = client.get(url)
    # then: later, still certifiable, and public or asked for, newest first
    field = response.context["forms"]["extend"].fields["version"]
    assert [value for value, _label in field.choices] == [
        asked.version,
        published.version,
    ]
    html = _html(response)
    for version in [setting.version, *unasked, *closed]:
        assert f'value="{version.version}"' not in html
    # and one not offered is refused
    for version in (setting.version, unasked[0], closed[0]):
        response = client.post(
            url, {"action": "extend", "extend-version": version.version}
        )
        assert response.status_code == 400
    assert Certificate.objects.filter(extends=certificate).count() == 0


def test_the_body_console_lists_certificates_of_agents_never_published(
    client: Client,
) -> None:
    # given: a certificate on a draft, issued on the publisher's request
    setting = _setting()
    draft = make_version(state=AgentVersion.State.DRAFT)
    certificate = certify_on_request(setting.body, setting.scheme, draft)
    client.force_login(setting.body.member)
    # when
    html = _html(client.get(_body_url("certification-body-certificates", setting.body)))
    # then: the body sees what it issued, which the public lists leave out
    assert certificate.serial in html
    public = client.get(
        reverse(
            "certification-body-detail", kwargs={"slug": setting.body.organization.slug}
        )
    )
    assert certificate.serial not in _html(public)


def test_plain_members_of_a_body_get_no_manage_links(client: Any) -> None:
    from tests.marketplace.certification_fixtures import (
        make_body,
        make_certificate,
        make_scheme,
    )

    body = make_body()
    certificate = make_certificate(body, make_scheme(body))
    manage = f"/certification/certificates/{certificate.serial}/manage/"
    client.force_login(body.member)
    assert manage not in client.get("/certification/").content.decode()
    client.force_login(body.assessor)
    assert manage in client.get("/certification/").content.decode()
