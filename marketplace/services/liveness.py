"""Liveness: is each published agent's declared endpoint answering? A beat job
probes a bounded number of agents at a time, the least recently probed first, and
fetches the A2A discovery document (/.well-known/agent-card.json) of the endpoint's
origin with a short timeout."""

import ipaddress
import socket
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.db.models import F
from django.utils import timezone

from marketplace.models import Agent


@dataclass(frozen=True)
class Probe:
    online: bool
    latency_ms: int | None
    detail: str


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None  # a redirect could lead anywhere: the answer is the 3xx itself


def _address_allowed(host: str) -> bool:
    if settings.LIVENESS_ALLOW_PRIVATE:
        return True
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return False
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if not address.is_global:
            return False
    return True


def probe_url(endpoint: str) -> Probe:
    """Fetch the well-known agent card at the endpoint's origin."""
    parts = urlsplit(endpoint)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return Probe(False, None, "not an http(s) URL")
    if not _address_allowed(parts.hostname):
        return Probe(False, None, "address not allowed")
    url = f"{parts.scheme}://{parts.netloc}/.well-known/agent-card.json"
    opener = urllib.request.build_opener(_NoRedirect)
    started = time.perf_counter()
    try:
        with opener.open(url, timeout=settings.LIVENESS_TIMEOUT) as response:
            status = response.status
    except urllib.error.HTTPError as error:
        status = error.code
    except (urllib.error.URLError, OSError, ValueError) as error:
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
