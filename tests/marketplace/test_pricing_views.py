"""Pricing on the pages and in the API: the agent page, the install page before the
consent, the update page, and search by pricing model and IPv6 readiness."""

from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from rest_framework.test import APIClient

from marketplace import tasks
from marketplace.models import Agent, AgentVersion
from marketplace.services import installs as install_services
from tests.marketplace.factories import AgentVersionFactory, declaration
from tests.marketplace.test_pricing import FREE, MONTHLY, SCOPES, adult, priced

pytestmark = pytest.mark.django_db

State = AgentVersion.State

WITH_PURCHASES = priced(
    inAppPurchases={"offered": True, "minPrice": "6", "maxPrice": "68"},
    freeTrial={"days": 7, "afterTrial": "converts"},
)


def _listed(pricing: dict[str, Any] | None, **agent: Any) -> Agent:
    fields = declaration(pricing=pricing)
    if pricing is None:
        del fields["pricing"]
    version = AgentVersionFactory.create(
        state=State.PUBLISHED,
        declaration=fields,
        **{f"agent__{key}": value for key, value in agent.items()},
    )
    return Agent.objects.select_related("publisher").get(pk=version.agent_id)


def _agent_url(agent: Agent, page: str = "agent-detail") -> str:
    return reverse(
        page, kwargs={"publisher": agent.publisher.slug, "agent": agent.slug}
    )


# --- Pages ---------------------------------------------------------------------------


def test_the_agent_page_shows_the_latest_versions_pricing(client: Client) -> None:
    agent = _listed(WITH_PURCHASES)
    page = client.get(_agent_url(agent)).content.decode()
    assert "Subscription: CNY 19.90 per month" in page
    assert "In-agent purchases: CNY 6.00 – 68.00" in page
    assert "Free trial: 7 days, then the subscription starts by itself" in page


def test_a_version_without_pricing_says_so(client: Client) -> None:
    agent = _listed(None)
    page = client.get(_agent_url(agent)).content.decode()
    assert "Pricing not declared" in page


def test_the_install_page_shows_the_pricing_before_the_consent(client: Client) -> None:
    # given
    agent = _listed(MONTHLY)
    client.force_login(adult())
    # when
    page = client.get(_agent_url(agent, "agent-install")).content.decode()
    # then: the pricing comes before the button that gives the consent
    assert "Subscription: CNY 19.90 per month" in page
    assert page.index("CNY 19.90 per month") < page.index("Install and grant")


def test_the_update_page_shows_both_pricings_and_what_got_worse(
    client: Client,
) -> None:
    # given: an install of a free version, and a subscription version published
    agent = _listed(FREE)
    user = adult()
    install = install_services.install_create(
        user=user, agent=agent, granted_scopes=SCOPES
    ).install
    newer = AgentVersionFactory.create(
        agent=agent, state=State.PUBLISHED, declaration=declaration(pricing=MONTHLY)
    )
    tasks.installs_follow_version(version_id=newer.pk)
    client.force_login(user)
    # when
    page = client.get(
        reverse("install-update", kwargs={"public_id": install.public_id})
    ).content.decode()
    # then
    assert "It is no longer free: CNY 19.90 per month." in page
    assert "Free" in page
    assert "Subscription: CNY 19.90 per month" in page
    assert "you stay on version" in page
    # static text, not an alert that screen readers announce
    section = page[page.index('class="pricing-change') :]
    section = section[: section.index("</section>")]
    assert 'role="alert"' not in section


def _install_with_pricier_version() -> tuple[Any, AgentVersion]:
    """An adult's install of a free version, and a subscription version published
    after it (the install waits for consent)."""
    agent = _listed(FREE)
    user = adult()
    install = install_services.install_create(
        user=user, agent=agent, granted_scopes=SCOPES
    ).install
    newer = AgentVersionFactory.create(
        agent=agent, state=State.PUBLISHED, declaration=declaration(pricing=MONTHLY)
    )
    tasks.installs_follow_version(version_id=newer.pk)
    install.refresh_from_db()
    assert install.version_id != newer.pk
    return install, newer


def test_the_api_refuses_a_consent_to_worse_pricing_without_the_digest() -> None:
    # given
    install, newer = _install_with_pricier_version()
    api = APIClient()
    api.force_authenticate(install.user)
    url = f"/api/v1/installs/{install.public_id}/consent/"
    # when: the client sends no digest (it may not have shown the new pricing)
    response = api.post(url, {"scopes": SCOPES}, format="json")
    # then
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "pricing_not_shown"
    assert "declaration_digest" in error["details"]
    assert newer.version in error["message"]
    install.refresh_from_db()
    assert install.version_id != newer.pk
    # when: it sends the digest of the version whose pricing it showed
    response = api.post(
        url,
        {"scopes": SCOPES, "declaration_digest": newer.declaration_digest},
        format="json",
    )
    # then
    assert response.status_code == 200, response.content
    install.refresh_from_db()
    assert install.version_id == newer.pk


