"""Surveillance of published ratings: watches, outlook and expiry.

    watch: open -> resolved (affirm | upgrade | downgrade)

- A watch opens when something may move an entity's grade: a serious finding
  (``watch_on_finding``, with every body the entity is enrolled with), a recall of
  one of its agent versions or a spike of complaints (``watch_scan``, run by beat),
  or an analyst's call (``watch_open`` with an actor). There is at most one open
  watch per entity and body: opening again returns the open one. It links the
  entity's published rating by the body, is due in ``WATCH_DAYS`` days, and sets
  the store's ``credit_on_watch``.
- Opening a watch starts a watch cycle that rates the entity again
  (``_rate_again``); that rating goes the normal way (analyst review, committee,
  notice, objection) and, once published, supersedes the rating under watch. A
  watch moves no grade by itself.
- A person of the body (analyst, owner or administrator), impartial to the entity,
  resolves it (``watch_resolve``): ``upgrade`` or ``downgrade`` once a rating
  published since the watch opened has a higher or lower grade than the rating
  under watch; ``affirm`` when no newer rating was published or its grade is the
  same. The outlook of the current rating may change. The store's mark clears
  once no watch of the entity is open.
- An open watch past its due date is overdue: beat tells the body's analysts once
  (``watch_remind_overdue``).
- A published rating lapses at ``valid_until`` (publication plus the
  methodology's ``validity_days``): it stays published, but beat
  (``ratings_expire``) records ``rating_expired`` once and the store's grade falls
  back to the entity's other current rating, or none.

Every step is recorded as a ``CreditEvent`` about the entity.
"""

import logging
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from config.exceptions import ApplicationError, Conflict, PermissionDenied
from marketplace.credit import GRADES, grade_rank
from marketplace.models import (
    AgentEvent,
    AgentVersion,
    Membership,
    Notification,
    Organization,
    User,
)
from marketplace.selectors.organizations import membership_role
from marketplace.services.notifications import notification_create
from marketplace.services.organizations import (
    organization_set_credit_grade,
    organization_set_credit_measures,
)
from ratings.models import (
    ConflictOfInterest,
    CreditEvent,
    Enrolment,
    Finding,
    MisconductReport,
    Rating,
    RatingCycle,
    Watch,
)
from ratings.selectors.surveillance import current_rating, published_ratings

from .methodologies import AUTHOR_ROLES, ENTITY_ROLES
from .sanctions import credit_measures_sync, entity_lock

logger = logging.getLogger(__name__)

Role = Membership.Role
Reason = Watch.Reason
Resolution = Watch.Resolution
Outlook = Rating.Outlook

WATCH_DAYS = 90
DETAIL_MAX_LENGTH = 2000
# The complaint spike: new reports in the last week against the weekly average
# of the 30 days before.
SPIKE_WINDOW = timedelta(days=7)
SPIKE_BASELINE = timedelta(days=30)
SPIKE_FACTOR = 3
# The first scan looks this far back.
FIRST_SCAN = timedelta(days=7)

# What the entity's owners and administrators read, by why the watch opened and
# by how it was resolved.
OPENED_MESSAGES: dict[str, str] = {
    Reason.SEVERE_FINDING: gettext_noop(
        "%(body)s put the rating of %(entity)s on watch after a serious misconduct "
        "finding. It will be resolved by %(due)s."
    ),
    Reason.RECALL: gettext_noop(
        "%(body)s put the rating of %(entity)s on watch after a recall of one of its "
        "agents. It will be resolved by %(due)s."
    ),
    Reason.COMPLAINTS: gettext_noop(
        "%(body)s put the rating of %(entity)s on watch after a spike of "
        "complaints. It will be resolved by %(due)s."
    ),
    Reason.ANALYST: gettext_noop(
        "%(body)s put the rating of %(entity)s on watch on an analyst's call. It "
        "will be resolved by %(due)s."
    ),
}
RESOLVED_MESSAGES: dict[str, str] = {
    Resolution.AFFIRM: gettext_noop(
        "%(body)s resolved the watch on %(entity)s and affirmed its grade."
    ),
    Resolution.UPGRADE: gettext_noop(
        "%(body)s resolved the watch on %(entity)s and upgraded its grade to %(grade)s."
    ),
    Resolution.DOWNGRADE: gettext_noop(
        "%(body)s resolved the watch on %(entity)s and downgraded its grade to "
        "%(grade)s."
    ),
}


