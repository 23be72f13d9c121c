"""The pages of installs: consent, my installs, revoking, uninstalling, updates."""

from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from marketplace.models import Agent, ConsentReceipt, Grant, Install
from marketplace.tokens import install_token_verify
from tests.marketplace.factories import UserFactory
from tests.marketplace.test_installs import (
    PERMISSIONS,
    install,
    listed_agent,
    publish,
    publisher_member,
)

pytestmark = pytest.mark.django_db


def _signed_in(client: Client, **user_fields: Any) -> Any:
    user = UserFactory.create(**user_fields)
    client.force_login(user)
    return user


def _url(agent: Agent) -> str:
    return f"/agents/{agent.publisher.slug}/{agent.slug}/install/"


def _consent(agent: Agent, scopes: list[str]) -> dict[str, Any]:
    """The consent form as the page showing the agent's latest version sends it."""
    version = Agent.objects.select_related("latest_version").get(pk=agent.pk)
    assert version.latest_version is not None
    return {
        "scopes": scopes,
        "declaration_digest": version.latest_version.declaration_digest,
    }


def test_the_install_page_explains_what_the_agent_asks_for(client: Client) -> None:
    # given
    agent = listed_agent(
        age_rating=Agent.AgeRating.AGE_12,
        anti_addiction_measures="Stops after an hour a day.",
    )
    _signed_in(client, birth_year=timezone.localdate().year - 30)
    # when
    response = client.get(_url(agent))
    # then
    assert response.status_code == 200
    page = response.content.decode()
    for permission in PERMISSIONS:
        assert permission["scope"] in page
        assert permission["purpose"] in page
    assert "Acts on its own within the scope" in page
    assert "Acts after you confirm each action" in page
    assert "Only you act" in page
    assert agent.privacy_policy_url in page
    assert agent.terms_url in page
    assert "Stops after an hour a day." in page
    # required scopes are ticked and required, the optional one is not ticked
    assert 'value="contacts.read" id="scope-1" checked required' in page
    assert 'value="calendar.write" id="scope-2" checked required' in page
    assert 'value="payments.initiate" id="scope-3" aria-describedby' in page
    assert '<label class="form-check-label" for="scope-1">' in page


def test_an_adult_only_agent_shows_no_anti_addiction_section(client: Client) -> None:
    agent = listed_agent(age_rating=Agent.AgeRating.AGE_18, anti_addiction_measures="")
    _signed_in(client, birth_year=1980)
    page = client.get(_url(agent)).content.decode()
    assert "Anti-addiction measures" not in page


def test_installing_from_the_page_shows_the_secret_once(client: Client) -> None:
    # given
    agent = listed_agent()
    user = _signed_in(client)
    # when
    response = client.post(
        _url(agent), _consent(agent, ["contacts.read", "calendar.write"])
    )
    # then
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    created = Install.objects.get(user=user, agent=agent)
    secret = response.context["result"].refresh_secret
    page = response.content.decode()
    assert str(created.public_id) in page
    assert secret in page
    assert created.refresh_secret_hash not in page
    assert sorted(
        Grant.objects.filter(install=created).values_list("scope", flat=True)
    ) == ["calendar.write", "contacts.read"]
    token = response.context["result"].token.token
    assert install_token_verify(token) is not None
    # the page now says it is installed, and offers no second install
    page = client.get(_url(agent)).content.decode()
    assert "You installed this agent on" in page
    assert 'name="scopes"' not in page
    assert secret not in page
    response = client.post(
        _url(agent), _consent(agent, ["contacts.read", "calendar.write"])
    )
    assert Install.objects.filter(user=user).count() == 1


def test_the_page_refuses_a_missing_required_scope_and_an_unknown_one(
    client: Client,
) -> None:
    agent = listed_agent()
    _signed_in(client)
    response = client.post(_url(agent), _consent(agent, ["contacts.read"]))
    assert response.status_code == 400
    assert "The agent cannot work without calendar.write" in response.content.decode()
    response = client.post(
        _url(agent),
        _consent(agent, ["contacts.read", "calendar.write", "files.delete"]),
    )
    assert response.status_code == 400
    assert "files.delete" in response.content.decode()
    assert not Install.objects.exists()


