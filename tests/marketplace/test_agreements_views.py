"""The pages of the site's own documents, the prompt that stops page writes until
changed documents are accepted, and the operator's pages."""

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.cache import cache
from django.db import connection
from django.http.response import HttpResponseBase
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from marketplace.models import (
    AgentVersion,
    AgreementAcceptance,
    AgreementVersion,
    Install,
    Membership,
    Notification,
    Organization,
    Review,
    User,
)
from marketplace.selectors.agreements import (
    IN_FORCE_CACHE_KEY,
    agreement_pending_list,
)
from marketplace.services.agreements import agreement_draft_create
from marketplace.services.notifications import notification_create
from marketplace.views.agreements import PAGE_SIZE
from ratings.models import MisconductReport
from tests.marketplace.factories import (
    AgentVersionFactory,
    MembershipFactory,
    OrganizationFactory,
    UserFactory,
)
from tests.marketplace.test_agreements import (
    accepted_user,
    documents_in_force,
    operator,
    publish,
    texts,
)
from tests.marketplace.test_installs import install, listed_agent

pytestmark = pytest.mark.django_db

Kind = AgreementVersion.Kind


def signed_in(client: Client, user: User) -> Client:
    client.force_login(user)
    return client


def _review_url(agent: Any) -> str:
    return reverse(
        "review-write",
        kwargs={"publisher": agent.publisher.slug, "agent": agent.slug},
    )


def _next_of(response: HttpResponseBase) -> str:
    location = str(response["Location"])
    assert urlsplit(location).path == reverse("agreements-accept")
    return parse_qs(urlsplit(location).query)["next"][0]


# --- Reading ------------------------------------------------------------------------


def test_the_documents_in_force_are_public(client: Client) -> None:
    # given
    documents_in_force()
    second = publish(Kind.PRIVACY_POLICY, summary_en="Logs shrink to 14 days.")
    # when
    listing = client.get(reverse("agreement-list"))
    current = client.get(reverse("agreement-kind", args=[Kind.PRIVACY_POLICY]))
    old = client.get(reverse("agreement-version", args=[Kind.PRIVACY_POLICY, 1]))
    # then
    assert listing.status_code == current.status_code == old.status_code == 200
    assert reverse("agreement-kind", args=[Kind.PLATFORM_RULES]) in (
        listing.content.decode()
    )
    assert current.context["version"] == second
    assert "Logs shrink to 14 days." in current.content.decode()
    assert "replaced by a later version" in old.content.decode()


def test_unknown_kinds_unpublished_documents_and_drafts_are_not_found(
    client: Client,
) -> None:
    # given
    draft = agreement_draft_create(
        actor=operator(), kind=Kind.PRIVACY_POLICY, **texts(body_en="Draft words")
    )
    # when / then
    assert client.get("/agreements/cookie-policy/").status_code == 404
    assert client.get("/agreements/cookie-policy/1/").status_code == 404
    assert client.get(reverse("agreement-kind", args=[draft.kind])).status_code == 404
    url = reverse("agreement-version", args=[draft.kind, draft.number])
    assert client.get(url).status_code == 404
    assert signed_in(client, UserFactory.create()).get(url).status_code == 404
    # the operator reads the draft
    page = signed_in(Client(HTTP_ACCEPT_LANGUAGE="en"), operator()).get(url)
    assert page.status_code == 200
    assert "Draft words" in page.content.decode()


def test_the_footer_and_the_profile_link_the_documents(client: Client) -> None:
    user = UserFactory.create()
    page = signed_in(client, user).get(reverse("profile")).content.decode()
    assert reverse("agreement-list") in page
    assert reverse("account-agreements") in page


# --- The prompt: page writes wait for the changed documents ------------------------


