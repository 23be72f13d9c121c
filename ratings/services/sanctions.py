"""Sanctions and incentives per grade, and what the store is told of them.

A methodology sets, per grade, the sanctions a person of the body may impose on
an entity with that grade (the dishonesty list, store downranking, a publishing
restriction, suspension) and the incentives the store grants while the grade
stands (a store badge, fast-track review).

- ``sanction_impose``: an owner, administrator or committee member of the body,
  impartial to the entity, imposes one of the sanctions the methodology sets for
  a published rating's grade, with reasons. No sanction is applied by
  automation alone: nothing in the code imposes one without a person.
- ``sanctions_expire`` (beat): a sanction past its end expires.
- Credit repair (``ratings.services.repair``) lifts a sanction.
- ``credit_measures_sync`` recomputes the entity's store fields from the
  sanctions in force (of every body) and the incentives of its current
  published ratings, and writes them through marketplace's service. It runs
  after every imposition, expiry, lifting and publication.

Whatever changes what the store is told of an entity holds the lock of the
entity's ``Organization`` row (``entity_lock``) from before its checks until it
commits, so two such changes never overwrite each other. Locks are always taken
in one order: ratings first, then the organisation.

active -> expired | lifted; each move is recorded as a ``CreditEvent``.
"""

import operator
from datetime import datetime, timedelta
from functools import reduce

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from config.exceptions import ApplicationError, Conflict, PermissionDenied
from marketplace.models import Membership, Notification, Organization, User
from marketplace.selectors.organizations import membership_role
from marketplace.services.notifications import notification_create
from marketplace.services.organizations import organization_set_credit_measures
from ratings.models import (
    ConflictOfInterest,
    CreditEvent,
    GradeMeasure,
    Rating,
    Sanction,
)

Role = Membership.Role
Kind = GradeMeasure.Kind

# Who decides sanctions and credit repair for a body.
DECIDER_ROLES = frozenset({Role.OWNER, Role.ADMIN, Role.COMMITTEE_MEMBER})
# Who hears of them at the entity.
ENTITY_ROLES = frozenset({Role.OWNER, Role.ADMIN})
SANCTION_KINDS = frozenset(Kind.values) - GradeMeasure.INCENTIVES
REASON_MAX_LENGTH = 10000
# A sanction lasts at most this many years from its start.
MAX_SANCTION_YEARS = 10


# What the entity is told of each sanction (the notification translates the
# message when it is read, not its parameters).
IMPOSED_MESSAGES: dict[str, str] = {
    Kind.DISHONESTY_LIST: gettext_noop(
        "%(body)s put %(entity)s on its dishonesty list until %(until)s: "
        "%(reason)s Credit repair may be asked for from %(repairable)s."
    ),
    Kind.DOWNRANK: gettext_noop(
        "%(body)s downranked %(entity)s in the store until %(until)s: "
        "%(reason)s Credit repair may be asked for from %(repairable)s."
    ),
    Kind.PUBLISHING_REVIEW: gettext_noop(
        "%(body)s decided that new versions of %(entity)s need manual review "
        "until %(until)s: %(reason)s Credit repair may be asked for from "
        "%(repairable)s."
    ),
    Kind.PUBLISHING_BLOCK: gettext_noop(
        "%(body)s blocked new versions of %(entity)s until %(until)s: "
        "%(reason)s Credit repair may be asked for from %(repairable)s."
    ),
    Kind.SUSPENSION: gettext_noop(
        "%(body)s suspended %(entity)s from the store until %(until)s: "
        "%(reason)s Credit repair may be asked for from %(repairable)s."
    ),
}


# --- Helpers ------------------------------------------------------------------------


def day(moment: datetime) -> str:
    """The date of ``moment`` in the site's time zone, as 2027-01-31."""
    return timezone.localtime(moment).date().isoformat()


def ensure_decider(*, actor: User, body: Organization, entity: Organization) -> None:
    """An owner, administrator or committee member of the body, who neither
    belongs to the entity nor declared a conflict of interest with it."""
    if membership_role(user=actor, organization=body) not in DECIDER_ROLES:
        raise PermissionDenied(
            _(
                "Only the owners, administrators and committee members of %(body)s "
                "decide its sanctions and credit repairs."
            )
            % {"body": body.name},
            code="not_a_decider",
        )
    if (
        Membership.objects.filter(user=actor, organization=entity).exists()
        or ConflictOfInterest.objects.filter(user=actor, entity=entity).exists()
    ):
        raise PermissionDenied(
            _(
                "You belong to %(entity)s or declared a conflict of interest with "
                "it: you take no part in its sanctions."
            )
            % {"entity": entity.name},
            code="conflict_of_interest",
        )


