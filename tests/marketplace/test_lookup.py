"""Looking an agent up by its did:web identifier or its ACPs identity code."""

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from marketplace.exceptions import ApplicationError, NotFound
from marketplace.models import Agent, AgentVersion
from marketplace.selectors.agents import agent_get_by_identifier
from tests.marketplace.factories import AgentVersionFactory

pytestmark = pytest.mark.django_db

State = AgentVersion.State
API = "/api/v1/lookup/"


def _published(**agent: Any) -> Agent:
    version = AgentVersionFactory.create(
        state=State.PUBLISHED, **{f"agent__{k}": v for k, v in agent.items()}
    )
    return version.agent


MALFORMED = [
    "hello",
    "did:web:testserver:agents:only-publisher",
    "did:web:testserver:agents:pub:agent:extra",
    "did:web:testserver:people:wei-labs:trip",
    "did:web::agents:wei-labs:trip",
    "did:web:testserver:agents:Wei_Labs:trip",
    "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK",
    "1",
    "3.1.2",
    "1.2.",
    "foo.bar",
    "1.2.3-4",
    "urn:oid:1.two.3",
    "１.２.３",
    "1.2." + "3" * 500,
]


# The selector


def test_a_did_web_identifier_finds_its_agent() -> None:
    agent = _published()
    assert agent_get_by_identifier(identifier=agent.identifier) == agent
    assert agent_get_by_identifier(identifier=f"  {agent.identifier}\n") == agent


def test_a_host_with_a_port_is_matched_percent_encoded(
    settings: Any,
) -> None:
    settings.SITE_HOST = "Store.example:8443"
    agent = _published()
    assert "Store.example%3A8443" in agent.identifier
    lower = agent.identifier.replace("%3A", "%3a").replace("Store", "store")
    assert agent_get_by_identifier(identifier=agent.identifier) == agent
    assert agent_get_by_identifier(identifier=lower) == agent


def test_an_acps_identity_code_finds_its_agent_with_or_without_urn() -> None:
    agent = _published(aic="1.2.156.3088.1.42")
    _published(aic="1.2.156.3088.1.4")
    assert agent_get_by_identifier(identifier="1.2.156.3088.1.42") == agent
    assert agent_get_by_identifier(identifier="urn:oid:1.2.156.3088.1.42") == agent
    assert agent_get_by_identifier(identifier="URN:OID:1.2.156.3088.1.42") == agent
    assert agent_get_by_identifier(identifier="1.2.156.3088.1.43") is None


def test_an_acps_code_with_base_36_levels_is_found_in_any_case() -> None:
    code = "1.2.156.3088.1.1.34C2.478BDF.0.0JU4"
    agent = _published(aic=code)
    assert agent_get_by_identifier(identifier=code) == agent
    assert agent_get_by_identifier(identifier=f"urn:oid:{code.lower()}") == agent


def test_quarantined_and_unpublished_agents_are_not_found() -> None:
    quarantined = _published(status=Agent.Status.QUARANTINED, aic="1.2.3.1")
    draft = AgentVersionFactory.create(agent__aic="1.2.3.2").agent
    for agent in (quarantined, draft):
        assert agent_get_by_identifier(identifier=agent.identifier) is None
        assert agent_get_by_identifier(identifier=str(agent.aic)) is None


@pytest.mark.parametrize("identifier", MALFORMED)
def test_malformed_identifiers_are_refused(identifier: str) -> None:
    with pytest.raises(ApplicationError) as caught:
        agent_get_by_identifier(identifier=identifier)
    assert caught.value.code == "malformed_identifier"
    assert caught.value.status_code == 400


def test_an_identifier_of_another_host_is_not_from_this_registry() -> None:
    with pytest.raises(NotFound) as caught:
        agent_get_by_identifier(
            identifier="did:web:other.example:agents:wei-labs:trip-planner"
        )
    assert caught.value.code == "not_from_this_registry"


# The API


def test_the_api_answers_with_the_lookup_record(client: Client) -> None:
    # given
    agent = _published(aic="1.2.156.3088.1.7")
    profile = client.get(
        reverse("agent-profile", args=[agent.publisher.slug, agent.slug])
    ).json()

    # when
    by_did = APIClient().get(API, {"id": agent.identifier})
    by_aic = APIClient().get(API, {"id": "urn:oid:1.2.156.3088.1.7"})

    # then
    assert by_did.status_code == by_aic.status_code == 200
    assert by_did.json() == by_aic.json() == profile
    record = by_did.json()
    assert record["id"] == agent.identifier
    assert record["developer"]["slug"] == agent.publisher.slug
    assert record["deployment"] == "cloud"
    assert record["protocols"][0]["type"] == "a2a"
    for key in ("certificates", "recalls", "sanctions"):
        assert record[key] == []


def test_the_api_says_why_an_identifier_is_not_found() -> None:
    api = APIClient(HTTP_ACCEPT_LANGUAGE="en")
    quarantined = _published(status=Agent.Status.QUARANTINED)

    unknown = api.get(API, {"id": "did:web:testserver:agents:nobody:nothing"})
    hidden = api.get(API, {"id": quarantined.identifier})
    foreign = api.get(API, {"id": "did:web:other.example:agents:wei-labs:trip"})

    assert unknown.status_code == hidden.status_code == foreign.status_code == 404
    assert unknown.json()["error"]["code"] == "not_found"
    assert hidden.json() == unknown.json()
    assert foreign.json()["error"]["code"] == "not_from_this_registry"
    assert "not from this registry" in foreign.json()["error"]["message"]


