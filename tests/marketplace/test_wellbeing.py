"""Companion and emotional-support agents: the safeguards they must declare before
they are published, and how the store shows them; the daily-use reminder that
install tokens carry."""

from typing import Any
from urllib.parse import urlencode

import pytest
from django.test import Client
from django.utils import timezone, translation
from rest_framework.test import APIClient

from marketplace import declarations
from marketplace.disclosure import ListingFacts, disclosure_items
from marketplace.models import Agent, AgentVersion, Membership, Organization
from marketplace.selectors.agents import version_checks
from marketplace.services import installs as services
from marketplace.services import publishing
from marketplace.tasks import installs_follow_version as installs_follow_version_task
from marketplace.tasks import version_run_checks as version_run_checks_task
from marketplace.tokens import install_token_issue, install_token_verify
from tests.marketplace.factories import (
    AgentVersionFactory,
    MembershipFactory,
    OrganizationFactory,
    UserFactory,
    declaration,
)
from tests.marketplace.test_installs import (
    PERMISSIONS,
    install,
    listed_agent,
    permissions_declaration,
    publisher_member,
)

pytestmark = pytest.mark.django_db

State = AgentVersion.State

SAFEGUARDS: dict[str, Any] = {
    "companion": True,
    "usageReminderMinutes": 30,
    "sessionLimitMinutes": 90,
    "humanHelp": "Call 12356, day and night.",
    "neverClaimsHuman": True,
}


def _checked(wellbeing: dict[str, Any] | None) -> AgentVersion:
    """A version with ``wellbeing`` submitted and through the automated checks."""
    member = MembershipFactory.create()
    overrides = {} if wellbeing is None else {"wellbeing": wellbeing}
    version = AgentVersionFactory.create(
        agent__publisher=member.organization, declaration=declaration(**overrides)
    )
    publishing.version_submit(actor=member.user, version=version)
    version_run_checks_task(version_id=version.pk)
    version.refresh_from_db()
    return version


def _companion_result(version: AgentVersion) -> Any:
    return next(
        r for r in version_checks(version=version) if r.name == "companion_safeguards"
    )


# --- The publishing check ---------------------------------------------------------


def test_a_companion_agent_without_safeguards_fails_naming_what_is_missing() -> None:
    # given / when: a companion that declares none of its safeguards
    version = _checked({"companion": True})
    # then
    assert version.state == State.REJECTED
    result = _companion_result(version)
    assert not result.passed
    text = result.reason_text
    assert "companion or emotional-support agent" in text
    for name in (
        "usage reminders",
        "a session limit",
        "a way to reach human help",
        "a commitment never to claim to be human",
    ):
        assert name in text
    failed = [r.name for r in version_checks(version=version) if not r.passed]
    assert failed == ["companion_safeguards"]


def test_only_the_missing_safeguards_are_named() -> None:
    # given: reminders and a session limit, but no human help
    version = _checked(
        {
            "companion": True,
            "usageReminderMinutes": 30,
            "sessionLimitMinutes": 60,
            "neverClaimsHuman": True,
        }
    )
    # then
    assert version.state == State.REJECTED
    text = _companion_result(version).reason_text
    assert "a way to reach human help" in text
    assert "usage reminders" not in text
    assert "a session limit" not in text


def test_a_companion_that_may_claim_to_be_human_fails() -> None:
    version = _checked({**SAFEGUARDS, "neverClaimsHuman": False})
    assert version.state == State.REJECTED
    text = _companion_result(version).reason_text
    assert "a commitment never to claim to be human" in text
    assert "usage reminders" not in text


def test_a_companion_with_every_safeguard_passes() -> None:
    version = _checked(SAFEGUARDS)
    assert version.state == State.IN_REVIEW
    assert _companion_result(version).passed


@pytest.mark.parametrize("wellbeing", [None, {"companion": False}])
def test_other_agents_need_no_safeguards(wellbeing: dict[str, Any] | None) -> None:
    version = _checked(wellbeing)
    assert version.state == State.IN_REVIEW
    assert _companion_result(version).passed


def test_the_reason_reads_in_chinese_too() -> None:
    # given
    version = _checked({"companion": True, "neverClaimsHuman": True})
    result = _companion_result(version)
    # when
    with translation.override("zh-hans"):
        text = result.reason_text
    # then: each missing safeguard is named (translated or not yet)
    assert text
    for key in ("usageReminderMinutes", "sessionLimitMinutes", "humanHelp"):
        name = publishing.COMPANION_SAFEGUARDS[key]
        with translation.override("zh-hans"):
            assert translation.gettext(name) in text
    assert "a commitment never to claim to be human" not in text
    assert result.params["missing"] == [
        "usage reminders",
        "a session limit",
        "a way to reach human help",
    ]


