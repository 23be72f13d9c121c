"""Rating cycles: a methodology run over the enrolled entities, as Celery jobs.

There is no chord (see ../shared/reference/performance-and-reliability.md: a
chord over thousands of tasks on Redis loses its callback). Instead:

- ``cycle_create`` writes the cycle row (scheduled) and enqueues ``cycle_start``.
- ``cycle_start`` takes the entities actively enrolled at ``as_of`` in one
  transaction: scheduled -> collecting, one ``CycleChunk`` row per
  ``chunk_size`` entities, the total, -> scoring; on commit it enqueues one
  ``chunk_run`` per chunk and the finaliser (with a countdown).
- ``chunk_run`` gathers the chunk's evidence, scores every entity and writes
  the ratings not there yet (``_write_ratings``: ``COPY`` on PostgreSQL) under
  the unique (cycle, entity) key, marks the chunk done and sets ``cycle.done``
  from a COUNT, all in one transaction: a chunk run twice (a retry, a second delivery
  after a worker was killed) rates no one twice and counts no one twice. The
  chunk that completes the cycle moves it to review at once.
- ``cycle_finalise`` is the safety net: it counts the ratings; when all are
  there the cycle goes to review; otherwise, when the cycle has made no progress
  for a while, it sends again the chunks that are neither done nor being run
  (up to ``MAX_ATTEMPTS`` times each) and schedules itself again.
- ``cycle_sweep_stuck`` (beat) finalises again the cycles whose progress
  stopped, for instance because the worker holding the finaliser's countdown
  message was killed, and starts again the cycles whose start was lost.

State moves are compare-and-set UPDATEs checked against ``TRANSITIONS`` and
recorded as ``CreditEvent`` rows of the methodology. Locks are always taken
chunk first, then cycle, so that chunk runs and the finaliser cannot deadlock.
"""

import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import ROUND_DOWN, Decimal
from typing import Any

from django.db import connection, transaction
from django.db.models import F, Max, Q
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from config.exceptions import ApplicationError, Conflict, PermissionDenied
from marketplace.models import Organization, User
from marketplace.selectors.organizations import membership_role
from ratings import evidence as evidence_source
from ratings import scoring
from ratings.models import (
    CreditEvent,
    CycleChunk,
    Enrolment,
    Indicator,
    Methodology,
    OverrideRule,
    Rating,
    RatingCycle,
)

from .methodologies import AUTHOR_ROLES

logger = logging.getLogger(__name__)

State = RatingCycle.State
Trigger = RatingCycle.Trigger

TRANSITIONS: dict[str, frozenset[str]] = {
    State.SCHEDULED: frozenset({State.COLLECTING, State.CANCELLED}),
    State.COLLECTING: frozenset({State.SCORING, State.CANCELLED}),
    State.SCORING: frozenset({State.REVIEW, State.CANCELLED}),
    State.REVIEW: frozenset({State.PUBLISHED}),
    State.PUBLISHED: frozenset(),
    State.CANCELLED: frozenset(),
}
ACTIVE_STATES = frozenset({State.COLLECTING, State.SCORING})

MAX_CHUNK_SIZE = 5000
# Entities a chunk task rates: the cycle benchmark (README, Performance) found 1,000
# faster than 500, each chunk's fixed cost being paid fewer times.
DEFAULT_CHUNK_SIZE = 1000
# The moments a cycle may read the evidence as of, or be scheduled for: nothing
# was rated before the first, and nothing is planned past the last (far dates
# do not survive a change of time zone).
EARLIEST_MOMENT = datetime(2000, 1, 1, tzinfo=UTC)
LATEST_MOMENT = datetime(9000, 1, 1, tzinfo=UTC)
# A chunk is sent again at most this many times by the finaliser; then it is
# logged and left to the sweeper and to people.
MAX_ATTEMPTS = 5
# The finaliser runs this long after the start, and again as long as the cycle
# is scoring.
FINALISE_EVERY = timedelta(seconds=60)
# Without a chunk done for this long, the finaliser sends the missing chunks
# again (longer than a chunk's time limit: a chunk being run holds its row lock
# and is never sent again anyway).
RESEND_AFTER = timedelta(minutes=5)
# The sweeper finalises again the cycles without progress for this long.
STUCK_AFTER = timedelta(minutes=15)

