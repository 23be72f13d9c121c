"""Installs through the services and the API: consent, tokens, introspection,
revocation, uninstalling and updates."""

import uuid
from typing import Any
from urllib.parse import urlencode

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from config import keys
from marketplace import tasks
from marketplace.api import installs as api_views
from marketplace.exceptions import Conflict, InstallNotAllowed
from marketplace.models import (
    Agent,
    AgentVersion,
    ConsentReceipt,
    Grant,
    Install,
    InstallEvent,
    Membership,
    Notification,
    Organization,
    User,
)
from marketplace.services import installs as services
from marketplace.services import publishing
from marketplace.tokens import install_token_verify
from tests.marketplace.factories import (
    AgentVersionFactory,
    MembershipFactory,
    OrganizationFactory,
    UserFactory,
    declaration,
)

pytestmark = pytest.mark.django_db

FORM = "application/x-www-form-urlencoded"

State = AgentVersion.State

# Two required scopes and one optional one.
PERMISSIONS: list[dict[str, Any]] = [
    {"scope": "contacts.read", "purpose": "Find the people", "authority": "autonomous"},
    {
        "scope": "calendar.write",
        "purpose": "Book the meeting",
        "authority": "user_authorised",
    },
    {
        "scope": "payments.initiate",
        "purpose": "Pay the room",
        "authority": "user_only",
        "required": False,
    },
]


def permissions_declaration(permissions: list[dict[str, Any]]) -> dict[str, Any]:
    """A declaration asking for ``permissions``, with a skill that uses them all."""
    return declaration(
        permissions=permissions,
        skills=[
            {
                "id": "plan",
                "name": "Plan meetings",
                "description": "Plans meetings.",
                "tags": ["calendar"],
                "permissions": [p["scope"] for p in permissions],
            }
        ],
    )


def listed_agent(
    permissions: list[dict[str, Any]] | None = None, **agent_fields: Any
) -> Agent:
    """A published agent, rated for all ages unless told otherwise."""
    agent_fields.setdefault("age_rating", Agent.AgeRating.ALL)
    agent_fields.setdefault("anti_addiction_measures", "A break every 30 minutes.")
    fields = {f"agent__{name}": value for name, value in agent_fields.items()}
    version = AgentVersionFactory.create(
        state=State.PUBLISHED,
        version="1.0.0",
        declaration=permissions_declaration(permissions or PERMISSIONS),
        **fields,
    )
    return Agent.objects.select_related("publisher").get(pk=version.agent_id)


def install(
    user: User,
    agent: Agent,
    scopes: list[str] | None = None,
    *,
    confirmed: bool = False,
) -> services.InstallResult:
    """Install with the required scopes (or ``scopes``); ``confirmed`` is the
    second confirmation a minor gives before an agent may act on its own."""
    return services.install_create(
        user=user,
        agent=agent,
        granted_scopes=["contacts.read", "calendar.write"]
        if scopes is None
        else scopes,
        autonomous_confirmed=confirmed,
    )


def publisher_member(agent: Agent) -> User:
    return MembershipFactory.create(organization=agent.publisher).user


def approve(
    agent: Agent, permissions: list[dict[str, Any]], number: str
) -> AgentVersion:
    """A new version, approved by the operator's reviewer (the installs follow it
    in the background: not yet)."""
    version = AgentVersionFactory.create(
        agent=agent,
        version=number,
        state=State.IN_REVIEW,
        declaration=permissions_declaration(permissions),
    )
    operator = OrganizationFactory.create(kind=Organization.Kind.OPERATOR)
    reviewer = MembershipFactory.create(
        organization=operator, role=Membership.Role.REVIEWER
    ).user
    return publishing.version_review(actor=reviewer, version=version, verdict="approve")


def publish(
    agent: Agent, permissions: list[dict[str, Any]], number: str
) -> AgentVersion:
    """A new version, approved, and the task that moves the installs along run as
    the worker would run it."""
    version = approve(agent, permissions, number)
    tasks.installs_follow_version(version_id=version.pk)
    return version


@pytest.fixture
def api() -> APIClient:
    return APIClient(HTTP_ACCEPT_LANGUAGE="en")


def _error(response: Any) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"}, body
    return body["error"]  # type: ignore[no-any-return]  # JSON is Any


def _introspect(api: APIClient, caller: User, token: str) -> dict[str, Any]:
    api.force_authenticate(caller)
    response = api.post(
        "/api/v1/installs/introspect/",
        urlencode({"token": token}),
        content_type=FORM,
    )
    api.force_authenticate(None)
    assert response.status_code == 200, response.content
    return response.json()  # type: ignore[no-any-return]  # JSON is Any


def _refresh(api: APIClient, install_id: str, secret: str) -> Any:
    return api.post(
        "/api/v1/installs/token/",
        {"install_id": install_id, "refresh_secret": secret},
        format="json",
    )


# --- The story of the issue -----------------------------------------------------------


