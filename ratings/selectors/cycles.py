"""Reads of rating cycles and their ratings, for the body's people and for the
rated entity, and what each person may do with a rating now.

``rating_actions`` mirrors the checks of ``ratings.services.decisions`` so that a
page shows a form only to those the service would let through, in the state
where it applies; the services still decide.
"""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.db.models import Count, QuerySet
from django.utils import timezone

from marketplace.models import Membership, Organization, User
from ratings.models import (
    CommitteeVote,
    ConflictOfInterest,
    CreditEvent,
    Methodology,
    Objection,
    Rating,
    RatingCycle,
)
from ratings.services.decisions import ANSWER_ROLES
from ratings.services.methodologies import AUTHOR_ROLES, ENTITY_ROLES

AnyUser = AbstractBaseUser | AnonymousUser
Role = Membership.Role
CycleState = RatingCycle.State
RatingState = Rating.State

# The cycle is still working: its progress moves.
RUNNING_STATES = frozenset(
    {CycleState.SCHEDULED, CycleState.COLLECTING, CycleState.SCORING}
)
# The entity sees its rating from the notice on, never before.
ENTITY_VISIBLE_STATES = frozenset(
    {
        RatingState.NOTICE,
        RatingState.OBJECTED,
        RatingState.RE_REVIEWED,
        RatingState.PUBLISHED,
        RatingState.SUPERSEDED,
        RatingState.WITHDRAWN,
    }
)
NOTIFY_ROLES = AUTHOR_ROLES | {Role.COMMITTEE_MEMBER}
# The rating pages of the body: who publishes a rating whose window closed.
PUBLISH_ROLES = AUTHOR_ROLES | {Role.COMMITTEE_MEMBER}


# --- Bodies, entities and roles -----------------------------------------------------


def industry_body_by_slug(*, slug: str) -> Organization | None:
    return Organization.objects.filter(
        slug=slug, kind=Organization.Kind.INDUSTRY_BODY
    ).first()


def organization_by_slug(*, slug: str) -> Organization | None:
    return Organization.objects.filter(slug=slug).first()


def role_in(*, user: AnyUser, organization_id: int) -> str | None:
    """The user's role in the organisation, None for a non-member or anonymous."""
    if not isinstance(user, User):
        return None
    return (
        Membership.objects.filter(user=user, organization_id=organization_id)
        .values_list("role", flat=True)
        .first()
    )


def is_industry_body_member(*, user: AnyUser) -> bool:
    return isinstance(user, User) and (
        Membership.objects.filter(
            user=user, organization__kind=Organization.Kind.INDUSTRY_BODY
        ).exists()
    )


def methodologies_in_force(*, body: Organization) -> QuerySet[Methodology]:
    """The body's published methodologies, newest first: what a cycle runs."""
    return Methodology.objects.filter(
        body=body, state=Methodology.State.PUBLISHED
    ).order_by("-published_at", "-pk")


# --- Cycles -------------------------------------------------------------------------


@dataclass(frozen=True)
class Progress:
    state: str
    state_label: str
    total: int
    done: int
    percent: int
    running: bool


def cycle_progress(*, cycle: RatingCycle) -> Progress:
    """How far the cycle is: ratings written of the entities to rate."""
    total, done = cycle.total, min(cycle.done, cycle.total)
    if total:
        percent = done * 100 // total
    else:
        percent = 0 if cycle.state in RUNNING_STATES else 100
    return Progress(
        state=cycle.state,
        state_label=str(cycle.get_state_display()),
        total=total,
        done=done,
        percent=percent,
        running=cycle.state in RUNNING_STATES,
    )


def cycle_list(*, body: Organization) -> QuerySet[RatingCycle]:
    """The body's cycles, newest first, with their methodology and starter."""
    return (
        RatingCycle.objects.filter(body=body)
        .select_related("methodology", "started_by", "entity", "body")
        .order_by("-created_at", "-id")
    )


def cycle_get(*, public_id: UUID | str) -> RatingCycle | None:
    return (
        RatingCycle.objects.select_related(
            "body", "methodology", "started_by", "entity"
        )
        .filter(public_id=public_id)
        .first()
    )


