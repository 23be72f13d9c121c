"""Pricing: the rules beside the schema, what makes a new version's pricing worse,
the words people read, and an update whose pricing is worse waiting for consent."""

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import translation

from marketplace import declarations, tasks
from marketplace.models import (
    Agent,
    AgentVersion,
    ConsentReceipt,
    Install,
    InstallEvent,
    Membership,
    Notification,
    Organization,
    User,
)
from marketplace.pricing import pricing_label, pricing_lines, pricing_worse
from marketplace.services import agents as agent_services
from marketplace.services import installs as install_services
from marketplace.services import publishing
from tests.marketplace.factories import (
    AgentVersionFactory,
    MembershipFactory,
    OrganizationFactory,
    UserFactory,
    declaration,
)

FREE: dict[str, Any] = {"model": "free", "inAppPurchases": {"offered": False}}
MONTHLY: dict[str, Any] = {
    "model": "subscription",
    "currency": "CNY",
    "price": "19.90",
    "period": "month",
    "inAppPurchases": {"offered": False},
}


def priced(**fields: Any) -> dict[str, Any]:
    """A pricing: the monthly subscription, with ``fields`` replaced (None drops
    one)."""
    pricing = {**MONTHLY, **fields}
    return {key: value for key, value in pricing.items() if value is not None}


# --- The rules beside the schema ------------------------------------------------------


@pytest.mark.parametrize(
    ("pricing", "path", "words"),
    [
        ({**FREE, "price": "1.00"}, "pricing.price", "free pricing model has no price"),
        ({**FREE, "currency": "CNY"}, "pricing.currency", "sells nothing"),
        (
            {**FREE, "freeTrial": {"days": 7, "afterTrial": "stops"}},
            "pricing.freeTrial",
            "paid pricing model",
        ),
        (priced(unit="call"), "pricing.unit", "subscription pricing model has no unit"),
        (
            priced(model="one_time", period=None, price="0"),
            "pricing.price",
            "declare the model free",
        ),
        (
            priced(inAppPurchases={"offered": True, "minPrice": "68", "maxPrice": "6"}),
            "pricing.inAppPurchases.maxPrice",
            "lower than minPrice",
        ),
        (
            priced(inAppPurchases={"offered": False, "maxPrice": "6"}),
            "pricing.inAppPurchases.maxPrice",
            "no in-agent purchases are offered",
        ),
        (
            priced(inAppPurchases={"offered": True, "minPrice": "0", "maxPrice": "6"}),
            "pricing.inAppPurchases.minPrice",
            "more than 0",
        ),
    ],
)
def test_pricing_that_does_not_hold_together_is_refused_with_its_path(
    pricing: dict[str, Any], path: str, words: str
) -> None:
    # when
    errors = declarations.validate(declaration(pricing=pricing))
    # then
    assert [error["path"] for error in errors] == [path]
    assert words in errors[0]["message"]


@pytest.mark.parametrize(
    "pricing",
    [
        FREE,
        {
            "model": "free",
            "currency": "CNY",
            "inAppPurchases": {"offered": True, "minPrice": "6", "maxPrice": "128"},
        },
        priced(freeTrial={"days": 7, "afterTrial": "converts"}),
        priced(model="usage", period=None, price="0.05", unit="1,000 tokens"),
        priced(model="one_time", period=None, price="68.00"),
    ],
)
def test_pricing_that_holds_together_is_valid(pricing: dict[str, Any]) -> None:
    assert declarations.validate(declaration(pricing=pricing)) == []


def test_the_schema_still_speaks_first() -> None:
    # a subscription without its period breaks the schema; the rules wait for it
    errors = declarations.validate(declaration(pricing=priced(period=None)))
    assert errors
    assert all(not error["path"].startswith("pricing.") for error in errors)


# --- Worse for those who use the agent ------------------------------------------------


TRIAL_STOPS = {"days": 7, "afterTrial": "stops"}
TRIAL_CONVERTS = {"days": 7, "afterTrial": "converts"}


