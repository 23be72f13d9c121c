"""Certification: the operator accredits bodies, bodies define schemes, publishers
ask for certificates, bodies issue them and move them through their states.

Accreditation   active <-> suspended, active | suspended -> withdrawn -> active
Request         requested -> accepted | declined | withdrawn;
                accepted -> issued | refused | withdrawn
Certificate     valid -> suspended -> valid | revoked; valid -> revoked;
                valid -> expired (the beat job, once ``valid_until`` has passed)

Who may do what:
- the operator (staff, or owners, administrators and reviewers of the operator)
  accredits bodies and sets what a domain requires;
- a body's owners and administrators define its schemes; they and its assessors
  answer requests and issue, suspend, reinstate, revoke and extend certificates,
  in the dimensions the body holds an active accreditation for (suspension and
  withdrawal stop new certificates, not the ones already issued);
- nobody certifies an agent of an organisation they belong to;
- the publisher's members ask for certificates and withdraw their requests.

Every change writes a ``CertificationEvent``; a change of a certificate's status bit
re-signs the status list; every change of a certificate refreshes its badge.
"""

import hashlib
import re
import secrets
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from marketplace.exceptions import (
    ApplicationError,
    Conflict,
    InvalidTransition,
    PermissionDenied,
)
from marketplace.models import (
    Accreditation,
    Agent,
    AgentEvent,
    AgentVersion,
    Certificate,
    CertificationEvent,
    CertificationRequest,
    Dimension,
    Domain,
    Install,
    Membership,
    Notification,
    Organization,
    Scheme,
    User,
)
from marketplace.selectors.certification import missing_requirements
from marketplace.selectors.organizations import is_operator, membership_role
from marketplace.services.agents import EDITOR_ROLES
from marketplace.services.badges import badge_refresh
from marketplace.services.common import insert_unique
from marketplace.services.credentials import (
    certificate_credential_sign,
    issuer_key_current,
    status_index_pick,
    status_list_lock,
    status_list_publish,
)
from marketplace.services.notifications import notification_create

Role = Membership.Role
CertState = Certificate.State
RequestState = CertificationRequest.State
AccreditationState = Accreditation.State

SCHEME_ROLES = frozenset({Role.OWNER, Role.ADMIN})
ISSUER_ROLES = frozenset({Role.OWNER, Role.ADMIN, Role.ASSESSOR})

CERTIFICATE_TRANSITIONS: dict[str, frozenset[str]] = {
    CertState.VALID: frozenset(
        {CertState.SUSPENDED, CertState.REVOKED, CertState.EXPIRED}
    ),
    CertState.SUSPENDED: frozenset(
        {CertState.VALID, CertState.REVOKED, CertState.EXPIRED}
    ),
    CertState.REVOKED: frozenset(),
    CertState.EXPIRED: frozenset(),
}
REQUEST_TRANSITIONS: dict[str, frozenset[str]] = {
    RequestState.REQUESTED: frozenset(
        {RequestState.ACCEPTED, RequestState.DECLINED, RequestState.WITHDRAWN}
    ),
    RequestState.ACCEPTED: frozenset(
        {RequestState.ISSUED, RequestState.REFUSED, RequestState.WITHDRAWN}
    ),
    RequestState.DECLINED: frozenset(),
    RequestState.WITHDRAWN: frozenset(),
    RequestState.ISSUED: frozenset(),
    RequestState.REFUSED: frozenset(),
}
# Versions that can still be certified: not rejected, yanked or recalled.
CERTIFIABLE_VERSION_STATES = frozenset(
    {
        AgentVersion.State.DRAFT,
        AgentVersion.State.SUBMITTED,
        AgentVersion.State.IN_REVIEW,
        AgentVersion.State.PUBLISHED,
    }
)
REPORT_MAX_BYTES = 10 * 1024 * 1024
SERIAL_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford's base 32
LEVEL_CODE = re.compile(r"^[a-z0-9][a-z0-9-]{0,48}$")


# --- Permissions ----------------------------------------------------------------------


def _ensure_operator(actor: User) -> None:
    if not is_operator(actor):
        raise PermissionDenied(_("Only the platform operator does this."))


def _ensure_body_role(
    *, actor: User, body: Organization, roles: frozenset[str], message: str
) -> None:
    if membership_role(user=actor, organization=body) not in roles:
        raise PermissionDenied(message)


def _ensure_accredited(*, body: Organization, dimension: str) -> None:
    if not Accreditation.objects.filter(
        body=body, dimension=dimension, state=AccreditationState.ACTIVE
    ).exists():
        raise PermissionDenied(
            _(
                "%(body)s holds no active accreditation for %(dimension)s, so it "
                "cannot certify in it."
            )
            % {"body": body.name, "dimension": Dimension(dimension).label},
            code="not_accredited",
        )


