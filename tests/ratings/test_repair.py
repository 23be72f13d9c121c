"""Credit repair: the entity applies once the minimum period has passed; the
body grants (the sanction is lifted, findings are marked repaired, the store
fields change back) or refuses with reasons."""

from datetime import datetime, timedelta
from typing import Any

import pytest
from django.utils import timezone

from config.exceptions import ApplicationError, Conflict, PermissionDenied
from marketplace.models import Membership, Notification, Organization, User
from ratings.models import (
    CreditEvent,
    Finding,
    MisconductReport,
    RepairApplication,
    Sanction,
)
from ratings.services import repair as repair_services
from ratings.services import sanctions as sanction_services
from ratings.services.decisions import conflict_declare
from ratings.services.repair import repair_apply, repair_decide
from ratings.services.sanctions import sanctions_expire
from tests.marketplace.factories import MembershipFactory, UserFactory
from tests.ratings.factories import MisconductReportFactory
from tests.ratings.test_cycles import _body
from tests.ratings.test_sanctions import (
    CLEAN,
    World,
    build_world,
    impose,
    member,
    store,
)

pytestmark = pytest.mark.django_db

Role = Membership.Role


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> World:
    return build_world(monkeypatch)


def _repairable(sanction: Sanction) -> Sanction:
    Sanction.objects.filter(pk=sanction.pk).update(
        repairable_from=timezone.now() - timedelta(days=1)
    )
    sanction.refresh_from_db()
    return sanction


def _apply(world: World, sanction: Sanction, **kwargs: Any) -> RepairApplication:
    return repair_apply(
        actor=kwargs.pop("actor", world.owner),
        sanction=sanction,
        corrective_actions=kwargs.pop(
            "corrective_actions", "Rewrote every listing; trained the team."
        ),
        **kwargs,
    )


def _finding(
    world: World,
    *,
    body: Organization | None = None,
    repaired: bool = False,
    decided_at: datetime | None = None,
) -> Finding:
    """A finding about the entity, decided 100 days ago unless ``decided_at``
    says otherwise (so before any sanction of the test)."""
    report = MisconductReportFactory.create(
        publisher=world.entity, state=MisconductReport.State.SUBSTANTIATED
    )
    finding = Finding.objects.create(
        report=report,
        entity=world.entity,
        body=body if body is not None else world.body,
        category=report.category,
        severity=Finding.Severity.GENERAL,
        occurred_at=timezone.now() - timedelta(days=200),
        reasons="Misleading claims.",
        repaired_at=timezone.now() - timedelta(days=1) if repaired else None,
    )
    Finding.objects.filter(pk=finding.pk).update(
        decided_at=decided_at or timezone.now() - timedelta(days=100)
    )
    finding.refresh_from_db()
    return finding


# --- Applying -----------------------------------------------------------------------


def test_repair_too_early_is_refused_naming_the_date(world: World) -> None:
    # given: a sanction repairable after 30 days
    sanction = impose(world, "publishing_review")
    # when / then
    with pytest.raises(Conflict) as refused:
        _apply(world, sanction)
    assert refused.value.code == "repair_too_early"
    assert str(timezone.localtime(sanction.repairable_from).year) in (
        refused.value.message
    )
    assert not RepairApplication.objects.exists()


def test_the_entitys_owner_applies_once_at_a_time(world: World) -> None:
    sanction = _repairable(impose(world))
    application = _apply(
        world,
        sanction,
        evidence_links=["https://example.com/fix", "https://example.com/fix"],
    )
    assert application.state == RepairApplication.State.PENDING
    assert application.evidence_links == ["https://example.com/fix"]
    assert application.applied_by == world.owner
    event = CreditEvent.objects.get(action="repair_applied")
    assert (event.entity_id, event.to_state) == (world.entity.pk, "pending")
    with pytest.raises(Conflict) as refused:
        _apply(world, sanction)
    assert refused.value.code == "repair_pending"


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"corrective_actions": "  "}, "corrective_actions"),
        ({"corrective_actions": "x" * 10001}, "corrective_actions"),
        ({"evidence_links": ["http://example.com/plain"]}, "evidence_links"),
        ({"evidence_links": ["not a link"]}, "evidence_links"),
        ({"evidence_links": [42]}, "evidence_links"),
        ({"evidence_links": ["https://example.com/a"] * 11}, "evidence_links"),
    ],
)
def test_bad_applications_are_refused_naming_the_field(
    world: World, fields: dict[str, Any], field: str
) -> None:
    sanction = _repairable(impose(world))
    with pytest.raises(ApplicationError) as refused:
        _apply(world, sanction, **fields)
    assert field in refused.value.details
    assert refused.value.status_code == 400


