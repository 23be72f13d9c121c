from collections import Counter
from datetime import timedelta

import pytest
from django.db.models import Model
from django.utils import timezone

from marketplace import credentials
from marketplace.demo import certification as demo
from marketplace.demo import load_catalogue
from marketplace.demo.certification import load_certification
from marketplace.exceptions import PermissionDenied
from marketplace.models import (
    Accreditation,
    Agent,
    AgentVersion,
    Badge,
    BadgeEvent,
    Certificate,
    CertificationEvent,
    CertificationRequest,
    Domain,
    ImportedCredential,
    Membership,
    Notification,
    Organization,
    Scheme,
    StatusList,
    TrustedIssuer,
    User,
)
from marketplace.selectors.certification import missing_requirements
from marketplace.selectors.search import listed_agents
from marketplace.services import agents as agent_services
from marketplace.services import publishing
from marketplace.services.credentials import jwks, status_list_document
from tests.marketplace.factories import (
    MembershipFactory,
    OrganizationFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

Role = Membership.Role
CertState = Certificate.State
RequestState = CertificationRequest.State


def _people() -> tuple[User, User, User]:
    """The operator, a publishers' owner and a reviewer, and the two demo bodies
    with their staff, as the demo_data command makes them."""
    operator_org = OrganizationFactory.create(kind=Organization.Kind.OPERATOR)
    operator = MembershipFactory.create(organization=operator_org, role=Role.OWNER)
    reviewer = MembershipFactory.create(organization=operator_org, role=Role.REVIEWER)
    for spec in demo.BODIES:
        body = OrganizationFactory.create(
            slug=spec.slug, kind=Organization.Kind.CERTIFICATION_BODY
        )
        MembershipFactory.create(organization=body, role=Role.OWNER)
    MembershipFactory.create(
        organization=Organization.objects.get(slug=demo.TRUSTLAB.slug),
        role=Role.ASSESSOR,
    )
    return operator.user, UserFactory.create(), reviewer.user


def _demo_store(agents_per_publisher: int = 2) -> tuple[User, User, User]:
    operator, owner, reviewer = _people()
    load_catalogue(
        owner=owner, reviewer=reviewer, agents_per_publisher=agents_per_publisher
    )
    return operator, owner, reviewer


def _row_counts() -> dict[str, int]:
    models: list[type[Model]] = [
        Accreditation,
        Scheme,
        Certificate,
        CertificationRequest,
        CertificationEvent,
        Badge,
        BadgeEvent,
        StatusList,
        TrustedIssuer,
        ImportedCredential,
        Notification,
        Agent,
        AgentVersion,
    ]
    return {model.__name__: model._default_manager.count() for model in models}


def test_the_demo_certification_covers_every_state() -> None:
    # given
    operator, _owner, _reviewer = _demo_store()

    # when
    created = load_certification(operator=operator)

    # then two bodies accredited, one accreditation suspended with a reason
    accreditations = {
        (a.body.slug, a.dimension): a for a in Accreditation.objects.all()
    }
    assert set(accreditations) == {
        (spec.slug, dimension) for spec in demo.BODIES for dimension in spec.dimensions
    }
    suspended = [a for a in accreditations.values() if a.state != "active"]
    assert [(a.body.slug, a.dimension, a.state) for a in suspended] == [
        ("cnas-ai-lab", "performance", Accreditation.State.SUSPENDED)
    ]
    assert suspended[0].reason
    # ... five schemes in both languages with three levels
    schemes = Scheme.objects.all()
    assert {s.code for s in schemes} == {spec.code for spec in demo.SCHEMES}
    for scheme in schemes:
        assert scheme.name_zh
        assert scheme.criteria_zh
        assert scheme.level_codes == ["basic", "enhanced", "advanced"]
    # ... certificates in every state, at every level, each with a report
    certificates = Certificate.objects.select_related("scheme", "body")
    states = Counter(c.state for c in certificates)
    assert states[CertState.VALID] >= 30
    assert states[CertState.SUSPENDED] >= 2
    assert states[CertState.REVOKED] >= 2
    assert states[CertState.EXPIRED] >= 2
    assert {c.level for c in certificates if c.state == CertState.VALID} == {
        "basic",
        "enhanced",
        "advanced",
    }
    for certificate in certificates:
        assert certificate.report_url.startswith(
            f"https://{certificate.body.slug}.example.com/reports/"
        )
        assert certificate.report_url.endswith(".pdf")
        if certificate.state in (CertState.SUSPENDED, CertState.REVOKED):
            assert certificate.state_reason
    # ... the expiry job expired only the certificates issued to end at once
    expired = [c for c in certificates if c.state == CertState.EXPIRED]
    assert len(expired) == sum(1 for e in demo.EXTRAS if e.fate == "expired")
    for certificate in expired:
        assert certificate.valid_until <= certificate.created_at + timedelta(minutes=2)
    now = timezone.now()
    soon = [
        c
        for c in certificates
        if c.state == CertState.VALID and c.valid_until <= now + timedelta(days=30)
    ]
    assert len(soon) == sum(1 for e in demo.EXTRAS if e.fate == "expiring")
    assert all(c.valid_until > now + timedelta(days=9) for c in soon)
    # ... the status list says which are suspended and revoked
    status_list = status_list_document()
    for state in (CertState.SUSPENDED, CertState.REVOKED, CertState.VALID):
        certificate = next(c for c in certificates if c.state == state)
        verification = credentials.verify_credential(
            token=certificate.credential,
            jwks=jwks(),
            status_lists=[status_list],
            now=now,
        )
        assert verification.status == state
    # ... requests in every state but withdrawn, with reasons where they are due
    requests = Counter(CertificationRequest.objects.values_list("state", flat=True))
    assert set(requests) == {
        RequestState.REQUESTED,
        RequestState.ACCEPTED,
        RequestState.DECLINED,
        RequestState.REFUSED,
        RequestState.ISSUED,
    }
    for answer in (RequestState.DECLINED, RequestState.REFUSED):
        event = CertificationEvent.objects.get(to_state=answer)
        assert event.reason
    assert (
        Certificate.objects.filter(request__state=RequestState.ISSUED).count()
        == (requests[RequestState.ISSUED])
    )
    # ... a trusted issuer and a credential imported from it
    issuer = TrustedIssuer.objects.get()
    assert issuer.name == demo.REGISTRY_NAME
    assert issuer.public_key == demo.registry_public_key()
    imported = ImportedCredential.objects.select_related("agent").get()
    assert imported.issuer == issuer
    assert imported.achievement == "EU AI Act transparency label"
    assert imported.valid_until is not None
    assert imported.valid_until > now
    # ... and every row counted
    assert created == (
        Accreditation.objects.count()
        + Scheme.objects.count()
        + Certificate.objects.count()
        + CertificationRequest.objects.count()
        + 2  # the trusted issuer and the imported credential
    )


def test_every_listed_high_tier_agent_holds_its_required_certificates() -> None:
    # given
    operator, _owner, _reviewer = _demo_store()

    # when
    load_certification(operator=operator)

    # then the high-tier domains require the security scheme, medicine also its
    # compliance scheme
    for domain in Domain.objects.all():
        required = set(domain.required_schemes.values_list("code", flat=True))
        if domain.risk_tier != Domain.RiskTier.HIGH:
            assert not required
        elif domain.code == "medical":
            assert required == {"agent-security", "medical-ai-compliance"}
        else:
            assert required == {"agent-security"}
    # ... which every listed agent of those domains holds, and no listing was
    # quarantined
    high = [
        agent
        for agent in listed_agents()
        if agent.domain.risk_tier == Domain.RiskTier.HIGH
    ]
    assert len(high) >= 20
    assert not Agent.objects.filter(status=Agent.Status.QUARANTINED).exists()
    assert listed_agents().count() == Agent.objects.count()
    for agent in high:
        assert agent.latest_version is not None
        assert missing_requirements(version=agent.latest_version) == []
    # ... the suspended, revoked and expired certificates are of schemes nobody
    # requires
    required = set(
        Domain.required_schemes.through.objects.values_list("scheme_id", flat=True)
    )
    lost = Certificate.objects.exclude(state=CertState.VALID)
    assert lost.exists()
    assert not lost.filter(scheme_id__in=required).exists()


def test_loading_the_demo_certification_again_creates_nothing() -> None:
    # given
    operator, _owner, _reviewer = _demo_store(agents_per_publisher=1)
    load_certification(operator=operator)
    before = _row_counts()

    # when
    created = load_certification(operator=operator)

    # then
    assert created == 0
    assert _row_counts() == before


def test_the_demo_extends_a_certificate_to_an_agents_second_version() -> None:
    # given an agent of a low-tier domain with a second published version
    operator, owner, reviewer = _demo_store(agents_per_publisher=1)
    agent = (
        listed_agents()
        .filter(domain__risk_tier=Domain.RiskTier.LOW)
        .order_by("pk")
        .first()
    )
    assert agent is not None
    assert agent.latest_version is not None
    first = agent.latest_version
    second = agent_services.version_create(
        actor=owner,
        agent=agent,
        version="1.1.0",
        declaration=first.declaration,
        changelog="Faster replies.",
    )
    publishing.version_submit(actor=owner, version=second)
    publishing.version_run_checks(version_id=second.pk)
    publishing.version_review(actor=reviewer, version=second, verdict="approve")

    # when
    load_certification(operator=operator)

    # then the certificate of the first version carries over to the second
    extension = Certificate.objects.get(extends__isnull=False)
    assert extension.version == second
    assert extension.extends is not None
    assert extension.extends.version == first
    assert extension.valid_until == extension.extends.valid_until
    assert extension.scheme.code == demo.FUNCTION


def test_the_demo_certification_needs_the_demo_bodies() -> None:
    # given no certification bodies
    operator = UserFactory.create(is_staff=True)

    # when / then
    with pytest.raises(RuntimeError, match="trustlab-cert, cnas-ai-lab"):
        load_certification(operator=operator)
    assert not Scheme.objects.exists()


def test_the_demo_certification_is_loaded_by_the_operator_only() -> None:
    # given
    _operator, owner, _reviewer = _demo_store(agents_per_publisher=1)

    # when / then nothing is left half done
    with pytest.raises(PermissionDenied):
        load_certification(operator=owner)
    assert not Accreditation.objects.exists()
    assert not Certificate.objects.exists()


def test_the_registry_key_is_the_same_in_every_demo_store() -> None:
    # given / when
    public_key = demo.registry_public_key()

    # then
    assert public_key == demo.registry_public_key()
    assert len(public_key) == 43  # 32 bytes in base64url
    assert demo.REGISTRY_ISSUER.startswith("https://")
