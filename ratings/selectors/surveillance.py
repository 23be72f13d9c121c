"""Reads of rating surveillance: an entity's current rating (published and not
past its validity), and a body's watches, open, overdue or resolved."""

import uuid
from datetime import datetime

from django.db.models import OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from marketplace.models import Membership, Organization, User
from marketplace.selectors.organizations import membership_role
from ratings.models import Rating, Watch

State = Rating.State


def rating_is_expired(*, rating: Rating, now: datetime | None = None) -> bool:
    """A published rating lapses once its validity ends: it stays published (the
    record) but no longer stands as the entity's grade."""
    now = now or timezone.now()
    return rating.valid_until is not None and rating.valid_until <= now


def current_ratings(
    *, entity_ids: list[int] | None = None, now: datetime | None = None
) -> QuerySet[Rating]:
    """Published ratings within their validity, newest publication first."""
    now = now or timezone.now()
    ratings = Rating.objects.filter(state=State.PUBLISHED).filter(
        Q(valid_until__isnull=True) | Q(valid_until__gt=now)
    )
    if entity_ids is not None:
        ratings = ratings.filter(entity_id__in=entity_ids)
    return ratings.order_by("-published_at", "-pk")


def current_rating(
    entity: Organization,
    body: Organization | None = None,
    *,
    now: datetime | None = None,
) -> Rating | None:
    """The entity's latest published rating that has not expired (by ``body``
    when given), or None: an expired rating is no grade."""
    ratings = current_ratings(entity_ids=[entity.pk], now=now).select_related(
        "cycle__body", "cycle__methodology"
    )
    if body is not None:
        ratings = ratings.filter(cycle__body=body)
    return ratings.first()


def published_ratings(
    *,
    entity_id: int | OuterRef,
    body_id: int | OuterRef,
    after: datetime | OuterRef | None = None,
) -> QuerySet[Rating]:
    """The entity's published ratings by the body, expired or not, newest first;
    only those published after ``after`` when given. The arguments may be
    ``OuterRef`` for a subquery."""
    ratings = Rating.objects.filter(
        Q(entity_id=entity_id, cycle__body_id=body_id), state=State.PUBLISHED
    )
    if after is not None:
        ratings = ratings.filter(published_at__gt=after)
    return ratings.order_by("-published_at", "-pk")


def _with_grade_since(watches: QuerySet[Watch]) -> QuerySet[Watch]:
    """Each watch with ``grade_since``: the grade of the entity's rating by the
    body published since the watch opened (its watch cycle's, or a later one)
    that stands now, or None while none is published. A watch is resolved up or
    down by that rating."""
    since = published_ratings(
        entity_id=OuterRef("entity_id"),
        body_id=OuterRef("body_id"),
        after=OuterRef("opened_at"),
    )
    return watches.annotate(grade_since=Subquery(since.values("grade")[:1]))


def watch_list_for_body(*, body: Organization, state: str = "open") -> QuerySet[Watch]:
    """The body's watches: ``open`` (soonest due first), ``overdue`` (open and
    past due) or ``resolved`` (latest first); each with ``grade_since``."""
    watches = _with_grade_since(
        Watch.objects.filter(body=body).select_related(
            "entity", "body", "rating", "finding", "opened_by", "resolved_by"
        )
    )
    if state == "resolved":
        return watches.filter(resolved_at__isnull=False).order_by("-resolved_at", "-pk")
    watches = watches.filter(resolved_at__isnull=True)
    if state == "overdue":
        watches = watches.filter(due_at__lt=timezone.now())
    return watches.order_by("due_at", "pk")


def watch_get(*, public_id: object) -> Watch | None:
    """The watch by its public identifier, or None (also for a malformed one);
    with ``grade_since``."""
    try:
        key = uuid.UUID(str(public_id))
    except ValueError:
        return None
    return (
        _with_grade_since(
            Watch.objects.select_related("entity", "body", "rating", "finding")
        )
        .filter(public_id=key)
        .first()
    )


def watch_is_overdue(*, watch: Watch, now: datetime | None = None) -> bool:
    now = now or timezone.now()
    return watch.resolved_at is None and watch.due_at < now


# The body's people who see its watches; the analysts, owners and administrators
# among them act (``ratings.services.surveillance``).
WATCH_VIEWER_ROLES = frozenset(
    {
        Membership.Role.OWNER,
        Membership.Role.ADMIN,
        Membership.Role.ANALYST,
        Membership.Role.COMMITTEE_MEMBER,
    }
)
WATCH_ACTOR_ROLES = frozenset(
    {Membership.Role.OWNER, Membership.Role.ADMIN, Membership.Role.ANALYST}
)


def watch_body_role(*, user: object, body: Organization) -> str | None:
    """The user's role in the industry body when it lets them see its watches."""
    if not isinstance(user, User) or body.kind != Organization.Kind.INDUSTRY_BODY:
        return None
    role = membership_role(user=user, organization=body)
    return role if role in WATCH_VIEWER_ROLES else None
