"""Rating surveillance: watches opened and resolved, the overdue reminder, the
outlook, expiry and the scan for recalls and complaint spikes."""

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from config.exceptions import ApplicationError, Conflict, PermissionDenied
from marketplace.models import (
    AgentEvent,
    AgentVersion,
    Membership,
    Notification,
    Organization,
)
from ratings.models import (
    ConflictOfInterest,
    CreditEvent,
    MisconductReport,
    Rating,
    Watch,
)
from ratings.selectors.surveillance import (
    current_rating,
    watch_is_overdue,
    watch_list_for_body,
)
from ratings.services.decisions import rating_analyst_review
from ratings.services.surveillance import (
    WATCH_DAYS,
    ratings_expire,
    watch_open,
    watch_remind_overdue,
    watch_resolve,
    watch_scan,
)
from ratings.tasks import ratings_expire as ratings_expire_task
from ratings.tasks import watch_remind_overdue as watch_remind_overdue_task
from ratings.tasks import watch_scan as watch_scan_task
from tests.marketplace.factories import AgentVersionFactory, UserFactory
from tests.ratings.factories import MisconductReportFactory
from tests.ratings.surveillance_world import (
    World,
    build_world,
    member,
    publish_as,
    publish_watch_cycle,
)

pytestmark = pytest.mark.django_db

Role = Membership.Role
Reason = Watch.Reason


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> World:
    return build_world(monkeypatch)


def _open(world: World, **kwargs: Any) -> Watch:
    return watch_open(
        entity=kwargs.pop("entity", world.entity),
        body=world.body,
        reason=kwargs.pop("reason", Reason.ANALYST),
        detail=kwargs.pop("detail", "Its agents stopped answering complaints."),
        actor=kwargs.pop("actor", world.analyst),
        **kwargs,
    )


def _resolve(world: World, watch: Watch, resolution: str, **kwargs: Any) -> Watch:
    return watch_resolve(
        actor=kwargs.pop("actor", world.analyst),
        watch=watch,
        resolution=resolution,
        reason=kwargs.pop("reason", "Read the new facts."),
        **kwargs,
    )


def _entity(world: World) -> Organization:
    world.entity.refresh_from_db()
    return world.entity


# --- Opening -------------------------------------------------------------------------


def test_an_analyst_opens_a_watch(world: World) -> None:
    # given
    before = timezone.now()
    # when
    watch = _open(world)
    # then
    assert (watch.entity, watch.body, watch.reason) == (
        world.entity,
        world.body,
        Reason.ANALYST,
    )
    assert watch.rating == world.rating
    assert watch.opened_by == world.analyst
    assert watch.is_open
    due = before + timedelta(days=WATCH_DAYS)
    assert abs((watch.due_at - due).total_seconds()) < 60
    event = CreditEvent.objects.get(action="watch_opened")
    assert event.entity == world.entity
    assert event.payload["watch"] == str(watch.public_id)
    assert _entity(world).credit_on_watch is True
    assert Notification.objects.filter(user=world.entity_owner).exists()


def test_opening_again_returns_the_open_watch(world: World) -> None:
    # given
    first = _open(world)
    # when
    again = watch_open(
        entity=world.entity, body=world.body, reason=Reason.COMPLAINTS, detail="x"
    )
    # then
    assert again.pk == first.pk
    assert Watch.objects.count() == 1
    assert CreditEvent.objects.filter(action="watch_opened").count() == 1


@pytest.mark.parametrize("who", ["committee", "entity_owner", "stranger", "conflicted"])
def test_only_impartial_people_of_the_body_open_a_watch(world: World, who: str) -> None:
    if who == "stranger":
        actor = UserFactory.create()
    elif who == "conflicted":
        actor = member(world.body, Role.ANALYST)
        ConflictOfInterest.objects.create(user=actor, entity=world.entity, reason="x")
    else:
        actor = getattr(world, who)
    # when / then
    with pytest.raises(PermissionDenied):
        _open(world, actor=actor)
    assert not Watch.objects.exists()