# The coverage column keeps the engine's four places.
_COVERAGE_PLACES = Decimal("0.0001")

_CONDITIONS: dict[str, scoring.Condition] = {
    OverrideRule.Condition.DISHONESTY_LISTED: scoring.FlagCondition(
        "dishonesty_listed"
    ),
    OverrideRule.Condition.SEVERE_FINDING_OPEN: scoring.FindingCondition(
        Indicator.Source.FINDINGS, frozenset({"serious"})
    ),
    OverrideRule.Condition.CONCEALED_DEFECT: scoring.FindingCondition(
        Indicator.Source.FINDINGS,
        frozenset({"serious", "general"}),
        frozenset({"concealing_defects"}),
    ),
    OverrideRule.Condition.HIGH_RISK_GATE_MISSING: scoring.FlagCondition(
        "high_risk_gate_missing"
    ),
}


# --- The methodology as the scoring engine reads it ---------------------------------


def _decimal(value: object) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise ArithmeticError(f"{value!r} is not a number")
    return Decimal(str(value))


def scoring_methodology(methodology: Methodology) -> scoring.Methodology:
    """The methodology's indicators, grade scale, override rules and coverage
    threshold as ``ratings.scoring`` reads them. A methodology that cannot be
    read (a parameter that is not a number, an unknown override condition, a
    grade scale out of order) raises ``ApplicationError``."""
    try:
        indicators = tuple(
            scoring.Indicator(
                code=indicator.code,
                category=indicator.category,
                weight=indicator.weight,
                source=indicator.source,
                normalisation=indicator.normalisation,  # type: ignore[arg-type]  # checked by the engine
                direction=indicator.direction,  # type: ignore[arg-type]  # checked by the engine
                params={
                    name: _decimal(value)
                    for name, value in (indicator.params or {}).items()
                },
            )
            for indicator in methodology.indicators.order_by("position", "code")
        )
        bands = tuple(
            scoring.GradeBand(band.grade, band.min_score)
            for band in methodology.bands.order_by("-min_score")
        )
        overrides = []
        for rule in methodology.overrides.order_by("kind", "condition"):
            if rule.condition not in _CONDITIONS:
                raise scoring.ScoringError(
                    f"unknown override condition {rule.condition!r}"
                )
            overrides.append(
                scoring.OverrideRule(
                    code=f"{rule.kind}-{rule.condition}",
                    action=rule.kind,  # type: ignore[arg-type]  # checked by the engine
                    condition=_CONDITIONS[rule.condition],
                    grade=rule.grade or None,
                )
            )
        return scoring.Methodology(
            indicators=indicators,
            bands=bands,
            overrides=tuple(overrides),
            coverage_threshold=methodology.coverage_threshold,
        )
    except (scoring.ScoringError, ArithmeticError, TypeError) as error:
        raise ApplicationError(
            _("The methodology %(methodology)s cannot be used for scoring: %(problem)s")
            % {"methodology": methodology, "problem": error},
            code="methodology_unusable",
        ) from None


# --- State moves ------------------------------------------------------------------


def _move(
    cycle: RatingCycle,
    *,
    to: str,
    actor: User | None = None,
    payload: dict[str, Any] | None = None,
    **fields: Any,
) -> bool:
    """Move the cycle from the state it was read in to ``to`` if it is still in
    that state (compare and set); record the move. False when it had moved on."""
    from_state = cycle.state
    if to not in TRANSITIONS[from_state]:
        raise Conflict(
            _("A rating cycle cannot go from %(from)s to %(to)s.")
            % {"from": from_state, "to": to},
            code="cycle_bad_transition",
        )
    moved = RatingCycle.objects.filter(pk=cycle.pk, state=from_state).update(
        state=to, **fields
    )
    if not moved:
        return False
    cycle.state = to
    for name, value in fields.items():
        setattr(cycle, name, value)
    CreditEvent.objects.create(
        methodology_id=cycle.methodology_id,
        cycle=cycle,
        actor=actor,
        action=f"cycle_{to}",
        payload={"cycle": str(cycle.public_id), "from": from_state, **(payload or {})},
    )
    return True


