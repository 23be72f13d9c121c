from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from marketplace.models import Agent, AgentVersion, Membership, Organization
from marketplace.tasks import version_run_checks as version_run_checks_task
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

Role = Membership.Role
State = AgentVersion.State


@pytest.fixture
def api() -> APIClient:
    return APIClient(HTTP_ACCEPT_LANGUAGE="en")


def _error(response: Any) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"}
    return body["error"]  # type: ignore[no-any-return]  # JSON is Any


def test_the_declaration_schema_is_served_at_its_stable_url(api: APIClient) -> None:
    response = api.get("/schemas/capability-declaration.json")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/schema+json"
    assert "max-age=3600" in response["Cache-Control"]
    assert response.json()["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_a_publisher_creates_submits_and_a_reviewer_publishes(api: APIClient) -> None:
    # given
    member = MembershipFactory.create(organization__slug="mingde-ai")
    DomainFactory.create(code="office")
    api.force_authenticate(member.user)
    # when: the publisher creates the agent and a version
    response = api.post(
        "/api/v1/agents/",
        {
            "publisher": "mingde-ai",
            "slug": "mail-helper",
            "name": "邮件助手 Mail helper",
            "summary": "Drafts replies",
            "domain": "office",
            "privacy_policy_url": "https://mingde.example/privacy",
            "terms_url": "https://mingde.example/terms",
            "age_rating": "18+",
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    assert (
        response.json()["identifier"]
        == "did:web:testserver:agents:mingde-ai:mail-helper"
    )
    base = "/api/v1/agents/mingde-ai/mail-helper"
    response = api.post(
        f"{base}/versions/",
        {"version": "1.0.0", "declaration": declaration()},
        format="json",
    )
    assert response.status_code == 201
    # the public does not see the unpublished agent
    anonymous = APIClient()
    assert anonymous.get(f"{base}/").status_code == 404
    assert anonymous.get("/api/v1/agents/").json()["count"] == 0
    # submit; the worker runs the checks
    assert api.post(f"{base}/versions/1.0.0/submit/").json()["state"] == "submitted"
    version_run_checks_task(version_id=AgentVersion.objects.get().pk)
    checks = api.get(f"{base}/versions/1.0.0/checks/").json()
    assert len(checks) == 10
    assert all(check["passed"] for check in checks)
    # a reviewer of the operator approves
    operator = OrganizationFactory.create(kind=Organization.Kind.OPERATOR)
    reviewer = MembershipFactory.create(organization=operator, role=Role.REVIEWER)
    api.force_authenticate(reviewer.user)
    assert api.get("/api/v1/review-queue/").json()["count"] == 1
    response = api.post(f"{base}/versions/1.0.0/review/", {"verdict": "approve"})
    assert response.json()["state"] == "published"
    # then anyone finds it
    listing = anonymous.get("/api/v1/agents/?domain=office").json()
    assert [agent["slug"] for agent in listing["results"]] == ["mail-helper"]


def test_an_invalid_declaration_names_the_fields(api: APIClient) -> None:
    member = MembershipFactory.create()
    agent = AgentFactory.create(publisher=member.organization)
    api.force_authenticate(member.user)
    response = api.post(
        f"/api/v1/agents/{agent.publisher.slug}/{agent.slug}/versions/",
        {"version": "1.0.0", "declaration": declaration(deployment="moon", skills=[])},
        format="json",
    )
    assert response.status_code == 400
    error = _error(response)
    assert error["code"] == "invalid_declaration"
    assert set(error["details"]) == {"declaration.deployment", "declaration.skills"}


def test_a_submitted_version_cannot_be_edited_through_the_api(api: APIClient) -> None:
    member = MembershipFactory.create()
    version = AgentVersionFactory.create(
        agent__publisher=member.organization, state=State.SUBMITTED
    )
    api.force_authenticate(member.user)
    agent = version.agent
    base = f"/api/v1/agents/{agent.publisher.slug}/{agent.slug}"
    url = f"{base}/versions/{version.version}/"
    response = api.put(
        url, {"changelog": "x", "declaration": declaration()}, format="json"
    )
    assert response.status_code == 403
    assert _error(response)["code"] == "version_immutable"


def test_a_non_member_cannot_edit_submit_or_yank(api: APIClient) -> None:
    version = AgentVersionFactory.create(state=State.PUBLISHED)
    agent = version.agent
    api.force_authenticate(MembershipFactory.create(role=Role.OWNER).user)
    base = f"/api/v1/agents/{agent.publisher.slug}/{agent.slug}"
    assert api.patch(f"{base}/", {"name": "Hijacked"}, format="json").status_code == 403
    assert (
        api.post(
            f"{base}/versions/{version.version}/yank/", {"reason": "x"}
        ).status_code
        == 403
    )
    draft = AgentVersionFactory.create(agent=agent)
    # drafts of others are invisible, so submitting one is a 404
    assert api.post(f"{base}/versions/{draft.version}/submit/").status_code == 404
    agent.refresh_from_db()
    version.refresh_from_db()
    assert (agent.name, version.state) != ("Hijacked", State.YANKED)
    assert version.state == State.PUBLISHED


def test_review_is_for_reviewers_and_not_of_their_own_agents(api: APIClient) -> None:
    operator = OrganizationFactory.create(kind=Organization.Kind.OPERATOR)
    reviewer = MembershipFactory.create(organization=operator, role=Role.REVIEWER)
    own = MembershipFactory.create(user=reviewer.user)  # also in a publisher
    version = AgentVersionFactory.create(
        agent__publisher=own.organization, state=State.IN_REVIEW
    )
    agent = version.agent
    url = (
        f"/api/v1/agents/{agent.publisher.slug}/{agent.slug}"
        f"/versions/{version.version}/review/"
    )
    api.force_authenticate(reviewer.user)
    response = api.post(url, {"verdict": "approve"})
    assert response.status_code == 403
    assert _error(response)["code"] == "conflict_of_interest"
    api.force_authenticate(UserFactory.create())
    assert api.get("/api/v1/review-queue/").status_code == 403
    version.refresh_from_db()
    assert version.state == State.IN_REVIEW


def test_agent_list_query_count_is_constant(api: APIClient) -> None:
    counts = []
    for size in (1, 25):
        Agent.objects.all().delete()
        for _ in range(size):
            AgentVersionFactory.create(state=State.PUBLISHED)
        with CaptureQueriesContext(connection) as queries:
            response = api.get("/api/v1/agents/?page_size=50")
        assert len(response.json()["results"]) == size
        counts.append(len(queries))
    assert counts == [2, 2]


def test_the_list_searches_filters_and_sorts_like_the_store(api: APIClient) -> None:
    # given
    weather = AgentVersionFactory.create(
        state=State.PUBLISHED, agent__name="天气预报助手"
    ).agent
    mail = AgentVersionFactory.create(
        state=State.PUBLISHED,
        agent__name="Mail helper",
        declaration=declaration(protocols=[{"type": "mcp"}]),
    ).agent
    Agent.objects.filter(pk=weather.pk).update(rating_mean=4.8, rating_score=4.5)
    Agent.objects.filter(pk=mail.pk).update(install_count=7)

    def names(**query: Any) -> list[str]:
        response = api.get("/api/v1/agents/", query)
        assert response.status_code == 200, response.json()
        return [row["name"] for row in response.json()["results"]]

    # then
    assert names(q="天气") == ["天气预报助手"]
    assert names(q="HELPER") == ["Mail helper"]
    assert names(protocol="mcp") == ["Mail helper"]
    assert names(min_rating=4.5) == ["天气预报助手"]
    assert names(sort="installs") == ["Mail helper", "天气预报助手"]
    assert names(sort="rating") == ["天气预报助手", "Mail helper"]
    row = api.get("/api/v1/agents/", {"q": "helper"}).json()["results"][0]
    assert row["protocols"] == ["mcp"]
    assert row["install_count"] == 7
    assert row["latest_version"] == mail.latest_version.version  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "query",
    [
        {"sort": "cheapest"},
        {"min_rating": "9"},
        {"min_rating": "lots"},
        {"min_grade": "Z"},
        {"protocol": "smtp"},
        {"risk_tier": "extreme"},
        {"q": "x" * 201},
    ],
)
def test_bad_search_parameters_are_named_in_a_400(
    api: APIClient, query: dict[str, str]
) -> None:
    response = api.get("/api/v1/agents/", query)
    assert response.status_code == 400
    assert set(_error(response)["details"]) == set(query)


def test_bad_input_is_a_4xx(api: APIClient) -> None:
    member = MembershipFactory.create()
    api.force_authenticate(member.user)
    response = api.post(
        "/api/v1/agents/",
        {
            "publisher": member.organization.slug,
            "slug": "x-y",
            "name": "X",
            "summary": "s",
            "domain": "nowhere",
        },
        format="json",
    )
    assert response.status_code == 400
    assert "domain" in _error(response)["details"]
    assert api.get("/api/v1/agents/?publisher=%00").status_code == 400
    assert api.get("/api/v1/agents/nobody/nothing/").status_code == 404


def test_status_markers_publisher_archives_operator_quarantines(api: APIClient) -> None:
    version = AgentVersionFactory.create(state=State.PUBLISHED)
    agent = version.agent
    owner = MembershipFactory.create(organization=agent.publisher, role=Role.OWNER)
    url = f"/api/v1/agents/{agent.publisher.slug}/{agent.slug}/status/"
    api.force_authenticate(owner.user)
    assert api.post(url, {"status": "deprecated"}).json()["status"] == "deprecated"
    response = api.post(url, {"status": "quarantined", "reason": "x"})
    assert response.status_code == 403
    assert _error(response)["code"] == "operator_only"
    # the operator quarantines, with a reason
    operator = OrganizationFactory.create(kind=Organization.Kind.OPERATOR)
    reviewer = MembershipFactory.create(organization=operator, role=Role.REVIEWER)
    api.force_authenticate(reviewer.user)
    assert api.post(url, {"status": "quarantined"}).status_code == 400
    assert (
        api.post(url, {"status": "quarantined", "reason": "Malware report"}).status_code
        == 200
    )
    # the publisher can neither lift it nor edit the listing
    api.force_authenticate(owner.user)
    assert api.post(url, {"status": "active"}).status_code == 403
    response = api.patch(
        f"/api/v1/agents/{agent.publisher.slug}/{agent.slug}/",
        {"name": "New"},
        format="json",
    )
    assert response.status_code == 403
    assert APIClient().get("/api/v1/agents/").json()["count"] == 0
    # the operator lifts it
    api.force_authenticate(reviewer.user)
    assert api.post(url, {"status": "active"}).json()["status"] == "active"
    assert APIClient().get("/api/v1/agents/").json()["count"] == 1


def test_strangers_cannot_set_a_status(api: APIClient) -> None:
    agent = AgentVersionFactory.create(state=State.PUBLISHED).agent
    api.force_authenticate(MembershipFactory.create(role=Role.OWNER).user)
    url = f"/api/v1/agents/{agent.publisher.slug}/{agent.slug}/status/"
    assert api.post(url, {"status": "archived"}).status_code == 403
    agent.refresh_from_db()
    assert agent.status == Agent.Status.ACTIVE
