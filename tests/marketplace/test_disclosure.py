"""Disclosure completeness of a listing: the checklist (marketplace/disclosure.py),
the console page that shows it to the publisher, and its API."""

from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import override
from rest_framework.test import APIClient

from marketplace.disclosure import (
    Disclosure,
    ListingFacts,
    agent_disclosure,
    disclosure_items,
    pricing_problems,
)
from marketplace.models import Agent, AgentVersion, Domain, Membership, Organization
from marketplace.pricing import mentions_price
from tests.marketplace.factories import (
    AgentFactory,
    AgentVersionFactory,
    DomainFactory,
    MembershipFactory,
    OrganizationFactory,
    UserFactory,
    declaration,
)

pytestmark = pytest.mark.django_db

State = AgentVersion.State

FREE = {"model": "free", "inAppPurchases": {"offered": False}}
SAFEGUARDS = {
    "companion": True,
    "usageReminderMinutes": 30,
    "sessionLimitMinutes": 120,
    "humanHelp": "Call 400-000-0000 for a counsellor.",
    "neverClaimsHuman": True,
}


def _complete(**fields: Any) -> Agent:
    """A listing that discloses everything, with a published version."""
    publisher = OrganizationFactory.create(verified_at=timezone.now())
    agent = AgentFactory.create(
        publisher=publisher,
        homepage="https://agent.example.com/",
        description="Drafts replies to customer e-mails; never sends on its own.",
        **fields,
    )
    AgentVersionFactory.create(agent=agent, state=State.PUBLISHED)
    agent.refresh_from_db()
    return agent


def _facts(**overrides: Any) -> ListingFacts:
    values: dict[str, Any] = {
        "privacy_policy_url": "https://example.com/privacy",
        "terms_url": "https://example.com/terms",
        "homepage": "https://example.com/",
        "description": "Drafts replies.",
        "publisher_verified": True,
        "declaration": declaration(),
    }
    values.update(overrides)
    return ListingFacts(**values)


def _by_key(result: Disclosure) -> dict[str, Any]:
    return {item.key: item for item in result.items}


def _undone(result: Disclosure) -> list[str]:
    return [item.key for item in result.items if item.applies and not item.done]


# The checklist


def test_a_complete_listing_has_every_applicable_item_done() -> None:
    # given
    agent = _complete()

    # when
    result = agent_disclosure(agent=agent)

    # then
    items = _by_key(result)
    assert list(items) == [
        "privacy_policy",
        "terms",
        "homepage",
        "description",
        "pricing_declared",
        "pricing_consistent",
        "filing_number",
        "anti_addiction",
        "companion_safeguards",
        "ai_bill_of_materials",
        "publisher_verified",
    ]
    # an 18+ office agent that is no companion: three items do not apply
    assert [key for key, item in items.items() if not item.applies] == [
        "filing_number",
        "anti_addiction",
        "companion_safeguards",
    ]
    assert (result.done, result.applicable) == (8, 8)
    assert result.share == Decimal("1")
    assert result.percent == 100
    assert all(item.hint == "" for item in result.items)
    assert result.version == agent.latest_version.version  # type: ignore[union-attr]


def test_pricing_stored_before_the_rules_held_is_inconsistent() -> None:
    # given: a version stored before the pricing rules held (a new one declaring a
    # free agent whose trial turns into a paid plan is refused when submitted)
    agent = _complete()
    AgentVersion.objects.filter(agent=agent, state=State.PUBLISHED).update(
        declaration=declaration(
            pricing={**FREE, "freeTrial": {"days": 14, "afterTrial": "converts"}}
        )
    )
    agent.refresh_from_db()

    # when
    result = agent_disclosure(agent=agent)

    # then
    item = _by_key(result)["pricing_consistent"]
    assert (item.applies, item.present, item.consistent) == (True, True, False)
    assert _undone(result) == ["pricing_consistent"]
    assert result.share == Decimal("0.875")  # 7 of 8
    assert "breaks the rules new versions are held to" in item.hint