# --- Helpers ------------------------------------------------------------------------


def _entity_people(entity_id: int) -> list[User]:
    return list(
        User.objects.filter(
            memberships__organization_id=entity_id,
            memberships__role__in=ENTITY_ROLES,
        ).distinct()
    )


def _tell_entity(watch: Watch, message: str, **params: Any) -> None:
    for user in _entity_people(watch.entity_id):
        notification_create(
            user=user,
            kind=Notification.Kind.CREDIT_RATING,
            message=message,
            params={
                "body": watch.body.name,
                "entity": watch.entity.name,
                "watch": str(watch.public_id),
                **params,
            },
        )


def _ensure_body_person(*, actor: User, body: Organization) -> None:
    if membership_role(user=actor, organization=body) not in AUTHOR_ROLES:
        raise PermissionDenied(
            _("Only the body's analysts, owners and administrators handle watches."),
            code="not_an_analyst",
        )


def _ensure_impartial(*, actor: User, entity: Organization) -> None:
    """Nobody from the entity, nobody with a declared conflict with it (as for
    the entity's ratings)."""
    if (
        Membership.objects.filter(user=actor, organization_id=entity.pk).exists()
        or ConflictOfInterest.objects.filter(user=actor, entity_id=entity.pk).exists()
    ):
        raise PermissionDenied(
            _(
                "You belong to %(entity)s or declared a conflict of interest with "
                "it: you take no part in its rating."
            )
            % {"entity": entity.name},
            code="conflict_of_interest",
        )


def _published_rating(
    *, entity_id: int, body_id: int, lock: bool = False
) -> Rating | None:
    """The entity's published rating by the body (expired or not: it is the one
    under watch), locked when ``lock``."""
    ratings = published_ratings(entity_id=entity_id, body_id=body_id)
    if lock:
        ratings = ratings.select_for_update(of=("self",))
    return ratings.select_related("cycle__methodology", "cycle__body").first()


def _sync_on_watch(entity_id: int) -> None:
    entity_lock(entity_id=entity_id)
    organization_set_credit_measures(
        organization_id=entity_id,
        credit_on_watch=Watch.objects.filter(
            entity_id=entity_id, resolved_at__isnull=True
        ).exists(),
    )


# --- Opening ------------------------------------------------------------------------


def _watch_open(
    *,
    entity: Organization,
    body: Organization,
    reason: str,
    detail: str,
    opened_by: User | None,
    finding: Finding | None,
) -> tuple[Watch, bool]:
    """The open watch of the entity by the body, opened now unless one is open;
    whether it was opened now."""
    entity_lock(entity_id=entity.pk)
    existing = (
        Watch.objects.select_related("entity", "body")
        .filter(entity=entity, body=body, resolved_at__isnull=True)
        .first()
    )
    if existing is not None:
        return existing, False
    rating = _published_rating(entity_id=entity.pk, body_id=body.pk)
    now = timezone.now()
    try:
        with transaction.atomic():
            watch = Watch.objects.create(
                entity=entity,
                body=body,
                reason=reason,
                detail=detail,
                finding=finding,
                rating=rating,
                opened_by=opened_by,
                due_at=now + timedelta(days=WATCH_DAYS),
            )
    except IntegrityError:
        # Opened meanwhile by another caller: that one is the open watch.
        return (
            Watch.objects.select_related("entity", "body").get(
                entity=entity, body=body, resolved_at__isnull=True
            ),
            False,
        )
    CreditEvent.objects.create(
        entity=entity,
        rating=rating,
        actor=opened_by,
        action="watch_opened",
        to_state="open",
        payload={
            "watch": str(watch.public_id),
            "body": body.pk,
            "reason": reason,
            "finding": finding.pk if finding else None,
            "due_at": watch.due_at.isoformat(),
        },
    )
    organization_set_credit_measures(organization_id=entity.pk, credit_on_watch=True)
    _tell_entity(watch, OPENED_MESSAGES[reason], due=watch.due_at.isoformat())
    _rate_again(watch)
    return watch, True


