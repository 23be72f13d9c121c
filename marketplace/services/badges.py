"""Certification badges: for each agent and scheme, the state of the certificate
on the agent's latest published version (a certificate on an earlier version does
not count: versions inherit nothing unless the body extends the certificate).

The stored state changes only through ``badge_refresh``, which records when the
badge was gained and lost (a ``BadgeEvent`` per change). "Expiring" is not stored:
it is read from ``valid_until`` when the badge is drawn.
"""

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from marketplace.models import Agent, Badge, BadgeEvent, Certificate

BadgeState = Badge.State

# When a version holds several certificates of a scheme (a revoked one and a new
# valid one), the badge shows the best.
_PREFERENCE = {
    Certificate.State.VALID: 0,
    Certificate.State.SUSPENDED: 1,
    Certificate.State.EXPIRED: 2,
    Certificate.State.REVOKED: 3,
}


def badge_state_of(
    certificate: Certificate | None, *, now: datetime | None = None
) -> str:
    """The badge state a certificate gives (none without one)."""
    if certificate is None:
        return BadgeState.NONE
    if certificate.state == Certificate.State.VALID:
        moment = now or timezone.now()
        return (
            BadgeState.VALID if certificate.valid_until > moment else BadgeState.EXPIRED
        )
    return str(certificate.state)


def badge_certificate(*, agent: Agent, scheme_id: int) -> Certificate | None:
    """The certificate the agent's badge for the scheme stands on."""
    if agent.latest_version_id is None:
        return None
    candidates = list(
        Certificate.objects.filter(
            version_id=agent.latest_version_id, scheme_id=scheme_id
        ).order_by("-created_at", "-pk")
    )
    if not candidates:
        return None
    return min(candidates, key=lambda c: _PREFERENCE[Certificate.State(c.state)])


@transaction.atomic
def badge_refresh(*, agent_id: int, scheme_id: int) -> Badge | None:
    """Bring the badge of the agent for the scheme up to date; record the change
    if its state moved. No row is made for an agent that never had a
    certificate of the scheme."""
    agent = Agent.objects.filter(pk=agent_id).first()
    if agent is None:
        return None
    certificate = badge_certificate(agent=agent, scheme_id=scheme_id)
    state = badge_state_of(certificate)
    badge = (
        Badge.objects.select_for_update()
        .filter(agent_id=agent_id, scheme_id=scheme_id)
        .first()
    )
    if badge is None:
        if certificate is None:
            return None
        badge = Badge.objects.create(agent_id=agent_id, scheme_id=scheme_id)
    previous = badge.state
    now = timezone.now()
    badge.certificate = certificate
    badge.level = certificate.level if certificate is not None else ""
    badge.valid_until = certificate.valid_until if certificate is not None else None
    if state != previous:
        badge.state = state
        if state == BadgeState.VALID:
            badge.gained_at = now
        elif previous == BadgeState.VALID:
            badge.lost_at = now
        BadgeEvent.objects.create(
            badge=badge, from_state=previous, to_state=state, certificate=certificate
        )
    badge.save()
    return badge


def badges_refresh_agent(*, agent_id: int) -> None:
    """Refresh every badge the agent has, and make those its latest version's
    certificates call for: after a new version is published or one withdrawn."""
    scheme_ids = set(
        Badge.objects.filter(agent_id=agent_id).values_list("scheme_id", flat=True)
    )
    latest = (
        Agent.objects.filter(pk=agent_id)
        .values_list("latest_version_id", flat=True)
        .first()
    )
    if latest is not None:
        scheme_ids |= set(
            Certificate.objects.filter(version_id=latest).values_list(
                "scheme_id", flat=True
            )
        )
    for scheme_id in sorted(scheme_ids):
        badge_refresh(agent_id=agent_id, scheme_id=scheme_id)
