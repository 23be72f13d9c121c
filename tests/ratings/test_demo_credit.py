"""The demo credit rating (``ratings/demo.py``): two cycles walked through the
decision services, grades across the scale, the exceptions the demo promises
(a notice open, an objection, a provisional grade, a sanction, a repair
application), and nothing loaded twice."""

from collections import Counter

import pytest
from django.db.models import Model
from django.utils import timezone

from marketplace.demo import load_catalogue
from marketplace.models import Membership, Organization, User
from ratings import demo
from ratings.models import (
    CommitteeVote,
    CreditEvent,
    Enrolment,
    Finding,
    Objection,
    Rating,
    RatingCycle,
    RepairApplication,
    Sanction,
    Watch,
)
from tests.marketplace.factories import (
    MembershipFactory,
    OrganizationFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

Role = Membership.Role
State = Rating.State
PASSWORD = "demo-pass-2026"  # the published demo password


def _demo_store() -> None:
    """The demo people and organisations the command makes before the credit
    part, and one agent per demo publisher."""
    users = {
        name: UserFactory.create(username=name)
        for name in ("operator", "alice", "rita", "carol", "sam", "hana", "dave")
    }
    operator = OrganizationFactory.create(kind=Organization.Kind.OPERATOR)
    MembershipFactory.create(
        user=users["operator"], organization=operator, role=Role.OWNER
    )
    MembershipFactory.create(
        user=users["rita"], organization=operator, role=Role.REVIEWER
    )
    body = OrganizationFactory.create(
        slug=demo.BODY_SLUG, kind=Organization.Kind.INDUSTRY_BODY
    )
    MembershipFactory.create(user=users["dave"], organization=body, role=Role.OWNER)
    load_catalogue(owner=users["alice"], reviewer=users["rita"], agents_per_publisher=1)


def _current() -> RatingCycle:
    # (the watch opened on modian-content starts a watch cycle of its own)
    return (
        RatingCycle.objects.filter(body__slug=demo.BODY_SLUG)
        .exclude(trigger=RatingCycle.Trigger.WATCH)
        .latest("as_of")
    )


def _check_the_demo_people_hold_their_roles_with_the_demo_password(loaded: int) -> None:
    body = Organization.objects.get(slug=demo.BODY_SLUG)
    roles = dict(
        Membership.objects.filter(organization=body).values_list(
            "user__username", "role"
        )
    )
    assert roles == {username: role for username, _email, role in demo.PEOPLE}
    assert Counter(roles.values()) == {
        Role.OWNER: 1,
        Role.ANALYST: 2,
        Role.COMMITTEE_MEMBER: 4,
    }
    for username in ("frank", "grace", "judy", *demo.CUSTOMERS):
        user = User.objects.get(username=username)
        assert user.check_password(PASSWORD), username
        assert user.email_verified


def _check_the_current_cycle_spans_the_scale_through_the_real_decisions(
    loaded: int,
) -> None:
    cycle = _current()
    ratings = list(
        Rating.objects.filter(cycle=cycle).select_related("entity", "analyst")
    )
    enrolled = Enrolment.objects.filter(
        body=cycle.body, withdrawn_at__isnull=True
    ).count()
    assert loaded == len(ratings) + Rating.objects.exclude(cycle=cycle).count()
    assert len(ratings) == enrolled
    grades = {r.grade for r in ratings}
    assert {"AAA", "AA", "A", "BBB", "C", "D", "NR-P"} <= grades
    by_slug = {r.entity.slug: r for r in ratings}
    assert by_slug["beacon-labs"].grade == "D"
    assert by_slug[demo.NEWCOMER[0]].provisional
    # Each rating went analyst -> committee of three (a chair, not the analyst)
    # -> notice, by the services, which recorded every move.
    now = timezone.now()
    for rating in ratings:
        votes = list(CommitteeVote.objects.filter(rating=rating, round=1))
        assert len(votes) == 3
        chair = CreditEvent.objects.get(
            rating=rating, action="rating_vote", payload__chair=True
        ).actor_id
        assert chair in {v.member_id for v in votes}
        # An objection opens a new round, whose chair is still to come.
        assert rating.chair_id == (None if rating.state == State.OBJECTED else chair)
        assert rating.analyst_id not in {v.member_id for v in votes}
        moves = list(
            CreditEvent.objects.filter(rating=rating, action__startswith="rating_")
            .exclude(action="rating_vote")
            .order_by("pk")
            .values_list("action", flat=True)
        )
        assert moves[:3] == [
            "rating_analyst_reviewed",
            "rating_committee_approved",
            "rating_notice",
        ]
        if rating.state == State.PUBLISHED:
            assert moves[3:] == ["rating_published"]
            assert rating.objection_deadline is not None
            assert rating.published_at is not None
            assert rating.objection_deadline < rating.published_at < now
            assert rating.entity.credit_grade == rating.grade
    states = Counter(r.state for r in ratings)
    assert states == {
        State.PUBLISHED: len(ratings) - 2,
        State.NOTICE: 1,
        State.OBJECTED: 1,
    }
    notice = by_slug[demo.UNDER_NOTICE]
    assert notice.state == State.NOTICE
    assert notice.objection_deadline is not None
    assert notice.objection_deadline > now
    objected = by_slug[demo.OBJECTED]
    assert objected.state == State.OBJECTED
    assert Objection.objects.get(rating=objected).state == Objection.State.OPEN
    slug, by, reason = demo.ADJUSTED
    assert (by_slug[slug].adjustment, by_slug[slug].adjustment_reason) == (by, reason)


def _check_histories_have_two_points_and_findings_pull_grades_down(loaded: int) -> None:
    cycle = _current()
    first = (
        RatingCycle.objects.filter(body=cycle.body, trigger=cycle.trigger)
        .exclude(pk=cycle.pk)
        .get()
    )
    assert first.as_of < cycle.as_of
    earlier = {
        r.entity.slug: r
        for r in Rating.objects.filter(cycle=first).select_related("entity")
    }
    later = {
        r.entity.slug: r
        for r in Rating.objects.filter(cycle=cycle).select_related("entity")
    }
    assert set(later) - set(earlier) == {demo.NEWCOMER[0]}
    for slug, rating in earlier.items():
        expected = (
            State.SUPERSEDED
            if later[slug].state == State.PUBLISHED
            else State.PUBLISHED
        )
        assert rating.state == expected, slug
    found = set(Finding.objects.values_list("entity__slug", flat=True))
    assert found == {slug for slug, *_rest in demo.FINDINGS}
    for slug in found:
        assert later[slug].score < earlier[slug].score, slug


def _check_sanctions_and_a_repair_application_go_through_their_services(
    loaded: int,
) -> None:
    sanctions = {
        (s.entity.slug, s.kind): s
        for s in Sanction.objects.select_related("entity", "rating")
    }
    assert set(sanctions) == {
        ("beacon-labs", "dishonesty_list"),
        ("qingcheng-media", "downrank"),
    }
    assert all(s.rating.state == State.PUBLISHED for s in sanctions.values())
    beacon = Organization.objects.get(slug="beacon-labs")
    qingcheng = Organization.objects.get(slug="qingcheng-media")
    assert beacon.dishonesty_listed
    assert qingcheng.store_downranked
    repair = RepairApplication.objects.get()
    assert repair.sanction == sanctions[("qingcheng-media", "downrank")]
    assert repair.state == RepairApplication.State.PENDING
    watch = Watch.objects.select_related("entity").get()
    assert (watch.entity.slug, watch.reason) == (demo.WATCHED[0], "analyst")
    assert watch.entity.credit_on_watch


def _row_counts() -> dict[str, int]:
    models: list[type[Model]] = [
        User,
        Membership,
        Enrolment,
        RatingCycle,
        Rating,
        CommitteeVote,
        CreditEvent,
        Finding,
        Sanction,
        RepairApplication,
    ]
    return {model.__name__: model._default_manager.count() for model in models}


def test_the_demo_credit_rating_is_walked_through_the_services_once() -> None:
    """One load (the demo store takes a while to make), every promise checked."""
    # given
    _demo_store()
    # when
    loaded = demo.load_credit(password=PASSWORD)
    # then
    _check_the_demo_people_hold_their_roles_with_the_demo_password(loaded)
    _check_the_current_cycle_spans_the_scale_through_the_real_decisions(loaded)
    _check_histories_have_two_points_and_findings_pull_grades_down(loaded)
    _check_sanctions_and_a_repair_application_go_through_their_services(loaded)
    # and loading again changes nothing
    before = _row_counts()
    assert demo.load_credit(password=PASSWORD) == 0
    assert _row_counts() == before