def _active_enrolments(*, body_id: int, as_of: datetime) -> Any:
    return Enrolment.objects.filter(
        body_id=body_id, withdrawn_at__isnull=True, signed_at__lte=as_of
    )


# --- Creating and starting a cycle ------------------------------------------------


@transaction.atomic
def cycle_create(
    *,
    actor: User | None,
    methodology: Methodology,
    as_of: datetime | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    trigger: str = Trigger.MANUAL,
    entity: Organization | None = None,
    scheduled_for: datetime | None = None,
) -> RatingCycle:
    """A new cycle of a published methodology over the body's enrolled entities
    (or, for a rating watch, over ``entity``), as the evidence stood at
    ``as_of`` (now by default); it starts as soon as this commits. ``actor``
    None is the site itself, which only starts watch cycles. A cycle
    ``scheduled_for`` a later moment reads the evidence as it stands then, and
    beat starts it at that moment (``cycles_start_due``)."""
    from ratings.tasks import cycle_start as cycle_start_task

    methodology = Methodology.objects.select_for_update().get(pk=methodology.pk)
    body = methodology.body
    if actor is None:
        # Only the site opens a watch cycle by itself (when a watch opens).
        if trigger != Trigger.WATCH:
            raise PermissionDenied(_("A rating cycle is started by a person."))
    elif membership_role(user=actor, organization=body) not in AUTHOR_ROLES:
        raise PermissionDenied(
            _(
                "Only the owners, administrators and analysts of %(body)s run its "
                "rating cycles."
            )
            % {"body": body.name}
        )
    if methodology.state != Methodology.State.PUBLISHED:
        raise Conflict(
            _("Only a published methodology in force is used for ratings."),
            code="methodology_not_published",
        )
    now = timezone.now()
    for field, moment in (("as_of", as_of), ("scheduled_for", scheduled_for)):
        if (
            moment is not None
            and timezone.is_aware(moment)
            and not EARLIEST_MOMENT <= moment <= LATEST_MOMENT
        ):
            message = _("Give a moment from %(earliest)s to %(latest)s.") % {
                "earliest": EARLIEST_MOMENT.date().isoformat(),
                "latest": LATEST_MOMENT.date().isoformat(),
            }
            raise ApplicationError(message, details={field: [message]})
    if scheduled_for is not None:
        if timezone.is_naive(scheduled_for) or scheduled_for <= now:
            message = _("Give a later moment with its time zone.")
            raise ApplicationError(
                _("A cycle is scheduled for a moment to come."),
                details={"scheduled_for": [message]},
            )
        if as_of is not None:
            message = _("A scheduled cycle reads the evidence as of its start.")
            raise ApplicationError(message, details={"as_of": [message]})
        trigger = Trigger.SCHEDULE if trigger == Trigger.MANUAL else trigger
    as_of = as_of or scheduled_for or now
    if timezone.is_naive(as_of) or (scheduled_for is None and as_of > now):
        raise ApplicationError(
            _("The evidence date must be an aware moment that is not in the future."),
            details={"as_of": [_("Give a past moment with its time zone.")]},
        )
    if not 1 <= chunk_size <= MAX_CHUNK_SIZE:
        raise ApplicationError(
            _("A chunk holds from 1 to %(most)d entities.") % {"most": MAX_CHUNK_SIZE},
            details={"chunk_size": [_("Out of range.")]},
        )
    if trigger not in Trigger.values:
        raise ApplicationError(_("Unknown trigger."), details={"trigger": [trigger]})
    if (trigger == Trigger.WATCH) != (entity is not None):
        raise ApplicationError(
            _("A rating watch rates one entity; other cycles rate every entity."),
            code="cycle_entity",
        )
    if (
        entity is not None
        and not _active_enrolments(body_id=body.pk, as_of=as_of)
        .filter(entity=entity)
        .exists()
    ):
        raise ApplicationError(
            _("%(entity)s is not enrolled with %(body)s.")
            % {"entity": entity.name, "body": body.name},
            code="not_enrolled",
        )
    scoring_methodology(methodology)  # refuse now rather than in every chunk
    Methodology.objects.filter(pk=methodology.pk, used_at__isnull=True).update(
        used_at=now
    )
    cycle = RatingCycle.objects.create(
        body=body,
        methodology=methodology,
        trigger=trigger,
        entity=entity,
        as_of=as_of,
        scheduled_for=scheduled_for,
        chunk_size=chunk_size,
        started_by=actor,
    )
    CreditEvent.objects.create(
        methodology=methodology,
        cycle=cycle,
        actor=actor,
        action="cycle_created",
        payload={
            "cycle": str(cycle.public_id),
            "trigger": trigger,
            "entity": entity.pk if entity else None,
            "as_of": as_of.isoformat(),
            "scheduled_for": scheduled_for.isoformat() if scheduled_for else None,
        },
    )
    if scheduled_for is None:
        cycle_start_task.delay_on_commit(cycle_id=cycle.pk)  # type: ignore[attr-defined]  # DjangoTask's, not in celery-types
    return cycle


