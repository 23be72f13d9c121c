"""Organisations and who belongs to them.

The rules of membership, in one place:

- Whoever creates an organisation becomes its owner. Only staff may create
  regulators and platform operators.
- Owners and administrators invite; only owners invite or promote owners and
  administrators. Roles other than owner, administrator and member exist only in
  the kinds of organisation that have that work (``ROLES_BY_KIND``).
- Owners remove anyone; administrators remove members below them; anyone may leave.
  An organisation always keeps at least one owner.
"""

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from config.keys import b64url, b64url_decode, okp_thumbprint
from config.site import absolute_url
from marketplace.credit import GRADES, grade_rank
from marketplace.exceptions import (
    ApplicationError,
    Conflict,
    InvalidRole,
    InvitationNotUsable,
    NotFound,
    PermissionDenied,
)
from marketplace.models import (
    Invitation,
    Membership,
    Organization,
    OrganizationEvent,
    PublisherKey,
    User,
)
from marketplace.registration import normalise_uscc, uscc_valid
from marketplace.selectors.organizations import (
    MANAGER_ROLES,
    is_operator,
    membership_role,
    organization_can_manage,
)
from marketplace.services.common import email_send, insert_unique

Role = Membership.Role
Kind = Organization.Kind

_BASE_ROLES = frozenset({Role.OWNER, Role.ADMIN, Role.MEMBER})
ROLES_BY_KIND: dict[str, frozenset[str]] = {
    Kind.PUBLISHER: _BASE_ROLES,
    Kind.CERTIFICATION_BODY: _BASE_ROLES | {Role.REVIEWER, Role.ASSESSOR},
    Kind.INDUSTRY_BODY: _BASE_ROLES | {Role.ANALYST, Role.COMMITTEE_MEMBER},
    Kind.REGULATOR: _BASE_ROLES | {Role.REVIEWER},
    Kind.OPERATOR: _BASE_ROLES | {Role.REVIEWER},
}
STAFF_ONLY_KINDS = frozenset({Kind.REGULATOR, Kind.OPERATOR})

# Short names that fixed addresses under /credit/ use: an organisation with one
# of them would have its credit profile hidden behind that page.
RESERVED_SLUGS = frozenset(
    {"console", "entity", "methodologies", "dishonesty-list", "cycles", "ratings"}
)

INVITATION_SALT = "marketplace.invitation"


def roles_for_kind(kind: str) -> list[str]:
    """The roles an organisation of this kind can give, in the order of Role."""
    allowed = ROLES_BY_KIND[kind]
    return [role for role in Role.values if role in allowed]


def _event(
    *,
    organization: Organization,
    actor: User | None,
    action: str,
    **payload: Any,
) -> None:
    OrganizationEvent.objects.create(
        organization=organization, actor=actor, action=action, payload=payload
    )


def _current(membership: Membership) -> Membership:
    """The membership as it is now, under the organisation's lock: a double click or
    a concurrent removal may have deleted it."""
    current = Membership.objects.select_related("user").filter(pk=membership.pk).first()
    if current is None:
        raise NotFound(_("This membership no longer exists."))
    return current


def _check_role(*, organization: Organization, role: str) -> None:
    if role not in ROLES_BY_KIND[organization.kind]:
        message = _("This kind of organisation has no role “%(role)s”.") % {
            "role": role
        }
        raise InvalidRole(message, details={"role": [message]})


def _lock(organization: Organization) -> Organization:
    """Serialise membership changes of one organisation, so that two owners removing
    each other at the same moment cannot leave it with none."""
    return Organization.objects.select_for_update().get(pk=organization.pk)


@transaction.atomic
def organization_create(
    *,
    actor: User,
    name: str,
    slug: str,
    kind: str,
    description: str = "",
    website: str = "",
    contact_email: str = "",
) -> Organization:
    if kind in STAFF_ONLY_KINDS and not actor.is_staff:
        raise PermissionDenied(
            _("Only the platform's staff can create regulators and operators.")
        )
    if slug in RESERVED_SLUGS:
        raise ValidationError(
            {"slug": [_("This short name is reserved by the site; choose another.")]}
        )
    organization = Organization(
        name=name,
        slug=slug,
        kind=kind,
        description=description,
        website=website,
        contact_email=contact_email,
    )
    organization.full_clean()
    insert_unique(
        organization,
        field="slug",
        message=_("An organisation with this short name exists."),
    )
    Membership.objects.create(user=actor, organization=organization, role=Role.OWNER)
    _event(
        organization=organization,
        actor=actor,
        action=OrganizationEvent.Action.CREATED,
        kind=kind,
        slug=slug,
    )
    return organization


