"""The IPv6 readiness probe, against real servers on this machine's loopback: one
bound to ::1 only, one bound to 127.0.0.1 only. The machine's hosts file has no
``::1 localhost`` line, so the endpoints use the literal addresses."""

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from marketplace import netguard
from marketplace.models import Agent, AgentVersion
from marketplace.services.liveness import (
    agent_probe,
    liveness_sweep,
    probe_ipv6,
    probe_url,
)
from tests.marketplace.factories import AgentVersionFactory, declaration

pytestmark = pytest.mark.django_db


class _CardHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/.well-known/agent-card.json":
            body = b'{"name": "ok"}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        else:
            self.send_response(404)
            self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


class _IPv6Server(ThreadingHTTPServer):
    address_family = socket.AF_INET6

    def server_bind(self) -> None:
        # Only IPv6: no IPv4-mapped connections on this socket.
        self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        super().server_bind()


def _serve(server: ThreadingHTTPServer) -> Iterator[int]:
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def ipv6_port(settings: Any) -> Iterator[int]:
    """The port of a card server bound to ::1 only."""
    settings.LIVENESS_ALLOW_PRIVATE = True
    try:
        server = _IPv6Server(("::1", 0), _CardHandler)
    except OSError as error:
        pytest.skip(f"this machine has no IPv6 loopback (binding ::1 failed: {error})")
    yield from _serve(server)


@pytest.fixture
def ipv4_port(settings: Any) -> Iterator[int]:
    """The port of a card server bound to 127.0.0.1 only."""
    settings.LIVENESS_ALLOW_PRIVATE = True
    yield from _serve(ThreadingHTTPServer(("127.0.0.1", 0), _CardHandler))


def _ipv6_port_free(port: int) -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind(("::1", port))
    except OSError:
        return False
    return True


# The probe


def test_an_endpoint_served_on_ipv6_loopback_is_ipv6_ready(ipv6_port: int) -> None:
    # when
    result = probe_ipv6(f"http://[::1]:{ipv6_port}/a2a")
    # then
    assert (result.online, result.detail) == (True, "HTTP 200")
    assert result.latency_ms is not None
    # and the ordinary probe reaches it too
    assert probe_url(f"http://[::1]:{ipv6_port}/a2a").online


def test_an_endpoint_served_only_on_ipv4_is_not_ipv6_ready(ipv4_port: int) -> None:
    # given: the endpoint answers over IPv4
    endpoint = f"http://127.0.0.1:{ipv4_port}/a2a"
    assert probe_url(endpoint).online
    # when
    result = probe_ipv6(endpoint)
    # then: an IPv4 literal has no IPv6 address
    assert (result.online, result.detail) == (False, "no IPv6 address")


def test_an_ipv4_only_server_does_not_answer_on_ipv6_loopback(ipv4_port: int) -> None:
    # given: nothing listens on ::1 at the IPv4 server's port
    if not _ipv6_port_free(ipv4_port):
        pytest.skip("this machine has no IPv6 loopback, or the port is taken on ::1")
    # when
    result = probe_ipv6(f"http://[::1]:{ipv4_port}/a2a")
    # then
    assert result.online is False
    assert result.detail == "ConnectionRefusedError"