def test_grants_tokens_introspection_revocation_and_uninstall(api: APIClient) -> None:
    # given: an agent asking for two required scopes and one optional one
    agent = listed_agent()
    user = UserFactory.create()
    publisher = publisher_member(agent)
    api.force_authenticate(user)
    # when: the user installs it, declining the optional scope
    response = api.post(
        "/api/v1/installs/",
        {
            "publisher": agent.publisher.slug,
            "agent": agent.slug,
            "scopes": ["contacts.read", "calendar.write"],
        },
        format="json",
    )
    # then: the install holds those two, and so does its first token
    assert response.status_code == 201, response.json()
    assert response["Cache-Control"] == "no-store"
    body = response.json()
    install_id = body["install"]["id"]
    secret = body["refresh_secret"]
    token = body["token"]["access_token"]
    assert sorted(g["scope"] for g in body["install"]["grants"]) == [
        "calendar.write",
        "contacts.read",
    ]
    assert body["token"]["scope"] == "calendar.write contacts.read"
    claims = install_token_verify(token)
    assert claims is not None
    assert claims["scope"].split() == ["calendar.write", "contacts.read"]
    assert claims["aud"] == agent.identifier
    assert claims["sub"] == install_id
    receipt = ConsentReceipt.objects.get(install__public_id=install_id)
    assert receipt.granted == ["contacts.read", "calendar.write"]
    assert receipt.declined == ["payments.initiate"]
    assert receipt.declaration_digest == agent.latest_version.declaration_digest  # type: ignore[union-attr]  # listed
    assert receipt.terms_url == agent.terms_url
    assert receipt.privacy_policy_url == agent.privacy_policy_url
    # and the publisher's introspection reports both live
    answer = _introspect(api, publisher, token)
    assert answer["active"] is True
    assert answer["scopes"] == {"calendar.write": True, "contacts.read": True}
    assert answer["scope"] == "calendar.write contacts.read"
    assert answer["client_id"] == answer["aud"] == agent.identifier
    assert answer["sub"] == answer["install_id"] == install_id
    assert answer["exp"] == claims["exp"]
    assert answer["iat"] == claims["iat"]

    # when: the user revokes one scope (a required one: allowed)
    api.force_authenticate(user)
    response = api.post(f"/api/v1/installs/{install_id}/grants/calendar.write/revoke/")
    assert response.status_code == 200
    assert [g["scope"] for g in response.json()["grants"]] == ["contacts.read"]
    # then: the same token is reported without it at once
    answer = _introspect(api, publisher, token)
    assert answer["active"] is True
    assert answer["scopes"] == {"calendar.write": False, "contacts.read": True}
    assert answer["scope"] == "contacts.read"
    # and a refreshed token carries only the one left
    response = _refresh(api, install_id, secret)
    assert response.status_code == 200, response.json()
    assert response["Cache-Control"] == "no-store"
    refreshed = response.json()
    assert refreshed["scope"] == "contacts.read"
    assert refreshed["token_type"] == "Bearer"
    assert refreshed["expires_in"] == 300
    refreshed_claims = install_token_verify(refreshed["access_token"])
    assert refreshed_claims is not None
    assert refreshed_claims["scope"] == "contacts.read"

    # when: the user uninstalls
    api.force_authenticate(user)
    response = api.post(f"/api/v1/installs/{install_id}/uninstall/")
    assert response.status_code == 200
    assert response.json()["state"] == "uninstalled"
    assert response.json()["grants"] == []
    # then: both tokens are inactive and no refresh succeeds
    assert _introspect(api, publisher, token) == {"active": False}
    assert _introspect(api, publisher, refreshed["access_token"]) == {"active": False}
    response = _refresh(api, install_id, secret)
    assert response.status_code == 401
    assert _error(response)["code"] == "invalid_grant"
    assert list(
        InstallEvent.objects.filter(install__public_id=install_id)
        .order_by("id")
        .values_list("action", flat=True)
    ) == ["installed", "scope_revoked", "uninstalled"]


def test_an_update_that_adds_a_scope_waits_for_consent(api: APIClient) -> None:
    # given: an install of version 1.0.0 with the two required scopes
    agent = listed_agent()
    user = UserFactory.create()
    result = install(user, agent)
    first = result.install.version
    # when: version 2.0.0 asks for one more required scope
    publish(
        agent,
        [
            *PERMISSIONS,
            {"scope": "mail.send", "purpose": "Invite", "authority": "autonomous"},
        ],
        "2.0.0",
    )
    # then: the install stays on 1.0.0 with what was granted, and the user is asked
    current = Install.objects.get(pk=result.install.pk)
    assert current.version == first
    assert sorted(
        Grant.objects.filter(install=current, revoked_at=None).values_list(
            "scope", flat=True
        )
    ) == ["calendar.write", "contacts.read"]
    notification = Notification.objects.get(user=user)
    assert notification.kind == Notification.Kind.CONSENT_NEEDED
    assert notification.link == f"/installs/{current.public_id}/update/"
    assert "2.0.0" in notification.text
    assert "1.0.0" in notification.text
    assert InstallEvent.objects.filter(
        install=current, action="consent_requested"
    ).exists()
    token = _refresh(api, str(current.public_id), result.refresh_secret).json()
    assert token["scope"] == "calendar.write contacts.read"
    api.force_authenticate(user)
    detail = api.get(f"/api/v1/installs/{current.public_id}/").json()
    assert detail["version"] == "1.0.0"
    assert detail["update_pending"] == "2.0.0"

    # when: consent without the new required scope is refused
    response = api.post(
        f"/api/v1/installs/{current.public_id}/consent/",
        {"scopes": ["contacts.read", "calendar.write"]},
        format="json",
    )
    assert response.status_code == 400
    assert _error(response)["code"] == "required_scope_missing"
    # when: the user consents to it
    response = api.post(
        f"/api/v1/installs/{current.public_id}/consent/",
        {"scopes": ["contacts.read", "calendar.write", "mail.send"]},
        format="json",
    )
    # then: the install moves on, with a new receipt and the new grant
    assert response.status_code == 200, response.json()
    assert response.json()["version"] == "2.0.0"
    assert response.json()["update_pending"] is None
    assert ConsentReceipt.objects.filter(install=current).count() == 2
    token = _refresh(api, str(current.public_id), result.refresh_secret).json()
    assert token["scope"] == "calendar.write contacts.read mail.send"
    # the grants kept from the first consent are the same rows
    kept = Grant.objects.get(install=current, scope="contacts.read", revoked_at=None)
    assert kept.receipt.version == first


