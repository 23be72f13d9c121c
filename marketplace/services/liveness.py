"""Liveness: is each published agent's declared endpoint answering? A beat job
probes a bounded number of agents at a time, the least recently probed first, and
fetches the A2A discovery document (/.well-known/agent-card.json) of the endpoint's
origin with a short timeout.

Each probe also asks whether the endpoint is IPv6 ready: the same fetch, over IPv6
only (the host's AAAA records, or an IPv6 literal such as ``[2001:db8::1]``). A host
without an AAAA record, or one that does not answer on it, is not ready."""

import http.client
import ipaddress
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.db.models import F
from django.utils import timezone

from marketplace import netguard
from marketplace.models import Agent

CARD_PATH = "/.well-known/agent-card.json"


@dataclass(frozen=True)
class Probe:
    online: bool
    latency_ms: int | None
    detail: str


@dataclass(frozen=True)
class _Origin:
    scheme: str
    host: str
    port: int


def _origin(endpoint: str) -> _Origin | None:
    """The endpoint's origin, or None when it is not an http(s) URL."""
    try:
        parts = urlsplit(endpoint)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:  # a malformed address or port
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    return _Origin(parts.scheme, parts.hostname, port)


def _fetch_card(origin: _Origin, addresses: list[str]) -> Probe:
    """GET the well-known agent card from one of ``addresses`` (checked already),
    within LIVENESS_TIMEOUT seconds; a 2xx or 3xx answer is a live endpoint."""
    started = time.perf_counter()
    try:
        connection = netguard.pinned_connection(
            scheme=origin.scheme,
            host=origin.host,
            port=origin.port,
            addresses=addresses,
            deadline=netguard.Deadline(float(settings.LIVENESS_TIMEOUT)),
        )
        try:
            connection.request(
                "GET",
                CARD_PATH,
                headers={
                    "User-Agent": "AgentStore-Liveness/1",
                    "Accept": "application/json",
                },
            )
            status = connection.getresponse().status
        finally:
            connection.close()
    except (OSError, http.client.HTTPException, ValueError) as error:
        return Probe(False, None, type(error).__name__)
    latency = round((time.perf_counter() - started) * 1000)
    return Probe(200 <= status < 400, latency, f"HTTP {status}")


def _probe(endpoint: str, *, ipv6_only: bool) -> Probe:
    """Resolve the endpoint's host once (only its IPv6 addresses when
    ``ipv6_only``), check the addresses and fetch the card from them."""
    origin = _origin(endpoint)
    if origin is None:
        return Probe(False, None, "not an http(s) URL")
    try:
        addresses = netguard.resolve(
            origin.host,
            origin.port,
            allow_private=settings.LIVENESS_ALLOW_PRIVATE,
            family=socket.AF_INET6 if ipv6_only else socket.AF_UNSPEC,
        )
    except netguard.AddressNotAllowed:
        return Probe(False, None, "address not allowed")
    except (OSError, UnicodeError) as error:
        return Probe(
            False, None, "no IPv6 address" if ipv6_only else type(error).__name__
        )
    if ipv6_only:
        addresses = [address for address in addresses if _native_ipv6(address)]
        if not addresses:
            return Probe(False, None, "no IPv6 address")
    return _fetch_card(origin, addresses)


def probe_url(endpoint: str) -> Probe:
    """Fetch the well-known agent card at the endpoint's origin. The host is
    resolved once and the connection goes to an address that was checked; a
    redirect is the answer itself, never followed; the whole fetch has
    LIVENESS_TIMEOUT seconds."""
    return _probe(endpoint, ipv6_only=False)


def probe_ipv6(endpoint: str) -> Probe:
    """The same fetch as ``probe_url``, over IPv6 only: the host's AAAA addresses
    (an IPv6 literal is its own), checked as ``probe_url`` checks them, and a
    connection to them alone. An IPv4 address written in IPv6 (``::ffff:a.b.c.d``)
    travels over IPv4, so it does not count. ``online`` is whether the endpoint is
    IPv6 ready."""
    return _probe(endpoint, ipv6_only=True)


def _native_ipv6(address: str) -> bool:
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return False
    return isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped is None


def _record(agent_id: int, result: Probe, ipv6: Probe) -> None:
    Agent.objects.filter(pk=agent_id).update(
        online=result.online,
        liveness_checked_at=timezone.now(),
        liveness_latency_ms=result.latency_ms,
        ipv6_ready=ipv6.online,
    )


def _endpoint(agent: Agent) -> str:
    version = agent.latest_version
    return str(version.declaration.get("endpoint", "")) if version else ""


def agent_probe(*, agent_id: int) -> Probe | None:
    """Probe one agent's endpoint, over any address and over IPv6, and record both;
    returns the first probe (None for an agent without a published version)."""
    agent = Agent.objects.select_related("latest_version").filter(pk=agent_id).first()
    if agent is None or agent.latest_version is None:
        return None
    endpoint = _endpoint(agent)
    result = probe_url(endpoint)
    _record(agent.pk, result, probe_ipv6(endpoint))
    return result


def liveness_sweep(*, limit: int | None = None) -> int:
    """Probe the published agents probed longest ago (never probed first), several
    at a time, each over any address and over IPv6; only the network waits run in
    threads, the database work stays here. Returns how many were probed."""
    batch = limit or settings.LIVENESS_BATCH
    agents = list(
        Agent.objects.filter(latest_version__isnull=False)
        .exclude(status__in=(Agent.Status.QUARANTINED, Agent.Status.ARCHIVED))
        .select_related("latest_version")
        .order_by(F("liveness_checked_at").asc(nulls_first=True), "pk")[:batch]
    )
    endpoints = [_endpoint(agent) for agent in agents]
    # Twice the probes of one per agent, with twice the threads: a batch takes as
    # long as before.
    with ThreadPoolExecutor(max_workers=16) as pool:
        # Both maps are submitted before either is read: the probes run together.
        first, second = pool.map(probe_url, endpoints), pool.map(probe_ipv6, endpoints)
        results, ipv6 = list(first), list(second)
    for agent, result, over_ipv6 in zip(agents, results, ipv6, strict=True):
        _record(agent.pk, result, over_ipv6)
    return len(agents)
