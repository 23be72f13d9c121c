"""The IPv6 readiness probe, against real servers on this machine's loopback: one
bound to ::1 only, one bound to 127.0.0.1 only. The machine's hosts file has no
``::1 localhost`` line, so the endpoints use the literal addresses, or a made-up
name that a resolver of the test's own answers for (only the name's resolution is
faked; the connections are real).

The tests that need the IPv6 loopback skip on a machine without one, and fail
instead when AGENTSTORE_REQUIRE_ALL is set (as CI sets it)."""

import os
import socket
import threading
from collections.abc import Callable, Iterator
from http.server import ThreadingHTTPServer
from typing import Any, NoReturn

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
from tests.card_server import CardHandler
from tests.marketplace.factories import AgentVersionFactory, declaration

pytestmark = pytest.mark.django_db


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


def _no_ipv6_loopback(error: OSError) -> NoReturn:
    """Skip the test, or fail it when CI requires every test to run (as the browser
    tests do without Chromium)."""
    reason = f"this machine has no IPv6 loopback (binding ::1 failed: {error})"
    if os.environ.get("AGENTSTORE_REQUIRE_ALL"):
        pytest.fail(f"{reason}, and CI requires the IPv6 tests")
    pytest.skip(reason)


@pytest.fixture
def ipv6_port(settings: Any) -> Iterator[int]:
    """The port of a card server bound to ::1 only."""
    settings.LIVENESS_ALLOW_PRIVATE = True
    try:
        server = _IPv6Server(("::1", 0), CardHandler)
    except OSError as error:
        _no_ipv6_loopback(error)
    yield from _serve(server)


@pytest.fixture
def ipv4_port(settings: Any) -> Iterator[int]:
    """The port of a card server bound to 127.0.0.1 only."""
    settings.LIVENESS_ALLOW_PRIVATE = True
    yield from _serve(ThreadingHTTPServer(("127.0.0.1", 0), CardHandler))


@pytest.fixture
def dual_stack_port(ipv4_port: int) -> Iterator[int]:
    """The IPv4 card server's port, held on ::1 by a socket that is bound but does
    not listen: a connection to [::1] at that port is refused, whatever else runs
    on the machine."""
    sock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind(("::1", ipv4_port))
    except OSError as error:
        sock.close()
        _no_ipv6_loopback(error)
    try:
        yield ipv4_port
    finally:
        sock.close()


class _Resolver:
    """The socket module as netguard sees it, but for a resolver that knows the
    addresses of some names by family (the A and AAAA records); every other name,
    and everything else, is the real module's."""

    def __init__(self, records: dict[str, dict[int, str]]) -> None:
        self.records = records
        self.asked: list[tuple[str, int]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(socket, name)

    def getaddrinfo(
        self, host: str, port: int, family: int = 0, type: int = 0, **kwargs: Any
    ) -> list[Any]:
        if host not in self.records:
            return socket.getaddrinfo(host, port, family, type, **kwargs)
        self.asked.append((host, family))
        found = [
            (kind, socket.SOCK_STREAM, 6, "", (address, port))
            for kind, address in self.records[host].items()
            if family in (socket.AF_UNSPEC, kind)
        ]
        if not found:
            raise socket.gaierror(socket.EAI_NONAME, "no address")
        return found


@pytest.fixture
def dual_stack_name(monkeypatch: pytest.MonkeyPatch) -> Callable[[], _Resolver]:
    """Makes ``agent.example.com`` resolve, for netguard alone, to ::1 (its AAAA
    record, first as a resolver orders them) and 127.0.0.1 (its A record)."""

    def install() -> _Resolver:
        resolver = _Resolver(
            {
                "agent.example.com": {
                    socket.AF_INET6: "::1",
                    socket.AF_INET: "127.0.0.1",
                }
            }
        )
        monkeypatch.setattr(netguard, "socket", resolver)
        return resolver

    return install


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


def test_an_ipv4_only_server_does_not_answer_on_ipv6_loopback(
    dual_stack_port: int,
) -> None:
    # given: nothing listens on ::1 at the IPv4 server's port
    # when
    result = probe_ipv6(f"http://[::1]:{dual_stack_port}/a2a")
    # then
    assert result.online is False
    assert result.detail == "ConnectionRefusedError"


def test_a_name_with_a_and_aaaa_records_served_on_ipv4_only_is_not_ipv6_ready(
    dual_stack_port: int, dual_stack_name: Callable[[], _Resolver]
) -> None:
    # given: the name has an IPv6 and an IPv4 address; the server listens on the
    # IPv4 one only
    resolver = dual_stack_name()
    endpoint = f"http://agent.example.com:{dual_stack_port}/a2a"
    # when
    online, ipv6 = probe_url(endpoint), probe_ipv6(endpoint)
    # then: reachable (over IPv4, once ::1 refuses), and not IPv6 ready: the probe
    # connected to the AAAA address alone, and it refused
    assert (online.online, online.detail) == (True, "HTTP 200")
    assert (ipv6.online, ipv6.detail) == (False, "ConnectionRefusedError")
    assert resolver.asked == [
        ("agent.example.com", socket.AF_UNSPEC),
        ("agent.example.com", socket.AF_INET6),
    ]


def test_a_name_with_a_and_aaaa_records_served_on_ipv6_is_ipv6_ready(
    ipv6_port: int, dual_stack_name: Callable[[], _Resolver]
) -> None:
    # given: the same name, with the server on ::1
    dual_stack_name()
    endpoint = f"http://agent.example.com:{ipv6_port}/a2a"
    # when
    result = probe_ipv6(endpoint)
    # then
    assert (result.online, result.detail) == (True, "HTTP 200")
    assert probe_url(endpoint).online


def test_the_resolver_of_the_tests_is_netguards_alone(
    dual_stack_name: Callable[[], _Resolver],
) -> None:
    # given
    real = socket.getaddrinfo
    # when
    dual_stack_name()
    # then: netguard resolves the made-up name; the socket module is untouched
    assert netguard.resolve("agent.example.com", 80, allow_private=True) == [
        "::1",
        "127.0.0.1",
    ]
    assert socket.getaddrinfo is real
    assert netguard.resolve("::1", 80, allow_private=True) == ["::1"]


@pytest.mark.parametrize(
    ("required", "outcome"), [("", pytest.skip.Exception), ("1", pytest.fail.Exception)]
)
def test_without_an_ipv6_loopback_the_tests_skip_unless_ci_requires_them(
    required: str, outcome: type[BaseException], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AGENTSTORE_REQUIRE_ALL", required)
    with pytest.raises(outcome, match="no IPv6 loopback"):
        _no_ipv6_loopback(OSError("Cannot assign requested address"))


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
    # and what each means is in the page's text, not in a tooltip only
    assert "accepts connections on it.</span>" in ready
    assert "did not answer on it.</span>" in not_ready
    assert "title=" not in ready.split('class="ipv6-status"')[1].split("</dd>")[0]


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
