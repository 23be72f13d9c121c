from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from marketplace.models import (
    Agent,
    AgentVersion,
    Domain,
    Membership,
    Organization,
)
from tests.marketplace.factories import (
    AgentVersionFactory,
    DomainFactory,
    MembershipFactory,
    OrganizationFactory,
    UserFactory,
    declaration,
)

pytestmark = pytest.mark.django_db

State = AgentVersion.State


def _published(**agent: Any) -> AgentVersion:
    return AgentVersionFactory.create(
        state=State.PUBLISHED, **{f"agent__{k}": v for k, v in agent.items()}
    )


def test_search_finds_chinese_fragments_and_english_words(client: Client) -> None:
    _published(name="智能客服助手", summary="自动回复客户邮件")
    _published(name="Travel planner", summary="Plans trips and books hotels")
    search = reverse("agent-search")

    def names(q: str) -> list[str]:
        page = client.get(search, {"q": q}).context["page"]
        return [agent.name for agent in page]

    assert names("客服") == ["智能客服助手"]
    assert names("邮件") == ["智能客服助手"]
    assert names("HOTELS") == ["Travel planner"]
    assert names("ｔｒａｖｅｌ") == ["Travel planner"]  # full-width letters
    assert names("travel hotels") == ["Travel planner"]
    assert names("travel 邮件") == []
    assert len(names("")) == 2


def test_search_filters_by_domain_protocol_and_deployment(client: Client) -> None:
    finance = DomainFactory.create(code="finance", name_en="Finance", name_zh="金融")
    _published(name="Ledger bot", domain=finance)
    mcp = AgentVersionFactory.create(
        state=State.PUBLISHED,
        declaration=declaration(protocols=[{"type": "mcp"}], deployment="on_device"),
    )
    search = reverse("agent-search")
    page = client.get(search, {"domain": "finance"}).context["page"]
    assert [a.name for a in page] == ["Ledger bot"]
    page = client.get(search, {"protocol": "mcp", "deployment": "on_device"}).context[
        "page"
    ]
    assert [a.pk for a in page] == [mcp.agent_id]
    facets = dict(client.get(search, {"domain": "finance"}).context["facets"])
    # the domain facet ignores the domain chosen, so the other choices show
    office = Domain.objects.get(code="office").name_en
    assert {f.label: f.count for f in facets["Domains"]} == {"Finance": 1, office: 1}
    assert [f.label for f in facets["Domains"] if f.active] == ["Finance"]
    assert {f.label: f.count for f in facets["Deployment"]} == {"Cloud service": 1}


def test_unpublished_and_quarantined_agents_stay_out_of_the_store(
    client: Client,
) -> None:
    draft = AgentVersionFactory.create()
    quarantined = _published(status="quarantined")
    page = client.get(reverse("agent-search")).context["page"]
    assert list(page) == []
    for version in (draft, quarantined):
        url = reverse(
            "agent-detail", args=[version.agent.publisher.slug, version.agent.slug]
        )
        assert client.get(url).status_code == 404


def test_the_agent_page_shows_skills_permissions_and_identifier(client: Client) -> None:
    version = _published(description="**Bold** <script>alert(1)</script>")
    agent = version.agent
    html = client.get(
        reverse("agent-detail", args=[agent.publisher.slug, agent.slug])
    ).content.decode()
    assert agent.identifier in html
    assert "Draft replies" in html
    assert "mail.send" in html
    assert "<strong>Bold</strong>" in html
    assert "<script>alert(1)" not in html


def test_the_search_page_runs_a_constant_number_of_queries(client: Client) -> None:
    counts = []
    for extra in (1, 30):
        for _ in range(extra):
            _published()
        with CaptureQueriesContext(connection) as queries:
            assert (
                client.get(reverse("agent-search"), {"q": "agent"}).status_code == 200
            )
        counts.append(len(queries))
    assert counts[0] == counts[1]