def test_an_update_the_grants_cover_moves_the_install_and_drops_old_scopes() -> None:
    # given
    agent = listed_agent()
    user = UserFactory.create()
    result = install(
        user, agent, ["contacts.read", "calendar.write", "payments.initiate"]
    )
    # when: 1.1.0 no longer asks for payments and adds an optional scope
    publish(
        agent,
        [
            *PERMISSIONS[:2],
            {
                "scope": "mail.send",
                "purpose": "Invite",
                "authority": "autonomous",
                "required": False,
            },
        ],
        "1.1.0",
    )
    # then: the install moves to 1.1.0, payments is revoked, nothing new is granted
    current = Install.objects.select_related("version").get(pk=result.install.pk)
    assert current.version.version == "1.1.0"
    live = set(
        Grant.objects.filter(install=current, revoked_at=None).values_list(
            "scope", flat=True
        )
    )
    assert live == {"contacts.read", "calendar.write"}
    event = InstallEvent.objects.get(install=current, action="updated")
    assert event.payload == {
        "from_version": "1.0.0",
        "to_version": "1.1.0",
        "revoked": ["payments.initiate"],
        "lowered": [],
    }
    assert not Notification.objects.filter(user=user).exists()


def test_an_update_that_lets_the_agent_act_on_its_own_asks_again() -> None:
    # given: calendar.write was granted as "confirm each action"
    agent = listed_agent()
    user = UserFactory.create()
    result = install(user, agent)
    # when: 1.1.0 asks to write the calendar autonomously
    raised = [PERMISSIONS[0], {**PERMISSIONS[1], "authority": "autonomous"}]
    publish(agent, raised, "1.1.0")
    # then
    current = Install.objects.select_related("version").get(pk=result.install.pk)
    assert current.version.version == "1.0.0"
    assert Notification.objects.filter(
        user=user, kind=Notification.Kind.CONSENT_NEEDED
    ).exists()
    # when: the user consents, the grant is renewed with the new authority
    services.install_consent(
        actor=user, install=current, granted_scopes=["contacts.read", "calendar.write"]
    )
    grant = Grant.objects.get(install=current, scope="calendar.write", revoked_at=None)
    assert grant.authority == "autonomous"
    assert Grant.objects.filter(
        install=current, scope="calendar.write", revoked_at__isnull=False
    ).exists()


def test_uninstalled_installs_are_left_alone_by_updates() -> None:
    agent = listed_agent()
    user = UserFactory.create()
    result = install(user, agent)
    services.install_uninstall(actor=user, install=result.install)
    publish(agent, PERMISSIONS, "1.1.0")
    current = Install.objects.select_related("version").get(pk=result.install.pk)
    assert current.version.version == "1.0.0"
    assert not Notification.objects.exists()


# --- Who may install what -------------------------------------------------------------


@pytest.mark.parametrize(
    ("rating", "age", "allowed", "code"),
    [
        ("all", None, True, ""),
        ("12+", None, False, "birth_year_missing"),
        ("18+", None, False, "birth_year_missing"),
        ("12+", 11, False, "age_rating"),
        ("12+", 12, True, ""),
        ("16+", 15, False, "age_rating"),
        ("16+", 16, True, ""),
        ("18+", 17, False, "age_rating"),
        ("18+", 40, True, ""),
    ],
)
def test_the_age_rating_against_the_declared_age(
    rating: str, age: int | None, allowed: bool, code: str
) -> None:
    # given
    agent = listed_agent(age_rating=rating, anti_addiction_measures="Breaks.")
    year = timezone.localdate().year
    user = UserFactory.create(birth_year=None if age is None else year - age)
    # when / then
    if allowed:  # a minor confirms that the agent may act on its own
        assert (
            install(user, agent, confirmed=True).install.state == Install.State.ACTIVE
        )
    else:
        with pytest.raises(InstallNotAllowed) as refused:
            install(user, agent)
        assert refused.value.code == code
        assert not Install.objects.exists()
        if code == "birth_year_missing":
            assert "year of birth on your profile" in refused.value.message


def test_age_denials_through_the_api(api: APIClient) -> None:
    agent = listed_agent(age_rating="16+", anti_addiction_measures="Breaks.")
    api.force_authenticate(UserFactory.create(birth_year=None))
    response = api.post(
        "/api/v1/installs/",
        {
            "publisher": agent.publisher.slug,
            "agent": agent.slug,
            "scopes": ["contacts.read", "calendar.write"],
        },
        format="json",
    )
    assert response.status_code == 403
    assert _error(response)["code"] == "birth_year_missing"