def _ensure_independent(*, actor: User, body: Organization, agent: Agent) -> None:
    if agent.publisher_id == body.pk or (
        membership_role(user=actor, organization=agent.publisher) is not None
    ):
        raise PermissionDenied(
            _("You belong to %(publisher)s, so you cannot certify its agents.")
            % {"publisher": agent.publisher.name},
            code="conflict_of_interest",
        )


def can_issue(*, user: User, body: Organization) -> bool:
    return membership_role(user=user, organization=body) in ISSUER_ROLES


def _event(**fields: Any) -> CertificationEvent:
    return CertificationEvent.objects.create(**fields)


def _required(text: str, field: str, message: str) -> str:
    text = (text or "").strip()
    if not text:
        raise ApplicationError(message, details={field: [message]})
    return text


# --- Accreditation -----------------------------------------------------------------


@transaction.atomic
def accreditation_grant(
    *, actor: User, body: Organization, dimension: str, reason: str = ""
) -> Accreditation:
    """Accredit ``body`` for ``dimension``, or make a suspended or withdrawn
    accreditation active again."""
    _ensure_operator(actor)
    if body.kind != Organization.Kind.CERTIFICATION_BODY:
        raise ApplicationError(
            _("Only certification bodies are accredited."), code="not_a_body"
        )
    if dimension not in Dimension.values:
        raise ApplicationError(
            _("Unknown dimension."), details={"dimension": [_("Unknown dimension.")]}
        )
    accreditation, created = Accreditation.objects.select_for_update().get_or_create(
        body=body, dimension=dimension, defaults={"granted_by": actor, "reason": reason}
    )
    if not created and accreditation.state == AccreditationState.ACTIVE:
        return accreditation
    previous = "" if created else accreditation.state
    if not created:
        accreditation.state = AccreditationState.ACTIVE
        accreditation.reason = reason
        accreditation.granted_by = actor
        accreditation.save(
            update_fields=["state", "reason", "granted_by", "updated_at"]
        )
    _event(
        accreditation=accreditation,
        actor=actor,
        action="accredited" if created else "reinstated",
        from_state=previous,
        to_state=AccreditationState.ACTIVE,
        reason=reason,
    )
    return accreditation


@transaction.atomic
def accreditation_set_state(
    *, actor: User, accreditation: Accreditation, state: str, reason: str
) -> Accreditation:
    """Suspend or withdraw an accreditation (or reinstate it): the body issues
    nothing new in that dimension until it is active again."""
    _ensure_operator(actor)
    if state not in AccreditationState.values:
        raise ApplicationError(
            _("Unknown state."), details={"state": [_("Unknown state.")]}
        )
    if state != AccreditationState.ACTIVE:
        reason = _required(reason, "reason", _("Say why."))
    accreditation = Accreditation.objects.select_for_update().get(pk=accreditation.pk)
    previous = accreditation.state
    if previous == state:
        return accreditation
    accreditation.state = state
    accreditation.reason = reason
    accreditation.save(update_fields=["state", "reason", "updated_at"])
    _event(
        accreditation=accreditation,
        actor=actor,
        action=f"accreditation_{state}",
        from_state=previous,
        to_state=state,
        reason=reason,
    )
    return accreditation


@transaction.atomic
def domain_set_requirements(
    *,
    actor: User,
    domain: Domain,
    schemes: list[Scheme],
    dimensions: list[str],
) -> Domain:
    """Set what a listing in ``domain`` must be certified for before it is
    published."""
    _ensure_operator(actor)
    unknown = [d for d in dimensions if d not in Dimension.values]
    if unknown:
        raise ApplicationError(
            _("Unknown dimension."), details={"dimensions": [_("Unknown dimension.")]}
        )
    domain.required_dimensions = sorted(set(dimensions))
    domain.save(update_fields=["required_dimensions"])
    domain.required_schemes.set(schemes)
    return domain


# --- Schemes ---------------------------------------------------------------------


def _clean_levels(levels: object) -> list[dict[str, str]]:
    message = _(
        "Give one to five levels, lowest first, each with a code (lower-case letters, "
        "digits and hyphens) and an English name."
    )
    if not isinstance(levels, list) or not 1 <= len(levels) <= 5:
        raise ApplicationError(message, details={"levels": [message]})
    cleaned: list[dict[str, str]] = []
    for level in levels:
        if not isinstance(level, dict):
            raise ApplicationError(message, details={"levels": [message]})
        code = str(level.get("code", "")).strip()
        name_en = str(level.get("name_en", "")).strip()[:100]
        name_zh = str(level.get("name_zh", "")).strip()[:100]
        if not LEVEL_CODE.match(code) or not name_en:
            raise ApplicationError(message, details={"levels": [message]})
        cleaned.append({"code": code, "name_en": name_en, "name_zh": name_zh})
    if len({level["code"] for level in cleaned}) != len(cleaned):
        duplicate = _("Level codes must differ.")
        raise ApplicationError(duplicate, details={"levels": [duplicate]})
    return cleaned


