"""The certification services: who may issue, the certificate's life through the
offline verifier, gating of high-tier listings, badges, keys and expiry."""

import json
import threading
from datetime import timedelta
from io import StringIO
from pathlib import Path
from typing import Any
from unittest import mock

import jsonschema
import pytest
from django.core.management import CommandError, call_command
from django.db import close_old_connections, connection
from django.utils import timezone

from config import keys
from marketplace import credentials
from marketplace.exceptions import (
    ApplicationError,
    Conflict,
    InvalidTransition,
    PermissionDenied,
)
from marketplace.models import (
    Agent,
    AgentEvent,
    AgentVersion,
    Badge,
    Certificate,
    CertificationEvent,
    Domain,
    Membership,
    Notification,
)
from marketplace.services import credentials as credential_services
from marketplace.services.certification import (
    accreditation_set_state,
    agent_notify_installers_suspended,
    certificate_expire_due,
    certificate_extend,
    certificate_issue,
    certificate_notify_expiring,
    certificate_reinstate,
    certificate_revoke,
    certificate_suspend,
    certification_request_create,
    certification_request_respond,
    domain_set_requirements,
    scheme_create,
)
from marketplace.services.publishing import version_review, version_run_checks
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
    InstallFactory,
    MembershipFactory,
    UserFactory,
)

VECTORS = Path(__file__).parent / "vectors"
pytestmark = pytest.mark.django_db


def _published_documents() -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """What an outside verifier downloads: the JWKS and both status lists, as
    JSON text read back (nothing of the database travels with them)."""
    jwks = json.loads(json.dumps(credential_services.jwks()))
    lists = [json.loads(json.dumps(credential_services.status_list_document()))]
    return jwks, lists


def _verify(token: str, *, at: Any = None) -> credentials.Verification:
    if at is not None:
        # The verifier fetches the list on the day it checks: the daily job has
        # signed it again by then.
        with mock.patch("django.utils.timezone.now", return_value=at):
            credential_services.status_list_publish()
    jwks, lists = _published_documents()
    return credentials.verify_credential(
        token=token, jwks=jwks, status_lists=lists, now=at or timezone.now()
    )


# --- The life of a certificate, seen by the offline verifier ----------------------


def test_each_state_of_a_certificate_verifies_as_that_state(
    django_capture_on_commit_callbacks: Any,
) -> None:
    body = make_body()
    scheme = make_scheme(body)
    certificate = make_certificate(body, scheme, level="enhanced")
    token = certificate.credential

    assert _verify(token).status == "valid"

    certificate_suspend(actor=body.assessor, certificate=certificate, reason="Audit")
    assert _verify(token).status == "suspended"

    certificate_reinstate(actor=body.assessor, certificate=certificate)
    assert _verify(token).status == "valid"

    later = certificate.valid_until + timedelta(seconds=1)
    assert certificate_expire_due(now=later) == 1
    certificate.refresh_from_db()
    assert certificate.state == Certificate.State.EXPIRED
    assert _verify(token, at=later).status == "expired"

    other = make_certificate(body, scheme)
    certificate_revoke(actor=body.owner, certificate=other, reason="Key leaked")
    assert _verify(other.credential).status == "revoked"
    # A revocation does not touch another certificate's bit.
    assert _verify(token).status == "valid"


def test_the_command_verifies_with_only_downloaded_files(tmp_path: Path) -> None:
    body = make_body()
    scheme = make_scheme(body)
    certificate = make_certificate(body, scheme)
    certificate_revoke(actor=body.owner, certificate=certificate, reason="Wrong lab")
    jwks, lists = _published_documents()
    (tmp_path / "cert.jwt").write_text(certificate.credential)
    (tmp_path / "jwks.json").write_text(json.dumps(jwks))
    (tmp_path / "status-list.json").write_text(json.dumps(lists[0]))
    out = StringIO()
    with pytest.raises(SystemExit) as exit_info:
        call_command(
            "verify_credential",
            str(tmp_path / "cert.jwt"),
            "--jwks",
            str(tmp_path / "jwks.json"),
            "--status-list",
            str(tmp_path / "status-list.json"),
            "--json",
            stdout=out,
        )
    assert exit_info.value.code == 1
    assert json.loads(out.getvalue())["status"] == "revoked"


