"""Reads of installs: a user's installs and their grants, the permissions a version
asks for, what an update would change, and what a token may still do."""

import uuid
from dataclasses import dataclass
from typing import Any, TypedDict

from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.db.models import Prefetch, QuerySet

from marketplace.exceptions import NotFound
from marketplace.models import Agent, AgentVersion, Grant, Install, Membership, User
from marketplace.tokens import install_token_verify

# From the least to the most the agent may do on its own.
AUTHORITIES = ("user_only", "user_authorised", "autonomous")
AUTHORITY_RANK = {authority: rank for rank, authority in enumerate(AUTHORITIES)}

# The minimum age of each age rating.
MINIMUM_AGE: dict[str, int] = {
    Agent.AgeRating.ALL: 0,
    Agent.AgeRating.AGE_12: 12,
    Agent.AgeRating.AGE_16: 16,
    Agent.AgeRating.AGE_18: 18,
}


@dataclass(frozen=True)
class Permission:
    """One permission a declaration asks for."""

    scope: str
    purpose: str
    authority: str
    required: bool


def declared_permissions(version: AgentVersion) -> list[Permission]:
    """The permissions of the version's declaration, in its order (``required``
    defaults to true, as the schema says)."""
    permissions = version.declaration.get("permissions", [])
    return [
        Permission(
            scope=str(item["scope"]),
            purpose=str(item.get("purpose", "")),
            authority=str(item.get("authority", "autonomous")),
            required=bool(item.get("required", True)),
        )
        for item in permissions
        if isinstance(item, dict) and "scope" in item
    ]


def live_grants_prefetch() -> Prefetch[Any]:
    """Prefetches an install's live grants, by scope, as ``live_grants``."""
    return Prefetch(
        "grants",
        queryset=Grant.objects.filter(revoked_at=None).order_by("scope"),
        to_attr="live_grants",
    )


def install_list(*, user: User) -> QuerySet[Install]:
    """The user's installs, active ones first, each with its live grants (as
    ``live_grants``), its agent, version and the agent's latest version: three
    queries for a page of any size (count, rows, grants)."""
    return (
        Install.objects.filter(user=user)
        .select_related(
            "agent__publisher", "agent__latest_version", "version", "agent__domain"
        )
        .prefetch_related(live_grants_prefetch())
        .order_by("state", "-created_at", "-id")
    )


def install_get(*, user: User, public_id: uuid.UUID | str) -> Install:
    """One of the user's installs, with its live grants; another user's is not
    found."""
    install = install_list(user=user).filter(public_id=public_id).first()
    if install is None:
        raise NotFound()
    return install


def install_active_for_agent(*, user: User, agent: Agent) -> Install | None:
    return (
        Install.objects.filter(user=user, agent=agent, state=Install.State.ACTIVE)
        .select_related("version")
        .first()
    )


def pending_version(install: Install) -> AgentVersion | None:
    """The agent's latest version when the install is still on an older one."""
    latest = install.agent.latest_version
    if (
        install.state != Install.State.ACTIVE
        or latest is None
        or latest.pk == install.version_id
    ):
        return None
    return latest


def age_of(user: User, *, year: int) -> int | None:
    """The user's age by the year of birth they declared (None when they did not)."""
    return None if user.birth_year is None else year - user.birth_year


@dataclass(frozen=True)
class ConsentRow:
    """A permission of the version the user is asked to consent to, and how it
    stands against what they granted."""

    permission: Permission
    granted: bool  # live now
    # Granted now, but the new version lets the agent do more on its own with it.
    authority_raised: bool
    new: bool  # not asked for by the version the install is on

    @property
    def needs_consent(self) -> bool:
        return (self.permission.required and not self.granted) or self.authority_raised


def consent_rows(
    *, install: Install | None, version: AgentVersion
) -> tuple[list[ConsentRow], list[Grant]]:
    """The permissions of ``version`` against the install's live grants (all new
    for a first install), and the live grants the version no longer asks for (they
    will be revoked). ``install`` must come with ``live_grants``."""
    live: dict[str, Grant] = (
        {grant.scope: grant for grant in install.live_grants}  # type: ignore[attr-defined]  # prefetched to_attr
        if install is not None
        else {}
    )
    before = (
        {p.scope for p in declared_permissions(install.version)}
        if install is not None
        else set()
    )
    permissions = declared_permissions(version)
    rows = [
        ConsentRow(
            permission=permission,
            granted=permission.scope in live,
            authority_raised=(
                permission.scope in live
                and AUTHORITY_RANK.get(permission.authority, len(AUTHORITIES))
                > AUTHORITY_RANK.get(live[permission.scope].authority, 0)
            ),
            new=permission.scope not in before,
        )
        for permission in permissions
    ]
    declared = {permission.scope for permission in permissions}
    dropped = [grant for scope, grant in sorted(live.items()) if scope not in declared]
    return rows, dropped


# --- Introspection (RFC 7662) -----------------------------------------------------


class Introspection(TypedDict, total=False):
    active: bool
    scope: str
    client_id: str
    aud: str
    sub: str
    iss: str
    exp: int
    iat: int
    jti: str
    token_type: str
    install_id: str
    scopes: dict[str, bool]
    daily_use_reminder: int


INACTIVE: Introspection = {"active": False}


def install_token_introspect(
    *, caller: AbstractBaseUser | AnonymousUser, token: str
) -> Introspection:
    """What a token may do now, for a member of the publisher of the token's agent;
    ``{"active": false}`` for anyone else and for a token that is forged, expired,
    of an uninstalled install or of another agent. Scopes are read from the
    database at each call: a revocation shows at once."""
    claims = install_token_verify(token)
    if claims is None or not isinstance(caller, User):
        return INACTIVE
    try:
        public_id = uuid.UUID(claims["install_id"])
    except ValueError:
        return INACTIVE
    install = (
        Install.objects.select_related("agent__publisher")
        .filter(public_id=public_id, state=Install.State.ACTIVE)
        .first()
    )
    if (
        install is None
        or install.agent.identifier != claims["aud"]
        or not Membership.objects.filter(
            user=caller, organization_id=install.agent.publisher_id
        ).exists()
    ):
        return INACTIVE
    live = set(
        Grant.objects.filter(install=install, revoked_at=None).values_list(
            "scope", flat=True
        )
    )
    carried = claims["scope"].split()
    answer: Introspection = {
        "active": True,
        "scope": " ".join(scope for scope in carried if scope in live),
        "client_id": claims["aud"],
        "aud": claims["aud"],
        "sub": claims["sub"],
        "iss": claims["iss"],
        "exp": claims["exp"],
        "iat": claims["iat"],
        "jti": claims["jti"],
        "token_type": "Bearer",
        "install_id": claims["install_id"],
        "scopes": {scope: scope in live for scope in carried},
    }
    # The user's daily-use reminder, as the token carries it.
    if "daily_use_reminder" in claims:
        answer["daily_use_reminder"] = claims["daily_use_reminder"]
    return answer