def test_a_review_from_the_page_waits_until_the_new_version_is_accepted(
    client: Client,
) -> None:
    # given a user who accepted version 1 and installed the agent
    documents_in_force()
    user = accepted_user()
    agent = listed_agent()
    install(user, agent)
    second = publish(Kind.PRIVACY_POLICY)
    signed_in(client, user)
    agent_page = reverse(
        "agent-detail", kwargs={"publisher": agent.publisher.slug, "agent": agent.slug}
    )
    form = {"stars": "4", "title": "Good", "body": "Works."}
    # when
    refused = client.post(
        _review_url(agent), form, HTTP_REFERER=f"http://testserver{agent_page}?x=1"
    )
    # then sent to accept, back to the page the form was on afterwards
    assert refused.status_code == 303
    assert _next_of(refused) == f"{agent_page}?x=1"
    assert not Review.objects.exists()
    accept_page = client.get(refused["Location"])
    assert accept_page.status_code == 200
    assert list(accept_page.context["pending"]) == [second]
    assert "Logs are kept for 14 days." in accept_page.content.decode()

    # when they accept
    accepted = client.post(
        reverse("agreements-accept"),
        {"versions": [str(second.pk)], "accept": "on", "next": f"{agent_page}?x=1"},
    )
    # then
    assert accepted.status_code == 302
    assert accepted["Location"] == f"{agent_page}?x=1"
    assert client.post(_review_url(agent), form).status_code == 302
    assert Review.objects.get(user=user).stars == 4
    # and the history shows both versions of the privacy policy
    history = client.get(reverse("account-agreements"))
    rows = [(a.version.kind, a.version.number) for a in history.context["acceptances"]]
    assert (Kind.PRIVACY_POLICY, 1) in rows
    assert (Kind.PRIVACY_POLICY, 2) in rows
    assert "When asked after a change" in history.content.decode()


def test_an_install_and_a_report_from_the_pages_wait_too(client: Client) -> None:
    # given
    documents_in_force()
    user = accepted_user()
    agent = listed_agent()
    publish(Kind.PLATFORM_RULES)
    signed_in(client, user)
    install_url = f"/agents/{agent.publisher.slug}/{agent.slug}/install/"
    report_url = f"{reverse('report-create')}?agent={agent.publisher.slug}/{agent.slug}"
    # when
    installing = client.post(
        install_url,
        {"scopes": ["contacts.read", "calendar.write"]},
        HTTP_REFERER=f"http://testserver{install_url}",
    )
    reporting = client.post(
        report_url,
        {"category": "false_advertising", "description": "Claims a certificate."},
    )
    # then
    assert installing.status_code == reporting.status_code == 303
    assert _next_of(installing) == install_url
    assert not Install.objects.filter(user=user).exists()
    assert not MisconductReport.objects.exists()