@transaction.atomic
def cycles_start_due(*, now: datetime | None = None) -> int:
    """For beat: start the scheduled cycles whose moment has come. Returns how
    many were sent; a cycle sent twice starts once (``cycle_start`` moves it only
    from scheduled)."""
    from ratings.tasks import cycle_start as cycle_start_task

    now = now or timezone.now()
    due = list(
        RatingCycle.objects.filter(state=State.SCHEDULED, scheduled_for__lte=now)
        .order_by("scheduled_for", "pk")
        .values_list("pk", flat=True)
    )
    for cycle_id in due:
        cycle_start_task.delay_on_commit(cycle_id=cycle_id)  # type: ignore[attr-defined]  # DjangoTask's, not in celery-types
    return len(due)


@transaction.atomic
def cycle_start(*, cycle_id: int) -> RatingCycle | None:
    """Scheduled -> collecting -> scoring in one transaction: the chunks of the
    entities actively enrolled at ``as_of``, ordered by id. On commit every chunk
    and the finaliser are enqueued. A cycle that has moved on is left alone."""
    from ratings.tasks import chunk_run as chunk_run_task
    from ratings.tasks import cycle_finalise as cycle_finalise_task

    cycle = RatingCycle.objects.filter(pk=cycle_id).first()
    if cycle is None or cycle.state != State.SCHEDULED:
        return None
    if cycle.scheduled_for is not None and cycle.scheduled_for > timezone.now():
        return None  # too early: beat sends it again when its moment comes
    if not _move(cycle, to=State.COLLECTING, started_at=timezone.now()):
        return None
    enrolled = _active_enrolments(body_id=cycle.body_id, as_of=cycle.as_of)
    if cycle.entity_id is not None:
        enrolled = enrolled.filter(entity_id=cycle.entity_id)
    entity_ids: list[int] = list(
        enrolled.order_by("entity_id").values_list("entity_id", flat=True)
    )
    size = cycle.chunk_size
    chunks = CycleChunk.objects.bulk_create(
        CycleChunk(
            cycle=cycle, index=index, entity_ids=entity_ids[start : start + size]
        )
        for index, start in enumerate(range(0, len(entity_ids), size))
    )
    mean = evidence_source.review_population_mean(as_of=cycle.as_of)
    _move(
        cycle,
        to=State.SCORING,
        total=len(entity_ids),
        context={"review_population_mean": None if mean is None else str(mean)},
        payload={"total": len(entity_ids)},
    )
    for chunk in chunks:
        chunk_run_task.delay_on_commit(cycle_id=cycle.pk, index=chunk.index)  # type: ignore[attr-defined]  # DjangoTask's, not in celery-types
    cycle_finalise_task.apply_async_on_commit(  # type: ignore[attr-defined]  # DjangoTask's, not in celery-types
        kwargs={"cycle_id": cycle.pk},
        countdown=FINALISE_EVERY.total_seconds(),
    )
    return cycle


