"""Installs, with the user's informed consent.

The rules, in one place:

- A user with a confirmed e-mail address installs a listed agent (published, not
  quarantined) once at a time, if the age they declared reaches its age rating.
- They grant every required scope of the latest published version and choose the
  optional ones; the install records the version, a consent receipt, one grant per
  scope and an event. Nothing else is ever granted without a new consent.
- The runtime proves the install with a short-lived token (``marketplace.tokens``)
  that it refreshes with the install's secret; a token carries the scopes live when
  it was issued, and introspection says which are live now.
- A consent holds for the declaration the user was shown: when the agent's latest
  version changed meanwhile, it is refused and the user reviews the permissions
  again.
- A new version whose required scopes the grants already cover (and that lets the
  agent do no more on its own) moves the install along; otherwise the install stays
  on its version and the user is asked to consent. Scopes the new version no longer
  asks for are revoked, and those whose authority it lowers are held with the lower
  one. This runs in the background, in batches, once the version is published.
- A new version whose pricing is worse (``marketplace.pricing.pricing_worse``) is
  asked about like a new permission: the install stays on the version (and the
  pricing) the user accepted until they consent again. Each receipt keeps the
  pricing consented to.
- The user revokes any scope at any time and uninstalls; both take effect at once.
"""

import hashlib
import hmac
import secrets
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from marketplace.care import daily_use_reminder, ensure_autonomous_confirmed
from marketplace.exceptions import (
    Conflict,
    InstallNotAllowed,
    InvalidConsent,
    InvalidRefreshSecret,
    NotFound,
)
from marketplace.models import (
    Agent,
    AgentVersion,
    ConsentReceipt,
    Grant,
    Install,
    InstallEvent,
    Notification,
    User,
)
from marketplace.pricing import PricingChange, pricing_worse
from marketplace.selectors.installs import (
    AUTHORITY_RANK,
    MINIMUM_AGE,
    Permission,
    age_of,
    consent_rows,
    declared_permissions,
    live_grants_prefetch,
)
from marketplace.services.agreements import agreements_ensure_accepted
from marketplace.services.notifications import notification_create
from marketplace.tokens import IssuedToken, install_token_issue

State = Install.State


@dataclass(frozen=True)
class InstallResult:
    """A new install, with the secret its runtime refreshes tokens with (shown this
    once: only its digest is kept) and a first token."""

    install: Install
    refresh_secret: str
    token: IssuedToken


def _event(
    *, install: Install, actor: User | None, action: str, **payload: Any
) -> None:
    InstallEvent.objects.create(
        install=install, actor=actor, action=action, payload=payload
    )


def secret_digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _live_scopes(install: Install) -> list[str]:
    return list(
        Grant.objects.filter(install=install, revoked_at=None)
        .order_by("scope")
        .values_list("scope", flat=True)
    )


def _token(install: Install, scopes: list[str]) -> IssuedToken:
    return install_token_issue(
        install_id=str(install.public_id),
        audience=install.agent.identifier,
        scopes=scopes,
        daily_use_reminder_minutes=daily_use_reminder(install.user),
    )


