from datetime import UTC, datetime
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from marketplace.models import Agent, AgentVersion, Organization
from tests.marketplace.factories import (
    AgentVersionFactory,
    DomainFactory,
    OrganizationFactory,
)

pytestmark = pytest.mark.django_db

State = AgentVersion.State


def _published(publisher: Organization, **agent: Any) -> Agent:
    version = AgentVersionFactory.create(
        state=State.PUBLISHED,
        agent__publisher=publisher,
        **{f"agent__{key}": value for key, value in agent.items()},
    )
    return version.agent


def test_the_profile_shows_who_the_publisher_is_and_its_listed_agents(
    client: Client,
) -> None:
    # given
    publisher = OrganizationFactory.create(
        name="Wei Labs",
        slug="wei-labs",
        description="We build travel agents.",
        website="https://wei.example",
        verified_at=datetime(2026, 3, 1, tzinfo=UTC),
        domain="wei.example",
        domain_verified_at=datetime(2026, 3, 2, tzinfo=UTC),
        credit_grade="AA",
    )
    finance = DomainFactory.create(code="finance", name_en="Finance", name_zh="金融")
    listed = _published(
        publisher,
        name="Trip planner",
        summary="Plans trips and books hotels",
        domain=finance,
        rating_mean=4.5,
        rating_count=12,
        install_count=345,
    )
    AgentVersionFactory.create(agent__publisher=publisher, agent__name="Draft only")
    _published(publisher, name="Quarantined one", status=Agent.Status.QUARANTINED)
    _published(OrganizationFactory.create(), name="Someone else's")

    # when
    response = client.get(reverse("publisher-detail", args=["wei-labs"]))

    # then
    assert response.status_code == 200
    assert [agent.pk for agent in response.context["page"]] == [listed.pk]
    html = response.content.decode()
    for text in (
        "Wei Labs",
        "We build travel agents.",
        'href="https://wei.example"',
        "Verified by the operator",
        "Controls the domain wei.example",
        "<strong>AA</strong>",
        "Trip planner",
        "Plans trips and books hotels",
        "Finance",
        "4.5 / 5 (12 ratings)",
        "345",
        reverse("agent-detail", args=["wei-labs", listed.slug]),
    ):
        assert text in html, text
    for text in ("Draft only", "Quarantined one", "Someone else's", "Not rated"):
        assert text not in html, text


def test_an_unverified_unrated_publisher_says_so(client: Client) -> None:
    # given
    publisher = OrganizationFactory.create(domain="pending.example")

    # when
    html = client.get(
        reverse("publisher-detail", args=[publisher.slug])
    ).content.decode()

    # then
    assert "Not verified by the operator" in html
    assert "Not rated yet" in html
    assert "Controls the domain" not in html  # claimed, not proved
    assert "No agents listed yet." in html


@pytest.mark.parametrize(
    "kind",
    [
        Organization.Kind.CERTIFICATION_BODY,
        Organization.Kind.INDUSTRY_BODY,
        Organization.Kind.REGULATOR,
        Organization.Kind.OPERATOR,
    ],
)
def test_organisations_that_are_not_publishers_have_no_profile(
    client: Client, kind: str
) -> None:
    organization = OrganizationFactory.create(kind=kind)
    url = reverse("publisher-detail", args=[organization.slug])
    assert client.get(url).status_code == 404


def test_an_unknown_publisher_is_a_404(client: Client) -> None:
    assert client.get(reverse("publisher-detail", args=["nobody"])).status_code == 404


def test_agents_come_20_a_page(client: Client) -> None:
    # given
    publisher = OrganizationFactory.create()
    for number in range(23):
        _published(publisher, name=f"Agent {number:02d}")
    url = reverse("publisher-detail", args=[publisher.slug])

    # when
    first = client.get(url)
    second = client.get(url, {"page": 2})
    beyond = client.get(url, {"page": "not-a-number"})

    # then
    assert [a.name for a in first.context["page"]] == [
        f"Agent {n:02d}" for n in range(20)
    ]
    assert [a.name for a in second.context["page"]] == [
        "Agent 20",
        "Agent 21",
        "Agent 22",
    ]
    assert beyond.status_code == 200
    assert beyond.context["page"].number == 1
    assert "?page=2" in first.content.decode()


def test_the_profile_runs_a_constant_number_of_queries(
    client: Client, django_assert_num_queries: Any
) -> None:
    publisher = OrganizationFactory.create()
    url = reverse("publisher-detail", args=[publisher.slug])
    for total in (1, 20):
        while Agent.objects.filter(publisher=publisher).count() < total:
            _published(publisher, domain=DomainFactory.create(code=f"d{total}"))
        # the organisation, the count of its agents, one page of agents
        with django_assert_num_queries(3):
            response = client.get(url)
        assert len(response.context["page"]) == total
