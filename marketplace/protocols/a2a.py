"""The A2A Agent Card (v1.0 field names) of a published version, signed by the site
as A2A's ``signatures`` field defines: a JWS whose payload is the RFC 8785 canonical
card without its signatures and without empty values."""

from typing import Any

from django.conf import settings
from django.urls import reverse

from config.keys import canonical_json, sign_compact_jws
from marketplace.models import AgentVersion


def _absolute(path: str) -> str:
    return f"{settings.SITE_SCHEME}://{settings.SITE_HOST}{path}"


def _without_empty(value: Any) -> Any:
    """Drop empty strings, lists and objects, as the card's canonical form does."""
    if isinstance(value, dict):
        cleaned = {
            k: c for k, v in value.items() if (c := _without_empty(v)) is not None
        }
        return cleaned or None
    if isinstance(value, list):
        items = [c for v in value if (c := _without_empty(v)) is not None]
        return items or None
    if value == "":
        return None
    return value


def agent_card(version: AgentVersion) -> dict[str, Any]:
    agent = version.agent
    declaration = version.declaration
    a2a: dict[str, str] = next(
        (p for p in declaration["protocols"] if p["type"] == "a2a"), {}
    )
    card = {
        "name": agent.name,
        "description": agent.summary,
        "version": version.version,
        "supportedInterfaces": [
            {
                "url": a2a.get("url") or declaration["endpoint"],
                "protocolBinding": "JSONRPC",
                "protocolVersion": a2a.get("version") or "1.0",
            }
        ],
        "provider": {
            "organization": agent.publisher.name,
            "url": agent.publisher.website
            or _absolute(reverse("organization-detail", args=[agent.publisher.slug])),
        },
        "documentationUrl": agent.homepage,
        "capabilities": {},
        "defaultInputModes": declaration["inputModes"],
        "defaultOutputModes": declaration["outputModes"],
        "skills": [
            {
                "id": skill["id"],
                "name": skill["name"],
                "description": skill["description"],
                "tags": skill.get("tags") or [skill["id"]],
                "examples": skill.get("examples", []),
            }
            for skill in declaration["skills"]
        ],
    }
    cleaned: dict[str, Any] = _without_empty(card)
    return cleaned


def signed_agent_card(version: AgentVersion) -> dict[str, Any]:
    card = agent_card(version)
    protected, _payload, signature = sign_compact_jws(canonical_json(card))
    return {**card, "signatures": [{"protected": protected, "signature": signature}]}
