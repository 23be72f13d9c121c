"""Minors and the elder-friendly mode: who is protected, the second confirmation
before an agent may act on its own (service, pages, API), stricter defaults, the
care-mode pages, and the profile settings."""

from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from marketplace import care
from marketplace.demo import care as demo_care
from marketplace.exceptions import AutonomousConfirmationNeeded, InstallNotAllowed
from marketplace.models import (
    Agent,
    ConsentReceipt,
    Grant,
    Install,
    Membership,
    Organization,
    User,
)
from marketplace.services import installs as services
from marketplace.services.accounts import user_update_profile
from tests.marketplace.factories import (
    MembershipFactory,
    OrganizationFactory,
    UserFactory,
)
from tests.marketplace.test_installs import (
    PERMISSIONS,
    install,
    listed_agent,
    publish,
)

pytestmark = pytest.mark.django_db

REQUIRED = ["contacts.read", "calendar.write"]  # contacts.read acts on its own

# A required scope the agent uses on its own, and an optional one.
AUTONOMOUS_OPTIONAL: list[dict[str, Any]] = [
    {"scope": "contacts.read", "purpose": "Find the people", "authority": "autonomous"},
    {
        "scope": "files.read",
        "purpose": "Read the agenda",
        "authority": "autonomous",
        "required": False,
    },
]


def _year(age: int) -> int:
    return timezone.localdate().year - age


def _elder(**fields: Any) -> User:
    return UserFactory.create(elder_mode=True, birth_year=_year(75), **fields)


def _minor() -> User:
    return UserFactory.create(birth_year=_year(14))


def _install_url(agent: Any) -> str:
    return f"/agents/{agent.publisher.slug}/{agent.slug}/install/"


def _consent(agent: Any, scopes: list[str], **extra: Any) -> dict[str, Any]:
    agent.refresh_from_db()
    return {
        "scopes": scopes,
        "declaration_digest": agent.latest_version.declaration_digest,
        **extra,
    }


# --- Who is protected ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("age", "elder_mode", "protected"),
    [
        (None, False, False),
        (30, False, False),
        (18, False, False),
        (17, False, True),
        (9, False, True),
        (None, True, True),
        (80, True, True),
    ],
)
def test_minors_and_the_elder_friendly_mode_are_protected(
    age: int | None, elder_mode: bool, protected: bool
) -> None:
    user = UserFactory.build(
        birth_year=None if age is None else _year(age), elder_mode=elder_mode
    )
    assert care.is_protected(user) is protected


@pytest.mark.parametrize("age", [17, 18])
def test_a_minor_is_whom_the_18_plus_rating_turns_away(age: int) -> None:
    # given: an agent rated 18+
    agent = listed_agent(age_rating=Agent.AgeRating.AGE_18)
    user = UserFactory.create(birth_year=_year(age))
    # when
    try:
        install(user, agent)
    except InstallNotAllowed:
        refused = True
    else:
        refused = False
    # then: care takes for a minor exactly whom the age gate refuses
    assert care.is_minor(user) is refused is (age == 17)


# --- The second confirmation: the service ----------------------------------------


@pytest.mark.parametrize("make_user", [_elder, _minor])
def test_a_protected_user_must_confirm_an_autonomous_scope(make_user: Any) -> None:
    # given
    agent = listed_agent()
    user = make_user()
    # when
    with pytest.raises(AutonomousConfirmationNeeded) as asked:
        install(user, agent)
    # then: nothing is installed, and the error says what to confirm
    error = asked.value
    assert error.code == "autonomous_confirmation_needed"
    assert error.status_code == 400
    assert error.details["autonomous_scopes"] == ["contacts.read"]
    assert "confirm_autonomous" in error.details
    assert "contacts.read" in error.message
    assert not Install.objects.exists()
    # when: they confirm
    result = install(user, agent, confirmed=True)
    # then
    receipt = ConsentReceipt.objects.get(install=result.install)
    assert receipt.autonomous_confirmed is True
    assert sorted(
        Grant.objects.filter(install=result.install).values_list("scope", flat=True)
    ) == sorted(REQUIRED)


def test_an_adult_in_the_normal_mode_needs_no_confirmation() -> None:
    result = install(UserFactory.create(birth_year=_year(30)), listed_agent())
    assert result.install.state == Install.State.ACTIVE
    assert ConsentReceipt.objects.get(install=result.install).autonomous_confirmed is (
        False
    )