# --- Scoring a chunk --------------------------------------------------------------


def _rating(
    *,
    cycle: RatingCycle,
    entity_id: int,
    methodology: scoring.Methodology,
    evidence: dict[str, Any],
) -> Rating:
    snapshot = scoring.evidence_snapshot({**evidence, "as_of": cycle.as_of})
    try:
        result = scoring.score(
            methodology=methodology, evidence=snapshot, as_of=cycle.as_of
        )
    except scoring.ScoringError as error:
        raise ApplicationError(
            f"Cycle {cycle.pk}, entity {entity_id}: {error}", code="scoring_failed"
        ) from error
    explained = result.as_dict()
    return Rating(
        cycle=cycle,
        entity_id=entity_id,
        score=result.score,
        grade=result.grade,
        computed_grade=result.grade,
        provisional=result.provisional,
        coverage=result.coverage.quantize(_COVERAGE_PLACES, rounding=ROUND_DOWN),
        contributions=explained["contributions"],
        adverse_factors=explained["adverse_factors"],
        overrides=explained["overrides"],
        evidence=snapshot,
        evidence_hash=scoring.evidence_hash(snapshot),
    )


def _refresh_done(cycle: RatingCycle) -> int:
    """Lock the cycle, set ``done`` from a COUNT of its ratings (never ``+=``),
    and move it to review when every entity is rated. Call with the chunk locks
    taken, never before."""
    locked = RatingCycle.objects.select_for_update().get(pk=cycle.pk)
    # A statement after the lock: it sees the ratings of every chunk committed
    # before ours (PostgreSQL, read committed).
    done = Rating.objects.filter(cycle_id=cycle.pk).count()
    if locked.state == State.SCORING and done >= locked.total:
        _move(locked, to=State.REVIEW, done=done, scored_at=timezone.now())
    else:
        RatingCycle.objects.filter(pk=cycle.pk).update(done=done)
    cycle.state, cycle.done = locked.state, done
    return done


def _write_ratings(ratings: list[Rating]) -> None:
    """Insert a chunk's new ratings. On PostgreSQL by ``COPY``, about three times
    faster than a bulk INSERT of their JSON columns: the caller holds the chunk's
    lock and left out the entities rated already, and only this chunk rates its
    entities in the cycle, so no row can meet the unique (cycle, entity) key (if
    one did, the key would refuse it and the chunk's transaction would roll
    back, to be run again). Elsewhere a bulk INSERT that leaves an existing row
    as it is."""
    if connection.vendor != "postgresql":
        Rating.objects.bulk_create(ratings, ignore_conflicts=True)
        return
    fields = [f for f in Rating._meta.concrete_fields if not f.primary_key]
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    table = connection.ops.quote_name(Rating._meta.db_table)
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy,
    ):
        for rating in ratings:
            copy.write_row(
                [
                    field.get_db_prep_save(field.pre_save(rating, True), connection)
                    for field in fields
                ]
            )


@transaction.atomic
def chunk_run(*, cycle_id: int, index: int) -> int:
    """Rate the chunk's entities; return how many ratings were written (0 for a
    chunk already done, a cycle that is not scoring, or a second delivery)."""
    chunk = (
        CycleChunk.objects.select_for_update(of=("self",))
        .select_related("cycle__methodology")
        .filter(cycle_id=cycle_id, index=index)
        .first()
    )
    if chunk is None or chunk.done_at is not None:
        return 0
    cycle = chunk.cycle
    if cycle.state != State.SCORING:
        return 0
    # Rated already: the chunk ran before and its mark was lost. Only this chunk
    # rates these entities in this cycle, and we hold its lock.
    rated = set(
        Rating.objects.filter(
            cycle_id=cycle.pk, entity_id__in=chunk.entity_ids
        ).values_list("entity_id", flat=True)
    )
    entity_ids: Sequence[int] = [e for e in chunk.entity_ids if e not in rated]
    ratings = []
    if entity_ids:
        methodology = scoring_methodology(cycle.methodology)
        mean = (cycle.context or {}).get("review_population_mean")
        gathered = evidence_source.gather(
            entity_ids=entity_ids,
            as_of=cycle.as_of,
            population_mean=None if mean is None else Decimal(mean),
        )
        ratings = [
            _rating(
                cycle=cycle,
                entity_id=entity_id,
                methodology=methodology,
                evidence=gathered.get(entity_id, {}),
            )
            for entity_id in entity_ids
        ]
        _write_ratings(ratings)
    CycleChunk.objects.filter(pk=chunk.pk).update(done_at=timezone.now())
    _refresh_done(cycle)
    return len(ratings)