def _rate_again(watch: Watch) -> None:
    """A watch cycle: the entity is rated again at once on the evidence as it
    stands, under the body's methodology in force, so that the analyst who
    resolves the watch has a fresh rating to go by. Nothing to rate with (no
    methodology in force, the entity not enrolled) leaves the watch as it is."""
    from .cycles import cycle_create
    from .methodologies import methodology_in_force

    methodology = methodology_in_force(body=watch.body)
    if methodology is None:
        return
    try:
        with transaction.atomic():
            cycle_create(
                actor=None,
                methodology=methodology,
                trigger=RatingCycle.Trigger.WATCH,
                entity=watch.entity,
            )
    except ApplicationError as error:
        logger.info("Watch %s: no watch cycle (%s)", watch.public_id, error.message)


@transaction.atomic
def watch_open(
    *,
    entity: Organization,
    body: Organization,
    reason: str,
    detail: str = "",
    actor: User | None = None,
    finding: Finding | None = None,
) -> Watch:
    """Put the entity's rating by ``body`` on watch, or return the watch already
    open. With an ``actor`` (an analyst's call), the actor must be an impartial
    analyst, owner or administrator of the body and the entity actively enrolled
    with it; without one the system opens it (a finding, a recall, complaints)."""
    if reason not in Reason.values:
        raise ApplicationError.on_field("reason", _("Choose why the watch opens."))
    if body.kind != Organization.Kind.INDUSTRY_BODY:
        raise ApplicationError.on_field("body", _("Only an industry body watches."))
    detail = detail.strip()
    if len(detail) > DETAIL_MAX_LENGTH:
        raise ApplicationError.on_field(
            "detail",
            _("Keep the description to %(max)d characters.")
            % {"max": DETAIL_MAX_LENGTH},
        )
    if actor is not None:
        _ensure_body_person(actor=actor, body=body)
        _ensure_impartial(actor=actor, entity=entity)
        if reason == Reason.ANALYST and not detail:
            raise ApplicationError.on_field(
                "detail", _("Say what happened that may move the grade.")
            )
    # Before the enrolment is checked: a withdrawal takes the same lock.
    entity_lock(entity_id=entity.pk)
    if (
        actor is not None
        and not Enrolment.objects.filter(
            entity=entity, body=body, withdrawn_at__isnull=True
        ).exists()
    ):
        raise ApplicationError.on_field(
            "entity", _("This entity is not enrolled with the body.")
        )
    watch, _opened = _watch_open(
        entity=entity,
        body=body,
        reason=reason,
        detail=detail,
        opened_by=actor,
        finding=finding,
    )
    return watch


def _enrolled_bodies(entity_id: int) -> list[Organization]:
    return list(
        Organization.objects.filter(
            enrolled__entity_id=entity_id, enrolled__withdrawn_at__isnull=True
        )
        .distinct()
        .order_by("pk")
    )


@transaction.atomic
def watch_on_finding(*, finding: Finding, actor: User | None = None) -> list[Watch]:
    """A serious finding puts the entity on watch with every body it is actively
    enrolled with."""
    if finding.severity != Finding.Severity.SERIOUS:
        return []
    entity = Organization.objects.get(pk=finding.entity_id)
    # What happened is the finding the watch links to.
    detail = ""
    return [
        _watch_open(
            entity=entity,
            body=body,
            reason=Reason.SEVERE_FINDING,
            detail=detail,
            opened_by=actor,
            finding=finding,
        )[0]
        for body in _enrolled_bodies(entity.pk)
    ]


# --- Resolution ---------------------------------------------------------------------


def _rating_since(watch: Watch) -> Rating | None:
    """The rating of the entity by the body published since the watch opened
    (the watch cycle's, or a later one) that stands now, or None."""
    return published_ratings(
        entity_id=watch.entity_id, body_id=watch.body_id, after=watch.opened_at
    ).first()