def test_one_altered_byte_of_the_payload_fails_verification() -> None:
    body = make_body()
    certificate = make_certificate(body, make_scheme(body))
    header, payload, signature = certificate.credential.split(".")
    data = bytearray(keys.b64url_decode(payload))
    position = data.index(b'"level') if b'"level' in data else len(data) // 2
    data[position + 1] ^= 0x01
    forged = f"{header}.{keys.b64url(bytes(data))}.{signature}"
    result = _verify(forged)
    assert result.status == "invalid"
    assert _verify(certificate.credential).status == "valid"


def test_an_issued_credential_is_an_open_badges_achievement_credential() -> None:
    body = make_body()
    certificate = make_certificate(body, make_scheme(body))
    payload = json.loads(keys.b64url_decode(certificate.credential.split(".")[1]))
    schema = json.loads(
        (VECTORS / "ob_v3p0_achievementcredential_schema.json").read_text()
    )
    jsonschema.Draft201909Validator(schema).validate(payload)
    assert (
        payload["credentialSubject"]["achievement"]["achievementType"]
        == "Certification"
    )
    identifiers = payload["credentialSubject"]["identifier"]
    assert {
        "type": "IdentityObject",
        "hashed": False,
        "identityHash": f"sha256${certificate.version.declaration_digest}",
        "identityType": "ext:AgentVersionDigest",
    } in identifiers
    assert payload["credentialSubject"]["id"] == certificate.agent.identifier
    header = json.loads(keys.b64url_decode(certificate.credential.split(".")[0]))
    assert header == {"alg": "EdDSA", "kid": certificate.kid, "typ": "JWT"}
    assert certificate.kid in {key["kid"] for key in credential_services.jwks()["keys"]}


def test_a_rotated_key_stays_published_and_what_it_signed_still_verifies() -> None:
    body = make_body()
    scheme = make_scheme(body)
    first = make_certificate(body, scheme)
    credential_services.issuer_key_rotate(organization=body.organization)
    second = make_certificate(body, scheme)
    assert first.kid != second.kid
    published = {key["kid"] for key in credential_services.jwks()["keys"]}
    assert {first.kid, second.kid} <= published
    assert _verify(first.credential).status == "valid"
    assert _verify(second.credential).status == "valid"


def test_private_keys_are_stored_sealed() -> None:
    body = make_body()
    certificate = make_certificate(body, make_scheme(body))
    stored = body.organization.issuer_keys.get(kid=certificate.kid)
    seed = keys.unseal(stored.private_key)
    assert len(seed) == 32
    assert keys.b64url(seed) not in stored.private_key


# --- Who may issue -------------------------------------------------------------------


def test_a_body_without_accreditation_cannot_issue() -> None:
    operator = make_operator()
    body = make_body(accredited=("security",), operator=operator)
    scheme = make_scheme(body)
    accreditation = body.organization.accreditations.get(dimension="security")
    accreditation_set_state(
        actor=operator, accreditation=accreditation, state="suspended", reason="Audit"
    )
    with pytest.raises(PermissionDenied) as denied:
        make_certificate(body, scheme)
    assert denied.value.code == "not_accredited"
    assert not Certificate.objects.exists()

    unaccredited = make_body(accredited=())
    with pytest.raises(PermissionDenied):
        scheme_create(
            actor=unaccredited.owner,
            body=unaccredited.organization,
            code="privacy-basic",
            name_en="Privacy",
            name_zh="隐私",
            dimension="privacy",
            levels=LEVELS,
            criteria_en="Criteria",
        )


def test_suspending_an_accreditation_leaves_issued_certificates_valid() -> None:
    operator = make_operator()
    body = make_body(operator=operator)
    certificate = make_certificate(body, make_scheme(body))
    accreditation_set_state(
        actor=operator,
        accreditation=body.organization.accreditations.get(),
        state="suspended",
        reason="Audit",
    )
    assert _verify(certificate.credential).status == "valid"


def test_a_member_without_an_issuing_role_cannot_issue() -> None:
    body = make_body()
    scheme = make_scheme(body)
    version = make_version()
    for user in (body.member, UserFactory.create()):
        with pytest.raises(PermissionDenied):
            certificate_issue(
                actor=user,
                version=version,
                scheme=scheme,
                level="basic",
                assessor="Li Wei",
                report_url="https://lab.example.com/r.pdf",
            )
    assert not Certificate.objects.exists()