def without_conflicts(
    ratings: QuerySet[Rating], *, viewer: AnyUser
) -> QuerySet[Rating]:
    """``ratings`` less those of the entities the viewer belongs to or declared a
    conflict of interest with: those the viewer does not see from the body's
    side (two subqueries, no extra query)."""
    if not isinstance(viewer, User):
        return ratings.none()
    return ratings.exclude(
        entity_id__in=Membership.objects.filter(user=viewer).values("organization_id")
    ).exclude(
        entity_id__in=ConflictOfInterest.objects.filter(user=viewer).values("entity_id")
    )


def cycle_rating_list(
    *, cycle: RatingCycle, viewer: AnyUser, state: str = "", grade: str = ""
) -> QuerySet[Rating]:
    """The cycle's ratings by entity, narrowed to a state and a grade; without
    the heavy evidence snapshot and statement. The ``viewer``'s conflicted
    entities (members of them, or a declared conflict) are left out."""
    ratings = (
        without_conflicts(Rating.objects.filter(cycle=cycle), viewer=viewer)
        .select_related("entity")
        .defer("evidence", "statement")
        .order_by("entity__name", "pk")
    )
    if state:
        ratings = ratings.filter(state=state)
    if grade:
        ratings = ratings.filter(grade=grade)
    return ratings


@dataclass(frozen=True)
class CycleCounts:
    states: list[tuple[str, str, int]]
    grades: list[tuple[str, int]]


def cycle_counts(*, cycle: RatingCycle, viewer: AnyUser) -> CycleCounts:
    """How many of the cycle's ratings are in each state and have each grade
    (two queries), leaving out those of the ``viewer``'s conflicted entities."""
    ratings = without_conflicts(Rating.objects.filter(cycle=cycle), viewer=viewer)
    by_state = dict(
        ratings.order_by()
        .values_list("state")
        .annotate(n=Count("pk"))
        .values_list("state", "n")
    )
    by_grade = (
        ratings.order_by()
        .values_list("grade")
        .annotate(n=Count("pk"))
        .values_list("grade", "n")
        .order_by("grade")
    )
    return CycleCounts(
        states=[
            (value, str(label), by_state[value])
            for value, label in RatingState.choices
            if by_state.get(value)
        ],
        grades=list(by_grade),
    )


def cycle_grades(*, cycle: RatingCycle) -> list[str]:
    """The grades the cycle's methodology gives, best first, for a filter."""
    return list(
        cycle.methodology.bands.order_by("-min_score").values_list("grade", flat=True)
    )


# --- Ratings ------------------------------------------------------------------------


def rating_get(*, pk: int) -> Rating | None:
    return (
        Rating.objects.select_related(
            "cycle__body", "cycle__methodology", "entity", "analyst", "chair"
        )
        .filter(pk=pk)
        .first()
    )


def rating_votes(*, rating: Rating) -> list[CommitteeVote]:
    return list(
        rating.votes.select_related("member").order_by("round", "created_at", "pk")
    )


def votes_by_round(votes: list[CommitteeVote]) -> list[tuple[int, list[Any]]]:
    rounds: dict[int, list[Any]] = {}
    for vote in votes:
        rounds.setdefault(vote.round, []).append(vote)
    return sorted(rounds.items())


def rating_events(*, rating: Rating) -> QuerySet[CreditEvent]:
    return (
        CreditEvent.objects.filter(rating=rating)
        .select_related("actor")
        .order_by("created_at", "pk")
    )


def rating_objection(*, rating: Rating) -> Objection | None:
    return (
        Objection.objects.select_related("filed_by", "answered_by")
        .filter(rating=rating)
        .first()
    )


def contributions_total(*, rating: Rating) -> Decimal:
    """The sum of the indicators' contributions: the score."""
    total = Decimal(0)
    for item in rating.contributions or []:
        if isinstance(item, dict):
            total += Decimal(str(item.get("contribution", "0")))
    return total