def test_the_page_explains_age_refusals(client: Client) -> None:
    agent = listed_agent(age_rating=Agent.AgeRating.AGE_16)
    _signed_in(client, birth_year=None)
    response = client.get(_url(agent))
    page = response.content.decode()
    assert "Declare your year of birth on your profile" in page
    assert 'href="/accounts/profile/"' in page
    assert 'name="scopes"' not in page
    response = client.post(
        _url(agent), _consent(agent, ["contacts.read", "calendar.write"])
    )
    assert response.status_code == 400
    assert not Install.objects.exists()
    young = listed_agent(age_rating=Agent.AgeRating.AGE_18)
    client.force_login(UserFactory.create(birth_year=timezone.localdate().year - 15))
    assert "not old enough" in client.get(_url(young)).content.decode()


def test_an_unconfirmed_email_address_is_told_and_refused(client: Client) -> None:
    agent = listed_agent()
    _signed_in(client, email_verified_at=None)
    page = client.get(_url(agent)).content.decode()
    assert "Confirm your e-mail address before you install agents" in page
    assert 'action="/accounts/verify-email/"' in page
    assert 'name="scopes"' not in page
    response = client.post(
        _url(agent), _consent(agent, ["contacts.read", "calendar.write"])
    )
    assert response.status_code == 403
    assert not Install.objects.exists()


def test_the_install_page_needs_a_signed_in_user_and_a_listed_agent(
    client: Client,
) -> None:
    agent = listed_agent()
    response = client.get(_url(agent))
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    Agent.objects.filter(pk=agent.pk).update(status=Agent.Status.QUARANTINED)
    _signed_in(client)
    assert client.get(_url(agent)).status_code == 404
    assert client.get("/agents/nobody/nothing/install/").status_code == 404
    # its own publisher sees why it cannot be installed
    client.force_login(publisher_member(agent))
    page = client.get(_url(agent)).content.decode()
    assert "not in the store at the moment" in page


def test_the_agent_page_offers_the_install_button(client: Client) -> None:
    agent = listed_agent()
    page = client.get(f"/agents/{agent.publisher.slug}/{agent.slug}/").content.decode()
    assert f'href="{_url(agent)}"' in page


def test_my_installs_lists_grants_and_revokes_and_uninstalls(client: Client) -> None:
    # given
    agent = listed_agent()
    user = _signed_in(client)
    result = install(user, agent)
    public_id = result.install.public_id
    # when
    page = client.get("/installs/").content.decode()
    # then
    assert agent.name in page
    assert f'action="/installs/{public_id}/grants/contacts.read/revoke/"' in page
    assert f'action="/installs/{public_id}/grants/calendar.write/revoke/"' in page
    assert "payments.initiate" not in page
    assert "You may revoke a required permission too" in page
    # when: a required scope is revoked
    response = client.post(
        f"/installs/{public_id}/grants/calendar.write/revoke/", follow=True
    )
    # then
    assert "no longer has the permission calendar.write" in response.content.decode()
    assert not Grant.objects.filter(
        install=result.install, scope="calendar.write", revoked_at=None
    ).exists()
    # revoking it again says so, without an error page
    response = client.post(
        f"/installs/{public_id}/grants/calendar.write/revoke/", follow=True
    )
    assert response.status_code == 200
    assert "holds no permission calendar.write" in response.content.decode()
    # when: uninstalled
    response = client.post(f"/installs/{public_id}/uninstall/", follow=True)
    assert "was uninstalled" in response.content.decode()
    current = Install.objects.get(pk=result.install.pk)
    assert current.state == Install.State.UNINSTALLED
    assert not Grant.objects.filter(install=current, revoked_at=None).exists()
    assert Agent.objects.get(pk=agent.pk).install_count == 0
    # GET does not change anything
    assert client.get(f"/installs/{public_id}/uninstall/").status_code == 405


def test_another_users_install_pages_are_not_found(client: Client) -> None:
    agent = listed_agent()
    result = install(UserFactory.create(), agent)
    public_id = result.install.public_id
    _signed_in(client)
    assert client.get(f"/installs/{public_id}/update/").status_code == 404
    assert (
        client.post(f"/installs/{public_id}/grants/contacts.read/revoke/").status_code
        == 404
    )
    assert client.post(f"/installs/{public_id}/uninstall/").status_code == 404
    assert agent.name not in client.get("/installs/").content.decode()
    assert Grant.objects.filter(install=result.install, revoked_at=None).count() == 2
    client.logout()
    assert client.get("/installs/").status_code == 302


