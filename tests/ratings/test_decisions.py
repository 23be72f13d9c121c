"""Maker-checker decisions on ratings: analyst review, committee votes, notice,
objection, answer and publication, denials included."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.utils import timezone

from config.exceptions import ApplicationError, Conflict, PermissionDenied
from marketplace.models import (
    AgentVersion,
    Membership,
    Notification,
    Organization,
    User,
)
from marketplace.selectors.search import agent_search
from ratings.models import CommitteeVote, CreditEvent, Objection, Rating, RatingCycle
from ratings.services import decisions
from ratings.services import sanctions as sanction_services
from ratings.services.cycles import cycle_create
from ratings.services.decisions import (
    add_working_days,
    conflict_declare,
    objection_answer,
    objection_file,
    rating_analyst_review,
    rating_notify,
    rating_publish,
    rating_vote,
    ratings_publish_due,
)
from ratings.tasks import ratings_publish_due as ratings_publish_due_task
from tests.marketplace.factories import (
    AgentVersionFactory,
    MembershipFactory,
    UserFactory,
)
from tests.ratings.test_cycles import _body, _enrol, _evidence, _methodology, _run

pytestmark = pytest.mark.django_db

State = Rating.State
Role = Membership.Role


@dataclass
class World:
    body: Organization
    analyst: User
    committee: list[User]
    entity_owner: User
    ratings: list[Rating]

    @property
    def rating(self) -> Rating:
        return self.ratings[0]


def _member(organization: Organization, role: str) -> User:
    user = UserFactory.create()
    MembershipFactory.create(user=user, organization=organization, role=role)
    return user


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> World:
    """A cycle over three publishers, run to review; the first rating set to a
    plain BBB so that a notch either way is on the scale."""
    monkeypatch.setattr("ratings.evidence.gather", _evidence)
    body, analyst = _body()
    methodology = _methodology(body, analyst)
    publishers = _enrol(body, methodology, 3, "d")
    cycle = _run(cycle_create(actor=analyst, methodology=methodology))
    ratings = list(Rating.objects.filter(cycle=cycle).order_by("entity_id"))
    assert len(ratings) == 3
    Rating.objects.filter(pk=ratings[0].pk).update(
        grade="BBB", computed_grade="BBB", provisional=False
    )
    ratings[0].refresh_from_db()
    committee = [_member(body, Role.COMMITTEE_MEMBER) for _ in range(5)]
    owner = _member(publishers[0], Role.OWNER)
    return World(body, analyst, committee, owner, ratings)


def _reviewed(world: World, **kwargs: Any) -> Rating:
    return rating_analyst_review(actor=world.analyst, rating=world.rating, **kwargs)


def _approve(world: World, rating: Rating, voters: list[User]) -> Rating:
    for n, member in enumerate(voters):
        rating_vote(actor=member, rating=rating, vote="approve", chair=n == 0)
    rating.refresh_from_db()
    return rating


def _noticed(world: World) -> Rating:
    rating = _approve(world, _reviewed(world), world.committee[:3])
    return rating_notify(actor=world.analyst, rating=rating)


def _moves(rating: Rating) -> list[tuple[str, str]]:
    return list(
        CreditEvent.objects.filter(rating=rating)
        .exclude(to_state="")
        .order_by("pk")
        .values_list("from_state", "to_state")
    )


# --- The whole path ------------------------------------------------------------------


def test_happy_path_from_computed_to_published(world: World) -> None:
    # given
    rating = world.rating
    # when: reviewed with a notch up, three votes, notified
    rating = _reviewed(world, adjustment=1, reason="Fixed the complaint quickly.")
    assert (rating.state, rating.grade, rating.computed_grade) == (
        State.ANALYST_REVIEWED,
        "A",
        "BBB",
    )
    assert rating.analyst == world.analyst
    assert rating.reviewed_at is not None
    rating = _approve(world, rating, world.committee[:3])
    assert rating.state == State.COMMITTEE_APPROVED
    assert rating.chair == world.committee[0]
    rating = rating_notify(actor=world.analyst, rating=rating)
    # then: a statement of reasons and a notification to the owner
    assert rating.state == State.NOTICE
    statement = rating.statement
    assert statement["facts"]["evidence_hash"] == rating.evidence_hash
    assert statement["indicators"] == rating.contributions
    assert statement["automated"]["score"] is True
    assert statement["automated"]["decision"] is False
    assert len(statement["adverse_factors"]) <= 4
    assert statement["objection"]["until"] == rating.objection_deadline.isoformat()  # type: ignore[union-attr]
    notification = Notification.objects.get(user=world.entity_owner)
    assert notification.kind == Notification.Kind.CREDIT_RATING
    assert notification.params["grade"] == "A"
    # and: not published while the window is open
    with pytest.raises(Conflict):
        rating_publish(rating=rating)
    Rating.objects.filter(pk=rating.pk).update(
        objection_deadline=timezone.now() - timedelta(seconds=1)
    )
    rating = rating_publish(rating=rating)
    assert rating.state == State.PUBLISHED
    assert rating.published_at is not None
    # the store shows the published grade and search filters by it
    rating.entity.refresh_from_db()
    assert (rating.entity.credit_grade, rating.entity.credit_grade_rank) == ("A", 8)
    listed = AgentVersionFactory.create(
        state=AgentVersion.State.PUBLISHED, agent__publisher=rating.entity
    ).agent
    assert listed in agent_search(min_grade="A")
    assert listed not in agent_search(min_grade="AA")
    assert _moves(rating) == [
        (State.COMPUTED, State.ANALYST_REVIEWED),
        (State.ANALYST_REVIEWED, State.COMMITTEE_APPROVED),
        (State.COMMITTEE_APPROVED, State.NOTICE),
        (State.NOTICE, State.PUBLISHED),
    ]
    assert CreditEvent.objects.filter(rating=rating, action="rating_vote").count() == 3
    assert all(
        e.actor_id is not None
        for e in CreditEvent.objects.filter(rating=rating).exclude(
            to_state=State.PUBLISHED
        )
    )


def test_a_new_publication_supersedes_the_earlier_one(world: World) -> None:
    # given: a published rating of the entity
    old = world.rating
    Rating.objects.filter(pk=old.pk).update(state=State.PUBLISHED)
    # and: a second cycle's rating of the same entity under notice
    cycle = _run(cycle_create(actor=world.analyst, methodology=old.cycle.methodology))
    new = Rating.objects.get(cycle=cycle, entity=old.entity)
    Rating.objects.filter(pk=new.pk).update(
        state=State.NOTICE, objection_deadline=timezone.now() - timedelta(hours=1)
    )
    # when
    rating_publish(rating=new)
    # then
    old.refresh_from_db()
    assert old.state == State.SUPERSEDED
    assert _moves(old) == [(State.PUBLISHED, State.SUPERSEDED)]


# --- Analyst review -------------------------------------------------------------------


def test_adjustment_of_two_notches_is_refused(world: World) -> None:
    with pytest.raises(ApplicationError) as error:
        _reviewed(world, adjustment=2, reason="Much better than it looks.")
    assert "adjustment" in error.value.details


def test_adjustment_without_a_reason_is_refused(world: World) -> None:
    with pytest.raises(ApplicationError) as error:
        _reviewed(world, adjustment=-1, reason="  ")
    assert "reason" in error.value.details


def test_a_provisional_grade_cannot_be_adjusted(world: World) -> None:
    Rating.objects.filter(pk=world.rating.pk).update(
        provisional=True, grade="NR-P", computed_grade="NR-P"
    )
    with pytest.raises(ApplicationError) as error:
        _reviewed(world, adjustment=1, reason="Looks better.")
    assert error.value.code == "provisional_grade"
    # a provisional grade may still be reviewed as it is
    assert _reviewed(world).state == State.ANALYST_REVIEWED


def test_a_notch_down_follows_the_methodology_bands(world: World) -> None:
    assert _reviewed(world, adjustment=-1, reason="Late answers.").grade == "B"


def test_review_by_a_non_analyst_is_refused(world: World) -> None:
    with pytest.raises(PermissionDenied):
        rating_analyst_review(actor=world.committee[0], rating=world.rating)
    with pytest.raises(PermissionDenied):
        rating_analyst_review(actor=UserFactory.create(), rating=world.rating)


def test_review_by_an_analyst_of_the_entity_is_refused(world: World) -> None:
    MembershipFactory.create(
        user=world.analyst, organization=world.rating.entity, role=Role.MEMBER
    )
    with pytest.raises(PermissionDenied) as error:
        _reviewed(world)
    assert error.value.code == "conflict_of_interest"


def test_review_by_an_analyst_with_a_declared_conflict_is_refused(
    world: World,
) -> None:
    conflict_declare(
        actor=world.analyst, entity=world.rating.entity, reason="My brother's firm."
    )
    with pytest.raises(PermissionDenied) as error:
        _reviewed(world)
    assert error.value.code == "conflict_of_interest"
    # the other entities stay his to review
    other = rating_analyst_review(actor=world.analyst, rating=world.ratings[1])
    assert other.state == State.ANALYST_REVIEWED


def test_a_conflict_needs_a_reason(world: World) -> None:
    with pytest.raises(ApplicationError):
        conflict_declare(actor=world.analyst, entity=world.rating.entity, reason="")


# --- Committee ------------------------------------------------------------------------


def test_the_analyst_cannot_vote_nor_chair(world: World) -> None:
    rating = _reviewed(world)
    with pytest.raises(PermissionDenied) as error:
        rating_vote(actor=world.analyst, rating=rating, vote="approve")
    assert error.value.code == "analyst_cannot_vote"
    with pytest.raises(PermissionDenied) as error:
        rating_vote(actor=world.analyst, rating=rating, vote="approve", chair=True)
    assert error.value.code == "analyst_cannot_chair"
    assert not CommitteeVote.objects.exists()


def test_the_analyst_with_a_committee_seat_still_cannot_vote(world: World) -> None:
    # given: the review made by an owner of the body who is then given a seat
    owner = _member(world.body, Role.OWNER)
    rating = rating_analyst_review(actor=owner, rating=world.rating)
    Membership.objects.filter(user=owner, organization=world.body).update(
        role=Role.COMMITTEE_MEMBER
    )
    with pytest.raises(PermissionDenied):
        rating_vote(actor=owner, rating=rating, vote="approve", chair=True)


def test_non_committee_members_cannot_vote(world: World) -> None:
    rating = _reviewed(world)
    other_analyst = _member(world.body, Role.ANALYST)
    for actor in (other_analyst, UserFactory.create()):
        with pytest.raises(PermissionDenied) as error:
            rating_vote(actor=actor, rating=rating, vote="approve")
        assert error.value.code == "not_a_committee_member"


def test_a_member_of_the_entity_cannot_vote(world: World) -> None:
    rating = _reviewed(world)
    member = world.committee[0]
    MembershipFactory.create(user=member, organization=rating.entity, role=Role.MEMBER)
    with pytest.raises(PermissionDenied) as error:
        rating_vote(actor=member, rating=rating, vote="approve")
    assert error.value.code == "conflict_of_interest"


def test_a_member_with_a_declared_conflict_cannot_vote(world: World) -> None:
    rating = _reviewed(world)
    member = world.committee[0]
    conflict_declare(actor=member, entity=rating.entity, reason="Former employer.")
    with pytest.raises(PermissionDenied) as error:
        rating_vote(actor=member, rating=rating, vote="approve")
    assert error.value.code == "conflict_of_interest"


def test_one_vote_per_round(world: World) -> None:
    rating = _reviewed(world)
    rating_vote(actor=world.committee[0], rating=rating, vote="approve")
    with pytest.raises(Conflict) as error:
        rating_vote(actor=world.committee[0], rating=rating, vote="reject")
    assert error.value.code == "already_voted"


def test_a_second_chair_is_refused(world: World) -> None:
    rating = _reviewed(world)
    rating_vote(actor=world.committee[0], rating=rating, vote="approve", chair=True)
    with pytest.raises(Conflict) as error:
        rating_vote(actor=world.committee[1], rating=rating, vote="approve", chair=True)
    assert error.value.code == "chair_taken"


def test_no_decision_without_a_chair(world: World) -> None:
    rating = _reviewed(world)
    for member in world.committee[:3]:
        rating_vote(actor=member, rating=rating, vote="approve")
    rating.refresh_from_db()
    assert rating.state == State.ANALYST_REVIEWED
    # the fourth voter takes the chair: decided
    rating_vote(actor=world.committee[3], rating=rating, vote="approve", chair=True)
    rating.refresh_from_db()
    assert rating.state == State.COMMITTEE_APPROVED


def test_no_decision_with_fewer_than_three_votes(world: World) -> None:
    rating = _reviewed(world)
    rating_vote(actor=world.committee[0], rating=rating, vote="approve", chair=True)
    rating_vote(actor=world.committee[1], rating=rating, vote="approve")
    rating.refresh_from_db()
    assert rating.state == State.ANALYST_REVIEWED


def test_two_to_one_approves(world: World) -> None:
    rating = _reviewed(world)
    a, b, c = world.committee[:3]
    rating_vote(actor=a, rating=rating, vote="approve", chair=True)
    rating_vote(actor=b, rating=rating, vote="reject", reason="Evidence thin.")
    rating_vote(actor=c, rating=rating, vote="approve")
    rating.refresh_from_db()
    assert rating.state == State.COMMITTEE_APPROVED


def test_one_to_two_sends_back_to_the_analyst(world: World) -> None:
    rating = _reviewed(world, adjustment=1, reason="Good conduct.")
    a, b, c, d = world.committee[:4]
    rating_vote(actor=a, rating=rating, vote="approve", chair=True)
    rating_vote(actor=b, rating=rating, vote="reject", reason="No grounds.")
    rating_vote(actor=c, rating=rating, vote="reject", reason="No grounds.")
    rating.refresh_from_db()
    assert rating.state == State.COMPUTED
    assert rating.committee_round == 2
    assert rating.chair is None
    # the analyst reviews again and a new round votes (the same members may)
    rating = _reviewed(world)
    assert rating.grade == "BBB"
    rating = _approve(world, rating, [b, c, d])
    assert rating.state == State.COMMITTEE_APPROVED
    assert _moves(rating) == [
        (State.COMPUTED, State.ANALYST_REVIEWED),
        (State.ANALYST_REVIEWED, State.COMPUTED),
        (State.COMPUTED, State.ANALYST_REVIEWED),
        (State.ANALYST_REVIEWED, State.COMMITTEE_APPROVED),
    ]


def test_a_two_two_tie_waits_for_a_fifth_vote(world: World) -> None:
    rating = _reviewed(world)
    a, b, c, d, e = world.committee
    # the chair votes last in the first three, so three votes wait for a chair
    rating_vote(actor=a, rating=rating, vote="approve")
    rating_vote(actor=b, rating=rating, vote="reject", reason="x")
    rating_vote(actor=c, rating=rating, vote="reject", reason="x")
    rating.refresh_from_db()
    assert rating.state == State.ANALYST_REVIEWED
    rating_vote(actor=d, rating=rating, vote="approve", chair=True)
    rating.refresh_from_db()
    assert rating.state == State.ANALYST_REVIEWED  # 2-2
    rating_vote(actor=e, rating=rating, vote="approve")
    rating.refresh_from_db()
    assert rating.state == State.COMMITTEE_APPROVED


def test_votes_on_a_computed_rating_are_refused(world: World) -> None:
    with pytest.raises(Conflict):
        rating_vote(actor=world.committee[0], rating=world.rating, vote="approve")


# --- Notice windows -------------------------------------------------------------------


def test_working_days_skip_the_weekend() -> None:
    friday = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
    assert friday.weekday() == 4
    assert add_working_days(friday, 5) == friday + timedelta(days=7)
    assert add_working_days(friday, 10) == friday + timedelta(days=14)
    assert add_working_days(friday, 1) == friday + timedelta(days=3)
    wednesday = friday - timedelta(days=2)
    assert add_working_days(wednesday, 2) == friday


def test_a_friday_notice_with_five_days_closes_next_friday(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    friday = datetime(2026, 11, 27, 15, 30, tzinfo=timezone.get_current_timezone())
    monkeypatch.setattr(timezone, "now", lambda: friday)
    rating = _noticed(world)
    assert rating.notice_at == friday
    assert rating.objection_deadline == friday + timedelta(days=7)
    assert rating.evidence_deadline == friday + timedelta(days=14)


def test_only_an_approved_rating_is_notified(world: World) -> None:
    with pytest.raises(Conflict):
        rating_notify(actor=world.analyst, rating=_reviewed(world))


# --- Objections -----------------------------------------------------------------------


def test_an_objection_after_the_deadline_is_refused(world: World) -> None:
    rating = _noticed(world)
    Rating.objects.filter(pk=rating.pk).update(
        objection_deadline=timezone.now() - timedelta(seconds=1)
    )
    with pytest.raises(Conflict) as error:
        objection_file(
            actor=world.entity_owner, rating=rating, grounds="new_facts", text="x"
        )
    assert error.value.code == "objection_window_closed"


def test_an_objection_by_a_non_member_is_refused(world: World) -> None:
    rating = _noticed(world)
    plain_member = _member(rating.entity, Role.MEMBER)
    for actor in (plain_member, world.analyst, UserFactory.create()):
        with pytest.raises(PermissionDenied):
            objection_file(actor=actor, rating=rating, grounds="new_facts", text="x")


def test_an_objection_on_other_grounds_is_refused(world: World) -> None:
    rating = _noticed(world)
    with pytest.raises(ApplicationError) as error:
        objection_file(
            actor=world.entity_owner, rating=rating, grounds="unfair", text="x"
        )
    assert "grounds" in error.value.details
    assert not Objection.objects.exists()


def _objected(world: World) -> tuple[Rating, Objection]:
    rating = _noticed(world)
    objection = objection_file(
        actor=world.entity_owner,
        rating=rating,
        grounds=Objection.Grounds.MISREAD_EVIDENCE,
        text="The serious finding was withdrawn by the regulator.",
    )
    rating.refresh_from_db()
    return rating, objection


def test_round_two_needs_a_voter_who_did_not_vote_before(world: World) -> None:
    # given: an objection after round 1 by members 0, 1, 2
    rating, _objection = _objected(world)
    assert (rating.state, rating.committee_round, rating.chair) == (
        State.OBJECTED,
        2,
        None,
    )
    # when: only the round-1 voters vote again
    old = world.committee[:3]
    _approve(world, rating, old)
    rating.refresh_from_db()
    # then: no decision
    assert rating.state == State.OBJECTED
    # when: a new member votes
    rating_vote(actor=world.committee[3], rating=rating, vote="approve")
    rating.refresh_from_db()
    assert rating.state == State.RE_REVIEWED


def test_answer_rejecting_the_objection_publishes(world: World) -> None:
    rating, objection = _objected(world)
    _approve(world, rating, world.committee[2:5])
    rating.refresh_from_db()
    assert rating.state == State.RE_REVIEWED
    with pytest.raises(Conflict):
        rating_publish(rating=rating)  # not answered yet
    with pytest.raises(PermissionDenied):
        objection_answer(actor=world.entity_owner, rating=rating, answer="No.")
    objection = objection_answer(
        actor=world.committee[4],
        rating=rating,
        answer="The finding stands: the regulator's decision is final.",
    )
    rating.refresh_from_db()
    assert objection.state == Objection.State.REJECTED
    assert objection.answered_by == world.committee[4]
    assert rating.state == State.PUBLISHED
    assert _moves(rating)[-3:] == [
        (State.NOTICE, State.OBJECTED),
        (State.OBJECTED, State.RE_REVIEWED),
        (State.RE_REVIEWED, State.PUBLISHED),
    ]


def test_an_upheld_objection_sends_the_grade_back_to_the_analyst(
    world: World,
) -> None:
    rating, objection = _objected(world)
    a, b, c = world.committee[2:5]
    rating_vote(actor=a, rating=rating, vote="reject", reason="Misread.", chair=True)
    rating_vote(actor=b, rating=rating, vote="reject", reason="Misread.")
    rating_vote(actor=c, rating=rating, vote="approve")
    rating.refresh_from_db()
    assert rating.state == State.RE_REVIEWED
    objection = objection_answer(
        actor=world.analyst, rating=rating, answer="The finding was withdrawn."
    )
    rating.refresh_from_db()
    assert objection.state == Objection.State.UPHELD
    assert (rating.state, rating.committee_round) == (State.COMPUTED, 3)
    # a second objection to the same rating is refused
    rating = _reviewed(world)
    rating = _approve(world, rating, world.committee[:3])
    rating = rating_notify(actor=world.analyst, rating=rating)
    with pytest.raises(Conflict):
        objection_file(
            actor=world.entity_owner, rating=rating, grounds="new_facts", text="x"
        )


# --- Beat -----------------------------------------------------------------------------


def test_beat_publishes_only_due_notices_and_is_idempotent(world: World) -> None:
    # given: one notice due, two still open
    due = _noticed(world)
    Rating.objects.filter(pk=due.pk).update(
        objection_deadline=timezone.now() - timedelta(minutes=1)
    )
    for rating in world.ratings[1:]:
        rating = rating_analyst_review(actor=world.analyst, rating=rating)
        rating = _approve(world, rating, world.committee[:3])
        rating_notify(actor=world.analyst, rating=rating)
    # when
    first = ratings_publish_due()
    second = ratings_publish_due_task()
    # then
    assert (first, second) == (1, 0)
    states = dict(Rating.objects.values_list("pk", "state"))
    assert states[due.pk] == State.PUBLISHED
    assert [states[r.pk] for r in world.ratings[1:]] == [State.NOTICE] * 2
    # and: a later beat publishes them
    assert ratings_publish_due(now=timezone.now() + timedelta(days=30)) == 2


def test_the_beat_schedule_runs_the_publisher(settings: Any) -> None:
    assert "ratings.ratings_publish_due" in {
        entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()
    }
    assert ratings_publish_due_task.name == "ratings.ratings_publish_due"


def test_a_forced_grade_cannot_be_adjusted(world: World) -> None:
    Rating.objects.filter(pk=world.rating.pk).update(
        grade="D",
        computed_grade="D",
        overrides=[{"code": "dishonesty", "action": "force", "grade": "D"}],
    )
    with pytest.raises(ApplicationError) as error:
        _reviewed(world, adjustment=1, reason="Seems harsh.")
    assert error.value.code == "forced_grade"
    assert _reviewed(world).grade == "D"


def test_only_the_bodys_impartial_people_publish_a_rating(world: World) -> None:
    # given a notice whose objection window closed
    rating = _noticed(world)
    Rating.objects.filter(pk=rating.pk).update(
        objection_deadline=timezone.now() - timedelta(seconds=1)
    )
    outsider = UserFactory.create()
    conflicted = world.committee[4]
    conflict_declare(actor=conflicted, entity=rating.entity, reason="A former client.")
    # when / then: the entity's owner, an outsider and a conflicted member may not
    for who in (world.entity_owner, outsider, conflicted):
        with pytest.raises(PermissionDenied):
            rating_publish(rating=rating, actor=who)
    rating.refresh_from_db()
    assert rating.state == State.NOTICE
    # and a committee member of the body may
    published = rating_publish(rating=rating, actor=world.committee[3])
    assert published.state == State.PUBLISHED


def test_the_cycle_is_published_once_its_last_rating_is(world: World) -> None:
    # given every rating of the cycle under notice, the window closed
    for rating in world.ratings:
        rating = rating_analyst_review(actor=world.analyst, rating=rating)
        rating = _approve(world, rating, world.committee[:3])
        rating_notify(actor=world.analyst, rating=rating)
    Rating.objects.filter(cycle=world.rating.cycle).update(
        objection_deadline=timezone.now() - timedelta(seconds=1)
    )
    cycle = world.rating.cycle
    # when all but one are published, the cycle stays in review
    for rating in world.ratings[:-1]:
        rating_publish(rating=rating)
    cycle.refresh_from_db()
    assert cycle.state == RatingCycle.State.REVIEW
    # then the last one closes it, with its event
    rating_publish(rating=world.ratings[-1])
    cycle.refresh_from_db()
    assert cycle.state == RatingCycle.State.PUBLISHED
    assert (
        CreditEvent.objects.filter(cycle=cycle, action="cycle_published").count() == 1
    )


# --- Impartiality of the notice, and the entity's lock on publication ---------------


def test_notice_by_a_member_of_the_entity_is_refused(world: World) -> None:
    rating = _approve(world, _reviewed(world), world.committee[:3])
    notifier = _member(world.body, Role.ANALYST)
    MembershipFactory.create(
        user=notifier, organization=rating.entity, role=Role.MEMBER
    )
    with pytest.raises(PermissionDenied) as error:
        rating_notify(actor=notifier, rating=rating)
    assert error.value.code == "conflict_of_interest"
    rating.refresh_from_db()
    assert rating.state == State.COMMITTEE_APPROVED
    assert not Notification.objects.filter(user=world.entity_owner).exists()


def test_notice_by_a_member_with_a_declared_conflict_is_refused(
    world: World,
) -> None:
    rating = _approve(world, _reviewed(world), world.committee[:3])
    notifier = world.committee[4]
    conflict_declare(actor=notifier, entity=rating.entity, reason="I advise them.")
    with pytest.raises(PermissionDenied) as error:
        rating_notify(actor=notifier, rating=rating)
    assert error.value.code == "conflict_of_interest"
    rating.refresh_from_db()
    assert rating.state == State.COMMITTEE_APPROVED
    # an impartial member of the body notifies it
    assert rating_notify(actor=world.analyst, rating=rating).state == State.NOTICE


def test_publication_locks_the_entity_after_the_ratings(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: a rating under notice whose window closed
    rating = _noticed(world)
    Rating.objects.filter(pk=rating.pk).update(
        objection_deadline=timezone.now() - timedelta(seconds=1)
    )
    rating.refresh_from_db()
    locked: list[int] = []
    real_lock = sanction_services.entity_lock

    def spy(*, entity_id: int) -> Organization | None:
        # the rating is still under notice when the entity is locked
        assert Rating.objects.get(pk=rating.pk).state == State.NOTICE
        locked.append(entity_id)
        return real_lock(entity_id=entity_id)

    monkeypatch.setattr(decisions, "entity_lock", spy)
    # when
    published = rating_publish(rating=rating)
    # then: the entity was locked before anything was written
    assert published.state == State.PUBLISHED
    assert locked == [rating.entity_id]