def install_check_allowed(
    *, user: User, agent: Agent, new_install: bool = True
) -> None:
    """Refuses (with the reason, for the user) when ``user`` may not install
    ``agent``: an unconfirmed e-mail address, an agent not in the store, a new
    install of an agent whose publisher is suspended by a credit sanction, or an
    age rating above the age the user declared. ``new_install`` is False for an
    install moving to a newer version: the suspension leaves existing installs
    working."""
    if not user.email_verified:
        raise InstallNotAllowed(
            _(
                "Confirm your e-mail address first: open the link we sent to "
                "%(email)s, then install the agent."
            )
            % {"email": user.email},
            code="email_not_verified",
        )
    if not agent.is_listed:
        raise Conflict(
            _(
                "This agent is not in the store at the moment, so it cannot be "
                "installed."
            ),
            code="agent_not_installable",
        )
    if new_install and agent.publisher.credit_suspended:
        raise Conflict(
            _(
                "%(publisher)s is suspended by a credit sanction, so its agents "
                "cannot be installed for now. Existing installs keep working."
            )
            % {"publisher": agent.publisher.name},
            code="publisher_suspended",
        )
    minimum = MINIMUM_AGE.get(agent.age_rating, 18)
    if not minimum:
        return
    age = age_of(user, year=timezone.localdate().year)
    if age is None:
        raise InstallNotAllowed(
            _(
                "This agent is rated %(rating)s. Declare your year of birth on your "
                "profile to install it."
            )
            % {"rating": agent.get_age_rating_display()},
            code="birth_year_missing",
        )
    if age < minimum:
        raise InstallNotAllowed(
            _(
                "This agent is rated %(rating)s: by the year of birth you declared, "
                "you are not old enough to install it."
            )
            % {"rating": agent.get_age_rating_display()},
            code="age_rating",
        )


def _ensure_version_shown(
    *, version: AgentVersion, declaration_digest: str | None
) -> None:
    """Refuses a consent given to another declaration than ``version``'s: the user
    (or the API client) saw the permissions of a version that is no longer the one
    that would be granted. Without a digest (an API client that sends none) there
    is nothing to compare."""
    if declaration_digest is None or declaration_digest == version.declaration_digest:
        return
    raise Conflict(
        _(
            "The agent changed since you opened this page: version %(version)s asks "
            "for permissions you have not seen. Review the permissions again before "
            "you agree."
        )
        % {"version": version.version},
        code="agent_changed",
    )


def _choose(
    permissions: list[Permission], granted_scopes: Iterable[str]
) -> tuple[list[str], list[str]]:
    """The scopes granted and declined, in the declaration's order; refuses scopes
    the declaration does not ask for and required scopes left out."""
    chosen = set(granted_scopes)
    declared = {permission.scope for permission in permissions}
    unknown = sorted(chosen - declared)
    if unknown:
        message = _("The agent does not ask for %(scopes)s.") % {
            "scopes": ", ".join(unknown)
        }
        raise InvalidConsent(
            message, code="unknown_scope", details={"scopes": [message]}
        )
    missing = [p.scope for p in permissions if p.required and p.scope not in chosen]
    if missing:
        message = _(
            "The agent cannot work without %(scopes)s: grant every required "
            "permission, or do not install it."
        ) % {"scopes": ", ".join(missing)}
        raise InvalidConsent(
            message, code="required_scope_missing", details={"scopes": [message]}
        )
    granted = [p.scope for p in permissions if p.scope in chosen]
    declined = [p.scope for p in permissions if p.scope not in chosen]
    return granted, declined


def _receipt(
    *,
    install: Install,
    version: AgentVersion,
    agent: Agent,
    granted: list[str],
    declined: list[str],
    autonomous_confirmed: bool = False,
) -> ConsentReceipt:
    return ConsentReceipt.objects.create(
        install=install,
        version=version,
        declaration_digest=version.declaration_digest,
        granted=granted,
        declined=declined,
        terms_url=agent.terms_url,
        privacy_policy_url=agent.privacy_policy_url,
        autonomous_confirmed=autonomous_confirmed,
        # The pricing the user was shown and accepted with this consent.
        pricing=version.declaration.get("pricing") or {},
    )


def _grant(
    *,
    install: Install,
    receipt: ConsentReceipt,
    permissions: list[Permission],
    scopes: Iterable[str],
) -> None:
    authority = {p.scope: p.authority for p in permissions}
    Grant.objects.bulk_create(
        Grant(install=install, scope=scope, authority=authority[scope], receipt=receipt)
        for scope in scopes
    )