@transaction.atomic
def organization_update(
    *,
    actor: User,
    organization: Organization,
    name: str,
    description: str,
    website: str,
    contact_email: str,
    as_staff: bool = False,
) -> Organization:
    """Change an organisation's public details: by its owners and administrators, or
    by the platform's staff (``as_staff``, from the admin)."""
    if not (as_staff and actor.is_staff) and not organization_can_manage(
        user=actor, organization=organization
    ):
        raise PermissionDenied(
            _("Only owners and administrators can change the organisation.")
        )
    before = {
        "name": organization.name,
        "description": organization.description,
        "website": organization.website,
        "contact_email": organization.contact_email,
    }
    after = {
        "name": name,
        "description": description,
        "website": website,
        "contact_email": contact_email,
    }
    for field, value in after.items():
        setattr(organization, field, value)
    organization.full_clean()
    organization.save(update_fields=[*after, "updated_at"])
    changed = sorted(field for field in after if before[field] != after[field])
    if changed:
        _event(
            organization=organization,
            actor=actor,
            action=OrganizationEvent.Action.UPDATED,
            fields=changed,
        )
    return organization


@transaction.atomic
def invitation_create(
    *,
    actor: User,
    organization: Organization,
    email: str,
    role: str,
) -> Invitation:
    organization = _lock(organization)
    actor_role = membership_role(user=actor, organization=organization)
    if actor_role not in MANAGER_ROLES:
        raise PermissionDenied(_("Only owners and administrators can invite members."))
    _check_role(organization=organization, role=role)
    if role in MANAGER_ROLES and actor_role != Role.OWNER:
        raise PermissionDenied(
            _("Only owners can invite owners and administrators."),
        )
    email = User.objects.normalize_email(email).lower()
    if Membership.objects.filter(
        organization=organization, user__email__iexact=email
    ).exists():
        raise Conflict(
            _("%(email)s is already a member.") % {"email": email},
            details={"email": [_("Already a member.")]},
        )
    if Invitation.objects.filter(
        organization=organization, email__iexact=email, state=Invitation.State.PENDING
    ).exists():
        raise Conflict(
            _("%(email)s already has a pending invitation.") % {"email": email},
            details={"email": [_("Already invited.")]},
        )
    invitation = Invitation(
        organization=organization,
        email=email,
        role=role,
        invited_by=actor,
        expires_at=timezone.now() + timedelta(days=settings.INVITATION_VALID_DAYS),
    )
    invitation.full_clean()
    invitation.save()
    _event(
        organization=organization,
        actor=actor,
        action=OrganizationEvent.Action.MEMBER_INVITED,
        email=email,
        role=role,
    )
    from marketplace.tasks import invitation_send as invitation_send_task

    invitation_send_task.delay_on_commit(  # type: ignore[attr-defined]  # DjangoTask's, not in celery-types
        invitation_id=invitation.pk
    )
    return invitation


def invitation_token(*, invitation: Invitation) -> str:
    """The token of the link in the invitation e-mail."""
    return signing.dumps(str(invitation.public_id), salt=INVITATION_SALT)


def invitation_from_token(*, token: str) -> Invitation:
    try:
        public_id = signing.loads(token, salt=INVITATION_SALT)
    except signing.BadSignature:
        raise InvitationNotUsable(_("This invitation link is not valid.")) from None
    invitation = (
        Invitation.objects.select_related("organization", "invited_by")
        .filter(public_id=public_id)
        .first()
    )
    if invitation is None:
        raise InvitationNotUsable(_("This invitation no longer exists."))
    return invitation