@transaction.atomic
def scheme_create(
    *,
    actor: User,
    body: Organization,
    code: str,
    name_en: str,
    name_zh: str,
    dimension: str,
    levels: list[dict[str, str]],
    criteria_en: str,
    criteria_zh: str = "",
    validity_days: int = 365,
) -> Scheme:
    _ensure_body_role(
        actor=actor,
        body=body,
        roles=SCHEME_ROLES,
        message=_("Only the body's owners and administrators define its schemes."),
    )
    if dimension not in Dimension.values:
        raise ApplicationError(
            _("Unknown dimension."), details={"dimension": [_("Unknown dimension.")]}
        )
    _ensure_accredited(body=body, dimension=dimension)
    scheme = Scheme(
        body=body,
        code=code,
        name_en=name_en.strip(),
        name_zh=name_zh.strip(),
        dimension=dimension,
        levels=_clean_levels(levels),
        criteria_en=criteria_en.strip(),
        criteria_zh=criteria_zh.strip(),
        validity_days=validity_days,
    )
    _full_clean(scheme)
    insert_unique(scheme, field="code", message=_("A scheme with this code exists."))
    _event(scheme=scheme, actor=actor, action="scheme_created")
    return scheme


def _full_clean(instance: Any) -> None:
    from django.core.exceptions import ValidationError

    try:
        instance.full_clean()
    except ValidationError as error:
        details = {
            field: [str(message) for message in messages]
            for field, messages in error.message_dict.items()
        }
        first = next(iter(details.values()))[0]
        code = (
            "conflict"
            if any("already exists" in m for ms in details.values() for m in ms)
            else "invalid"
        )
        if code == "conflict":
            raise Conflict(first, details=details) from None
        raise ApplicationError(first, details=details) from None


SCHEME_EDITABLE = frozenset(
    {
        "name_en",
        "name_zh",
        "criteria_en",
        "criteria_zh",
        "validity_days",
        "active",
        "levels",
    }
)


@transaction.atomic
def scheme_update(*, actor: User, scheme: Scheme, **fields: Any) -> Scheme:
    """Change a scheme's names, criteria, validity, levels or whether it is open.
    Its code and dimension never change; a level that certificates hold stays."""
    scheme = (
        Scheme.objects.select_for_update(of=("self",))
        .select_related("body")
        .get(pk=scheme.pk)
    )
    _ensure_body_role(
        actor=actor,
        body=scheme.body,
        roles=SCHEME_ROLES,
        message=_("Only the body's owners and administrators define its schemes."),
    )
    unknown = set(fields) - SCHEME_EDITABLE
    if unknown:
        raise ApplicationError(
            _("These fields cannot be changed: %(fields)s.")
            % {"fields": ", ".join(sorted(unknown))}
        )
    if "levels" in fields:
        levels = _clean_levels(fields["levels"])
        kept = {level["code"] for level in levels}
        held = set(
            Certificate.objects.filter(scheme=scheme).values_list("level", flat=True)
        )
        if held - kept:
            message = _("Certificates hold the levels %(levels)s; keep them.") % {
                "levels": ", ".join(sorted(held - kept))
            }
            raise ApplicationError(message, details={"levels": [message]})
        fields["levels"] = levels
    for name, value in fields.items():
        setattr(scheme, name, value.strip() if isinstance(value, str) else value)
    _full_clean(scheme)
    scheme.save()
    _event(
        scheme=scheme,
        actor=actor,
        action="scheme_updated",
        payload={"fields": sorted(fields)},
    )
    return scheme


# --- Requests ----------------------------------------------------------------------


def _notify_members(
    *,
    organization: Organization,
    roles: frozenset[str],
    kind: str,
    message: str,
    params: dict[str, Any],
    link: str = "",
) -> None:
    users = User.objects.filter(
        memberships__organization=organization, memberships__role__in=roles
    ).distinct()
    for user in users:
        notification_create(
            user=user, kind=kind, message=message, params=params, link=link
        )


def _request_transition(
    *, request: CertificationRequest, to: str, actor: User | None, reason: str = ""
) -> CertificationRequest:
    source = request.state
    if to not in REQUEST_TRANSITIONS[source]:
        raise InvalidTransition(
            _("A request that is %(from)s cannot become %(to)s.")
            % {"from": RequestState(source).label, "to": RequestState(to).label}
        )
    moved = CertificationRequest.objects.filter(pk=request.pk, state=source).update(
        state=to, updated_at=timezone.now()
    )
    if not moved:
        raise InvalidTransition(
            _("This request was changed meanwhile; reload and retry.")
        )
    _event(
        request=request,
        actor=actor,
        action=f"request_{to}",
        from_state=source,
        to_state=to,
        reason=reason,
    )
    request.state = to
    return request