def test_only_the_entitys_owners_and_admins_apply(world: World) -> None:
    sanction = _repairable(impose(world))
    plain = member(world.entity, Role.MEMBER)
    for actor in (plain, world.committee, UserFactory.create()):
        with pytest.raises(PermissionDenied):
            _apply(world, sanction, actor=actor)
    admin = member(world.entity, Role.ADMIN)
    assert _apply(world, sanction, actor=admin).applied_by == admin


def test_an_ended_sanction_takes_no_application(world: World) -> None:
    sanction = _repairable(impose(world))
    Sanction.objects.filter(pk=sanction.pk).update(state=Sanction.State.EXPIRED)
    with pytest.raises(Conflict) as refused:
        _apply(world, sanction)
    assert refused.value.code == "sanction_not_active"


# --- Deciding -----------------------------------------------------------------------


def test_a_granted_repair_lifts_the_sanction_and_marks_findings_repaired(
    world: World,
) -> None:
    # given: two sanctions in force, findings of this body and of another
    listing = _repairable(impose(world, "dishonesty_list"))
    review = impose(world, "publishing_review")
    found = _finding(world)
    earlier = _finding(world, repaired=True)
    elsewhere = _finding(world, body=_other_body())
    assert store(world.entity) == {
        **CLEAN,
        "dishonesty_listed": True,
        "publishing_restriction": "review",
    }
    application = _apply(world, listing)
    Notification.objects.all().delete()
    # when
    decided = repair_decide(
        actor=world.committee,
        application=application,
        grant=True,
        reason="The listings are honest now.",
    )
    # then: the application and the sanction moved, with events
    assert decided.state == RepairApplication.State.GRANTED
    assert (decided.decided_by, decided.decision_reason) == (
        world.committee,
        "The listings are honest now.",
    )
    listing.refresh_from_db()
    assert listing.state == Sanction.State.LIFTED
    assert listing.ended_at is not None
    review.refresh_from_db()
    assert review.state == Sanction.State.ACTIVE
    actions = list(
        CreditEvent.objects.filter(entity=world.entity)
        .order_by("pk")
        .values_list("action", flat=True)
    )
    assert actions[-3:] == ["repair_decided", "sanction_lifted", "findings_repaired"]
    # the body's unrepaired finding is marked, nothing deleted
    found.refresh_from_db()
    assert found.repaired_at == listing.ended_at
    earlier_repaired = earlier.repaired_at
    earlier.refresh_from_db()
    assert earlier.repaired_at == earlier_repaired
    elsewhere.refresh_from_db()
    assert elsewhere.repaired_at is None
    assert Finding.objects.filter(entity=world.entity).count() == 3
    # the store fields change back for the lifted sanction only
    assert store(world.entity) == {**CLEAN, "publishing_restriction": "review"}
    # the entity is told
    notification = Notification.objects.get(user=world.owner)
    assert notification.params["application"] == str(application.public_id)


def _other_body() -> Organization:
    body, _analyst = _body()
    return body


def test_a_refused_repair_keeps_the_sanction_and_tells_the_reasons(
    world: World,
) -> None:
    sanction = _repairable(impose(world))
    found = _finding(world)
    application = _apply(world, sanction)
    Notification.objects.all().delete()
    repair_decide(
        actor=world.admin,
        application=application,
        grant=False,
        reason="The listings still overstate results.",
    )
    application.refresh_from_db()
    sanction.refresh_from_db()
    found.refresh_from_db()
    assert application.state == RepairApplication.State.REFUSED
    assert sanction.state == Sanction.State.ACTIVE
    assert found.repaired_at is None
    assert store(world.entity)["store_downranked"] is True
    notification = Notification.objects.get(user=world.owner)
    assert notification.params["reason"] == "The listings still overstate results."
    assert notification.text.startswith(f"{world.body.name} refused the credit repair")
    # A new application may follow a refusal.
    assert _apply(world, sanction).state == RepairApplication.State.PENDING


