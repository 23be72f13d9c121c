"""Reviews of agents, the publisher's replies, flags and moderation.

Who may do what:
- A user who installed an agent (now or before) writes one review of it; writing
  again edits that review, keeping the earlier text as a revision. Members of the
  agent's publisher do not review its agents.
- Owners, administrators and members of the publisher reply, once per review, and
  may edit the reply.
- Any signed-in user but the author flags a visible review, once.
- The operator's reviewers moderate: they hide or restore a review, or keep it as
  it is, with a reason; each closes the review's open flags.

A review's state moves through ``TRANSITIONS`` (visible ⇄ hidden) by compare-and-set
UPDATE with an event row. The agent's rating summary (count, histogram, mean and the
Bayesian score) follows every change of a visible review in the same transaction,
through ``_rating_apply``; it is never recounted when a page is read.
"""

from collections import Counter
from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import (
    Case,
    Count,
    Expression,
    F,
    FloatField,
    Q,
    Value,
    When,
)
from django.db.models.functions import Cast, Coalesce, NullIf
from django.db.models.lookups import GreaterThan
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from marketplace import ratelimit
from marketplace.exceptions import (
    ApplicationError,
    Conflict,
    InvalidTransition,
    PermissionDenied,
    ReviewNotAllowed,
    TooManyRequests,
)
from marketplace.models import (
    Agent,
    Install,
    Notification,
    Review,
    ReviewEvent,
    ReviewFlag,
    ReviewReply,
    ReviewRevision,
    ReviewSignal,
    User,
)
from marketplace.selectors.organizations import membership_role
from marketplace.services.agents import EDITOR_ROLES
from marketplace.services.notifications import notification_create
from marketplace.services.publishing import is_reviewer

State = Review.State

TRANSITIONS: dict[str, frozenset[str]] = {
    State.VISIBLE: frozenset({State.HIDDEN}),
    State.HIDDEN: frozenset({State.VISIBLE}),
}

STARS = range(1, 6)
TITLE_MAX_LENGTH = 120
BODY_MAX_LENGTH = 5000
REPLY_MAX_LENGTH = 5000
FLAG_NOTE_MAX_LENGTH = 500
REASON_MAX_LENGTH = 2000

# Per user: reviews written or edited, and flags raised, in a window of seconds.
# Enough for anyone reviewing what they use; a script hits the wall quickly.
REVIEW_RATE = (10, 60 * 60)
FLAG_RATE = (20, 60 * 60)


# --- The rating summary ---------------------------------------------------------------


def _rating_apply(*, agent_id: int, remove: int | None, add: int | None) -> None:
    """Take a visible review of ``remove`` stars out of the agent's summary and put
    one of ``add`` stars in (either may be None), in one UPDATE: the histogram and
    the count move by F() expressions, and the mean and the Bayesian score are
    computed in the same statement from the new histogram (in SQL, every column an
    UPDATE reads holds its value before the update). An agent left without visible
    reviews is unrated again: no mean, and a score of 0, as before its first."""
    if remove == add:
        return
    counts: dict[int, Any] = {}
    for stars in STARS:
        delta = (stars == add) - (stars == remove)
        counts[stars] = F(f"rating_{stars}") + delta
    count_delta = (add is not None) - (remove is not None)
    count = F("rating_count") + count_delta
    total: Expression = sum(
        (counts[stars] * stars for stars in STARS[1:]), start=counts[1] * 1
    )
    total_f = Cast(total, FloatField())
    count_f = Cast(count, FloatField())
    weight = float(settings.REVIEW_PRIOR_WEIGHT)
    prior = weight * float(settings.REVIEW_PRIOR_MEAN)
    Agent.objects.filter(pk=agent_id).update(
        **{f"rating_{stars}": counts[stars] for stars in STARS},
        rating_count=count,
        rating_mean=total_f / NullIf(count_f, Value(0.0)),
        rating_score=Case(
            When(
                GreaterThan(count, 0),
                then=Coalesce(
                    (Value(prior) + total_f)
                    / NullIf(Value(weight) + count_f, Value(0.0)),
                    Value(0.0),
                ),
            ),
            default=Value(0.0),
        ),
    )


