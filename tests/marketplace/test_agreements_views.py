"""The pages of the site's own documents, the prompt that stops page writes until
changed documents are accepted, and the operator's pages."""

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.http.response import HttpResponseBase
from django.test import Client
from django.urls import reverse

from marketplace.models import (
    AgentVersion,
    AgreementAcceptance,
    AgreementVersion,
    Install,
    Membership,
    Review,
    User,
)
from marketplace.services.agreements import agreement_draft_create
from ratings.models import MisconductReport
from tests.marketplace.factories import (
    AgentVersionFactory,
    MembershipFactory,
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
        install_url, {"scopes": ["contacts.read", "calendar.write"]}
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


def test_a_foreign_referer_is_not_the_way_back(client: Client) -> None:
    documents_in_force()
    agent = listed_agent()
    signed_in(client, UserFactory.create())
    response = client.post(
        _review_url(agent), {"stars": "4"}, HTTP_REFERER="https://evil.example/x"
    )
    assert _next_of(response) == _review_url(agent)


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


@pytest.mark.parametrize("value", ["one", "-1", "1.5", "9" * 30])
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
    created = client.post(reverse("signup"), {**form, "accept_agreements": "on"})
    # then
    assert created.status_code == 302
    user = User.objects.get(username="newcomer")
    assert {a.version_id for a in user.agreement_acceptances.all()} == {
        v.pk for v in versions
    }


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


# --- The operator's pages -----------------------------------------------------------


def test_only_the_operator_opens_the_operator_pages(client: Client) -> None:
    draft = agreement_draft_create(
        actor=operator(), kind=Kind.PRIVACY_POLICY, **texts()
    )
    signed_in(client, UserFactory.create())
    for url in (
        reverse("operator-agreements"),
        reverse("operator-agreement-new"),
        reverse("operator-agreement-edit", args=[draft.pk]),
    ):
        assert client.get(url).status_code == 403
    assert client.post(
        reverse("operator-agreement-publish", args=[draft.pk])
    ).status_code == (403)
    draft.refresh_from_db()
    assert draft.published_at is None


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