@transaction.atomic
def install_create(
    *,
    user: User,
    agent: Agent,
    granted_scopes: Iterable[str],
    declaration_digest: str | None = None,
    autonomous_confirmed: bool = False,
) -> InstallResult:
    """Install the latest published version of ``agent`` for ``user``, granting
    ``granted_scopes`` (every required scope, and the optional ones chosen).
    ``declaration_digest`` is that of the version whose permissions the user was
    shown: the consent holds only for it. A minor or a user in the elder-friendly
    mode grants scopes that let the agent act on its own only with
    ``autonomous_confirmed`` (their second confirmation)."""
    agreements_ensure_accepted(user=user)
    agent = Agent.objects.select_related("publisher", "latest_version").get(pk=agent.pk)
    install_check_allowed(user=user, agent=agent)
    version = agent.latest_version
    assert version is not None  # a listed agent has one  # noqa: S101
    _ensure_version_shown(version=version, declaration_digest=declaration_digest)
    permissions = declared_permissions(version)
    granted, declined = _choose(permissions, granted_scopes)
    ensure_autonomous_confirmed(
        user=user,
        permissions=permissions,
        granted=granted,
        confirmed=autonomous_confirmed,
    )
    already = _("You have installed this agent already; manage it under My installs.")
    if Install.objects.filter(user=user, agent=agent, state=State.ACTIVE).exists():
        raise Conflict(already, code="already_installed")
    refresh_secret = secrets.token_urlsafe(32)
    install = Install(
        user=user,
        agent=agent,
        version=version,
        refresh_secret_hash=secret_digest(refresh_secret),
    )
    try:
        with transaction.atomic():
            install.save(force_insert=True)
    except IntegrityError:  # a concurrent install won the race
        raise Conflict(already, code="already_installed") from None
    receipt = _receipt(
        install=install,
        version=version,
        agent=agent,
        granted=granted,
        declined=declined,
        autonomous_confirmed=autonomous_confirmed,
    )
    _grant(install=install, receipt=receipt, permissions=permissions, scopes=granted)
    _event(
        install=install,
        actor=user,
        action="installed",
        version=version.version,
        granted=granted,
        declined=declined,
    )
    Agent.objects.filter(pk=agent.pk).update(install_count=F("install_count") + 1)
    return InstallResult(
        install=install,
        refresh_secret=refresh_secret,
        token=_token(install, granted),
    )


def install_token_refresh(*, install_id: str, refresh_secret: str) -> IssuedToken:
    """A new token for an active install, carrying the scopes live now. The caller
    proves the install with its secret; whether the install is unknown, the secret
    wrong or the install gone is not told apart."""
    install: Install | None = None
    try:
        public_id = uuid.UUID(str(install_id))
    except ValueError:
        public_id = None
    if public_id is not None:
        install = (
            Install.objects.select_related("agent__publisher", "user")
            .filter(public_id=public_id)
            .first()
        )
    expected = install.refresh_secret_hash if install is not None else "0" * 64
    matches = hmac.compare_digest(secret_digest(refresh_secret), expected)
    if install is None or not matches or install.state != State.ACTIVE:
        raise InvalidRefreshSecret(
            _(
                "The install id or its refresh secret is not valid, or the agent was "
                "uninstalled."
            )
        )
    return _token(install, _live_scopes(install))


def _own_active_install(*, actor: User, install: Install) -> Install:
    """The install, locked, if it is the actor's (another user's is not found) and
    still installed."""
    locked = (
        Install.objects.select_for_update().filter(pk=install.pk, user=actor).first()
    )
    if locked is None:
        raise NotFound()
    if locked.state != State.ACTIVE:
        raise Conflict(
            _("This agent is uninstalled; it holds no permissions any more."),
            code="uninstalled",
        )
    return locked