def invitation_send(*, invitation_id: int) -> bool:
    """Send the e-mail of a pending invitation once. Returns whether it was sent."""
    invitation = (
        Invitation.objects.select_related("organization", "invited_by")
        .filter(
            pk=invitation_id,
            state=Invitation.State.PENDING,
            sent_at=None,
            expires_at__gt=timezone.now(),
        )
        .first()
    )
    if invitation is None:
        return False  # gone, closed, lapsed or sent already: nothing to do
    url = absolute_url(
        reverse(
            "invitation-accept",
            kwargs={"token": invitation_token(invitation=invitation)},
        )
    )
    recipient = User.objects.filter(email__iexact=invitation.email).first()
    # Send, then mark: a failed send is retried by the task; a crash between the two
    # sends the (harmless) e-mail twice rather than never.
    email_send(
        template="invitation",
        context={"invitation": invitation, "url": url},
        language=recipient.preferred_language if recipient else "",
        to=invitation.email,
    )
    Invitation.objects.filter(pk=invitation.pk, sent_at=None).update(
        sent_at=timezone.now()
    )
    return True


@transaction.atomic
def invitation_revoke(
    *, actor: User, invitation: Invitation, as_staff: bool = False
) -> Invitation:
    """Revoke a pending invitation: by the organisation's managers, or by the
    platform's staff (``as_staff``, from the admin)."""
    organization = _lock(invitation.organization)
    staff_override = as_staff and actor.is_staff
    if not staff_override and not organization_can_manage(
        user=actor, organization=organization
    ):
        raise PermissionDenied(
            _("Only owners and administrators can revoke invitations.")
        )
    updated = Invitation.objects.filter(
        pk=invitation.pk, state=Invitation.State.PENDING
    ).update(state=Invitation.State.REVOKED, closed_at=timezone.now())
    if not updated:
        raise Conflict(_("This invitation is no longer pending."))
    _event(
        organization=organization,
        actor=actor,
        action=OrganizationEvent.Action.INVITATION_REVOKED,
        email=invitation.email,
    )
    invitation.refresh_from_db()
    return invitation


@transaction.atomic
def invitation_accept(*, actor: User, invitation: Invitation) -> Membership:
    organization = _lock(invitation.organization)
    invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
    if invitation.state != Invitation.State.PENDING:
        raise InvitationNotUsable(_("This invitation is no longer open."))
    if invitation.expires_at <= timezone.now():
        raise InvitationNotUsable(_("This invitation has expired."))
    if not actor.email_verified:
        raise PermissionDenied(
            _(
                "Confirm your e-mail address first: open the link we sent to "
                "%(email)s, then accept the invitation."
            )
            % {"email": actor.email},
            code="email_not_verified",
        )
    if invitation.email.lower() != actor.email.lower():
        raise PermissionDenied(
            _(
                "This invitation was sent to another e-mail address. Sign in with "
                "the account of %(email)s to accept it."
            )
            % {"email": invitation.email},
        )
    if Membership.objects.filter(user=actor, organization=organization).exists():
        raise Conflict(_("You are already a member of this organisation."))
    membership = Membership.objects.create(
        user=actor, organization=organization, role=invitation.role
    )
    Invitation.objects.filter(pk=invitation.pk).update(
        state=Invitation.State.ACCEPTED, accepted_by=actor, closed_at=timezone.now()
    )
    _event(
        organization=organization,
        actor=actor,
        action=OrganizationEvent.Action.MEMBER_JOINED,
        user=actor.username,
        role=invitation.role,
    )
    return membership


@transaction.atomic
def membership_add(
    *, organization: Organization, user: User, role: str, actor: User | None = None
) -> Membership:
    """Add a member directly, without an invitation: for the platform's own tooling
    (the demo data set, the operators). The role rules still hold."""
    organization = _lock(organization)
    _check_role(organization=organization, role=role)
    if Membership.objects.filter(user=user, organization=organization).exists():
        raise Conflict(_("%(user)s is already a member.") % {"user": user.username})
    membership = Membership.objects.create(
        user=user, organization=organization, role=role
    )
    _event(
        organization=organization,
        actor=actor,
        action=OrganizationEvent.Action.MEMBER_JOINED,
        user=user.username,
        role=role,
    )
    return membership


