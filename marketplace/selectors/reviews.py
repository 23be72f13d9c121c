"""Reading reviews: the public list, a user's own review, the summary, the
moderation queue and the signs of manipulation."""

from collections.abc import Iterable
from dataclasses import dataclass

from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.db.models import Exists, OuterRef, Prefetch, QuerySet
from django.utils.translation import gettext as _

from marketplace.exceptions import PermissionDenied
from marketplace.models import (
    Agent,
    Install,
    Membership,
    Review,
    ReviewEvent,
    ReviewFlag,
    ReviewRevision,
    ReviewSignal,
    User,
)
from marketplace.services.agents import EDITOR_ROLES
from marketplace.services.publishing import is_reviewer

AnyUser = AbstractBaseUser | AnonymousUser
State = Review.State


def _with_related(reviews: QuerySet[Review]) -> QuerySet[Review]:
    return reviews.select_related(
        "user", "version", "reply", "reply__publisher"
    ).annotate(
        edited=Exists(ReviewRevision.objects.filter(review=OuterRef("pk"))),
    )


def review_list_public(*, agent: Agent) -> QuerySet[Review]:
    """The agent's visible reviews, newest first, with the publisher's replies."""
    return _with_related(
        Review.objects.filter(agent=agent, state=State.VISIBLE)
    ).order_by("-created_at", "-pk")


def review_get(*, review_id: int) -> Review | None:
    return (
        _with_related(Review.objects.filter(pk=review_id))
        .select_related("agent__publisher")
        .first()
    )


def review_visible_to(*, user: AnyUser, review: Review) -> bool:
    """Visible reviews are public; a hidden one is for its author and the
    moderators."""
    if review.state == State.VISIBLE:
        return True
    return isinstance(user, User) and (review.user_id == user.pk or is_reviewer(user))


def review_of_user(*, user: AnyUser, agent: Agent) -> Review | None:
    if not isinstance(user, User):
        return None
    return _with_related(Review.objects.filter(agent=agent, user=user)).first()


def review_hidden_reason(*, review: Review) -> str:
    """Why a moderator hid the review (the latest hiding's reason)."""
    return (
        ReviewEvent.objects.filter(review=review, action="hidden")
        .order_by("-created_at", "-pk")
        .values_list("reason", flat=True)
        .first()
        or ""
    )


def review_can_write(*, user: AnyUser, agent: Agent) -> bool:
    """Whether the user may review the agent: they installed it (now or before) and
    do not belong to its publisher. The service says why not."""
    if not isinstance(user, User):
        return False
    installed = Install.objects.filter(user=user, agent=agent)
    member = Membership.objects.filter(user=user, organization_id=agent.publisher_id)
    return bool(
        Agent.objects.filter(pk=agent.pk)
        .annotate(installed=Exists(installed), member=Exists(member))
        .filter(installed=True, member=False)
        .exists()
    )


def review_can_reply(*, user: AnyUser, agent: Agent) -> bool:
    """Owners, administrators and members of the agent's publisher reply."""
    return (
        isinstance(user, User)
        and Membership.objects.filter(
            user=user, organization_id=agent.publisher_id, role__in=EDITOR_ROLES
        ).exists()
    )


def review_flagged_ids(*, user: AnyUser, reviews: Iterable[Review]) -> set[int]:
    """Which of ``reviews`` the user has flagged, in one query."""
    ids = [review.pk for review in reviews]
    if not isinstance(user, User) or not ids:
        return set()
    return set(
        ReviewFlag.objects.filter(user=user, review_id__in=ids).values_list(
            "review_id", flat=True
        )
    )


@dataclass(frozen=True)
class StarsCount:
    stars: int
    count: int
    percent: int


@dataclass(frozen=True)
class ReviewSummary:
    count: int
    mean: float | None
    score: float
    distribution: list[StarsCount]


def review_summary(*, agent: Agent) -> ReviewSummary:
    """The agent's rating as the reviews service keeps it (no query)."""
    count = agent.rating_count
    distribution = [
        StarsCount(
            stars=stars,
            count=getattr(agent, f"rating_{stars}"),
            percent=(
                round(100 * getattr(agent, f"rating_{stars}") / count) if count else 0
            ),
        )
        for stars in range(5, 0, -1)
    ]
    return ReviewSummary(
        count=count,
        mean=agent.rating_mean,
        score=agent.rating_score,
        distribution=distribution,
    )


MODERATION_VIEWS = ("flagged", "hidden")


def moderation_queue(*, actor: User, view: str = "flagged") -> QuerySet[Review]:
    """For the operator's reviewers: reviews with open flags, most flagged first;
    or (``view="hidden"``) the hidden reviews, latest first. Reviews of publishers
    the reviewer belongs to are left out: they may not moderate them, and the
    flags' authors are not shown to the publisher."""
    if not is_reviewer(actor):
        raise PermissionDenied(_("Only the operator's reviewers moderate reviews."))
    own_publisher = Membership.objects.filter(
        user=actor, organization_id=OuterRef("agent__publisher_id")
    )
    reviews = (
        _with_related(Review.objects.all())
        .select_related("agent__publisher")
        .filter(~Exists(own_publisher))
    )
    open_flags = Prefetch(
        "flags",
        queryset=ReviewFlag.objects.filter(resolved_at=None)
        .select_related("user")
        .order_by("-created_at", "-pk"),
        to_attr="open_flag_list",
    )
    reviews = reviews.prefetch_related(open_flags)
    if view == "hidden":
        return reviews.filter(state=State.HIDDEN).order_by("-created_at", "-pk")
    return reviews.filter(open_flags__gt=0).order_by("-open_flags", "created_at", "pk")


def review_signals_by_agent(
    *, agent_ids: Iterable[int]
) -> dict[int, list[ReviewSignal]]:
    """The stored signals of each agent, in one query."""
    ids = set(agent_ids)
    found: dict[int, list[ReviewSignal]] = {agent_id: [] for agent_id in ids}
    for signal in ReviewSignal.objects.filter(agent_id__in=ids).order_by(
        "agent_id", "kind"
    ):
        found[signal.agent_id].append(signal)
    return found