def test_pricing_problems_are_the_rules_broken_and_prices_in_a_free_listing() -> None:
    # a free agent whose description sells something
    assert pricing_problems(_facts(description="Unlock the full report for ¥30.")) == [
        "prices_in_texts"
    ]
    # ... or whose skills do
    skills = [
        {
            "id": "report",
            "name": "Full report",
            "description": "Costs 30元 per report.",
        }
    ]
    assert pricing_problems(_facts(declaration=declaration(skills=skills))) == [
        "prices_in_texts"
    ]
    # the same text is fine for an agent that declares its purchases, or is paid
    purchases = {
        "model": "free",
        "currency": "CNY",
        "inAppPurchases": {"offered": True, "minPrice": "6", "maxPrice": "30"},
    }
    monthly = {
        "model": "subscription",
        "currency": "CNY",
        "price": "30",
        "period": "month",
        "inAppPurchases": {"offered": False},
    }
    for pricing in (purchases, monthly):
        assert (
            pricing_problems(
                _facts(
                    description="Unlock the full report for ¥30.",
                    declaration=declaration(pricing=pricing),
                )
            )
            == []
        )
    # a pricing stored before the rules held breaks them, whatever its texts say
    assert pricing_problems(
        _facts(declaration=declaration(pricing={**FREE, "price": "9.90"}))
    ) == ["breaks_pricing_rules"]
    # and no pricing at all is "not declared", not inconsistent
    assert pricing_problems(_facts(declaration=declaration(pricing=None))) == []


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("Costs ¥30 a month", True),
        ("每月 30元", True),
        ("only $4.99", True),
        ("USD 10 per report", True),
        ("10 RMB each", True),
        ("0元体验，永久免费", False),
        ("$0, free forever", False),
        ("Saves 30 minutes a day", False),
        ("Version 2.0 of the USD converter", False),
    ],
)
def test_mentions_price(text: str, found: bool) -> None:
    assert mentions_price(text) is found


def test_a_companion_without_safeguards_misses_them() -> None:
    # given: a companion agent that declares only one safeguard
    facts = _facts(
        declaration=declaration(
            wellbeing={"companion": True, "usageReminderMinutes": 30}
        )
    )

    # when
    items = {item.key: item for item in disclosure_items(facts)}

    # then
    item = items["companion_safeguards"]
    assert (item.applies, item.present, item.done) == (True, False, False)
    assert item.hint == (
        "A companion or emotional-support agent declares its safeguards against "
        "dependence; missing: a session limit, a way to reach human help, a "
        "commitment never to claim to be human."
    )
    # with every safeguard, it is done
    full = _facts(declaration=declaration(wellbeing=SAFEGUARDS))
    done = {item.key: item for item in disclosure_items(full)}
    assert done["companion_safeguards"].done


def test_a_high_tier_listing_without_a_filing_number_misses_it() -> None:
    # given
    health = DomainFactory.create(code="health", risk_tier=Domain.RiskTier.HIGH)
    agent = _complete(domain=health)

    # when
    result = agent_disclosure(agent=agent)

    # then
    item = _by_key(result)["filing_number"]
    assert (item.applies, item.present) == (True, False)
    assert _undone(result) == ["filing_number"]
    assert result.share == Decimal("0.8889")  # 8 of 9
    assert "need a filing number" in item.hint
    # once it has one
    Agent.objects.filter(pk=agent.pk).update(filing_number="京ICP备12345678号")
    agent.refresh_from_db()
    assert agent_disclosure(agent=agent).share == Decimal("1")


def test_minors_need_anti_addiction_measures_and_every_listing_a_model() -> None:
    facts = _facts(
        for_minors=True,
        declaration=declaration(dependencies={"tools": [{"name": "search"}]}),
    )
    items = {item.key: item for item in disclosure_items(facts)}
    assert items["anti_addiction"].applies
    assert not items["anti_addiction"].present
    assert not items["ai_bill_of_materials"].present


def test_the_console_reads_the_newest_version_when_none_is_published() -> None:
    # given: a listing with a draft that declares no pricing, from a publisher
    # not verified
    agent = AgentFactory.create()
    AgentVersionFactory.create(agent=agent, declaration=declaration(pricing=None))
    newest = AgentVersionFactory.create(agent=agent)

    # when
    result = agent_disclosure(agent=agent)

    # then
    assert (result.version, result.version_state) == (newest.version, State.DRAFT)
    assert "pricing_declared" not in _undone(result)
    # and without any version, the version's items are missing
    bare = agent_disclosure(agent=AgentFactory.create())
    assert bare.version is None
    assert {"pricing_declared", "ai_bill_of_materials"} <= set(_undone(bare))
    assert "Add a version" in _by_key(bare)["pricing_declared"].hint