def _ensure_resolution_fits(
    *, resolution: str, watched: Rating | None, since: Rating | None
) -> None:
    """An upgrade or a downgrade needs a rating published since the watch opened
    with a higher or lower grade than the rating under watch; an affirmation
    needs none, or one with the same grade."""
    if resolution == Resolution.AFFIRM:
        if since is not None and watched is not None and since.grade != watched.grade:
            raise Conflict(
                _(
                    "The rating published since the watch opened gives %(grade)s, "
                    "not %(watched)s: upgrade or downgrade instead of affirming."
                )
                % {"grade": since.grade, "watched": watched.grade},
                code="grade_moved",
            )
        return
    if watched is None:
        raise Conflict(
            _(
                "The watch opened on no published rating of the entity: there is "
                "no grade to upgrade or downgrade. Affirm it."
            ),
            code="no_published_rating",
        )
    if since is None:
        raise Conflict(
            _(
                "No rating of the entity was published since the watch opened: "
                "publish the rating of the watch cycle first."
            ),
            code="watch_cycle_not_published",
        )
    if since.grade not in GRADES or watched.grade not in GRADES:
        raise Conflict(
            _("The grades %(watched)s and %(grade)s cannot be compared.")
            % {"watched": watched.grade, "grade": since.grade},
            code="grades_not_comparable",
        )
    moved = grade_rank(since.grade) - grade_rank(watched.grade)
    if resolution == Resolution.UPGRADE and moved <= 0:
        raise Conflict(
            _(
                "The rating published since the watch opened gives %(grade)s, "
                "which is not higher than %(watched)s: it is no upgrade."
            )
            % {"grade": since.grade, "watched": watched.grade},
            code="not_an_upgrade",
        )
    if resolution == Resolution.DOWNGRADE and moved >= 0:
        raise Conflict(
            _(
                "The rating published since the watch opened gives %(grade)s, "
                "which is not lower than %(watched)s: it is no downgrade."
            )
            % {"grade": since.grade, "watched": watched.grade},
            code="not_a_downgrade",
        )


@transaction.atomic
def watch_resolve(
    *,
    actor: User,
    watch: Watch,
    resolution: str,
    reason: str,
    grade: str | None = None,
    outlook: str | None = None,
) -> Watch:
    """Resolve an open watch. A watch moves no grade: its watch cycle rates the
    entity again and that rating, once published through the committee, notice
    and objection, supersedes the one under watch. ``upgrade`` and ``downgrade``
    then need that rating (published since the watch opened) to be higher or
    lower than the rating under watch (409 until it is published); ``affirm``
    needs none, or one with the same grade. ``grade``, when given, is the grade
    the caller expects to stand (refused if it does not), and ``outlook`` a new
    outlook for the entity's current rating by the body. By an impartial analyst,
    owner or administrator of the body, with reasons."""
    watch = Watch.objects.select_related("entity", "body").get(pk=watch.pk)
    _ensure_body_person(actor=actor, body=watch.body)
    _ensure_impartial(actor=actor, entity=watch.entity)
    if resolution not in Resolution.values:
        raise ApplicationError.on_field(
            "resolution", _("Affirm the grade, upgrade it or downgrade it.")
        )
    if outlook is not None and outlook not in Outlook.values:
        raise ApplicationError.on_field("outlook", _("Choose an outlook."))
    reason = reason.strip()
    if not reason:
        raise ApplicationError.on_field(
            "reason", _("Give the reasons for the resolution.")
        )
    # The order of locks: the rating, then the organisation, then the watch.
    rating = _published_rating(
        entity_id=watch.entity_id, body_id=watch.body_id, lock=True
    )
    entity_lock(entity_id=watch.entity_id)
    watch = (
        Watch.objects.select_for_update(of=("self",))
        .select_related("entity", "body", "rating")
        .get(pk=watch.pk)
    )
    if watch.resolved_at is not None:
        raise Conflict(_("This watch was resolved already."), code="watch_resolved")
    if rating is None and outlook:
        raise Conflict(
            _("The entity has no published rating by this body to change."),
            code="no_published_rating",
        )
    watched = watch.rating
    since = _rating_since(watch)
    _ensure_resolution_fits(resolution=resolution, watched=watched, since=since)
    old_grade = watched.grade if watched else ""
    new_grade = since.grade if since else old_grade
    if grade is not None and grade != new_grade:
        raise ApplicationError.on_field(
            "grade",
            _("The grade that stands is %(grade)s.") % {"grade": new_grade},
        )
    now = timezone.now()
    if rating is not None and outlook is not None and outlook != rating.outlook:
        Rating.objects.filter(pk=rating.pk).update(updated_at=now, outlook=outlook)
        rating.outlook = outlook
    Watch.objects.filter(pk=watch.pk).update(
        resolution=resolution,
        resolution_reason=reason,
        resolved_by=actor,
        resolved_at=now,
    )
    watch.refresh_from_db()
    CreditEvent.objects.create(
        entity_id=watch.entity_id,
        rating=rating,
        methodology_id=rating.cycle.methodology_id if rating else None,
        actor=actor,
        action="watch_resolved",
        from_state="open",
        to_state=resolution,
        payload={
            "watch": str(watch.public_id),
            "reason": reason,
            "watched_rating": watched.pk if watched else None,
            "rating_since": since.pk if since else None,
            "from_grade": old_grade,
            "to_grade": new_grade,
            "outlook": rating.outlook if rating else "",
        },
    )
    if rating is not None:
        _sync_store(entity_id=watch.entity_id)
    _sync_on_watch(watch.entity_id)
    _tell_entity(watch, RESOLVED_MESSAGES[resolution], grade=new_grade)
    return watch


