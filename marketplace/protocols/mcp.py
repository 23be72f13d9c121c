"""The MCP registry's ``server.json`` of a published version whose declaration lists
the ``mcp`` protocol, in the format of the official registry
(https://static.modelcontextprotocol.io/schemas/2025-12-11/server.schema.json).

``name`` is reverse-DNS: the namespace is the site's host without its port, its
labels reversed (store.example.com -> com.example.store), because that is the
namespace the site can prove it controls; the server name is
``<publisher>.<agent>``, unambiguous since slugs hold no dots. The registry's own
facts about the listing go under ``_meta``, keyed ``<namespace>/registry``.
"""

import re
import unicodedata
from typing import Any

from django.conf import settings
from django.urls import reverse

from config.site import absolute_url
from marketplace.models import AgentVersion

SCHEMA = "https://static.modelcontextprotocol.io/schemas/2025-12-11/server.schema.json"
DESCRIPTION_MAX = 100  # the schema's maxLength of description and title
ELLIPSIS = "…"
# The MCP revision that used HTTP with Server-Sent Events; streamable HTTP replaced
# it in 2025-03-26.
SSE_REVISIONS = frozenset({"2024-11-05"})
_REMOTE_URL = re.compile(r"^https?://[^\s]+$")  # the schema's pattern of remote URLs
_NOT_IN_NAMESPACE = re.compile(r"[^a-zA-Z0-9.-]+")
# Where a cut may fall: after white space or after punctuation, Chinese included.
_BREAK_AFTER = frozenset(" \t\n，。；：、！？,.;:!?）)」』】")


def mcp_protocol(version: AgentVersion) -> dict[str, str] | None:
    """The declaration's ``mcp`` entry, or None when the version does not speak MCP."""
    return next(
        (p for p in version.declaration["protocols"] if p["type"] == "mcp"), None
    )


def namespace() -> str:
    """The site host without its port, labels reversed: com.example.store."""
    host = settings.SITE_HOST.lower()
    if host.startswith("["):  # an IPv6 literal
        host = host[1 : host.find("]")] if "]" in host else host[1:]
    else:
        host = host.rsplit(":", 1)[0] if ":" in host else host
    labels = [
        _NOT_IN_NAMESPACE.sub("-", label).strip("-")
        for label in re.split(r"[.:]", host)
    ]
    return ".".join(reversed([label for label in labels if label])) or "localhost"


def server_name(version: AgentVersion) -> str:
    agent = version.agent
    return f"{namespace()}/{agent.publisher.slug}.{agent.slug}"


def clip(text: str, limit: int = DESCRIPTION_MAX) -> str:
    """``text`` in at most ``limit`` characters: whole when it fits, else cut after
    the last space or punctuation mark in its second half (or, in text without any,
    such as a long Chinese phrase, between two characters) and ended with "…"."""
    text = " ".join(unicodedata.normalize("NFC", text).split())
    if len(text) <= limit:
        return text
    room = text[: limit - len(ELLIPSIS)]
    cut = max(
        (i + 1 for i, char in enumerate(room) if char in _BREAK_AFTER),
        default=0,
    )
    if cut < len(room) // 2:
        cut = len(room)
    return room[:cut].rstrip(" \t\n，。；：、！？,.;:!?") + ELLIPSIS


def server_json(version: AgentVersion) -> dict[str, Any]:
    """The server.json of ``version``; call only when ``mcp_protocol`` finds one."""
    agent = version.agent
    declaration = version.declaration
    protocol = mcp_protocol(version) or {}
    url = protocol.get("url") or declaration["endpoint"]
    revision = protocol.get("version", "")
    transport = (
        "sse"
        if revision in SSE_REVISIONS or "sse" in revision.lower()
        else "streamable-http"
    )
    page = absolute_url(
        reverse("agent-detail", args=[agent.publisher.slug, agent.slug])
    )
    facts: dict[str, Any] = {
        "did": agent.identifier,
        "declarationDigest": version.declaration_digest,
        "status": version.state,
        "publishedAt": (
            version.published_at.isoformat(timespec="seconds")
            if version.published_at
            else None
        ),
        "isLatest": agent.latest_version_id == version.pk,
        "listing": page,
        "profile": absolute_url(
            reverse("agent-profile", args=[agent.publisher.slug, agent.slug])
        ),
    }
    if agent.aic:
        facts["aic"] = agent.aic
    document: dict[str, Any] = {
        "$schema": SCHEMA,
        "name": server_name(version),
        "title": clip(agent.name),
        "description": clip(agent.summary) or clip(agent.name),
        "version": version.version,
        "websiteUrl": agent.homepage or page,
    }
    if _REMOTE_URL.match(url):
        document["remotes"] = [{"type": transport, "url": url}]
    document["_meta"] = {f"{namespace()}/registry": facts}
    return document