def test_console_pages_are_for_the_publishers_members(client: Client) -> None:
    version = AgentVersionFactory.create()
    agent = version.agent
    manage = reverse("console-agent", args=[agent.publisher.slug, agent.slug])
    submit = reverse(
        "console-version-submit",
        args=[agent.publisher.slug, agent.slug, version.version],
    )
    assert client.get(manage).status_code == 302  # to sign in
    client.force_login(UserFactory.create())
    assert client.get(manage).status_code == 403
    assert client.post(submit).status_code == 403
    version.refresh_from_db()
    assert version.state == State.DRAFT
    member = MembershipFactory.create(organization=agent.publisher)
    client.force_login(member.user)
    assert client.get(manage).status_code == 200
    assert client.post(submit).status_code == 302
    version.refresh_from_db()
    assert version.state == State.SUBMITTED


def test_a_bad_declaration_is_shown_on_the_form_with_its_path(client: Client) -> None:
    member = MembershipFactory.create()
    agent = AgentVersionFactory.create(agent__publisher=member.organization).agent
    client.force_login(member.user)
    response = client.post(
        reverse("console-agent", args=[agent.publisher.slug, agent.slug]),
        {
            "add_version": "1",
            "version": "2.0.0",
            "declaration": '{"skills": [], "deployment": "moon"}',
        },
    )
    assert response.status_code == 400
    errors = response.context["version_form"].errors["declaration"]
    assert any(error.startswith("deployment:") for error in errors)
    assert not agent.versions.filter(version="2.0.0").exists()
    response = client.post(
        reverse("console-agent", args=[agent.publisher.slug, agent.slug]),
        {"add_version": "1", "version": "2.0.0", "declaration": "{not json"},
    )
    assert response.status_code == 400


def test_the_review_queue_is_for_reviewers_only(client: Client) -> None:
    version = AgentVersionFactory.create(state=State.IN_REVIEW)
    client.force_login(UserFactory.create())
    assert client.get(reverse("review-queue")).status_code == 403
    assert (
        client.post(
            reverse("review-submit", args=[version.pk]), {"verdict": "approve"}
        ).status_code
        == 403
    )
    operator = OrganizationFactory.create(kind=Organization.Kind.OPERATOR)
    reviewer = MembershipFactory.create(
        organization=operator, role=Membership.Role.REVIEWER
    )
    client.force_login(reviewer.user)
    assert version.agent.name in client.get(reverse("review-queue")).content.decode()
    client.post(reverse("review-submit", args=[version.pk]), {"verdict": "approve"})
    version.refresh_from_db()
    assert version.state == State.PUBLISHED


def test_check_reasons_are_shown_in_the_readers_language() -> None:
    from marketplace.services.publishing import version_submit
    from marketplace.tasks import version_run_checks

    member = MembershipFactory.create()
    version = AgentVersionFactory.create(
        agent__publisher=member.organization, agent__terms_url=""
    )
    version_submit(actor=member.user, version=version)
    version_run_checks(version_id=version.pk)
    agent = version.agent
    url = reverse("console-agent", args=[agent.publisher.slug, agent.slug])
    for language, expected in (
        ("en", "The listing has no terms of service URL."),
        ("zh-hans", "上架信息缺少服务条款链接。"),
    ):
        browser = Client(HTTP_ACCEPT_LANGUAGE=language)
        browser.force_login(member.user)
        assert expected in browser.get(url).content.decode()


def test_the_agent_page_shows_the_publishers_standing(client: Client) -> None:
    version = _published(name="Graded")
    agent = version.agent
    Agent.objects.filter(pk=agent.pk).update(
        rating_count=12, rating_mean=4.25, install_count=340
    )
    publisher = agent.publisher
    publisher.credit_grade = "BBB"
    publisher.save()
    html = client.get(
        reverse("agent-detail", args=[publisher.slug, agent.slug])
    ).content.decode()
    assert "Credit grade BBB" in html
    assert "12 ratings" in html
    assert "340 installs" in html
    assert reverse("publisher-detail", args=[publisher.slug]) in html


def test_the_search_page_links_the_next_page_keeping_the_query(client: Client) -> None:
    for _ in range(21):
        _published()
    html = client.get(reverse("agent-search"), {"sort": "name"}).content.decode()
    assert "sort=name&amp;page=2" in html
    assert "1 / 2" in html
    second = client.get(reverse("agent-search"), {"sort": "name", "page": "2"})
    assert "sort=name&amp;page=1" in second.content.decode()