@pytest.mark.parametrize(
    ("old", "new", "codes"),
    [
        # free to paid, and pricing declared for the first time
        (FREE, MONTHLY, ["now_paid"]),
        (None, MONTHLY, ["now_paid"]),
        (None, FREE, []),
        (FREE, FREE, []),
        (MONTHLY, FREE, []),
        # the same model and currency: the price, compared per day across periods
        (MONTHLY, priced(price="29.90"), ["price_raised"]),
        (MONTHLY, priced(price="9.90"), []),
        (MONTHLY, MONTHLY, []),
        (MONTHLY, priced(price="199.00", period="year"), []),  # 0.55 < 0.66 a day
        (MONTHLY, priced(price="5.00", period="week"), ["price_raised"]),  # 0.71
        (priced(price="40.00", period="quarter"), MONTHLY, ["price_raised"]),
        (
            priced(model="one_time", period=None, price="68"),
            priced(model="one_time", period=None, price="98"),
            ["price_raised"],
        ),
        (
            priced(model="usage", period=None, price="0.05", unit="1,000 tokens"),
            priced(model="usage", period=None, price="0.05", unit="100 tokens"),
            ["price_raised"],
        ),
        # what cannot be compared counts as worse
        (
            priced(model="one_time", period=None, price="68"),
            MONTHLY,
            ["model_changed"],
        ),
        (MONTHLY, priced(currency="USD", price="1.00"), ["currency_changed"]),
        # in-agent purchases
        (
            FREE,
            {
                **FREE,
                "currency": "CNY",
                "inAppPurchases": {"offered": True, "minPrice": "6", "maxPrice": "128"},
            },
            ["purchases_added"],
        ),
        (
            priced(inAppPurchases={"offered": True, "minPrice": "6", "maxPrice": "68"}),
            priced(
                inAppPurchases={"offered": True, "minPrice": "6", "maxPrice": "128"}
            ),
            ["purchases_raised"],
        ),
        (
            priced(
                inAppPurchases={"offered": True, "minPrice": "6", "maxPrice": "128"}
            ),
            priced(inAppPurchases={"offered": True, "minPrice": "1", "maxPrice": "68"}),
            [],
        ),
        # a free trial that now turns into the paid plan by itself
        (
            priced(freeTrial=TRIAL_STOPS),
            priced(freeTrial=TRIAL_CONVERTS),
            ["trial_converts"],
        ),
        (priced(freeTrial=TRIAL_CONVERTS), priced(freeTrial=TRIAL_STOPS), []),
        # several at once
        (
            priced(freeTrial=TRIAL_STOPS),
            priced(
                price="29.90",
                freeTrial=TRIAL_CONVERTS,
                inAppPurchases={"offered": True, "minPrice": "6", "maxPrice": "68"},
            ),
            ["price_raised", "purchases_added", "trial_converts"],
        ),
    ],
)
def test_what_makes_pricing_worse(
    old: dict[str, Any] | None, new: dict[str, Any], codes: list[str]
) -> None:
    assert [change.code for change in pricing_worse(old, new)] == codes


def test_the_reasons_are_worded_for_people() -> None:
    with translation.override("en"):
        (raised,) = pricing_worse(MONTHLY, priced(price="29.90"))
        assert raised.text == (
            "The price goes up from CNY 19.90 per month to CNY 29.90 per month."
        )
        (changed,) = pricing_worse(
            priced(model="one_time", period=None, price="68"), MONTHLY
        )
        assert changed.text == (
            "It changes from One-time price to Subscription pricing: CNY 19.90 per "
            "month."
        )


def test_pricing_is_described_line_by_line() -> None:
    pricing = priced(
        inAppPurchases={"offered": True, "minPrice": "6", "maxPrice": "68"},
        freeTrial=TRIAL_CONVERTS,
    )
    with translation.override("en"):
        assert pricing_lines(pricing) == [
            "Subscription: CNY 19.90 per month",
            "In-agent purchases: CNY 6.00 – 68.00",
            "Free trial: 7 days, then the subscription starts by itself",
        ]
        assert pricing_lines(FREE) == ["Free", "In-agent purchases: none"]
        assert pricing_lines(
            priced(model="usage", period=None, price="0.05", unit="1,000 tokens")
        )[0] == ("Usage-based: CNY 0.05 per 1,000 tokens")
        assert pricing_lines(
            priced(model="one_time", period=None, price="68", freeTrial=TRIAL_STOPS)
        ) == [
            "One-time price: CNY 68.00 once",
            "In-agent purchases: none",
            "Free trial: 7 days, then it stops until you choose to pay",
        ]
        assert pricing_lines(None) == []
        assert pricing_label(MONTHLY) == "CNY 19.90 per month"
        assert pricing_label(None) == ""


# --- An update whose pricing is worse waits for the user's consent --------------------

SCOPES = ["mail.read", "mail.send"]


def adult() -> User:
    """A user old enough for the factories' 18+ agents, reading English."""
    return UserFactory.create(birth_year=1990, preferred_language="en")


def _reviewer() -> User:
    operator = OrganizationFactory.create(kind=Organization.Kind.OPERATOR)
    return MembershipFactory.create(
        organization=operator, role=Membership.Role.REVIEWER
    ).user


def _publish(
    agent: Agent, editor: User, reviewer: User, number: str, pricing: dict[str, Any]
) -> AgentVersion:
    """A version through the real pipeline: created, submitted, checked, approved;
    then the installs follow it as the worker would."""
    version = agent_services.version_create(
        actor=editor,
        agent=agent,
        version=number,
        declaration=declaration(pricing=pricing),
    )
    publishing.version_submit(actor=editor, version=version)
    assert publishing.version_run_checks(version_id=version.pk) == "in_review"
    version = publishing.version_review(
        actor=reviewer, version=version, verdict="approve"
    )
    tasks.installs_follow_version(version_id=version.pk)
    return version


