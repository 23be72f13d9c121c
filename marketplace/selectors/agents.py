import re
from urllib.parse import unquote

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.db.models import BooleanField, ExpressionWrapper, F, Q, QuerySet
from django.utils.translation import gettext as _

from marketplace.exceptions import ApplicationError, NotFound, PermissionDenied
from marketplace.models import (
    Agent,
    AgentVersion,
    CheckResult,
    Domain,
    Membership,
    Organization,
    User,
)
from marketplace.models.organizations import SLUG_PATTERN
from marketplace.selectors.search import listed_agents
from marketplace.services.agents import EDITOR_ROLES
from marketplace.services.publishing import is_reviewer

State = AgentVersion.State
PUBLIC_STATES = (State.PUBLISHED, State.YANKED)

AnyUser = AbstractBaseUser | AnonymousUser


def domain_list() -> QuerySet[Domain]:
    return Domain.objects.order_by("code")


def agent_list_public(
    *,
    publisher: str | None = None,
    domain: str | None = None,
    include_suspended: bool = False,
) -> QuerySet[Agent]:
    """Agents with a published version, as anyone may see them (those of
    publishers suspended by a credit sanction only with ``include_suspended``)."""
    agents = listed_agents(include_suspended=include_suspended)
    if publisher:
        agents = agents.filter(publisher__slug=publisher)
    if domain:
        agents = agents.filter(domain__code=domain)
    return agents.order_by("name", "pk")


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


def agent_get_visible(*, user: AnyUser, publisher: str, agent: str) -> Agent:
    """The agent as ``user`` may see it, or NotFound (a 404 on pages and in the
    API alike)."""
    found = agent_get(publisher=publisher, agent=agent)
    if found is None or not agent_visible(user=user, agent=found):
        raise NotFound(_("No such agent in the store."))
    return found


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


_RESTRICTION = "agent__publisher__publishing_restriction"


def review_queue(*, actor: User) -> QuerySet[AgentVersion]:
    """Versions waiting for a reviewer: for the operator's reviewers only. The
    publisher's credit standing marks them: ``credit_review`` when a credit sanction
    restricts its publishing (every version is reviewed by hand, and closely),
    ``fast_track`` when a top grade earns it fast-track review, which the queue
    lists first."""
    if not is_reviewer(actor):
        raise PermissionDenied(_("Only the operator's reviewers see the review queue."))
    return (
        AgentVersion.objects.filter(state=State.IN_REVIEW)
        .select_related("agent__publisher", "agent__domain")
        .annotate(
            credit_review=ExpressionWrapper(
                ~Q(**{_RESTRICTION: Organization.PublishingRestriction.NONE}),
                output_field=BooleanField(),
            ),
            fast_track=ExpressionWrapper(
                Q(agent__publisher__fast_track_review=True)
                & Q(**{_RESTRICTION: Organization.PublishingRestriction.NONE}),
                output_field=BooleanField(),
            ),
        )
        .order_by(F("fast_track").desc(), "submitted_at", "pk")
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


IDENTIFIER_MAX_LENGTH = 500
_SLUG = re.compile(SLUG_PATTERN)


def agent_get_by_identifier(*, identifier: str) -> Agent | None:
    """The listed agent an identifier names: its did:web identifier
    (``did:web:<host>:agents:<publisher>:<agent>``, a port in the host written
    ``%3A``) or its ACPs identity code (a dotted OID, ``urn:oid:`` optional).

    None when no listed agent has it: quarantined agents and agents never published
    are not found. Text that is neither form raises ApplicationError (400); a did:web
    identifier of another host raises NotFound, naming the reason."""
    text = identifier.strip()
    malformed = _(
        "This is not an agent identifier. Give a did:web identifier "
        "(did:web:<host>:agents:<publisher>:<agent>) or an ACPs identity code "
        "(such as 1.2.156.3088.1.1.34C2.478BDF.0.0JU4, urn:oid: optional)."
    )

    def refuse() -> ApplicationError:
        return ApplicationError(
            malformed, code="malformed_identifier", details={"id": [malformed]}
        )

    if not text or len(text) > IDENTIFIER_MAX_LENGTH:
        raise refuse()
    if text.startswith("did:"):
        parts = text.split(":")
        if (
            len(parts) != 6
            or parts[1] != "web"
            or not parts[2]
            or parts[3] != "agents"
            or not all(_SLUG.fullmatch(part) for part in parts[4:])
        ):
            raise refuse()
        if unquote(parts[2]).lower() != settings.SITE_HOST.lower():
            raise NotFound(
                _("This identifier is not from this registry: it names %(host)s.")
                % {"host": unquote(parts[2])},
                code="not_from_this_registry",
            )
        return (
            agent_list_public(publisher=parts[4], include_suspended=True)
            .filter(slug=parts[5])
            .order_by("pk")
            .first()
        )
    # An AIC's first levels are the registrar's OID arc (digits); the levels the
    # registry adds are base 36, written in upper case (marketplace/protocols/acps.py).
    code = re.sub(r"^urn:oid:", "", text, flags=re.IGNORECASE).upper()
    if not re.fullmatch(r"[0-2]\.[0-9]+(?:\.[0-9A-Z]+)*", code, flags=re.ASCII):
        raise refuse()
    return (
        agent_list_public(include_suspended=True)
        .filter(aic__in=[code, f"urn:oid:{code}"])
        .order_by("pk")
        .first()
    )