# --- Writing a review ---------------------------------------------------------------


def _rate_limit(*, user: User, action: str, rate: tuple[int, int]) -> None:
    limit, window = rate
    if not ratelimit.allow(
        action=action, subject=str(user.pk), limit=limit, window=window
    ):
        raise TooManyRequests(
            _("You have done this many times in a short while; try again later.")
        )


def _validate_review(*, stars: Any, title: str, body: str) -> tuple[int, str, str]:
    errors: dict[str, list[str]] = {}
    if isinstance(stars, bool) or not isinstance(stars, int) or stars not in STARS:
        errors["stars"] = [_("Give from 1 to 5 stars.")]
    title = (title or "").strip()
    body = (body or "").strip()
    if not title:
        errors["title"] = [_("Give your review a title.")]
    elif len(title) > TITLE_MAX_LENGTH:
        errors["title"] = [
            _("Keep the title within %(max)d characters.") % {"max": TITLE_MAX_LENGTH}
        ]
    if not body:
        errors["body"] = [_("Say what you found.")]
    elif len(body) > BODY_MAX_LENGTH:
        errors["body"] = [
            _("Keep the review within %(max)d characters.") % {"max": BODY_MAX_LENGTH}
        ]
    if errors:
        raise ApplicationError(_("Some fields are not valid."), details=errors)
    return stars, title, body


def review_check_eligible(*, user: User, agent: Agent) -> Install:
    """The user's latest install of the agent, if they may review it; else
    ReviewNotAllowed with the reason."""
    if membership_role(user=user, organization=agent.publisher) is not None:
        raise ReviewNotAllowed(
            _("You belong to %(publisher)s, so you cannot review its agents.")
            % {"publisher": agent.publisher.name}
        )
    install = (
        Install.objects.filter(user=user, agent=agent)
        .select_related("version")
        .order_by("-created_at", "-pk")
        .first()
    )
    if install is None:
        raise ReviewNotAllowed(_("Only people who installed this agent can review it."))
    return install


def _event(
    *,
    review: Review,
    actor: User | None,
    action: str,
    from_state: str = "",
    to_state: str = "",
    reason: str = "",
    **payload: Any,
) -> None:
    ReviewEvent.objects.create(
        review=review,
        actor=actor,
        action=action,
        from_state=from_state,
        to_state=to_state,
        reason=reason,
        payload=payload,
    )


def review_link(review: Review) -> str:
    """The review's own page."""
    return reverse(
        "review-detail",
        kwargs={
            "publisher": review.agent.publisher.slug,
            "agent": review.agent.slug,
            "review_id": review.pk,
        },
    )


@transaction.atomic
def review_submit(
    *, user: User, agent: Agent, stars: int, title: str, body: str
) -> Review:
    """Write the user's review of the agent, or edit it if they wrote one: the
    earlier text becomes a revision. The review is tied to the version of the
    user's latest install."""
    agent = Agent.objects.select_related("publisher").get(pk=agent.pk)
    stars, title, body = _validate_review(stars=stars, title=title, body=body)
    install = review_check_eligible(user=user, agent=agent)
    _rate_limit(user=user, action="review-write", rate=REVIEW_RATE)
    review = (
        Review.objects.select_for_update()
        .filter(user=user, agent=agent)
        .select_related("agent__publisher")
        .first()
    )
    if review is None:
        review = Review(
            user=user,
            agent=agent,
            version=install.version,
            stars=stars,
            title=title,
            body=body,
        )
        try:
            with transaction.atomic():
                review.save(force_insert=True)
        except IntegrityError:
            # The same user's other request wrote the review first: edit it.
            review = (
                Review.objects.select_for_update()
                .select_related("agent__publisher")
                .get(user=user, agent=agent)
            )
        else:
            _event(
                review=review,
                actor=user,
                action="created",
                to_state=review.state,
                stars=stars,
                version=install.version.version,
            )
            if review.state == State.VISIBLE:
                _rating_apply(agent_id=agent.pk, remove=None, add=stars)
            return review
    return _review_edit(
        review=review, user=user, install=install, stars=stars, title=title, body=body
    )


