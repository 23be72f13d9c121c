"""Reads of certification: what a version holds, what its domain requires,
the lists of the console pages and the public pages."""

from collections.abc import Iterable
from datetime import datetime

from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ValidationError
from django.db.models import Count, Exists, OuterRef, Prefetch, Q, QuerySet
from django.utils import timezone

from marketplace.models import (
    Accreditation,
    Agent,
    AgentVersion,
    Badge,
    Certificate,
    CertificationEvent,
    CertificationRequest,
    Domain,
    ImportedCredential,
    Membership,
    Organization,
    Scheme,
    TrustedIssuer,
    User,
)

CertState = Certificate.State


def live_certificates(
    *, version: AgentVersion, at: datetime | None = None
) -> QuerySet[Certificate]:
    """The version's certificates that hold now: valid, within their dates,
    bound to the version's current declaration."""
    moment = at or timezone.now()
    return Certificate.objects.filter(
        version=version,
        state=CertState.VALID,
        valid_from__lte=moment,
        valid_until__gt=moment,
        digest=version.declaration_digest,
    )


def missing_requirements(*, version: AgentVersion) -> list[str]:
    """What the version's domain requires and it does not hold: scheme codes, and
    ``dimension:<code>`` for a required dimension with no certificate at all."""
    domain = version.agent.domain
    required = list(domain.required_schemes.order_by("code").values_list("pk", "code"))
    dimensions = list(domain.required_dimensions or [])
    if not required and not dimensions:
        return []
    held = list(
        live_certificates(version=version).values_list("scheme_id", "scheme__dimension")
    )
    held_schemes = {scheme_id for scheme_id, _dimension in held}
    held_dimensions = {dimension for _scheme_id, dimension in held}
    missing = [code for pk, code in required if pk not in held_schemes]
    missing += [f"dimension:{d}" for d in dimensions if d not in held_dimensions]
    return missing


# --- Lists ----------------------------------------------------------------------------

AnyUser = AbstractBaseUser | AnonymousUser


def _certificates(queryset: QuerySet[Certificate]) -> QuerySet[Certificate]:
    return queryset.select_related(
        "scheme", "body", "agent__publisher", "version"
    ).order_by("-created_at", "-pk")


def _published(certificates: QuerySet[Certificate]) -> QuerySet[Certificate]:
    """The certificates of agents published at least once. A quarantined agent
    stays in (its revocations must stay visible); a draft-only agent is its
    publisher's business."""
    return certificates.filter(agent__published_at__isnull=False)


def certificate_list(
    *,
    body: Organization | None = None,
    publisher: Organization | None = None,
    agent: Agent | None = None,
    scheme: Scheme | None = None,
    state: str | None = None,
    public: bool = True,
) -> QuerySet[Certificate]:
    """Certificates, newest first, filtered; certificates are public records, so
    anyone may list them (the pages and the API page them), except those of agents
    never published. ``public=False`` keeps those too, for the console of the body
    that issued them."""
    certificates = Certificate.objects.all()
    if public:
        certificates = _published(certificates)
    if body is not None:
        certificates = certificates.filter(body=body)
    if publisher is not None:
        certificates = certificates.filter(agent__publisher=publisher)
    if agent is not None:
        certificates = certificates.filter(agent=agent)
    if scheme is not None:
        certificates = certificates.filter(scheme=scheme)
    if state:
        certificates = certificates.filter(state=state)
    return _certificates(certificates)


def certificate_get(*, serial: str) -> Certificate | None:
    return _certificates(Certificate.objects.filter(serial=serial)).first()


def certificate_events(*, certificate: Certificate) -> QuerySet[CertificationEvent]:
    """The certificate's history, oldest first (public: actions, states and
    reasons, not who acted)."""
    return CertificationEvent.objects.filter(certificate=certificate).order_by(
        "created_at", "pk"
    )


def agent_certificates(*, agent: Agent) -> QuerySet[Certificate]:
    """The certificates of the agent's latest published version, live first."""
    if agent.latest_version_id is None:
        return Certificate.objects.none()
    return _certificates(Certificate.objects.filter(version_id=agent.latest_version_id))