@transaction.atomic
def grant_revoke(*, actor: User, install: Install, scope: str) -> Grant:
    """Take one scope away from the install, at once. A required scope may go too:
    the agent then works without it (or not at all)."""
    install = _own_active_install(actor=actor, install=install)
    grant = Grant.objects.filter(install=install, scope=scope, revoked_at=None).first()
    if grant is None:
        raise NotFound(
            _("The agent holds no permission %(scope)s.") % {"scope": scope},
            code="scope_not_granted",
        )
    now = timezone.now()
    Grant.objects.filter(pk=grant.pk, revoked_at=None).update(revoked_at=now)
    grant.revoked_at = now
    required = any(
        p.scope == scope and p.required
        for p in declared_permissions(AgentVersion.objects.get(pk=install.version_id))
    )
    _event(
        install=install,
        actor=actor,
        action="scope_revoked",
        scope=scope,
        required=required,
    )
    return grant


@transaction.atomic
def install_uninstall(*, actor: User, install: Install) -> Install:
    """Uninstall: every grant is revoked and the install's tokens stop working at
    once."""
    install = _own_active_install(actor=actor, install=install)
    now = timezone.now()
    Install.objects.filter(pk=install.pk, state=State.ACTIVE).update(
        state=State.UNINSTALLED, uninstalled_at=now, updated_at=now
    )
    revoked = _live_scopes(install)
    Grant.objects.filter(install=install, revoked_at=None).update(revoked_at=now)
    Agent.objects.filter(pk=install.agent_id, install_count__gt=0).update(
        install_count=F("install_count") - 1
    )
    _event(install=install, actor=actor, action="uninstalled", revoked=revoked)
    install.refresh_from_db()
    return install


@transaction.atomic
def install_consent(
    *,
    actor: User,
    install: Install,
    granted_scopes: Iterable[str],
    declaration_digest: str | None = None,
    autonomous_confirmed: bool = False,
) -> Install:
    """Consent to the agent's latest published version: a new receipt, grants for
    the scopes newly chosen (and for those whose authority changed), revocation of
    the scopes declined or no longer asked for, and the install moves to the
    version. The user must still be allowed to install the agent (a confirmed
    e-mail address, old enough for its age rating, which may have been raised), and
    ``declaration_digest`` is that of the version whose permissions they were
    shown. A minor or a user in the elder-friendly mode keeps or grants scopes that
    let the agent act on its own only with ``autonomous_confirmed``."""
    agreements_ensure_accepted(user=actor)
    install = _own_active_install(actor=actor, install=install)
    agent = Agent.objects.select_related("publisher", "latest_version").get(
        pk=install.agent_id
    )
    install_check_allowed(user=actor, agent=agent, new_install=False)
    version = agent.latest_version
    assert version is not None  # a listed agent has one  # noqa: S101
    _ensure_version_shown(version=version, declaration_digest=declaration_digest)
    previous = AgentVersion.objects.get(pk=install.version_id)
    # Pricing worse than the one the user is on is agreed to only once it was shown:
    # the digest says which version's terms (pricing included) they saw.
    if declaration_digest is None and pricing_worse(
        previous.declaration.get("pricing"), version.declaration.get("pricing")
    ):
        message = _(
            "Version %(version)s costs more than the version in use: show the user "
            "its pricing and send the declaration_digest of the version they were "
            "shown."
        ) % {"version": version.version}
        raise InvalidConsent(
            message,
            code="pricing_not_shown",
            details={"declaration_digest": [message]},
        )
    permissions = declared_permissions(version)
    granted, declined = _choose(permissions, granted_scopes)
    ensure_autonomous_confirmed(
        user=actor,
        permissions=permissions,
        granted=granted,
        confirmed=autonomous_confirmed,
    )
    authority = {p.scope: p.authority for p in permissions}
    live = {
        grant.scope: grant
        for grant in Grant.objects.filter(install=install, revoked_at=None)
    }
    # Kept as they are: chosen again with the same authority. Everything else live
    # is revoked, and what is chosen and not kept is granted anew.
    kept = {
        scope
        for scope in granted
        if scope in live and live[scope].authority == authority[scope]
    }
    revoked = sorted(scope for scope in live if scope not in kept)
    now = timezone.now()
    Grant.objects.filter(install=install, revoked_at=None, scope__in=revoked).update(
        revoked_at=now
    )
    receipt = _receipt(
        install=install,
        version=version,
        agent=agent,
        granted=granted,
        declined=declined,
        autonomous_confirmed=autonomous_confirmed,
    )
    _grant(
        install=install,
        receipt=receipt,
        permissions=permissions,
        scopes=[scope for scope in granted if scope not in kept],
    )
    Install.objects.filter(pk=install.pk).update(version=version, updated_at=now)
    _event(
        install=install,
        actor=actor,
        action="consented",
        from_version=previous.version,
        to_version=version.version,
        granted=granted,
        declined=declined,
        revoked=revoked,
    )
    install.refresh_from_db()
    return install