def test_my_installs_has_a_constant_query_count(
    client: Client, django_assert_num_queries: Any
) -> None:
    user = _signed_in(client)
    sizes = []
    for size in (1, 6):
        while Install.objects.filter(user=user).count() < size:
            install(user, listed_agent())
        # the session, the user, the count, the page, the live grants, the unread
        # count in the menu
        with django_assert_num_queries(6):
            response = client.get("/installs/")
        assert response.status_code == 200
        sizes.append(len(response.context["entries"]))
    assert sizes == [1, 6]


def test_the_update_page_asks_for_the_new_scope_and_grants_nothing_silently(
    client: Client,
) -> None:
    # given: an install, then a version asking for one more required scope
    agent = listed_agent()
    user = _signed_in(client)
    result = install(user, agent)
    added = {
        "scope": "mail.send",
        "purpose": "Send invitations",
        "authority": "autonomous",
    }
    publish(agent, [*PERMISSIONS, added], "2.0.0")
    url = f"/installs/{result.install.public_id}/update/"
    # then: my installs points to the update
    page = client.get("/installs/").content.decode()
    assert "Version 2.0.0 asks for permissions you have not granted" in page
    assert f'href="{url}"' in page
    # and the update page shows the new scope unticked, the granted ones ticked
    page = client.get(url).content.decode()
    assert "Update" in page
    assert "to version 2.0.0" in page
    assert "Send invitations" in page
    assert 'value="mail.send" id="scope-4" required' in page
    assert 'value="contacts.read" id="scope-1" checked required' in page
    # when: the form is sent without the new scope
    response = client.post(url, _consent(agent, ["contacts.read", "calendar.write"]))
    assert response.status_code == 400
    assert Install.objects.get(pk=result.install.pk).version.version == "1.0.0"
    # when: the user agrees
    response = client.post(
        url,
        _consent(agent, ["contacts.read", "calendar.write", "mail.send"]),
        follow=True,
    )
    # then
    assert "now runs version 2.0.0" in response.content.decode()
    current = Install.objects.get(pk=result.install.pk)
    assert current.version.version == "2.0.0"
    assert ConsentReceipt.objects.filter(install=current).count() == 2
    assert set(
        Grant.objects.filter(install=current, revoked_at=None).values_list(
            "scope", flat=True
        )
    ) == {"contacts.read", "calendar.write", "mail.send"}


def test_the_update_page_of_an_uninstalled_install_is_not_found(client: Client) -> None:
    agent = listed_agent()
    user = _signed_in(client)
    result = install(user, agent)
    client.post(f"/installs/{result.install.public_id}/uninstall/")
    assert (
        client.get(f"/installs/{result.install.public_id}/update/").status_code == 404
    )