def agent_badges(*, agent: Agent) -> QuerySet[Badge]:
    return (
        Badge.objects.filter(agent=agent)
        .select_related("scheme")
        .order_by("scheme__code")
    )


def scheme_list(
    *, body: Organization | None = None, active_only: bool = False, public: bool = True
) -> QuerySet[Scheme]:
    """Schemes of accredited bodies (or of ``body``), with how many valid
    certificates each has (of agents published at least once, unless
    ``public=False``)."""
    counted = Q(certificates__state=CertState.VALID)
    if public:
        counted &= Q(certificates__agent__published_at__isnull=False)
    schemes = Scheme.objects.select_related("body").annotate(
        valid_count=Count("certificates", filter=counted)
    )
    if body is not None:
        schemes = schemes.filter(body=body)
    if active_only:
        schemes = schemes.filter(active=True)
    return schemes.order_by("code")


def scheme_get(*, code: str) -> Scheme | None:
    return Scheme.objects.select_related("body").filter(code=code).first()


def schemes_open_for_requests() -> QuerySet[Scheme]:
    """Schemes a publisher can ask for now: open, of a body accredited for the
    scheme's dimension."""
    accredited = Accreditation.objects.filter(
        body=OuterRef("body"),
        dimension=OuterRef("dimension"),
        state=Accreditation.State.ACTIVE,
    )
    return (
        Scheme.objects.filter(active=True)
        .filter(Exists(accredited))
        .select_related("body")
        .order_by("code")
    )


def certification_bodies() -> QuerySet[Organization]:
    """Certification bodies with at least one accreditation, by name."""
    return (
        Organization.objects.filter(kind=Organization.Kind.CERTIFICATION_BODY)
        .filter(accreditations__isnull=False)
        .distinct()
        .order_by("name", "pk")
    )


def accreditations_of(*, body: Organization) -> QuerySet[Accreditation]:
    return Accreditation.objects.filter(body=body).order_by("dimension")


def user_bodies(*, user: AnyUser) -> QuerySet[Organization]:
    """The certification bodies the user belongs to."""
    if not isinstance(user, User):
        return Organization.objects.none()
    return Organization.objects.filter(
        kind=Organization.Kind.CERTIFICATION_BODY, memberships__user=user
    ).order_by("name", "pk")


def _requests(
    queryset: QuerySet[CertificationRequest],
) -> QuerySet[CertificationRequest]:
    return queryset.select_related(
        "scheme__body", "version__agent__publisher", "requested_by"
    ).order_by("-created_at", "-pk")


def request_list_for_user(
    *, user: AnyUser, side: str = "", state: str = ""
) -> QuerySet[CertificationRequest]:
    """The requests the user may see: those to a body they belong to
    (``side="body"``), those of a publisher they belong to (``side="publisher"``),
    or both."""
    if not isinstance(user, User):
        return CertificationRequest.objects.none()
    as_body = Q(scheme__body__memberships__user=user)
    as_publisher = Q(version__agent__publisher__memberships__user=user)
    condition = {"body": as_body, "publisher": as_publisher}.get(
        side, as_body | as_publisher
    )
    ids = CertificationRequest.objects.filter(condition).values("pk")
    requests = CertificationRequest.objects.filter(pk__in=ids)
    if state:
        requests = requests.filter(state=state)
    return _requests(requests)


def request_get(*, public_id: str) -> CertificationRequest | None:
    try:
        return _requests(
            CertificationRequest.objects.filter(public_id=public_id)
        ).first()
    except (ValueError, ValidationError):
        return None


def request_visible_to(*, user: AnyUser, request: CertificationRequest) -> bool:
    """Both sides see a request and its history: the body's members and the
    publisher's."""
    if not isinstance(user, User):
        return False
    return Membership.objects.filter(
        Q(organization_id=request.scheme.body_id)
        | Q(organization_id=request.version.agent.publisher_id),
        user=user,
    ).exists()


def request_events(*, request: CertificationRequest) -> QuerySet[CertificationEvent]:
    return (
        CertificationEvent.objects.filter(request=request)
        .select_related("actor")
        .order_by("created_at", "pk")
    )


def trusted_issuers() -> QuerySet[TrustedIssuer]:
    return TrustedIssuer.objects.filter(revoked_at=None).order_by("name", "kid")