def entity_lock(*, entity_id: int) -> Organization | None:
    """Lock the entity's organisation row until the transaction ends. Take it
    after any rating lock, never before one."""
    return Organization.objects.select_for_update().filter(pk=entity_id).first()


def years_later(moment: datetime, years: int) -> datetime:
    """The same moment ``years`` later (28 February for a 29 February)."""
    try:
        return moment.replace(year=moment.year + years)
    except ValueError:
        return moment.replace(year=moment.year + years, day=28)


def sanction_latest_end(starts_at: datetime) -> datetime:
    """The latest end of a sanction that starts at ``starts_at``."""
    return years_later(starts_at, MAX_SANCTION_YEARS)


def clean_reason(reason: str, *, field: str = "reason") -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ApplicationError.on_field(field, _("Give the reasons."))
    if len(reason) > REASON_MAX_LENGTH:
        raise ApplicationError.on_field(
            field,
            _("Keep the reasons within %(most)d characters.")
            % {"most": REASON_MAX_LENGTH},
        )
    return reason


def notify_entity(
    *, entity: Organization, message: str, params: dict[str, object]
) -> None:
    """Tell the entity's owners and administrators."""
    recipients = User.objects.filter(
        memberships__organization=entity, memberships__role__in=ENTITY_ROLES
    ).distinct()
    for user in recipients:
        notification_create(
            user=user,
            kind=Notification.Kind.CREDIT_RATING,
            message=message,
            params={"entity": entity.name, **params},
        )


def sanction_event(
    *,
    sanction: Sanction,
    actor: User | None,
    action: str,
    from_state: str,
    to_state: str,
    payload: dict[str, object] | None = None,
) -> None:
    CreditEvent.objects.create(
        entity_id=sanction.entity_id,
        rating_id=sanction.rating_id,
        actor=actor,
        action=action,
        from_state=from_state,
        to_state=to_state,
        payload={
            "sanction": str(sanction.public_id),
            "kind": sanction.kind,
            "body": sanction.body_id,
            **(payload or {}),
        },
    )


# --- Imposing -----------------------------------------------------------------------


@transaction.atomic
def sanction_impose(
    *,
    actor: User,
    rating: Rating,
    kind: str,
    reason: str,
    ends_at: datetime | None = None,
) -> Sanction:
    """A person of the body imposes on the rated entity a sanction that the
    methodology sets for the grade of its published rating, with reasons. It
    lasts the measure's ``duration_days`` unless ``ends_at`` says otherwise, and
    may be repaired after ``repair_after_days``. Once per rating and kind."""
    rating = (
        Rating.objects.select_for_update(of=("self",))
        .select_related("cycle__body", "cycle__methodology", "entity")
        .get(pk=rating.pk)
    )
    entity_lock(entity_id=rating.entity_id)
    body = rating.cycle.body
    ensure_decider(actor=actor, body=body, entity=rating.entity)
    now = timezone.now()
    if rating.state != Rating.State.PUBLISHED:
        raise Conflict(
            _("Sanctions are imposed on published ratings only."),
            code="rating_not_published",
        )
    if rating.valid_until is not None and rating.valid_until <= now:
        raise Conflict(
            _(
                "This rating lapsed on %(date)s: sanctions are imposed on ratings "
                "in force only."
            )
            % {"date": day(rating.valid_until)},
            code="rating_lapsed",
        )
    measure = (
        GradeMeasure.objects.filter(
            methodology_id=rating.cycle.methodology_id,
            grade=rating.grade,
            kind=kind,
        )
        .exclude(kind__in=GradeMeasure.INCENTIVES)
        .first()
    )
    if measure is None:
        raise ApplicationError.on_field(
            "kind",
            _("The methodology sets no such sanction for the grade %(grade)s.")
            % {"grade": rating.grade},
        )
    reason = clean_reason(reason)
    if ends_at is None:
        ends_at = now + timedelta(days=measure.duration_days)
    elif timezone.is_naive(ends_at) or ends_at <= now:
        raise ApplicationError.on_field(
            "ends_at", _("A sanction ends at a time in the future.")
        )
    elif ends_at > sanction_latest_end(now):
        raise ApplicationError.on_field(
            "ends_at",
            _("A sanction lasts at most %(years)d years: end it by %(date)s.")
            % {"years": MAX_SANCTION_YEARS, "date": day(sanction_latest_end(now))},
        )
    if Sanction.objects.filter(rating=rating, kind=kind).exists():
        raise Conflict(
            _("This sanction was imposed on this rating already."),
            code="sanction_exists",
        )
    sanction = Sanction(
        entity=rating.entity,
        body=body,
        rating=rating,
        kind=kind,
        reason=reason,
        starts_at=now,
        ends_at=ends_at,
        repairable_from=now + timedelta(days=measure.repair_after_days),
        imposed_by=actor,
    )
    try:
        with transaction.atomic():
            sanction.save(force_insert=True)
    except IntegrityError:
        raise Conflict(
            _("This sanction was imposed on this rating already."),
            code="sanction_exists",
        ) from None
    sanction_event(
        sanction=sanction,
        actor=actor,
        action="sanction_imposed",
        from_state="",
        to_state=Sanction.State.ACTIVE,
        payload={
            "reason": reason,
            "grade": rating.grade,
            "ends_at": ends_at.isoformat(),
            "repairable_from": sanction.repairable_from.isoformat(),
        },
    )
    credit_measures_sync(entity_id=rating.entity_id)
    notify_entity(
        entity=rating.entity,
        message=IMPOSED_MESSAGES[kind],
        params={
            "body": body.name,
            "kind": sanction.kind,
            "until": day(ends_at),
            "reason": reason,
            "repairable": day(sanction.repairable_from),
            "sanction": str(sanction.public_id),
        },
    )
    return sanction