def test_a_name_without_an_aaaa_record_is_not_ipv6_ready(
    ipv4_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: a resolver that knows only the name's IPv4 address, as for a host
    # with an A record and no AAAA record
    asked: list[int] = []

    def getaddrinfo(host: str, port: int, *args: Any, **kwargs: Any) -> list[Any]:
        family = kwargs.get("family", socket.AF_UNSPEC)
        asked.append(family)
        if family == socket.AF_INET6:
            raise socket.gaierror(socket.EAI_NONAME, "no address")
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    endpoint = f"http://agent.example.com:{ipv4_port}/a2a"
    # when
    online, ipv6 = probe_url(endpoint), probe_ipv6(endpoint)
    # then
    assert (online.online, ipv6.online) == (True, False)
    assert asked == [socket.AF_UNSPEC, socket.AF_INET6]


def test_an_ipv4_address_written_in_ipv6_does_not_count(
    ipv4_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: an AAAA answer that is an IPv4 address in disguise
    monkeypatch.setattr(
        socket,
        "getaddrinfo",
        lambda host, port, **kwargs: [
            (socket.AF_INET6, socket.SOCK_STREAM, 6, "", ("::ffff:127.0.0.1", port))
        ],
    )
    # when
    result = probe_ipv6(f"http://agent.example.com:{ipv4_port}/a2a")
    # then
    assert (result.online, result.detail) == (False, "no IPv6 address")


def test_private_ipv6_addresses_are_not_probed_unless_allowed(
    ipv6_port: int, settings: Any
) -> None:
    settings.LIVENESS_ALLOW_PRIVATE = False
    result = probe_ipv6(f"http://[::1]:{ipv6_port}/a2a")
    assert (result.online, result.detail) == (False, "address not allowed")


@pytest.mark.parametrize(
    "endpoint", ["ftp://[::1]/", "http://[::1/a2a", "http://[::1]:99999/"]
)
def test_an_endpoint_that_is_not_an_http_url_is_not_ipv6_ready(endpoint: str) -> None:
    result = probe_ipv6(endpoint)
    assert (result.online, result.detail) == (False, "not an http(s) URL")


def test_resolve_keeps_to_the_family_asked_for() -> None:
    assert netguard.resolve("::1", 80, allow_private=True) == ["::1"]
    assert netguard.resolve("::1", 80, allow_private=True, family=socket.AF_INET6) == [
        "::1"
    ]
    with pytest.raises(OSError, match=r"."):
        netguard.resolve("127.0.0.1", 80, allow_private=True, family=socket.AF_INET6)
    with pytest.raises(netguard.AddressNotAllowed):
        netguard.resolve("::1", 80, family=socket.AF_INET6)


# What is recorded and shown


def _listed(endpoint: str) -> Agent:
    version = AgentVersionFactory.create(
        state=AgentVersion.State.PUBLISHED, declaration=declaration(endpoint=endpoint)
    )
    agent: Agent = version.agent
    return agent


def test_agent_probe_records_ipv6_readiness(ipv6_port: int, ipv4_port: int) -> None:
    # given
    over_ipv6 = _listed(f"http://[::1]:{ipv6_port}/a2a")
    over_ipv4 = _listed(f"http://127.0.0.1:{ipv4_port}/a2a")
    assert over_ipv6.ipv6_ready is None
    # when
    agent_probe(agent_id=over_ipv6.pk)
    agent_probe(agent_id=over_ipv4.pk)
    # then
    states = dict(Agent.objects.values_list("pk", "ipv6_ready"))
    assert states == {over_ipv6.pk: True, over_ipv4.pk: False}
    assert Agent.objects.get(pk=over_ipv4.pk).online is True


def test_the_sweep_records_ipv6_readiness(ipv6_port: int, ipv4_port: int) -> None:
    # given
    over_ipv6 = _listed(f"http://[::1]:{ipv6_port}/a2a")
    over_ipv4 = _listed(f"http://127.0.0.1:{ipv4_port}/a2a")
    # when
    assert liveness_sweep() == 2
    # then
    rows = {
        pk: (online, ready)
        for pk, online, ready in Agent.objects.values_list("pk", "online", "ipv6_ready")
    }
    assert rows == {over_ipv6.pk: (True, True), over_ipv4.pk: (True, False)}


def _page(client: Client, agent: Agent) -> str:
    return client.get(
        reverse("agent-detail", args=[agent.publisher.slug, agent.slug])
    ).content.decode()


def test_the_agent_page_says_whether_the_endpoint_is_ipv6_ready(
    client: Client,
) -> None:
    # given: a listing not probed yet
    agent = _listed("https://agent.example.com/a2a")
    # then: nothing about IPv6
    html = _page(client, agent)
    assert "IPv6 ready" not in html
    assert "Not reachable over IPv6" not in html
    # when: ready, then not
    Agent.objects.filter(pk=agent.pk).update(ipv6_ready=True)
    ready = _page(client, agent)
    Agent.objects.filter(pk=agent.pk).update(ipv6_ready=False)
    not_ready = _page(client, agent)
    # then
    assert "IPv6 ready" in ready
    assert "Not reachable over IPv6" not in ready
    assert "Not reachable over IPv6" in not_ready
    assert "IPv6 ready" not in not_ready


def test_the_lookup_record_and_the_api_carry_ipv6_readiness(client: Client) -> None:
    # given
    agent = _listed("https://agent.example.com/a2a")
    args = [agent.publisher.slug, agent.slug]
    assert client.get(reverse("agent-profile", args=args)).json()["ipv6_ready"] is None
    # when
    Agent.objects.filter(pk=agent.pk).update(ipv6_ready=True)
    # then
    assert client.get(reverse("agent-profile", args=args)).json()["ipv6_ready"] is True
    detail = client.get(reverse("api-agent-detail", args=args)).json()
    assert detail["ipv6_ready"] is True