def test_an_analysts_watch_needs_a_detail_an_enrolled_entity_and_a_reason(
    world: World,
) -> None:
    with pytest.raises(ApplicationError) as error:
        _open(world, detail="  ")
    assert "detail" in error.value.details
    with pytest.raises(ApplicationError) as error:
        _open(world, reason="whim")
    assert "reason" in error.value.details
    stranger = Organization.objects.create(name="Elsewhere", slug="elsewhere")
    with pytest.raises(ApplicationError) as error:
        _open(world, entity=stranger)
    assert "entity" in error.value.details
    assert not Watch.objects.exists()


# --- Resolving -----------------------------------------------------------------------


def test_affirming_keeps_the_grade_and_clears_the_mark(world: World) -> None:
    # given / when
    watch = _resolve(world, _open(world), "affirm")
    # then
    assert watch.resolution == "affirm"
    assert watch.resolved_by == world.analyst
    assert watch.resolved_at is not None
    world.rating.refresh_from_db()
    assert world.rating.grade == "BBB"
    entity = _entity(world)
    assert (entity.credit_grade, entity.credit_on_watch) == ("BBB", False)
    event = CreditEvent.objects.get(action="watch_resolved")
    assert (event.from_state, event.to_state) == ("open", "affirm")
    assert event.rating == world.rating


def test_a_watch_moves_no_grade_before_the_watch_cycle_is_published(
    world: World,
) -> None:
    # given: a watch whose watch cycle has not been published
    watch = _open(world)
    # when / then: no upgrade nor downgrade in place
    for resolution in ("upgrade", "downgrade"):
        with pytest.raises(Conflict) as error:
            _resolve(world, watch, resolution)
        assert "publish the rating of the watch cycle first" in str(error.value.message)
    world.rating.refresh_from_db()
    assert (world.rating.grade, world.rating.state) == ("BBB", "published")
    assert _entity(world).credit_grade == "BBB"
    watch.refresh_from_db()
    assert watch.is_open
    assert not CreditEvent.objects.filter(action="watch_resolved").exists()


def test_upgrading_follows_the_published_watch_cycle(world: World) -> None:
    # given: the watch cycle rated the entity again, published A
    watch = _open(world)
    since = publish_watch_cycle(watch, "A")
    # when
    done = _resolve(world, watch, "upgrade", grade="A", outlook="positive")
    # then: the old rating is kept as history, the new one stands
    assert done.resolution == "upgrade"
    world.rating.refresh_from_db()
    assert (world.rating.grade, world.rating.state) == ("BBB", "superseded")
    since.refresh_from_db()
    assert (since.grade, since.state, since.outlook) == ("A", "published", "positive")
    entity = _entity(world)
    assert (entity.credit_grade, entity.credit_outlook) == ("A", "positive")
    assert entity.credit_on_watch is False
    event = CreditEvent.objects.get(action="watch_resolved")
    assert event.rating == since
    assert event.payload["rating_since"] == since.pk
    assert event.payload["watched_rating"] == world.rating.pk
    assert (event.payload["from_grade"], event.payload["to_grade"]) == ("BBB", "A")
    texts = [n.text for n in Notification.objects.filter(user=world.entity_owner)]
    assert any("upgraded its grade to A" in text for text in texts)