# Installs processed in one transaction when a version is published.
FOLLOW_BATCH_SIZE = 500


def installs_follow_version(*, version_id: int) -> int:
    """After a version is published: move along the agent's active installs whose
    grants already cover it, and ask the users of the others to consent, a batch at
    a time, each batch in its own transaction. Idempotent: an install already on
    the version is not touched again, and a user already asked about the version is
    not asked twice. Returns how many installs were moved or asked."""
    version = (
        AgentVersion.objects.select_related("agent__publisher")
        .filter(pk=version_id)
        .first()
    )
    if version is None or version.agent.latest_version_id != version.pk:
        # Gone, or superseded: the newer version's run does the work.
        return 0
    done = 0
    after = 0
    while True:
        batch = list(
            Install.objects.filter(
                agent_id=version.agent_id, state=State.ACTIVE, pk__gt=after
            )
            .exclude(version_id=version.pk)
            .order_by("pk")
            .values_list("pk", flat=True)[:FOLLOW_BATCH_SIZE]
        )
        if not batch:
            return done
        followed = _follow_batch(version=version, install_ids=batch)
        if followed is None:
            return done
        done += followed
        after = batch[-1]


@dataclass(frozen=True)
class _Lowered:
    grant: Grant
    to: str


@transaction.atomic
def _follow_batch(*, version: AgentVersion, install_ids: list[int]) -> int | None:
    """One batch of ``installs_follow_version``: a constant number of queries for
    the installs that move, and one notification for each user asked. None when
    the version is no longer the latest."""
    agent = version.agent
    # Locked, so that a consent given meanwhile and this batch do not interleave;
    # those that moved on or were uninstalled since the batch was read are skipped.
    installs = list(
        Install.objects.select_for_update(of=("self",))
        .filter(pk__in=install_ids, state=State.ACTIVE)
        .exclude(version_id=version.pk)
        .select_related("user", "version")
        .prefetch_related(live_grants_prefetch())
        .order_by("pk")
    )
    # Checked with the installs locked: a newer version's run that got to them
    # first committed before this reads, and a later one waits for this batch.
    # Either way no install is moved back to an older version.
    if not Agent.objects.filter(
        pk=version.agent_id, latest_version_id=version.pk
    ).exists():
        return None
    asked_before = set(
        InstallEvent.objects.filter(
            install__in=installs,
            action="consent_requested",
            payload__version_id=version.pk,
        ).values_list("install_id", flat=True)
    )
    moved: list[Install] = []
    dropped: list[Grant] = []
    lowered: list[_Lowered] = []
    events: list[InstallEvent] = []
    asked = 0
    for install in installs:
        rows, no_longer_asked = consent_rows(install=install, version=version)
        more_scopes = any(row.needs_consent for row in rows)
        # Pricing worse than that of the version the user is on waits for their
        # consent too: until they accept, they stay on the terms they accepted.
        pricier = pricing_worse(
            install.version.declaration.get("pricing"),
            version.declaration.get("pricing"),
        )
        if more_scopes or pricier:
            if install.pk not in asked_before:
                _ask_consent(
                    install=install,
                    version=version,
                    agent=agent,
                    more_scopes=more_scopes,
                    pricier=pricier,
                )
                asked += 1
            continue
        # A scope whose authority the new version lowers is held with the lower
        # one: the grant says what the agent may do now.
        live: dict[str, Grant] = {
            grant.scope: grant
            for grant in install.live_grants  # type: ignore[attr-defined]  # prefetched to_attr
        }
        lowers = [
            _Lowered(grant=live[row.permission.scope], to=row.permission.authority)
            for row in rows
            if row.permission.scope in live
            and AUTHORITY_RANK.get(row.permission.authority, 0)
            < AUTHORITY_RANK.get(live[row.permission.scope].authority, 0)
        ]
        moved.append(install)
        dropped.extend(no_longer_asked)
        lowered.extend(lowers)
        events.append(
            InstallEvent(
                install=install,
                actor=None,
                action="updated",
                payload={
                    "from_version": install.version.version,
                    "to_version": version.version,
                    "revoked": [grant.scope for grant in no_longer_asked],
                    "lowered": [
                        {
                            "scope": item.grant.scope,
                            "from": item.grant.authority,
                            "to": item.to,
                        }
                        for item in lowers
                    ],
                },
            )
        )
    if moved:
        now = timezone.now()
        # The rows are locked and were read active and on another version: the
        # compare-and-set holds for each of them.
        Install.objects.filter(
            pk__in=[install.pk for install in moved], state=State.ACTIVE
        ).exclude(version_id=version.pk).update(version=version, updated_at=now)
        if dropped:
            Grant.objects.filter(
                pk__in=[grant.pk for grant in dropped], revoked_at=None
            ).update(revoked_at=now)
        for authority in {item.to for item in lowered}:
            Grant.objects.filter(
                pk__in=[item.grant.pk for item in lowered if item.to == authority],
                revoked_at=None,
            ).update(authority=authority)
        InstallEvent.objects.bulk_create(events)
    return len(moved) + asked


