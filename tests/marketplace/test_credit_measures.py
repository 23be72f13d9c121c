"""The store applies the credit measures the ratings app records on a publisher:
suspension (unlisted, no new installs), downranking, publishing restrictions,
fast-track review, the marks on the store's pages, the credit filters of search and
the flags of the API. Each measure is set with
``organization_set_credit_measures`` and lifted again."""

from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from rest_framework.test import APIClient

from marketplace import tasks
from marketplace.exceptions import Conflict
from marketplace.models import (
    Agent,
    AgentEvent,
    AgentVersion,
    CheckResult,
    Install,
    Membership,
    Organization,
    User,
)
from marketplace.selectors.agents import agent_get_by_identifier, review_queue
from marketplace.selectors.search import agent_search, search_facets, store_front
from marketplace.services import installs as install_services
from marketplace.services import publishing
from marketplace.services.organizations import (
    organization_set_credit_grade,
    organization_set_credit_measures,
)
from tests.marketplace.factories import (
    AgentVersionFactory,
    MembershipFactory,
    OrganizationFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

State = AgentVersion.State
SCOPES = ["mail.read", "mail.send"]  # what the factory's declaration asks for


def _published(name: str, publisher: Organization | None = None, **agent: Any) -> Agent:
    fields = {f"agent__{key}": value for key, value in agent.items()}
    if publisher is not None:
        fields["agent__publisher"] = publisher
    version = AgentVersionFactory.create(
        state=State.PUBLISHED,
        agent__name=name,
        agent__age_rating=Agent.AgeRating.ALL,
        **fields,
    )
    return Agent.objects.select_related("publisher").get(pk=version.agent_id)


def _measures(publisher: Organization, **fields: Any) -> None:
    organization_set_credit_measures(organization_id=publisher.pk, **fields)
    publisher.refresh_from_db()


def _names(**criteria: Any) -> list[str]:
    return [agent.name for agent in agent_search(**criteria)]


def _api_names(api: APIClient, **params: Any) -> list[str]:
    response = api.get("/api/v1/agents/", params)
    assert response.status_code == 200, response.json()
    return [row["name"] for row in response.json()["results"]]


def _reviewer() -> User:
    operator = OrganizationFactory.create(kind=Organization.Kind.OPERATOR)
    return MembershipFactory.create(
        organization=operator, role=Membership.Role.REVIEWER
    ).user


@pytest.fixture
def api() -> APIClient:
    return APIClient(HTTP_ACCEPT_LANGUAGE="en")


@pytest.fixture
def english() -> Client:
    return Client(HTTP_ACCEPT_LANGUAGE="en")


# --- Suspension ----------------------------------------------------------------------


def test_a_suspended_publishers_agents_leave_the_store_until_the_sanction_is_lifted(
    english: Client, api: APIClient
) -> None:
    # given
    suspended = _published("Alpha helper")
    _published("Beta helper")
    publisher = suspended.publisher
    # when
    _measures(publisher, credit_suspended=True)
    # then: search, the API, the shelves and the publisher's page leave it out
    assert _names() == ["Beta helper"]
    assert _names(q="helper") == ["Beta helper"]
    assert _api_names(api) == ["Beta helper"]
    assert [agent.name for agent in store_front().newest] == ["Beta helper"]
    assert sum(row["count"] for row in search_facets()["domain"]) == 1
    page = english.get(reverse("publisher-detail", args=[publisher.slug]))
    assert page.context["page"].paginator.count == 0
    assert "Suspended by a credit sanction" in page.content.decode()
    # when: the sanction is lifted
    _measures(publisher, credit_suspended=False)
    # then
    assert _names() == ["Alpha helper", "Beta helper"]
    assert _api_names(api) == ["Alpha helper", "Beta helper"]
    page = english.get(reverse("publisher-detail", args=[publisher.slug]))
    assert page.context["page"].paginator.count == 1
    assert "Suspended by a credit sanction" not in page.content.decode()


def test_a_suspended_publishers_agent_page_warns_and_new_installs_are_refused(
    english: Client, api: APIClient
) -> None:
    # given
    agent = _published("Alpha helper")
    _measures(agent.publisher, credit_suspended=True)
    user = UserFactory.create()
    detail = reverse("agent-detail", args=[agent.publisher.slug, agent.slug])
    install_url = reverse("agent-install", args=[agent.publisher.slug, agent.slug])
    # then: the page is still there, says why, and offers no install
    html = english.get(detail).content.decode()
    assert "is suspended by a credit sanction" in html
    assert "Installs suspended" in html
    assert install_url not in html
    # the service refuses, naming the sanction
    with pytest.raises(Conflict) as refused:
        install_services.install_create(user=user, agent=agent, granted_scopes=SCOPES)
    assert refused.value.code == "publisher_suspended"
    assert "credit sanction" in refused.value.message
    # the install page says so, and a POST installs nothing
    english.force_login(user)
    assert "suspended by a credit sanction" in english.get(install_url).content.decode()
    english.post(install_url, {"scopes": SCOPES})
    # the API answers 409 with the reason
    api.force_authenticate(user)
    response = api.post(
        "/api/v1/installs/",
        {"publisher": agent.publisher.slug, "agent": agent.slug, "scopes": SCOPES},
        format="json",
    )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "publisher_suspended"
    assert not Install.objects.exists()
    # when: lifted, the install goes through and the page offers it again
    _measures(agent.publisher, credit_suspended=False)
    result = install_services.install_create(
        user=user, agent=agent, granted_scopes=SCOPES
    )
    assert result.install.state == Install.State.ACTIVE
    html = Client(HTTP_ACCEPT_LANGUAGE="en").get(detail).content.decode()
    assert install_url in html
    assert "is suspended by a credit sanction" not in html


def test_existing_installs_keep_working_under_suspension(api: APIClient) -> None:
    # given: an install made before the sanction
    agent = _published("Alpha helper")
    user = UserFactory.create()
    result = install_services.install_create(
        user=user, agent=agent, granted_scopes=SCOPES
    )
    # when
    _measures(agent.publisher, credit_suspended=True)
    # then: its runtime still gets tokens
    response = api.post(
        "/api/v1/installs/token/",
        {
            "install_id": str(result.install.public_id),
            "refresh_secret": result.refresh_secret,
        },
        format="json",
    )
    assert response.status_code == 200, response.json()
    # and the user still consents to a newer version
    AgentVersionFactory.create(agent=agent, version="2.0.0", state=State.PUBLISHED)
    moved = install_services.install_consent(
        actor=user, install=result.install, granted_scopes=SCOPES
    )
    assert moved.version.version == "2.0.0"
    # and the install's update page does not refuse it
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(user)
    page = client.get(reverse("install-update", args=[result.install.public_id]))
    assert page.status_code == 200
    assert page.context["refusal"] == ""


def test_the_lookup_still_finds_a_suspended_publishers_agent_and_says_so(
    api: APIClient,
) -> None:
    # given
    agent = _published("Alpha helper")
    _measures(agent.publisher, credit_suspended=True, dishonesty_listed=True)
    # then
    assert agent_get_by_identifier(identifier=agent.identifier) == agent
    response = api.get("/api/v1/lookup/", {"id": agent.identifier})
    assert response.status_code == 200
    developer = response.json()["developer"]
    assert developer["credit_suspended"] is True
    assert developer["dishonesty_listed"] is True
    # and the API's agent detail shows the flags
    detail = api.get(f"/api/v1/agents/{agent.publisher.slug}/{agent.slug}/").json()
    assert detail["publisher_credit_suspended"] is True
    assert detail["publisher_dishonesty_listed"] is True


# --- Downranking ---------------------------------------------------------------------


def test_downranked_publishers_come_last_under_relevance_and_on_the_shelves(
    api: APIClient,
) -> None:
    # given: Alpha would come first by name, and is the newest
    beta = _published("Beta helper")
    alpha = _published("Alpha helper")
    Agent.objects.filter(pk=beta.pk).update(rating_count=9, rating_score=4.5)
    Agent.objects.filter(pk=alpha.pk).update(rating_count=9, rating_score=4.9)
    assert _names() == ["Alpha helper", "Beta helper"]
    # when
    _measures(alpha.publisher, store_downranked=True)
    # then: the default order, with or without a query, puts it last
    assert _names() == ["Beta helper", "Alpha helper"]
    assert _names(q="helper") == ["Beta helper", "Alpha helper"]
    assert _names(q="helper", sort="relevance") == ["Beta helper", "Alpha helper"]
    assert _api_names(api) == ["Beta helper", "Alpha helper"]
    front = store_front()
    assert [agent.name for agent in front.newest] == ["Beta helper", "Alpha helper"]
    assert [a.name for a in front.top_rated] == ["Beta helper", "Alpha helper"]
    # an order the user picks is kept as asked
    assert _names(sort="name") == ["Alpha helper", "Beta helper"]
    assert _names(sort="rating") == ["Alpha helper", "Beta helper"]
    assert _api_names(api, sort="newest") == ["Alpha helper", "Beta helper"]
    # when: lifted
    _measures(alpha.publisher, store_downranked=False)
    assert _names() == ["Alpha helper", "Beta helper"]
    assert [a.name for a in store_front().top_rated] == ["Alpha helper", "Beta helper"]


# --- The credit filters --------------------------------------------------------------


def test_search_hides_dishonesty_listed_publishers_and_keeps_badge_holders(
    english: Client, api: APIClient
) -> None:
    # given
    listed = _published("Alpha helper")
    badged = _published("Beta helper")
    _published("Gamma helper")
    _measures(listed.publisher, dishonesty_listed=True)
    _measures(badged.publisher, credit_badge=True)
    everyone = ["Alpha helper", "Beta helper", "Gamma helper"]
    # then: the selector
    assert _names() == everyone
    assert _names(hide_dishonesty_listed=True) == ["Beta helper", "Gamma helper"]
    assert _names(credit_badge=True) == ["Beta helper"]
    facets = search_facets(hide_dishonesty_listed=True)
    assert sum(row["count"] for row in facets["domain"]) == 2
    # the API
    assert _api_names(api, hide_dishonesty_listed="true") == [
        "Beta helper",
        "Gamma helper",
    ]
    assert _api_names(api, credit_badge="true") == ["Beta helper"]
    assert _api_names(api, credit_badge="false") == everyone
    # the page, with its boxes ticked as asked
    page = english.get(reverse("agent-search"), {"hide_dishonesty_listed": "on"})
    assert [agent.name for agent in page.context["page"]] == [
        "Beta helper",
        "Gamma helper",
    ]
    html = page.content.decode()
    assert "Hide publishers on the dishonesty list" in html
    box = 'name="hide_dishonesty_listed" value="on" id="id_hide_dishonesty_listed"'
    assert f"{box} checked" in html
    assert 'name="credit_badge" value="on" id="id_credit_badge">' in html
    page = english.get(reverse("agent-search"), {"credit_badge": "on"})
    assert [agent.name for agent in page.context["page"]] == ["Beta helper"]
    # when: the measures are lifted, the filters let everyone through
    _measures(listed.publisher, dishonesty_listed=False)
    _measures(badged.publisher, credit_badge=False)
    assert _names(hide_dishonesty_listed=True) == everyone
    assert _names(credit_badge=True) == []


@pytest.mark.parametrize(
    "params",
    [
        {"hide_dishonesty_listed": "maybe"},
        {"credit_badge": "xyz"},
        {"credit_badge": "2"},
    ],
)
def test_bad_credit_filter_values_are_refused_by_the_api(
    api: APIClient, params: dict[str, str]
) -> None:
    _published("Alpha helper")
    response = api.get("/api/v1/agents/", params)
    assert response.status_code == 400
    assert set(response.json()["error"]["details"]) == set(params)


def test_the_search_page_and_api_keep_a_constant_query_count_with_measures(
    english: Client, api: APIClient
) -> None:
    counts: dict[str, list[int]] = {"page": [], "api": [], "front": []}
    for extra in (2, 25):
        for index in range(extra):
            agent = _published(f"Agent {extra}-{index}")
            organization_set_credit_grade(organization_id=agent.publisher_id, grade="A")
            _measures(
                agent.publisher,
                credit_outlook="stable",
                credit_on_watch=index % 2 == 0,
                store_downranked=index % 3 == 0,
                credit_badge=index % 4 == 0,
                dishonesty_listed=index % 5 == 0,
            )
        with CaptureQueriesContext(connection) as queries:
            response = english.get(
                reverse("agent-search"),
                {"q": "agent", "hide_dishonesty_listed": "on", "credit_badge": ""},
            )
            assert response.status_code == 200
        counts["page"].append(len(queries))
        with CaptureQueriesContext(connection) as queries:
            assert api.get("/api/v1/agents/", {"page_size": 50}).status_code == 200
        counts["api"].append(len(queries))
        with CaptureQueriesContext(connection) as queries:
            assert english.get("/").status_code == 200
        counts["front"].append(len(queries))
    assert "on rating watch" in response.content.decode()
    for name, (small, large) in counts.items():
        assert small == large, name


# --- Publishing ----------------------------------------------------------------------


def _draft(publisher: Organization | None = None) -> tuple[AgentVersion, User]:
    member = MembershipFactory.create(
        role=Membership.Role.OWNER,
        **({"organization": publisher} if publisher is not None else {}),
    )
    version = AgentVersionFactory.create(agent__publisher=member.organization)
    return version, member.user


def test_a_publishing_block_refuses_submission_naming_the_sanction(
    english: Client, api: APIClient
) -> None:
    # given
    version, owner = _draft()
    agent = version.agent
    _measures(agent.publisher, publishing_restriction="blocked")
    # then: the service refuses
    with pytest.raises(Conflict) as refused:
        publishing.version_submit(actor=owner, version=version)
    assert refused.value.code == "publishing_blocked"
    assert "credit sanction" in refused.value.message
    assert agent.publisher.name in refused.value.message
    # the API answers 409
    api.force_authenticate(owner)
    base = f"/api/v1/agents/{agent.publisher.slug}/{agent.slug}"
    url = f"{base}/versions/{version.version}/submit/"
    response = api.post(url)
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "publishing_blocked"
    # the console shows the message
    english.force_login(owner)
    page = english.post(
        reverse(
            "console-version-submit",
            args=[agent.publisher.slug, agent.slug, version.version],
        ),
        follow=True,
    )
    assert "blocks new versions" in page.content.decode()
    version.refresh_from_db()
    assert version.state == State.DRAFT
    # when: lifted, the version goes in
    _measures(agent.publisher, publishing_restriction="")
    assert api.post(url).json()["state"] == State.SUBMITTED


def test_a_block_imposed_after_submission_fails_the_checks_and_stops_approval() -> None:
    # given: a version submitted before the sanction
    version, owner = _draft()
    publishing.version_submit(actor=owner, version=version)
    publisher = version.agent.publisher
    _measures(publisher, publishing_restriction="blocked")
    # when: the checks run
    assert tasks.version_run_checks(version_id=version.pk) == State.REJECTED
    # then: the credit check says why
    result = CheckResult.objects.get(version=version, name="credit_standing")
    assert not result.passed
    assert "blocks new versions" in result.reason_text
    event = AgentEvent.objects.get(version=version, action="checks_failed")
    assert event.payload["failed"] == ["credit_standing"]
    assert event.payload["credit_measure"] == "blocked"
    # and a version already in review cannot be approved while it lasts
    waiting = AgentVersionFactory.create(
        agent__publisher=publisher, state=State.IN_REVIEW
    )
    reviewer = _reviewer()
    with pytest.raises(Conflict) as refused:
        publishing.version_review(actor=reviewer, version=waiting, verdict="approve")
    assert refused.value.code == "publishing_blocked"
    rejected = publishing.version_review(
        actor=reviewer, version=waiting, verdict="reject", reasons="Sanctioned."
    )
    assert rejected.state == State.REJECTED


def test_a_review_restriction_marks_the_version_and_the_queue(
    english: Client, api: APIClient
) -> None:
    # given
    version, owner = _draft()
    publisher = version.agent.publisher
    _measures(publisher, publishing_restriction="review")
    # when
    publishing.version_submit(actor=owner, version=version)
    # then: it goes to a reviewer, with the reason recorded
    assert tasks.version_run_checks(version_id=version.pk) == State.IN_REVIEW
    result = CheckResult.objects.get(version=version, name="credit_standing")
    assert result.passed
    assert result.reason_text.startswith("Credit restriction: manual review")
    event = AgentEvent.objects.get(version=version, action="checks_passed")
    assert event.payload["credit_measure"] == "review"
    # the queue marks it, on the page and in the API
    reviewer = _reviewer()
    english.force_login(reviewer)
    assert (
        "Credit restriction: manual review"
        in english.get(reverse("review-queue")).content.decode()
    )
    api.force_authenticate(reviewer)
    row = api.get("/api/v1/review-queue/").json()["results"][0]
    assert (row["credit_review"], row["fast_track"]) == (True, False)
    # when: lifted, the mark goes
    _measures(publisher, publishing_restriction="")
    assert (
        "Credit restriction: manual review"
        not in english.get(reverse("review-queue")).content.decode()
    )
    assert (
        api.get("/api/v1/review-queue/").json()["results"][0]["credit_review"] is False
    )


def test_a_publisher_without_measures_gets_no_credit_check() -> None:
    version, owner = _draft()
    publishing.version_submit(actor=owner, version=version)
    assert tasks.version_run_checks(version_id=version.pk) == State.IN_REVIEW
    assert not CheckResult.objects.filter(version=version, name="credit_standing")
    event = AgentEvent.objects.get(version=version, action="checks_passed")
    assert "credit_measure" not in event.payload


def test_fast_track_versions_come_first_in_the_review_queue(
    english: Client, api: APIClient
) -> None:
    # given: an ordinary version submitted first, a fast-track one after it
    ordinary, ordinary_owner = _draft()
    fast, fast_owner = _draft()
    _measures(fast.agent.publisher, fast_track_review=True)
    for version, owner in ((ordinary, ordinary_owner), (fast, fast_owner)):
        publishing.version_submit(actor=owner, version=version)
        tasks.version_run_checks(version_id=version.pk)
    # then: the fast-track one is marked and first
    result = CheckResult.objects.get(version=fast, name="credit_standing")
    assert result.passed
    assert result.reason_text.startswith("Fast-track review")
    reviewer = _reviewer()
    assert [v.pk for v in review_queue(actor=reviewer)] == [fast.pk, ordinary.pk]
    api.force_authenticate(reviewer)
    rows = api.get("/api/v1/review-queue/").json()["results"]
    assert [(row["agent"], row["fast_track"]) for row in rows] == [
        (fast.agent.slug, True),
        (ordinary.agent.slug, False),
    ]
    english.force_login(reviewer)
    html = english.get(reverse("review-queue")).content.decode()
    assert html.index(fast.agent.name) < html.index(ordinary.agent.name)
    assert "Fast-track review" in html
    # a restriction outweighs fast-track
    _measures(fast.agent.publisher, publishing_restriction="review")
    assert [v.pk for v in review_queue(actor=reviewer)] == [ordinary.pk, fast.pk]
    # when: fast-track is withdrawn, the queue is first come, first served
    _measures(fast.agent.publisher, fast_track_review=False, publishing_restriction="")
    assert [v.pk for v in review_queue(actor=reviewer)] == [ordinary.pk, fast.pk]


def test_the_review_queue_and_its_marks_stay_for_reviewers(api: APIClient) -> None:
    version, owner = _draft()
    _measures(version.agent.publisher, fast_track_review=True)
    AgentVersion.objects.filter(pk=version.pk).update(state=State.IN_REVIEW)
    assert api.get("/api/v1/review-queue/").status_code in (401, 403)
    api.force_authenticate(owner)
    assert api.get("/api/v1/review-queue/").status_code == 403
    api.force_authenticate(UserFactory.create())
    assert api.get("/api/v1/review-queue/").status_code == 403


# --- Marks on the pages --------------------------------------------------------------


def test_the_pages_mark_grade_outlook_watch_badge_and_dishonesty(
    english: Client, api: APIClient
) -> None:
    # given
    agent = _published("Alpha helper")
    publisher = agent.publisher
    organization_set_credit_grade(organization_id=publisher.pk, grade="AA")
    _measures(
        publisher,
        credit_outlook="stable",
        credit_on_watch=True,
        credit_badge=True,
        dishonesty_listed=True,
    )
    profile = reverse("credit-profile", args=[publisher.slug])
    pages = {
        "agent": reverse("agent-detail", args=[publisher.slug, agent.slug]),
        "publisher": reverse("publisher-detail", args=[publisher.slug]),
        "search": reverse("agent-search"),
        "store front": "/",
    }
    # then
    for name, url in pages.items():
        html = english.get(url).content.decode()
        for mark in (
            "outlook stable",
            "on rating watch",
            "Top-grade publisher",
            "On the dishonesty list",
            f'href="{profile}"',
        ):
            assert mark in html, (name, mark)
    agent_page = english.get(pages["agent"]).content.decode()
    assert "alert alert-danger credit-warning" in agent_page
    assert "list of dishonest entities" in agent_page
    # the marks read in Chinese too: the outlook's value is not shown raw
    assert ">stable<" not in agent_page
    # the API shows the same flags
    row = api.get("/api/v1/agents/").json()["results"][0]
    assert row["publisher_credit_grade"] == "AA"
    assert row["publisher_credit_outlook"] == "stable"
    assert row["publisher_on_watch"] is True
    assert row["publisher_dishonesty_listed"] is True
    assert row["publisher_credit_badge"] is True
    assert row["publisher_credit_suspended"] is False
    # when: all lifted
    _measures(
        publisher,
        credit_outlook="",
        credit_on_watch=False,
        credit_badge=False,
        dishonesty_listed=False,
    )
    for name, url in pages.items():
        html = english.get(url).content.decode()
        for mark in (
            "outlook stable",
            "on rating watch",
            "Top-grade publisher",
            "On the dishonesty list",
            "credit-warning",
        ):
            assert mark not in html, (name, mark)
    row = api.get("/api/v1/agents/").json()["results"][0]
    assert row["publisher_on_watch"] is False
    assert row["publisher_credit_outlook"] == ""


def test_an_unrated_publisher_has_no_grade_mark_or_outlook(english: Client) -> None:
    agent = _published("Alpha helper")
    _measures(agent.publisher, credit_outlook="negative")
    html = english.get(
        reverse("agent-detail", args=[agent.publisher.slug, agent.slug])
    ).content.decode()
    assert "Not credit-rated yet" in html
    assert "outlook negative" not in html
    assert "credit-grade" not in html
