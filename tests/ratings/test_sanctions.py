"""Sanctions per grade: imposed by a person of the body only, on a published
rating, for a kind the methodology sets for its grade; expired by beat; and the
store fields they and the incentives of a grade set. Withdrawal is refused while
a watch, an open rating or a sanction holds the entity."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db.models import QuerySet
from django.utils import timezone

from config.exceptions import ApplicationError, Conflict, PermissionDenied
from marketplace.models import Membership, Notification, Organization, User
from ratings import tasks as rating_tasks
from ratings.models import (
    CreditEvent,
    Enrolment,
    GradeMeasure,
    Methodology,
    MisconductReport,
    Rating,
    RatingCycle,
    Sanction,
    Watch,
)
from ratings.selectors.sanctions import (
    dishonesty_list,
    proposals_for,
    ratings_calling_for_sanctions,
    sanction_proposals,
)
from ratings.services import methodologies as methodology_services
from ratings.services import sanctions as sanction_services
from ratings.services.cycles import cycle_create
from ratings.services.decisions import conflict_declare, rating_publish
from ratings.services.methodologies import (
    enrolment_withdraw,
    methodology_create,
    methodology_publish,
    methodology_set_content,
)
from ratings.services.sanctions import (
    credit_measures_sync,
    sanction_impose,
    sanctions_expire,
)
from ratings.tasks import sanctions_expire as sanctions_expire_task
from tests.marketplace.factories import MembershipFactory, UserFactory
from tests.ratings.factories import MisconductReportFactory
from tests.ratings.test_cycles import BANDS, INDICATORS, _body, _enrol, _evidence, _run

pytestmark = pytest.mark.django_db

Role = Membership.Role
Kind = GradeMeasure.Kind

MEASURES: list[dict[str, Any]] = [
    {"grade": "AAA", "kind": "store_badge"},
    {"grade": "AAA", "kind": "fast_track"},
    {"grade": "C", "kind": "dishonesty_list", "duration_days": 365},
    {"grade": "C", "kind": "downrank", "duration_days": 180},
    {
        "grade": "C",
        "kind": "publishing_review",
        "duration_days": 90,
        "repair_after_days": 30,
    },
    {"grade": "D", "kind": "publishing_block"},
    {"grade": "D", "kind": "suspension"},
]


@dataclass
class World:
    body: Organization
    analyst: User
    committee: User
    admin: User
    methodology: Methodology
    entities: list[Organization]
    owner: User
    ratings: list[Rating]

    @property
    def rating(self) -> Rating:
        return self.ratings[0]

    @property
    def entity(self) -> Organization:
        return self.entities[0]


def member(organization: Organization, role: str) -> User:
    user = UserFactory.create()
    MembershipFactory.create(user=user, organization=organization, role=role)
    return user


def publish_as(rating: Rating, grade: str) -> Rating:
    """Publish the rating with ``grade`` the way beat does once the objection
    window closed."""
    Rating.objects.filter(pk=rating.pk).update(
        state=Rating.State.NOTICE,
        grade=grade,
        computed_grade=grade,
        provisional=False,
        objection_deadline=timezone.now() - timedelta(minutes=1),
    )
    rating.refresh_from_db()
    return rating_publish(rating=rating)


def build_world(monkeypatch: pytest.MonkeyPatch) -> World:
    """A body whose methodology sets sanctions for C and D and incentives for
    AAA; three enrolled publishers rated; the first published C, the second
    AAA."""
    monkeypatch.setattr("ratings.evidence.gather", _evidence)
    body, analyst = _body()
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
        measures=MEASURES,
    )
    methodology = methodology_publish(actor=analyst, methodology=methodology)
    entities = _enrol(body, methodology, 3, "s")
    cycle = _run(cycle_create(actor=analyst, methodology=methodology))
    ratings = list(Rating.objects.filter(cycle=cycle).order_by("entity_id"))
    ratings[0] = publish_as(ratings[0], "C")
    ratings[1] = publish_as(ratings[1], "AAA")
    return World(
        body=body,
        analyst=analyst,
        committee=member(body, Role.COMMITTEE_MEMBER),
        admin=member(body, Role.ADMIN),
        methodology=methodology,
        entities=entities,
        owner=member(entities[0], Role.OWNER),
        ratings=ratings,
    )


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> World:
    return build_world(monkeypatch)


def impose(world: World, kind: str = "downrank", **kwargs: Any) -> Sanction:
    return sanction_impose(
        actor=kwargs.pop("actor", world.committee),
        rating=kwargs.pop("rating", world.rating),
        kind=kind,
        reason=kwargs.pop("reason", "Misleading listings, found twice."),
        **kwargs,
    )


def store(entity: Organization) -> dict[str, Any]:
    entity.refresh_from_db()
    return {
        "dishonesty_listed": entity.dishonesty_listed,
        "store_downranked": entity.store_downranked,
        "publishing_restriction": entity.publishing_restriction,
        "credit_suspended": entity.credit_suspended,
        "credit_badge": entity.credit_badge,
        "fast_track_review": entity.fast_track_review,
    }


CLEAN = {
    "dishonesty_listed": False,
    "store_downranked": False,
    "publishing_restriction": "",
    "credit_suspended": False,
    "credit_badge": False,
    "fast_track_review": False,
}


# --- Imposing -----------------------------------------------------------------------


def test_a_committee_member_imposes_a_sanction_the_grade_calls_for(
    world: World,
) -> None:
    # given: a C rating, the store fields clean
    assert store(world.entity) == CLEAN
    before = timezone.now()
    # when
    sanction = impose(world, "publishing_review")
    # then: the measure's periods, an event, the store told, the owner notified
    assert sanction.state == Sanction.State.ACTIVE
    assert (sanction.entity, sanction.body) == (world.entity, world.body)
    assert sanction.imposed_by == world.committee
    assert before + timedelta(days=90) <= sanction.ends_at
    assert sanction.ends_at <= timezone.now() + timedelta(days=90)
    assert sanction.repairable_from - sanction.starts_at == timedelta(days=30)
    event = CreditEvent.objects.get(action="sanction_imposed")
    assert (event.entity_id, event.actor, event.to_state) == (
        world.entity.pk,
        world.committee,
        "active",
    )
    assert event.payload["kind"] == "publishing_review"
    assert store(world.entity) == {**CLEAN, "publishing_restriction": "review"}
    notification = Notification.objects.get(user=world.owner)
    assert notification.params["sanction"] == str(sanction.public_id)
    assert "need manual review" in notification.text
    assert "Misleading listings, found twice." in notification.text
    assert timezone.localtime(sanction.ends_at).date().isoformat() in notification.text


def test_ends_at_may_be_given_and_must_be_in_the_future(world: World) -> None:
    until = timezone.now() + timedelta(days=10)
    assert impose(world, ends_at=until).ends_at == until
    with pytest.raises(ApplicationError) as refused:
        impose(world, "dishonesty_list", ends_at=timezone.now() - timedelta(days=1))
    assert "ends_at" in refused.value.details


def test_an_owner_or_admin_of_the_body_may_impose_too(world: World) -> None:
    owner = member(world.body, Role.OWNER)
    assert impose(world, "downrank", actor=owner).imposed_by == owner
    assert impose(world, "dishonesty_list", actor=world.admin).imposed_by == (
        world.admin
    )


@pytest.mark.parametrize("role", [Role.ANALYST, Role.MEMBER, Role.REVIEWER, None])
def test_other_roles_and_outsiders_may_not_impose(world: World, role: str) -> None:
    actor = world.analyst if role == Role.ANALYST else UserFactory.create()
    if role not in (None, Role.ANALYST):
        MembershipFactory.create(user=actor, organization=world.body, role=role)
    with pytest.raises(PermissionDenied) as refused:
        impose(world, actor=actor)
    assert refused.value.code == "not_a_decider"
    assert not Sanction.objects.exists()


def test_a_conflicted_member_or_one_of_the_entity_may_not_impose(
    world: World,
) -> None:
    conflict_declare(
        actor=world.committee, entity=world.entity, reason="Former employee."
    )
    with pytest.raises(PermissionDenied) as refused:
        impose(world)
    assert refused.value.code == "conflict_of_interest"
    insider = member(world.body, Role.COMMITTEE_MEMBER)
    MembershipFactory.create(user=insider, organization=world.entity, role=Role.MEMBER)
    with pytest.raises(PermissionDenied):
        impose(world, actor=insider)
    # The entity's own owner is no member of the body at all.
    with pytest.raises(PermissionDenied):
        impose(world, actor=world.owner)
    assert not Sanction.objects.exists()


@pytest.mark.parametrize("kind", ["suspension", "store_badge", "gossip", ""])
def test_only_a_sanction_the_methodology_sets_for_the_grade(
    world: World, kind: str
) -> None:
    # suspension is set for D, not for C; store_badge is an incentive.
    with pytest.raises(ApplicationError) as refused:
        impose(world, kind)
    assert "kind" in refused.value.details
    assert refused.value.status_code == 400


def test_reasons_are_required(world: World) -> None:
    with pytest.raises(ApplicationError) as refused:
        impose(world, reason="   ")
    assert "reason" in refused.value.details


def test_only_on_a_published_rating(world: World) -> None:
    computed = world.ratings[2]
    Rating.objects.filter(pk=computed.pk).update(grade="C")
    with pytest.raises(Conflict) as refused:
        impose(world, rating=computed)
    assert refused.value.code == "rating_not_published"


def test_a_sanction_is_imposed_once_per_rating_and_kind(world: World) -> None:
    impose(world)
    with pytest.raises(Conflict) as refused:
        impose(world)
    assert refused.value.code == "sanction_exists"
    assert Sanction.objects.count() == 1


def test_no_sanction_comes_from_automation_alone(world: World) -> None:
    # given: a published C rating whose grade calls for three sanctions
    # when: beat and the publication path run
    sanctions_expire()
    credit_measures_sync(entity_id=world.entity.pk)
    # then: nothing is imposed until a person does it
    assert not Sanction.objects.exists()
    assert store(world.entity)["store_downranked"] is False
    # and: the one way to impose needs a person, and no task imposes
    with pytest.raises(TypeError):
        sanction_impose(rating=world.rating, kind="downrank", reason="x")  # type: ignore[call-arg]  # the missing actor is the point
    assert {
        name
        for name in dir(sanction_services)
        if callable(getattr(sanction_services, name)) and "impose" in name
    } == {"sanction_impose"}
    assert not [name for name in dir(rating_tasks) if "impose" in name]


# --- Proposals and the dishonesty list ----------------------------------------------


def test_proposals_are_the_grades_sanctions_not_imposed_yet(world: World) -> None:
    assert [m.kind for m in sanction_proposals(rating=world.rating)] == [
        "dishonesty_list",
        "downrank",
        "publishing_review",
    ]
    impose(world, "downrank")
    assert [m.kind for m in sanction_proposals(rating=world.rating)] == [
        "dishonesty_list",
        "publishing_review",
    ]
    # AAA calls for incentives only; an unpublished rating for nothing.
    assert sanction_proposals(rating=world.ratings[1]) == []
    assert sanction_proposals(rating=world.ratings[2]) == []
    assert list(ratings_calling_for_sanctions(body=world.body)) == [world.rating]
    impose(world, "dishonesty_list")
    impose(world, "publishing_review")
    assert not ratings_calling_for_sanctions(body=world.body).exists()


def test_proposals_of_a_page_take_the_same_queries_for_any_size(
    world: World, django_assert_num_queries: Any
) -> None:
    for rating in world.ratings[1:]:
        publish_as(rating, "C")
    ratings: QuerySet[Rating] = ratings_calling_for_sanctions(body=world.body)
    with django_assert_num_queries(3):
        small = proposals_for(ratings[:1])
    with django_assert_num_queries(3):
        large = proposals_for(ratings[:3])
    assert len(small) == 1
    assert len(large) == 3
    assert all(len(kinds) == 3 for _rating, kinds in large)


def test_the_dishonesty_list_shows_active_listings_only(
    world: World, django_assert_num_queries: Any
) -> None:
    # given: a listing in force, a downranking, a listing lifted
    listed = impose(world, "dishonesty_list")
    impose(world, "downrank")
    other = publish_as(world.ratings[2], "C")
    gone = impose(world, "dishonesty_list", rating=other)
    Sanction.objects.filter(pk=gone.pk).update(state=Sanction.State.LIFTED)
    # when: read with its relations in one query
    with django_assert_num_queries(1):
        rows = list(dishonesty_list())
        shown = [(r.entity.name, r.body.name, r.rating.grade, r.reason) for r in rows]
    # then
    assert rows == [listed]
    assert shown == [
        (world.entity.name, world.body.name, "C", "Misleading listings, found twice.")
    ]


# --- Expiry -------------------------------------------------------------------------


def test_beat_expires_sanctions_past_their_end_once(world: World) -> None:
    # given: two sanctions, one ending in 10 days, one in 180
    short = impose(world, ends_at=timezone.now() + timedelta(days=10))
    long = impose(world, "dishonesty_list")
    assert store(world.entity)["store_downranked"] is True
    # when: beat runs before, after the first end, and again
    assert sanctions_expire() == 0
    later = timezone.now() + timedelta(days=11)
    assert sanctions_expire(now=later) == 1
    assert sanctions_expire(now=later) == 0
    # then
    short.refresh_from_db()
    long.refresh_from_db()
    assert (short.state, short.ended_at) == (Sanction.State.EXPIRED, later)
    assert long.state == Sanction.State.ACTIVE
    assert store(world.entity) == {**CLEAN, "dishonesty_listed": True}
    event = CreditEvent.objects.get(action="sanction_expired")
    assert (event.actor, event.from_state, event.to_state) == (
        None,
        "active",
        "expired",
    )


def test_the_expiry_task_calls_the_service(world: World, settings: Any) -> None:
    impose(world)
    Sanction.objects.update(ends_at=timezone.now() - timedelta(seconds=1))
    assert sanctions_expire_task() == 1
    assert sanctions_expire_task() == 0
    assert Sanction.objects.get().state == Sanction.State.EXPIRED
    assert "ratings.sanctions_expire" in {
        entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()
    }


# --- The store fields ---------------------------------------------------------------


def test_publishing_an_aaa_grants_its_incentives(world: World) -> None:
    # The second publisher was published AAA through rating_publish.
    assert store(world.entities[1]) == {
        **CLEAN,
        "credit_badge": True,
        "fast_track_review": True,
    }


def test_every_sanction_kind_sets_its_field_and_blocked_beats_review(
    world: World,
) -> None:
    entity = world.entities[2]
    rating = publish_as(world.ratings[2], "D")
    impose(world, "suspension", rating=rating)
    impose(world, "publishing_block", rating=rating)
    impose(world, "dishonesty_list")
    impose(world, "downrank")
    impose(world, "publishing_review")
    assert store(entity) == {
        **CLEAN,
        "credit_suspended": True,
        "publishing_restriction": "blocked",
    }
    assert store(world.entity) == {
        **CLEAN,
        "dishonesty_listed": True,
        "store_downranked": True,
        "publishing_restriction": "review",
    }


def test_an_incentive_holds_only_while_no_sanction_is_active(world: World) -> None:
    # given: the AAA publisher also has a C rating of a second body, sanctioned
    entity = world.entities[1]
    other = build_world_for(entity, world)
    # then: its AAA incentives are gone while the sanction is active
    assert store(entity) == {**CLEAN, "store_downranked": True}
    # when: the sanction expires, they come back
    sanctions_expire(now=other.ends_at + timedelta(seconds=1))
    assert store(entity) == {**CLEAN, "credit_badge": True, "fast_track_review": True}


def build_world_for(entity: Organization, world: World) -> Sanction:
    """A second body rates ``entity`` C and downranks it."""
    body, analyst = _body()
    methodology = methodology_create(
        actor=analyst,
        body=body,
        code="other",
        name_en="Other",
        text_en="Other.",
        commitment_en="Other.",
    )
    methodology_set_content(
        actor=analyst,
        methodology=methodology,
        indicators=INDICATORS,
        bands=BANDS,
        measures=MEASURES,
    )
    methodology = methodology_publish(actor=analyst, methodology=methodology)
    Enrolment.objects.create(
        entity=entity, body=body, methodology=methodology, commitment_text="x"
    )
    cycle = _run(cycle_create(actor=analyst, methodology=methodology))
    rating = publish_as(Rating.objects.get(cycle=cycle), "C")
    return sanction_impose(
        actor=member(body, Role.COMMITTEE_MEMBER),
        rating=rating,
        kind="downrank",
        reason="Downranked.",
        ends_at=timezone.now() + timedelta(days=5),
    )


def test_an_expired_rating_grants_no_incentive_and_sync_is_idempotent(
    world: World,
) -> None:
    entity = world.entities[1]
    Rating.objects.filter(pk=world.ratings[1].pk).update(
        valid_until=timezone.now() - timedelta(days=1)
    )
    first = credit_measures_sync(entity_id=entity.pk)
    second = credit_measures_sync(entity_id=entity.pk)
    assert first == second == CLEAN
    assert store(entity) == CLEAN


# --- Withdrawal ---------------------------------------------------------------------


def _enrolment(world: World, entity: Organization) -> Enrolment:
    return Enrolment.objects.get(entity=entity, body=world.body, withdrawn_at=None)


def test_withdrawal_is_refused_under_an_active_sanction(world: World) -> None:
    sanction = impose(world)
    with pytest.raises(Conflict) as refused:
        enrolment_withdraw(actor=world.owner, enrolment=_enrolment(world, world.entity))
    assert refused.value.code == "withdrawal_sanctioned"
    assert world.body.name in refused.value.message
    # Once the sanction has ended, the entity may go.
    sanctions_expire(now=sanction.ends_at)
    withdrawn = enrolment_withdraw(
        actor=world.owner, enrolment=_enrolment(world, world.entity)
    )
    assert withdrawn.withdrawn_at is not None


def test_withdrawal_is_refused_on_an_open_watch(world: World) -> None:
    entity = world.entities[1]
    owner = member(entity, Role.OWNER)
    watch = Watch.objects.create(
        entity=entity,
        body=world.body,
        reason=Watch.Reason.ANALYST,
        due_at=timezone.now() + timedelta(days=90),
    )
    with pytest.raises(Conflict) as refused:
        enrolment_withdraw(actor=owner, enrolment=_enrolment(world, entity))
    assert refused.value.code == "withdrawal_on_watch"
    assert refused.value.status_code == 409
    Watch.objects.filter(pk=watch.pk).update(resolved_at=timezone.now())
    enrolment_withdraw(actor=owner, enrolment=_enrolment(world, entity))
    assert not Enrolment.objects.filter(entity=entity, withdrawn_at=None).exists()


@pytest.mark.parametrize(
    "state",
    [Rating.State.NOTICE, Rating.State.OBJECTED, Rating.State.RE_REVIEWED],
)
def test_withdrawal_is_refused_while_a_rating_is_open(world: World, state: str) -> None:
    entity = world.entities[2]
    owner = member(entity, Role.OWNER)
    Rating.objects.filter(pk=world.ratings[2].pk).update(state=state)
    with pytest.raises(Conflict) as refused:
        enrolment_withdraw(actor=owner, enrolment=_enrolment(world, entity))
    assert refused.value.code == "withdrawal_rating_open"
    assert _enrolment(world, entity).withdrawn_at is None


def test_another_bodys_sanction_does_not_hold_the_entity(world: World) -> None:
    entity = world.entities[1]
    owner = member(entity, Role.OWNER)
    build_world_for(entity, world)
    enrolment_withdraw(actor=owner, enrolment=_enrolment(world, entity))
    assert not Enrolment.objects.filter(
        entity=entity, body=world.body, withdrawn_at=None
    ).exists()


# --- Lapsed ratings, the longest sanction, the entity's lock ------------------------


def _lapse(rating: Rating) -> Rating:
    Rating.objects.filter(pk=rating.pk).update(
        valid_until=timezone.now() - timedelta(minutes=1)
    )
    rating.refresh_from_db()
    return rating


def test_a_lapsed_rating_takes_no_sanction(world: World) -> None:
    rating = _lapse(world.rating)
    with pytest.raises(Conflict) as refused:
        impose(world, "downrank", rating=rating)
    assert refused.value.code == "rating_lapsed"
    assert refused.value.status_code == 409
    assert not Sanction.objects.exists()
    assert store(world.entity) == CLEAN


def test_a_lapsed_rating_is_proposed_for_no_sanction(world: World) -> None:
    # given: the C rating is in force and proposed
    assert list(ratings_calling_for_sanctions(body=world.body)) == [world.rating]
    # when it lapses
    rating = _lapse(world.rating)
    # then nothing proposes a sanction for it
    assert not ratings_calling_for_sanctions(body=world.body).exists()
    assert sanction_proposals(rating=rating) == []
    assert proposals_for([rating]) == [(rating, [])]


def test_a_rating_with_no_end_of_validity_is_still_in_force(world: World) -> None:
    Rating.objects.filter(pk=world.rating.pk).update(valid_until=None)
    world.rating.refresh_from_db()
    assert len(sanction_proposals(rating=world.rating)) == 3
    assert impose(world, "downrank").state == Sanction.State.ACTIVE


def test_a_sanction_lasts_at_most_ten_years(world: World) -> None:
    now = timezone.now()
    with pytest.raises(ApplicationError) as refused:
        impose(world, "downrank", ends_at=now + timedelta(days=366 * 10 + 1))
    assert "ends_at" in refused.value.details
    assert "10 years" in refused.value.details["ends_at"][0]
    with pytest.raises(ApplicationError):
        impose(
            world,
            "downrank",
            ends_at=datetime(
                9999, 12, 31, 23, 59, 59, tzinfo=timezone.get_current_timezone()
            ),
        )
    assert not Sanction.objects.exists()
    # nine years and a half is fine
    until = now + timedelta(days=365 * 9 + 180)
    assert impose(world, "downrank", ends_at=until).ends_at == until


def test_ten_years_later_falls_on_the_28th_for_a_29th_of_february() -> None:
    leap = datetime(2028, 2, 29, 12, 0, tzinfo=UTC)
    assert sanction_services.years_later(leap, 10) == datetime(
        2038, 2, 28, 12, 0, tzinfo=UTC
    )
    assert sanction_services.sanction_latest_end(
        datetime(2027, 3, 1, tzinfo=UTC)
    ) == datetime(2037, 3, 1, tzinfo=UTC)


def _spy_lock(
    monkeypatch: pytest.MonkeyPatch, module: Any, before: Any = None
) -> list[int]:
    """Record the entities the module locks; ``before`` runs as the lock is
    granted (what another transaction committed while this one waited)."""
    locked: list[int] = []
    real = sanction_services.entity_lock

    def spy(*, entity_id: int) -> Organization | None:
        locked.append(entity_id)
        if before is not None:
            before(entity_id)
        return real(entity_id=entity_id)

    monkeypatch.setattr(module, "entity_lock", spy)
    return locked


def test_imposing_locks_the_entity_before_its_checks(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[int] = []
    locked = _spy_lock(
        monkeypatch,
        sanction_services,
        before=lambda _entity_id: seen.append(Sanction.objects.count()),
    )
    impose(world, "downrank")
    # once by the imposition, before the sanction existed, once by the sync
    assert locked == [world.entity.pk, world.entity.pk]
    assert seen == [0, 1]


def test_the_sync_locks_the_entity(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    locked = _spy_lock(monkeypatch, sanction_services)
    credit_measures_sync(entity_id=world.entities[1].pk)
    assert locked == [world.entities[1].pk]


def test_expiry_locks_each_entity_before_moving_its_sanctions(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    sanction = impose(world, "downrank")
    order: list[str] = []
    real_select = QuerySet.select_for_update

    def select_for_update(self: Any, *args: Any, **kwargs: Any) -> Any:
        if self.model is Organization:
            order.append("organization")
        return real_select(self, *args, **kwargs)

    real_event = sanction_services.sanction_event

    def event(**kwargs: Any) -> None:
        order.append(kwargs["action"])
        real_event(**kwargs)

    monkeypatch.setattr(QuerySet, "select_for_update", select_for_update)
    monkeypatch.setattr(sanction_services, "sanction_event", event)
    assert sanctions_expire(now=sanction.ends_at) == 1
    assert order[0] == "organization"
    assert order.index("sanction_expired") > 0


def test_a_watch_opened_while_withdrawal_waits_for_the_entity_holds_it(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    entity = world.entities[1]
    owner = member(entity, Role.OWNER)

    def watch_lands(entity_id: int) -> None:
        Watch.objects.create(
            entity_id=entity_id,
            body=world.body,
            reason=Watch.Reason.ANALYST,
            due_at=timezone.now() + timedelta(days=90),
        )

    locked = _spy_lock(monkeypatch, methodology_services, before=watch_lands)
    with pytest.raises(Conflict) as refused:
        enrolment_withdraw(actor=owner, enrolment=_enrolment(world, entity))
    assert refused.value.code == "withdrawal_on_watch"
    assert locked == [entity.pk]
    assert _enrolment(world, entity).withdrawn_at is None


@pytest.mark.parametrize(
    "state",
    [
        Rating.State.COMPUTED,
        Rating.State.ANALYST_REVIEWED,
        Rating.State.COMMITTEE_APPROVED,
    ],
)
def test_withdrawal_is_refused_while_a_rating_is_being_decided(
    world: World, state: str
) -> None:
    entity = world.entities[2]
    owner = member(entity, Role.OWNER)
    Rating.objects.filter(pk=world.ratings[2].pk).update(state=state)
    with pytest.raises(Conflict) as refused:
        enrolment_withdraw(actor=owner, enrolment=_enrolment(world, entity))
    assert refused.value.code == "withdrawal_rating_open"
    assert refused.value.status_code == 409
    assert _enrolment(world, entity).withdrawn_at is None


def test_a_cancelled_cycles_rating_does_not_hold_the_entity(world: World) -> None:
    entity = world.entities[2]
    owner = member(entity, Role.OWNER)
    rating = world.ratings[2]
    assert rating.state == Rating.State.COMPUTED
    RatingCycle.objects.filter(pk=rating.cycle_id).update(
        state=RatingCycle.State.CANCELLED
    )
    enrolment_withdraw(actor=owner, enrolment=_enrolment(world, entity))
    assert not Enrolment.objects.filter(
        entity=entity, body=world.body, withdrawn_at=None
    ).exists()


@pytest.mark.parametrize(
    "state",
    [MisconductReport.State.TRIAGED, MisconductReport.State.INVESTIGATING],
)
def test_withdrawal_is_refused_while_the_body_looks_into_a_report(
    world: World, state: str
) -> None:
    entity = world.entities[1]
    owner = member(entity, Role.OWNER)
    report = MisconductReportFactory.create(
        publisher=entity, body=world.body, state=state
    )
    with pytest.raises(Conflict) as refused:
        enrolment_withdraw(actor=owner, enrolment=_enrolment(world, entity))
    assert refused.value.code == "withdrawal_report_open"
    assert world.body.name in refused.value.message
    # once it is decided, the entity may go
    MisconductReport.objects.filter(pk=report.pk).update(
        state=MisconductReport.State.DISMISSED
    )
    enrolment_withdraw(actor=owner, enrolment=_enrolment(world, entity))
    assert not Enrolment.objects.filter(
        entity=entity, body=world.body, withdrawn_at=None
    ).exists()


def test_a_report_with_another_body_or_not_yet_triaged_does_not_hold(
    world: World,
) -> None:
    entity = world.entities[1]
    owner = member(entity, Role.OWNER)
    other_body, _analyst = _body()
    MisconductReportFactory.create(
        publisher=entity, body=other_body, state=MisconductReport.State.INVESTIGATING
    )
    MisconductReportFactory.create(
        publisher=entity, state=MisconductReport.State.SUBMITTED
    )
    enrolment_withdraw(actor=owner, enrolment=_enrolment(world, entity))
    assert not Enrolment.objects.filter(
        entity=entity, body=world.body, withdrawn_at=None
    ).exists()