def test_every_required_scope_must_be_granted_and_no_unknown_one(
    api: APIClient,
) -> None:
    # given
    agent = listed_agent()
    user = UserFactory.create()
    api.force_authenticate(user)

    def post(scopes: Any) -> Any:
        return api.post(
            "/api/v1/installs/",
            {"publisher": agent.publisher.slug, "agent": agent.slug, "scopes": scopes},
            format="json",
        )

    # when a required scope is missing
    response = post(["contacts.read", "payments.initiate"])
    # then
    assert response.status_code == 400
    error = _error(response)
    assert error["code"] == "required_scope_missing"
    assert "calendar.write" in error["details"]["scopes"][0]
    # when a scope is not asked for
    response = post(["contacts.read", "calendar.write", "files.delete"])
    assert response.status_code == 400
    error = _error(response)
    assert error["code"] == "unknown_scope"
    assert "files.delete" in error["details"]["scopes"][0]
    # when the scopes are not a list of strings
    for bad in ("contacts.read", [{"scope": 1}], None):
        response = post(bad)
        assert response.status_code == 400
        assert _error(response)["code"] == "invalid"
    assert not Install.objects.exists()
    assert Agent.objects.get(pk=agent.pk).install_count == 0


def test_an_agent_of_optional_scopes_only_installs_with_none_granted() -> None:
    agent = listed_agent([{**PERMISSIONS[2]}, {**PERMISSIONS[0], "required": False}])
    result = install(UserFactory.create(), agent, [])
    assert result.token.scopes == []
    assert not Grant.objects.filter(install=result.install).exists()
    receipt = ConsentReceipt.objects.get(install=result.install)
    assert receipt.granted == []
    assert receipt.declined == ["payments.initiate", "contacts.read"]


def test_a_second_install_is_a_conflict_until_uninstalled(api: APIClient) -> None:
    # given
    agent = listed_agent()
    user = UserFactory.create()
    first = install(user, agent)
    api.force_authenticate(user)
    # when
    response = api.post(
        "/api/v1/installs/",
        {
            "publisher": agent.publisher.slug,
            "agent": agent.slug,
            "scopes": ["contacts.read", "calendar.write"],
        },
        format="json",
    )
    # then
    assert response.status_code == 409
    assert _error(response)["code"] == "already_installed"
    assert Agent.objects.get(pk=agent.pk).install_count == 1
    # after uninstalling, installing again works
    services.install_uninstall(actor=user, install=first.install)
    second = install(user, agent)
    assert second.install.pk != first.install.pk
    with pytest.raises(Conflict):
        services.install_uninstall(actor=user, install=first.install)


def test_a_quarantined_or_unpublished_agent_cannot_be_installed(
    api: APIClient,
) -> None:
    # given
    agent = listed_agent()
    Agent.objects.filter(pk=agent.pk).update(status=Agent.Status.QUARANTINED)
    agent.refresh_from_db()
    user = UserFactory.create()
    body = {
        "publisher": agent.publisher.slug,
        "agent": agent.slug,
        "scopes": ["contacts.read", "calendar.write"],
    }
    # then: the public does not see it
    api.force_authenticate(user)
    assert api.post("/api/v1/installs/", body, format="json").status_code == 404
    # and its publisher's members, who see it, cannot install it
    api.force_authenticate(publisher_member(agent))
    response = api.post("/api/v1/installs/", body, format="json")
    assert response.status_code == 409
    assert _error(response)["code"] == "agent_not_installable"
    with pytest.raises(Conflict):
        install(user, agent)
    # nor a draft-only agent
    draft = AgentVersionFactory.create(state=State.DRAFT).agent
    with pytest.raises(Conflict):
        install(user, draft)
    # nor an unknown one
    api.force_authenticate(user)
    response = api.post(
        "/api/v1/installs/", {**body, "agent": "no-such-agent"}, format="json"
    )
    assert response.status_code == 404
    assert not Install.objects.exists()


def test_an_unconfirmed_email_address_cannot_install(api: APIClient) -> None:
    agent = listed_agent()
    user = UserFactory.create(email_verified_at=None)
    api.force_authenticate(user)
    response = api.post(
        "/api/v1/installs/",
        {
            "publisher": agent.publisher.slug,
            "agent": agent.slug,
            "scopes": ["contacts.read", "calendar.write"],
        },
        format="json",
    )
    assert response.status_code == 403
    assert _error(response)["code"] == "email_not_verified"
    assert not Install.objects.exists()


def test_signing_in_is_required(api: APIClient) -> None:
    assert api.get("/api/v1/installs/").status_code == 401
    assert api.post("/api/v1/installs/", {}).status_code == 401
    response = api.post("/api/v1/installs/introspect/", "token=x", content_type=FORM)
    assert response.status_code == 401
    random_id = uuid.uuid4()
    assert api.get(f"/api/v1/installs/{random_id}/").status_code == 401


def test_the_install_count_follows_installs_and_uninstalls() -> None:
    agent = listed_agent()
    users = UserFactory.create_batch(3)
    results = [install(user, agent) for user in users]
    assert Agent.objects.get(pk=agent.pk).install_count == 3
    services.install_uninstall(actor=users[0], install=results[0].install)
    assert Agent.objects.get(pk=agent.pk).install_count == 2
    install(users[0], agent)
    assert Agent.objects.get(pk=agent.pk).install_count == 3


# --- Another user's install, another publisher's tokens -------------------------------


