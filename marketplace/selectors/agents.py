from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.db.models import Exists, OuterRef, QuerySet
from django.utils.translation import gettext as _

from marketplace.exceptions import PermissionDenied
from marketplace.models import Agent, AgentVersion, Domain, Membership, User
from marketplace.services.publishing import is_reviewer

State = AgentVersion.State
PUBLIC_STATES = (State.PUBLISHED, State.YANKED)

AnyUser = AbstractBaseUser | AnonymousUser


def domain_list() -> QuerySet[Domain]:
    return Domain.objects.order_by("code")


def _published() -> Exists:
    return Exists(
        AgentVersion.objects.filter(agent=OuterRef("pk"), state=State.PUBLISHED)
    )


def agent_list_public(
    *, publisher: str | None = None, domain: str | None = None
) -> QuerySet[Agent]:
    """Agents with a published version, as anyone may see them."""
    agents = (
        Agent.objects.filter(_published())
        .exclude(status=Agent.Status.QUARANTINED)
        .select_related("publisher", "domain")
    )
    if publisher:
        agents = agents.filter(publisher__slug=publisher)
    if domain:
        agents = agents.filter(domain__code=domain)
    return agents.order_by("name", "pk")


def agent_get(*, publisher: str, agent: str) -> Agent | None:
    return (
        Agent.objects.select_related("publisher", "domain")
        .filter(publisher__slug=publisher, slug=agent)
        .first()
    )


def is_publisher_member(*, user: AnyUser, agent: Agent) -> bool:
    return isinstance(user, User) and (
        Membership.objects.filter(
            user=user, organization_id=agent.publisher_id
        ).exists()
    )


def can_see_drafts(*, user: AnyUser, agent: Agent) -> bool:
    """Members of the publisher and the operator's reviewers see every version."""
    return is_publisher_member(user=user, agent=agent) or (
        isinstance(user, User) and is_reviewer(user)
    )


def agent_visible(*, user: AnyUser, agent: Agent) -> bool:
    if can_see_drafts(user=user, agent=agent):
        return True
    return (
        agent.status != Agent.Status.QUARANTINED
        and agent.versions.filter(state=State.PUBLISHED).exists()
    )


def version_list(*, agent: Agent, user: AnyUser) -> QuerySet[AgentVersion]:
    versions = agent.versions.all()
    if not can_see_drafts(user=user, agent=agent):
        versions = versions.filter(state__in=PUBLIC_STATES)
    return versions.order_by("-created_at", "-pk")


def version_get(*, agent: Agent, version: str, user: AnyUser) -> AgentVersion | None:
    return version_list(agent=agent, user=user).filter(version=version).first()


def review_queue(*, actor: User) -> QuerySet[AgentVersion]:
    """Versions waiting for a reviewer: for the operator's reviewers only."""
    if not is_reviewer(actor):
        raise PermissionDenied(_("Only the operator's reviewers see the review queue."))
    return (
        AgentVersion.objects.filter(state=State.IN_REVIEW)
        .select_related("agent__publisher", "agent__domain")
        .order_by("submitted_at", "pk")
    )
