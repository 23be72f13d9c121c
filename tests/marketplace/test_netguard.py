"""Which addresses the site connects to, and connections pinned to them with one
deadline, against real servers on 127.0.0.1."""

import http.client
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from marketplace import netguard
from tests.slow_server import DRIPPING_BODY, DRIPPING_HEADERS, slow_server


@pytest.mark.parametrize(
    ("address", "allowed"),
    [
        # public IPv4 and IPv6
        ("8.8.8.8", True),
        ("93.184.216.34", True),
        ("2606:4700:4700::1111", True),
        # private, loopback, link-local, shared, multicast, reserved, unspecified
        ("10.0.0.1", False),
        ("172.16.5.4", False),
        ("192.168.1.1", False),
        ("127.0.0.1", False),
        ("169.254.169.254", False),
        ("100.64.0.1", False),
        ("224.0.0.1", False),
        ("240.0.0.1", False),
        ("255.255.255.255", False),
        ("0.0.0.0", False),  # noqa: S104
        ("::1", False),
        ("::", False),
        ("fe80::1", False),
        ("fe80::1%lo", False),
        ("fc00::1", False),
        ("fd12:3456::1", False),
        ("fec0::1", False),
        ("ff02::1", False),
        ("ff0e::1", False),
        ("2001:db8::1", False),
        ("4000::1", False),
        # IPv4-mapped and IPv4-compatible: the IPv4 address decides
        ("::ffff:10.0.0.1", False),
        ("::ffff:127.0.0.1", False),
        ("::ffff:169.254.169.254", False),
        ("::ffff:8.8.8.8", True),
        ("::10.0.0.1", False),
        ("::a00:1", False),
        ("::8.8.8.8", True),
        # NAT64, the well-known prefix: the IPv4 address decides
        ("64:ff9b::a00:1", False),
        ("64:ff9b::7f00:1", False),
        ("64:ff9b::a9fe:a9fe", False),
        ("64:ff9b::808:808", True),
        # NAT64 for local use (RFC 8215): never
        ("64:ff9b:1::a00:1", False),
        ("64:ff9b:1:a00:1::", False),
        ("64:ff9b:1::808:808", False),
        # 6to4: the embedded IPv4 address must be public
        ("2002:a00:1::", False),
        ("2002:7f00:1::1", False),
        ("2002:c0a8:101::1", False),
        ("2002:808:808::1", True),
        # Teredo (server 65.54.227.120; clients 192.0.2.45, 10.0.0.1, 8.8.8.8)
        ("2001:0:4136:e378:8000:63bf:3fff:fdd2", False),
        ("2001:0:4136:e378:8000:63bf:f5ff:fffe", False),
        ("2001:0:4136:e378:8000:63bf:f7f7:f7f7", False),
        # not an address
        ("", False),
        ("example.com", False),
        ("10.0.0.1.5", False),
    ],
)
def test_an_address_may_be_contacted_only_when_it_and_what_it_carries_is_public(
    address: str, allowed: bool
) -> None:
    assert netguard.address_allowed(address) is allowed


def test_a_name_is_resolved_once_and_refused_whole_when_any_address_is_private(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # given: a name with a public and a private address
    calls: list[str] = []

    def getaddrinfo(host: str, port: int, *args: Any, **kwargs: Any) -> list[Any]:
        calls.append(host)
        return [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("8.8.8.8", port)),
            (socket.AF_INET6, socket.SOCK_STREAM, 6, "", ("64:ff9b::a00:1", port)),
        ]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    # when / then
    with pytest.raises(netguard.AddressNotAllowed):
        netguard.resolve("mixed.example.com", 443)
    assert netguard.resolve("mixed.example.com", 443, allow_private=True) == [
        "8.8.8.8",
        "64:ff9b::a00:1",
    ]
    assert calls == ["mixed.example.com", "mixed.example.com"]


def test_a_public_name_gives_its_addresses_and_an_unknown_one_an_os_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(
        socket,
        "getaddrinfo",
        lambda host, port, **kwargs: [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", port)),
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", port)),
        ],
    )
    assert netguard.resolve("example.com", 80) == ["93.184.216.34"]
    monkeypatch.undo()
    with pytest.raises(OSError, match=r".") as caught:
        netguard.resolve("no-such-name.invalid", 80)
    assert not isinstance(caught.value, netguard.AddressNotAllowed)


def test_loopback_is_refused_unless_allowed() -> None:
    with pytest.raises(netguard.AddressNotAllowed):
        netguard.resolve("127.0.0.1", 80)
    assert netguard.resolve("127.0.0.1", 80, allow_private=True) == ["127.0.0.1"]


class _EchoHost(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = self.headers.get("Host", "").encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def echo_port() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _EchoHost)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_pinned_connection_goes_to_the_checked_address_with_the_name_as_host(
    echo_port: int,
) -> None:
    # given: a name that resolves nowhere, pinned to this machine
    connection = netguard.pinned_connection(
        scheme="http",
        host="agent.example.com",
        port=echo_port,
        addresses=["127.0.0.1"],
        deadline=netguard.Deadline(2),
    )
    # when
    connection.request("GET", "/")
    response = connection.getresponse()
    # then
    assert response.status == 200
    assert response.read() == f"agent.example.com:{echo_port}".encode()
    connection.close()