def test_a_body_cannot_certify_its_own_organisations_agents() -> None:
    body = make_body()
    scheme = make_scheme(body)
    version = make_version()
    # The assessor also works for the agent's publisher.
    MembershipFactory.create(
        user=body.assessor,
        organization=version.agent.publisher,
        role=Membership.Role.MEMBER,
    )
    with pytest.raises(PermissionDenied) as denied:
        make_certificate(body, scheme, version)
    assert denied.value.code == "conflict_of_interest"
    assert not Certificate.objects.exists()


def test_only_owners_and_administrators_define_schemes() -> None:
    body = make_body()
    with pytest.raises(PermissionDenied):
        scheme_create(
            actor=body.assessor,
            body=body.organization,
            code="by-assessor",
            name_en="Security",
            name_zh="安全",
            dimension="security",
            levels=LEVELS,
            criteria_en="Criteria",
        )


@pytest.mark.parametrize(
    "levels",
    [
        [],
        "basic",
        [{"code": "Bad Code", "name_en": "x"}],
        [{"code": "a"}],
        [1, 2],
        [{"code": f"l{i}", "name_en": "x"} for i in range(6)],
    ],
)
def test_malformed_levels_are_refused_with_the_field_named(levels: Any) -> None:
    body = make_body()
    with pytest.raises(ApplicationError) as refused:
        make_scheme(body, levels=levels)
    assert "levels" in refused.value.details


def test_a_version_holds_one_live_certificate_per_scheme() -> None:
    body = make_body()
    scheme = make_scheme(body)
    certificate = make_certificate(body, scheme)
    with pytest.raises(Conflict):
        make_certificate(body, scheme, certificate.version)
    certificate_revoke(actor=body.owner, certificate=certificate, reason="Re-test")
    again = make_certificate(body, scheme, certificate.version, level="advanced")
    assert again.state == Certificate.State.VALID


def test_transitions_outside_the_table_are_refused() -> None:
    body = make_body()
    certificate = make_certificate(body, make_scheme(body))
    with pytest.raises(InvalidTransition):
        certificate_reinstate(actor=body.owner, certificate=certificate)
    certificate_revoke(actor=body.owner, certificate=certificate, reason="x")
    with pytest.raises(InvalidTransition):
        certificate_suspend(actor=body.owner, certificate=certificate, reason="x")
    actions = list(
        CertificationEvent.objects.filter(certificate=certificate).values_list(
            "action", flat=True
        )
    )
    assert sorted(actions) == ["issued", "revoked"]


def test_a_report_is_required_and_must_be_https() -> None:
    body = make_body()
    scheme = make_scheme(body)
    with pytest.raises(ApplicationError) as refused:
        make_certificate(body, scheme, report_url="")
    assert "report" in refused.value.details
    with pytest.raises(ApplicationError) as refused:
        make_certificate(body, scheme, report_url="http://lab.example.com/r.pdf")
    assert "report_url" in refused.value.details


# --- Requests --------------------------------------------------------------------


def test_a_request_runs_from_publisher_to_body_and_becomes_issued() -> None:
    body = make_body()
    scheme = make_scheme(body)
    version = make_version(state=AgentVersion.State.DRAFT)
    publisher_member = UserFactory.create()
    MembershipFactory.create(
        user=publisher_member,
        organization=version.agent.publisher,
        role=Membership.Role.MEMBER,
    )
    with pytest.raises(PermissionDenied):
        certification_request_create(
            actor=body.assessor, version=version, scheme=scheme, level="basic"
        )
    request = certification_request_create(
        actor=publisher_member, version=version, scheme=scheme, level="basic"
    )
    with pytest.raises(Conflict):
        certification_request_create(
            actor=publisher_member, version=version, scheme=scheme, level="basic"
        )
    with pytest.raises(PermissionDenied):
        certification_request_respond(
            actor=publisher_member, request=request, accept=True
        )
    with pytest.raises(ApplicationError):
        certification_request_respond(
            actor=body.assessor, request=request, accept=False
        )
    certification_request_respond(actor=body.assessor, request=request, accept=True)
    certificate = make_certificate(body, scheme, version, request=request)
    request.refresh_from_db()
    assert request.state == "issued"
    assert certificate.request == request
    history = request.events.filter(certificate=None).order_by("pk")
    assert list(history.values_list("to_state", flat=True)) == [
        "requested",
        "accepted",
        "issued",
    ]