def _keep_an_owner(*, membership: Membership, organization: Organization) -> None:
    """Refuse to take away the last owner (call with the organisation locked)."""
    if (
        membership.role == Role.OWNER
        and Membership.objects.filter(
            organization=organization, role=Role.OWNER
        ).count()
        == 1
    ):
        raise Conflict(
            _(
                "An organisation must keep at least one owner: make someone else "
                "owner first."
            )
        )


@transaction.atomic
def membership_remove(*, actor: User, membership: Membership) -> None:
    organization = _lock(membership.organization)
    membership = _current(membership)
    leaving = membership.user_id == actor.pk
    if not leaving:
        actor_role = membership_role(user=actor, organization=organization)
        if actor_role not in MANAGER_ROLES:
            raise PermissionDenied(
                _("Only owners and administrators can remove members.")
            )
        if membership.role in MANAGER_ROLES and actor_role != Role.OWNER:
            raise PermissionDenied(
                _("Only owners can remove owners and administrators.")
            )
    _keep_an_owner(membership=membership, organization=organization)
    membership.delete()
    _event(
        organization=organization,
        actor=actor,
        action=(
            OrganizationEvent.Action.MEMBER_LEFT
            if leaving
            else OrganizationEvent.Action.MEMBER_REMOVED
        ),
        user=membership.user.username,
        role=membership.role,
    )


@transaction.atomic
def membership_change_role(
    *, actor: User, membership: Membership, role: str
) -> Membership:
    organization = _lock(membership.organization)
    membership = _current(membership)
    if membership_role(user=actor, organization=organization) != Role.OWNER:
        raise PermissionDenied(_("Only owners can change roles."))
    _check_role(organization=organization, role=role)
    if membership.role == role:
        return membership
    _keep_an_owner(membership=membership, organization=organization)
    previous = membership.role
    membership.role = role
    membership.save(update_fields=["role"])
    _event(
        organization=organization,
        actor=actor,
        action=OrganizationEvent.Action.ROLE_CHANGED,
        user=membership.user.username,
        **{"from": previous, "to": role},
    )
    return membership


@transaction.atomic
def invitation_expire_due() -> int:
    """Close the pending invitations whose time has run out. Returns how many."""
    now = timezone.now()
    due = list(
        Invitation.objects.select_for_update(skip_locked=True)
        .filter(state=Invitation.State.PENDING, expires_at__lte=now)
        .order_by("pk")
        .values_list("pk", "organization_id", "email")[:1000]
    )
    if not due:
        return 0
    Invitation.objects.filter(
        pk__in=[pk for pk, _org, _email in due], state=Invitation.State.PENDING
    ).update(state=Invitation.State.EXPIRED, closed_at=now)
    OrganizationEvent.objects.bulk_create(
        OrganizationEvent(
            organization_id=organization_id,
            action=OrganizationEvent.Action.INVITATION_EXPIRED,
            payload={"email": email},
        )
        for _pk, organization_id, email in due
    )
    return len(due)


@transaction.atomic
def publisher_key_add(
    *, actor: User, organization: Organization, public_key: str, label: str = ""
) -> PublisherKey:
    """Register an Ed25519 public key (32 bytes, base64url, as a JWK's ``x``)."""
    if not organization_can_manage(user=actor, organization=organization):
        raise PermissionDenied(_("Only owners and administrators manage keys."))
    try:
        raw = b64url_decode(public_key.strip())
    except ValueError:
        raw = b""
    if len(raw) != 32:
        message = _("An Ed25519 public key is 32 bytes, written in base64url.")
        raise ApplicationError(message, details={"public_key": [message]})
    x = b64url(raw)
    key = PublisherKey(
        organization=organization, kid=okp_thumbprint(x), public_key=x, label=label
    )
    key.full_clean()
    insert_unique(key, field="public_key", message=_("This key is registered already."))
    _event(
        organization=organization,
        actor=actor,
        action=OrganizationEvent.Action.KEY_ADDED,
        kid=key.kid,
    )
    return key