def _review_edit(
    *,
    review: Review,
    user: User,
    install: Install,
    stars: int,
    title: str,
    body: str,
) -> Review:
    """Edit a review the caller holds locked."""
    unchanged = (
        review.stars == stars
        and review.title == title
        and review.body == body
        and review.version_id == install.version_id
    )
    if unchanged:
        return review
    ReviewRevision.objects.create(
        review=review,
        version_id=review.version_id,
        stars=review.stars,
        title=review.title,
        body=review.body,
        written_at=review.updated_at,
    )
    previous = review.stars
    review.stars = stars
    review.title = title
    review.body = body
    review.version = install.version
    review.save(update_fields=["stars", "title", "body", "version", "updated_at"])
    _event(
        review=review,
        actor=user,
        action="edited",
        from_state=review.state,
        to_state=review.state,
        stars_before=previous,
        stars=stars,
        version=install.version.version,
    )
    if review.state == State.VISIBLE:
        _rating_apply(agent_id=review.agent_id, remove=previous, add=stars)
    return review


# --- The publisher's reply ----------------------------------------------------------


@transaction.atomic
def review_reply(*, actor: User, review: Review, body: str) -> ReviewReply:
    """The publisher's reply to a review, or an edit of it. The reviewer hears of
    the first reply in their inbox."""
    review = (
        Review.objects.select_for_update()
        .select_related("agent__publisher", "user")
        .get(pk=review.pk)
    )
    publisher = review.agent.publisher
    if membership_role(user=actor, organization=publisher) not in EDITOR_ROLES:
        raise PermissionDenied(
            _("Only members of %(publisher)s can reply to reviews of its agents.")
            % {"publisher": publisher.name}
        )
    body = (body or "").strip()
    if not body:
        raise ApplicationError(
            _("Write a reply."), details={"body": [_("This field is required.")]}
        )
    if len(body) > REPLY_MAX_LENGTH:
        message = _("Keep the reply within %(max)d characters.") % {
            "max": REPLY_MAX_LENGTH
        }
        raise ApplicationError(message, details={"body": [message]})
    if review.state != State.VISIBLE:
        raise Conflict(_("This review is hidden by a moderator; it takes no reply."))
    reply = ReviewReply.objects.filter(review=review).first()
    if reply is None:
        reply = ReviewReply.objects.create(
            review=review, publisher=publisher, author=actor, body=body
        )
        _event(review=review, actor=actor, action="replied")
        notification_create(
            user=review.user,
            kind=Notification.Kind.REVIEW_REPLY,
            message=gettext_noop("%(publisher)s replied to your review of %(agent)s."),
            params={"publisher": publisher.name, "agent": review.agent.name},
            link=review_link(review),
        )
        return reply
    if reply.body != body:
        reply.body = body
        reply.author = actor
        reply.save(update_fields=["body", "author", "updated_at"])
        _event(review=review, actor=actor, action="reply_edited")
    return reply


# --- Flags and moderation -----------------------------------------------------------


@transaction.atomic
def review_flag(
    *, user: User, review: Review, reason: str, note: str = ""
) -> ReviewFlag:
    """Report a review to the moderators, once per user."""
    review = Review.objects.select_for_update().get(pk=review.pk)
    if review.user_id == user.pk:
        raise PermissionDenied(
            _("You cannot flag your own review; edit it instead."),
            code="own_review",
        )
    if reason not in ReviewFlag.Reason.values:
        raise ApplicationError(
            _("Choose a reason."), details={"reason": [_("Choose a reason.")]}
        )
    note = (note or "").strip()
    if len(note) > FLAG_NOTE_MAX_LENGTH:
        message = _("Keep the note within %(max)d characters.") % {
            "max": FLAG_NOTE_MAX_LENGTH
        }
        raise ApplicationError(message, details={"note": [message]})
    if review.state != State.VISIBLE:
        raise Conflict(_("A moderator has hidden this review already."))
    already = _("You have flagged this review already.")
    if ReviewFlag.objects.filter(review=review, user=user).exists():
        raise Conflict(already, code="already_flagged")
    _rate_limit(user=user, action="review-flag", rate=FLAG_RATE)
    flag = ReviewFlag(review=review, user=user, reason=reason, note=note)
    try:
        with transaction.atomic():
            flag.save(force_insert=True)
    except IntegrityError:
        raise Conflict(already, code="already_flagged") from None
    Review.objects.filter(pk=review.pk).update(open_flags=F("open_flags") + 1)
    _event(review=review, actor=user, action="flagged", reason=note, flag=reason)
    return flag


