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
through ``_rating_apply``; it is never recounted when a page is read. Rows changed
outside these services (a deleted account takes its reviews with it; bulk loads)
are set right by ``agent_rating_recount``, from the visible reviews.

The signs of manipulation live in ``marketplace.services.review_signals``.
"""

from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import (
    Case,
    Expression,
    F,
    FloatField,
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
    AgentEvent,
    Install,
    Notification,
    Review,
    ReviewEvent,
    ReviewFlag,
    ReviewReply,
    ReviewRevision,
    User,
)
from marketplace.selectors.organizations import membership_role
from marketplace.services.agents import EDITOR_ROLES
from marketplace.services.agreements import agreements_ensure_accepted
from marketplace.services.governance import listing_flag_scan_review
from marketplace.services.notifications import notification_create
from marketplace.services.publishing import is_reviewer
from marketplace.services.review_signals import (
    review_signals_agents_due as review_signals_agents_due,
)
from marketplace.services.review_signals import (
    review_signals_compute as review_signals_compute,
)

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


# Agents per UPDATE: well within the databases' limits on parameters.
RECOUNT_CHUNK = 500

RATING_FIELDS = (
    *(f"rating_{stars}" for stars in STARS),
    "rating_count",
    "rating_mean",
    "rating_score",
)


def _recount_sql(placeholders: str) -> str:
    """One UPDATE that sets the summary of the agents ``id IN (placeholders)`` from
    their visible reviews: a correlated aggregate per agent (no reviews: zeros, no
    mean, a score of 0). Plain SQL because the ORM cannot set several columns from
    one aggregate; PostgreSQL and SQLite both take the row-value form."""
    quote = connection.ops.quote_name
    agents = quote(Agent._meta.db_table)
    reviews = quote(Review._meta.db_table)
    columns = ", ".join(quote(field) for field in RATING_FIELDS)
    histogram = ", ".join(
        f"COALESCE(SUM(CASE WHEN r.stars = {stars} THEN 1 ELSE 0 END), 0)"
        for stars in STARS
    )
    total = "CAST(SUM(r.stars) AS FLOAT)"
    # Names come from the models; every value is a parameter.
    return (
        f"UPDATE {agents} SET ({columns}) = ("  # noqa: S608
        f"SELECT {histogram}, COUNT(r.id), "
        f"{total} / NULLIF(COUNT(r.id), 0), "
        f"CASE WHEN COUNT(r.id) > 0 THEN (%s + {total}) / (%s + COUNT(r.id)) "
        "ELSE 0.0 END "
        f"FROM {reviews} r WHERE r.agent_id = {agents}.id AND r.state = %s"
        f") WHERE {agents}.id IN ({placeholders})"
    )


def _summary_rows(
    agent_ids: Sequence[int], *, lock: bool = False
) -> dict[int, tuple[Any, ...]]:
    """The stored summary of each agent, by id (locked, in id order, if asked)."""
    agents = Agent.objects.filter(pk__in=agent_ids).order_by("pk")
    if lock:
        agents = agents.select_for_update()
    return {row[0]: tuple(row[1:]) for row in agents.values_list("pk", *RATING_FIELDS)}


@transaction.atomic
def agent_rating_recount_many(
    *, agent_ids: Sequence[int], actor: User | None = None
) -> int:
    """Recompute the rating summary (count, histogram, mean and Bayesian score) of
    the agents from their visible reviews, one UPDATE per RECOUNT_CHUNK agents, and
    record an event on each agent whose summary was wrong. Returns how many were
    wrong.

    The agents are locked first, so the UPDATE sees every review whose delta was
    applied before, and a delta applied after lands on the recounted values."""
    ids = sorted(set(agent_ids))
    return sum(
        _recount(agent_ids=ids[start : start + RECOUNT_CHUNK], actor=actor)
        for start in range(0, len(ids), RECOUNT_CHUNK)
    )


def _recount(*, agent_ids: list[int], actor: User | None) -> int:
    before = _summary_rows(agent_ids, lock=True)
    if not before:
        return 0
    locked = list(before)
    weight = float(settings.REVIEW_PRIOR_WEIGHT)
    prior = weight * float(settings.REVIEW_PRIOR_MEAN)
    with connection.cursor() as cursor:
        cursor.execute(
            _recount_sql(", ".join(["%s"] * len(locked))),
            [prior, weight, State.VISIBLE, *locked],
        )
    after = _summary_rows(locked)
    events = [
        AgentEvent(
            agent_id=agent_id,
            actor=actor,
            action="rating_recounted",
            payload={
                "before": dict(zip(RATING_FIELDS, before[agent_id], strict=True)),
                "after": dict(zip(RATING_FIELDS, summary, strict=True)),
            },
        )
        for agent_id, summary in after.items()
        if not _same_summary(before[agent_id], summary)
    ]
    AgentEvent.objects.bulk_create(events)
    return len(events)


def _same_summary(before: tuple[Any, ...], after: tuple[Any, ...]) -> bool:
    """Counts equal, and the mean and score equal but for float rounding."""
    for old, new in zip(before, after, strict=True):
        if isinstance(old, float) and isinstance(new, float):
            if abs(old - new) > 1e-9:
                return False
        elif old != new:
            return False
    return True


def agent_rating_recount(*, agent_id: int, actor: User | None = None) -> bool:
    """Recompute one agent's rating summary from its visible reviews; whether it
    was wrong."""
    return agent_rating_recount_many(agent_ids=[agent_id], actor=actor) > 0


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
    agreements_ensure_accepted(user=user)
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
            listing_flag_scan_review(review=review)
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
    listing_flag_scan_review(review=review)
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
    agreements_ensure_accepted(user=actor)
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
        previous_body, previous_author_id = reply.body, reply.author_id
        written_at = reply.updated_at
        reply.body = body
        reply.author = actor
        reply.save(update_fields=["body", "author", "updated_at"])
        _event(
            review=review,
            actor=actor,
            action="reply_edited",
            previous_body=previous_body,
            previous_author_id=previous_author_id,
            previous_written_at=written_at.isoformat(),
        )
    return reply


# --- Flags and moderation -----------------------------------------------------------


def review_check_can_flag(*, user: User, review: Review) -> None:
    """Refuses (with the reason) a user who may not flag ``review``: its author, or
    anyone whose e-mail address is not confirmed."""
    if review.user_id == user.pk:
        raise PermissionDenied(
            _("You cannot flag your own review; edit it instead."),
            code="own_review",
        )
    if not user.email_verified:
        raise PermissionDenied(
            _(
                "Confirm your e-mail address first: open the link we sent to "
                "%(email)s, then flag the review."
            )
            % {"email": user.email},
            code="email_not_verified",
        )


@transaction.atomic
def review_flag(
    *, user: User, review: Review, reason: str, note: str = ""
) -> ReviewFlag:
    """Report a review to the moderators, once per user, with a confirmed e-mail
    address."""
    agreements_ensure_accepted(user=user)
    review = Review.objects.select_for_update().get(pk=review.pk)
    review_check_can_flag(user=user, review=review)
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


@transaction.atomic
def review_transition(
    *, review: Review, to: str, actor: User, action: str, reason: str
) -> Review:
    """Move ``review`` to ``to`` if the table allows it and nobody moved it first;
    the agent's summary follows."""
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