# --- Finaliser and sweeper --------------------------------------------------------


def _last_progress(cycle: RatingCycle) -> datetime:
    last = cycle.chunks.aggregate(last=Max("done_at"))["last"]
    candidates = [t for t in (last, cycle.started_at, cycle.created_at) if t]
    return max(candidates)


@transaction.atomic
def cycle_finalise(
    *, cycle_id: int, resend_after: timedelta | None = None
) -> RatingCycle | None:
    """Count the cycle's ratings: all there, the cycle goes to review. Otherwise,
    when no chunk was done for ``resend_after`` (``RESEND_AFTER`` by default),
    send again the chunks that are neither done nor being run, at most
    ``MAX_ATTEMPTS`` times each; and run again after ``FINALISE_EVERY`` while
    something can still come. Returns the cycle, or None when there was nothing
    to do."""
    from ratings.tasks import chunk_run as chunk_run_task
    from ratings.tasks import cycle_finalise as cycle_finalise_task

    cycle = RatingCycle.objects.filter(pk=cycle_id).first()
    if cycle is None or cycle.state != State.SCORING:
        return None
    done = Rating.objects.filter(cycle_id=cycle.pk).count()
    if done >= cycle.total:
        _move(cycle, to=State.REVIEW, done=done, scored_at=timezone.now())
        return cycle
    resend_after = RESEND_AFTER if resend_after is None else resend_after
    pending = True
    if timezone.now() - _last_progress(cycle) >= resend_after:
        not_done = cycle.chunks.filter(done_at__isnull=True).count()
        # A chunk whose row is locked is being run right now: leave it be.
        missing = list(
            CycleChunk.objects.select_for_update(skip_locked=True)
            .filter(cycle=cycle, done_at__isnull=True)
            .order_by("index")
            .values_list("pk", "index", "attempts")
        )
        resend = [(pk, i) for pk, i, attempts in missing if attempts < MAX_ATTEMPTS]
        given_up = [i for _pk, i, attempts in missing if attempts >= MAX_ATTEMPTS]
        if resend:
            CycleChunk.objects.filter(pk__in=[pk for pk, _i in resend]).update(
                attempts=F("attempts") + 1
            )
            for _pk, index in resend:
                chunk_run_task.delay_on_commit(cycle_id=cycle.pk, index=index)  # type: ignore[attr-defined]  # DjangoTask's, not in celery-types
            logger.warning(
                "Rating cycle %s: chunks %s sent again",
                cycle.pk,
                [index for _pk, index in resend],
            )
        if given_up:
            logger.error(
                "Rating cycle %s: chunks %s were sent %d times and are still not "
                "done; left to the sweeper and to people",
                cycle.pk,
                given_up,
                MAX_ATTEMPTS,
            )
        # Still to come: the chunks sent again and those being run.
        pending = bool(resend) or not_done > len(missing)
    # Never lower: a chunk may have committed a higher count meanwhile.
    RatingCycle.objects.filter(pk=cycle.pk, done__lt=done).update(done=done)
    cycle.done = max(cycle.done, done)
    if pending:
        cycle_finalise_task.apply_async_on_commit(  # type: ignore[attr-defined]  # DjangoTask's, not in celery-types
            kwargs={"cycle_id": cycle.pk},
            countdown=FINALISE_EVERY.total_seconds(),
        )
    return cycle