@pytest.mark.parametrize(
    ("companion_value", "companion"),
    [(True, True), (False, False), (1, False), ("yes", False), (None, False)],
)
def test_one_test_says_what_a_companion_is(
    companion_value: Any, companion: bool
) -> None:
    # given: a declaration as stored, with no safeguards (only "companion": true
    # makes a companion agent)
    document = {"wellbeing": {"companion": companion_value}}
    # then: the listing, the publishing check and the disclosure checklist agree
    assert declarations.is_companion(document) is companion
    assert bool(publishing.missing_companion_safeguards(document)) is companion
    items = disclosure_items(ListingFacts(declaration=document))
    checklist = next(item for item in items if item.key == "companion_safeguards")
    assert checklist.applies is companion


def test_the_listing_is_a_companion_only_for_companion_true() -> None:
    # given: the published version declares a companion agent
    agent = _companion_agent()
    assert agent.companion is True
    # when: a later version says it is not one
    AgentVersionFactory.create(
        agent=agent,
        version="2.0.0",
        state=State.PUBLISHED,
        declaration=declaration(wellbeing={"companion": False}),
    )
    # then
    agent.refresh_from_db()
    assert agent.companion is False


# --- Shown on the agent and install pages ----------------------------------------


def _companion_agent(**fields: Any) -> Agent:
    version = AgentVersionFactory.create(
        state=State.PUBLISHED,
        declaration=declaration(wellbeing=SAFEGUARDS),
        agent__age_rating=Agent.AgeRating.AGE_18,
        **{f"agent__{name}": value for name, value in fields.items()},
    )
    return Agent.objects.select_related("publisher").get(pk=version.agent_id)


def _agent_url(agent: Agent) -> str:
    return f"/agents/{agent.publisher.slug}/{agent.slug}/"


def test_the_agent_page_shows_a_companions_safeguards(client: Client) -> None:
    # given
    agent = _companion_agent()
    assert agent.companion
    # when
    page = client.get(_agent_url(agent)).content.decode()
    # then
    assert "Companion agent" in page
    assert "every 30 minutes" in page
    assert "A session ends after 90 minutes." in page
    assert "Call 12356, day and night." in page
    assert "It never claims to be a human." in page