def entity_rating_list(*, entity: Organization) -> QuerySet[Rating]:
    """The entity's ratings from the notice on, newest first."""
    return (
        Rating.objects.filter(entity=entity, state__in=ENTITY_VISIBLE_STATES)
        .select_related("cycle__body", "cycle__methodology", "entity")
        .defer("evidence", "contributions", "cycle__context")
        .order_by("-notice_at", "-pk")
    )


def entity_can_see(*, rating: Rating) -> bool:
    return rating.state in ENTITY_VISIBLE_STATES


def is_conflicted(*, user: AnyUser, entity_id: int) -> bool:
    """A member of the entity, or a declared conflict with it."""
    if not isinstance(user, User):
        return False
    return (
        Membership.objects.filter(user=user, organization_id=entity_id).exists()
        or ConflictOfInterest.objects.filter(user=user, entity_id=entity_id).exists()
    )


def conflict_kind(*, user: AnyUser, entity_id: int) -> str:
    """Why the user may not see the entity's ratings from the body's side:
    ``declared`` (a declared conflict of interest), ``member`` (of the entity),
    or "" when nothing stands in the way."""
    if not isinstance(user, User):
        return ""
    if ConflictOfInterest.objects.filter(user=user, entity_id=entity_id).exists():
        return "declared"
    if Membership.objects.filter(user=user, organization_id=entity_id).exists():
        return "member"
    return ""


@dataclass(frozen=True)
class RatingActions:
    """What the user may do with the rating now."""

    role: str | None
    conflicted: bool
    declared: bool
    review: bool = False
    vote: bool = False
    chair: bool = False
    notify: bool = False
    publish: bool = False
    answer: bool = False

    @property
    def any(self) -> bool:
        return self.review or self.vote or self.notify or self.publish or self.answer


def rating_actions(
    *,
    user: User,
    rating: Rating,
    objection: Objection | None,
    now: datetime | None = None,
) -> RatingActions:
    now = now or timezone.now()
    role = role_in(user=user, organization_id=rating.cycle.body_id)
    declared = ConflictOfInterest.objects.filter(
        user=user, entity_id=rating.entity_id
    ).exists()
    conflicted = declared or (
        Membership.objects.filter(user=user, organization_id=rating.entity_id).exists()
    )
    if role is None:
        return RatingActions(role=None, conflicted=conflicted, declared=declared)
    state = rating.state
    voted = rating.votes.filter(round=rating.committee_round, member=user).exists()
    can_vote = (
        role == Role.COMMITTEE_MEMBER
        and not conflicted
        and rating.analyst_id != user.pk
        and state in (RatingState.ANALYST_REVIEWED, RatingState.OBJECTED)
        and not voted
    )
    window_closed = rating.objection_deadline is not None and (
        now > rating.objection_deadline
    )
    return RatingActions(
        role=role,
        conflicted=conflicted,
        declared=declared,
        review=role in AUTHOR_ROLES
        and not conflicted
        and state == RatingState.COMPUTED,
        vote=can_vote,
        chair=can_vote and rating.chair_id is None,
        notify=role in NOTIFY_ROLES
        and not conflicted
        and state == RatingState.COMMITTEE_APPROVED,
        publish=role in PUBLISH_ROLES
        and not conflicted
        and (
            (state == RatingState.NOTICE and window_closed)
            or (
                state == RatingState.RE_REVIEWED
                and objection is not None
                and objection.state == Objection.State.REJECTED
            )
        ),
        answer=role in ANSWER_ROLES
        and not conflicted
        and state == RatingState.RE_REVIEWED
        and objection is not None
        and objection.state == Objection.State.OPEN,
    )


def objection_open(*, rating: Rating, now: datetime | None = None) -> bool:
    """Whether the entity may still object."""
    now = now or timezone.now()
    return (
        rating.state == RatingState.NOTICE
        and rating.objection_deadline is not None
        and now <= rating.objection_deadline
        and not Objection.objects.filter(rating=rating).exists()
    )


def entity_manages(*, user: AnyUser, entity: Organization) -> bool:
    return role_in(user=user, organization_id=entity.pk) in ENTITY_ROLES