# --- Gating of high-tier listings -----------------------------------------------------


def _high_tier_domain(scheme: Any) -> Domain:
    domain = DomainFactory.create(
        code="medical", name_en="Medical", name_zh="医疗", risk_tier="high"
    )
    domain_set_requirements(
        actor=make_operator(), domain=domain, schemes=[scheme], dimensions=[]
    )
    return domain


def test_a_high_tier_version_without_the_required_certificate_fails_the_checks() -> (
    None
):
    body = make_body()
    scheme = make_scheme(body, code="sec-medical")
    domain = _high_tier_domain(scheme)
    version = AgentVersionFactory.create(
        state=AgentVersion.State.SUBMITTED,
        agent__domain=domain,
        agent__filing_number="MED-2026-001",
    )
    assert version_run_checks(version_id=version.pk) == AgentVersion.State.REJECTED
    failed = version.checks.get(name="required_certificates")
    assert not failed.passed
    assert "sec-medical" in failed.reason_text
    assert "medical" in failed.reason_text


def test_a_high_tier_version_with_the_certificate_passes_and_without_filing_fails() -> (
    None
):
    body = make_body()
    scheme = make_scheme(body, code="sec-medical")
    domain = _high_tier_domain(scheme)
    version = AgentVersionFactory.create(
        state=AgentVersion.State.DRAFT,
        agent__domain=domain,
        agent__filing_number="MED-2026-001",
    )
    certify_on_request(body, scheme, version)
    AgentVersion.objects.filter(pk=version.pk).update(
        state=AgentVersion.State.SUBMITTED
    )
    assert version_run_checks(version_id=version.pk) == AgentVersion.State.IN_REVIEW

    unfiled = AgentVersionFactory.create(
        state=AgentVersion.State.DRAFT, agent__domain=domain, agent__filing_number=""
    )
    certify_on_request(body, scheme, unfiled)
    AgentVersion.objects.filter(pk=unfiled.pk).update(
        state=AgentVersion.State.SUBMITTED
    )
    assert version_run_checks(version_id=unfiled.pk) == AgentVersion.State.REJECTED
    assert not unfiled.checks.get(name="filing_number").passed


def test_a_certificate_of_another_declaration_does_not_count() -> None:
    body = make_body()
    scheme = make_scheme(body, code="sec-medical")
    domain = _high_tier_domain(scheme)
    version = AgentVersionFactory.create(
        state=AgentVersion.State.DRAFT,
        agent__domain=domain,
        agent__filing_number="MED-2026-001",
    )
    certify_on_request(body, scheme, version)
    # The draft changed after it was certified.
    AgentVersion.objects.filter(pk=version.pk).update(
        declaration_digest="0" * 64, state=AgentVersion.State.SUBMITTED
    )
    assert version_run_checks(version_id=version.pk) == AgentVersion.State.REJECTED


def test_approval_is_refused_when_the_certificate_was_revoked_meanwhile() -> None:
    body = make_body()
    scheme = make_scheme(body, code="sec-medical")
    domain = _high_tier_domain(scheme)
    version = AgentVersionFactory.create(
        state=AgentVersion.State.DRAFT,
        agent__domain=domain,
        agent__filing_number="MED-2026-001",
    )
    certificate = certify_on_request(body, scheme, version)
    AgentVersion.objects.filter(pk=version.pk).update(
        state=AgentVersion.State.IN_REVIEW
    )
    certificate_revoke(actor=body.owner, certificate=certificate, reason="x")
    reviewer = UserFactory.create()
    from marketplace.models import Organization

    MembershipFactory.create(
        user=reviewer,
        organization=Organization.objects.get(kind="operator"),
        role=Membership.Role.REVIEWER,
    )
    with pytest.raises(ApplicationError) as refused:
        version_review(actor=reviewer, version=version, verdict="approve")
    assert refused.value.code == "certificates_missing"
    version.refresh_from_db()
    assert version.state == AgentVersion.State.IN_REVIEW


