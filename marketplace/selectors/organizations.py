from collections.abc import Collection

from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.db.models import Count, Q, QuerySet

from marketplace.exceptions import PermissionDenied
from marketplace.models import (
    Invitation,
    Membership,
    Organization,
    OrganizationEvent,
    User,
)

# Owners and administrators manage members and invitations.
MANAGER_ROLES = frozenset({Membership.Role.OWNER, Membership.Role.ADMIN})


def organization_list(
    *, kind: str | None = None, q: str | None = None
) -> QuerySet[Organization]:
    """The public directory of organisations, with their member counts."""
    organizations = Organization.objects.annotate(member_count=Count("memberships"))
    if kind:
        organizations = organizations.filter(kind=kind)
    if q:
        organizations = organizations.filter(
            Q(name__icontains=q) | Q(slug__icontains=q)
        )
    return organizations.order_by("name", "pk")


def organization_get(*, slug: str) -> Organization | None:
    return Organization.objects.filter(slug=slug).first()


def membership_get(
    *, user: AbstractBaseUser | AnonymousUser, organization: Organization
) -> Membership | None:
    if not isinstance(user, User):
        return None
    return Membership.objects.filter(user=user, organization=organization).first()


def membership_role(*, user: User, organization: Organization) -> str | None:
    """The user's role in the organisation, or None for a non-member."""
    return (
        Membership.objects.filter(user=user, organization=organization)
        .values_list("role", flat=True)
        .first()
    )


def organization_can_manage(
    *, user: AbstractBaseUser | AnonymousUser, organization: Organization
) -> bool:
    """Whether the user is one of the organisation's owners and administrators,
    who manage its members, keys, details and domain."""
    if not isinstance(user, User):
        return False
    return membership_role(user=user, organization=organization) in MANAGER_ROLES


def organization_domain_claim_get(
    *, actor: AbstractBaseUser | AnonymousUser, organization: Organization
) -> Organization | None:
    """The organisation's domain claim with its secret token (the organisation
    itself), for its owners and administrators; None for anyone else, who sees only
    a verified domain (``Organization.verified_domain``)."""
    if not organization_can_manage(user=actor, organization=organization):
        return None
    return organization


def membership_list_for_user(*, user: User) -> QuerySet[Membership]:
    """The organisations a user belongs to, with the user's role in each."""
    return (
        Membership.objects.filter(user=user)
        .select_related("organization")
        .order_by("organization__name", "pk")
    )


def membership_list(*, organization: Organization, actor: User) -> QuerySet[Membership]:
    """An organisation's members: visible to its members only."""
    if membership_get(user=actor, organization=organization) is None:
        raise PermissionDenied()
    return (
        Membership.objects.filter(organization=organization)
        .select_related("user")
        .order_by("user__username", "pk")
    )


def invitation_list_pending(
    *, organization: Organization, actor: User
) -> QuerySet[Invitation]:
    """Pending invitations, with the invitees' addresses: for owners and
    administrators only."""
    membership = membership_get(user=actor, organization=organization)
    if membership is None or membership.role not in MANAGER_ROLES:
        raise PermissionDenied()
    return (
        Invitation.objects.filter(
            organization=organization, state=Invitation.State.PENDING
        )
        .select_related("invited_by")
        .order_by("-created_at", "pk")
    )


def invitation_list_for_user(*, user: User) -> QuerySet[Invitation]:
    """Pending invitations addressed to the user's e-mail address, once the user has
    shown that the address is theirs."""
    if not user.email_verified:
        return Invitation.objects.none()
    return (
        Invitation.objects.filter(
            email__iexact=user.email, state=Invitation.State.PENDING
        )
        .select_related("organization")
        .order_by("-created_at", "pk")
    )


def organization_event_list(
    *, organization: Organization, actor: User, limit: int = 20
) -> QuerySet[OrganizationEvent]:
    """The latest entries of an organisation's audit trail: for its members."""
    if membership_get(user=actor, organization=organization) is None:
        raise PermissionDenied()
    return OrganizationEvent.objects.filter(organization=organization).select_related(
        "actor"
    )[:limit]


OPERATOR_STAFF_ROLES = (
    Membership.Role.OWNER,
    Membership.Role.ADMIN,
    Membership.Role.REVIEWER,
)


def is_operator(user: User, *, roles: Collection[str] = OPERATOR_STAFF_ROLES) -> bool:
    """Staff, or a member of the platform operator in one of ``roles`` (by default
    its owners, administrators and reviewers)."""
    return (
        user.is_staff
        or Membership.objects.filter(
            user=user, organization__kind=Organization.Kind.OPERATOR, role__in=roles
        ).exists()
    )