def _sync_store(*, entity_id: int, now: datetime | None = None) -> None:
    """The store shows the entity's current rating (the latest published one
    within its validity), its outlook and the measures of its grade; none once
    every rating lapsed."""
    entity_lock(entity_id=entity_id)
    entity = Organization.objects.get(pk=entity_id)
    current = current_rating(entity, now=now)
    organization_set_credit_grade(
        organization_id=entity_id, grade=current.grade if current else ""
    )
    organization_set_credit_measures(
        organization_id=entity_id, credit_outlook=current.outlook if current else ""
    )
    credit_measures_sync(entity_id=entity_id)


# --- Beat ---------------------------------------------------------------------------


def _analysts(body_id: int) -> list[User]:
    """The body's analysts; its owners and administrators when it has none."""
    for roles in ({Role.ANALYST}, {Role.OWNER, Role.ADMIN}):
        users = list(
            User.objects.filter(
                memberships__organization_id=body_id, memberships__role__in=roles
            ).distinct()
        )
        if users:
            return users
    return []


@transaction.atomic
def watch_remind_overdue(*, now: datetime | None = None) -> int:
    """For beat: tell the body's analysts once about each watch past its due
    date; the reminder is recorded (``watch_overdue``) and not sent again.
    Returns how many watches were reminded."""
    now = now or timezone.now()
    overdue = list(
        Watch.objects.select_for_update(of=("self",), skip_locked=True)
        .filter(resolved_at__isnull=True, due_at__lt=now)
        .select_related("entity", "body")
        .order_by("due_at", "pk")
    )
    if not overdue:
        return 0
    reminded = set(
        CreditEvent.objects.filter(
            action="watch_overdue",
            entity_id__in={w.entity_id for w in overdue},
        ).values_list("payload__watch", flat=True)
    )
    count = 0
    for watch in overdue:
        if str(watch.public_id) in reminded:
            continue
        CreditEvent.objects.create(
            entity_id=watch.entity_id,
            action="watch_overdue",
            payload={"watch": str(watch.public_id), "due_at": watch.due_at.isoformat()},
        )
        for user in _analysts(watch.body_id):
            notification_create(
                user=user,
                kind=Notification.Kind.CREDIT_RATING,
                message=gettext_noop(
                    "The watch on %(entity)s was due by %(due)s and is still open: "
                    "resolve it."
                ),
                params={
                    "entity": watch.entity.name,
                    "body": watch.body.name,
                    "due": watch.due_at.isoformat(),
                    "watch": str(watch.public_id),
                },
            )
        count += 1
    return count