@transaction.atomic
def publisher_key_revoke(*, actor: User, key: PublisherKey) -> PublisherKey:
    if not organization_can_manage(user=actor, organization=key.organization):
        raise PermissionDenied(_("Only owners and administrators manage keys."))
    revoked = PublisherKey.objects.filter(pk=key.pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
    if not revoked:
        raise Conflict(_("This key is revoked already."))
    _event(
        organization=key.organization,
        actor=actor,
        action=OrganizationEvent.Action.KEY_REVOKED,
        kid=key.kid,
    )
    key.refresh_from_db()
    return key


@transaction.atomic
def organization_set_registration(
    *, actor: User, organization: Organization, country: str, number: str
) -> Organization:
    """Record the organisation's business registration. A Chinese registration is
    the 18-character unified social credit code, checked by its check digit. A
    change withdraws the operator's verification until it is checked again."""
    organization = _lock(organization)
    if not organization_can_manage(user=actor, organization=organization):
        raise PermissionDenied(
            _("Only owners and administrators can change the organisation.")
        )
    country = country.strip().upper()
    if len(country) != 2 or not country.isalpha():
        message = _("Use a two-letter country code, such as CN.")
        raise ApplicationError(message, details={"country": [message]})
    number = normalise_uscc(number) if country == "CN" else number.strip()
    if country == "CN" and not uscc_valid(number):
        message = _(
            "This is not a valid unified social credit code: 18 characters whose "
            "last is the check digit."
        )
        raise ApplicationError(message, details={"number": [message]})
    if not number or len(number) > 50:
        message = _("Give the registration number (at most 50 characters).")
        raise ApplicationError(message, details={"number": [message]})
    changed = (country, number) != (
        organization.registration_country,
        organization.registration_number,
    )
    if changed:
        Organization.objects.filter(pk=organization.pk).update(
            registration_country=country,
            registration_number=number,
            verified_at=None,
            verified_by=None,
        )
        _event(
            organization=organization,
            actor=actor,
            action=OrganizationEvent.Action.REGISTRATION_CHANGED,
            country=country,
        )
    organization.refresh_from_db()
    return organization


@transaction.atomic
def organization_verify(*, actor: User, organization: Organization) -> Organization:
    """The operator confirms, after checking the business registration, that the
    organisation is who it says it is."""
    if not is_operator(actor):
        raise PermissionDenied(_("Only the platform operator verifies organisations."))
    organization = _lock(organization)
    if not organization.registration_number:
        raise Conflict(_("The organisation has given no registration number yet."))
    Organization.objects.filter(pk=organization.pk).update(
        verified_at=timezone.now(), verified_by=actor
    )
    _event(
        organization=organization,
        actor=actor,
        action=OrganizationEvent.Action.VERIFIED,
        country=organization.registration_country,
    )
    organization.refresh_from_db()
    return organization


@transaction.atomic
def organization_set_credit_grade(*, organization_id: int, grade: str) -> None:
    """Record the grade of the organisation's latest published credit rating, as
    the ratings app decides it: the store shows it and search filters by its rank
    (a provisional grade, not on the store's scale, has no rank)."""
    rank = grade_rank(grade) if grade in GRADES else None
    Organization.objects.filter(pk=organization_id).update(
        credit_grade=grade[:8], credit_grade_rank=rank
    )


CREDIT_MEASURE_FIELDS = frozenset(
    {
        "credit_outlook",
        "credit_on_watch",
        "dishonesty_listed",
        "store_downranked",
        "publishing_restriction",
        "credit_suspended",
        "credit_badge",
        "fast_track_review",
    }
)


@transaction.atomic
def organization_set_credit_measures(*, organization_id: int, **measures: Any) -> None:
    """Record what the organisation's credit standing calls for, as the ratings app
    decides it from its published ratings, watches and sanctions in force: its
    outlook, whether it is on watch or on the dishonesty list, store downranking,
    a publishing restriction (``""``, ``"review"`` or ``"blocked"``), suspension,
    and the incentives of a top grade. The store applies them: search order, the
    publishing checks, listing visibility and the marks on its pages. Fields not
    given keep their value."""
    unknown = set(measures) - CREDIT_MEASURE_FIELDS
    if unknown:
        raise ValueError(f"not credit measures: {sorted(unknown)}")
    restriction = measures.get("publishing_restriction")
    if restriction is not None and (
        restriction not in Organization.PublishingRestriction.values
    ):
        raise ValueError(f"unknown publishing restriction {restriction!r}")
    if measures:
        Organization.objects.filter(pk=organization_id).update(**measures)
