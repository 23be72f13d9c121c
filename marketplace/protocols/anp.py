"""The ANP agent description (ANP-07, Agent Description Protocol) of a published
version: the JSON-LD document (``@context``, ``@type: ad:AgentDescription``, ``@id``)
of the specification's first releases, which also carries the header fields that its
release 1.1 requires (``protocolType``, ``protocolVersion``, ``type``), so that
readers of either generation take it.

One interface per protocol the declaration lists. Its ``url`` is where the interface
is described: the version's signed A2A card for A2A, its server.json for MCP, the
declared address otherwise. A2A and ACPs' AIP exchange messages in natural language;
the others are structured interfaces. ``humanAuthorization`` marks every interface
when the declaration asks for a permission that only the user may exercise or that
needs the user's confirmation per action.

Two things are left out rather than made up: the registry does not know how the
agent authenticates its callers, so ``securityDefinitions`` is empty and no
``security`` is named; and it signs nothing here, so there is no ``proof``.
"""

from datetime import UTC
from typing import Any

from django.urls import reverse

from config.site import absolute_url
from marketplace.models import AgentVersion

CONTEXT = {
    "@vocab": "https://schema.org/",
    "did": "https://w3id.org/did#",
    "ad": "https://agent-network-protocol.com/ad#",
}
ANP_VERSION = "1.0.0"
PROTOCOL_NAMES = {
    "a2a": "A2A",
    "mcp": "MCP",
    "aip": "AIP",
    "openapi": "OpenAPI",
    "anp": "ANP",
    "other": "other",
}
NATURAL_LANGUAGE = frozenset({"a2a", "aip"})
NEEDS_THE_USER = frozenset({"user_only", "user_authorised"})


def _utc(version: AgentVersion) -> str | None:
    if version.published_at is None:
        return None
    moment = version.published_at.astimezone(UTC).isoformat(timespec="seconds")
    return moment.replace("+00:00", "Z")


def agent_description(version: AgentVersion) -> dict[str, Any]:
    agent = version.agent
    publisher = agent.publisher
    declaration = version.declaration
    args = [publisher.slug, agent.slug, version.version]
    needs_the_user = any(
        permission["authority"] in NEEDS_THE_USER
        for permission in declaration["permissions"]
    )
    interfaces = []
    for protocol in declaration["protocols"]:
        kind = protocol["type"]
        if kind == "a2a":
            url = absolute_url(reverse("version-agent-card", args=args))
        elif kind == "mcp":
            url = absolute_url(reverse("version-server-json", args=args))
        else:
            url = protocol.get("url") or declaration["endpoint"]
        name = (
            "NaturalLanguageInterface"
            if kind in NATURAL_LANGUAGE
            else "StructuredInterface"
        )
        interface: dict[str, Any] = {
            "@type": f"ad:{name}",
            "type": name,
            "protocol": PROTOCOL_NAMES[kind],
        }
        if protocol.get("version"):
            interface["version"] = protocol["version"]
        interface["url"] = url
        if needs_the_user:
            interface["humanAuthorization"] = True
        interfaces.append(interface)
    address = absolute_url(reverse("version-agent-description", args=args))
    organization = absolute_url(reverse("organization-detail", args=[publisher.slug]))
    document: dict[str, Any] = {
        "@context": CONTEXT,
        "@type": "ad:AgentDescription",
        "@id": address,
        "protocolType": "ANP",
        "protocolVersion": ANP_VERSION,
        "type": "AgentDescription",
        "url": address,
        "name": agent.name,
        "did": agent.identifier,
        "owner": {
            "@type": "Organization",
            "@id": organization,
            "type": "Organization",
            "name": publisher.name,
            "url": publisher.website or organization,
        },
        "description": agent.description.strip() or agent.summary,
        "version": version.version,
        "created": _utc(version),
        "securityDefinitions": {},
        "interfaces": interfaces,
    }
    return document