def _request_notify(request: CertificationRequest, *, to_body: bool) -> None:
    agent = request.version.agent
    params = {
        "agent": agent.name,
        "version": request.version.version,
        "scheme": request.scheme.code,
        "state": request.state,
    }
    message = gettext_noop(
        "The certification request for %(agent)s %(version)s (%(scheme)s) is now "
        "%(state)s."
    )
    if to_body:
        _notify_members(
            organization=request.scheme.body,
            roles=ISSUER_ROLES,
            kind=Notification.Kind.CERTIFICATION_REQUEST,
            message=message,
            params=params,
            link=f"/certification/requests/{request.public_id}/",
        )
    else:
        _notify_members(
            organization=agent.publisher,
            roles=frozenset({Role.OWNER, Role.ADMIN}),
            kind=Notification.Kind.CERTIFICATION_REQUEST,
            message=message,
            params=params,
            link=f"/certification/requests/{request.public_id}/",
        )


@transaction.atomic
def certification_request_create(
    *,
    actor: User,
    version: AgentVersion,
    scheme: Scheme,
    level: str,
    message: str = "",
) -> CertificationRequest:
    """A publisher's member asks the scheme's body to certify ``version``."""
    version = AgentVersion.objects.select_related("agent__publisher").get(pk=version.pk)
    agent = version.agent
    if membership_role(user=actor, organization=agent.publisher) not in EDITOR_ROLES:
        raise PermissionDenied(
            _("Only members of %(publisher)s ask for its agents to be certified.")
            % {"publisher": agent.publisher.name}
        )
    if version.state not in CERTIFIABLE_VERSION_STATES:
        raise ApplicationError(
            _("A %(state)s version cannot be certified.")
            % {"state": AgentVersion.State(version.state).label},
            code="version_not_certifiable",
        )
    scheme = Scheme.objects.select_related("body").get(pk=scheme.pk)
    if not scheme.active:
        raise ApplicationError(
            _("The scheme %(scheme)s takes no new requests.") % {"scheme": scheme.code},
            code="scheme_closed",
        )
    if level not in scheme.level_codes:
        message_text = _("The scheme has no level %(level)s.") % {"level": level}
        raise ApplicationError(message_text, details={"level": [message_text]})
    _ensure_accredited(body=scheme.body, dimension=scheme.dimension)
    request = CertificationRequest(
        version=version,
        scheme=scheme,
        level=level,
        message=message.strip()[:5000],
        requested_by=actor,
    )
    insert_unique(
        request,
        field="scheme",
        message=_("This version already has an open request for this scheme."),
    )
    _event(
        request=request,
        actor=actor,
        action="request_created",
        to_state=RequestState.REQUESTED,
        payload={"level": level},
    )
    _request_notify(request, to_body=True)
    return request


def _locked_request(request: CertificationRequest) -> CertificationRequest:
    return (
        CertificationRequest.objects.select_for_update(of=("self",))
        .select_related("scheme__body", "version__agent__publisher")
        .get(pk=request.pk)
    )


@transaction.atomic
def certification_request_respond(
    *, actor: User, request: CertificationRequest, accept: bool, reason: str = ""
) -> CertificationRequest:
    """The body accepts a request (and starts assessing) or declines it, with
    reasons."""
    request = _locked_request(request)
    body = request.scheme.body
    _ensure_body_role(
        actor=actor,
        body=body,
        roles=ISSUER_ROLES,
        message=_(
            "Only the body's owners, administrators and assessors answer requests."
        ),
    )
    if accept:
        _ensure_independent(actor=actor, body=body, agent=request.version.agent)
    else:
        reason = _required(reason, "reason", _("Give the publisher your reasons."))
    request = _request_transition(
        request=request,
        to=RequestState.ACCEPTED if accept else RequestState.DECLINED,
        actor=actor,
        reason=reason,
    )
    _request_notify(request, to_body=False)
    return request


@transaction.atomic
def certification_request_refuse(
    *, actor: User, request: CertificationRequest, reason: str
) -> CertificationRequest:
    """The body assessed the version and refuses the certificate, with reasons."""
    request = _locked_request(request)
    _ensure_body_role(
        actor=actor,
        body=request.scheme.body,
        roles=ISSUER_ROLES,
        message=_(
            "Only the body's owners, administrators and assessors answer requests."
        ),
    )
    reason = _required(reason, "reason", _("Give the publisher your reasons."))
    request = _request_transition(
        request=request, to=RequestState.REFUSED, actor=actor, reason=reason
    )
    _request_notify(request, to_body=False)
    return request


@transaction.atomic
def certification_request_withdraw(
    *, actor: User, request: CertificationRequest, reason: str = ""
) -> CertificationRequest:
    request = _locked_request(request)
    publisher = request.version.agent.publisher
    if membership_role(user=actor, organization=publisher) not in EDITOR_ROLES:
        raise PermissionDenied(
            _("Only members of %(publisher)s withdraw its requests.")
            % {"publisher": publisher.name}
        )
    request = _request_transition(
        request=request, to=RequestState.WITHDRAWN, actor=actor, reason=reason
    )
    _request_notify(request, to_body=True)
    return request


