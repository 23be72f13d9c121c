"""Liveness: is each published agent's declared endpoint answering? A beat job
probes a bounded number of agents at a time, the least recently probed first, and
fetches the A2A discovery document (/.well-known/agent-card.json) of the endpoint's
origin with a short timeout."""

import http.client
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


def probe_url(endpoint: str) -> Probe:
    """Fetch the well-known agent card at the endpoint's origin. The host is
    resolved once and the connection goes to an address that was checked; a
    redirect is the answer itself, never followed; the whole fetch has
    LIVENESS_TIMEOUT seconds."""
    try:
        parts = urlsplit(endpoint)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:  # a malformed address or port
        return Probe(False, None, "not an http(s) URL")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return Probe(False, None, "not an http(s) URL")
    try:
        addresses = netguard.resolve(
            parts.hostname, port, allow_private=settings.LIVENESS_ALLOW_PRIVATE
        )
    except netguard.AddressNotAllowed:
        return Probe(False, None, "address not allowed")
    except (OSError, UnicodeError) as error:
        return Probe(False, None, type(error).__name__)
    started = time.perf_counter()
    try:
        connection = netguard.pinned_connection(
            scheme=parts.scheme,
            host=parts.hostname,
            port=port,
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


def _record(agent_id: int, result: Probe) -> None:
    Agent.objects.filter(pk=agent_id).update(
        online=result.online,
        liveness_checked_at=timezone.now(),
        liveness_latency_ms=result.latency_ms,
    )


def _endpoint(agent: Agent) -> str:
    version = agent.latest_version
    return str(version.declaration.get("endpoint", "")) if version else ""


def agent_probe(*, agent_id: int) -> Probe | None:
    agent = Agent.objects.select_related("latest_version").filter(pk=agent_id).first()
    if agent is None or agent.latest_version is None:
        return None
    result = probe_url(_endpoint(agent))
    _record(agent.pk, result)
    return result


def liveness_sweep(*, limit: int | None = None) -> int:
    """Probe the published agents probed longest ago (never probed first), several
    at a time; only the network waits run in threads, the database work stays here.
    Returns how many were probed."""
    batch = limit or settings.LIVENESS_BATCH
    agents = list(
        Agent.objects.filter(latest_version__isnull=False)
        .exclude(status__in=(Agent.Status.QUARANTINED, Agent.Status.ARCHIVED))
        .select_related("latest_version")
        .order_by(F("liveness_checked_at").asc(nulls_first=True), "pk")[:batch]
    )
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(probe_url, [_endpoint(agent) for agent in agents]))
    for agent, result in zip(agents, results, strict=True):
        _record(agent.pk, result)
    return len(agents)
