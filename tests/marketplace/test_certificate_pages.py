"""The public pages of certification: a certificate in each state, the verify
page with real and hostile input, a scheme, a body, and the certification section
of the agent page."""

from datetime import timedelta
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
from marketplace.models import Agent, AgentVersion, Certificate, ImportedCredential
from marketplace.services.certification import (
    certificate_expire_due,
    certificate_revoke,
    certificate_suspend,
)
from marketplace.services.recognition import credential_import, trusted_issuer_add
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
    MembershipFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

VERIFY_URL = "/certificates/verify/"


def _page(serial: str) -> str:
    return reverse("certificate-detail", kwargs={"serial": serial})


def _certificate_in(state: str, body: Body | None = None) -> Certificate:
    """A certificate moved by the services into ``state``."""
    body = body or make_body()
    scheme = make_scheme(body, code=f"{body.organization.slug}-sec")
    certificate = make_certificate(body, scheme, level="enhanced")
    if state == "suspended":
        certificate_suspend(
            actor=body.assessor, certificate=certificate, reason="Retest due"
        )
    elif state == "revoked":
        certificate_revoke(
            actor=body.assessor,
            certificate=certificate,
            reason="Prompt injection found",
        )
    elif state == "expired":
        certificate_expire_due(now=certificate.valid_until + timedelta(seconds=1))
    certificate.refresh_from_db()
    assert certificate.state == state
    return certificate


def _agent_page(agent: Agent) -> str:
    return reverse(
        "agent-detail", kwargs={"publisher": agent.publisher.slug, "agent": agent.slug}
    )


# --- The certificate's page ---------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "shown"),
    [
        ("valid", "Valid"),
        ("suspended", "Suspended"),
        ("revoked", "Revoked"),
        ("expired", "Expired"),
    ],
)
def test_the_certificate_page_shows_each_state(
    client: Client, state: str, shown: str
) -> None:
    # given
    certificate = _certificate_in(state)
    # when
    response = client.get(_page(certificate.serial))
    # then
    assert response.status_code == 200
    html = response.content.decode()
    assert f"{shown}</span>" in html
    assert certificate.digest in html
    assert certificate.assessor in html
    assert reverse("scheme-detail", kwargs={"code": certificate.scheme.code}) in html
    assert f"#level-{certificate.level}" in html
    assert (
        reverse("certification-body-detail", kwargs={"slug": certificate.body.slug})
        in html
    )
    assert (
        reverse("certificate-credential", kwargs={"serial": certificate.serial}) in html
    )
    assert reverse("certificate-report", kwargs={"serial": certificate.serial}) in html
    assert f"{VERIFY_URL}?serial={certificate.serial}" in html
    assert "/.well-known/jwks.json" in html
    assert "/certificates/status-list.json" in html
    assert "manage.py verify_credential" in html
    assert "/api/v1/certificates/verify" in html
    badge = reverse(
        "scheme-badge-svg",
        kwargs={
            "publisher": certificate.agent.publisher.slug,
            "agent": certificate.agent.slug,
            "scheme": certificate.scheme.code,
        },
    )
    assert badge in html


def test_the_history_shows_actions_and_reasons_but_not_who(client: Client) -> None:
    # given
    certificate = _certificate_in("revoked")
    assessor = Certificate.objects.get(pk=certificate.pk).issued_by
    assert assessor is not None
    # when
    html = client.get(_page(certificate.serial)).content.decode()
    # then
    history = html[html.index('id="history-heading"') :]
    assert "Issued" in history
    assert "Revoked" in history
    assert "Prompt injection found" in history
    assert assessor.username not in html
    assert assessor.email not in html


def test_an_unknown_serial_is_404(client: Client) -> None:
    assert client.get(_page("NOSUCHSERIAL")).status_code == 404


def test_the_page_warns_when_the_certificate_is_of_an_earlier_version(
    client: Client,
) -> None:
    # given: the agent published a newer version since
    certificate = _certificate_in("valid")
    make_version(agent=certificate.agent)
    # when
    html = client.get(_page(certificate.serial)).content.decode()
    # then
    assert "earlier version" in html


# --- The verify page --------------------------------------------------------------


