from io import StringIO

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db.models import F
from django.test import Client
from django.urls import reverse

from marketplace.models import Agent, AgentEvent
from marketplace.services.reviews import (
    agent_rating_recount,
    agent_rating_recount_many,
    review_hide,
)
from tests.marketplace.factories import UserFactory
from tests.marketplace.test_reviews import (
    installer,
    listed_agent,
    moderator,
    summary,
    write,
)

pytestmark = pytest.mark.django_db


def _rated(stars: list[int]) -> Agent:
    agent = listed_agent()
    for given in stars:
        write(agent, installer(agent), stars=given)
    return agent


def test_the_summary_kept_by_the_services_needs_no_recount() -> None:
    # given: reviews written, edited and hidden through the services
    agent = _rated([5, 4, 1])
    author = installer(agent)
    write(agent, author, stars=2)
    write(agent, author, stars=3, title="Better", body="Improved.")
    review_hide(actor=moderator(), review=write(agent, installer(agent)), reason="x")
    kept = summary(agent)
    # when
    fixed = agent_rating_recount(agent_id=agent.pk)
    # then
    assert fixed is False
    assert summary(agent) == kept
    assert not AgentEvent.objects.filter(action="rating_recounted").exists()


def test_a_recount_mends_the_summary_after_an_account_is_deleted() -> None:
    # given: a 1-star reviewer deletes their account, which takes the review along
    # without the service's delta
    agent = listed_agent()
    write(agent, installer(agent), stars=5)
    write(agent, installer(agent), stars=3)
    leaving = installer(agent)
    write(agent, leaving, stars=1)
    leaving.delete()
    assert summary(agent)[:2] == (3, [1, 0, 1, 0, 1])
    staff = UserFactory.create(is_staff=True)
    # when
    fixed = agent_rating_recount(agent_id=agent.pk, actor=staff)
    # then: what the visible reviews give, with an event saying what was wrong
    weight = settings.REVIEW_PRIOR_WEIGHT
    prior = weight * settings.REVIEW_PRIOR_MEAN
    count, histogram, mean, score = summary(agent)
    assert fixed is True
    assert (count, histogram, mean) == (2, [0, 0, 1, 0, 1], 4.0)
    assert score == pytest.approx((prior + 8) / (weight + 2))
    event = AgentEvent.objects.get(agent=agent, action="rating_recounted")
    assert event.actor == staff
    assert event.payload["before"]["rating_count"] == 3
    assert event.payload["after"]["rating_count"] == 2
    assert event.payload["after"]["rating_1"] == 0


def test_a_recount_of_an_agent_without_visible_reviews_makes_it_unrated() -> None:
    # given: a hidden review only, and a summary set by hand
    agent = listed_agent()
    review_hide(actor=moderator(), review=write(agent, installer(agent)), reason="x")
    Agent.objects.filter(pk=agent.pk).update(
        rating_count=7, rating_5=7, rating_mean=5.0, rating_score=4.2
    )
    # when
    assert agent_rating_recount(agent_id=agent.pk) is True
    # then
    assert summary(agent) == (0, [0, 0, 0, 0, 0], None, 0.0)


def test_the_bulk_recount_mends_only_the_drifted_agents() -> None:
    # given: three agents, two of which drifted
    right, drifted, zeroed = _rated([4]), _rated([2, 5]), _rated([3])
    Agent.objects.filter(pk=drifted.pk).update(rating_count=F("rating_count") + 3)
    Agent.objects.filter(pk=zeroed.pk).update(rating_3=0, rating_count=0)
    # when
    fixed = agent_rating_recount_many(agent_ids=[right.pk, drifted.pk, zeroed.pk])
    # then
    assert fixed == 2
    assert summary(right)[:3] == (1, [0, 0, 0, 1, 0], 4.0)
    assert summary(drifted)[:3] == (2, [0, 1, 0, 0, 1], 3.5)
    assert summary(zeroed)[:3] == (1, [0, 0, 1, 0, 0], 3.0)
    assert set(
        AgentEvent.objects.filter(action="rating_recounted").values_list(
            "agent_id", flat=True
        )
    ) == {drifted.pk, zeroed.pk}
    assert agent_rating_recount_many(agent_ids=[]) == 0


def test_the_recount_command_goes_through_every_agent_in_batches() -> None:
    # given
    agents = [_rated([5, 1]) for _ in range(3)]
    Agent.objects.update(rating_count=9, rating_mean=1.0)
    out = StringIO()
    # when
    call_command("recount_ratings", batch=2, stdout=out)
    # then
    for agent in agents:
        assert summary(agent)[:3] == (2, [1, 0, 0, 0, 1], 3.0)
    lines = out.getvalue().splitlines()
    assert lines[:2] == ["2/3 agents, 2 corrected", "3/3 agents, 3 corrected"]
    assert "3 had a wrong summary" in lines[-1]


def test_staff_recount_selected_agents_from_the_admin(client: Client) -> None:
    # given
    agent, other = _rated([4, 2]), _rated([5])
    Agent.objects.update(rating_count=0, rating_mean=None)
    admin = UserFactory.create(is_staff=True, is_superuser=True)
    client.force_login(admin)
    # when
    response = client.post(
        reverse("admin:marketplace_agent_changelist"),
        {"action": "recount_ratings", "_selected_action": [agent.pk]},
        follow=True,
    )
    # then: only the selected agent
    assert response.status_code == 200
    assert "1 agents recounted; 1 had a wrong summary." in response.content.decode()
    assert summary(agent)[:3] == (2, [0, 1, 0, 1, 0], 3.0)
    assert summary(other)[0] == 0
    event = AgentEvent.objects.get(action="rating_recounted")
    assert (event.agent_id, event.actor) == (agent.pk, admin)


def test_the_benchmark_generator_writes_summaries_its_histogram_gives() -> None:
    # when
    call_command(
        "generate_agents", agents=60, batch=100, per_publisher=20, stdout=StringIO()
    )
    # then: the count is the histogram's sum, and the mean and the score are those
    # the reviews service derives from it
    weight = settings.REVIEW_PRIOR_WEIGHT
    prior = weight * settings.REVIEW_PRIOR_MEAN
    agents = list(Agent.objects.filter(publisher__slug__startswith="bench-"))
    assert len(agents) == 60
    rated = [agent for agent in agents if agent.rating_count]
    assert 5 < len(rated) < 60
    for agent in agents:
        histogram = [getattr(agent, f"rating_{stars}") for stars in range(1, 6)]
        total = sum(stars * n for stars, n in zip(range(1, 6), histogram, strict=True))
        assert agent.rating_count == sum(histogram)
        if agent.rating_count:
            assert agent.rating_mean == pytest.approx(total / agent.rating_count)
            assert agent.rating_score == pytest.approx(
                (prior + total) / (weight + agent.rating_count)
            )
        else:
            assert (agent.rating_mean, agent.rating_score) == (None, 0)
    assert len({agent.rating_mean for agent in rated}) > 1