# --- Expiry -------------------------------------------------------------------------


@transaction.atomic
def sanctions_expire(*, now: datetime | None = None) -> int:
    """For beat: the active sanctions past their end expire. Returns how many;
    running it again expires nothing twice."""
    now = now or timezone.now()
    due = list(
        Sanction.objects.filter(state=Sanction.State.ACTIVE, ends_at__lte=now)
        .order_by("ends_at", "pk")
        .values_list("pk", "entity_id")
    )
    # The entities first (in one order), then their sanctions.
    list(
        Organization.objects.select_for_update()
        .filter(pk__in={entity_id for _pk, entity_id in due})
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    expired = 0
    entities: set[int] = set()
    for pk, _entity_id in due:
        moved = Sanction.objects.filter(pk=pk, state=Sanction.State.ACTIVE).update(
            state=Sanction.State.EXPIRED, ended_at=now
        )
        if not moved:
            continue
        sanction = Sanction.objects.get(pk=pk)
        sanction_event(
            sanction=sanction,
            actor=None,
            action="sanction_expired",
            from_state=Sanction.State.ACTIVE,
            to_state=Sanction.State.EXPIRED,
        )
        entities.add(sanction.entity_id)
        expired += 1
    for entity_id in sorted(entities):
        credit_measures_sync(entity_id=entity_id)
    return expired


# --- What the store is told ---------------------------------------------------------


@transaction.atomic
def credit_measures_sync(*, entity_id: int) -> dict[str, object]:
    """Recompute the entity's credit measures in the store from the active
    sanctions of every body and the incentives of its current published ratings
    (an incentive holds only while no sanction is active), and write them.
    Returns what was written; running it again writes the same. It holds the
    entity's lock, so what it reads is not changed before it writes."""
    entity_lock(entity_id=entity_id)
    now = timezone.now()
    sanctions = set(
        Sanction.objects.filter(
            entity_id=entity_id, state=Sanction.State.ACTIVE
        ).values_list("kind", flat=True)
    )
    incentives: set[str] = set()
    if not sanctions:
        graded = set(
            Rating.objects.filter(entity_id=entity_id, state=Rating.State.PUBLISHED)
            .filter(Q(valid_until__isnull=True) | Q(valid_until__gt=now))
            .values_list("cycle__methodology_id", "grade")
        )
        if graded:
            incentives = set(
                GradeMeasure.objects.filter(kind__in=GradeMeasure.INCENTIVES)
                .filter(
                    reduce(
                        operator.or_,
                        (Q(methodology_id=m, grade=grade) for m, grade in graded),
                    )
                )
                .values_list("kind", flat=True)
            )
    if Kind.PUBLISHING_BLOCK in sanctions:
        restriction = Organization.PublishingRestriction.BLOCKED
    elif Kind.PUBLISHING_REVIEW in sanctions:
        restriction = Organization.PublishingRestriction.REVIEW
    else:
        restriction = Organization.PublishingRestriction.NONE
    measures: dict[str, object] = {
        "dishonesty_listed": Kind.DISHONESTY_LIST in sanctions,
        "store_downranked": Kind.DOWNRANK in sanctions,
        "publishing_restriction": str(restriction),
        "credit_suspended": Kind.SUSPENSION in sanctions,
        "credit_badge": Kind.STORE_BADGE in incentives,
        "fast_track_review": Kind.FAST_TRACK in incentives,
    }
    organization_set_credit_measures(organization_id=entity_id, **measures)
    return measures