def _status_of(response: Any) -> str:
    html: str = response.content.decode()
    marker = 'data-status="'
    start = html.index(marker) + len(marker)
    return html[start : html.index('"', start)]


@pytest.mark.parametrize("state", ["valid", "suspended", "revoked"])
def test_a_pasted_credential_verifies_as_its_state(client: Client, state: str) -> None:
    # given
    certificate = _certificate_in(state)
    # when
    response = client.post(VERIFY_URL, {"credential": certificate.credential})
    # then
    assert response.status_code == 200
    assert _status_of(response) == state
    html = response.content.decode()
    # the credential is one of ours, so the live record is linked
    assert _page(certificate.serial) in html
    assert certificate.agent.name in html


def test_a_valid_credential_shows_its_subject_scheme_issuer_and_dates(
    client: Client,
) -> None:
    # given
    certificate = _certificate_in("valid")
    # when
    html = client.post(
        VERIFY_URL, {"credential": certificate.credential}
    ).content.decode()
    # then
    assert "What the credential says" in html
    assert certificate.agent.identifier in html
    assert certificate.digest in html
    assert certificate.body.name in html
    assert certificate.scheme.name_en in html
    assert certificate.valid_until.strftime("%Y-%m-%dT") in html


def test_an_uploaded_credential_verifies(client: Client) -> None:
    # given
    certificate = _certificate_in("valid")
    upload = SimpleUploadedFile(
        "cert.jwt", certificate.credential.encode() + b"\n", "application/vc+jwt"
    )
    # when
    response = client.post(VERIFY_URL, {"credential_file": upload})
    # then
    assert response.status_code == 200
    assert _status_of(response) == "valid"


def test_a_serial_shows_the_live_record(client: Client) -> None:
    # given
    certificate = _certificate_in("suspended")
    # when: from the certificate page's link, and from the form
    linked = client.get(VERIFY_URL, {"serial": certificate.serial})
    posted = client.post(VERIFY_URL, {"serial": certificate.serial.lower()})
    # then
    for response in (linked, posted):
        assert response.status_code == 200
        assert _status_of(response) == "suspended"
        html = response.content.decode()
        assert "The certificate's record" in html
        assert "Retest due" in html


def test_an_unknown_serial_says_so(client: Client) -> None:
    response = client.post(VERIFY_URL, {"serial": "ZZZZZZZZ"})
    assert response.status_code == 404
    assert "No certificate has this serial number." in response.content.decode()


def test_a_tampered_credential_is_invalid(client: Client) -> None:
    # given: the payload of a real credential, one character changed
    certificate = _certificate_in("valid")
    header, payload, signature = certificate.credential.split(".")
    changed = "A" if payload[-2] != "A" else "B"
    tampered = f"{header}.{payload[:-2]}{changed}{payload[-1]}.{signature}"
    # when
    response = client.post(VERIFY_URL, {"credential": tampered})
    # then
    assert response.status_code == 200
    assert _status_of(response) == "invalid"
    assert "What the credential says" not in response.content.decode()


def test_a_credential_signed_by_an_unknown_key_is_invalid(client: Client) -> None:
    # given: a well-formed credential signed by a key the site does not publish
    certificate = _certificate_in("valid")
    _header, payload, _signature = certificate.credential.split(".")
    forged = credentials.jws_sign(
        header={"alg": "EdDSA", "kid": "stranger", "typ": "JWT"},
        payload=keys.b64url_decode(payload),
        key=Ed25519PrivateKey.generate(),
    )
    # when
    response = client.post(VERIFY_URL, {"credential": forged})
    # then
    assert _status_of(response) == "invalid"
    assert "stranger" in response.content.decode()


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"credential": ""},
        {"credential": "   "},
        {"credential": "..."},
        {"credential": "a.b.c"},
        {"credential": "not a token at all"},
        {"credential": "x" * (70 * 1024)},
        {"credential": "eyJhbGciOiJub25lIn0.e30."},
        {"credential": "\x00\x01"},
        {"serial": "x" * 100},
        {"serial": "ABC", "credential": "a.b.c"},
    ],
    ids=[
        "nothing",
        "empty",
        "blank",
        "three-dots",
        "three-parts",
        "words",
        "70-KiB",
        "alg-none",
        "nul",
        "long-serial",
        "two-things",
    ],
)
def test_garbage_never_gives_a_500(client: Client, data: dict[str, str]) -> None:
    response = client.post(VERIFY_URL, data)
    assert response.status_code in (200, 400)
    html = response.content.decode()
    if response.status_code == 200:
        assert _status_of(response) == "invalid"
    else:
        assert 'class="errorlist' in html or "alert-danger" in html