def test_a_pinned_connection_tries_the_next_address_when_one_refuses(
    echo_port: int,
) -> None:
    # given: the first address refuses connections on the port
    connection = netguard.pinned_connection(
        scheme="http",
        host="agent.example.com",
        port=echo_port,
        addresses=["127.0.0.2", "127.0.0.1"],
        deadline=netguard.Deadline(2),
    )
    connection.request("GET", "/")
    assert connection.getresponse().status == 200
    connection.close()
    # and with every address refusing, the error is the connection's
    refused = netguard.pinned_connection(
        scheme="http",
        host="agent.example.com",
        port=_closed_port(),
        addresses=["127.0.0.1"],
        deadline=netguard.Deadline(2),
    )
    with pytest.raises(ConnectionRefusedError):
        refused.request("GET", "/")


def _fetch(connection: http.client.HTTPConnection) -> bytes:
    connection.request("GET", "/")
    return connection.getresponse().read()


@pytest.mark.parametrize("prefix", [DRIPPING_HEADERS, DRIPPING_BODY])
def test_a_server_that_drips_bytes_is_cut_off_at_the_deadline(prefix: bytes) -> None:
    # given: a server that sends a byte every 50 ms, well within any one read's wait
    with slow_server(prefix=prefix) as port:
        connection = netguard.pinned_connection(
            scheme="http",
            host="slow.example.com",
            port=port,
            addresses=["127.0.0.1"],
            deadline=netguard.Deadline(0.5),
        )
        started = time.monotonic()
        # when / then
        with pytest.raises(TimeoutError):
            _fetch(connection)
        elapsed = time.monotonic() - started
        connection.close()
    assert 0.4 < elapsed < 1.5


def test_a_deadline_that_has_passed_stops_before_connecting(echo_port: int) -> None:
    deadline = netguard.Deadline(0)
    with pytest.raises(TimeoutError):
        deadline.left()
    connection = netguard.pinned_connection(
        scheme="http",
        host="agent.example.com",
        port=echo_port,
        addresses=["127.0.0.1"],
        deadline=deadline,
    )
    with pytest.raises(TimeoutError):
        connection.request("GET", "/")


def test_https_fails_against_a_server_without_tls(echo_port: int) -> None:
    # given: a server that speaks plain http where TLS is expected
    connection = netguard.pinned_connection(
        scheme="https",
        host="agent.example.com",
        port=echo_port,
        addresses=["127.0.0.1"],
        deadline=netguard.Deadline(2),
    )
    # when / then: no TLS handshake, no answer
    with pytest.raises(OSError, match=r"."):
        connection.request("GET", "/")
    connection.close()


# --- TLS ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Certificates:
    ca_file: Path
    server: ssl.SSLContext  # for agent.example.com, signed by the CA


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    folder = tmp_path_factory.mktemp("tls")
    now = datetime.now(UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("Test CA"))
        .issuer_name(_name("Test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(_name("agent.example.com"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("agent.example.com")]),
            critical=False,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    ca_file = folder / "ca.pem"
    ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    chain = folder / "server.pem"
    chain.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        + leaf.public_bytes(serialization.Encoding.PEM)
    )
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(chain)
    return Certificates(ca_file=ca_file, server=server)


@pytest.fixture
def trust_test_ca(certificates: Certificates, monkeypatch: pytest.MonkeyPatch) -> None:
    """The default context trusts the test CA (and only it)."""
    create = ssl.create_default_context
    monkeypatch.setattr(
        ssl,
        "create_default_context",
        lambda: create(cafile=str(certificates.ca_file)),
    )


@pytest.fixture
def tls_echo_port(certificates: Certificates) -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _EchoHost)
    server.socket = certificates.server.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


@pytest.mark.usefixtures("trust_test_ca")
def test_tls_is_checked_against_the_host_name_not_the_pinned_address(
    tls_echo_port: int,
) -> None:
    # given: the certificate names agent.example.com; the address is 127.0.0.1
    def fetch(host: str) -> bytes:
        connection = netguard.pinned_connection(
            scheme="https",
            host=host,
            port=tls_echo_port,
            addresses=["127.0.0.1"],
            deadline=netguard.Deadline(2),
        )
        try:
            connection.request("GET", "/")
            return connection.getresponse().read()
        finally:
            connection.close()

    # when / then: the name the certificate holds is accepted, sent as the Host
    assert fetch("agent.example.com") == f"agent.example.com:{tls_echo_port}".encode()
    # and another name on the same address is refused
    with pytest.raises(ssl.SSLCertVerificationError):
        fetch("other.example.com")


@pytest.mark.usefixtures("trust_test_ca")
@pytest.mark.parametrize("prefix", [DRIPPING_HEADERS, DRIPPING_BODY])
def test_a_tls_server_that_drips_bytes_is_cut_off_at_the_deadline(
    certificates: Certificates, prefix: bytes
) -> None:
    with slow_server(prefix=prefix, tls=certificates.server) as port:
        connection = netguard.pinned_connection(
            scheme="https",
            host="agent.example.com",
            port=port,
            addresses=["127.0.0.1"],
            deadline=netguard.Deadline(0.5),
        )
        started = time.monotonic()
        with pytest.raises(TimeoutError):
            _fetch(connection)
        elapsed = time.monotonic() - started
        connection.close()
    assert 0.4 < elapsed < 1.5