def test_downgrading_needs_a_lower_published_grade(world: World) -> None:
    # given: the watch cycle published a higher grade
    watch = _open(world)
    publish_watch_cycle(watch, "A")
    # when / then: neither a downgrade nor an affirmation fits it
    with pytest.raises(Conflict) as error:
        _resolve(world, watch, "downgrade")
    assert "not lower than BBB" in str(error.value.message)
    with pytest.raises(Conflict):
        _resolve(world, watch, "affirm")
    # given: a second watch on the A rating, its cycle publishing BB
    watch.refresh_from_db()
    _resolve(world, watch, "upgrade")
    second = _open(world)
    assert second.rating is not None
    assert second.rating.grade == "A"
    with pytest.raises(Conflict):
        _resolve(world, second, "upgrade")
    publish_watch_cycle(second, "BB")
    with pytest.raises(Conflict) as error:
        _resolve(world, second, "upgrade")
    assert "not higher than A" in str(error.value.message)
    # when
    _resolve(world, second, "downgrade")
    # then
    assert _entity(world).credit_grade == "BB"
    moves = list(
        CreditEvent.objects.filter(action="watch_resolved")
        .order_by("pk")
        .values_list("payload__from_grade", "payload__to_grade")
    )
    assert moves == [("BBB", "A"), ("A", "BB")]
    published = Rating.objects.filter(entity=world.entity).exclude(
        state__in=["computed"]
    )
    assert sorted(published.values_list("grade", "state")) == [
        ("A", "superseded"),
        ("BB", "published"),
        ("BBB", "superseded"),
    ]


def test_affirming_after_a_new_rating_of_the_same_grade(world: World) -> None:
    # given
    watch = _open(world)
    since = publish_watch_cycle(watch, "BBB")
    # when / then: the grade did not move, so no upgrade
    with pytest.raises(Conflict):
        _resolve(world, watch, "upgrade")
    done = _resolve(world, watch, "affirm")
    assert done.resolution == "affirm"
    event = CreditEvent.objects.get(action="watch_resolved")
    assert (event.rating, event.payload["to_grade"]) == (since, "BBB")


def test_the_mark_stays_while_another_body_watches(world: World) -> None:
    from tests.ratings.test_cycles import _body

    # given: another body watches the entity too
    other, _analyst = _body()
    Watch.objects.create(
        entity=world.entity,
        body=other,
        reason=Reason.RECALL,
        due_at=timezone.now() + timedelta(days=90),
    )
    # when
    _resolve(world, _open(world), "affirm")
    # then
    assert _entity(world).credit_on_watch is True


def test_bad_resolutions_are_refused(world: World) -> None:
    # given
    watch = _open(world)
    # when / then
    for kwargs, field in [
        ({"resolution": "shrug"}, "resolution"),
        ({"resolution": "affirm", "reason": " "}, "reason"),
        ({"resolution": "affirm", "outlook": "sunny"}, "outlook"),
        ({"resolution": "affirm", "grade": "AAA"}, "grade"),
    ]:
        with pytest.raises(ApplicationError) as error:
            _resolve(world, watch, **kwargs)
        assert field in error.value.details
    watch.refresh_from_db()
    assert watch.is_open


def test_a_top_grade_is_not_upgraded(world: World) -> None:
    # given
    publish_as(world.ratings[1], "AAA")
    watch = _open(world, entity=world.entities[1])
    publish_watch_cycle(watch, "AAA")
    # when / then
    with pytest.raises(Conflict):
        _resolve(world, watch, "upgrade")
    world.ratings[1].refresh_from_db()
    assert world.ratings[1].grade == "AAA"


def test_a_resolved_watch_is_not_resolved_again(world: World) -> None:
    # given
    watch = _resolve(world, _open(world), "affirm")
    # when / then
    with pytest.raises(Conflict):
        _resolve(world, watch, "downgrade")
    world.rating.refresh_from_db()
    assert world.rating.grade == "BBB"


@pytest.mark.parametrize(
    "who", ["committee", "entity_owner", "stranger", "conflicted", "owner_of_body"]
)
def test_who_resolves_a_watch(world: World, who: str) -> None:
    watch = _open(world)
    if who == "stranger":
        actor = UserFactory.create()
    elif who == "conflicted":
        actor = member(world.body, Role.ADMIN)
        ConflictOfInterest.objects.create(user=actor, entity=world.entity, reason="x")
    else:
        actor = getattr(world, who)
    if who == "owner_of_body":
        assert _resolve(world, watch, "affirm", actor=actor).resolved_at is not None
        return
    with pytest.raises(PermissionDenied):
        _resolve(world, watch, "affirm", actor=actor)
    watch.refresh_from_db()
    assert watch.is_open


