"""Uploading A2A Agent Cards: round trip, v0.3 names, malformed cards, signatures."""

import copy
from typing import Any

import pytest
from a2a.types import AgentCard
from a2a.utils.signing import create_agent_card_signer
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from django.test import Client
from django.urls import reverse
from google.protobuf.json_format import MessageToDict, ParseDict
from rest_framework.test import APIClient

from config.keys import b64url
from marketplace.models import AgentVersion, Membership, PublisherKey
from marketplace.services.agents import version_update
from marketplace.services.publishing import version_review, version_submit
from marketplace.tasks import version_run_checks
from tests.marketplace.factories import (
    AgentFactory,
    MembershipFactory,
    OrganizationFactory,
)

pytestmark = pytest.mark.django_db

CARD: dict[str, Any] = {
    "name": "行程规划助手 Trip planner",
    "description": "规划行程并预订酒店 Plans trips and books hotels",
    "version": "2.1.0",
    "supportedInterfaces": [
        {
            "url": "https://trips.example.com/a2a",
            "protocolBinding": "JSONRPC",
            "protocolVersion": "1.0",
        }
    ],
    "provider": {"organization": "Wei Labs", "url": "https://wei.example"},
    "capabilities": {},
    "defaultInputModes": ["text/plain"],
    "defaultOutputModes": ["text/plain", "application/json"],
    "skills": [
        {
            "id": "plan",
            "name": "规划行程",
            "description": "Builds an itinerary",
            "tags": ["travel", "旅行"],
            "examples": ["三天的杭州行程"],
        }
    ],
}


@pytest.fixture
def owner() -> Membership:
    return MembershipFactory.create(
        role=Membership.Role.OWNER, organization__name="Wei Labs"
    )


def _import(api: APIClient, owner: Membership, card: object) -> Any:
    agent = AgentFactory.create(publisher=owner.organization)
    api.force_authenticate(owner.user)
    return api.post(
        f"/api/v1/agents/{agent.publisher.slug}/{agent.slug}/versions/import/",
        {"card": card},
        format="json",
    )


def _publish(version: AgentVersion, owner: Membership) -> None:
    # An A2A card says nothing of pricing: the publisher declares it on the draft.
    version_update(
        actor=owner.user,
        version=version,
        declaration={
            **version.declaration,
            "pricing": {"model": "free", "inAppPurchases": {"offered": False}},
        },
        changelog=version.changelog,
    )
    version_submit(actor=owner.user, version=version)
    version_run_checks(version_id=version.pk)
    reviewer = MembershipFactory.create(
        organization=OrganizationFactory.create(kind="operator"), role="reviewer"
    )
    version_review(actor=reviewer.user, version=version, verdict="approve")


def test_an_imported_card_comes_back_out_with_the_same_content(
    owner: Membership, client: Client
) -> None:
    response = _import(APIClient(), owner, CARD)
    assert response.status_code == 201, response.json()
    version = AgentVersion.objects.get(version="2.1.0")
    _publish(version, owner)
    agent = version.agent
    exported = client.get(
        reverse("agent-card", args=[agent.publisher.slug, agent.slug])
    ).json()
    for key in ("name", "description", "defaultInputModes", "defaultOutputModes"):
        assert exported[key] == CARD[key], key
    assert exported["skills"] == CARD["skills"]
    assert exported["provider"]["organization"] == CARD["provider"]["organization"]
    assert exported["supportedInterfaces"][0]["url"] == "https://trips.example.com/a2a"