@pytest.mark.parametrize("serial", ["\x00", "x" * 100, "../../etc", "%%", "Ω"])
def test_a_garbage_serial_in_the_link_never_gives_a_500(
    client: Client, serial: str
) -> None:
    response = client.get(VERIFY_URL, {"serial": serial})
    assert response.status_code in (400, 404)
    assert 'class="errorlist' in response.content.decode()


def test_a_binary_upload_is_refused_with_a_message(client: Client) -> None:
    upload = SimpleUploadedFile(
        "cert.jwt", bytes(range(256)) * 4, "application/octet-stream"
    )
    response = client.post(VERIFY_URL, {"credential_file": upload})
    assert response.status_code == 400
    assert "not UTF-8 text" in response.content.decode()


def test_an_oversized_upload_is_refused_with_a_message(client: Client) -> None:
    upload = SimpleUploadedFile("cert.jwt", b"a" * (70 * 1024), "text/plain")
    response = client.post(VERIFY_URL, {"credential_file": upload})
    assert response.status_code == 400
    assert "65536 characters" in response.content.decode()


def test_an_oversized_paste_is_refused_with_a_message(client: Client) -> None:
    response = client.post(VERIFY_URL, {"credential": "a" * (70 * 1024)})
    assert response.status_code == 400
    assert "65536 characters" in response.content.decode()


def test_the_verify_page_needs_the_csrf_token() -> None:
    # given
    client = Client(enforce_csrf_checks=True)
    # when
    response = client.post(VERIFY_URL, {"credential": "a.b.c"})
    # then
    assert response.status_code == 403


def test_the_empty_verify_page_shows_the_form(client: Client) -> None:
    response = client.get(VERIFY_URL)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'name="credential"' in html
    assert 'name="credential_file"' in html
    assert 'enctype="multipart/form-data"' in html
    assert "data-status" not in html


def test_the_footer_links_the_verify_page(client: Client) -> None:
    html = client.get(VERIFY_URL).content.decode()
    footer = html[html.index("<footer") :]
    assert f'href="{VERIFY_URL}"' in footer


# --- Schemes and bodies -------------------------------------------------------------


def test_the_scheme_page_shows_its_levels_criteria_and_certificates(
    client: Client,
) -> None:
    # given
    body = make_body()
    scheme = make_scheme(body, code="sec-baseline", validity_days=180)
    valid = make_certificate(body, scheme)
    revoked = make_certificate(body, scheme)
    certificate_revoke(actor=body.assessor, certificate=revoked, reason="Found a hole")
    # when
    response = client.get(reverse("scheme-detail", kwargs={"code": "sec-baseline"}))
    # then
    assert response.status_code == 200
    html = response.content.decode()
    for level in ("basic", "enhanced", "advanced"):
        assert f'id="level-{level}"' in html
    assert "Passes the published security test suite." in html
    assert "智能体安全基线" in html
    assert "180 days" in html
    assert '<dd class="col-sm-9 scheme-valid-count">1</dd>' in html
    assert valid.serial in html
    assert revoked.serial in html
    assert body.organization.name in html


def test_a_scheme_level_link_lands_on_the_level(client: Client) -> None:
    # given
    body = make_body()
    make_scheme(body, code="sec-levels")
    # when
    response = client.get("/schemes/sec-levels/levels/enhanced")
    # then
    assert response.status_code == 302
    assert response["Location"] == "/schemes/sec-levels/#level-enhanced"
    assert client.get(response["Location"]).status_code == 200


def test_an_unknown_scheme_or_body_is_404(client: Client) -> None:
    assert (
        client.get(reverse("scheme-detail", kwargs={"code": "nope"})).status_code == 404
    )
    url = reverse("certification-body-detail", kwargs={"slug": "nope"})
    assert client.get(url).status_code == 404


