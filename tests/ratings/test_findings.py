"""Misconduct investigation: the entity told and answering, the finding made when
a report is substantiated, and the watches a serious finding opens."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from config.exceptions import ApplicationError, Conflict, PermissionDenied
from marketplace.models import Notification
from ratings.models import (
    ConflictOfInterest,
    CreditEvent,
    Enrolment,
    Finding,
    MisconductReport,
    RatingCycle,
    Watch,
)
from ratings.selectors import (
    report_can_see,
    report_list_for_body,
    report_list_for_entity,
    report_sees_evidence,
)
from ratings.services import (
    Authority,
    report_assign_body,
    report_authorities,
    report_entity_answer,
    report_transition,
)
from ratings.services.decisions import add_working_days
from tests.marketplace.factories import UserFactory
from tests.ratings.factories import MisconductReportFactory, operator_reviewer
from tests.ratings.surveillance_world import World, build_world, report_about

pytestmark = pytest.mark.django_db

State = MisconductReport.State


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> World:
    return build_world(monkeypatch)


def _investigating(world: World, **fields: Any) -> MisconductReport:
    report = report_about(world.entity, world.body, **fields)
    return report_transition(report=report, to=State.INVESTIGATING, actor=world.analyst)


def _past_deadline(report: MisconductReport) -> MisconductReport:
    MisconductReport.objects.filter(pk=report.pk).update(
        answer_deadline=timezone.now() - timedelta(minutes=1)
    )
    report.refresh_from_db()
    return report


def _substantiate(
    world: World, report: MisconductReport, **kwargs: Any
) -> MisconductReport:
    kwargs.setdefault("severity", "general")
    kwargs.setdefault("note", "The listing promised what it never did.")
    return report_transition(
        report=report, to=State.SUBSTANTIATED, actor=world.analyst, **kwargs
    )


# --- Assignment and authority --------------------------------------------------------


def test_a_report_is_assigned_to_the_body_the_publisher_is_enrolled_with(
    world: World,
) -> None:
    # given
    report = MisconductReportFactory.create(publisher=world.entity)
    # when / then: enrolled, then withdrawn
    assert report_assign_body(report=report) == world.body
    Enrolment.objects.filter(entity=world.entity).update(withdrawn_at=timezone.now())
    assert report_assign_body(report=report) is None


def test_the_bodys_analysts_investigate_but_not_when_conflicted(world: World) -> None:
    # given
    report = report_about(world.entity, world.body)
    # when / then
    assert report_authorities(actor=world.analyst, report=report) == {Authority.ANALYST}
    assert report_authorities(actor=world.committee, report=report) == frozenset()
    assert report_authorities(actor=world.entity_owner, report=report) == frozenset()
    # when: the analyst declares a conflict
    ConflictOfInterest.objects.create(
        user=world.analyst, entity=world.entity, reason="Former employee."
    )
    # then
    assert report_authorities(actor=world.analyst, report=report) == frozenset()
    with pytest.raises(PermissionDenied):
        report_transition(report=report, to=State.INVESTIGATING, actor=world.analyst)


def test_reviewers_still_triage_and_cannot_investigate(world: World) -> None:
    # given
    reviewer = operator_reviewer()
    report = MisconductReportFactory.create(publisher=world.entity, body=world.body)
    # when
    report = report_transition(report=report, to=State.TRIAGED, actor=reviewer)
    # then
    assert report.state == State.TRIAGED
    with pytest.raises(PermissionDenied):
        report_transition(report=report, to=State.INVESTIGATING, actor=reviewer)


# --- Investigation -------------------------------------------------------------------


def test_investigating_tells_the_entity_and_sets_the_deadline(
    world: World, settings: Any
) -> None:
    # given
    settings.REPORT_ANSWER_DAYS = 3
    before = timezone.now()
    # when
    report = _investigating(world)
    # then
    assert report.state == State.INVESTIGATING
    assert report.answer_deadline is not None
    expected = add_working_days(before, 3)
    assert abs((report.answer_deadline - expected).total_seconds()) < 60
    told = Notification.objects.filter(kind=Notification.Kind.CREDIT_RATING)
    assert set(told.values_list("user", flat=True)) == {
        world.entity_owner.pk,
        world.entity_admin.pk,
    }
    assert told.first().params["body"] == world.body.name  # type: ignore[union-attr]


def test_the_entity_sees_the_report_without_reporter_or_evidence(world: World) -> None:
    # given: a triaged report is not shown to the entity
    report = report_about(world.entity, world.body)
    assert not report_can_see(user=world.entity_owner, report=report)
    # when
    report = _investigating(world)
    # then
    assert report_can_see(user=world.entity_owner, report=report)
    assert not report_sees_evidence(user=world.entity_owner, report=report)
    assert not report_can_see(user=world.entity_member, report=report)
    assert report_sees_evidence(user=world.analyst, report=report)
    assert list(report_list_for_entity(user=world.entity_owner)) == [report]
    assert list(report_list_for_entity(user=world.entity_member)) == []
    assert report in report_list_for_body(user=world.analyst)
    assert list(report_list_for_body(user=world.entity_owner)) == []


def test_the_entity_answers_once_before_the_deadline(world: World) -> None:
    # given
    report = _investigating(world)
    # when
    answered = report_entity_answer(
        actor=world.entity_admin, report=report, text="  We fixed the listing.  "
    )
    # then
    assert answered.entity_answer == "We fixed the listing."
    assert answered.entity_answered_by == world.entity_admin
    assert answered.entity_answered_at is not None
    assert CreditEvent.objects.filter(
        action="report_answered", entity=world.entity
    ).exists()
    with pytest.raises(Conflict, match="answered already"):
        report_entity_answer(actor=world.entity_owner, report=report, text="Again.")


@pytest.mark.parametrize("who", ["entity_member", "analyst", "stranger"])
def test_only_the_entitys_owners_and_admins_answer(world: World, who: str) -> None:
    # given
    report = _investigating(world)
    actor = UserFactory.create() if who == "stranger" else getattr(world, who)
    # when / then
    with pytest.raises(PermissionDenied):
        report_entity_answer(actor=actor, report=report, text="An answer.")
    report.refresh_from_db()
    assert report.entity_answered_at is None


def test_no_answer_after_the_deadline_empty_or_outside_investigation(
    world: World,
) -> None:
    # given
    report = _investigating(world)
    # when / then
    with pytest.raises(ApplicationError) as empty:
        report_entity_answer(actor=world.entity_owner, report=report, text="   ")
    assert "text" in empty.value.details
    with pytest.raises(ApplicationError):
        report_entity_answer(actor=world.entity_owner, report=report, text="x" * 5001)
    _past_deadline(report)
    with pytest.raises(Conflict, match="passed"):
        report_entity_answer(actor=world.entity_owner, report=report, text="Late.")
    triaged = report_about(world.entity, world.body)
    with pytest.raises(Conflict):
        report_entity_answer(actor=world.entity_owner, report=triaged, text="Early.")


# --- Deciding ------------------------------------------------------------------------


def test_substantiating_waits_for_the_answer_or_the_deadline(world: World) -> None:
    # given
    report = _investigating(world)
    # when / then: not before the entity answered
    with pytest.raises(Conflict, match="may answer until") as error:
        _substantiate(world, report)
    assert error.value.status_code == 409
    assert not Finding.objects.exists()
    report.refresh_from_db()
    assert report.state == State.INVESTIGATING
    # once answered, it may be decided
    report_entity_answer(actor=world.entity_owner, report=report, text="Sorry.")
    report = _substantiate(world, report)
    assert report.state == State.SUBSTANTIATED


def test_substantiating_makes_the_finding(world: World) -> None:
    # given
    report = _past_deadline(_investigating(world, category="privacy_violation"))
    occurred = timezone.now() - timedelta(days=20)
    # when
    report = _substantiate(
        world,
        report,
        severity="minor",
        category="security_problem",
        occurred_at=occurred,
        note="Logged what users typed.",
    )
    # then
    finding = Finding.objects.get(report=report)
    assert (finding.entity, finding.body, finding.decided_by) == (
        world.entity,
        world.body,
        world.analyst,
    )
    assert (finding.category, finding.severity, finding.occurred_at) == (
        "security_problem",
        "minor",
        occurred,
    )
    assert finding.reasons == "Logged what users typed."
    event = CreditEvent.objects.get(action="finding_made")
    assert event.payload["finding"] == finding.pk
    assert not Watch.objects.exists()  # not serious


def test_the_finding_defaults_to_the_reports_category_and_date(world: World) -> None:
    # given
    report = _past_deadline(_investigating(world, category="false_advertising"))
    # when
    _substantiate(world, report)
    # then
    finding = Finding.objects.get(report=report)
    assert finding.category == "false_advertising"
    assert finding.occurred_at == report.created_at


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"severity": ""}, "severity"),
        ({"severity": "grave"}, "severity"),
        ({"category": "nonsense"}, "category"),
        ({"occurred_at": timezone.now() + timedelta(days=3)}, "occurred_at"),
        ({"occurred_at": datetime(1, 1, 1, tzinfo=UTC)}, "occurred_at"),
        ({"occurred_at": datetime(1999, 12, 31, 23, tzinfo=UTC)}, "occurred_at"),
        ({"occurred_at": datetime(2020, 1, 1)}, "occurred_at"),  # noqa: DTZ001  # naive on purpose
        ({"note": "  "}, "note"),
    ],
)
def test_bad_finding_fields_are_refused(
    world: World, fields: dict[str, Any], field: str
) -> None:
    # given
    report = _past_deadline(_investigating(world))
    # when / then
    with pytest.raises(ApplicationError) as error:
        _substantiate(world, report, **fields)
    assert field in error.value.details
    assert not Finding.objects.exists()
    report.refresh_from_db()
    assert report.state == State.INVESTIGATING


def test_dismissing_needs_reasons_and_tells_the_entity(world: World) -> None:
    # given
    report = _investigating(world)
    with pytest.raises(ApplicationError):
        report_transition(report=report, to=State.DISMISSED, actor=world.analyst)
    Notification.objects.all().delete()
    # when
    report = report_transition(
        report=report, to=State.DISMISSED, actor=world.analyst, note="No evidence."
    )
    # then
    assert report.state == State.DISMISSED
    assert not Finding.objects.exists()
    assert Notification.objects.filter(user=world.entity_owner).exists()


def test_a_serious_finding_opens_a_watch_with_every_enrolled_body(
    world: World,
) -> None:
    # given: the entity enrolled with a second body too, and one it left
    from tests.ratings.test_cycles import _body, _methodology

    other, other_analyst = _body()
    Enrolment.objects.create(
        entity=world.entity,
        body=other,
        methodology=_methodology(other, other_analyst),
        commitment_text="We commit.",
    )
    left, left_analyst = _body()
    Enrolment.objects.create(
        entity=world.entity,
        body=left,
        methodology=_methodology(left, left_analyst),
        commitment_text="We commit.",
        withdrawn_at=timezone.now(),
    )
    report = _past_deadline(_investigating(world))
    # when
    _substantiate(world, report, severity="serious")
    # then
    finding = Finding.objects.get(report=report)
    watches = Watch.objects.filter(entity=world.entity)
    assert {w.body_id for w in watches} == {world.body.pk, other.pk}
    assert all(w.reason == Watch.Reason.SEVERE_FINDING for w in watches)
    assert all(w.finding == finding for w in watches)
    watched = watches.get(body=world.body)
    assert watched.rating == world.rating
    world.entity.refresh_from_db()
    assert world.entity.credit_on_watch is True
    # and each enrolled body rates the entity again at once, in a watch cycle
    watch_cycles = RatingCycle.objects.filter(trigger=RatingCycle.Trigger.WATCH)
    assert {(c.body_id, c.entity_id, c.started_by) for c in watch_cycles} == {
        (world.body.pk, world.entity.pk, None),
        (other.pk, world.entity.pk, None),
    }


def test_upholding_with_a_day_out_of_range_is_refused_on_the_page_and_the_api(
    world: World,
) -> None:
    # given: a report the entity had its time to answer
    report = _past_deadline(_investigating(world))
    page = Client(HTTP_ACCEPT_LANGUAGE="en")
    page.force_login(world.analyst)
    api = APIClient(HTTP_ACCEPT_LANGUAGE="en")
    api.force_authenticate(world.analyst)
    move = {"to": "substantiated", "note": "Found.", "severity": "general"}

    # when
    on_page = page.post(
        reverse("report-transition", kwargs={"public_id": report.public_id}),
        {**move, "seen": "investigating", "occurred_on": "0001-01-01"},
        follow=True,
    )
    through_api = [
        api.post(
            reverse("api-report-transition", kwargs={"public_id": report.public_id}),
            {**move, "occurred_at": occurred},
            format="json",
        )
        for occurred in ("0001-01-01T00:00:00", "0001-01-01T00:00:00+00:00")
    ]

    # then
    assert on_page.status_code == 200
    assert "Give a day from 2000 on." in on_page.content.decode()
    for response in through_api:
        assert response.status_code == 400
        assert "occurred_at" in response.json()["error"]["details"]
    assert not Finding.objects.exists()
    report.refresh_from_db()
    assert report.state == State.INVESTIGATING