def test_a_protected_user_needs_no_confirmation_without_autonomous_scopes() -> None:
    agent = listed_agent(
        [{"scope": "calendar.write", "purpose": "Book", "authority": "user_authorised"}]
    )
    result = install(_elder(), agent, ["calendar.write"])
    assert result.install.state == Install.State.ACTIVE


def test_a_consent_to_an_update_needs_the_confirmation_too() -> None:
    # given: an elder's install, and a version asking for an optional autonomous scope
    agent = listed_agent()
    user = _elder()
    result = install(user, agent, confirmed=True)
    publish(agent, AUTONOMOUS_OPTIONAL + PERMISSIONS[1:], "1.1.0")
    scopes = [*REQUIRED, "files.read"]
    # when
    with pytest.raises(AutonomousConfirmationNeeded) as asked:
        services.install_consent(
            actor=user, install=result.install, granted_scopes=scopes
        )
    # then
    assert asked.value.details["autonomous_scopes"] == ["contacts.read", "files.read"]
    assert not Grant.objects.filter(scope="files.read").exists()
    # when: confirmed
    services.install_consent(
        actor=user,
        install=result.install,
        granted_scopes=scopes,
        autonomous_confirmed=True,
    )
    # then
    assert Grant.objects.filter(
        install=result.install, scope="files.read", revoked_at=None
    ).exists()
    assert (
        ConsentReceipt.objects.filter(
            install=result.install, autonomous_confirmed=True
        ).count()
        == 2
    )


# --- The second confirmation: the pages -------------------------------------------


def test_the_install_page_asks_an_elder_to_confirm_before_installing(
    client: Client,
) -> None:
    # given
    agent = listed_agent()
    client.force_login(_elder())
    # when: the first submit
    response = client.post(_install_url(agent), _consent(agent, REQUIRED))
    # then: the page asks again, saying what the agent does on its own
    assert response.status_code == 200
    page = response.content.decode()
    assert "Please confirm: the agent will act on its own" in page
    assert "Yes, let it act on its own" in page
    assert 'name="confirm_autonomous"' in page
    assert "Find the people" in page
    assert not Install.objects.exists()
    # the boxes stay as they were ticked
    assert 'value="contacts.read" id="scope-1" checked' in page
    # when: confirmed
    response = client.post(
        _install_url(agent), _consent(agent, REQUIRED, confirm_autonomous="on")
    )
    # then
    assert response.status_code == 200
    assert "is installed" in response.content.decode()
    install_row = Install.objects.get(agent=agent)
    assert ConsentReceipt.objects.get(install=install_row).autonomous_confirmed


def test_the_install_page_installs_at_once_for_an_adult(client: Client) -> None:
    agent = listed_agent()
    client.force_login(UserFactory.create(birth_year=_year(30)))
    response = client.post(_install_url(agent), _consent(agent, REQUIRED))
    assert "is installed" in response.content.decode()
    assert "Please confirm" not in response.content.decode()
    assert Install.objects.filter(agent=agent).exists()


def test_the_update_page_asks_a_minor_to_confirm(client: Client) -> None:
    # given
    agent = listed_agent()
    user = _minor()
    result = install(user, agent, confirmed=True)
    client.force_login(user)
    url = f"/installs/{result.install.public_id}/update/"
    # when
    response = client.post(url, _consent(agent, REQUIRED))
    # then
    assert response.status_code == 200
    assert "Please confirm: the agent will act on its own" in response.content.decode()
    assert ConsentReceipt.objects.filter(install=result.install).count() == 1
    # when: confirmed
    response = client.post(url, _consent(agent, REQUIRED, confirm_autonomous="on"))
    # then
    assert response.status_code == 302
    assert ConsentReceipt.objects.filter(install=result.install).count() == 2