@transaction.atomic
def ratings_expire(*, now: datetime | None = None) -> int:
    """For beat: record once each published rating past its ``valid_until``
    (``rating_expired``) and set the store's grade of its entity to its current
    rating, or none. The rating stays published. Returns how many expired now."""
    now = now or timezone.now()
    lapsed = list(
        Rating.objects.filter(state=Rating.State.PUBLISHED, valid_until__lte=now)
        .exclude(events__action="rating_expired")
        .select_related("cycle")
        .order_by("valid_until", "pk")
    )
    for rating in lapsed:
        CreditEvent.objects.create(
            methodology_id=rating.cycle.methodology_id,
            cycle_id=rating.cycle_id,
            rating=rating,
            entity_id=rating.entity_id,
            action="rating_expired",
            payload={
                "grade": rating.grade,
                "valid_until": rating.valid_until.isoformat()
                if rating.valid_until
                else None,
            },
        )
    for entity_id in sorted({r.entity_id for r in lapsed}):
        _sync_store(entity_id=entity_id, now=now)
    return len(lapsed)


def _last_scan() -> datetime | None:
    return (
        CreditEvent.objects.filter(action="watch_scan")
        .order_by("-created_at", "-pk")
        .values_list("payload__until", flat=True)
        .first()
    )


@transaction.atomic
def watch_scan(*, now: datetime | None = None) -> int:
    """For beat: open watches, with every body each entity is enrolled with, for
    the recalls of its agent versions since the last scan, and for a spike of
    complaints (at least ``WATCH_COMPLAINT_SPIKE`` new misconduct reports in 7
    days and at least three times its weekly average of the 30 days before) not
    already watched for. Running it again opens nothing twice. Returns how many
    watches were opened."""
    now = now or timezone.now()
    last = _last_scan()
    since = datetime.fromisoformat(last) if isinstance(last, str) else now - FIRST_SCAN
    opened = 0

    recalls = (
        AgentEvent.objects.filter(
            to_state=AgentVersion.State.RECALLED,
            created_at__gt=since,
            created_at__lte=now,
        )
        .select_related("agent__publisher", "version")
        .order_by("created_at", "pk")
    )
    for event in recalls:
        entity = event.agent.publisher
        # The agent and version recalled (names, in no language).
        version = event.version.version if event.version else ""
        detail = f"{event.agent.name} {version}".strip()
        for body in _enrolled_bodies(entity.pk):
            _watch, made = _watch_open(
                entity=entity,
                body=body,
                reason=Reason.RECALL,
                detail=detail,
                opened_by=None,
                finding=None,
            )
            opened += made

    threshold = settings.WATCH_COMPLAINT_SPIKE
    week_start = now - SPIKE_WINDOW
    base_start = week_start - SPIKE_BASELINE
    counts = (
        MisconductReport.objects.filter(created_at__gt=base_start, created_at__lte=now)
        .values("publisher_id")
        .annotate(
            week=Count("pk", filter=Q(created_at__gt=week_start)),
            before=Count("pk", filter=Q(created_at__lte=week_start)),
        )
        .filter(week__gte=threshold)
    )
    spiking = [
        row["publisher_id"]
        for row in counts
        # week >= 3 x (before / 30 x 7), in integers
        if row["week"] * 30 >= SPIKE_FACTOR * row["before"] * 7
    ]
    if spiking:
        # A spike already watched for in this window is not watched again.
        watched = set(
            Watch.objects.filter(
                entity_id__in=spiking,
                reason=Reason.COMPLAINTS,
                opened_at__gt=week_start,
            ).values_list("entity_id", "body_id")
        )
        for entity in Organization.objects.filter(pk__in=spiking).order_by("pk"):
            for body in _enrolled_bodies(entity.pk):
                if (entity.pk, body.pk) in watched:
                    continue
                _watch, made = _watch_open(
                    entity=entity,
                    body=body,
                    reason=Reason.COMPLAINTS,
                    detail="",
                    opened_by=None,
                    finding=None,
                )
                opened += made

    CreditEvent.objects.create(
        action="watch_scan",
        payload={
            "since": since.isoformat(),
            "until": now.isoformat(),
            "opened": opened,
        },
    )
    return opened
