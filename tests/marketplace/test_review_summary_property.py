"""The rating summary kept incrementally equals a recount from the reviews, whatever
sequence of writes, edits, hides and restores led to it."""

import contextlib
from dataclasses import dataclass

import pytest
from django.conf import settings
from django.core.cache import cache
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from marketplace.exceptions import InvalidTransition
from marketplace.models import Agent, Review, User
from marketplace.services import reviews as review_services
from marketplace.services.reviews import review_hide, review_restore, review_submit
from tests.marketplace.factories import InstallFactory, UserFactory
from tests.marketplace.test_reviews import listed_agent, moderator

pytestmark = pytest.mark.django_db

USERS = 4
AGENTS = 2
SUMMARY_FIELDS = ["rating_count", *(f"rating_{stars}" for stars in range(1, 6))]


@dataclass
class World:
    agents: list[Agent]
    users: list[User]
    moderator: User


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> World:
    # The sequences write faster than any person: the rate limit is not under test.
    monkeypatch.setattr(review_services, "REVIEW_RATE", (10_000, 3600))
    agents = [listed_agent() for _ in range(AGENTS)]
    users = UserFactory.create_batch(USERS)
    for agent in agents:
        for user in users:
            InstallFactory.create(user=user, agent=agent)
    return World(agents=agents, users=users, moderator=moderator())


write_op = st.tuples(
    st.just("write"),
    st.integers(0, USERS - 1),
    st.integers(0, AGENTS - 1),
    st.integers(1, 5),
)
moderate_op = st.tuples(
    st.sampled_from(["hide", "restore"]),
    st.integers(0, USERS - 1),
    st.integers(0, AGENTS - 1),
    st.just(0),
)
operations = st.lists(st.one_of(write_op, moderate_op), min_size=1, max_size=25)


def _recount(agent: Agent) -> dict[str, object]:
    stars = list(
        Review.objects.filter(agent=agent, state=Review.State.VISIBLE).values_list(
            "stars", flat=True
        )
    )
    count, total = len(stars), sum(stars)
    weight, prior = settings.REVIEW_PRIOR_WEIGHT, settings.REVIEW_PRIOR_MEAN
    return {
        "rating_count": count,
        **{f"rating_{s}": stars.count(s) for s in range(1, 6)},
        "rating_mean": total / count if count else None,
        # Unrated agents score 0, below every rated one.
        "rating_score": (weight * prior + total) / (weight + count) if count else 0.0,
    }


@hypothesis_settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(steps=operations)
def test_the_summary_equals_a_recount_after_any_sequence(
    world: World, steps: list[tuple[str, int, int, int]]
) -> None:
    # given: no reviews (examples share the test's transaction), no rate counts
    Review.objects.all().delete()
    Agent.objects.filter(pk__in=[a.pk for a in world.agents]).update(
        rating_count=0,
        rating_1=0,
        rating_2=0,
        rating_3=0,
        rating_4=0,
        rating_5=0,
        rating_mean=None,
        rating_score=0,
    )
    cache.clear()
    # when
    for action, user_index, agent_index, stars in steps:
        user, agent = world.users[user_index], world.agents[agent_index]
        if action == "write":
            review_submit(
                user=user, agent=agent, stars=stars, title="Title", body=f"{stars}"
            )
            continue
        review = Review.objects.filter(user=user, agent=agent).first()
        if review is None:
            continue
        move = review_hide if action == "hide" else review_restore
        # Already in that state: the table refuses, and nothing changes.
        with contextlib.suppress(InvalidTransition):
            move(actor=world.moderator, review=review, reason="Checked")
    # then
    for agent in world.agents:
        agent.refresh_from_db()
        expected = _recount(agent)
        kept = {field: getattr(agent, field) for field in SUMMARY_FIELDS}
        assert kept == {field: expected[field] for field in SUMMARY_FIELDS}
        if expected["rating_mean"] is None:
            assert agent.rating_mean is None
        else:
            assert agent.rating_mean == pytest.approx(expected["rating_mean"])
        assert agent.rating_score == pytest.approx(expected["rating_score"])