# What the user is told when an update waits for their consent, by what it
# changes: permissions, pricing or both.
CONSENT_NOTICES: dict[tuple[bool, bool], str] = {
    (True, False): gettext_noop(
        "%(agent)s %(version)s asks for permissions you have not granted. Until "
        "you agree, it keeps only what you granted to version %(current)s."
    ),
    (False, True): gettext_noop(
        "%(agent)s %(version)s changes its pricing: %(pricing)s Until you agree, "
        "you stay on version %(current)s and the pricing you accepted."
    ),
    (True, True): gettext_noop(
        "%(agent)s %(version)s changes its pricing: %(pricing)s It also asks for "
        "permissions you have not granted. Until you agree, you stay on version "
        "%(current)s, with the pricing you accepted and only what you granted."
    ),
}


def _ask_consent(
    *,
    install: Install,
    version: AgentVersion,
    agent: Agent,
    more_scopes: bool = True,
    pricier: list[PricingChange] | None = None,
) -> None:
    pricier = pricier or []
    _event(
        install=install,
        actor=None,
        action="consent_requested",
        version=version.version,
        version_id=version.pk,
        permissions=more_scopes,
        pricing=[change.code for change in pricier],
    )
    params = {
        "agent": agent.name,
        "version": version.version,
        "current": install.version.version,
    }
    if pricier:
        # The changes are worded once, in the user's language: the notification
        # translates its message, not its values.
        with translation.override(
            install.user.preferred_language or settings.LANGUAGE_CODE
        ):
            params["pricing"] = " ".join(change.text for change in pricier)
    notification_create(
        user=install.user,
        kind=Notification.Kind.CONSENT_NEEDED,
        message=CONSENT_NOTICES[(more_scopes or not pricier, bool(pricier))],
        params=params,
        link=reverse("install-update", kwargs={"public_id": install.public_id}),
    )