def _ensure_moderator(*, actor: User, review: Review) -> None:
    if not is_reviewer(actor):
        raise PermissionDenied(_("Only the operator's reviewers moderate reviews."))
    if membership_role(user=actor, organization=review.agent.publisher) is not None:
        raise PermissionDenied(
            _(
                "You belong to %(publisher)s, so you cannot moderate reviews of its "
                "agents."
            )
            % {"publisher": review.agent.publisher.name},
            code="conflict_of_interest",
        )


def _reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ApplicationError(
            _("Say why; the author is told."),
            details={"reason": [_("A reason is required.")]},
        )
    if len(reason) > REASON_MAX_LENGTH:
        message = _("Keep the reason within %(max)d characters.") % {
            "max": REASON_MAX_LENGTH
        }
        raise ApplicationError(message, details={"reason": [message]})
    return reason


def _close_flags(review: Review) -> int:
    closed = ReviewFlag.objects.filter(review=review, resolved_at=None).update(
        resolved_at=timezone.now()
    )
    Review.objects.filter(pk=review.pk).update(open_flags=0)
    return closed


MODERATION_NOTICES: dict[str, str] = {
    State.HIDDEN: gettext_noop("A moderator hid your review of %(agent)s: %(reason)s"),
    State.VISIBLE: gettext_noop(
        "A moderator restored your review of %(agent)s: %(reason)s"
    ),
}


def review_transition(
    *, review: Review, to: str, actor: User, action: str, reason: str
) -> Review:
    """Move ``review`` to ``to`` if the table allows it and nobody moved it first;
    the agent's summary follows. Call inside a transaction."""
    source = review.state
    if to not in TRANSITIONS[source]:
        raise InvalidTransition(
            _("A review that is %(from)s cannot become %(to)s.")
            % {"from": State(source).label, "to": State(to).label}
        )
    moved = Review.objects.filter(pk=review.pk, state=source).update(state=to)
    if not moved:
        raise InvalidTransition(
            _("This review was changed meanwhile; reload and retry.")
        )
    # The stars as they are now: a concurrent edit committed before this UPDATE.
    stars = Review.objects.values_list("stars", flat=True).get(pk=review.pk)
    if to == State.HIDDEN:
        _rating_apply(agent_id=review.agent_id, remove=stars, add=None)
    else:
        _rating_apply(agent_id=review.agent_id, remove=None, add=stars)
    closed = _close_flags(review)
    _event(
        review=review,
        actor=actor,
        action=action,
        from_state=source,
        to_state=to,
        reason=reason,
        flags_closed=closed,
    )
    review.refresh_from_db()
    notification_create(
        user=review.user,
        kind=Notification.Kind.REVIEW_MODERATED,
        message=MODERATION_NOTICES[to],
        params={"agent": review.agent.name, "reason": reason},
        link=review_link(review),
    )
    return review


def _locked(review: Review) -> Review:
    return (
        Review.objects.select_for_update()
        .select_related("agent__publisher", "user")
        .get(pk=review.pk)
    )


@transaction.atomic
def review_hide(*, actor: User, review: Review, reason: str) -> Review:
    """Hide a review from the public and from the agent's rating."""
    review = _locked(review)
    _ensure_moderator(actor=actor, review=review)
    return review_transition(
        review=review,
        to=State.HIDDEN,
        actor=actor,
        action="hidden",
        reason=_reason(reason),
    )


@transaction.atomic
def review_restore(*, actor: User, review: Review, reason: str) -> Review:
    """Show a hidden review again; it counts in the rating again."""
    review = _locked(review)
    _ensure_moderator(actor=actor, review=review)
    return review_transition(
        review=review,
        to=State.VISIBLE,
        actor=actor,
        action="restored",
        reason=_reason(reason),
    )