def test_a_publisher_is_not_a_certification_body(client: Client) -> None:
    certificate = _certificate_in("valid")
    url = reverse(
        "certification-body-detail", kwargs={"slug": certificate.agent.publisher.slug}
    )
    assert client.get(url).status_code == 404


def test_the_body_page_shows_accreditations_schemes_and_certificates(
    client: Client,
) -> None:
    # given
    body = make_body(accredited=("security", "privacy"))
    scheme = make_scheme(body, code="body-sec")
    certificate = make_certificate(body, scheme)
    # when
    response = client.get(
        reverse("certification-body-detail", kwargs={"slug": body.organization.slug})
    )
    # then
    assert response.status_code == 200
    html = response.content.decode()
    assert "Security" in html
    assert "Privacy" in html
    assert "Active" in html
    assert "body-sec" in html
    assert certificate.serial in html
    assert "1 certificate issued" in html


@pytest.mark.parametrize("count", [1, 4])
def test_the_body_page_runs_a_constant_number_of_queries(
    client: Client, django_assert_num_queries: Any, count: int
) -> None:
    # given
    body = make_body()
    scheme = make_scheme(body, code="body-queries")
    for _index in range(count):
        make_certificate(body, scheme)
    url = reverse("certification-body-detail", kwargs={"slug": body.organization.slug})
    # when / then: the body, its accreditations, its schemes, the count and the page
    with django_assert_num_queries(5):
        response = client.get(url)
    assert (
        response.content.decode().count('<tr>\n      <td><a href="/certificates/')
        == count
    )


# --- The agent page -------------------------------------------------------------------