def test_optional_autonomous_scopes_start_unticked_for_protected_users(
    client: Client,
) -> None:
    # given: installs holding the optional autonomous scope
    agent = listed_agent(AUTONOMOUS_OPTIONAL)
    adult = UserFactory.create(birth_year=_year(30))
    elder = _elder()
    scopes = ["contacts.read", "files.read"]
    adults = install(adult, agent, scopes).install
    elders = install(elder, agent, scopes, confirmed=True).install
    # when / then: the adult's page keeps it ticked, the elder's does not
    client.force_login(adult)
    page = client.get(f"/installs/{adults.public_id}/update/").content.decode()
    assert 'value="files.read" id="scope-2" checked' in page
    client.force_login(elder)
    page = client.get(f"/installs/{elders.public_id}/update/").content.decode()
    assert 'value="files.read" id="scope-2" aria-describedby' in page
    assert 'value="contacts.read" id="scope-1" checked' in page


# --- The second confirmation: the API ---------------------------------------------


@pytest.fixture
def api() -> APIClient:
    return APIClient(HTTP_ACCEPT_LANGUAGE="en")


def test_the_api_asks_a_protected_user_to_confirm(api: APIClient) -> None:
    # given
    agent = listed_agent()
    api.force_authenticate(_minor())
    body = {"publisher": agent.publisher.slug, "agent": agent.slug, "scopes": REQUIRED}
    # when
    response = api.post("/api/v1/installs/", body, format="json")
    # then
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "autonomous_confirmation_needed"
    assert error["details"]["autonomous_scopes"] == ["contacts.read"]
    assert "contacts.read" in error["message"]
    assert not Install.objects.exists()
    # when
    response = api.post(
        "/api/v1/installs/", {**body, "confirm_autonomous": True}, format="json"
    )
    # then
    assert response.status_code == 201, response.json()
    receipt = ConsentReceipt.objects.get(install__agent=agent)
    assert receipt.autonomous_confirmed


