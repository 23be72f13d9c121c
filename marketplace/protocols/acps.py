"""The registry as an ACPs agent registration service provider (ACPs v02.02): the
agent identity code (AIC) it gives an agent, and the Agent Capability Specification
(ACS) of a published version.

An AIC (ACPs-spec-AIC v02.02, section 3) is ten dot-separated levels of digits and
upper-case letters:

    1.2.156.3088 . 1 . 1 . 34C2 . 478BDF . 0 . 0JU4
    prefix (1-4)   |   |   |      |        |   check characters (10)
                   |   |   |      |        entity serial (9): 0 for an ontology
                   |   |   |      agent ontology serial (8)
                   |   |   agent provider index (7)
                   |   registrar index (6)
                   AIC version (5)

ACPS_REGISTRAR_OID holds levels 1-6, the arc the operator was given. The registry
fills level 7 with the publisher's primary key and level 8 with the agent's, both in
base 36 (the spec's ranges 1-ZZZZZZ and 1-ZZZZZZZZZ are base-36 numbers): both keys
are unique and never reused, so the code is unique and needs no counter of its own. A
listed agent is an agent ontology, the template that installs are made from, so level
9 is 0 (section 3, item 9). Level 10 is the spec's check code (section 4): CRC-16/
CCITT-FALSE over the upper-cased levels 1-9 followed by the registrar's salt
(ACPS_AIC_SALT), written as four base-36 characters.

The overview document (ACPs-spec-overview v02.02, section 5.2) shows an older order of
the levels, with the version at level 9; the AIC specification itself, which defines
the check code, is followed here.
"""

from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.urls import reverse
from django.utils import timezone

from config.site import absolute_url
from marketplace.models import Agent, AgentVersion

PROTOCOL_VERSION = "02.02"
ONTOLOGY_ENTITY = "0"
_DIGITS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
MAX_PROVIDER_INDEX = 36**6 - 1  # ZZZZZZ
MAX_ONTOLOGY_SERIAL = 36**9 - 1  # ZZZZZZZZZ

# The ACS names transports, not protocols: A2A, MCP and ACPs' own AIP are JSON-RPC
# 2.0 over HTTP; the others are plain HTTP with JSON bodies.
_TRANSPORTS = {"a2a": "JSONRPC", "mcp": "JSONRPC", "aip": "JSONRPC"}
_DEFAULT_TRANSPORT = "HTTP_JSON"


def base36(number: int, *, width: int = 1) -> str:
    """``number`` in upper-case base 36, left-padded with 0 to ``width``."""
    if number < 0:
        raise ValueError("base36 takes a non-negative number")
    digits = ""
    while number:
        number, rest = divmod(number, 36)
        digits = _DIGITS[rest] + digits
    return digits.rjust(width, "0")


