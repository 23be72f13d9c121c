"""A body, its methodology, enrolled publishers and a published rating: the world
the findings and surveillance tests start from."""

from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.utils import timezone

from marketplace.models import Membership, Organization, User
from ratings.models import MisconductReport, Rating, RatingCycle, Watch
from ratings.services.cycles import cycle_create
from ratings.services.decisions import rating_publish
from tests.marketplace.factories import MembershipFactory, UserFactory
from tests.ratings.factories import MisconductReportFactory
from tests.ratings.test_cycles import _body, _enrol, _evidence, _methodology, _run

Role = Membership.Role


@dataclass
class World:
    body: Organization
    analyst: User
    owner_of_body: User
    committee: User
    entities: list[Organization]
    entity_owner: User
    entity_admin: User
    entity_member: User
    ratings: list[Rating]

    @property
    def entity(self) -> Organization:
        return self.entities[0]

    @property
    def rating(self) -> Rating:
        return self.ratings[0]


def member(organization: Organization, role: str) -> User:
    user = UserFactory.create()
    MembershipFactory.create(user=user, organization=organization, role=role)
    return user


def publish_as(rating: Rating, grade: str, outlook: str = "stable") -> Rating:
    """Publish a computed rating with ``grade`` (its notice window closed)."""
    Rating.objects.filter(pk=rating.pk).update(
        state=Rating.State.NOTICE,
        grade=grade,
        computed_grade=grade,
        provisional=False,
        outlook=outlook,
        objection_deadline=timezone.now() - timedelta(minutes=1),
    )
    rating.refresh_from_db()
    return rating_publish(rating=rating)


def publish_watch_cycle(watch: Watch, grade: str, outlook: str = "stable") -> Rating:
    """Run the watch cycle the watch started and publish its rating of the
    entity with ``grade``: it supersedes the rating under watch."""
    cycle = RatingCycle.objects.filter(
        trigger=RatingCycle.Trigger.WATCH,
        entity=watch.entity,
        methodology__body=watch.body,
    ).latest("pk")
    _run(cycle)
    rating = Rating.objects.get(cycle=cycle, entity=watch.entity)
    return publish_as(rating, grade, outlook)


def build_world(monkeypatch: pytest.MonkeyPatch, prefix: str = "w") -> World:
    """Two publishers enrolled with a body; the first rated and published BBB."""
    monkeypatch.setattr("ratings.evidence.gather", _evidence)
    body, analyst = _body()
    methodology = _methodology(body, analyst)
    entities = _enrol(body, methodology, 2, prefix)
    cycle = _run(cycle_create(actor=analyst, methodology=methodology))
    ratings = list(Rating.objects.filter(cycle=cycle).order_by("entity_id"))
    ratings[0] = publish_as(ratings[0], "BBB")
    return World(
        body=body,
        analyst=analyst,
        owner_of_body=member(body, Role.OWNER),
        committee=member(body, Role.COMMITTEE_MEMBER),
        entities=entities,
        entity_owner=member(entities[0], Role.OWNER),
        entity_admin=member(entities[0], Role.ADMIN),
        entity_member=member(entities[0], Role.MEMBER),
        ratings=ratings,
    )


def report_about(
    entity: Organization, body: Organization | None = None, **fields: object
) -> MisconductReport:
    """A triaged report about ``entity``, assigned to ``body``."""
    return MisconductReportFactory.create(
        publisher=entity,
        body=body,
        state=MisconductReport.State.TRIAGED,
        **fields,
    )
