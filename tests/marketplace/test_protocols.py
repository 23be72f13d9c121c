"""The documents other systems read, checked with those systems' own tools."""

from collections.abc import Callable

import pytest
from a2a.types import AgentCard
from a2a.utils.signing import (
    InvalidSignaturesError,
    create_signature_verifier,
)
from django.test import Client
from django.urls import reverse
from google.protobuf.json_format import ParseDict
from jwt import PyJWK

from marketplace.models import AgentVersion
from tests.marketplace.factories import AgentVersionFactory, declaration

pytestmark = pytest.mark.django_db


def _published(**agent: object) -> AgentVersion:
    return AgentVersionFactory.create(
        state=AgentVersion.State.PUBLISHED,
        declaration=declaration(
            skills=[
                {
                    "id": "reply",
                    "name": "起草回复",
                    "description": "根据邮件内容起草礼貌的中文回复。",
                    "tags": ["邮件", "客服"],
                    "examples": ["帮我回复这封投诉邮件"],
                    "permissions": ["mail.read", "mail.send"],
                }
            ]
        ),
        **{f"agent__{key}": value for key, value in agent.items()},
    )


def _verifier(client: Client) -> Callable[[AgentCard], None]:
    keys = {
        key["kid"]: PyJWK(key)
        for key in client.get("/.well-known/jwks.json").json()["keys"]
    }

    def key_provider(kid: str | None, jku: str | None) -> PyJWK:
        # Keys are pinned to the site's JWKS: a jku in the card is never followed.
        return keys[kid or ""]

    return create_signature_verifier(key_provider, ["EdDSA"])


def test_the_agent_card_parses_strictly_and_its_signature_verifies(
    client: Client,
) -> None:
    version = _published(name="邮件助手", summary="自动起草客户邮件的中文回复")
    agent = version.agent
    response = client.get(
        reverse("agent-card", args=[agent.publisher.slug, agent.slug])
    )
    assert response.status_code == 200
    card_json = response.json()
    card = ParseDict(card_json, AgentCard())  # unknown fields would raise here
    assert card.name == "邮件助手"
    assert card.description == "自动起草客户邮件的中文回复"
    assert [skill.name for skill in card.skills] == ["起草回复"]
    assert list(card.default_input_modes) == ["text/plain"]
    assert card.provider.organization == agent.publisher.name
    _verifier(client)(card)  # raises unless a signature verifies


def test_a_tampered_card_fails_verification(client: Client) -> None:
    agent = _published().agent
    card_json = client.get(
        reverse("agent-card", args=[agent.publisher.slug, agent.slug])
    ).json()
    card_json["name"] = "Someone else"
    with pytest.raises(InvalidSignaturesError):
        _verifier(client)(ParseDict(card_json, AgentCard()))


def test_each_published_version_has_its_own_card(client: Client) -> None:
    version = _published()
    agent = version.agent
    url = reverse(
        "version-agent-card", args=[agent.publisher.slug, agent.slug, version.version]
    )
    assert client.get(url).json()["version"] == version.version
    draft = AgentVersionFactory.create(agent=agent)
    url = reverse(
        "version-agent-card", args=[agent.publisher.slug, agent.slug, draft.version]
    )
    assert client.get(url).status_code == 404


def test_the_did_document_resolves_the_identifier(client: Client) -> None:
    agent = _published(publisher__slug="mingde-ai", slug="mail").agent
    document = client.get("/agents/mingde-ai/mail/did.json").json()
    assert document["id"] == "did:web:testserver:agents:mingde-ai:mail"
    jwk = client.get("/.well-known/jwks.json").json()["keys"][0]
    method = document["verificationMethod"][0]
    assert method["publicKeyJwk"]["x"] == jwk["x"]
    assert document["assertionMethod"] == [method["id"]]
    assert document["service"][0]["serviceEndpoint"].endswith(
        f"/agents/mingde-ai/{agent.slug}/agent-card.json"
    )


def test_the_lookup_record_answers_who_how_and_which_protocols(client: Client) -> None:
    version = _published()
    agent = version.agent
    record = client.get(
        reverse("agent-profile", args=[agent.publisher.slug, agent.slug])
    ).json()
    assert record["id"] == agent.identifier
    assert record["developer"]["name"] == agent.publisher.name
    assert record["deployment"] == "cloud"
    assert [p["type"] for p in record["protocols"]] == ["a2a"]
    assert record["declaration_digest"] == version.declaration_digest
    assert record["recalls"] == []


def test_unpublished_agents_have_no_public_documents(client: Client) -> None:
    agent = AgentVersionFactory.create().agent
    for name in ("agent-card", "agent-did", "agent-profile"):
        url = reverse(name, args=[agent.publisher.slug, agent.slug])
        assert client.get(url).status_code == 404, name


def test_jwks_publishes_an_ed25519_key_with_a_thumbprint_kid(client: Client) -> None:
    response = client.get("/.well-known/jwks.json")
    assert response["Access-Control-Allow-Origin"] == "*"
    (key,) = response.json()["keys"]
    assert (key["kty"], key["crv"], key["alg"]) == ("OKP", "Ed25519", "EdDSA")
    assert "d" not in key  # never the private half
    assert len(key["kid"]) == 43