def test_a_v03_card_is_accepted(owner: Membership) -> None:
    card = copy.deepcopy(CARD)
    interface = card.pop("supportedInterfaces")[0]
    card.update(
        url=interface["url"], preferredTransport="JSONRPC", protocolVersion="0.3.0"
    )
    response = _import(APIClient(), owner, card)
    assert response.status_code == 201
    declaration = response.json()["declaration"]
    assert declaration["protocols"] == [
        {"type": "a2a", "version": "0.3.0", "url": "https://trips.example.com/a2a"}
    ]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda c: c.pop("name"), "card.name"),
        (lambda c: c.update(skills=[]), "card.skills"),
        (lambda c: c["skills"][0].pop("description"), "card.skills.0.description"),
        (lambda c: c.update(defaultInputModes="text/plain"), "card.defaultInputModes"),
        (
            lambda c: c.update(supportedInterfaces=[{}]),
            "card.supportedInterfaces.0.url",
        ),
        (
            lambda c: c.update(provider={"organization": "Not Wei"}),
            "card.provider.organization",
        ),
    ],
)
def test_malformed_cards_are_refused_naming_the_problem(
    owner: Membership, change: Any, field: str
) -> None:
    card = copy.deepcopy(CARD)
    change(card)
    response = _import(APIClient(), owner, card)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_agent_card"
    assert field in error["details"]
    assert not AgentVersion.objects.exists()


def test_a_card_that_is_not_an_object_is_refused(owner: Membership) -> None:
    response = _import(APIClient(), owner, ["not", "a", "card"])
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_agent_card"


def _signed(card: dict[str, Any], key: Ed25519PrivateKey, kid: str) -> dict[str, Any]:
    """Sign with the A2A SDK's own signer, as a publisher's tooling would."""
    from jwt import PyJWK

    raw = key.private_bytes_raw()
    public = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    jwk = PyJWK({"kty": "OKP", "crv": "Ed25519", "d": b64url(raw), "x": b64url(public)})
    signer = create_agent_card_signer(
        jwk, {"alg": "EdDSA", "kid": kid, "typ": "JOSE", "jku": None}
    )
    proto = signer(ParseDict(card, AgentCard()))
    return MessageToDict(proto)


def test_a_card_signed_with_a_registered_key_is_accepted(owner: Membership) -> None:
    key = Ed25519PrivateKey.generate()
    public = b64url(key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))
    api = APIClient()
    api.force_authenticate(owner.user)
    response = api.post(
        f"/api/v1/organizations/{owner.organization.slug}/keys/",
        {"public_key": public, "name": "CI"},
        format="json",
    )
    assert response.status_code == 201
    kid = response.json()["kid"]
    response = _import(api, owner, _signed(CARD, key, kid))
    assert response.status_code == 201, response.json()


def test_a_card_with_a_wrong_signature_is_refused(owner: Membership) -> None:
    registered = Ed25519PrivateKey.generate()
    public = b64url(
        registered.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    )
    from marketplace.services.organizations import publisher_key_add

    kid = publisher_key_add(
        actor=owner.user, organization=owner.organization, public_key=public
    ).kid
    # signed by another key under the registered kid
    forged = _signed(CARD, Ed25519PrivateKey.generate(), kid)
    response = _import(APIClient(), owner, forged)
    assert response.status_code == 400
    assert "card.signatures" in response.json()["error"]["details"]
    # and a genuinely signed card altered afterwards
    tampered = _signed(CARD, registered, kid)
    tampered["name"] = "Something else"
    response = _import(APIClient(), owner, tampered)
    assert response.status_code == 400
    assert not AgentVersion.objects.exists()


def test_keys_are_managed_by_owners_and_admins_only() -> None:
    member = MembershipFactory.create(role=Membership.Role.MEMBER)
    api = APIClient()
    api.force_authenticate(member.user)
    public = b64url(
        Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(Encoding.Raw, PublicFormat.Raw)
    )
    url = f"/api/v1/organizations/{member.organization.slug}/keys/"
    assert api.post(url, {"public_key": public}, format="json").status_code == 403
    assert api.get(url).status_code == 200
    api.force_authenticate(MembershipFactory.create().user)
    assert api.get(url).status_code == 403
    assert not PublisherKey.objects.exists()


def test_a_malformed_key_is_a_400(owner: Membership) -> None:
    api = APIClient()
    api.force_authenticate(owner.user)
    url = f"/api/v1/organizations/{owner.organization.slug}/keys/"
    for bad in ("not base64 !!", "AAAA"):
        response = api.post(url, {"public_key": bad}, format="json")
        assert response.status_code == 400
        assert "public_key" in response.json()["error"]["details"]
