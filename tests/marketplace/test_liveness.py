"""Liveness probes against real servers on this machine."""

import socket
import threading
import time
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from marketplace.models import Agent, AgentVersion
from marketplace.services.liveness import liveness_sweep, probe_url
from marketplace.tasks import liveness_sweep as liveness_sweep_task
from tests.card_server import CardHandler
from tests.marketplace.factories import AgentVersionFactory, declaration
from tests.slow_server import DRIPPING_HEADERS, slow_server

pytestmark = pytest.mark.django_db


@pytest.fixture
def card_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), CardHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_an_answering_endpoint_is_online(card_server: str) -> None:
    result = probe_url(f"{card_server}/a2a")
    assert result.online
    assert result.latency_ms is not None


def test_a_closed_port_is_offline() -> None:
    result = probe_url(f"http://127.0.0.1:{_closed_port()}/a2a")
    assert not result.online


def test_private_addresses_are_not_probed_unless_allowed(
    card_server: str, settings: Any
) -> None:
    settings.LIVENESS_ALLOW_PRIVATE = False
    result = probe_url(f"{card_server}/a2a")
    assert (result.online, result.detail) == (False, "address not allowed")


def test_the_sweep_records_up_and_down_and_the_page_shows_it(
    card_server: str, client: Client
) -> None:
    up = AgentVersionFactory.create(
        state=AgentVersion.State.PUBLISHED,
        declaration=declaration(endpoint=f"{card_server}/a2a"),
    )
    down = AgentVersionFactory.create(
        state=AgentVersion.State.PUBLISHED,
        declaration=declaration(endpoint=f"http://127.0.0.1:{_closed_port()}/a2a"),
    )
    assert liveness_sweep_task() == 2
    states = dict(Agent.objects.values_list("pk", "online"))
    assert states == {up.agent_id: True, down.agent_id: False}
    html = client.get(
        reverse("agent-detail", args=[up.agent.publisher.slug, up.agent.slug])
    ).content.decode()
    assert "Online" in html
    page = client.get(reverse("agent-search"), {"online": "on"}).context["page"]
    assert [agent.pk for agent in page] == [up.agent_id]


def test_the_sweep_is_bounded_and_takes_the_longest_unprobed_first(
    card_server: str,
) -> None:
    versions = [
        AgentVersionFactory.create(
            state=AgentVersion.State.PUBLISHED,
            declaration=declaration(endpoint=f"{card_server}/a2a"),
        )
        for _ in range(3)
    ]
    assert liveness_sweep(limit=2) == 2
    probed = set(
        Agent.objects.filter(liveness_checked_at__isnull=False).values_list(
            "pk", flat=True
        )
    )
    assert probed == {versions[0].agent_id, versions[1].agent_id}
    liveness_sweep(limit=1)
    assert Agent.objects.get(pk=versions[2].agent_id).liveness_checked_at is not None


def _resolving_to(
    monkeypatch: pytest.MonkeyPatch, *answers: str
) -> list[tuple[str, int]]:
    """The system's resolver answers each look-up with the next address (the last
    one from then on), as a name under an attacker's control can; returns the
    look-ups made."""
    lookups: list[tuple[str, int]] = []

    def getaddrinfo(host: str, port: int, *args: Any, **kwargs: Any) -> list[Any]:
        lookups.append((host, port))
        address = answers[min(len(lookups), len(answers)) - 1]
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        return [(family, socket.SOCK_STREAM, 6, "", (address, port))]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return lookups


def test_the_probe_connects_to_the_address_it_checked(
    card_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: a name that resolves to the card server once, then elsewhere
    port = int(card_server.rsplit(":", 1)[1])
    lookups = _resolving_to(monkeypatch, "127.0.0.1", "10.255.255.1")
    # when
    result = probe_url(f"http://agent.example.com:{port}/a2a")
    # then: one look-up, and the answer came from the address checked
    assert (result.online, result.detail) == (True, "HTTP 200")
    assert lookups == [("agent.example.com", port)]


@pytest.mark.parametrize(
    "address", ["10.0.0.1", "::ffff:10.0.0.1", "64:ff9b::a00:1", "2002:a00:1::1"]
)
def test_a_name_on_an_address_that_leads_inside_is_not_probed(
    settings: Any, monkeypatch: pytest.MonkeyPatch, address: str
) -> None:
    settings.LIVENESS_ALLOW_PRIVATE = False
    _resolving_to(monkeypatch, address)
    result = probe_url("https://agent.example.com/a2a")
    assert (result.online, result.detail) == (False, "address not allowed")


def test_an_endpoint_that_drips_bytes_is_offline_at_the_timeout(
    settings: Any,
) -> None:
    # given: a server that sends a byte every 50 ms and never finishes its headers
    settings.LIVENESS_TIMEOUT = 0.5
    with slow_server(prefix=DRIPPING_HEADERS) as port:
        started = time.monotonic()
        # when
        result = probe_url(f"http://127.0.0.1:{port}/a2a")
        elapsed = time.monotonic() - started
    # then
    assert (result.online, result.detail) == (False, "TimeoutError")
    assert elapsed < 2


@pytest.mark.parametrize(
    "endpoint",
    ["ftp://agent.example.com/", "http:///a2a", "http://[::1/a2a", "http://a:99999/"],
)
def test_an_endpoint_that_is_not_an_http_url_is_offline(endpoint: str) -> None:
    assert probe_url(endpoint) == probe_url("mailto:x@example.com")
    assert probe_url(endpoint).detail == "not an http(s) URL"