# --- Certificates ------------------------------------------------------------------


def _serial() -> str:
    year = timezone.now().year
    tail = "".join(secrets.choice(SERIAL_ALPHABET) for _ in range(8))
    return f"C{year}-{tail[:4]}-{tail[4:]}"


def _check_report(report_file: UploadedFile | None, report_url: str) -> tuple[str, str]:
    """The SHA-256 of the report file and its type as a file suffix ("pdf" or
    "txt", told by its bytes), after checking it is a PDF or UTF-8 text within
    the size limit; ("", "") without a file."""
    # The URL goes into the signed credential as its evidence: https only, with
    # or without a file beside it.
    if report_url and (not report_url.startswith("https://") or len(report_url) > 500):
        message = _("The report URL must start with https://.")
        raise ApplicationError(message, details={"report_url": [message]})
    if report_file is None:
        if not report_url:
            message = _("Attach the test report or give its URL.")
            raise ApplicationError(message, details={"report": [message]})
        return "", ""
    if report_file.size is None or report_file.size > REPORT_MAX_BYTES:
        message = _("The report is larger than %(size)s MB.") % {
            "size": REPORT_MAX_BYTES // (1024 * 1024)
        }
        raise ApplicationError(message, details={"report_file": [message]})
    digest = hashlib.sha256()
    head = b""
    for chunk in report_file.chunks():
        if not head:
            head = chunk[:8]
        digest.update(chunk)
    report_file.seek(0)
    if head.startswith(b"%PDF-"):
        return digest.hexdigest(), "pdf"
    data = report_file.read()
    report_file.seek(0)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = "\x00"
    if "\x00" in text:
        message = _("The report must be a PDF or a UTF-8 text file.")
        raise ApplicationError(message, details={"report_file": [message]})
    return digest.hexdigest(), "txt"


def _locked_certificate(certificate: Certificate) -> Certificate:
    return (
        Certificate.objects.select_for_update(of=("self",))
        .select_related(
            "scheme", "body", "agent__publisher", "agent__domain", "version"
        )
        .get(pk=certificate.pk)
    )