def test_the_consent_api_asks_an_elder_to_confirm(api: APIClient) -> None:
    agent = listed_agent()
    user = _elder()
    result = install(user, agent, confirmed=True)
    api.force_authenticate(user)
    url = f"/api/v1/installs/{result.install.public_id}/consent/"
    response = api.post(url, {"scopes": REQUIRED}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "autonomous_confirmation_needed"
    response = api.post(
        url, {"scopes": REQUIRED, "confirm_autonomous": True}, format="json"
    )
    assert response.status_code == 200, response.json()


def test_the_api_installs_at_once_for_an_adult(api: APIClient) -> None:
    agent = listed_agent()
    api.force_authenticate(UserFactory.create())
    response = api.post(
        "/api/v1/installs/",
        {"publisher": agent.publisher.slug, "agent": agent.slug, "scopes": REQUIRED},
        format="json",
    )
    assert response.status_code == 201


# --- The care-mode pages --------------------------------------------------------------


def test_elder_mode_pages_are_in_care_mode_with_a_way_out(client: Client) -> None:
    client.force_login(_elder())
    page = client.get("/agents/").content.decode()
    assert 'class="care-mode"' in page
    assert "Elder-friendly mode is on." in page
    assert "Turn it off in your profile" in page


def test_a_minors_pages_are_in_care_mode(client: Client) -> None:
    client.force_login(_minor())
    page = client.get("/agents/").content.decode()
    assert 'class="care-mode"' in page
    assert "Elder-friendly mode is on." not in page


@pytest.mark.parametrize("signed_in", [True, False])
def test_other_pages_are_not_in_care_mode(client: Client, signed_in: bool) -> None:
    if signed_in:
        client.force_login(UserFactory.create(birth_year=_year(40)))
    page = client.get("/agents/").content.decode()
    assert "care-mode" not in page
    assert "Elder-friendly mode is on." not in page


# --- The profile settings ---------------------------------------------------------


def test_the_profile_saves_the_elder_mode_and_the_reminder(client: Client) -> None:
    # given
    user = UserFactory.create()
    client.force_login(user)
    page = client.get("/accounts/profile/").content.decode()
    assert "Elder-friendly mode" in page
    assert "Daily-use reminder (minutes, optional)" in page
    # when
    response = client.post(
        "/accounts/profile/",
        {"elder_mode": "on", "daily_use_reminder_minutes": "45"},
    )
    # then
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.elder_mode is True
    assert user.daily_use_reminder_minutes == 45
    # when: turned off and cleared
    client.post("/accounts/profile/", {"daily_use_reminder_minutes": ""})
    user.refresh_from_db()
    assert user.elder_mode is False
    assert user.daily_use_reminder_minutes is None


@pytest.mark.parametrize("value", ["4", "1441", "-5", "abc", "99999999"])
def test_the_profile_refuses_a_bad_reminder(client: Client, value: str) -> None:
    user = UserFactory.create()
    client.force_login(user)
    response = client.post(
        "/accounts/profile/", {"elder_mode": "on", "daily_use_reminder_minutes": value}
    )
    assert response.status_code == 400
    assert response.context["form"].errors["daily_use_reminder_minutes"]
    user.refresh_from_db()
    assert user.daily_use_reminder_minutes is None
    assert user.elder_mode is False


def test_the_profile_service_checks_the_reminder() -> None:
    user = UserFactory.create()
    with pytest.raises(ValidationError) as refused:
        user_update_profile(
            user=user,
            birth_year=None,
            preferred_language="",
            elder_mode=True,
            daily_use_reminder_minutes=2,
        )
    assert "daily_use_reminder_minutes" in refused.value.message_dict
    user.refresh_from_db()
    assert user.daily_use_reminder_minutes is None


def test_the_account_api_reads_and_writes_the_settings(api: APIClient) -> None:
    # given
    user = UserFactory.create(birth_year=1950)
    api.force_authenticate(user)
    body = api.get("/api/v1/me/").json()
    assert body["elder_mode"] is False
    assert body["daily_use_reminder_minutes"] is None
    # when
    response = api.patch(
        "/api/v1/me/",
        {"elder_mode": True, "daily_use_reminder_minutes": 30},
        format="json",
    )
    # then: the fields sent change, the others stay
    assert response.status_code == 200, response.json()
    assert response.json()["elder_mode"] is True
    assert response.json()["daily_use_reminder_minutes"] == 30
    user.refresh_from_db()
    assert (user.elder_mode, user.daily_use_reminder_minutes, user.birth_year) == (
        True,
        30,
        1950,
    )
    # when: the reminder is cleared
    response = api.patch(
        "/api/v1/me/", {"daily_use_reminder_minutes": None}, format="json"
    )
    assert response.status_code == 200
    user.refresh_from_db()
    assert user.daily_use_reminder_minutes is None
    assert user.elder_mode is True


@pytest.mark.parametrize(
    "body",
    [
        {"daily_use_reminder_minutes": 3},
        {"daily_use_reminder_minutes": 2000},
        {"daily_use_reminder_minutes": "many"},
        {"elder_mode": "perhaps"},
        {"preferred_language": "xx"},
    ],
)
def test_the_account_api_refuses_bad_settings(
    api: APIClient, body: dict[str, Any]
) -> None:
    user = UserFactory.create()
    api.force_authenticate(user)
    response = api.patch("/api/v1/me/", body, format="json")
    assert response.status_code == 400
    assert set(response.json()["error"]["details"]) == set(body)
    user.refresh_from_db()
    assert user.daily_use_reminder_minutes is None
    assert user.elder_mode is False


def test_the_account_api_needs_sign_in(api: APIClient) -> None:
    response = api.patch("/api/v1/me/", {"elder_mode": True}, format="json")
    assert response.status_code in (401, 403)


# --- The demo ---------------------------------------------------------------------


def test_the_demo_lists_a_companion_and_an_elder_once() -> None:
    # given: the demo publisher, its owner and the operator's reviewer
    owner = MembershipFactory.create(
        organization__slug=demo_care.PUBLISHER, role=Membership.Role.OWNER
    ).user
    reviewer = MembershipFactory.create(
        organization=OrganizationFactory.create(kind=Organization.Kind.OPERATOR),
        role=Membership.Role.REVIEWER,
    ).user
    # when
    created = demo_care.load_care(owner=owner, reviewer=reviewer, password="pw-2026!")
    # then: a listed companion agent, through the checks, and the elder
    assert created == 2
    agent = Agent.objects.get(slug=demo_care.AGENT)
    assert agent.is_listed
    assert agent.companion
    assert agent.domain.code == "lifestyle"
    elder = User.objects.get(username=demo_care.ELDER_USERNAME)
    assert elder.elder_mode
    assert elder.email_verified
    assert care.is_protected(elder)
    # and again: nothing new
    assert demo_care.load_care(owner=owner, reviewer=reviewer, password="x") == 0
