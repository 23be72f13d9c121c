"""Reads of misconduct reports, filtered by who asks: the reporter sees their own
reports, the operator's reviewers see every report except those about a publisher
they belong to (and, with the rating work, the industry body sees the reports
assigned to it). Anyone else sees none of them."""

import uuid

from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.db.models import QuerySet
from django.utils.translation import gettext as _

from marketplace.exceptions import PermissionDenied
from marketplace.models import Agent, Membership, Organization, User
from marketplace.selectors.agents import PUBLIC_STATES, agent_get, can_see_drafts
from marketplace.selectors.organizations import organization_get
from marketplace.services.publishing import is_reviewer
from ratings.models import MisconductReport, ReportEvent, ReportEvidence

State = MisconductReport.State
OPEN_STATES = (State.SUBMITTED, State.TRIAGED)

AnyUser = AbstractBaseUser | AnonymousUser


def agent_reportable(*, user: AnyUser, agent: Agent) -> bool:
    """Agents that have been public can be reported (also quarantined or yanked
    ones, which users may have installed); drafts only by those who see them."""
    return agent.versions.filter(state__in=PUBLIC_STATES).exists() or can_see_drafts(
        user=user, agent=agent
    )


def report_target(
    *, user: AnyUser, agent: str = "", publisher: str = ""
) -> tuple[Organization, Agent | None] | None:
    """What a report is about, from ``agent`` (``<publisher>/<agent>``) or
    ``publisher`` (its slug): the publisher and the agent, or None when there is no
    such publisher or reportable agent."""
    if agent:
        publisher_slug, _sep, agent_slug = agent.partition("/")
        found = agent_get(publisher=publisher_slug, agent=agent_slug)
        if found is None or not agent_reportable(user=user, agent=found):
            return None
        return found.publisher, found
    organization = organization_get(slug=publisher) if publisher else None
    if organization is None or organization.kind != Organization.Kind.PUBLISHER:
        return None
    return organization, None


def report_list_for_reporter(*, user: User) -> QuerySet[MisconductReport]:
    """The reports the user sent, newest first."""
    return (
        MisconductReport.objects.filter(reporter=user)
        .select_related("publisher", "agent__publisher", "body")
        .order_by("-created_at", "-pk")
    )


def report_queue(
    *, actor: User, state: str | None = None
) -> QuerySet[MisconductReport]:
    """Reports waiting for the operator's reviewers (submitted or triaged, oldest
    first), or those in ``state``: for the reviewers only, without the reports
    they sent or that are about a publisher they belong to."""
    if not is_reviewer(actor):
        raise PermissionDenied(_("Only the operator's reviewers see the reports."))
    states = (state,) if state else OPEN_STATES
    return (
        MisconductReport.objects.filter(state__in=states)
        .exclude(reporter=actor)
        .exclude(
            publisher__in=Membership.objects.filter(user=actor).values("organization")
        )
        .select_related("publisher", "agent__publisher", "reporter", "body")
        .order_by("created_at", "pk")
    )


def report_is_reporter(*, user: AnyUser, report: MisconductReport) -> bool:
    """Whether the user sent the report; nobody did once the reporter's account
    is deleted."""
    return (
        isinstance(user, User)
        and report.reporter_id is not None
        and report.reporter_id == user.pk
    )


def report_conflicted(*, user: User, report: MisconductReport) -> bool:
    """Whether the user sent the report or belongs to the publisher it is about:
    such a user does not review it."""
    return (
        report_is_reporter(user=user, report=report)
        or Membership.objects.filter(
            user=user, organization_id=report.publisher_id
        ).exists()
    )


def report_can_see(*, user: AnyUser, report: MisconductReport) -> bool:
    """The reporter sees their report; the operator's reviewers see it unless they
    belong to the publisher it is about (who sent it and the evidence stay hidden
    from the publisher's people)."""
    if report_is_reporter(user=user, report=report):
        return True
    return (
        isinstance(user, User)
        and is_reviewer(user)
        and not report_conflicted(user=user, report=report)
    )


def report_get(*, public_id: uuid.UUID | str, user: AnyUser) -> MisconductReport | None:
    """The report, if the user may see it; None otherwise (as if it did not
    exist)."""
    try:
        key = uuid.UUID(str(public_id))
    except ValueError:
        return None
    report = (
        MisconductReport.objects.select_related(
            "publisher", "agent__publisher", "reporter", "body"
        )
        .filter(public_id=key)
        .first()
    )
    if report is None or not report_can_see(user=user, report=report):
        return None
    return report


def report_events(*, report: MisconductReport) -> QuerySet[ReportEvent]:
    return report.events.select_related("actor").order_by("created_at", "pk")


def report_evidence_list(*, report: MisconductReport) -> QuerySet[ReportEvidence]:
    return report.evidence.order_by("created_at", "pk")


def report_evidence_get(
    *, report: MisconductReport, evidence_id: int
) -> ReportEvidence | None:
    return report.evidence.filter(pk=evidence_id).first()