def crc16_ccitt_false(data: bytes) -> int:
    """CRC-16/CCITT-FALSE: polynomial 0x1021, initial 0xFFFF, no reflection, no
    final XOR (AUTOSAR's CRC library, as ACPs-spec-AIC section 4.1 names it)."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte << 8
        for _bit in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else (crc << 1)
            crc &= 0xFFFF
    return crc


def aic_check_code(data_code: str, *, salt: bytes) -> str:
    """The four check characters (level 10) of the levels 1-9 in ``data_code``."""
    return base36(crc16_ccitt_false(data_code.upper().encode("ascii") + salt), width=4)


def aic_valid(code: str, *, salt: bytes) -> bool:
    """Whether the last level of ``code`` is the check code of the levels before it
    (ACPs-spec-AIC section 4.2)."""
    data_code, _dot, check = code.rpartition(".")
    if not data_code or len(check) != 4:
        return False
    try:
        data_code.encode("ascii")
    except UnicodeEncodeError:
        return False
    return aic_check_code(data_code, salt=salt) == check.upper()


def registrar_salt() -> bytes:
    """The registrar's salt; the settings refuse to start without one once an arc
    is set, so its absence here is a configuration error."""
    salt = bytes.fromhex(settings.ACPS_AIC_SALT or "")
    if len(salt) < 2:
        raise ImproperlyConfigured(
            "ACPS_AIC_SALT must be at least two bytes whenever ACPS_REGISTRAR_OID "
            "is set."
        )
    return salt


def aic_compose(*, arc: str, publisher_id: int, agent_id: int, salt: bytes) -> str:
    """The AIC of agent ``agent_id`` of publisher ``publisher_id`` under ``arc``."""
    if not 1 <= publisher_id <= MAX_PROVIDER_INDEX:
        raise ValueError(f"publisher {publisher_id} has no room under an AIC arc")
    if not 1 <= agent_id <= MAX_ONTOLOGY_SERIAL:
        raise ValueError(f"agent {agent_id} has no room under an AIC arc")
    data_code = ".".join([arc, base36(publisher_id), base36(agent_id), ONTOLOGY_ENTITY])
    return f"{data_code}.{aic_check_code(data_code, salt=salt)}"


def aic_for(agent: Agent) -> str | None:
    """The code the agent gets under the configured arc, or None when there is no
    arc. It is computed, not read: the agent keeps the code it was first given."""
    arc: str = settings.ACPS_REGISTRAR_OID
    if not arc:
        return None
    return aic_compose(
        arc=arc,
        publisher_id=agent.publisher_id,
        agent_id=agent.pk,
        salt=registrar_salt(),
    )


def _timestamp(moment: datetime) -> str:
    """ISO 8601 with the offset of the site's time zone (ACS recommends UTC+8)."""
    return timezone.localtime(moment).isoformat(timespec="seconds")


def _endpoints(declaration: dict[str, Any]) -> list[dict[str, Any]]:
    endpoints: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()
    for protocol in declaration["protocols"]:
        url = protocol.get("url") or declaration["endpoint"]
        transport = _TRANSPORTS.get(protocol["type"], _DEFAULT_TRANSPORT)
        if (url, transport) not in seen:
            seen.add((url, transport))
            endpoints.append({"url": url, "transport": transport})
    return endpoints


def capability_spec(version: AgentVersion) -> dict[str, Any]:
    """The ACS (ACPs-spec-ACS v02.02, section 3) of a published or yanked version
    of an agent that holds an AIC.

    What the declaration does not say is not invented: the registry knows no
    security scheme of the agent's endpoints (``securitySchemes`` is empty and the
    endpoints carry no ``security``), and no optional capability is claimed.
    """
    agent = version.agent
    if not agent.aic:
        raise ValueError("an ACS needs the agent's AIC")
    declaration = version.declaration
    publisher = agent.publisher
    provider: dict[str, str] = {
        "organization": publisher.name,
        "url": publisher.website
        or absolute_url(reverse("organization-detail", args=[publisher.slug])),
    }
    if agent.filing_number.strip():
        provider["license"] = agent.filing_number.strip()
    modified = max(
        moment for moment in (version.published_at, agent.updated_at) if moment
    )
    spec: dict[str, Any] = {
        "aic": agent.aic,
        "active": version.state == AgentVersion.State.PUBLISHED
        and agent.status in (Agent.Status.ACTIVE, Agent.Status.DEPRECATED),
        "lastModifiedTime": _timestamp(modified),
        "protocolVersion": PROTOCOL_VERSION,
        "name": agent.name,
        "description": agent.description.strip() or agent.summary,
        "version": version.version,
    }
    if agent.homepage:
        spec["documentationUrl"] = agent.homepage
    spec.update(
        {
            "provider": provider,
            "securitySchemes": {},
            "endPoints": _endpoints(declaration),
            "capabilities": {
                "streaming": False,
                "notification": False,
                "messageQueue": [],
            },
            "defaultInputModes": declaration["inputModes"],
            "defaultOutputModes": declaration["outputModes"],
            "skills": [
                {
                    "id": skill["id"],
                    "name": skill["name"],
                    "description": skill["description"],
                    "version": version.version,
                    "tags": skill.get("tags") or [skill["id"]],
                    **(
                        {"examples": skill["examples"]} if skill.get("examples") else {}
                    ),
                }
                for skill in declaration["skills"]
            ],
        }
    )
    return spec