@pytest.mark.django_db
def test_worse_pricing_leaves_the_install_on_its_consented_terms_until_it_accepts() -> (
    None
):
    # given: an install of a free 1.0.0
    first = AgentVersionFactory.create(
        state=AgentVersion.State.PUBLISHED, version="1.0.0"
    )
    agent = Agent.objects.get(pk=first.agent_id)
    editor = MembershipFactory.create(
        organization=agent.publisher, role=Membership.Role.OWNER
    ).user
    reviewer = _reviewer()
    user = adult()
    install = install_services.install_create(
        user=user, agent=agent, granted_scopes=SCOPES
    ).install
    assert ConsentReceipt.objects.get(install=install).pricing == FREE

    # when: 2.0.0, a subscription, is published and the installs follow it
    second = _publish(agent, editor, reviewer, "2.0.0", MONTHLY)

    # then: the install stays on 1.0.0 and on the free pricing it accepted
    install.refresh_from_db()
    assert install.version_id == first.pk
    receipts = ConsentReceipt.objects.filter(install=install)
    assert [receipt.pricing for receipt in receipts] == [FREE]
    # ... and the user is asked, once, with the pricing change named
    notice = Notification.objects.get(user=user)
    assert notice.kind == Notification.Kind.CONSENT_NEEDED
    with translation.override("en"):
        assert "no longer free: CNY 19.90 per month" in notice.text
        assert "you stay on version 1.0.0" in notice.text
    assert notice.link == reverse(
        "install-update", kwargs={"public_id": install.public_id}
    )
    assert tasks.installs_follow_version(version_id=second.pk) == 0
    assert Notification.objects.filter(user=user).count() == 1
    requested = InstallEvent.objects.get(install=install, action="consent_requested")
    assert requested.payload["pricing"] == ["now_paid"]
    assert requested.payload["permissions"] is False

    # when: the user agrees to 2.0.0's terms
    install_services.install_consent(
        actor=user,
        install=install,
        granted_scopes=SCOPES,
        declaration_digest=second.declaration_digest,
    )

    # then: the install is on 2.0.0 and its new receipt holds 2.0.0's pricing
    install.refresh_from_db()
    assert install.version_id == second.pk
    assert ConsentReceipt.objects.filter(install=install).first().pricing == MONTHLY  # type: ignore[union-attr]  # two receipts exist

    # when: 3.0.0 costs less
    third = _publish(agent, editor, reviewer, "3.0.0", priced(price="9.90"))

    # then: the install follows it by itself, without asking
    install.refresh_from_db()
    assert install.version_id == third.pk
    assert Notification.objects.filter(user=user).count() == 1
    assert Install.objects.get(pk=install.pk).state == Install.State.ACTIVE


@pytest.mark.django_db
def test_a_worse_pricing_and_new_permissions_are_asked_together() -> None:
    # given
    first = AgentVersionFactory.create(state=AgentVersion.State.PUBLISHED)
    agent = Agent.objects.get(pk=first.agent_id)
    user = adult()
    install = install_services.install_create(
        user=user, agent=agent, granted_scopes=SCOPES
    ).install
    permissions = [
        *declaration()["permissions"],
        {"scope": "contacts.read", "purpose": "Find people", "authority": "autonomous"},
    ]
    skills = declaration()["skills"]
    skills[0]["permissions"] = [*skills[0]["permissions"], "contacts.read"]
    newer = AgentVersionFactory.create(
        agent=agent,
        state=AgentVersion.State.PUBLISHED,
        declaration=declaration(
            pricing=MONTHLY, permissions=permissions, skills=skills
        ),
    )
    # when
    assert tasks.installs_follow_version(version_id=newer.pk) == 1
    # then
    install.refresh_from_db()
    assert install.version_id == first.pk
    with translation.override("en"):
        text = Notification.objects.get(user=user).text
    assert "changes its pricing" in text
    assert "permissions you have not granted" in text


def _asked_batch_queries(pricing: dict[str, Any], permissions_raised: bool) -> int:
    """The queries of a run asking three users about a new version."""
    first = AgentVersionFactory.create(state=AgentVersion.State.PUBLISHED)
    agent = Agent.objects.get(pk=first.agent_id)
    for _ in range(3):
        install_services.install_create(
            user=adult(), agent=agent, granted_scopes=SCOPES
        )
    permissions = declaration()["permissions"]
    if permissions_raised:
        permissions = [
            {**permissions[0]},
            {**permissions[1], "authority": "autonomous"},
        ]
    newer = AgentVersionFactory.create(
        agent=agent,
        state=AgentVersion.State.PUBLISHED,
        declaration=declaration(pricing=pricing, permissions=permissions),
    )
    with CaptureQueriesContext(connection) as queries:
        assert tasks.installs_follow_version(version_id=newer.pk) == 3
    return len(queries)


@pytest.mark.django_db
def test_asking_about_pricing_costs_no_more_queries_than_asking_about_scopes() -> None:
    assert _asked_batch_queries(MONTHLY, permissions_raised=False) == (
        _asked_batch_queries(FREE, permissions_raised=True)
    )