def test_a_watch_without_a_published_rating_is_only_affirmed(world: World) -> None:
    # given
    watch = _open(world, entity=world.entities[1])
    assert watch.rating is None
    # when / then
    with pytest.raises(Conflict):
        _resolve(world, watch, "downgrade")
    assert _resolve(world, watch, "affirm").resolution == "affirm"


# --- Overdue -------------------------------------------------------------------------


def test_overdue_watches_are_listed_and_reminded_once(world: World) -> None:
    # given
    watch = _open(world)
    Watch.objects.filter(pk=watch.pk).update(due_at=timezone.now() - timedelta(hours=1))
    watch.refresh_from_db()
    # then: listed as overdue
    assert watch_is_overdue(watch=watch)
    assert list(watch_list_for_body(body=world.body, state="overdue")) == [watch]
    Notification.objects.all().delete()
    # when / then: reminded once, by the service and then by the task
    assert watch_remind_overdue() == 1
    assert watch_remind_overdue_task() == 0
    told = Notification.objects.all()
    assert list(told.values_list("user", flat=True)) == [world.analyst.pk]
    assert CreditEvent.objects.filter(action="watch_overdue").count() == 1


def test_a_watch_not_yet_due_is_not_reminded(world: World) -> None:
    # given
    _open(world)
    # when / then
    assert watch_remind_overdue() == 0
    assert list(watch_list_for_body(body=world.body, state="overdue")) == []


# --- Outlook and validity ------------------------------------------------------------


def test_publication_sets_validity_and_the_stores_outlook(world: World) -> None:
    # given: the world published its first rating
    rating = world.rating
    # then
    assert rating.published_at is not None
    assert rating.valid_until == rating.published_at + timedelta(
        days=rating.cycle.methodology.validity_days
    )
    # when
    rating = publish_as(world.ratings[1], "A", outlook="negative")
    # then
    world.entities[1].refresh_from_db()
    assert world.entities[1].credit_outlook == "negative"


def test_the_analyst_review_sets_the_outlook(monkeypatch: pytest.MonkeyPatch) -> None:
    # given
    world = build_world(monkeypatch)
    computed = world.ratings[1]
    # when / then
    with pytest.raises(ApplicationError) as error:
        rating_analyst_review(actor=world.analyst, rating=computed, outlook="bright")
    assert "outlook" in error.value.details
    reviewed = rating_analyst_review(
        actor=world.analyst, rating=computed, outlook="developing"
    )
    reviewed.refresh_from_db()
    assert reviewed.outlook == "developing"
    other = build_world(monkeypatch, prefix="v")
    plain = rating_analyst_review(actor=other.analyst, rating=other.ratings[1])
    assert plain.outlook == "stable"


def test_an_expired_rating_is_no_grade_and_expires_once(world: World) -> None:
    # given
    assert current_rating(world.entity) == world.rating
    Rating.objects.filter(pk=world.rating.pk).update(
        valid_until=timezone.now() - timedelta(minutes=1)
    )
    assert current_rating(world.entity) is None
    # when / then: expired once, by the service and then by the task
    assert ratings_expire() == 1
    assert ratings_expire_task() == 0
    world.rating.refresh_from_db()
    assert world.rating.state == Rating.State.PUBLISHED
    entity = _entity(world)
    assert (entity.credit_grade, entity.credit_grade_rank) == ("", None)
    assert (
        CreditEvent.objects.filter(action="rating_expired", rating=world.rating).count()
        == 1
    )


def test_current_rating_by_body(world: World) -> None:
    from tests.ratings.test_cycles import _body

    # given
    other, _analyst = _body()
    # when / then
    assert current_rating(world.entity, world.body) == world.rating
    assert current_rating(world.entity, other) is None