def test_revoking_a_required_certificate_suspends_the_listing_and_tells_installers(
    django_capture_on_commit_callbacks: Any,
) -> None:
    body = make_body()
    scheme = make_scheme(body, code="sec-medical")
    domain = _high_tier_domain(scheme)
    version = AgentVersionFactory.create(
        state=AgentVersion.State.PUBLISHED,
        agent__domain=domain,
        agent__filing_number="MED-2026-001",
    )
    agent = version.agent
    certificate = make_certificate(body, scheme, version)
    installs = InstallFactory.create_batch(3, agent=agent, version=version)
    with django_capture_on_commit_callbacks() as callbacks:
        certificate_revoke(actor=body.owner, certificate=certificate, reason="Breach")
    assert callbacks  # the installers are told in a task, once this commits
    # What the task does:
    assert (
        agent_notify_installers_suspended(agent_id=agent.pk, serial=certificate.serial)
        == 3
    )
    agent.refresh_from_db()
    assert agent.status == Agent.Status.QUARANTINED
    assert not agent.is_listed
    event = AgentEvent.objects.get(agent=agent, action="suspended_certificate_revoked")
    assert event.payload["serial"] == certificate.serial
    told = Notification.objects.filter(kind=Notification.Kind.LISTING_SUSPENDED)
    assert {install.user_id for install in installs} <= set(
        told.values_list("user_id", flat=True)
    )
    # Running the fan-out again tells nobody twice.
    assert (
        agent_notify_installers_suspended(agent_id=agent.pk, serial=certificate.serial)
        == 0
    )


def test_revoking_a_certificate_the_domain_does_not_require_leaves_the_listing() -> (
    None
):
    body = make_body()
    certificate = make_certificate(body, make_scheme(body))
    certificate_revoke(actor=body.owner, certificate=certificate, reason="x")
    certificate.agent.refresh_from_db()
    assert certificate.agent.status == Agent.Status.ACTIVE


# --- Versions, badges, expiry --------------------------------------------------------


def test_a_new_version_inherits_nothing_unless_the_body_extends_it() -> None:
    body = make_body()
    scheme = make_scheme(body)
    certificate = make_certificate(body, scheme)
    agent = certificate.agent
    badge = Badge.objects.get(agent=agent, scheme=scheme)
    assert badge.state == "valid"
    assert badge.gained_at is not None

    newer = AgentVersionFactory.create(agent=agent, state=AgentVersion.State.DRAFT)
    from marketplace.services.publishing import version_transition

    AgentVersion.objects.filter(pk=newer.pk).update(state=AgentVersion.State.IN_REVIEW)
    newer.refresh_from_db()
    version_transition(version=newer, to="published", actor=None, action="published")
    badge.refresh_from_db()
    assert badge.state == "none"
    assert badge.lost_at is not None

    extended = certificate_extend(
        actor=body.assessor, certificate=certificate, version=newer
    )
    assert extended.version == newer
    assert extended.extends == certificate
    assert extended.valid_until == certificate.valid_until
    assert extended.digest == newer.declaration_digest
    badge.refresh_from_db()
    assert badge.state == "valid"
    assert list(badge.events.order_by("pk").values_list("to_state", flat=True)) == [
        "valid",
        "none",
        "valid",
    ]


def test_publishers_hear_of_expiry_once_thirty_days_before(settings: Any) -> None:
    settings.CERTIFICATE_EXPIRY_NOTICE_DAYS = 30
    body = make_body()
    scheme = make_scheme(body, validity_days=20)
    certificate = make_certificate(body, scheme)
    owner = UserFactory.create()
    MembershipFactory.create(
        user=owner, organization=certificate.agent.publisher, role=Membership.Role.OWNER
    )
    far = make_certificate(body, make_scheme(body, code="far", validity_days=90))
    assert certificate_notify_expiring() == 1
    assert certificate_notify_expiring() == 0
    notes = Notification.objects.filter(
        user=owner, kind=Notification.Kind.CERTIFICATE_EXPIRING
    )
    assert notes.count() == 1
    assert certificate.serial in notes.get().text
    assert far.serial not in notes.get().text