def test_the_pages_speak_chinese(client: Client) -> None:
    agent = listed_agent()
    user = _signed_in(client)
    install(user, agent)
    response = client.get("/installs/", HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert response.status_code == 200
    assert 'lang="zh-Hans"' in response.content.decode()
    response = client.get(_url(listed_agent()), HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert response.status_code == 200


# --- A consent holds for the version shown ----------------------------------------

# payments.initiate, now for the agent to do on its own
PAYING_ON_ITS_OWN = [*PERMISSIONS[:2], {**PERMISSIONS[2], "authority": "autonomous"}]


def test_an_install_sent_from_a_page_of_an_older_version_is_refused(
    client: Client,
) -> None:
    # given: the page shows 1.0.0, where only the user initiates payments
    agent = listed_agent()
    user = _signed_in(client)
    shown = _consent(agent, ["contacts.read", "calendar.write", "payments.initiate"])
    assert (
        'name="declaration_digest" value="{}"'.format(shown["declaration_digest"])
        in client.get(_url(agent)).content.decode()
    )
    # when: 2.0.0, which initiates payments on its own, is published before the user
    # sends the form
    publish(agent, PAYING_ON_ITS_OWN, "2.0.0")
    response = client.post(_url(agent), shown)
    # then: nothing is installed, and the page shows 2.0.0 to review again, with
    # only the required boxes ticked
    assert response.status_code == 400
    page = response.content.decode()
    assert "The agent changed since you opened this page" in page
    assert not Install.objects.filter(user=user).exists()
    current = _consent(agent, [])["declaration_digest"]
    assert current != shown["declaration_digest"]
    assert f'name="declaration_digest" value="{current}"' in page
    assert 'value="payments.initiate" id="scope-3" aria-describedby' in page
    assert "version 2.0.0" in page
    # when: the user sends the form of the page showing 2.0.0
    response = client.post(
        _url(agent),
        _consent(agent, ["contacts.read", "calendar.write", "payments.initiate"]),
    )
    # then
    assert response.status_code == 200
    created = Install.objects.get(user=user)
    assert created.version.version == "2.0.0"
    grant = Grant.objects.get(install=created, scope="payments.initiate")
    assert grant.authority == "autonomous"


def test_an_update_consent_sent_from_a_page_of_an_older_version_is_refused(
    client: Client,
) -> None:
    # given: an install of 1.0.0, and the update page showing 2.0.0, which asks for
    # one more required scope
    agent = listed_agent()
    user = _signed_in(client)
    result = install(user, agent)
    mail = {"scope": "mail.send", "purpose": "Invite", "authority": "user_only"}
    publish(agent, [*PERMISSIONS, mail], "2.0.0")
    url = f"/installs/{result.install.public_id}/update/"
    assert client.get(url).status_code == 200
    shown = _consent(agent, ["contacts.read", "calendar.write", "mail.send"])
    # when: 2.1.0 lets the agent send mail on its own before the user agrees
    publish(agent, [*PERMISSIONS, {**mail, "authority": "autonomous"}], "2.1.0")
    response = client.post(url, shown)
    # then: nothing changes, and the page shows 2.1.0
    assert response.status_code == 400
    page = response.content.decode()
    assert "The agent changed since you opened this page" in page
    assert "to version 2.1.0" in page
    current = Install.objects.get(pk=result.install.pk)
    assert current.version.version == "1.0.0"
    assert not Grant.objects.filter(install=current, scope="mail.send").exists()
    assert ConsentReceipt.objects.filter(install=current).count() == 1
    # when: the user agrees to what 2.1.0 asks
    response = client.post(
        url, _consent(agent, ["contacts.read", "calendar.write", "mail.send"])
    )
    # then
    assert response.status_code == 302
    current = Install.objects.get(pk=result.install.pk)
    assert current.version.version == "2.1.0"
    grant = Grant.objects.get(install=current, scope="mail.send", revoked_at=None)
    assert grant.authority == "autonomous"


def test_a_consent_form_without_the_version_shown_is_refused(client: Client) -> None:
    agent = listed_agent()
    user = _signed_in(client)
    response = client.post(_url(agent), {"scopes": ["contacts.read", "calendar.write"]})
    assert response.status_code == 400
    assert "This page is out of date" in response.content.decode()
    assert not Install.objects.exists()
    result = install(user, agent)
    response = client.post(
        f"/installs/{result.install.public_id}/update/",
        {"scopes": ["contacts.read"]},
    )
    assert response.status_code == 400
    assert "This page is out of date" in response.content.decode()
    assert Grant.objects.filter(install=result.install, revoked_at=None).count() == 2


def test_the_update_page_refuses_a_user_below_a_raised_age_rating(
    client: Client,
) -> None:
    # given: an install by a 14-year-old, then the agent is rated 16+
    agent = listed_agent()
    user = _signed_in(client, birth_year=timezone.localdate().year - 14)
    result = install(user, agent, confirmed=True)
    Agent.objects.filter(pk=agent.pk).update(age_rating=Agent.AgeRating.AGE_16)
    # then: the page says so
    page = client.get(f"/installs/{result.install.public_id}/update/").content.decode()
    assert "not old enough" in page
    # when: the form is sent all the same
    response = client.post(
        f"/installs/{result.install.public_id}/update/",
        _consent(agent, ["contacts.read", "calendar.write", "payments.initiate"]),
    )
    # then
    assert response.status_code == 400
    assert "not old enough" in response.content.decode()
    assert not Grant.objects.filter(
        install=result.install, scope="payments.initiate"
    ).exists()