def test_another_users_install_is_not_found(api: APIClient) -> None:
    # given
    agent = listed_agent()
    owner = UserFactory.create()
    result = install(owner, agent)
    base = f"/api/v1/installs/{result.install.public_id}"
    api.force_authenticate(UserFactory.create())
    # then
    assert api.get(f"{base}/").status_code == 404
    assert api.post(f"{base}/grants/contacts.read/revoke/").status_code == 404
    assert api.post(f"{base}/uninstall/").status_code == 404
    response = api.post(
        f"{base}/consent/",
        {"scopes": ["contacts.read", "calendar.write"]},
        format="json",
    )
    assert response.status_code == 404
    assert api.get("/api/v1/installs/").json()["count"] == 0
    # nothing changed
    assert Grant.objects.filter(install=result.install, revoked_at=None).count() == 2
    assert Install.objects.get(pk=result.install.pk).state == Install.State.ACTIVE


def test_revoking_a_scope_not_held_is_not_found(api: APIClient) -> None:
    agent = listed_agent()
    user = UserFactory.create()
    result = install(user, agent)
    api.force_authenticate(user)
    base = f"/api/v1/installs/{result.install.public_id}"
    response = api.post(f"{base}/grants/payments.initiate/revoke/")
    assert response.status_code == 404
    assert _error(response)["code"] == "scope_not_granted"
    assert api.post(f"{base}/grants/contacts.read/revoke/").status_code == 200
    assert api.post(f"{base}/grants/contacts.read/revoke/").status_code == 404
    assert api.post(f"{base}/uninstall/").status_code == 200
    response = api.post(f"{base}/uninstall/")
    assert response.status_code == 409
    assert _error(response)["code"] == "uninstalled"
    response = api.post(f"{base}/grants/calendar.write/revoke/")
    assert response.status_code == 409


def test_introspection_by_another_publisher_says_inactive_only(
    api: APIClient,
) -> None:
    # given
    agent = listed_agent()
    token = install(UserFactory.create(), agent).token.token
    other = MembershipFactory.create().user  # a member of another publisher
    # then
    assert _introspect(api, other, token) == {"active": False}
    assert _introspect(api, UserFactory.create(), token) == {"active": False}
    # and the agent's own publisher, by API token, sees it active
    member = publisher_member(agent)
    key = Token.objects.create(user=member).key
    response = APIClient().post(
        "/api/v1/installs/introspect/",
        urlencode({"token": token, "token_type_hint": "access_token"}),
        content_type=FORM,
        HTTP_AUTHORIZATION=f"Token {key}",
    )
    assert response.status_code == 200
    assert response.json()["active"] is True


def test_introspection_of_bad_expired_and_forged_tokens(
    api: APIClient, settings: Any
) -> None:
    # given
    agent = listed_agent()
    member = publisher_member(agent)
    result = install(UserFactory.create(), agent)
    good = result.token.token
    protected, payload, signature = good.split(".")
    # then
    for bad in ("", "garbage", f"{protected}.{payload}.{signature[:-4]}AAAA"):
        if bad:
            assert _introspect(api, member, bad) == {"active": False}
    api.force_authenticate(member)
    response = api.post("/api/v1/installs/introspect/", "", content_type=FORM)
    assert response.status_code == 400
    assert _error(response)["code"] == "invalid"
    # an expired token
    settings.INSTALL_TOKEN_TTL = -1
    expired = services.install_token_refresh(
        install_id=str(result.install.public_id), refresh_secret=result.refresh_secret
    ).token
    assert _introspect(api, member, expired) == {"active": False}
    # while the unexpired token of the same install is active
    settings.INSTALL_TOKEN_TTL = 300
    assert _introspect(api, member, good)["active"] is True


def test_refresh_refuses_unknown_installs_and_wrong_secrets(api: APIClient) -> None:
    # given
    agent = listed_agent()
    result = install(UserFactory.create(), agent)
    install_id = str(result.install.public_id)
    # then
    for given_id, secret in (
        (install_id, "wrong"),
        (install_id, result.refresh_secret + "x"),
        (str(uuid.uuid4()), result.refresh_secret),
    ):
        response = _refresh(api, given_id, secret)
        assert response.status_code == 401, given_id
        error = _error(response)
        assert error["code"] == "invalid_grant"
        assert "not valid" in error["message"]
    response = api.post("/api/v1/installs/token/", {}, format="json")
    assert response.status_code == 400
    # an id that is no UUID at all is bad input, said so
    response = _refresh(api, "not-a-uuid", result.refresh_secret)
    assert response.status_code == 400
    error = _error(response)
    assert error["code"] == "invalid"
    assert error["details"]["install_id"] == ["The install id must be a UUID."]
    assert _refresh(api, install_id, result.refresh_secret).status_code == 200
    # only the secret's digest is stored
    stored = Install.objects.get(pk=result.install.pk).refresh_secret_hash
    assert result.refresh_secret not in stored
    assert stored == services.secret_digest(result.refresh_secret)


def test_refresh_works_without_a_session_and_successes_are_not_limited(
    api: APIClient,
) -> None:
    # given
    agent = listed_agent()
    user = UserFactory.create()
    result = install(user, agent)
    install_id = str(result.install.public_id)
    # a signed-in browser without a CSRF token is no obstacle: the endpoint takes no
    # session
    browser = APIClient(enforce_csrf_checks=True)
    browser.force_login(user)
    assert _refresh(browser, install_id, result.refresh_secret).status_code == 200
    # when: far more refreshes than the failure limits, all with the right secret
    statuses = {
        _refresh(api, install_id, result.refresh_secret).status_code
        for _ in range(api_views.REFRESH_FAILURES_PER_INSTALL + 5)
    }
    # then
    assert statuses == {200}