def test_htmx_requests_are_sent_to_accept_with_a_header(client: Client) -> None:
    documents_in_force()
    user = UserFactory.create()
    agent = listed_agent()
    response = signed_in(client, user).post(
        _review_url(agent), {"stars": "4"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    assert response["HX-Redirect"].startswith(reverse("agreements-accept"))


def test_signing_out_the_language_and_the_api_are_not_redirected(
    client: Client,
) -> None:
    # given
    documents_in_force()
    user = UserFactory.create()
    agent = listed_agent()
    signed_in(client, user)
    # when / then: the API answers the services' 403
    api = client.post(
        reverse("api-install-list"),
        {"publisher": agent.publisher.slug, "agent": agent.slug, "scopes": []},
        content_type="application/json",
    )
    assert api.status_code == 403
    assert api.json()["error"]["code"] == "agreements_not_accepted"
    language = client.post(reverse("set_language"), {"language": "zh-hans"})
    assert language.status_code == 302
    assert client.post(reverse("logout")).status_code == 302


def test_withdrawing_consent_never_waits_for_the_documents(client: Client) -> None:
    # given a user with an install, whose documents changed since
    documents_in_force()
    user = accepted_user()
    agent = listed_agent()
    first = install(user, agent).install
    second_agent = listed_agent()
    second = install(user, second_agent, ["contacts.read", "calendar.write"]).install
    publish(Kind.PRIVACY_POLICY)
    signed_in(client, user)
    assert agreement_pending_list(user=user)
    # when they revoke a permission and uninstall an agent
    revoked = client.post(
        reverse(
            "install-grant-revoke",
            kwargs={"public_id": second.public_id, "scope": "calendar.write"},
        )
    )
    uninstalled = client.post(
        reverse("install-uninstall", kwargs={"public_id": first.public_id})
    )
    # then both are done, with no detour to the documents
    assert revoked.status_code == uninstalled.status_code == 302
    assert revoked["Location"] == uninstalled["Location"] == reverse("install-list")
    assert not second.grants.filter(
        scope="calendar.write", revoked_at__isnull=True
    ).exists()
    first.refresh_from_db()
    assert first.state == Install.State.UNINSTALLED


def test_the_profile_and_the_inbox_are_saved_with_documents_pending(
    client: Client,
) -> None:
    # given a user in the elder-friendly mode, with a notification
    documents_in_force()
    user = accepted_user(elder_mode=True)
    notification = notification_create(
        user=user, kind=Notification.Kind.REVIEW_REPLY, message="Hello"
    )
    publish(Kind.USER_AGREEMENT)
    signed_in(client, user)
    # when they turn the mode off and correct their year of birth
    saved = client.post(
        reverse("profile"),
        {"birth_year": "1950", "preferred_language": "en", "elder_mode": ""},
    )
    read = client.post(reverse("inbox-read"), {"id": str(notification.pk)})
    # then
    assert saved.status_code == 302
    assert saved["Location"] == reverse("profile")
    user.refresh_from_db()
    assert user.elder_mode is False
    assert user.birth_year == 1950
    assert urlsplit(str(read["Location"])).path != reverse("agreements-accept")
    notification.refresh_from_db()
    assert notification.read_at is not None


def test_leaving_an_organisation_never_waits_but_removing_others_does(
    client: Client,
) -> None:
    # given a member and an administrator of an organisation
    documents_in_force()
    member = accepted_user()
    admin = accepted_user()
    mine = MembershipFactory.create(user=member, role=Membership.Role.MEMBER)
    organization = mine.organization
    MembershipFactory.create(organization=organization, role=Membership.Role.OWNER)
    MembershipFactory.create(
        organization=organization, user=admin, role=Membership.Role.ADMIN
    )
    other = MembershipFactory.create(
        organization=organization, role=Membership.Role.MEMBER
    )
    publish(Kind.PLATFORM_RULES)
    # when the administrator removes someone else
    removing = signed_in(Client(), admin).post(
        reverse("membership-remove", args=[organization.slug, other.pk])
    )
    # then that waits for the documents
    assert removing.status_code == 303
    assert Membership.objects.filter(pk=other.pk).exists()
    # when the member leaves
    leaving = signed_in(client, member).post(
        reverse("membership-remove", args=[organization.slug, mine.pk])
    )
    # then they are out
    assert leaving.status_code == 302
    assert not Membership.objects.filter(pk=mine.pk).exists()


def test_without_a_referer_the_way_back_is_a_page_that_opens(client: Client) -> None:
    # given a form sent, with no Referer, to an address that only takes forms
    documents_in_force()
    user = accepted_user()
    agent = listed_agent()
    installed = install(user, agent).install
    publish(Kind.PRIVACY_POLICY)
    signed_in(client, user)
    update = reverse("install-update", kwargs={"public_id": installed.public_id})
    post_only = reverse("console-publisher-agreement", args=[agent.publisher.slug])
    # when
    refused = client.post(post_only, {"accept": "on"})
    # then the way back is the home page, which opens
    assert refused.status_code == 303
    back = _next_of(refused)
    assert back == reverse("home")
    assert client.get(back).status_code == 200
    # and so it is for a page that also opens with GET
    assert _next_of(client.post(update, {})) == reverse("home")


def test_a_foreign_referer_is_not_the_way_back(client: Client) -> None:
    documents_in_force()
    agent = listed_agent()
    signed_in(client, UserFactory.create())
    response = client.post(
        _review_url(agent), {"stars": "4"}, HTTP_REFERER="https://evil.example/x"
    )
    assert _next_of(response) == reverse("home")


def test_the_accept_page_refuses_an_open_redirect(client: Client) -> None:
    # given
    versions = documents_in_force()
    user = UserFactory.create()
    signed_in(client, user)
    form = {"versions": [str(v.pk) for v in versions], "accept": "on"}
    # when
    page = client.get(reverse("agreements-accept"), {"next": "https://evil.example/"})
    response = client.post(
        reverse("agreements-accept"), {**form, "next": "//evil.example/steal"}
    )
    # then
    assert 'name="next" value="https://evil' not in page.content.decode()
    assert response.status_code == 302
    assert response["Location"] == reverse("account-agreements")
    assert AgreementAcceptance.objects.filter(user=user).count() == 3


@pytest.mark.parametrize("value", ["one", "-1", "1.5", "9" * 30, "²", "0"])
def test_the_accept_page_refuses_ids_that_are_not_numbers(
    client: Client, value: str
) -> None:
    documents_in_force()
    user = UserFactory.create()
    response = signed_in(client, user).post(
        reverse("agreements-accept"), {"versions": [value], "accept": "on"}
    )
    assert response.status_code == 400
    assert not AgreementAcceptance.objects.filter(user=user).exists()


def test_the_accept_page_refuses_a_version_not_in_force(client: Client) -> None:
    # given
    first = publish(Kind.PRIVACY_POLICY)
    publish(Kind.PRIVACY_POLICY)
    user = UserFactory.create()
    # when
    response = signed_in(client, user).post(
        reverse("agreements-accept"), {"versions": [str(first.pk)], "accept": "on"}
    )
    # then
    assert response.status_code == 400
    assert "Only the versions in force can be accepted" in response.content.decode()
    assert not AgreementAcceptance.objects.filter(user=user).exists()


def test_the_accept_page_needs_the_box_ticked(client: Client) -> None:
    versions = documents_in_force()
    user = UserFactory.create()
    response = signed_in(client, user).post(
        reverse("agreements-accept"), {"versions": [str(v.pk) for v in versions]}
    )
    assert response.status_code == 200
    assert not AgreementAcceptance.objects.filter(user=user).exists()


def test_the_history_page_keeps_a_constant_number_of_queries(
    client: Client, django_assert_max_num_queries: Any
) -> None:
    # given
    documents_in_force()
    user = accepted_user()
    publish(Kind.PRIVACY_POLICY)
    publish(Kind.PLATFORM_RULES)
    signed_in(client, user)
    client.get(reverse("account-agreements"))  # warm the cache of versions in force
    with django_assert_max_num_queries(8) as few:
        client.get(reverse("account-agreements"))
    baseline = len(few.captured_queries)
    # when the history grows
    accepted_user()
    for kind in (Kind.PRIVACY_POLICY, Kind.PLATFORM_RULES, Kind.USER_AGREEMENT):
        publish(kind)
    pending = [
        v.pk for v in client.get(reverse("agreements-accept")).context["pending"]
    ]
    client.post(reverse("agreements-accept"), {"versions": pending, "accept": "on"})
    client.get(reverse("account-agreements"))
    # then
    with django_assert_max_num_queries(baseline):
        client.get(reverse("account-agreements"))


def _published_privacy_policies(count: int) -> list[AgreementVersion]:
    """Versions 1 to ``count`` of the privacy policy, published."""
    actor = operator()
    versions = AgreementVersion.objects.bulk_create(
        [
            AgreementVersion(
                kind=Kind.PRIVACY_POLICY,
                number=number,
                created_by=actor,
                published_by=actor,
                published_at=timezone.now(),
                **texts(summary_en="Changed.", summary_zh="改了。"),
            )
            for number in range(1, count + 1)
        ]
    )
    cache.delete(IN_FORCE_CACHE_KEY)
    return versions


def test_the_history_is_paginated_in_a_constant_number_of_queries(
    django_assert_num_queries: Any,
) -> None:
    # given one user who accepted 2 versions and one who accepted more than a page
    versions = _published_privacy_policies(PAGE_SIZE + 10)
    few, many = UserFactory.create(), UserFactory.create()
    AgreementAcceptance.objects.bulk_create(
        [AgreementAcceptance(user=few, version=version) for version in versions[:2]]
        + [AgreementAcceptance(user=many, version=version) for version in versions]
    )
    url = reverse("account-agreements")
    few_client, many_client = signed_in(Client(), few), signed_in(Client(), many)
    few_client.get(url)  # warm the cache of the versions in force
    with CaptureQueriesContext(connection) as baseline:
        few_page = few_client.get(url)
    # when / then
    with django_assert_num_queries(len(baseline.captured_queries)):
        many_page = many_client.get(url)
    assert len(few_page.context["acceptances"]) == 2
    assert len(many_page.context["acceptances"]) == PAGE_SIZE
    assert "?page=2" in many_page.content.decode()
    last = many_client.get(url, {"page": 2})
    assert len(last.context["acceptances"]) == 10
    assert {a.version.number for a in last.context["acceptances"]} <= set(
        range(1, PAGE_SIZE + 11)
    )


# --- Sign-up ------------------------------------------------------------------------


def test_sign_up_shows_and_requires_the_documents_in_force(client: Client) -> None:
    # given
    versions = documents_in_force()
    form = {
        "username": "newcomer",
        "email": "newcomer@example.com",
        "password": "a-long-enough-passphrase",
    }
    # when
    page = client.get(reverse("signup")).content.decode()
    refused = client.post(reverse("signup"), form)
    # then
    for version in versions:
        assert reverse("agreement-kind", args=[version.kind]) in page
    assert refused.status_code == 200
    assert not User.objects.filter(username="newcomer").exists()
    # when
    shown = ",".join(str(v.pk) for v in versions)
    assert f'name="agreement_versions" value="{shown}"' in page
    created = client.post(
        reverse("signup"),
        {**form, "accept_agreements": "on", "agreement_versions": shown},
    )
    # then
    assert created.status_code == 302
    user = User.objects.get(username="newcomer")
    assert {a.version_id for a in user.agreement_acceptances.all()} == {
        v.pk for v in versions
    }


def test_sign_up_asks_again_when_a_document_changed_meanwhile(
    client: Client,
) -> None:
    # given the form showed version 1 of each document
    versions = documents_in_force()
    shown = ",".join(str(v.pk) for v in versions)
    form = {
        "username": "newcomer",
        "email": "newcomer@example.com",
        "password": "a-long-enough-passphrase",
        "accept_agreements": "on",
        "agreement_versions": shown,
    }
    # when a new privacy policy comes in before the form is sent
    newer = publish(Kind.PRIVACY_POLICY)
    refused = client.post(reverse("signup"), form)
    # then no account, and the form asks to read the new version
    assert refused.status_code == 400
    assert not User.objects.filter(username="newcomer").exists()
    page = refused.content.decode()
    assert "The documents changed while you were signing up" in page
    current = ",".join(
        str(pk) for pk in sorted([versions[0].pk, versions[1].pk, newer.pk])
    )
    assert f'name="agreement_versions" value="{current}"' in page
    # when they accept what the form shows now
    created = client.post(reverse("signup"), {**form, "agreement_versions": current})
    # then
    assert created.status_code == 302
    user = User.objects.get(username="newcomer")
    assert newer.pk in {a.version_id for a in user.agreement_acceptances.all()}
    assert agreement_pending_list(user=user) == []


@pytest.mark.parametrize("versions", ["1,two", "1,²"])
def test_sign_up_refuses_a_damaged_list_of_versions(
    client: Client, versions: str
) -> None:
    documents_in_force()
    response = client.post(
        reverse("signup"),
        {
            "username": "newcomer",
            "email": "newcomer@example.com",
            "password": "a-long-enough-passphrase",
            "accept_agreements": "on",
            "agreement_versions": versions,
        },
    )
    assert response.status_code == 400
    assert not User.objects.filter(username="newcomer").exists()


def test_sign_up_asks_nothing_on_a_fresh_install(client: Client) -> None:
    page = client.get(reverse("signup")).content.decode()
    assert 'name="accept_agreements"' not in page
    response = client.post(
        reverse("signup"),
        {
            "username": "first",
            "email": "first@example.com",
            "password": "a-long-enough-passphrase",
        },
    )
    assert response.status_code == 302


# --- The publisher agreement in the console -----------------------------------------


def test_the_console_asks_the_owner_to_accept_the_publisher_agreement(
    client: Client,
) -> None:
    # given
    version = AgentVersionFactory.create(state=AgentVersion.State.DRAFT)
    agent = version.agent
    owner = MembershipFactory.create(
        organization=agent.publisher, role=Membership.Role.OWNER
    ).user
    member = MembershipFactory.create(
        organization=agent.publisher, role=Membership.Role.MEMBER
    ).user
    agreement = publish(Kind.PUBLISHER_AGREEMENT)
    console = reverse(
        "console-agent", kwargs={"publisher": agent.publisher.slug, "agent": agent.slug}
    )
    accept = reverse("console-publisher-agreement", args=[agent.publisher.slug])
    # when / then: a member sees the link, not the form
    member_page = signed_in(Client(), member).get(console).content.decode()
    assert reverse("agreement-version", args=[agreement.kind, 1]) in member_page
    assert accept not in member_page
    assert signed_in(Client(), member).post(accept, {"accept": "on"}).status_code == (
        403
    )
    # the owner sees the form, and accepts
    signed_in(client, owner)
    assert accept in client.get(console).content.decode()
    assert client.post(accept, {"next": console}).status_code == 302
    assert not AgreementAcceptance.objects.exists()  # the box was not ticked
    response = client.post(accept, {"accept": "on", "next": console})
    assert response["Location"] == console
    assert AgreementAcceptance.objects.get().organization == agent.publisher
    assert accept not in client.get(console).content.decode()


def test_the_console_index_asks_owners_and_administrators_only(
    client: Client,
) -> None:
    # given a publisher that has not accepted the publisher agreement
    publisher = OrganizationFactory.create(kind=Organization.Kind.PUBLISHER)
    admin = MembershipFactory.create(
        organization=publisher, role=Membership.Role.ADMIN
    ).user
    member = MembershipFactory.create(
        organization=publisher, role=Membership.Role.MEMBER
    ).user
    agreement = publish(Kind.PUBLISHER_AGREEMENT)
    accept = reverse("console-publisher-agreement", args=[publisher.slug])
    read = reverse("agreement-version", args=[agreement.kind, agreement.number])
    # when / then: a member is not asked on the console index
    member_page = signed_in(Client(), member).get(reverse("console")).content.decode()
    assert accept not in member_page
    # the administrator is, and accepts from there
    signed_in(client, admin)
    page = client.get(reverse("console")).content.decode()
    assert accept in page
    assert read in page
    response = client.post(accept, {"accept": "on", "next": reverse("console")})
    assert response["Location"] == reverse("console")
    assert AgreementAcceptance.objects.get().organization == publisher
    assert accept not in client.get(reverse("console")).content.decode()


def test_the_console_index_reads_the_agreements_in_a_constant_number_of_queries(
    client: Client,
) -> None:
    # given an owner of one publisher that has not accepted the agreement
    publish(Kind.PUBLISHER_AGREEMENT)
    owner = UserFactory.create()
    MembershipFactory.create(
        user=owner,
        organization=OrganizationFactory.create(kind=Organization.Kind.PUBLISHER),
        role=Membership.Role.OWNER,
    )
    signed_in(client, owner)
    client.get(reverse("console"))  # the documents in force, cached
    with CaptureQueriesContext(connection) as one:
        first = client.get(reverse("console"))
    # when they own four more
    for _ in range(4):
        MembershipFactory.create(
            user=owner,
            organization=OrganizationFactory.create(kind=Organization.Kind.PUBLISHER),
            role=Membership.Role.OWNER,
        )
    with CaptureQueriesContext(connection) as five:
        page = client.get(reverse("console"))
    # then each is asked, for the same number of queries
    assert first.content.decode().count('name="accept"') == 1
    assert page.content.decode().count('name="accept"') == 5
    assert len(five) == len(one)


# --- The operator's pages -----------------------------------------------------------


def test_only_the_operator_opens_the_operator_pages(client: Client) -> None:
    draft = agreement_draft_create(
        actor=operator(), kind=Kind.PRIVACY_POLICY, **texts()
    )
    reviewer = MembershipFactory.create(
        organization__kind=Organization.Kind.OPERATOR, role=Membership.Role.REVIEWER
    ).user
    form = {"kind": Kind.USER_AGREEMENT, **texts()}
    for user in (UserFactory.create(), reviewer):
        client = signed_in(Client(), user)
        for url in (
            reverse("operator-agreements"),
            reverse("operator-agreement-new"),
            reverse("operator-agreement-edit", args=[draft.pk]),
        ):
            assert client.get(url).status_code == 403
        assert client.post(reverse("operator-agreement-new"), form).status_code == (403)
        assert client.post(
            reverse("operator-agreement-edit", args=[draft.pk]), texts()
        ).status_code == (403)
        assert client.post(
            reverse("operator-agreement-publish", args=[draft.pk])
        ).status_code == (403)
        # and the console does not link the operator's pages for them
        console = client.get(reverse("console")).content.decode()
        assert reverse("operator-agreements") not in console
    draft.refresh_from_db()
    assert draft.published_at is None
    assert not AgreementVersion.objects.filter(kind=Kind.USER_AGREEMENT).exists()


def test_the_console_links_the_operator_pages_for_those_who_write_them() -> None:
    owner = MembershipFactory.create(
        organization__kind=Organization.Kind.OPERATOR, role=Membership.Role.OWNER
    ).user
    for user in (owner, operator()):
        client = signed_in(Client(), user)
        console = client.get(reverse("console")).content.decode()
        assert reverse("operator-agreements") in console
        assert client.get(reverse("operator-agreements")).status_code == 200


def test_the_operator_writes_and_publishes_from_the_pages(client: Client) -> None:
    # given
    signed_in(client, operator())
    publish(Kind.PRIVACY_POLICY)
    form = {"kind": Kind.PRIVACY_POLICY, **texts(body_en="Shorter logs.")}
    # when a second version without a summary
    created = client.post(reverse("operator-agreement-new"), form)
    draft = AgreementVersion.objects.get(kind=Kind.PRIVACY_POLICY, number=2)
    refused = client.post(
        reverse("operator-agreement-publish", args=[draft.pk]), follow=True
    )
    # then it is not published
    assert created.status_code == 302
    assert "Say what changed" in refused.content.decode()
    draft.refresh_from_db()
    assert draft.published_at is None
    # when the summary is added and it is published
    edited = client.post(
        reverse("operator-agreement-edit", args=[draft.pk]),
        texts(body_en="Shorter logs.", summary_en="Logs: 14 days.", summary_zh="短"),
    )
    published = client.post(reverse("operator-agreement-publish", args=[draft.pk]))
    # then
    assert edited.status_code == published.status_code == 302
    draft.refresh_from_db()
    assert draft.is_published
    assert draft.summary_en == "Logs: 14 days."
    listing = client.get(reverse("operator-agreements"))
    assert listing.status_code == 200
    # a published version cannot be opened for editing
    again = client.get(reverse("operator-agreement-edit", args=[draft.pk]))
    assert again.status_code == 302