@transaction.atomic
def certificate_issue(
    *,
    actor: User,
    version: AgentVersion,
    scheme: Scheme,
    level: str,
    assessor: str,
    report_url: str = "",
    report_file: UploadedFile | None = None,
    request: CertificationRequest | None = None,
    valid_from: datetime | None = None,
    extends: Certificate | None = None,
) -> Certificate:
    """Issue a certificate to ``version`` for ``scheme`` at ``level`` and sign its
    credential with the body's key. From a request, the request must be accepted
    and for the same version and scheme; it becomes issued."""
    scheme = Scheme.objects.select_related("body").get(pk=scheme.pk)
    body = scheme.body
    version = AgentVersion.objects.select_related(
        "agent__publisher", "agent__domain"
    ).get(pk=version.pk)
    agent = version.agent
    _ensure_body_role(
        actor=actor,
        body=body,
        roles=ISSUER_ROLES,
        message=_(
            "Only the body's owners, administrators and assessors issue certificates."
        ),
    )
    _ensure_accredited(body=body, dimension=scheme.dimension)
    _ensure_independent(actor=actor, body=body, agent=agent)
    if version.state not in CERTIFIABLE_VERSION_STATES:
        raise ApplicationError(
            _("A %(state)s version cannot be certified.")
            % {"state": AgentVersion.State(version.state).label},
            code="version_not_certifiable",
        )
    if level not in scheme.level_codes:
        message = _("The scheme has no level %(level)s.") % {"level": level}
        raise ApplicationError(message, details={"level": [message]})
    if extends is None and not scheme.active:
        raise ApplicationError(
            _("The scheme %(scheme)s takes no new requests.") % {"scheme": scheme.code},
            code="scheme_closed",
        )
    assessor = _required(assessor, "assessor", _("Name the assessor."))[:200]
    report_url = (report_url or "").strip()
    kept_file = suffix = ""
    if extends is not None and report_file is None and not report_url:
        # An extension rests on the original's assessment and its report.
        report_url = extends.report_url
        kept_file = extends.report_file.name if extends.report_file else ""
        report_sha256 = extends.report_sha256
    else:
        report_sha256, suffix = _check_report(report_file, report_url)
    if (
        request is None
        and extends is None
        and version.state != AgentVersion.State.PUBLISHED
    ):
        # An unpublished version is the publisher's business until it asks.
        raise ApplicationError(
            _("This version is not published: certify it on the publisher's request."),
            code="version_not_published",
        )
    if request is not None:
        request = _locked_request(request)
        if request.version_id != version.pk or request.scheme_id != scheme.pk:
            raise ApplicationError(
                _("The request is for another version or scheme."),
                code="request_mismatch",
            )
        if request.state != RequestState.ACCEPTED:
            raise InvalidTransition(
                _("Accept the request before issuing its certificate.")
            )
    now = timezone.now()
    start = valid_from or now
    until = (
        extends.valid_until
        if extends is not None
        else start + timedelta(days=scheme.validity_days)
    )
    if until <= now:
        raise ApplicationError(
            _("The certificate would already have expired."), code="already_expired"
        )
    key = issuer_key_current(organization=body)
    for _attempt in range(5):
        certificate = Certificate(
            serial=_serial(),
            scheme=scheme,
            level=level,
            version=version,
            agent=agent,
            body=body,
            digest=version.declaration_digest,
            request=request,
            extends=extends,
            assessor=assessor,
            report_url=report_url,
            report_file=kept_file,
            report_sha256=report_sha256,
            valid_from=start,
            valid_until=until,
            status_index=status_index_pick(),
            kid=key.kid,
            issued_by=actor,
        )
        if report_file is not None:
            certificate.report_file.save(
                f"{certificate.serial}.{suffix}",
                report_file,
                save=False,
            )
        certificate.credential = certificate_credential_sign(
            certificate=certificate, key=key, valid_from=start, valid_until=until
        )
        try:
            with transaction.atomic():
                certificate.save(force_insert=True)
            break
        except IntegrityError as error:
            if report_file is not None and certificate.report_file:
                # Stored before the row; the row was not: leave no orphan behind
                # (an extension's file is the original's, and stays).
                certificate.report_file.delete(save=False)
            if "status_index" in str(error) or "serial" in str(error):
                continue  # a race for the same random index or serial: draw again
            message = _(
                "This version already holds a live certificate of this scheme; "
                "revoke it first."
            )
            raise Conflict(message, code="already_certified") from None
    else:  # pragma: no cover - five collisions of random draws
        raise Conflict(_("Could not allocate a serial number; retry."))
    _event(
        certificate=certificate,
        request=request,
        actor=actor,
        action="extended" if extends is not None else "issued",
        to_state=CertState.VALID,
        payload={
            "serial": certificate.serial,
            "level": level,
            "version": version.version,
            **({"extends": extends.serial} if extends is not None else {}),
        },
    )
    if request is not None:
        _request_transition(request=request, to=RequestState.ISSUED, actor=actor)
        _request_notify(request, to_body=False)
    badge_refresh(agent_id=agent.pk, scheme_id=scheme.pk)
    _notify_members(
        organization=agent.publisher,
        roles=frozenset({Role.OWNER, Role.ADMIN}),
        kind=Notification.Kind.CERTIFICATE_STATUS,
        message=gettext_noop(
            "%(body)s issued the certificate %(serial)s (%(scheme)s, %(level)s) to "
            "%(agent)s %(version)s."
        ),
        params={
            "body": body.name,
            "serial": certificate.serial,
            "scheme": scheme.code,
            "level": level,
            "agent": agent.name,
            "version": version.version,
        },
        link=f"/certificates/{certificate.serial}/",
    )
    return certificate


@transaction.atomic
def certificate_extend(
    *, actor: User, certificate: Certificate, version: AgentVersion
) -> Certificate:
    """Carry a valid certificate over to a later version of the same agent: a new
    certificate (its own serial and credential, bound to the new version's
    digest) that ends when the original does. Versions inherit nothing without
    this."""
    original = _locked_certificate(certificate)
    if original.state != CertState.VALID:
        raise InvalidTransition(_("Only a valid certificate can be extended."))
    version = AgentVersion.objects.get(pk=version.pk)
    if (
        version.agent_id != original.agent_id
        or version.created_at <= original.version.created_at
    ):
        raise ApplicationError(
            _("Extend a certificate to a later version of the same agent."),
            code="extend_mismatch",
        )
    return certificate_issue(
        actor=actor,
        version=version,
        scheme=original.scheme,
        level=original.level,
        assessor=original.assessor,
        extends=original,
    )


# The states a certificate's entry in the status list tells apart from valid.
LISTED_STATES: frozenset[str] = frozenset({CertState.SUSPENDED, CertState.REVOKED})