def test_refresh_reads_any_spelling_of_the_install_id_as_one_install(
    api: APIClient,
) -> None:
    # given
    agent = listed_agent()
    result = install(UserFactory.create(), agent)
    public_id = result.install.public_id
    spellings = [
        str(public_id),
        str(public_id).upper(),
        public_id.hex,
        f"{{{public_id}}}",
        public_id.urn,
    ]
    # then: each one refreshes the install
    for spelling in spellings:
        response = _refresh(api, spelling, result.refresh_secret)
        assert response.status_code == 200, spelling
        assert response.json()["install_id"] == str(public_id)
    # and failures under every spelling count towards the one limit
    limit = api_views.REFRESH_FAILURES_PER_INSTALL
    for attempt in range(limit):
        response = _refresh(api, spellings[attempt % len(spellings)], "wrong")
        assert response.status_code == 401
    for spelling in spellings:
        response = _refresh(api, spelling, "wrong")
        assert response.status_code == 429, spelling


def test_failed_refreshes_lock_out_only_the_address_that_failed(
    api: APIClient,
) -> None:
    # given: a stranger who read the install's id (a token's "sub")
    agent = listed_agent()
    result = install(UserFactory.create(), agent)
    install_id = str(result.install.public_id)
    stranger = APIClient(REMOTE_ADDR="203.0.113.9", HTTP_ACCEPT_LANGUAGE="en")
    runtime = APIClient(REMOTE_ADDR="198.51.100.7", HTTP_ACCEPT_LANGUAGE="en")
    # when: the stranger sends wrong secrets up to the limit, and more
    limit = api_views.REFRESH_FAILURES_PER_INSTALL
    statuses = [
        _refresh(stranger, install_id, "wrong").status_code for _ in range(limit + 3)
    ]
    # then: its failures are told as such up to the limit, then it is throttled,
    # the right secret too
    assert statuses == [401] * limit + [429] * 3
    response = _refresh(stranger, install_id, result.refresh_secret)
    assert response.status_code == 429
    assert _error(response)["code"] == "throttled"
    # and the runtime, elsewhere, still refreshes with the right secret
    assert _refresh(runtime, install_id, result.refresh_secret).status_code == 200
    # while its own few failures do not lock it out
    for _ in range(3):
        assert _refresh(runtime, install_id, "wrong").status_code == 401
    assert _refresh(runtime, install_id, result.refresh_secret).status_code == 200


def test_failed_refreshes_of_many_installs_throttle_the_address(
    api: APIClient,
) -> None:
    # given
    agent = listed_agent()
    result = install(UserFactory.create(), agent)
    scanner = APIClient(REMOTE_ADDR="203.0.113.10", HTTP_ACCEPT_LANGUAGE="en")
    # when: an address tries wrong secrets on many install ids
    limit = api_views.REFRESH_FAILURES_PER_ADDRESS
    statuses = [
        _refresh(scanner, str(uuid.uuid4()), "wrong").status_code
        for _ in range(limit + 1)
    ]
    # then: it is throttled for every install
    assert statuses == [401] * limit + [429]
    response = _refresh(scanner, str(result.install.public_id), result.refresh_secret)
    assert response.status_code == 429
    # and another address is not
    assert (
        _refresh(api, str(result.install.public_id), result.refresh_secret).status_code
        == 200
    )


# --- Lists ----------------------------------------------------------------------------


def test_the_install_list_has_a_constant_query_count(
    api: APIClient, django_assert_num_queries: Any
) -> None:
    user = UserFactory.create()
    api.force_authenticate(user)
    sizes = []
    for size in (1, 6):
        while Install.objects.filter(user=user).count() < size:
            install(user, listed_agent())
        # the count, the page with agents and versions, the live grants
        with django_assert_num_queries(3):
            response = api.get("/api/v1/installs/?page_size=50")
        assert response.status_code == 200
        results = response.json()["results"]
        assert all(len(item["grants"]) == 2 for item in results)
        sizes.append(len(results))
    assert sizes == [1, 6]


def test_the_list_shows_only_the_callers_installs(api: APIClient) -> None:
    agent = listed_agent()
    mine = install(UserFactory.create(), agent)
    install(UserFactory.create(), agent)
    api.force_authenticate(mine.install.user)
    body = api.get("/api/v1/installs/").json()
    assert [item["id"] for item in body["results"]] == [str(mine.install.public_id)]
    item = body["results"][0]
    assert item["agent"] == agent.identifier
    assert item["version"] == "1.0.0"
    assert item["state"] == "active"
    assert "refresh_secret" not in item


def test_a_user_with_installs_can_delete_their_account() -> None:
    # given: an install with its consent receipt and grants
    agent = listed_agent()
    user = UserFactory.create()
    made = install(user, agent)
    assert made.install.grants.exists()
    # when
    user.delete()
    # then: the install goes with its receipts and grants
    assert not Install.objects.filter(pk=made.install.pk).exists()
    assert not ConsentReceipt.objects.filter(install_id=made.install.pk).exists()


# --- A consent holds for the version shown ------------------------------------------

# payments.initiate, now for the agent to do on its own
PAYING_ON_ITS_OWN = [*PERMISSIONS[:2], {**PERMISSIONS[2], "authority": "autonomous"}]


def _digest(agent: Agent) -> str:
    latest = Agent.objects.select_related("latest_version").get(pk=agent.pk)
    assert latest.latest_version is not None
    return latest.latest_version.declaration_digest