@transaction.atomic
def review_flags_dismiss(*, actor: User, review: Review, reason: str) -> Review:
    """Keep a flagged review as it is and close its open flags."""
    review = _locked(review)
    _ensure_moderator(actor=actor, review=review)
    reason = _reason(reason)
    if review.open_flags == 0:
        raise Conflict(_("This review has no open flags."))
    closed = _close_flags(review)
    _event(
        review=review,
        actor=actor,
        action="flags_dismissed",
        from_state=review.state,
        to_state=review.state,
        reason=reason,
        flags_closed=closed,
    )
    review.refresh_from_db()
    return review


# --- Signs of manipulation ------------------------------------------------------------

# The thresholds are constants so that changing one is a reviewed commit. Every review
# counts, hidden or not: a hidden review is evidence too.

# New accounts and bursts look at the reviews written in the last SIGNAL_WINDOW_DAYS.
SIGNAL_WINDOW_DAYS = 90
# New accounts: reviewers whose accounts were made on one calendar day (the site's
# time zone) form a cluster when there are at least NEW_ACCOUNTS_MIN_CLUSTER of them.
# A real audience signs up over many days; a batch of accounts made to praise or sink
# an agent shares its birthday. Raised when the clustered reviews are at least
# NEW_ACCOUNTS_MIN_COUNT and NEW_ACCOUNTS_MIN_SHARE of the window's reviews.
NEW_ACCOUNTS_MIN_CLUSTER = 3
NEW_ACCOUNTS_MIN_COUNT = 3
NEW_ACCOUNTS_MIN_SHARE = 0.3
# Bursts: the most 5-star (or 1-star) reviews within any BURST_HOURS of the window,
# against the agent's usual number of reviews in as long (its other reviews of the
# window spread over the time it was listed, and never less than BURST_MIN_EXPECTED,
# so that a quiet agent's first few reviews are no burst). Raised at BURST_MIN_COUNT
# reviews that are BURST_FACTOR times the usual or more.
BURST_HOURS = 24
BURST_MIN_COUNT = 5
BURST_MIN_EXPECTED = 1.0
BURST_FACTOR = 5.0
# Single publisher: reviewers with SINGLE_PUBLISHER_MIN_REVIEWS reviews or more, all of
# this publisher's agents (a single review says nothing: most people write one).
# Raised when at least SINGLE_PUBLISHER_MIN_COUNT of them are
# SINGLE_PUBLISHER_MIN_SHARE of the agent's reviewers or more.
SINGLE_PUBLISHER_MIN_REVIEWS = 2
SINGLE_PUBLISHER_MIN_COUNT = 3
SINGLE_PUBLISHER_MIN_SHARE = 0.3


def _new_accounts_signal(
    rows: list[tuple[datetime, int, datetime]],
) -> tuple[float, dict[str, Any]]:
    reviews = len(rows)
    by_day: Counter[date] = Counter(
        timezone.localtime(joined).date() for _written, _stars, joined in rows
    )
    clusters = {
        day: size
        for day, size in sorted(by_day.items())
        if size >= NEW_ACCOUNTS_MIN_CLUSTER
    }
    count = sum(clusters.values())
    share = count / reviews if reviews else 0.0
    return share, {
        "window_days": SIGNAL_WINDOW_DAYS,
        "reviews": reviews,
        "count": count,
        "share": round(share, 4),
        "days": [
            {"day": day.isoformat(), "accounts": size}
            for day, size in sorted(clusters.items(), key=lambda item: -item[1])[:5]
        ],
        "raised": count >= NEW_ACCOUNTS_MIN_COUNT and share >= NEW_ACCOUNTS_MIN_SHARE,
    }


def _densest(times: list[datetime]) -> tuple[int, datetime | None]:
    """The most of ``times`` (sorted) within BURST_HOURS, and when that stretch
    began."""
    span = timedelta(hours=BURST_HOURS)
    best, start, left = 0, None, 0
    for right, moment in enumerate(times):
        while moment - times[left] >= span:
            left += 1
        if right - left + 1 > best:
            best, start = right - left + 1, times[left]
    return best, start