def test_the_expiry_job_is_idempotent() -> None:
    body = make_body()
    certificate = make_certificate(body, make_scheme(body))
    later = certificate.valid_until + timedelta(days=1)
    assert certificate_expire_due(now=later) == 1
    assert certificate_expire_due(now=later) == 0
    assert Badge.objects.get(agent=certificate.agent).state == "expired"


# --- The status list under concurrency ------------------------------------------------

needs_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="needs row locks between connections: runs under make test-services",
)


@needs_postgresql
@pytest.mark.django_db(transaction=True)
def test_two_revocations_at_once_both_reach_the_status_list() -> None:
    body = make_body()
    scheme = make_scheme(body)
    first = make_certificate(body, scheme)
    second = make_certificate(body, scheme)
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def revoke(certificate: Certificate) -> None:
        try:
            barrier.wait(timeout=10)
            certificate_revoke(actor=body.owner, certificate=certificate, reason="x")
        except BaseException as error:
            errors.append(error)
        finally:
            close_old_connections()

    threads = [threading.Thread(target=revoke, args=(c,)) for c in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors
    assert _verify(first.credential).status == "revoked"
    assert _verify(second.credential).status == "revoked"


# --- What the review of the first version found ------------------------------------


def test_reinstating_needs_independence_and_an_active_accreditation() -> None:
    operator = make_operator()
    body = make_body(operator=operator)
    certificate = make_certificate(body, make_scheme(body))
    certificate_suspend(actor=body.assessor, certificate=certificate, reason="Audit")
    MembershipFactory.create(
        user=body.assessor,
        organization=certificate.agent.publisher,
        role=Membership.Role.OWNER,
    )
    with pytest.raises(PermissionDenied) as denied:
        certificate_reinstate(actor=body.assessor, certificate=certificate)
    assert denied.value.code == "conflict_of_interest"
    accreditation_set_state(
        actor=operator,
        accreditation=body.organization.accreditations.get(),
        state="suspended",
        reason="Audit",
    )
    with pytest.raises(PermissionDenied) as denied:
        certificate_reinstate(actor=body.owner, certificate=certificate)
    assert denied.value.code == "not_accredited"
    certificate.refresh_from_db()
    assert certificate.state == Certificate.State.SUSPENDED


def test_an_unpublished_version_is_certified_only_on_request() -> None:
    body = make_body()
    scheme = make_scheme(body)
    draft = make_version(state=AgentVersion.State.DRAFT)
    with pytest.raises(ApplicationError) as refused:
        make_certificate(body, scheme, draft)
    assert refused.value.code == "version_not_published"
    assert certify_on_request(body, scheme, draft).state == Certificate.State.VALID


def test_a_certificate_extends_only_to_a_later_version() -> None:
    body = make_body()
    scheme = make_scheme(body)
    older = make_version()
    newer = AgentVersionFactory.create(
        agent=older.agent, state=AgentVersion.State.PUBLISHED
    )
    certificate = make_certificate(body, scheme, newer)
    with pytest.raises(ApplicationError) as refused:
        certificate_extend(actor=body.assessor, certificate=certificate, version=older)
    assert refused.value.code == "extend_mismatch"


def test_revoking_a_certificate_revokes_what_was_extended_from_it() -> None:
    body = make_body()
    scheme = make_scheme(body)
    first = make_version()
    second = AgentVersionFactory.create(
        agent=first.agent, state=AgentVersion.State.PUBLISHED
    )
    original = make_certificate(body, scheme, first)
    extension = certificate_extend(
        actor=body.assessor, certificate=original, version=second
    )
    certificate_revoke(actor=body.owner, certificate=original, reason="Forged report")
    extension.refresh_from_db()
    assert extension.state == Certificate.State.REVOKED
    assert original.serial in extension.state_reason
    assert _verify(extension.credential).status == "revoked"


def test_a_suspended_certificate_expires_and_frees_its_version() -> None:
    body = make_body()
    scheme = make_scheme(body)
    certificate = make_certificate(body, scheme)
    certificate_suspend(actor=body.assessor, certificate=certificate, reason="Audit")
    later = certificate.valid_until + timedelta(seconds=1)
    assert certificate_expire_due(now=later) == 1
    certificate.refresh_from_db()
    assert certificate.state == Certificate.State.EXPIRED
    # Its entry in the status list cleared: the verifier says expired.
    assert _verify(certificate.credential, at=later).status == "expired"
    again = make_certificate(body, scheme, certificate.version)
    assert again.state == Certificate.State.VALID


def test_a_refused_issue_leaves_no_report_file(tmp_path: Path, settings: Any) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    settings.MEDIA_ROOT = str(tmp_path)
    body = make_body()
    scheme = make_scheme(body)
    certificate = make_certificate(body, scheme)
    report = SimpleUploadedFile(
        "report.pdf", b"%PDF-1.7 test report", "application/pdf"
    )
    with pytest.raises(Conflict):
        make_certificate(
            body, scheme, certificate.version, report_url="", report_file=report
        )
    stored = (
        list((tmp_path / "certificates").rglob("*"))
        if (tmp_path / "certificates").exists()
        else []
    )
    assert [p for p in stored if p.is_file()] == []


def test_the_daily_job_signs_the_status_list_again_before_it_lapses() -> None:
    from marketplace.tasks import certificate_status_list_refresh

    body = make_body()
    certificate = make_certificate(body, make_scheme(body))
    first = credential_services.status_list_document()
    tomorrow = timezone.now() + timedelta(days=1)
    with mock.patch("django.utils.timezone.now", return_value=tomorrow):
        certificate_status_list_refresh()
    second = credential_services.status_list_document()
    assert str(second["validUntil"]) > str(first["validUntil"])
    # Eight days on, only the re-signed list still speaks for the certificate.
    at = timezone.now() + timedelta(days=7, hours=12)
    jwks = credential_services.jwks()
    stale = credentials.verify_credential(
        token=certificate.credential, jwks=jwks, status_lists=[first], now=at
    )
    fresh = credentials.verify_credential(
        token=certificate.credential, jwks=jwks, status_lists=[second], now=at
    )
    assert stale.status == "unknown"
    assert fresh.status == "valid"


def test_the_rotation_command_retires_the_key_and_keeps_it_published() -> None:
    body = make_body()
    first = make_certificate(body, make_scheme(body))
    out = StringIO()
    call_command("rotate_issuer_key", body.organization.slug, stdout=out)
    second = make_certificate(body, make_scheme(body, code="other"))
    assert second.kid in out.getvalue()
    assert first.kid != second.kid
    assert body.organization.issuer_keys.get(kid=first.kid).retired_at is not None
    assert _verify(first.credential).status == "valid"
    with pytest.raises(CommandError):
        call_command("rotate_issuer_key", "no-such-body")


def test_a_report_url_beside_a_file_must_be_https_too() -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    body = make_body()
    report = SimpleUploadedFile("report.pdf", b"%PDF-1.7 report", "application/pdf")
    with pytest.raises(ApplicationError) as refused:
        make_certificate(
            body,
            make_scheme(body),
            report_url="javascript:alert(1)",
            report_file=report,
        )
    assert "report_url" in refused.value.details
    assert not Certificate.objects.exists()


def test_an_extension_keeps_the_originals_report_file(
    tmp_path: Path, settings: Any
) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    settings.MEDIA_ROOT = str(tmp_path)
    settings.SITE_SCHEME = "http"  # the site's own report address is not https here
    body = make_body()
    scheme = make_scheme(body)
    first = make_version()
    second = AgentVersionFactory.create(
        agent=first.agent, state=AgentVersion.State.PUBLISHED
    )
    report = SimpleUploadedFile("report.pdf", b"%PDF-1.7 report", "application/pdf")
    original = make_certificate(body, scheme, first, report_url="", report_file=report)
    extension = certificate_extend(
        actor=body.assessor, certificate=original, version=second
    )
    assert extension.report_file.name == original.report_file.name
    assert extension.report_sha256 == original.report_sha256
    assert extension.report_file.read() == b"%PDF-1.7 report"


@pytest.mark.parametrize("url", ["http://plain.example/", "ftp://files.example/"])
def test_a_trusted_issuers_platform_address_is_https(url: str) -> None:
    from marketplace.services.recognition import trusted_issuer_add

    with pytest.raises(ApplicationError) as refused:
        trusted_issuer_add(
            actor=make_operator(),
            name="Other registry",
            issuer_id="https://registry.example/issuer",
            public_key=keys.b64url(bytes(32)),
            platform_url=url,
        )
    assert "platform_url" in refused.value.details