@transaction.atomic
def cycle_sweep_stuck() -> int:
    """For beat: finalise again the cycles that made no progress for
    ``STUCK_AFTER``, and start again the cycles whose start never came. Returns
    how many cycles were sent on."""
    from ratings.tasks import cycle_finalise as cycle_finalise_task
    from ratings.tasks import cycle_start as cycle_start_task

    now = timezone.now()
    cutoff = now - STUCK_AFTER
    stuck = list(
        RatingCycle.objects.filter(state__in=ACTIVE_STATES)
        .annotate(last=Coalesce(Max("chunks__done_at"), "started_at", "created_at"))
        .filter(last__lt=cutoff)
        .values_list("pk", flat=True)
    )
    for cycle_id in stuck:
        cycle_finalise_task.delay_on_commit(cycle_id=cycle_id)  # type: ignore[attr-defined]  # DjangoTask's, not in celery-types
    unstarted = list(
        RatingCycle.objects.filter(state=State.SCHEDULED, created_at__lt=cutoff)
        .filter(Q(scheduled_for__isnull=True) | Q(scheduled_for__lte=now))
        .values_list("pk", flat=True)
    )
    for cycle_id in unstarted:
        cycle_start_task.delay_on_commit(cycle_id=cycle_id)  # type: ignore[attr-defined]  # DjangoTask's, not in celery-types
    if stuck or unstarted:
        logger.warning(
            "Rating cycles without progress sent on: finalise %s, start %s",
            stuck,
            unstarted,
        )
    return len(stuck) + len(unstarted)


def cycle_close_if_decided(*, cycle_id: int, actor: User | None = None) -> bool:
    """review -> published once every rating of the cycle is published (or has
    been superseded or withdrawn since): called, in its transaction, each time a
    rating is published. True when it closed the cycle."""
    cycle = RatingCycle.objects.select_for_update().get(pk=cycle_id)
    if cycle.state != State.REVIEW:
        return False
    undecided = (
        Rating.objects.filter(cycle_id=cycle_id)
        .exclude(
            state__in=(
                Rating.State.PUBLISHED,
                Rating.State.SUPERSEDED,
                Rating.State.WITHDRAWN,
            )
        )
        .exists()
    )
    if undecided:
        return False
    return _move(cycle, to=State.PUBLISHED, actor=actor)


@transaction.atomic
def cycle_cancel(*, actor: User, cycle: RatingCycle) -> RatingCycle:
    """Stop a cycle that has not reached review; the ratings written stay, for
    the record, and no chunk writes more."""
    if membership_role(user=actor, organization=cycle.body) not in AUTHOR_ROLES:
        raise PermissionDenied(
            _(
                "Only the owners, administrators and analysts of %(body)s run its "
                "rating cycles."
            )
            % {"body": cycle.body.name}
        )
    cycle = RatingCycle.objects.select_for_update().get(pk=cycle.pk)
    if not _move(cycle, to=State.CANCELLED, actor=actor):
        raise Conflict(_("The cycle moved on meanwhile; reload it."))
    return cycle


# --- Reproducing a rating ---------------------------------------------------------


def rating_recompute(*, rating: Rating) -> scoring.Result:
    """Score the rating's stored evidence snapshot again with its cycle's
    methodology (which never changes once used): the same score, grade and
    contributions show that the rating is reproducible. Evidence that no longer
    matches its hash is refused."""
    if scoring.evidence_hash(rating.evidence) != rating.evidence_hash:
        raise Conflict(
            _("The stored evidence of this rating does not match its hash."),
            code="evidence_tampered",
        )
    cycle = rating.cycle
    stored_as_of = rating.evidence.get("as_of")
    as_of = datetime.fromisoformat(stored_as_of) if stored_as_of else cycle.as_of
    return scoring.score(
        methodology=scoring_methodology(cycle.methodology),
        evidence=rating.evidence,
        as_of=as_of,
    )