def test_an_install_through_the_api_holds_for_the_declaration_given(
    api: APIClient,
) -> None:
    # given: a client shown 1.0.0, where only the user initiates payments
    agent = listed_agent()
    user = UserFactory.create()
    shown = _digest(agent)
    # when: 2.0.0 lets the agent pay on its own before the client installs
    publish(agent, PAYING_ON_ITS_OWN, "2.0.0")
    api.force_authenticate(user)
    body = {
        "publisher": agent.publisher.slug,
        "agent": agent.slug,
        "scopes": ["contacts.read", "calendar.write", "payments.initiate"],
        "declaration_digest": shown,
    }
    response = api.post("/api/v1/installs/", body, format="json")
    # then
    assert response.status_code == 409
    error = _error(response)
    assert error["code"] == "agent_changed"
    assert "Review the permissions again" in error["message"]
    assert not Install.objects.exists()
    assert Agent.objects.get(pk=agent.pk).install_count == 0
    # when: the client sends the digest of 2.0.0
    response = api.post(
        "/api/v1/installs/",
        {**body, "declaration_digest": _digest(agent)},
        format="json",
    )
    # then
    assert response.status_code == 201, response.json()
    grants = {g["scope"]: g["authority"] for g in response.json()["install"]["grants"]}
    assert grants["payments.initiate"] == "autonomous"
    # a digest is optional for API clients, and checked for its length
    response = api.post(
        "/api/v1/installs/", {**body, "declaration_digest": "x" * 65}, format="json"
    )
    assert response.status_code == 400


def test_a_consent_to_an_update_holds_for_the_declaration_given(
    api: APIClient,
) -> None:
    # given: an install of 1.0.0, and 2.0.0 asking for one more scope, its digest
    # read by the client
    agent = listed_agent()
    user = UserFactory.create()
    result = install(user, agent)
    mail = {"scope": "mail.send", "purpose": "Invite", "authority": "user_only"}
    publish(agent, [*PERMISSIONS, mail], "2.0.0")
    api.force_authenticate(user)
    url = f"/api/v1/installs/{result.install.public_id}/"
    shown = api.get(url).json()["update_pending_digest"]
    assert shown == _digest(agent)
    # when: 2.1.0 lets the agent send mail on its own before the client consents
    publish(agent, [*PERMISSIONS, {**mail, "authority": "autonomous"}], "2.1.0")
    scopes = ["contacts.read", "calendar.write", "mail.send"]
    response = api.post(
        f"{url}consent/", {"scopes": scopes, "declaration_digest": shown}, format="json"
    )
    # then
    assert response.status_code == 409
    assert _error(response)["code"] == "agent_changed"
    current = Install.objects.select_related("version").get(pk=result.install.pk)
    assert current.version.version == "1.0.0"
    assert not Grant.objects.filter(install=current, scope="mail.send").exists()
    # and the service says the same to any caller
    with pytest.raises(Conflict) as refused:
        services.install_consent(
            actor=user, install=current, granted_scopes=scopes, declaration_digest=shown
        )
    assert refused.value.code == "agent_changed"
    # when: the client consents to what 2.1.0 asks
    response = api.post(
        f"{url}consent/",
        {"scopes": scopes, "declaration_digest": _digest(agent)},
        format="json",
    )
    # then
    assert response.status_code == 200, response.json()
    assert response.json()["version"] == "2.1.0"
    assert response.json()["update_pending_digest"] is None


def test_a_consent_to_an_update_checks_the_user_as_an_install_does() -> None:
    # given: installs by a confirmed adult and by a 14-year-old
    agent = listed_agent()
    year = timezone.localdate().year
    adult = UserFactory.create(birth_year=year - 30)
    young = UserFactory.create(birth_year=year - 14)
    adults = install(adult, agent).install
    youngs = install(young, agent, confirmed=True).install
    scopes = ["contacts.read", "calendar.write", "payments.initiate"]
    # when: the agent is rated 16+
    Agent.objects.filter(pk=agent.pk).update(age_rating=Agent.AgeRating.AGE_16)
    # then: the young user may no longer consent, the adult may
    with pytest.raises(InstallNotAllowed) as refused:
        services.install_consent(actor=young, install=youngs, granted_scopes=scopes)
    assert refused.value.code == "age_rating"
    services.install_consent(actor=adult, install=adults, granted_scopes=scopes)
    # when: the adult's e-mail address is no longer confirmed
    User.objects.filter(pk=adult.pk).update(email_verified_at=None)
    adult.refresh_from_db()
    # then
    with pytest.raises(InstallNotAllowed) as refused:
        services.install_consent(actor=adult, install=adults, granted_scopes=scopes[:2])
    assert refused.value.code == "email_not_verified"
    assert Grant.objects.filter(install=adults, revoked_at=None).count() == 3
    assert Grant.objects.filter(install=youngs, revoked_at=None).count() == 2


# --- Installs follow a new version in the background -------------------------------