def _import_credential(agent: Agent) -> ImportedCredential:
    """A credential another platform issued to the agent, imported through the
    service after the operator trusted that platform's key."""
    key = Ed25519PrivateKey.generate()
    public = keys.b64url(key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))
    issuer = trusted_issuer_add(
        actor=make_operator(),
        name="Other Trust Lab",
        issuer_id="https://other.example/issuers/lab",
        public_key=public,
        platform_url="https://other.example/",
    )
    now = timezone.now()
    credential = credentials.certificate_credential(
        credential_id="https://other.example/credentials/42",
        name="Other privacy seal",
        issuer={"id": issuer.issuer_id, "type": ["Profile"], "name": "Other Trust Lab"},
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
    token = credentials.vc_jwt_sign(credential=credential, key=key, kid=issuer.kid)
    member = UserFactory.create()
    MembershipFactory.create(user=member, organization=agent.publisher, role="owner")
    return credential_import(actor=member, agent=agent, token=token)


def test_the_agent_page_shows_certificates_badges_and_imported_credentials(
    client: Client,
) -> None:
    # given
    certificate = _certificate_in("valid")
    agent = certificate.agent
    _import_credential(agent)
    # when
    response = client.get(_agent_page(agent))
    # then
    assert response.status_code == 200
    html = response.content.decode()
    section = html[html.index('id="certification"') : html.index('id="reviews"')]
    assert _page(certificate.serial) in section
    assert certificate.scheme.name_en in section
    assert "Enhanced" in section
    assert certificate.body.name in section
    assert "Valid" in section
    assert timezone.localtime(certificate.valid_until).strftime("%Y-%m-%d") in section
    assert (
        f"/badges/{agent.publisher.slug}/{agent.slug}/{certificate.scheme.code}.svg"
        in section
    )
    assert (
        reverse(
            "agent-badges",
            kwargs={"publisher": agent.publisher.slug, "agent": agent.slug},
        )
        in section
    )
    assert "Other privacy seal" in section
    assert "Other Trust Lab" in section
    assert "https://other.example/" in section
    assert (
        "Signature verified at import; status is kept by the issuing platform."
        in section
    )


def test_the_agent_page_shows_an_expiring_certificate(
    client: Client, settings: Any
) -> None:
    # given: a certificate inside the notice period
    settings.CERTIFICATE_EXPIRY_NOTICE_DAYS = 400
    certificate = _certificate_in("valid")
    # when
    html = client.get(_agent_page(certificate.agent)).content.decode()
    # then
    assert "text-bg-warning" in html
    assert "expires in" in html


def test_the_agent_page_without_certificates_says_so(client: Client) -> None:
    version = make_version()
    html = client.get(_agent_page(version.agent)).content.decode()
    assert "The latest version holds no certificates." in html


def _agent_with_certificates(count: int) -> AgentVersion:
    body = make_body()
    version = make_version()
    for index in range(count):
        scheme = make_scheme(body, code=f"{body.organization.slug}-s{index}")
        make_certificate(body, scheme, version)
    version.agent.refresh_from_db()
    assert Certificate.objects.filter(version=version).count() == count
    return version


def test_the_agent_page_runs_a_constant_number_of_queries(client: Client) -> None:
    # given: two agents, with one and with three certificates (and imported
    # credentials, none and two)
    one = _agent_with_certificates(1)
    three = _agent_with_certificates(3)
    _import_credential(three.agent)
    _import_credential(three.agent)
    # when
    few_url, many_url = _agent_page(one.agent), _agent_page(three.agent)
    with CaptureQueriesContext(connection) as few:
        assert client.get(few_url).status_code == 200
    with CaptureQueriesContext(connection) as many:
        response = client.get(many_url)
    # then
    assert response.content.decode().count('class="agent-certificate"') == 3
    assert len(many.captured_queries) == len(few.captured_queries)


# --- Agents never published ---------------------------------------------------------


def _never_published(body: Body) -> Certificate:
    """A certificate on a draft, issued on its publisher's request."""
    scheme = make_scheme(body, code=f"{body.organization.slug}-draft")
    return certify_on_request(body, scheme, make_version(state="draft"))


def test_public_lists_and_counts_leave_out_agents_never_published(
    client: Client,
) -> None:
    # given
    body = make_body()
    hidden = _never_published(body)
    shown = make_certificate(body, hidden.scheme)
    # when
    scheme_page = client.get(
        reverse("scheme-detail", kwargs={"code": hidden.scheme.code})
    ).content.decode()
    body_page = client.get(
        reverse("certification-body-detail", kwargs={"slug": body.organization.slug})
    ).content.decode()
    # then
    assert shown.serial in scheme_page
    assert hidden.serial not in scheme_page
    assert '<dd class="col-sm-9 scheme-valid-count">1</dd>' in scheme_page
    assert shown.serial in body_page
    assert hidden.serial not in body_page
    assert "1 certificate issued" in body_page
    assert "1 valid certificate" in body_page


def test_the_certificate_of_an_agent_never_published_shows_its_name_only(
    client: Client,
) -> None:
    # given
    certificate = _never_published(make_body())
    agent = certificate.agent
    # when: the holder of the credential checks it by its serial
    response = client.get(_page(certificate.serial))
    # then
    assert response.status_code == 200
    html = response.content.decode()
    assert agent.name in html
    assert certificate.digest in html
    assert _agent_page(agent) not in html
    assert agent.identifier not in html
    assert agent.publisher.name not in html
    assert f"/badges/{agent.publisher.slug}/{agent.slug}/" not in html


def test_the_certificate_of_a_quarantined_agent_does_not_link_its_page(
    client: Client,
) -> None:
    # given: the agent's required certificate was revoked
    certificate = _certificate_in("valid")
    agent = certificate.agent
    Agent.objects.filter(pk=agent.pk).update(status=Agent.Status.QUARANTINED)
    # when
    response = client.get(_page(certificate.serial))
    # then: its name, publisher and identifier, but no link to a page that is gone
    assert client.get(_agent_page(agent)).status_code == 404
    html = response.content.decode()
    assert _agent_page(agent) not in html
    assert agent.identifier in html
    assert agent.publisher.name in html


def test_verifying_by_serial_does_not_identify_an_agent_never_published(
    client: Any,
) -> None:
    from tests.marketplace.certification_fixtures import certify_on_request

    body = make_body()
    draft = AgentVersionFactory.create(state=AgentVersion.State.DRAFT)
    certificate = certify_on_request(body, make_scheme(body), draft)
    page = client.get("/certificates/verify/", {"serial": certificate.serial})
    assert page.status_code == 200
    html = page.content.decode()
    assert draft.agent.identifier not in html
    assert draft.declaration_digest not in html