def imported_credentials(*, agent: Agent) -> QuerySet[ImportedCredential]:
    return (
        ImportedCredential.objects.filter(agent=agent, issuer__revoked_at=None)
        .select_related("issuer")
        .order_by("-created_at", "-pk")
    )


# --- Public pages and badges ---------------------------------------------------


def certification_body_get(*, slug: str) -> Organization | None:
    return Organization.objects.filter(
        slug=slug, kind=Organization.Kind.CERTIFICATION_BODY
    ).first()


def scheme_valid_count(*, scheme: Scheme) -> int:
    """How many valid certificates the scheme has, as the public counts them."""
    return _published(
        Certificate.objects.filter(scheme=scheme, state=CertState.VALID)
    ).count()


def agent_badge(
    *, agent: Agent, scheme_code: str
) -> tuple[Scheme | None, Badge | None]:
    """The scheme named ``scheme_code`` and the agent's badge for it (either may
    be missing), in one query when the badge exists."""
    badge = (
        Badge.objects.filter(agent=agent, scheme__code=scheme_code)
        .select_related("scheme")
        .first()
    )
    if badge is not None:
        return badge.scheme, badge
    return Scheme.objects.filter(code=scheme_code).first(), None


# --- Console pages of bodies, publishers and the operator ---------------------------

OPEN_REQUEST_STATES = (
    CertificationRequest.State.REQUESTED,
    CertificationRequest.State.ACCEPTED,
)


def body_memberships(*, user: User) -> QuerySet[Membership]:
    """The user's memberships of certification bodies, with the body."""
    return (
        Membership.objects.filter(
            user=user, organization__kind=Organization.Kind.CERTIFICATION_BODY
        )
        .select_related("organization")
        .order_by("organization__name", "pk")
    )


def request_list_open(*, user: AnyUser, side: str) -> QuerySet[CertificationRequest]:
    """The open (requested or accepted) requests the user sees from ``side``."""
    return request_list_for_user(user=user, side=side).filter(
        state__in=OPEN_REQUEST_STATES
    )


def certificate_list_for_user(
    *, user: AnyUser, side: str, state: str = ""
) -> QuerySet[Certificate]:
    """Certificates issued by the bodies the user belongs to (``side="body"``), or
    held by the agents of the publishers they belong to (``side="publisher"``)."""
    if not isinstance(user, User):
        return Certificate.objects.none()
    if side == "body":
        certificates = Certificate.objects.filter(body__memberships__user=user)
    else:
        certificates = Certificate.objects.filter(
            agent__publisher__memberships__user=user
        )
    if state:
        certificates = certificates.filter(state=state)
    return _certificates(certificates)


def scheme_list_for_user(*, user: AnyUser) -> QuerySet[Scheme]:
    """The schemes of the bodies the user belongs to."""
    if not isinstance(user, User):
        return Scheme.objects.none()
    return (
        scheme_list(public=False)
        .filter(body__memberships__user=user)
        .order_by("body__name", "code")
    )


def agent_requests(
    *, agent: Agent, open_only: bool = False
) -> QuerySet[CertificationRequest]:
    """The requests for versions of the agent (the open ones only, if asked),
    newest first."""
    requests = CertificationRequest.objects.filter(version__agent=agent)
    if open_only:
        requests = requests.filter(state__in=OPEN_REQUEST_STATES)
    return _requests(requests)


def agent_versions_certified(*, agent: Agent) -> QuerySet[AgentVersion]:
    """The agent's versions, newest first, each with its certificates."""
    return (
        AgentVersion.objects.filter(agent=agent)
        .prefetch_related(
            Prefetch(
                "certificates",
                queryset=Certificate.objects.select_related("scheme", "body").order_by(
                    "-created_at", "-pk"
                ),
            )
        )
        .order_by("-created_at", "-pk")
    )


def agent_version_list(
    *, agent: Agent, states: Iterable[str], exclude: AgentVersion | None = None
) -> QuerySet[AgentVersion]:
    """The agent's versions in ``states``, newest first."""
    versions = AgentVersion.objects.filter(agent=agent, state__in=list(states))
    if exclude is not None:
        versions = versions.exclude(pk=exclude.pk)
    return versions.order_by("-created_at", "-pk")


