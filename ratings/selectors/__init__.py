"""Reads of misconduct reports, filtered by who asks: the reporter sees their own
reports, the operator's reviewers see every report except those about a publisher
they belong to, the analysts (owners, administrators) of the industry body a
report is assigned to see it, and once a report is under investigation the owners
and administrators of the publisher it is about see it without who sent it and
without its evidence. Anyone else sees none of them."""

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
from ratings.models import (
    ConflictOfInterest,
    Finding,
    MisconductReport,
    ReportEvent,
    ReportEvidence,
)

State = MisconductReport.State
OPEN_STATES = (State.SUBMITTED, State.TRIAGED)
Role = Membership.Role
# Who investigates for the body, and who answers for the entity.
BODY_ROLES = frozenset({Role.OWNER, Role.ADMIN, Role.ANALYST})
ENTITY_ROLES = frozenset({Role.OWNER, Role.ADMIN})

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


def report_body_analyst(*, user: AnyUser, report: MisconductReport) -> bool:
    """Whether the user investigates the report for the body it is assigned to:
    an analyst, owner or administrator of that body, neither its reporter nor of
    its publisher, without a declared conflict of interest with the publisher."""
    return (
        isinstance(user, User)
        and report.body_id is not None
        and Membership.objects.filter(
            user=user, organization_id=report.body_id, role__in=BODY_ROLES
        ).exists()
        and not report_conflicted(user=user, report=report)
        and not ConflictOfInterest.objects.filter(
            user=user, entity_id=report.publisher_id
        ).exists()
    )


def report_entity_viewer(*, user: AnyUser, report: MisconductReport) -> bool:
    """Whether the user answers the report for its publisher: an owner or
    administrator of the publisher, once the report went under investigation (the
    entity was told then)."""
    return (
        isinstance(user, User)
        and report.answer_deadline is not None
        and Membership.objects.filter(
            user=user, organization_id=report.publisher_id, role__in=ENTITY_ROLES
        ).exists()
    )


def report_sees_evidence(*, user: AnyUser, report: MisconductReport) -> bool:
    """Who sent the report and its evidence: for the reporter, the reviewers and
    the body's analysts, never for the publisher's people."""
    if report_is_reporter(user=user, report=report):
        return True
    if not isinstance(user, User) or report_conflicted(user=user, report=report):
        return False
    return is_reviewer(user) or report_body_analyst(user=user, report=report)


def report_can_see(*, user: AnyUser, report: MisconductReport) -> bool:
    """The reporter sees their report; the operator's reviewers and the body's
    analysts see it unless they belong to the publisher it is about; the
    publisher's owners and administrators see it once it is investigated (who sent
    it and the evidence stay hidden from them: ``report_sees_evidence``)."""
    return report_sees_evidence(user=user, report=report) or report_entity_viewer(
        user=user, report=report
    )


def report_list_for_entity(*, user: User) -> QuerySet[MisconductReport]:
    """The reports under investigation or decided about the organisations the
    user owns or administers, newest first."""
    return (
        MisconductReport.objects.filter(
            answer_deadline__isnull=False,
            publisher__in=Membership.objects.filter(
                user=user, role__in=ENTITY_ROLES
            ).values("organization"),
        )
        .select_related("publisher", "agent__publisher", "body")
        .order_by("-created_at", "-pk")
    )


def report_list_for_body(*, user: User) -> QuerySet[MisconductReport]:
    """The reports assigned to the bodies the user investigates for, not yet
    decided, oldest first; without those the user is conflicted with."""
    return (
        MisconductReport.objects.filter(
            state__in=(State.SUBMITTED, State.TRIAGED, State.INVESTIGATING),
            body__in=Membership.objects.filter(user=user, role__in=BODY_ROLES).values(
                "organization"
            ),
        )
        .exclude(reporter=user)
        .exclude(
            publisher__in=Membership.objects.filter(user=user).values("organization")
        )
        .exclude(
            publisher__in=ConflictOfInterest.objects.filter(user=user).values("entity")
        )
        .select_related("publisher", "agent__publisher", "body")
        .order_by("created_at", "pk")
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


def report_finding(*, report: MisconductReport) -> Finding | None:
    """The finding of a substantiated report, or None."""
    return (
        Finding.objects.select_related("decided_by", "body")
        .filter(report=report)
        .first()
    )