def test_the_agent_page_shows_the_safeguards_in_chinese(client: Client) -> None:
    agent = _companion_agent()
    response = client.get(_agent_url(agent), HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert response.status_code == 200
    assert 'lang="zh-Hans"' in response.content.decode()
    assert "Call 12356, day and night." in response.content.decode()


def test_the_install_page_shows_a_companions_safeguards(client: Client) -> None:
    # given
    agent = _companion_agent()
    client.force_login(UserFactory.create(birth_year=timezone.localdate().year - 40))
    # when
    response = client.get(f"{_agent_url(agent)}install/")
    # then
    assert response.status_code == 200
    page = response.content.decode()
    assert "Companion agent" in page
    assert "Call 12356, day and night." in page
    assert "every 30 minutes" in page


def test_other_agents_show_no_companion_box(client: Client) -> None:
    agent = listed_agent()
    client.force_login(UserFactory.create())
    assert "Companion agent" not in client.get(_agent_url(agent)).content.decode()
    page = client.get(f"{_agent_url(agent)}install/").content.decode()
    assert "Companion agent" not in page


def test_the_update_page_shows_the_safeguards_of_a_version_that_becomes_a_companion(
    client: Client,
) -> None:
    # given: an install of an agent that is not a companion, then a version that
    # is one and asks for one more scope
    agent = listed_agent()
    user = UserFactory.create(birth_year=timezone.localdate().year - 40)
    result = install(user, agent)
    added = {"scope": "mail.send", "purpose": "Send a note", "authority": "autonomous"}
    version = AgentVersionFactory.create(
        agent=agent,
        version="2.0.0",
        state=State.IN_REVIEW,
        declaration={
            **permissions_declaration([*PERMISSIONS, added]),
            "wellbeing": SAFEGUARDS,
        },
    )
    operator = OrganizationFactory.create(kind=Organization.Kind.OPERATOR)
    reviewer = MembershipFactory.create(
        organization=operator, role=Membership.Role.REVIEWER
    ).user
    publishing.version_review(actor=reviewer, version=version, verdict="approve")
    installs_follow_version_task(version_id=version.pk)
    client.force_login(user)
    # when
    response = client.get(f"/installs/{result.install.public_id}/update/")
    # then: the safeguards of the version asked about, before the consent
    assert response.status_code == 200
    page = response.content.decode()
    assert "to version 2.0.0" in page
    assert "Companion agent" in page
    assert "Call 12356, day and night." in page
    assert "every 30 minutes" in page
    assert page.index("Companion agent") < page.index("Agree and update")


def test_the_update_page_of_other_agents_shows_no_companion_box(
    client: Client,
) -> None:
    # given: the install of an agent that is not a companion
    agent = listed_agent()
    user = UserFactory.create(birth_year=timezone.localdate().year - 40)
    result = install(user, agent)
    client.force_login(user)
    # when
    response = client.get(f"/installs/{result.install.public_id}/update/")
    # then
    assert response.status_code == 200
    assert "Companion agent" not in response.content.decode()


# --- The daily-use reminder in install tokens ------------------------------------


def test_a_token_carries_the_daily_use_reminder_and_verifies() -> None:
    issued = install_token_issue(
        install_id="i-1",
        audience="did:web:testserver:agents:a:b",
        scopes=["mail.read"],
        daily_use_reminder_minutes=45,
    )
    claims = install_token_verify(issued.token)
    assert claims is not None
    assert claims["daily_use_reminder"] == 45
    assert claims == issued.claims


def test_a_token_without_a_reminder_has_no_claim() -> None:
    issued = install_token_issue(
        install_id="i-1", audience="did:web:testserver:agents:a:b", scopes=[]
    )
    claims = install_token_verify(issued.token)
    assert claims is not None
    assert "daily_use_reminder" not in claims


@pytest.mark.parametrize("value", ["45", True, 4.5, None])
def test_a_reminder_claim_of_the_wrong_type_is_not_well_formed(value: Any) -> None:
    from marketplace import tokens

    issued = install_token_issue(
        install_id="i-1", audience="did:web:testserver:agents:a:b", scopes=[]
    )
    assert tokens._well_formed({**issued.claims, "daily_use_reminder": value}) is False
    assert tokens._well_formed(dict(issued.claims)) is True


def test_the_install_token_carries_the_users_preference() -> None:
    # given
    agent = listed_agent()
    user = UserFactory.create(daily_use_reminder_minutes=90)
    # when
    result = install(user, agent)
    # then: the first token, and every refreshed one
    claims = install_token_verify(result.token.token)
    assert claims is not None
    assert claims["daily_use_reminder"] == 90
    refreshed = services.install_token_refresh(
        install_id=str(result.install.public_id), refresh_secret=result.refresh_secret
    )
    assert refreshed.claims["daily_use_reminder"] == 90


def test_the_refresh_reads_the_preference_in_the_same_query(
    django_assert_num_queries: Any,
) -> None:
    # given
    result = install(UserFactory.create(daily_use_reminder_minutes=20), listed_agent())
    # when / then: the install with its agent, publisher and user; the live scopes
    with django_assert_num_queries(2):
        token = services.install_token_refresh(
            install_id=str(result.install.public_id),
            refresh_secret=result.refresh_secret,
        )
    assert token.claims["daily_use_reminder"] == 20


def test_protected_users_get_the_default_reminder(settings: Any) -> None:
    # given: no preference of their own
    settings.CARE_DAILY_USE_REMINDER_MINUTES = 60
    agent = listed_agent()
    elder = UserFactory.create(elder_mode=True)
    adult = UserFactory.create()
    # when
    elders = install(elder, agent, confirmed=True)
    adults = install(adult, agent)
    # then
    assert elders.token.claims["daily_use_reminder"] == 60
    assert "daily_use_reminder" not in adults.token.claims


def test_introspection_returns_the_reminder() -> None:
    # given
    agent = listed_agent()
    result = install(UserFactory.create(daily_use_reminder_minutes=75), agent)
    api = APIClient(HTTP_ACCEPT_LANGUAGE="en")
    api.force_authenticate(publisher_member(agent))
    # when
    response = api.post(
        "/api/v1/installs/introspect/",
        urlencode({"token": result.token.token}),
        content_type="application/x-www-form-urlencoded",
    )
    # then
    assert response.status_code == 200
    assert response.json()["active"] is True
    assert response.json()["daily_use_reminder"] == 75