def certificate_transition(
    *,
    certificate: Certificate,
    to: str,
    actor: User | None,
    reason: str = "",
    action: str = "",
) -> Certificate:
    """Move a locked certificate to ``to`` if the table allows it; re-sign the
    status lists whose bit changes, refresh the badge and tell the publisher.
    Call inside a transaction."""
    source = certificate.state
    if to not in CERTIFICATE_TRANSITIONS[source]:
        raise InvalidTransition(
            _("A %(from)s certificate cannot become %(to)s.")
            % {"from": CertState(source).label, "to": CertState(to).label}
        )
    listed = bool(LISTED_STATES & {source, to})
    if listed:
        status_list_lock()
    moved = Certificate.objects.filter(pk=certificate.pk, state=source).update(
        state=to, state_reason=reason, updated_at=timezone.now()
    )
    if not moved:
        raise InvalidTransition(
            _("This certificate was changed meanwhile; reload and retry.")
        )
    certificate.state = to
    certificate.state_reason = reason
    _event(
        certificate=certificate,
        actor=actor,
        action=action or to,
        from_state=source,
        to_state=to,
        reason=reason,
        payload={"serial": certificate.serial},
    )
    if listed:
        status_list_publish()
    badge_refresh(agent_id=certificate.agent_id, scheme_id=certificate.scheme_id)
    _notify_members(
        organization=certificate.agent.publisher,
        roles=frozenset({Role.OWNER, Role.ADMIN}),
        kind=Notification.Kind.CERTIFICATE_STATUS,
        message=gettext_noop(
            "The certificate %(serial)s of %(agent)s is now %(state)s."
        ),
        params={
            "serial": certificate.serial,
            "agent": certificate.agent.name,
            "state": to,
        },
        link=f"/certificates/{certificate.serial}/",
    )
    return certificate


def _body_action(*, actor: User, certificate: Certificate) -> Certificate:
    certificate = _locked_certificate(certificate)
    _ensure_body_role(
        actor=actor,
        body=certificate.body,
        roles=ISSUER_ROLES,
        message=_(
            "Only the issuing body's owners, administrators and assessors change "
            "its certificates."
        ),
    )
    return certificate


@transaction.atomic
def certificate_suspend(
    *, actor: User, certificate: Certificate, reason: str
) -> Certificate:
    certificate = _body_action(actor=actor, certificate=certificate)
    reason = _required(reason, "reason", _("Say why."))
    return certificate_transition(
        certificate=certificate, to=CertState.SUSPENDED, actor=actor, reason=reason
    )


@transaction.atomic
def certificate_reinstate(
    *, actor: User, certificate: Certificate, reason: str = ""
) -> Certificate:
    certificate = _body_action(actor=actor, certificate=certificate)
    # Reinstating vouches for the agent again: the same conditions as issuing.
    _ensure_accredited(body=certificate.body, dimension=certificate.scheme.dimension)
    _ensure_independent(actor=actor, body=certificate.body, agent=certificate.agent)
    if certificate.valid_until <= timezone.now():
        raise InvalidTransition(
            _("The certificate's validity has ended; issue a new one.")
        )
    return certificate_transition(
        certificate=certificate,
        to=CertState.VALID,
        actor=actor,
        reason=reason,
        action="reinstated",
    )


@transaction.atomic
def certificate_revoke(
    *, actor: User, certificate: Certificate, reason: str
) -> Certificate:
    """Revoke a certificate for good. When the agent's published version needed it
    (its domain requires the scheme or its dimension) the listing is suspended and
    everyone who installed it is told."""
    certificate = _body_action(actor=actor, certificate=certificate)
    reason = _required(reason, "reason", _("Say why."))
    certificate = certificate_transition(
        certificate=certificate, to=CertState.REVOKED, actor=actor, reason=reason
    )
    _suspend_if_required(certificate=certificate, actor=actor, reason=reason)
    # What was extended from it rests on the same assessment: it falls with it.
    pending = [certificate]
    while pending:
        original = pending.pop()
        extensions = (
            Certificate.objects.select_for_update(of=("self",))
            .select_related(
                "scheme", "body", "agent__publisher", "agent__domain", "version"
            )
            .filter(extends=original, state__in=[CertState.VALID, CertState.SUSPENDED])
            .order_by("pk")
        )
        for extension in extensions:
            why = _(
                "The certificate it extends, %(serial)s, was revoked: %(reason)s"
            ) % {
                "serial": original.serial,
                "reason": reason,
            }
            certificate_transition(
                certificate=extension, to=CertState.REVOKED, actor=actor, reason=why
            )
            _suspend_if_required(certificate=extension, actor=actor, reason=why)
            pending.append(extension)
    return certificate


