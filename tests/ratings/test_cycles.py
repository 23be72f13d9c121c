"""Rating cycles: creating, starting, scoring chunks, finalising, sweeping and
recomputing, with the services and tasks called directly (no worker)."""

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from config.exceptions import ApplicationError, Conflict, PermissionDenied
from marketplace.models import Membership, Organization, User
from ratings import scoring
from ratings.models import (
    CreditEvent,
    CycleChunk,
    Enrolment,
    Indicator,
    Methodology,
    Rating,
    RatingCycle,
)
from ratings.services import cycles
from ratings.services.cycles import (
    MAX_ATTEMPTS,
    chunk_run,
    cycle_cancel,
    cycle_create,
    cycle_finalise,
    cycle_start,
    rating_recompute,
    scoring_methodology,
)
from ratings.services.methodologies import (
    methodology_create,
    methodology_publish,
    methodology_set_content,
)
from ratings.tasks import chunk_run as chunk_run_task
from ratings.tasks import cycle_finalise as cycle_finalise_task
from ratings.tasks import cycle_start as cycle_start_task
from ratings.tasks import cycle_sweep_stuck as cycle_sweep_stuck_task
from tests.marketplace.factories import (
    MembershipFactory,
    OrganizationFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

State = RatingCycle.State

INDICATORS: list[dict[str, Any]] = [
    {
        "code": "findings",
        "category": "misconduct",
        "name_en": "Misconduct findings",
        "weight": "40",
        "source": "findings",
        "normalisation": "penalty_decay",
        "direction": "lower_is_better",
        "params": {"minor": 5, "general": 20, "serious": 60},
    },
    {
        "code": "reviews",
        "category": "consumer",
        "name_en": "Review score",
        "weight": "35",
        "source": "review_score",
        "normalisation": "rate_shrunk",
        "direction": "higher_is_better",
        "params": {"lower": 1, "upper": 5, "prior_weight": 10, "prior_mean": 3.5},
    },
    {
        "code": "disclosure",
        "category": "disclosure",
        "name_en": "Disclosure completeness",
        "weight": "25",
        "source": "disclosure",
        "normalisation": "linear",
        "direction": "higher_is_better",
        "params": {"lower": 0, "upper": 1},
    },
]
BANDS: list[dict[str, Any]] = [
    {"grade": grade, "min_score": score, "definition_en": f"{grade} means..."}
    for grade, score in (("AAA", 90), ("A", 80), ("BBB", 70), ("B", 50), ("C", 30))
] + [{"grade": "D", "min_score": 0, "definition_en": "Dishonest."}]
OVERRIDES: list[dict[str, Any]] = [
    {"kind": "force", "condition": "dishonesty_listed", "grade": "D"},
    {"kind": "force", "condition": "severe_finding_open", "grade": "D"},
    {"kind": "cap", "condition": "high_risk_gate_missing", "grade": "BBB"},
]


def _body() -> tuple[Organization, User]:
    body = OrganizationFactory.create(kind=Organization.Kind.INDUSTRY_BODY)
    analyst = UserFactory.create()
    MembershipFactory.create(
        user=analyst, organization=body, role=Membership.Role.ANALYST
    )
    return body, analyst


def _methodology(
    body: Organization, analyst: User, *, publish: bool = True
) -> Methodology:
    methodology = methodology_create(
        actor=analyst,
        body=body,
        code="developer-credit",
        name_en="Agent developer credit",
        text_en="How we rate agent developers.",
        commitment_en="We commit to honest dealing.",
    )
    methodology_set_content(
        actor=analyst,
        methodology=methodology,
        indicators=INDICATORS,
        bands=BANDS,
        overrides=OVERRIDES,
    )
    if publish:
        methodology = methodology_publish(actor=analyst, methodology=methodology)
    return methodology


def _enrol(
    body: Organization, methodology: Methodology, count: int, prefix: str
) -> list[Organization]:
    """Publishers enrolled with the body (test data, written in bulk)."""
    publishers = Organization.objects.bulk_create(
        Organization(
            name=f"Publisher {prefix} {n}",
            slug=f"{prefix}-{n}",
            domain=f"{prefix}-{n}.example.com",
            kind=Organization.Kind.PUBLISHER,
        )
        for n in range(count)
    )
    Enrolment.objects.bulk_create(
        Enrolment(
            entity=publisher,
            body=body,
            methodology=methodology,
            commitment_text=methodology.commitment_en,
        )
        for publisher in publishers
    )
    return publishers


def _evidence(
    *, entity_ids: Sequence[int], as_of: datetime, population_mean: Any = None
) -> dict[int, Any]:
    """Varied, deterministic evidence: clean and tainted records, small and large
    review samples, missing items (provisional grades) and an open serious
    finding (forced D)."""
    result: dict[int, Any] = {}
    for pk in entity_ids:
        k = pk % 17
        findings: list[dict[str, Any]] | None = []
        if k == 3:
            findings = [
                {
                    "severity": "serious",
                    "occurred_at": as_of - timedelta(days=30),
                    "category": "false_advertising",
                }
            ]
        elif k % 4 == 0:
            findings = [
                {"severity": "general", "occurred_at": as_of - timedelta(days=100)}
            ]
        evidence: dict[str, Any] = {
            "findings": findings,
            "review_score": {
                "mean": Decimal(1) + Decimal(k % 5) * Decimal("0.9"),
                "count": k * 7,
                "population_mean": Decimal("3.6"),
            },
            "disclosure": None if k % 6 == 5 else Decimal(k % 11) / 10,
            "dishonesty_listed": False,
            "high_risk_gate_missing": k == 9,
        }
        if k == 16:
            evidence["findings"] = evidence["disclosure"] = None
        result[pk] = evidence
    return result


@pytest.fixture
def fake_evidence(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("ratings.evidence.gather", _evidence)


def _run(cycle: RatingCycle) -> RatingCycle:
    """What the workers do: start, then every chunk."""
    cycle_start_task(cycle_id=cycle.pk)
    for index in CycleChunk.objects.filter(cycle=cycle).values_list("index", flat=True):
        chunk_run_task(cycle_id=cycle.pk, index=index)
    cycle.refresh_from_db()
    return cycle


def _band(score: Decimal) -> str:
    return next(
        str(band["grade"]) for band in BANDS if score >= Decimal(band["min_score"])
    )


def _check_rating(rating: Rating) -> None:
    """The contributions add up to the score and the grade follows the bands,
    the coverage and the overrides."""
    assert sum(Decimal(c["contribution"]) for c in rating.contributions) == (
        rating.score
    )
    assert {c["code"] for c in rating.contributions} == {i["code"] for i in INDICATORS}
    forced = [o["grade"] for o in rating.overrides if o["action"] == "force"]
    capped = [o["grade"] for o in rating.overrides if o["action"] == "cap"]
    if forced:
        assert rating.grade == min(forced, key=lambda g: -BANDS_ORDER.index(g))
    elif rating.provisional:
        assert rating.grade == scoring.PROVISIONAL_GRADE
        assert rating.coverage < Decimal("0.6")
    else:
        expected = _band(rating.score)
        for cap in capped:
            if BANDS_ORDER.index(expected) < BANDS_ORDER.index(cap):
                expected = cap
        assert rating.grade == expected
    assert rating.computed_grade == rating.grade
    assert rating.evidence_hash == scoring.evidence_hash(rating.evidence)
    assert rating.evidence["as_of"] == rating.cycle.as_of.astimezone(UTC).isoformat()


BANDS_ORDER = ["AAA", "A", "BBB", "B", "C", "D"]


# --- The whole cycle ----------------------------------------------------------------


@pytest.mark.usefixtures("fake_evidence")
def test_a_cycle_rates_every_enrolled_entity_exactly_once(
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    # given: 60 enrolled publishers, 3 withdrawn, 4 enrolled elsewhere, 2 not at all
    body, analyst = _body()
    methodology = _methodology(body, analyst)
    enrolled = _enrol(body, methodology, 60, "in")
    withdrawn = _enrol(body, methodology, 3, "out")
    Enrolment.objects.filter(entity__in=withdrawn).update(withdrawn_at=timezone.now())
    other_body, other_analyst = _body()
    elsewhere = _enrol(other_body, _methodology(other_body, other_analyst), 4, "else")
    OrganizationFactory.create_batch(2)
    # when
    with django_capture_on_commit_callbacks() as created:
        cycle = cycle_create(actor=analyst, methodology=methodology, chunk_size=7)
    with django_capture_on_commit_callbacks() as started:
        cycle_start(cycle_id=cycle.pk)
    cycle = _run(cycle)
    # then
    assert len(created) == 1  # the start
    assert len(started) == 9 + 1  # ceil(60 / 7) chunks and the finaliser
    assert cycle.state == State.REVIEW
    assert cycle.total == cycle.done == 60
    assert cycle.scored_at is not None
    assert cycle.started_at is not None
    ratings = list(Rating.objects.filter(cycle=cycle).select_related("cycle"))
    assert sorted(r.entity_id for r in ratings) == sorted(p.pk for p in enrolled)
    assert not Rating.objects.filter(entity__in=withdrawn + elsewhere).exists()
    for rating in ratings:
        _check_rating(rating)
    grades = {r.grade for r in ratings}
    assert {"D", scoring.PROVISIONAL_GRADE} < grades
    assert len(grades) >= 4
    chunks = list(cycle.chunks.all())
    assert [c.index for c in chunks] == list(range(9))
    assert [e for c in chunks for e in c.entity_ids] == sorted(p.pk for p in enrolled)
    assert all(c.done_at is not None for c in chunks)
    methodology.refresh_from_db()
    assert methodology.used_at is not None
    assert list(
        CreditEvent.objects.filter(methodology=methodology)
        .filter(action__startswith="cycle_")
        .order_by("pk")
        .values_list("action", flat=True)
    ) == ["cycle_created", "cycle_collecting", "cycle_scoring", "cycle_review"]


@pytest.mark.usefixtures("fake_evidence")
def test_a_chunk_run_again_writes_nothing_twice_and_done_stays_right() -> None:
    # given: a cycle of three chunks, two of them done
    body, analyst = _body()
    methodology = _methodology(body, analyst)
    _enrol(body, methodology, 30, "p")
    cycle = cycle_create(actor=analyst, methodology=methodology, chunk_size=10)
    cycle_start(cycle_id=cycle.pk)
    assert chunk_run(cycle_id=cycle.pk, index=0) == 10
    assert chunk_run(cycle_id=cycle.pk, index=1) == 10
    written = list(Rating.objects.filter(cycle=cycle).values_list("pk", "score"))
    # when: chunk 0 is delivered again, and again after its mark was lost
    again = chunk_run(cycle_id=cycle.pk, index=0)
    CycleChunk.objects.filter(cycle=cycle, index=0).update(done_at=None)
    after_lost_mark = chunk_run_task(cycle_id=cycle.pk, index=0)
    # then
    assert again == after_lost_mark == 0
    assert list(Rating.objects.filter(cycle=cycle).values_list("pk", "score")) == (
        written
    )
    cycle.refresh_from_db()
    assert (cycle.state, cycle.done, cycle.total) == (State.SCORING, 20, 30)
    # when: the last chunk comes
    assert chunk_run(cycle_id=cycle.pk, index=2) == 10
    cycle.refresh_from_db()
    assert (cycle.state, cycle.done) == (State.REVIEW, 30)
    assert Rating.objects.filter(cycle=cycle).count() == 30


@pytest.mark.usefixtures("fake_evidence")
def test_a_rating_recomputes_to_the_same_score_grade_and_hash() -> None:
    # given
    body, analyst = _body()
    methodology = _methodology(body, analyst)
    _enrol(body, methodology, 20, "p")
    cycle = _run(cycle_create(actor=analyst, methodology=methodology))
    # when / then
    for rating in Rating.objects.filter(cycle=cycle).select_related("cycle"):
        result = rating_recompute(rating=rating)
        assert result.score == rating.score
        assert result.grade == rating.grade
        assert result.provisional == rating.provisional
        assert result.as_dict()["contributions"] == rating.contributions
        assert scoring.evidence_hash(rating.evidence) == rating.evidence_hash
    # and evidence changed after the fact is refused
    changed = Rating.objects.filter(cycle=cycle).first()
    assert changed is not None
    changed.evidence = {**changed.evidence, "disclosure": "1"}
    with pytest.raises(Conflict) as refused:
        rating_recompute(rating=changed)
    assert refused.value.code == "evidence_tampered"


def test_a_cycle_with_the_real_evidence_completes() -> None:
    """The same path with ratings.evidence.gather: publishers without listings
    have a clean record and nothing else, verified or not."""
    # given
    body, analyst = _body()
    methodology = methodology_create(
        actor=analyst,
        body=body,
        code="plain",
        name_en="Plain",
        text_en="Plain.",
        commitment_en="Honest.",
    )
    methodology_set_content(
        actor=analyst,
        methodology=methodology,
        indicators=[
            {**INDICATORS[0], "weight": "60"},
            {
                "code": "verified",
                "category": "governance",
                "name_en": "Verified",
                "weight": "40",
                "source": "verification",
                "normalisation": "boolean",
                "direction": "higher_is_better",
            },
        ],
        bands=BANDS,
    )
    methodology = methodology_publish(actor=analyst, methodology=methodology)
    publishers = _enrol(body, methodology, 12, "real")
    now = timezone.now()
    Organization.objects.filter(pk__in=[p.pk for p in publishers[:5]]).update(
        verified_at=now, domain_verified_at=now
    )
    # when
    cycle = _run(cycle_create(actor=analyst, methodology=methodology, chunk_size=5))
    # then
    assert (cycle.state, cycle.done) == (State.REVIEW, 12)
    scores = dict(Rating.objects.filter(cycle=cycle).values_list("entity", "score"))
    assert sorted(scores.values()) == [Decimal(60)] * 7 + [Decimal(100)] * 5
    assert set(Rating.objects.filter(cycle=cycle).values_list("grade", flat=True)) == {
        "AAA",
        "B",
    }


@pytest.mark.usefixtures("fake_evidence")
def test_a_watch_cycle_rates_its_one_entity() -> None:
    # given
    body, analyst = _body()
    methodology = _methodology(body, analyst)
    watched, *_others = _enrol(body, methodology, 5, "p")
    # when
    cycle = _run(
        cycle_create(
            actor=analyst,
            methodology=methodology,
            trigger=RatingCycle.Trigger.WATCH,
            entity=watched,
        )
    )
    # then
    assert (cycle.state, cycle.total, cycle.done) == (State.REVIEW, 1, 1)
    assert list(
        Rating.objects.filter(cycle=cycle).values_list("entity", flat=True)
    ) == [watched.pk]


def test_a_cycle_without_entities_goes_to_review_empty() -> None:
    body, analyst = _body()
    methodology = _methodology(body, analyst)
    cycle = cycle_create(actor=analyst, methodology=methodology)
    cycle_start(cycle_id=cycle.pk)
    assert cycle_finalise_task(cycle_id=cycle.pk) == State.REVIEW
    cycle.refresh_from_db()
    assert (cycle.state, cycle.total, cycle.done) == (State.REVIEW, 0, 0)


def test_a_scheduled_cycle_starts_when_its_moment_comes(
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    # given a cycle scheduled for an hour from now
    body, analyst = _body()
    methodology = _methodology(body, analyst)
    _enrol(body, methodology, 3, "p")
    moment = timezone.now() + timedelta(hours=1)
    with django_capture_on_commit_callbacks(execute=True) as sent_now:
        cycle = cycle_create(
            actor=analyst, methodology=methodology, scheduled_for=moment
        )
    # then nothing starts it now, and an early start changes nothing
    assert sent_now == []
    assert (cycle.trigger, cycle.as_of) == (RatingCycle.Trigger.SCHEDULE, moment)
    assert cycle_start(cycle_id=cycle.pk) is None
    with django_capture_on_commit_callbacks() as early:
        assert cycles.cycles_start_due() == 0
    assert early == []
    # when beat runs after the moment
    with django_capture_on_commit_callbacks() as due:
        assert cycles.cycles_start_due(now=moment + timedelta(seconds=1)) == 1
    # then it sends the start, which runs once the moment has passed
    assert [c.keywords for c in due] == [{"cycle_id": cycle.pk}]
    now = timezone.now()  # (the hour passes)
    RatingCycle.objects.filter(pk=cycle.pk).update(
        scheduled_for=now - timedelta(seconds=1), as_of=now
    )
    cycle = _run(cycle)
    assert (cycle.state, cycle.total) == (State.REVIEW, 3)


@pytest.mark.parametrize(
    "when", [timedelta(hours=-1), timedelta(0), None], ids=["past", "now", "naive"]
)
def test_a_cycle_cannot_be_scheduled_for_the_past_or_without_a_zone(
    when: timedelta | None,
) -> None:
    body, analyst = _body()
    methodology = _methodology(body, analyst)
    moment = (
        datetime(2030, 1, 1, 9, 0)  # noqa: DTZ001  # naive on purpose
        if when is None
        else timezone.now() + when
    )
    with pytest.raises(ApplicationError) as error:
        cycle_create(actor=analyst, methodology=methodology, scheduled_for=moment)
    assert "scheduled_for" in error.value.details
    assert not RatingCycle.objects.exists()


# --- Finaliser and sweeper ----------------------------------------------------------


@pytest.mark.usefixtures("fake_evidence")
def test_the_finaliser_sends_again_the_chunks_not_done_up_to_a_cap(
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    # given: chunk 1 of 3 lost
    body, analyst = _body()
    methodology = _methodology(body, analyst)
    _enrol(body, methodology, 12, "p")
    cycle = cycle_create(actor=analyst, methodology=methodology, chunk_size=4)
    cycle_start(cycle_id=cycle.pk)
    chunk_run(cycle_id=cycle.pk, index=0)
    chunk_run(cycle_id=cycle.pk, index=2)
    # when: progress is recent, nothing is sent again, the finaliser comes back
    with django_capture_on_commit_callbacks() as soon:
        cycle_finalise(cycle_id=cycle.pk)
    # then
    assert len(soon) == 1  # only itself, scheduled
    assert soon[0].keywords == {
        "kwargs": {"cycle_id": cycle.pk},
        "countdown": cycles.FINALISE_EVERY.total_seconds(),
    }
    assert CycleChunk.objects.get(cycle=cycle, index=1).attempts == 0
    # when: no progress for long enough
    with django_capture_on_commit_callbacks() as stalled:
        cycle_finalise(cycle_id=cycle.pk, resend_after=timedelta(0))
    # then: the lost chunk is sent again, and the finaliser comes back
    assert [c.keywords for c in stalled] == [
        {"cycle_id": cycle.pk, "index": 1},
        {"kwargs": {"cycle_id": cycle.pk}, "countdown": 60.0},
    ]
    assert CycleChunk.objects.get(cycle=cycle, index=1).attempts == 1
    cycle.refresh_from_db()
    assert (cycle.state, cycle.done) == (State.SCORING, 8)
    # when: it keeps failing, it is sent at most MAX_ATTEMPTS times
    for _ in range(MAX_ATTEMPTS + 2):
        with django_capture_on_commit_callbacks() as sent:
            cycle_finalise(cycle_id=cycle.pk, resend_after=timedelta(0))
    assert sent == []
    assert CycleChunk.objects.get(cycle=cycle, index=1).attempts == MAX_ATTEMPTS
    # when: it finally runs, the finaliser closes the cycle
    chunk_run(cycle_id=cycle.pk, index=1)
    cycle.refresh_from_db()
    assert cycle.state == State.REVIEW
    assert cycle_finalise(cycle_id=cycle.pk) is None


@pytest.mark.usefixtures("fake_evidence")
def test_the_finaliser_moves_a_complete_cycle_to_review() -> None:
    # given: every rating written but the cycle left in scoring (say the last
    # chunk's worker died between its commit and the move)
    body, analyst = _body()
    methodology = _methodology(body, analyst)
    _enrol(body, methodology, 6, "p")
    cycle = cycle_create(actor=analyst, methodology=methodology, chunk_size=3)
    cycle_start(cycle_id=cycle.pk)
    chunk_run(cycle_id=cycle.pk, index=0)
    chunk_run(cycle_id=cycle.pk, index=1)
    RatingCycle.objects.filter(pk=cycle.pk).update(
        state=State.SCORING, done=0, scored_at=None
    )
    # when
    finalised = cycle_finalise(cycle_id=cycle.pk)
    # then
    assert finalised is not None
    cycle.refresh_from_db()
    assert (cycle.state, cycle.done) == (State.REVIEW, 6)


@pytest.mark.usefixtures("fake_evidence")
def test_the_sweeper_sends_on_the_cycles_without_progress(
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    # given: a cycle stuck in scoring, one never started, one moving, one done
    body, analyst = _body()
    methodology = _methodology(body, analyst)
    _enrol(body, methodology, 4, "p")
    long_ago = timezone.now() - cycles.STUCK_AFTER - timedelta(minutes=1)
    stuck = cycle_create(actor=analyst, methodology=methodology, chunk_size=2)
    cycle_start(cycle_id=stuck.pk)
    chunk_run(cycle_id=stuck.pk, index=0)
    CycleChunk.objects.filter(cycle=stuck).update(done_at=None)
    CycleChunk.objects.filter(cycle=stuck, index=0).update(done_at=long_ago)
    RatingCycle.objects.filter(pk=stuck.pk).update(
        started_at=long_ago, created_at=long_ago
    )
    unstarted = cycle_create(actor=analyst, methodology=methodology)
    RatingCycle.objects.filter(pk=unstarted.pk).update(created_at=long_ago)
    moving = cycle_create(actor=analyst, methodology=methodology, chunk_size=2)
    cycle_start(cycle_id=moving.pk)
    done = _run(cycle_create(actor=analyst, methodology=methodology))
    RatingCycle.objects.filter(pk=done.pk).update(created_at=long_ago)
    # when
    with django_capture_on_commit_callbacks() as sent:
        count = cycle_sweep_stuck_task()
    # then
    assert count == 2
    assert [c.keywords for c in sent] == [
        {"cycle_id": stuck.pk},
        {"cycle_id": unstarted.pk},
    ]


# --- Denials and refusals -----------------------------------------------------------


def test_only_the_bodys_owners_admins_and_analysts_run_a_cycle() -> None:
    # given
    body, analyst = _body()
    methodology = _methodology(body, analyst)
    committee = MembershipFactory.create(
        organization=body, role=Membership.Role.COMMITTEE_MEMBER
    ).user
    member = MembershipFactory.create(
        organization=body, role=Membership.Role.MEMBER
    ).user
    outsider = UserFactory.create()
    other_body, other_analyst = _body()
    owner = MembershipFactory.create(organization=body, role=Membership.Role.OWNER)
    # when / then
    for actor in (committee, member, outsider, other_analyst):
        with pytest.raises(PermissionDenied):
            cycle_create(actor=actor, methodology=methodology)
    # another body's methodology, even by its analyst's own body's standards
    with pytest.raises(PermissionDenied):
        cycle_create(actor=analyst, methodology=_methodology(other_body, other_analyst))
    assert not RatingCycle.objects.exists()
    assert cycle_create(actor=owner.user, methodology=methodology).state == (
        State.SCHEDULED
    )
    cycle = cycle_create(actor=analyst, methodology=methodology)
    with pytest.raises(PermissionDenied):
        cycle_cancel(actor=committee, cycle=cycle)


def test_a_draft_methodology_is_not_used() -> None:
    body, analyst = _body()
    draft = _methodology(body, analyst, publish=False)
    with pytest.raises(Conflict) as refused:
        cycle_create(actor=analyst, methodology=draft)
    assert refused.value.code == "methodology_not_published"
    draft.refresh_from_db()
    assert draft.used_at is None


def test_a_retired_methodology_is_not_used() -> None:
    body, analyst = _body()
    old = _methodology(body, analyst)
    _methodology(body, analyst)  # version 2 retires version 1
    with pytest.raises(Conflict):
        cycle_create(actor=analyst, methodology=old)


def test_a_watch_needs_an_entity_actively_enrolled() -> None:
    # given
    body, analyst = _body()
    methodology = _methodology(body, analyst)
    enrolled, gone = _enrol(body, methodology, 2, "p")
    Enrolment.objects.filter(entity=gone).update(withdrawn_at=timezone.now())
    stranger = OrganizationFactory.create()
    watch = RatingCycle.Trigger.WATCH
    # when / then
    for entity in (gone, stranger):
        with pytest.raises(ApplicationError) as refused:
            cycle_create(
                actor=analyst, methodology=methodology, trigger=watch, entity=entity
            )
        assert refused.value.code == "not_enrolled"
    with pytest.raises(ApplicationError):
        cycle_create(actor=analyst, methodology=methodology, trigger=watch)
    with pytest.raises(ApplicationError):
        cycle_create(actor=analyst, methodology=methodology, entity=enrolled)
    cycle_create(actor=analyst, methodology=methodology, trigger=watch, entity=enrolled)


def test_bad_cycle_settings_are_refused() -> None:
    body, analyst = _body()
    methodology = _methodology(body, analyst)
    for settings in (
        {"chunk_size": 0},
        {"chunk_size": cycles.MAX_CHUNK_SIZE + 1},
        {"trigger": "whenever"},
        {"as_of": timezone.now() + timedelta(hours=1)},
        {"as_of": datetime(2025, 1, 1)},  # noqa: DTZ001  # naive on purpose
    ):
        with pytest.raises(ApplicationError):
            cycle_create(actor=analyst, methodology=methodology, **settings)


@pytest.mark.usefixtures("fake_evidence")
def test_state_moves_happen_once_and_in_order() -> None:
    # given
    body, analyst = _body()
    methodology = _methodology(body, analyst)
    _enrol(body, methodology, 4, "p")
    cycle = cycle_create(actor=analyst, methodology=methodology, chunk_size=2)
    # a chunk of a cycle not started yet, or of none, does nothing
    assert chunk_run(cycle_id=cycle.pk, index=0) == 0
    assert chunk_run(cycle_id=cycle.pk + 1000, index=0) == 0
    assert cycle_finalise(cycle_id=cycle.pk) is None
    # starting twice makes one set of chunks
    assert cycle_start(cycle_id=cycle.pk) is not None
    assert cycle_start(cycle_id=cycle.pk) is None
    assert cycle_start_task(cycle_id=cycle.pk + 1000) is None
    assert CycleChunk.objects.filter(cycle=cycle).count() == 2
    # cancelled: the chunks left write nothing
    chunk_run(cycle_id=cycle.pk, index=0)
    cancelled = cycle_cancel(actor=analyst, cycle=cycle)
    assert cancelled.state == State.CANCELLED
    assert chunk_run(cycle_id=cycle.pk, index=1) == 0
    assert cycle_finalise(cycle_id=cycle.pk) is None
    assert Rating.objects.filter(cycle=cycle).count() == 2
    with pytest.raises(Conflict) as refused:
        cycle_cancel(actor=analyst, cycle=cycle)
    assert refused.value.code == "cycle_bad_transition"
    # a cycle in review is not cancelled
    finished = _run(cycle_create(actor=analyst, methodology=methodology))
    assert finished.state == State.REVIEW
    with pytest.raises(Conflict):
        cycle_cancel(actor=analyst, cycle=finished)


# --- The methodology as the engine reads it -----------------------------------------


def test_the_methodology_converts_with_its_override_conditions() -> None:
    body, analyst = _body()
    methodology = _methodology(body, analyst)
    converted = scoring_methodology(methodology)
    assert [i.code for i in converted.indicators] == [
        "findings",
        "reviews",
        "disclosure",
    ]
    assert converted.indicators[1].params["prior_mean"] == Decimal("3.5")
    assert [b.grade for b in converted.bands] == BANDS_ORDER
    assert converted.coverage_threshold == Decimal("0.60")
    conditions = {o.code: (o.action, o.condition, o.grade) for o in converted.overrides}
    assert conditions == {
        "force-dishonesty_listed": (
            "force",
            scoring.FlagCondition("dishonesty_listed"),
            "D",
        ),
        "force-severe_finding_open": (
            "force",
            scoring.FindingCondition("findings", frozenset({"serious"})),
            "D",
        ),
        "cap-high_risk_gate_missing": (
            "cap",
            scoring.FlagCondition("high_risk_gate_missing"),
            "BBB",
        ),
    }


def test_a_methodology_that_does_not_convert_is_refused_clearly() -> None:
    body, analyst = _body()
    methodology = _methodology(body, analyst)
    Indicator.objects.filter(methodology=methodology, code="reviews").update(
        params={"lower": 1, "upper": "five", "prior_mean": 3}
    )
    with pytest.raises(ApplicationError) as refused:
        scoring_methodology(methodology)
    assert refused.value.code == "methodology_unusable"
    assert "developer-credit v1" in refused.value.message
    with pytest.raises(ApplicationError):
        cycle_create(actor=analyst, methodology=methodology)


def test_only_a_watch_cycle_starts_without_a_person() -> None:
    body, analyst = _body()
    methodology = _methodology(body, analyst)
    (entity,) = _enrol(body, methodology, 1, "w")
    with pytest.raises(PermissionDenied):
        cycle_create(actor=None, methodology=methodology)
    cycle = cycle_create(
        actor=None,
        methodology=methodology,
        trigger=RatingCycle.Trigger.WATCH,
        entity=entity,
    )
    assert (cycle.trigger, cycle.started_by) == (RatingCycle.Trigger.WATCH, None)


@pytest.mark.parametrize(
    ("field", "moment"),
    [
        ("as_of", datetime(1, 1, 1, tzinfo=timezone.get_current_timezone())),
        ("as_of", datetime(1999, 12, 31, 23, 59, 59, tzinfo=UTC)),
        ("scheduled_for", datetime(9000, 1, 1, 0, 0, 1, tzinfo=UTC)),
        (
            "scheduled_for",
            datetime(9999, 12, 31, 23, 59, tzinfo=timezone.get_current_timezone()),
        ),
        ("scheduled_for", datetime(1, 1, 1, tzinfo=UTC)),
    ],
    ids=["year-1", "before-2000", "after-9000", "year-9999", "scheduled-year-1"],
)
def test_a_cycle_refuses_moments_outside_the_sane_range(
    field: str, moment: datetime
) -> None:
    body, analyst = _body()
    methodology = _methodology(body, analyst)
    given: dict[str, Any] = {field: moment}
    with pytest.raises(ApplicationError) as error:
        cycle_create(actor=analyst, methodology=methodology, **given)
    assert list(error.value.details) == [field]
    assert "2000-01-01" in error.value.details[field][0]
    assert not RatingCycle.objects.exists()


def test_a_cycle_may_read_the_evidence_as_of_the_first_day_of_2000() -> None:
    body, analyst = _body()
    methodology = _methodology(body, analyst)
    cycle = cycle_create(
        actor=analyst, methodology=methodology, as_of=cycles.EARLIEST_MOMENT
    )
    cycle.refresh_from_db()
    assert cycle.as_of == datetime(2000, 1, 1, tzinfo=UTC)