def test_hints_are_read_in_the_readers_language() -> None:
    item = _by_key(agent_disclosure(agent=AgentFactory.create()))["homepage"]
    with override("en"):
        english = item.hint
    assert english == "Add the agent's homepage to the listing."
    assert item.label_id == "Homepage"


# The console


def _console(agent: Agent) -> str:
    return reverse("console-agent", args=[agent.publisher.slug, agent.slug])


def test_the_console_shows_the_checklist_to_members(client: Client) -> None:
    # given: a companion listing without safeguards
    agent = _complete()
    AgentVersion.objects.filter(agent=agent, state=State.PUBLISHED).update(
        declaration=declaration(wellbeing={"companion": True})
    )
    member = MembershipFactory.create(organization=agent.publisher)
    client.force_login(member.user)

    # when
    response = client.get(_console(agent))

    # then
    html = response.content.decode()
    assert response.status_code == 200
    assert 'id="disclosure-heading"' in html
    assert "8 of 9 items complete (89%)." in html
    assert "✗</span> Companion safeguards: missing" in html
    assert "✓</span> Privacy policy: complete" in html
    assert "Filing number: does not apply" in html
    assert "missing: usage reminders, a session limit" in html


def test_the_console_does_not_show_the_checklist_to_others(client: Client) -> None:
    # given
    agent = _complete()
    client.force_login(UserFactory.create())

    # when
    response = client.get(_console(agent))

    # then
    assert response.status_code == 403
    assert "disclosure-heading" not in response.content.decode()


# The API


@pytest.fixture
def api() -> APIClient:
    return APIClient(HTTP_ACCEPT_LANGUAGE="en")


def _api_url(agent: Agent) -> str:
    return reverse("api-agent-disclosure", args=[agent.publisher.slug, agent.slug])


def test_a_member_reads_the_checklist_through_the_api(api: APIClient) -> None:
    # given
    agent = _complete()
    api.force_authenticate(MembershipFactory.create(organization=agent.publisher).user)

    # when
    response = api.get(_api_url(agent))

    # then
    assert response.status_code == 200
    body = response.json()
    assert (body["done"], body["applicable"], body["share"]) == (8, 8, "1.0000")
    assert body["version_state"] == "published"
    first = body["items"][0]
    assert first == {
        "key": "privacy_policy",
        "label": "Privacy policy",
        "applies": True,
        "present": True,
        "consistent": True,
        "done": True,
        "hint": "",
    }


def test_the_operator_reads_the_checklist_of_a_draft_listing(api: APIClient) -> None:
    # given: a listing with only a draft, which the public cannot see
    agent = AgentVersionFactory.create().agent
    operator = OrganizationFactory.create(kind=Organization.Kind.OPERATOR)
    reviewer = MembershipFactory.create(
        organization=operator, role=Membership.Role.REVIEWER
    )
    api.force_authenticate(reviewer.user)

    # when
    response = api.get(_api_url(agent))

    # then
    assert response.status_code == 200
    assert response.json()["version_state"] == "draft"


def test_the_api_refuses_others(api: APIClient) -> None:
    # given
    agent = _complete()
    draft_only = AgentVersionFactory.create().agent

    # then: not signed in
    assert api.get(_api_url(agent)).status_code in (401, 403)
    # a user outside the publisher: 403 for a listed agent
    api.force_authenticate(UserFactory.create())
    response = api.get(_api_url(agent))
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"
    # a member of another publisher likewise
    api.force_authenticate(MembershipFactory.create().user)
    assert api.get(_api_url(agent)).status_code == 403
    # an unknown agent, and one the caller cannot see at all: 404
    unknown = reverse("api-agent-disclosure", args=[agent.publisher.slug, "nobody"])
    assert api.get(unknown).status_code == 404
    assert api.get(_api_url(draft_only)).status_code == 404