def test_decisions_need_an_impartial_decider_and_reasons(world: World) -> None:
    sanction = _repairable(impose(world))
    application = _apply(world, sanction)
    # the analyst, the entity's owner, a stranger
    for actor in (world.analyst, world.owner, UserFactory.create()):
        with pytest.raises(PermissionDenied):
            repair_decide(actor=actor, application=application, grant=True, reason="x")
    # a conflicted committee member
    conflict_declare(actor=world.committee, entity=world.entity, reason="Relative.")
    with pytest.raises(PermissionDenied) as refused:
        repair_decide(
            actor=world.committee, application=application, grant=True, reason="x"
        )
    assert refused.value.code == "conflict_of_interest"
    with pytest.raises(ApplicationError) as invalid:
        repair_decide(actor=world.admin, application=application, grant=True, reason="")
    assert "reason" in invalid.value.details
    application.refresh_from_db()
    assert application.state == RepairApplication.State.PENDING


def test_an_application_is_decided_once(world: World) -> None:
    sanction = _repairable(impose(world))
    application = _apply(world, sanction)
    repair_decide(actor=world.admin, application=application, grant=False, reason="No.")
    with pytest.raises(Conflict) as refused:
        repair_decide(
            actor=world.admin, application=application, grant=True, reason="Yes."
        )
    assert refused.value.code == "repair_decided"


def test_a_member_of_the_entity_in_the_body_may_not_decide(world: World) -> None:
    sanction = _repairable(impose(world))
    application = _apply(world, sanction)
    insider: User = member(world.body, Role.OWNER)
    MembershipFactory.create(user=insider, organization=world.entity, role=Role.MEMBER)
    with pytest.raises(PermissionDenied):
        repair_decide(actor=insider, application=application, grant=True, reason="x")


def test_a_repair_granted_after_the_sanction_expired_keeps_it_expired(
    world: World,
) -> None:
    # given: an application pending when beat expires the sanction
    sanction = _repairable(impose(world))
    application = _apply(world, sanction)
    sanctions_expire(now=sanction.ends_at)
    found = _finding(world)
    # when
    repair_decide(
        actor=world.committee, application=application, grant=True, reason="Done."
    )
    # then: the history says it expired; the finding is repaired all the same
    sanction.refresh_from_db()
    found.refresh_from_db()
    assert sanction.state == Sanction.State.EXPIRED
    assert found.repaired_at is not None
    assert not CreditEvent.objects.filter(action="sanction_lifted").exists()


def test_a_granted_repair_leaves_findings_newer_than_the_sanction(
    world: World,
) -> None:
    # given: a finding decided before the sanction, one at its start, one after
    sanction = _repairable(impose(world, "dishonesty_list"))
    before = _finding(world)
    at_start = _finding(world, decided_at=sanction.starts_at)
    newer = _finding(world, decided_at=sanction.starts_at + timedelta(seconds=1))
    application = _apply(world, sanction)
    # when
    repair_decide(
        actor=world.committee,
        application=application,
        grant=True,
        reason="The listings are honest now.",
    )
    # then: the repair covers what the sanction was imposed for, not what came after
    for finding in (before, at_start, newer):
        finding.refresh_from_db()
    assert before.repaired_at is not None
    assert at_start.repaired_at is not None
    assert newer.repaired_at is None
    event = CreditEvent.objects.get(action="findings_repaired")
    assert event.payload["findings"] == sorted([before.pk, at_start.pk])


def test_deciding_a_repair_locks_the_entity_before_its_checks(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    sanction = _repairable(impose(world, "dishonesty_list"))
    application = _apply(world, sanction)
    locked: list[tuple[int, str]] = []
    real = sanction_services.entity_lock

    def spy(*, entity_id: int) -> Organization | None:
        state = RepairApplication.objects.get(pk=application.pk).state
        locked.append((entity_id, state))
        return real(entity_id=entity_id)

    monkeypatch.setattr(repair_services, "entity_lock", spy)
    repair_decide(
        actor=world.committee, application=application, grant=True, reason="Done."
    )
    # locked while the application was still pending, before anything moved
    assert locked == [(world.entity.pk, RepairApplication.State.PENDING)]
