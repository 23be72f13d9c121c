"""The A2A Agent Card (v1.0 field names) of a published version, signed by the site
as A2A's ``signatures`` field defines: a JWS whose payload is the RFC 8785 canonical
card without its signatures and without empty values."""

import json
from dataclasses import dataclass
from typing import Any

from django.urls import reverse
from django.utils.translation import gettext as _

from config.keys import (
    b64url_decode,
    canonical_json,
    sign_compact_jws,
    verify_compact_jws,
)
from config.site import absolute_url
from marketplace.exceptions import InvalidAgentCard
from marketplace.models import AgentVersion


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
            or absolute_url(
                reverse("organization-detail", args=[agent.publisher.slug])
            ),
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


@dataclass(frozen=True)
class ImportedCard:
    name: str
    description: str
    version: str
    provider: str
    declaration: dict[str, Any]
    signatures: list[dict[str, Any]]


def _problem(path: str, message: str) -> InvalidAgentCard:
    return InvalidAgentCard(
        _("The agent card is not valid: %(path)s: %(message)s")
        % {"path": path, "message": message},
        details={f"card.{path}" if path else "card": [message]},
    )


def _text(card: dict[str, Any], key: str, path: str | None = None) -> str:
    value = card.get(key)
    if not isinstance(value, str) or not value.strip():
        raise _problem(path or key, _("a non-empty string is required"))
    return value.strip()


def _strings(card: dict[str, Any], key: str) -> list[str]:
    value = card.get(key)
    if (
        not isinstance(value, list)
        or not value
        or not all(isinstance(item, str) and item for item in value)
    ):
        raise _problem(key, _("a non-empty list of strings is required"))
    return value


def card_import(card: object, *, deployment: str = "cloud") -> ImportedCard:
    """Read an A2A Agent Card: v1.0 field names, or the v0.3 names (``url``,
    ``preferredTransport``, ``protocolVersion``) of cards written before it."""
    if not isinstance(card, dict):
        raise _problem("", _("a JSON object is required"))
    interfaces = card.get("supportedInterfaces")
    if interfaces is not None:
        if not isinstance(interfaces, list) or not interfaces:
            raise _problem("supportedInterfaces", _("a non-empty list is required"))
        first = interfaces[0]
        if not isinstance(first, dict):
            raise _problem("supportedInterfaces.0", _("an object is required"))
        url = _text(first, "url", "supportedInterfaces.0.url")
        protocol_version = str(first.get("protocolVersion") or "1.0")
    else:  # v0.3
        url = _text(card, "url")
        protocol_version = str(card.get("protocolVersion") or "0.3.0")
    skills_in = card.get("skills")
    if not isinstance(skills_in, list) or not skills_in:
        raise _problem("skills", _("a non-empty list is required"))
    skills = []
    for index, skill in enumerate(skills_in):
        path = f"skills.{index}"
        if not isinstance(skill, dict):
            raise _problem(path, _("an object is required"))
        imported: dict[str, Any] = {
            "id": _text(skill, "id", f"{path}.id"),
            "name": _text(skill, "name", f"{path}.name"),
            "description": _text(skill, "description", f"{path}.description"),
        }
        for key in ("tags", "examples"):
            if skill.get(key):
                imported[key] = [str(item) for item in skill[key]]
        skills.append(imported)
    provider = card.get("provider") or {}
    if not isinstance(provider, dict):
        raise _problem("provider", _("an object is required"))
    signatures = card.get("signatures") or []
    if not isinstance(signatures, list) or not all(
        isinstance(s, dict) for s in signatures
    ):
        raise _problem("signatures", _("a list of objects is required"))
    declaration = {
        "skills": skills,
        "inputModes": _strings(card, "defaultInputModes"),
        "outputModes": _strings(card, "defaultOutputModes"),
        "protocols": [{"type": "a2a", "version": protocol_version, "url": url}],
        "endpoint": url,
        "deployment": deployment,
        "permissions": [],
        "dependencies": {},
    }
    return ImportedCard(
        name=_text(card, "name"),
        description=_text(card, "description"),
        version=_text(card, "version"),
        provider=str(provider.get("organization", "")),
        declaration=declaration,
        signatures=signatures,
    )


def card_signature_valid(card: dict[str, Any], *, keys: dict[str, str]) -> bool:
    """Whether one of the card's signatures verifies with one of ``keys`` (kid ->
    public key); the canonical form is the card without signatures and without
    empty values, as A2A signs it."""
    unsigned = _without_empty({k: v for k, v in card.items() if k != "signatures"})
    payload = canonical_json(unsigned)
    for entry in card.get("signatures") or []:
        protected, signature = entry.get("protected"), entry.get("signature")
        if not isinstance(protected, str) or not isinstance(signature, str):
            continue
        try:
            header = json.loads(b64url_decode(protected))
        except ValueError:
            continue
        if not isinstance(header, dict) or header.get("alg") != "EdDSA":
            continue
        key = keys.get(str(header.get("kid")))
        if key and verify_compact_jws(protected, payload, signature, key):
            return True
    return False