@pytest.mark.parametrize("identifier", [*MALFORMED, "x" * 501])
def test_the_api_refuses_malformed_identifiers(identifier: str) -> None:
    response = APIClient().get(API, {"id": identifier})
    assert response.status_code == 400
    assert "id" in response.json()["error"]["details"]


def test_the_api_needs_an_identifier() -> None:
    for query in ({}, {"id": ""}):
        response = APIClient().get(API, query)
        assert response.status_code == 400
        assert "id" in response.json()["error"]["details"]


def test_the_api_runs_a_fixed_number_of_queries(
    django_assert_num_queries: Any,
) -> None:
    from tests.marketplace.certification_fixtures import (
        make_body,
        make_certificate,
        make_scheme,
    )

    identifier = _published().identifier
    # the agent with its publisher, domain and latest version; its certificates
    with django_assert_num_queries(2):
        assert APIClient().get(API, {"id": identifier}).status_code == 200
    body = make_body()
    certified = make_certificate(body, make_scheme(body)).agent
    make_certificate(body, make_scheme(body, code="second"), certified.latest_version)
    with django_assert_num_queries(2):
        response = APIClient().get(API, {"id": certified.identifier})
    assert len(response.json()["certificates"]) == 2


# The page


def test_the_page_starts_with_an_empty_form(client: Client) -> None:
    for query in ({}, {"id": "  "}):
        response = client.get(reverse("agent-lookup"), query)
        assert response.status_code == 200
        assert response.context["record"] is None
        assert not response.context["form"].errors
        assert 'name="id"' in response.content.decode()


def test_the_page_shows_the_record_of_the_agent(client: Client) -> None:
    # given
    agent = _published(name="Trip planner", aic="1.2.156.3088.1.9")
    agent.publisher.credit_grade = "A"
    agent.publisher.save()

    # when
    response = client.get(reverse("agent-lookup"), {"id": "1.2.156.3088.1.9"})

    # then
    assert response.status_code == 200
    html = response.content.decode()
    for text in (
        "Trip planner",
        agent.identifier,
        agent.publisher.name,
        reverse("publisher-detail", args=[agent.publisher.slug]),
        reverse("agent-profile", args=[agent.publisher.slug, agent.slug]),
        "Cloud service",
        "A2A",
        "https://agent.example.com/a2a",
        "<strong>A</strong>",
    ):
        assert text in html, text


def test_the_page_says_when_no_agent_has_the_identifier(client: Client) -> None:
    draft = AgentVersionFactory.create().agent

    for identifier in ("did:web:testserver:agents:nobody:nothing", draft.identifier):
        response = client.get(reverse("agent-lookup"), {"id": identifier})
        assert response.status_code == 404
        assert "No agent has this identifier." in response.content.decode()
        assert response.context["record"] is None


def test_the_page_says_when_an_identifier_is_from_elsewhere(client: Client) -> None:
    response = client.get(
        reverse("agent-lookup"), {"id": "did:web:other.example:agents:a-b:c-d"}
    )
    assert response.status_code == 404
    assert "not from this registry" in response.content.decode()


@pytest.mark.parametrize("identifier", ["hello", "1.2.", "x" * 501])
def test_the_page_refuses_malformed_identifiers(
    client: Client, identifier: str
) -> None:
    response = client.get(reverse("agent-lookup"), {"id": identifier})
    assert response.status_code == 400
    assert response.context["form"].errors["id"]
    assert response.context["record"] is None


def test_the_lookup_is_in_the_site_navigation(client: Client) -> None:
    html = client.get("/").content.decode()
    assert f'href="{reverse("agent-lookup")}"' in html


def test_the_lookup_record_names_the_publishers_standing(client: Client) -> None:
    # given
    agent = _published(name="Trip planner")
    publisher = agent.publisher
    publisher.credit_grade = "AA"
    publisher.domain = "trips.example.com"
    publisher.domain_verified_at = timezone.now()
    publisher.save()
    # when
    record = client.get(
        reverse("agent-profile", args=[publisher.slug, agent.slug])
    ).json()
    # then
    assert record["developer"]["credit_grade"] == "AA"
    assert record["developer"]["domain"] == "trips.example.com"
    assert record["developer"]["verified"] is False
    assert record["developer"]["profile"].endswith(
        reverse("publisher-detail", args=[publisher.slug])
    )


def test_the_page_names_the_domain_the_publisher_proved_only(client: Client) -> None:
    # given: a claim not yet proved
    agent = _published(aic="1.2.156.3088.1.9")
    publisher = agent.publisher
    publisher.domain = "trips.example.com"
    publisher.save()
    url = reverse("agent-lookup")
    html = client.get(url, {"id": "1.2.156.3088.1.9"}).content.decode()
    assert "trips.example.com" not in html
    # when: proved
    publisher.domain_verified_at = timezone.now()
    publisher.save()
    html = client.get(url, {"id": "1.2.156.3088.1.9"}).content.decode()
    # then
    assert "Controls the domain trips.example.com" in html


def test_the_lookup_record_lists_the_latest_versions_certificates(
    client: Client,
) -> None:
    from tests.marketplace.certification_fixtures import (
        make_body,
        make_certificate,
        make_scheme,
    )

    body = make_body()
    certificate = make_certificate(body, make_scheme(body), level="enhanced")
    agent = certificate.agent
    record = client.get(
        f"/agents/{agent.publisher.slug}/{agent.slug}/profile.json"
    ).json()
    [listed] = record["certificates"]
    assert listed["serial"] == certificate.serial
    assert listed["level"] == "enhanced"
    assert listed["state"] == "valid"
    assert listed["credential"].endswith(
        f"/certificates/{certificate.serial}/credential.jwt"
    )