def test_approving_a_version_enqueues_the_installs_update_on_commit(
    django_capture_on_commit_callbacks: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given
    agent = listed_agent()
    user = UserFactory.create()
    result = install(user, agent)
    sent: list[dict[str, Any]] = []
    monkeypatch.setattr(
        tasks.installs_follow_version, "delay", lambda **kwargs: sent.append(kwargs)
    )
    # when: the version is approved
    with django_capture_on_commit_callbacks() as callbacks:
        version = approve(agent, PERMISSIONS, "1.1.0")
        # then: nothing is done in the reviewer's request
        current = Install.objects.select_related("version").get(pk=result.install.pk)
        assert current.version.version == "1.0.0"
        assert sent == []
    # and the task is enqueued once the approval commits
    for callback in callbacks:
        callback()
    assert {"version_id": version.pk} in sent
    assert tasks.installs_follow_version.name == "marketplace.installs_follow_version"


def test_the_task_moves_and_asks_once_however_often_it_runs() -> None:
    # given: one install whose grants cover 1.1.0, one that must consent to it
    agent = listed_agent()
    covered = install(UserFactory.create(), agent).install
    asked_user = UserFactory.create()
    asked = install(asked_user, agent).install
    services.grant_revoke(actor=asked_user, install=asked, scope="calendar.write")
    version = approve(agent, PERMISSIONS, "1.1.0")
    # when
    assert tasks.installs_follow_version(version_id=version.pk) == 2
    # then
    assert Install.objects.get(pk=covered.pk).version_id == version.pk
    assert Install.objects.get(pk=asked.pk).version_id != version.pk
    assert Notification.objects.filter(user=asked_user).count() == 1
    events = InstallEvent.objects.count()
    # when: it runs again (a redelivery)
    assert tasks.installs_follow_version(version_id=version.pk) == 0
    # then: nothing more
    assert InstallEvent.objects.count() == events
    assert Notification.objects.count() == 1
    # and a version no longer the latest is left to the newer one's task, which
    # asks again about the newer version
    newer = approve(agent, PERMISSIONS, "1.2.0")
    assert tasks.installs_follow_version(version_id=version.pk) == 0
    assert tasks.installs_follow_version(version_id=newer.pk) == 2
    assert Notification.objects.filter(user=asked_user).count() == 2
    assert tasks.installs_follow_version(version_id=0) == 0


def test_a_run_for_a_superseded_version_moves_no_install_back() -> None:
    # given: 1.1.0 and then 1.2.0 approved, and 1.2.0's run done first
    agent = listed_agent()
    result = install(UserFactory.create(), agent)
    older = approve(agent, PERMISSIONS, "1.1.0")
    newer = publish(agent, PERMISSIONS, "1.2.0")
    assert Install.objects.get(pk=result.install.pk).version_id == newer.pk
    # when: 1.1.0's run reaches its batch, read while 1.1.0 was the latest
    services._follow_batch(
        version=AgentVersion.objects.select_related("agent").get(pk=older.pk),
        install_ids=[result.install.pk],
    )
    # then: the install stays on 1.2.0
    assert Install.objects.get(pk=result.install.pk).version_id == newer.pk
    assert (
        InstallEvent.objects.filter(install=result.install, action="updated").count()
        == 1
    )


def test_a_lowered_authority_is_held_and_recorded() -> None:
    # given: calendar.write granted as "confirm each action"
    agent = listed_agent()
    result = install(UserFactory.create(), agent)
    # when: 1.1.0 leaves calendar writes to the user alone
    publish(
        agent, [PERMISSIONS[0], {**PERMISSIONS[1], "authority": "user_only"}], "1.1.0"
    )
    # then
    grant = Grant.objects.get(
        install=result.install, scope="calendar.write", revoked_at=None
    )
    assert grant.authority == "user_only"
    event = InstallEvent.objects.get(install=result.install, action="updated")
    assert event.payload["lowered"] == [
        {"scope": "calendar.write", "from": "user_authorised", "to": "user_only"}
    ]


def _movable_installs(agent: Agent, count: int) -> None:
    while Install.objects.filter(agent=agent).count() < count:
        install(UserFactory.create(), agent)


def test_a_batch_of_installs_moves_in_a_constant_number_of_queries(
    django_assert_num_queries: Any,
) -> None:
    agent = listed_agent()
    for size, number in ((1, "1.1.0"), (6, "1.2.0")):
        _movable_installs(agent, size)
        version = approve(agent, PERMISSIONS, number)
        # the version; the batch's ids, and the empty next batch that ends the run;
        # in the batch's transaction (two savepoint statements): the locked
        # installs, their grants, whether the version is still the latest, the
        # consent requests already made, the move, the events
        with django_assert_num_queries(11):
            assert tasks.installs_follow_version(version_id=version.pk) == size


def test_the_installs_are_processed_a_batch_per_transaction(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # given: five installs, batches of two
    monkeypatch.setattr(services, "FOLLOW_BATCH_SIZE", 2)
    agent = listed_agent()
    _movable_installs(agent, 5)
    version = approve(agent, PERMISSIONS, "1.1.0")
    # when
    with CaptureQueriesContext(connection) as queries:
        moved = tasks.installs_follow_version(version_id=version.pk)
    # then: three transactions (savepoints within the test's own)
    assert moved == 5
    opened = [q for q in queries if q["sql"].upper().startswith("SAVEPOINT")]
    assert len(opened) == 3
    assert Install.objects.filter(version=version).count() == 5


# --- Hostile tokens ------------------------------------------------------------------


def test_introspecting_hostile_tokens_says_inactive(api: APIClient) -> None:
    # given
    agent = listed_agent()
    member = publisher_member(agent)
    deep = keys.b64url(b"[" * 5000) + "." + keys.b64url(b"{}") + ".AAAA"
    oversized = install(UserFactory.create(), agent).token.token + "A" * 5000
    # then
    for token in (deep, oversized, "%%%.%%%.%%%", "a.b.c.d", "\u00e9.\u00e9.\u00e9"):
        assert _introspect(api, member, token) == {"active": False}