def version_for_certification(
    *, publisher: str, agent: str, version: str
) -> AgentVersion | None:
    """A version by its agent's address and its number, whatever its state (the
    certification services say which states can be certified)."""
    return (
        AgentVersion.objects.select_related("agent__publisher")
        .filter(agent__publisher__slug=publisher, agent__slug=agent, version=version)
        .first()
    )


def accreditation_list() -> QuerySet[Accreditation]:
    return Accreditation.objects.select_related("body").order_by(
        "body__name", "dimension", "pk"
    )


def domain_list_with_requirements() -> QuerySet[Domain]:
    return Domain.objects.prefetch_related(
        Prefetch("required_schemes", queryset=Scheme.objects.order_by("code"))
    ).order_by("code")


# --- The REST API (marketplace/api/certification.py) --------------------------------


def scheme_list_filtered(
    *,
    body: Organization | None = None,
    dimension: str = "",
    active: bool | None = None,
) -> QuerySet[Scheme]:
    """``scheme_list`` narrowed to a dimension and to open (or closed) schemes."""
    schemes = scheme_list(body=body)
    if dimension:
        schemes = schemes.filter(dimension=dimension)
    if active is not None:
        schemes = schemes.filter(active=active)
    return schemes


def scheme_get_counted(*, code: str) -> Scheme | None:
    """The scheme with its count of valid certificates, as in ``scheme_list``."""
    return scheme_list().filter(code=code).first()


def version_certifiable_by(
    *, user: AnyUser, publisher: str, agent: str, version: str
) -> AgentVersion | None:
    """The version if ``user`` may name it for certification (see
    ``_nameable_by``). Other drafts stay unknown."""
    found = version_for_certification(publisher=publisher, agent=agent, version=version)
    if found is None or not isinstance(user, User):
        return None
    if found.state in PUBLIC_VERSION_STATES:
        return found
    nameable = AgentVersion.objects.filter(pk=found.pk).filter(_nameable_by(user))
    return found if nameable.exists() else None


def accreditation_get(*, accreditation_id: int) -> Accreditation | None:
    return (
        Accreditation.objects.select_related("body").filter(pk=accreditation_id).first()
    )


def domain_get(*, code: str) -> Domain | None:
    return Domain.objects.filter(code=code).first()


def schemes_by_code(*, codes: list[str]) -> dict[str, Scheme]:
    return {scheme.code: scheme for scheme in Scheme.objects.filter(code__in=codes)}


def trusted_issuer_get(*, issuer_id: int) -> TrustedIssuer | None:
    return TrustedIssuer.objects.filter(pk=issuer_id).first()


# --- Who may name a version for certification, and extensions -----------------------

PUBLIC_VERSION_STATES = (AgentVersion.State.PUBLISHED, AgentVersion.State.YANKED)


def _nameable_by(user: User) -> Q:
    """The versions ``user`` may name for certification: a public version, any
    version of a publisher they belong to, or one whose publisher asks a body they
    belong to to certify it (an open request: one withdrawn, declined, refused or
    done no longer shows the draft)."""
    member = Membership.objects.filter(
        user=user, organization_id=OuterRef("agent__publisher_id")
    )
    asked = CertificationRequest.objects.filter(
        version_id=OuterRef("pk"),
        state__in=OPEN_REQUEST_STATES,
        scheme__body__memberships__user=user,
    )
    return Q(state__in=PUBLIC_VERSION_STATES) | Q(Exists(member)) | Q(Exists(asked))


def version_list_extendable(
    *, user: AnyUser, certificate: Certificate, states: Iterable[str]
) -> QuerySet[AgentVersion]:
    """The versions ``certificate`` may be extended to, newest first: later
    versions of its agent, in ``states`` (those that can still be certified), that
    ``user`` may name, as the API takes them."""
    if not isinstance(user, User):
        return AgentVersion.objects.none()
    return (
        AgentVersion.objects.filter(
            agent_id=certificate.agent_id,
            created_at__gt=certificate.version.created_at,
            state__in=list(states),
        )
        .filter(_nameable_by(user))
        .order_by("-created_at", "-pk")
    )