def _burst_signal(
    rows: list[tuple[datetime, int, datetime]], *, listed_since: datetime, now: datetime
) -> tuple[float, dict[str, Any]]:
    window_start = now - timedelta(days=SIGNAL_WINDOW_DAYS)
    hours = max(
        float(BURST_HOURS),
        (now - max(window_start, listed_since)).total_seconds() / 3600,
    )
    details: dict[str, Any] = {"window_days": SIGNAL_WINDOW_DAYS, "hours": BURST_HOURS}
    strongest = 0.0
    raised = False
    for stars in (5, 1):
        count, start = _densest(
            sorted(written for written, given, _joined in rows if given == stars)
        )
        others = len(rows) - count
        expected = max(others / hours * BURST_HOURS, BURST_MIN_EXPECTED)
        ratio = count / expected
        strongest = max(strongest, ratio)
        raised = raised or (count >= BURST_MIN_COUNT and ratio >= BURST_FACTOR)
        details[f"stars_{stars}"] = {
            "count": count,
            "start": start.isoformat() if start else None,
            "expected": round(expected, 4),
            "ratio": round(ratio, 4),
        }
    details["raised"] = raised
    return strongest, details


def _single_publisher_signal(*, agent: Agent) -> tuple[float, dict[str, Any]]:
    reviewers = Review.objects.filter(agent=agent).values("user_id")
    totals = (
        Review.objects.filter(user_id__in=reviewers)
        .values("user_id")
        .annotate(
            total=Count("pk"),
            here=Count("pk", filter=Q(agent__publisher_id=agent.publisher_id)),
        )
        .order_by()
    )
    count = everyone = 0
    for row in totals:
        everyone += 1
        if row["total"] >= SINGLE_PUBLISHER_MIN_REVIEWS and row["here"] == row["total"]:
            count += 1
    share = count / everyone if everyone else 0.0
    return share, {
        "reviewers": everyone,
        "count": count,
        "share": round(share, 4),
        "raised": count >= SINGLE_PUBLISHER_MIN_COUNT
        and share >= SINGLE_PUBLISHER_MIN_SHARE,
    }


@transaction.atomic
def review_signals_compute(
    *, agent_id: int, now: datetime | None = None
) -> list[ReviewSignal]:
    """Compute the agent's signs of review manipulation and store them, one row per
    kind (replaced each time). The same reviews give the same signals."""
    now = now or timezone.now()
    agent = Agent.objects.filter(pk=agent_id).first()
    if agent is None:
        return []
    rows = list(
        Review.objects.filter(
            agent=agent, created_at__gte=now - timedelta(days=SIGNAL_WINDOW_DAYS)
        )
        .order_by("created_at", "pk")
        .values_list("created_at", "stars", "user__date_joined")
    )
    listed_since = agent.published_at or agent.created_at
    kinds = ReviewSignal.Kind
    computed = {
        kinds.NEW_ACCOUNTS: _new_accounts_signal(rows),
        kinds.BURST: _burst_signal(rows, listed_since=listed_since, now=now),
        kinds.SINGLE_PUBLISHER: _single_publisher_signal(agent=agent),
    }
    signals = [
        ReviewSignal(
            agent=agent,
            kind=kind,
            score=round(score, 4),
            details=details,
            computed_at=now,
        )
        for kind, (score, details) in computed.items()
    ]
    ReviewSignal.objects.bulk_create(
        signals,
        update_conflicts=True,
        unique_fields=["agent", "kind"],
        update_fields=["score", "details", "computed_at"],
    )
    return signals


def review_signals_compute_due(*, now: datetime | None = None) -> int:
    """Compute the signals of every agent reviewed within the window, and of those
    that have signals from before (so that old signals fade as the window moves).
    Each agent in its own transaction. Returns how many agents."""
    now = now or timezone.now()
    recent = (
        Review.objects.filter(created_at__gte=now - timedelta(days=SIGNAL_WINDOW_DAYS))
        .values_list("agent_id", flat=True)
        .order_by()
        .distinct()
    )
    known = (
        ReviewSignal.objects.values_list("agent_id", flat=True).order_by().distinct()
    )
    agent_ids = sorted(set(recent) | set(known))
    for agent_id in agent_ids:
        review_signals_compute(agent_id=agent_id, now=now)
    return len(agent_ids)