def _suspend_if_required(
    *, certificate: Certificate, actor: User | None, reason: str
) -> None:
    agent = (
        Agent.objects.select_for_update(of=("self",))
        .select_related("domain", "publisher")
        .get(pk=certificate.agent_id)
    )
    if (
        agent.latest_version_id != certificate.version_id
        or agent.status == Agent.Status.QUARANTINED
    ):
        return
    domain = agent.domain
    needed = domain.required_schemes.filter(
        pk=certificate.scheme_id
    ).exists() or certificate.scheme.dimension in (domain.required_dimensions or [])
    if not needed or not missing_requirements(version=certificate.version):
        return
    previous = agent.status
    Agent.objects.filter(pk=agent.pk).update(status=Agent.Status.QUARANTINED)
    AgentEvent.objects.create(
        agent=agent,
        version=certificate.version,
        actor=actor,
        action="suspended_certificate_revoked",
        from_state=previous,
        to_state=Agent.Status.QUARANTINED,
        payload={"serial": certificate.serial, "reason": reason},
    )
    _notify_members(
        organization=agent.publisher,
        roles=frozenset({Role.OWNER, Role.ADMIN}),
        kind=Notification.Kind.LISTING_SUSPENDED,
        message=gettext_noop(
            "%(agent)s was suspended from the store: its required certificate "
            "%(serial)s was revoked."
        ),
        params={"agent": agent.name, "serial": certificate.serial},
        link=f"/certificates/{certificate.serial}/",
    )
    from marketplace.tasks import agent_notify_installers_suspended

    agent_notify_installers_suspended.delay_on_commit(  # type: ignore[attr-defined]  # DjangoTask's, not in celery-types
        agent_id=agent.pk, serial=certificate.serial
    )


NOTIFY_BATCH = 500


def agent_notify_installers_suspended(*, agent_id: int, serial: str) -> int:
    """Tell everyone with an active install of the agent that it was suspended,
    once each (a second run finds them told). Returns how many were told."""
    agent = Agent.objects.filter(pk=agent_id).first()
    if agent is None:
        return 0
    told = set(
        Notification.objects.filter(
            kind=Notification.Kind.LISTING_SUSPENDED,
            params__agent_id=agent_id,
            params__serial=serial,
        ).values_list("user_id", flat=True)
    )
    users = (
        User.objects.filter(
            installs__agent_id=agent_id, installs__state=Install.State.ACTIVE
        )
        .exclude(pk__in=told)
        .distinct()
        .order_by("pk")
    )
    count = 0
    for user in users.iterator(chunk_size=NOTIFY_BATCH):
        notification_create(
            user=user,
            kind=Notification.Kind.LISTING_SUSPENDED,
            message=gettext_noop(
                "%(agent)s, which you installed, was suspended from the store: a "
                "certificate it needs (%(serial)s) was revoked. Consider revoking "
                "its permissions."
            ),
            params={"agent": agent.name, "agent_id": agent_id, "serial": serial},
            link=f"/agents/{agent.publisher.slug}/{agent.slug}/",
        )
        count += 1
    return count


# --- The beat jobs ---------------------------------------------------------------


def certificate_expire_due(*, now: datetime | None = None) -> int:
    """Expire every valid certificate whose validity has ended. Returns how many."""
    moment = now or timezone.now()
    expired = 0
    # A suspended certificate expires too: its entry in the status list clears
    # and the verifier then answers expired.
    live = (CertState.VALID, CertState.SUSPENDED)
    due = Certificate.objects.filter(
        state__in=live, valid_until__lte=moment
    ).values_list("pk", flat=True)
    for pk in list(due[:1000]):
        with transaction.atomic():
            certificate = (
                Certificate.objects.select_for_update(skip_locked=True, of=("self",))
                .select_related("agent__publisher", "scheme")
                .filter(pk=pk, state__in=live, valid_until__lte=moment)
                .first()
            )
            if certificate is None:
                continue
            certificate_transition(
                certificate=certificate,
                to=CertState.EXPIRED,
                actor=None,
                reason="",
                action="expired",
            )
            expired += 1
    return expired


def certificate_notify_expiring(*, now: datetime | None = None) -> int:
    """Tell publishers, once, that a certificate expires within
    ``CERTIFICATE_EXPIRY_NOTICE_DAYS``. Returns how many certificates."""
    moment = now or timezone.now()
    horizon = moment + timedelta(days=settings.CERTIFICATE_EXPIRY_NOTICE_DAYS)
    due = Certificate.objects.filter(
        state=CertState.VALID,
        valid_until__gt=moment,
        valid_until__lte=horizon,
        expiry_notified_at=None,
    ).values_list("pk", flat=True)
    told = 0
    for pk in list(due[:1000]):
        with transaction.atomic():
            claimed = Certificate.objects.filter(pk=pk, expiry_notified_at=None).update(
                expiry_notified_at=moment
            )
            if not claimed:
                continue
            certificate = Certificate.objects.select_related(
                "agent__publisher", "scheme"
            ).get(pk=pk)
            _notify_members(
                organization=certificate.agent.publisher,
                roles=frozenset({Role.OWNER, Role.ADMIN}),
                kind=Notification.Kind.CERTIFICATE_EXPIRING,
                message=gettext_noop(
                    "The certificate %(serial)s (%(scheme)s) of %(agent)s expires on "
                    "%(date)s."
                ),
                params={
                    "serial": certificate.serial,
                    "scheme": certificate.scheme.code,
                    "agent": certificate.agent.name,
                    "date": certificate.valid_until.date().isoformat(),
                },
                link=f"/certificates/{certificate.serial}/",
            )
            told += 1
    return told