def test_the_api_takes_a_consent_without_digest_when_pricing_is_not_worse() -> None:
    # given: a free install and a newer free version with the same scopes
    agent = _listed(FREE)
    user = adult()
    install = install_services.install_create(
        user=user, agent=agent, granted_scopes=SCOPES
    ).install
    newer = AgentVersionFactory.create(
        agent=agent, state=State.PUBLISHED, declaration=declaration(pricing=FREE)
    )
    api = APIClient()
    api.force_authenticate(user)
    # when
    response = api.post(
        f"/api/v1/installs/{install.public_id}/consent/",
        {"scopes": SCOPES},
        format="json",
    )
    # then
    assert response.status_code == 200, response.content
    install.refresh_from_db()
    assert install.version_id == newer.pk


# --- Search --------------------------------------------------------------------------


def test_the_search_page_filters_by_pricing_model_and_ipv6(client: Client) -> None:
    # given
    free = _listed(FREE, name="Free one")
    monthly = _listed(MONTHLY, name="Monthly one")
    _listed(priced(model="one_time", period=None, price="68"), name="Once")
    Agent.objects.filter(pk=free.pk).update(ipv6_ready=True)
    search = reverse("agent-search")

    def names(**query: Any) -> list[str]:
        response = client.get(search, query)
        assert response.status_code == 200
        return sorted(agent.name for agent in response.context["page"])

    # then
    assert names(pricing="subscription") == ["Monthly one"]
    assert names(pricing=["free", "subscription"]) == ["Free one", "Monthly one"]
    assert names(ipv6="on") == ["Free one"]
    assert names(ipv6="on", pricing="subscription") == []
    # the card shows the pricing and the IPv6 mark
    page = client.get(search).content.decode()
    assert "CNY 19.90 per month" in page
    assert "IPv6 ready" in page
    # one pricing filter: checkboxes, each counting its model beside those ticked
    response = client.get(search, {"pricing": ["free", "usage"]})
    choices = {
        c.value: (c.count, c.checked) for c in response.context["pricing_choices"]
    }
    assert choices == {
        "free": (1, True),
        "one_time": (1, False),
        "subscription": (1, False),
        "usage": (0, True),
    }
    assert "Pricing" not in dict(response.context["facets"])
    page = response.content.decode()
    assert page.count('name="pricing"') == 4
    assert page.count('name="pricing" value="free" id="id_pricing_0" checked') == 1
    assert 'value="usage" id="id_pricing_3" checked' in page
    assert 'value="subscription" id="id_pricing_2">' in page
    assert monthly.pricing_model == "subscription"


def test_a_pricing_the_search_page_does_not_know_is_an_error_not_a_crash(
    client: Client,
) -> None:
    # given
    _listed(FREE, name="Free one")
    _listed(MONTHLY, name="Monthly one")
    # when
    response = client.get(reverse("agent-search"), {"pricing": "lifetime"})
    # then: the filter is left out and the form says why
    assert response.status_code == 200
    assert response.context["form"].errors["pricing"]
    assert len(response.context["page"]) == 2
    assert 'role="alert"' in response.content.decode()


def test_the_search_page_with_pricing_keeps_a_constant_number_of_queries(
    client: Client,
) -> None:
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            response = client.get(
                reverse("agent-search"), {"pricing": ["free", "subscription"]}
            )
        assert response.status_code == 200
        return len(captured)

    _listed(FREE)
    few = queries()
    for _ in range(4):
        _listed(MONTHLY)
    assert queries() == few


def test_the_api_filters_by_pricing_and_ipv6_and_shows_them() -> None:
    # given
    free = _listed(FREE, name="Free one")
    _listed(MONTHLY, name="Monthly one")
    Agent.objects.filter(pk=free.pk).update(ipv6_ready=True)
    api = APIClient()

    def names(query: str) -> list[str]:
        response = api.get(f"/api/v1/agents/?{query}")
        assert response.status_code == 200, response.content
        return sorted(row["name"] for row in response.json()["results"])

    # then
    assert names("pricing=subscription") == ["Monthly one"]
    assert names("pricing=free&pricing=subscription") == ["Free one", "Monthly one"]
    assert names("ipv6=true") == ["Free one"]
    rows = {row["name"]: row for row in api.get("/api/v1/agents/").json()["results"]}
    assert rows["Monthly one"]["pricing_model"] == "subscription"
    assert rows["Free one"]["ipv6_ready"] is True
    # ... and the version carries its pricing
    versions = api.get(
        f"/api/v1/agents/{free.publisher.slug}/{free.slug}/versions/"
    ).json()["results"]
    assert versions[0]["pricing"] == FREE


def test_the_api_refuses_a_pricing_it_does_not_know() -> None:
    api = APIClient()
    response = api.get("/api/v1/agents/?pricing=lifetime")
    assert response.status_code == 400
    assert "pricing" in str(response.json())
    assert api.get("/api/v1/agents/?ipv6=maybe").status_code == 400


def test_a_version_without_pricing_has_none_in_the_api() -> None:
    agent = _listed(None)
    versions = (
        APIClient()
        .get(f"/api/v1/agents/{agent.publisher.slug}/{agent.slug}/versions/")
        .json()["results"]
    )
    assert versions[0]["pricing"] is None
