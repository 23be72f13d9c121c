from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.db.models import Case, Count, QuerySet, Value, When
from django.utils.translation import gettext as _

from marketplace.exceptions import PermissionDenied
from marketplace.models import (
    Agent,
    AgentVersion,
    CheckResult,
    Domain,
    Membership,
    User,
)
from marketplace.search import query_tokens
from marketplace.services.agents import EDITOR_ROLES
from marketplace.services.publishing import is_reviewer

State = AgentVersion.State
PUBLIC_STATES = (State.PUBLISHED, State.YANKED)

AnyUser = AbstractBaseUser | AnonymousUser


def domain_list() -> QuerySet[Domain]:
    return Domain.objects.order_by("code")


def agent_list_public(
    *, publisher: str | None = None, domain: str | None = None
) -> QuerySet[Agent]:
    """Agents with a published version, as anyone may see them."""
    agents = _listed()
    if publisher:
        agents = agents.filter(publisher__slug=publisher)
    if domain:
        agents = agents.filter(domain__code=domain)
    return agents.order_by("name", "pk")


def _listed() -> QuerySet[Agent]:
    return (
        Agent.objects.filter(latest_version__isnull=False)
        .exclude(status=Agent.Status.QUARANTINED)
        .select_related("publisher", "domain", "latest_version")
    )


SORTS = {
    "relevance": ("relevance", "name", "pk"),
    "newest": ("-published_at", "pk"),
    "name": ("name", "pk"),
}


def agent_search(
    *,
    q: str = "",
    domain: str = "",
    risk_tier: str = "",
    protocol: str = "",
    deployment: str = "",
    publisher: str = "",
    verified: bool = False,
    online: bool = False,
    sort: str = "relevance",
) -> QuerySet[Agent]:
    """Published agents matching every word of ``q`` (in any language: a Chinese
    fragment matches inside Chinese text) and the filters. Agents whose name holds
    the query come first when sorting by relevance."""
    agents = _listed()
    for token in query_tokens(q):
        agents = agents.filter(search_text__contains=f" {token}")
    if domain:
        agents = agents.filter(domain__code=domain)
    if risk_tier:
        agents = agents.filter(domain__risk_tier=risk_tier)
    if protocol:
        agents = agents.filter(protocols__contains=f",{protocol},")
    if deployment:
        agents = agents.filter(deployment=deployment)
    if publisher:
        agents = agents.filter(publisher__slug=publisher)
    if verified:
        agents = agents.filter(publisher__verified_at__isnull=False)
    if online:
        agents = agents.filter(online=True)
    if sort == "relevance":
        agents = agents.annotate(
            relevance=Case(
                When(name__icontains=q.strip(), then=Value(0)),
                default=Value(1),
            )
            if q.strip()
            else Value(0)
        )
    return agents.order_by(*SORTS.get(sort, SORTS["relevance"]))


def domain_facets(*, agents: QuerySet[Agent]) -> list[dict[str, Any]]:
    """How many of ``agents`` fall in each domain: one query."""
    return list(
        agents.order_by()
        .values("domain__code", "domain__name_en", "domain__name_zh")
        .annotate(count=Count("pk"))
        .order_by("-count", "domain__code")
    )


def agent_list_for_editor(*, user: User) -> QuerySet[Agent]:
    """The agents of the publishers the user can edit for."""
    return (
        Agent.objects.filter(
            publisher__memberships__user=user,
            publisher__memberships__role__in=EDITOR_ROLES,
        )
        .select_related("publisher", "domain", "latest_version")
        .order_by("publisher__name", "name", "pk")
    )


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


def version_checks(*, version: AgentVersion) -> list[CheckResult]:
    """The check results of the version's latest run."""
    return latest_checks_by_version(versions=[version])[version.pk]


def latest_checks_by_version(
    *, versions: list[AgentVersion]
) -> dict[int, list[CheckResult]]:
    """The check results of the latest run of each version, in one query."""
    latest: dict[int, list[CheckResult]] = {version.pk: [] for version in versions}
    last_run: dict[int, int] = {}
    for result in CheckResult.objects.filter(version__in=versions).order_by(
        "version_id", "-run", "pk"
    ):
        run = last_run.setdefault(result.version_id, result.run)
        if result.run == run:
            latest[result.version_id].append(result)
    return latest