# --- The scan ------------------------------------------------------------------------


def test_the_scan_watches_recalls_once(world: World) -> None:
    # given: a recall of one of the entity's versions
    version: AgentVersion = AgentVersionFactory.create(
        agent__publisher=world.entity, state=AgentVersion.State.PUBLISHED
    )
    AgentEvent.objects.create(
        agent=version.agent,
        version=version,
        action="recall",
        from_state="published",
        to_state=AgentVersion.State.RECALLED,
    )
    # when
    assert watch_scan() == 1
    # then
    watch = Watch.objects.get(entity=world.entity)
    assert watch.reason == Reason.RECALL
    assert watch.opened_by is None
    assert watch.detail == f"{version.agent.name} {version.version}"
    told = Notification.objects.get(user=world.entity_owner)
    assert "on watch after a recall of one of its agents" in told.text
    # the recall is not watched for again, even once the watch is resolved
    _resolve(world, watch, "affirm")
    assert watch_scan_task() == 0
    assert Watch.objects.count() == 1


def _reports(entity: Organization, count: int, days_ago: float) -> None:
    for _n in range(count):
        report = MisconductReportFactory.create(publisher=entity)
        MisconductReport.objects.filter(pk=report.pk).update(
            created_at=timezone.now() - timedelta(days=days_ago)
        )


def test_the_scan_watches_a_spike_of_complaints(world: World, settings: Any) -> None:
    # given
    settings.WATCH_COMPLAINT_SPIKE = 5
    spiking, steady = world.entities
    _reports(spiking, 5, 1)
    _reports(steady, 5, 1)
    _reports(steady, 20, 20)  # 20 in 30 days before: about 4.7 a week
    # when / then
    assert watch_scan() == 1
    assert list(Watch.objects.values_list("entity_id", "reason")) == [
        (spiking.pk, Reason.COMPLAINTS)
    ]
    # the same spike, scanned again after the watch was resolved, is not watched
    _resolve(world, Watch.objects.get(), "affirm")
    assert watch_scan() == 0


def test_below_the_threshold_is_no_spike(world: World, settings: Any) -> None:
    # given
    settings.WATCH_COMPLAINT_SPIKE = 5
    _reports(world.entity, 4, 1)
    # when / then
    assert watch_scan() == 0


def test_the_beat_schedule_runs_the_surveillance_tasks(settings: Any) -> None:
    tasks = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert {
        "ratings.watch_scan",
        "ratings.watch_remind_overdue",
        "ratings.ratings_expire",
    } <= tasks


# --- Locks ---------------------------------------------------------------------------


@pytest.fixture
def locks(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The models whose rows are locked, in order."""
    from django.db.models import QuerySet

    taken: list[str] = []
    original = QuerySet.select_for_update

    def recording(self: QuerySet[Any], *args: Any, **kwargs: Any) -> QuerySet[Any]:
        taken.append(self.model.__name__)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(QuerySet, "select_for_update", recording)
    return taken


def test_opening_a_watch_locks_the_entity(world: World, locks: list[str]) -> None:
    # when
    _open(world)
    # then: the organisation is locked before the watch is written
    assert "Organization" in locks
    assert "Rating" not in locks[: locks.index("Organization")]


def test_resolving_locks_the_rating_before_the_entity(
    world: World, locks: list[str]
) -> None:
    # given
    watch = _open(world)
    locks.clear()
    # when
    _resolve(world, watch, "affirm", outlook="negative")
    # then: the rating, then the organisation, never the other way round
    assert "Organization" in locks
    first_org = locks.index("Organization")
    assert "Rating" in locks[:first_org]
    assert "Rating" not in locks[first_org:]


def test_the_watch_mark_is_synced_under_the_entity_lock(
    world: World, locks: list[str]
) -> None:
    from ratings.services.surveillance import _sync_on_watch

    # when
    _sync_on_watch(world.entity.pk)
    # then
    assert locks[:1] == ["Organization"]
