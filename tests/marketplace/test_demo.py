from collections import Counter, defaultdict

import pytest
from django.db.models import Model

from marketplace import demo
from marketplace.demo import load_catalogue
from marketplace.domains import STANDARD_DOMAINS
from marketplace.models import (
    Agent,
    AgentEvent,
    AgentVersion,
    CheckResult,
    Domain,
    Membership,
    Organization,
    OrganizationEvent,
    ReviewDecision,
    User,
)
from tests.marketplace.factories import (
    MembershipFactory,
    OrganizationFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


def _owner_and_reviewer() -> tuple[User, User]:
    operator = OrganizationFactory.create(kind=Organization.Kind.OPERATOR)
    reviewer = MembershipFactory.create(
        organization=operator, role=Membership.Role.REVIEWER
    )
    return UserFactory.create(), reviewer.user


def _row_counts() -> dict[str, int]:
    models: list[type[Model]] = [
        Organization,
        OrganizationEvent,
        Membership,
        Agent,
        AgentVersion,
        AgentEvent,
        CheckResult,
        ReviewDecision,
    ]
    return {model.__name__: model._default_manager.count() for model in models}


def test_the_demo_store_is_a_believable_store() -> None:
    # given
    owner, reviewer = _owner_and_reviewer()

    # when
    created = load_catalogue(owner=owner, reviewer=reviewer)

    # then dozens of publishers and hundreds of agents in every standard domain
    publishers = Organization.objects.filter(
        kind=Organization.Kind.PUBLISHER, memberships__user=owner
    )
    assert publishers.count() >= 30
    listed = Agent.objects.filter(latest_version__state=AgentVersion.State.PUBLISHED)
    assert created == listed.count() >= 300
    assert set(listed.values_list("domain__code", flat=True)) == {
        code for code, *_ in STANDARD_DOMAINS
    }
    # ... every one through the checks and a reviewer's approval
    assert (
        ReviewDecision.objects.filter(reviewer=reviewer, verdict="approve").count()
        == created
    )
    # ... varied: a generic kind (a mail assistant) at a few publishers, never at
    # most of them, and no two publishers with the same list
    names = Counter(listed.values_list("name", flat=True))
    assert len(names) >= 45
    assert max(names.values()) <= 4
    agents_by_publisher: dict[str, set[str]] = defaultdict(set)
    for publisher, slug in listed.values_list("publisher__slug", "slug"):
        agents_by_publisher[publisher].add(slug)
    assert len({frozenset(slugs) for slugs in agents_by_publisher.values()}) == len(
        agents_by_publisher
    )
    # ... fitting their publisher's speciality
    health = listed.filter(publisher__slug="jiangnan-health")
    assert set(health.values_list("domain__code", flat=True)) <= {
        "medical",
        "lifestyle",
    }
    # ... with a filing number wherever the domain needs one
    high = listed.filter(domain__risk_tier=Domain.RiskTier.HIGH)
    assert high.count() >= 50
    assert not high.filter(filing_number="").exists()
    assert not listed.filter(domain__needs_filing=True, filing_number="").exists()
    assert health.get(slug="symptom-guide").filing_number.startswith("浙ICP备")
    # ... and some for minors, with anti-addiction measures
    for_minors = listed.exclude(age_rating=Agent.AgeRating.AGE_18)
    assert set(for_minors.values_list("age_rating", flat=True)) == {
        Agent.AgeRating.ALL,
        Agent.AgeRating.AGE_12,
        Agent.AgeRating.AGE_16,
    }
    assert not for_minors.filter(anti_addiction_measures="").exists()
    adults_only = listed.filter(age_rating=Agent.AgeRating.AGE_18)
    assert adults_only.count() > for_minors.count()
    assert not adults_only.exclude(anti_addiction_measures="").exists()


def test_loading_the_demo_store_again_creates_nothing() -> None:
    # given
    owner, reviewer = _owner_and_reviewer()
    load_catalogue(owner=owner, reviewer=reviewer, agents_per_publisher=2)
    before = _row_counts()

    # when
    created = load_catalogue(owner=owner, reviewer=reviewer, agents_per_publisher=2)

    # then
    assert created == 0
    assert _row_counts() == before
    assert before["Agent"] == 2 * len(demo.PUBLISHERS)


def test_the_demo_store_leaves_someone_elses_organisation_alone() -> None:
    # given
    owner, reviewer = _owner_and_reviewer()
    theirs = OrganizationFactory.create(slug="mingde-ai", name="Not Mingde")

    # when
    load_catalogue(owner=owner, reviewer=reviewer, agents_per_publisher=1)

    # then
    assert not theirs.agents.exists()
    assert Agent.objects.count() == len(demo.PUBLISHERS) - 1


def test_every_demo_publisher_gets_the_agents_it_should_list() -> None:
    # given
    templates = [t for line in demo.LINES.values() for t in line]
    domains = {code for code, *_ in STANDARD_DOMAINS}

    # when
    listed = {t.slug for agents in demo.CATALOGUE.values() for t in agents}

    # then
    assert len({t.slug for t in templates}) == len(templates) >= 45
    assert listed == {t.slug for t in templates}  # no template left unused
    for publisher in demo.PUBLISHERS:
        assert len(demo.CATALOGUE[publisher.slug]) == publisher.size
        assert publisher.city in demo.CITIES
    for template in templates:
        assert template.domain in domains
        assert template.scope in demo.SCOPES
