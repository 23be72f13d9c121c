"""Outgoing connections to addresses that users give the site: an agent's declared
endpoint (the liveness probe), a domain's proof file (the domain-control check).

Such a connection must never reach the operator's own network. A host name is
therefore resolved once, every address it resolves to is checked
(``address_allowed``), and the connection goes to a checked address while the name
stays the Host header and the TLS server name (``pinned_connection``): a DNS answer
that changes between the check and the connection (DNS rebinding) changes nothing.

Each exchange also has one deadline for all of it (connecting, the TLS handshake,
sending, the status line and headers, the body): before every network step the
socket's timeout is set to the time left, so a server that sends one byte at a time
cannot keep a worker busy past the deadline.
"""

import http.client
import ipaddress
import socket
import ssl
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Final, cast

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer, WriteableBuffer

# RFC 6052: the well-known NAT64 prefix; the IPv4 address is the last 32 bits, and
# the gateway connects to it.
_NAT64: Final = ipaddress.IPv6Network("64:ff9b::/96")
# RFC 8215: NAT64 prefixes for local use, never globally reachable.
_NAT64_LOCAL: Final = ipaddress.IPv6Network("64:ff9b:1::/48")
# The deprecated IPv4-compatible form ::a.b.c.d (also holds :: and ::1).
_IPV4_COMPATIBLE: Final = ipaddress.IPv6Network("::/96")
# The IPv6 global unicast space; everything outside it is special-purpose.
_GLOBAL_UNICAST: Final = ipaddress.IPv6Network("2000::/3")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def _ipv4_allowed(address: ipaddress.IPv4Address) -> bool:
    return address.is_global and not address.is_multicast and not address.is_reserved


def _last_32_bits(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address:
    return ipaddress.IPv4Address(int(address) & 0xFFFF_FFFF)


def address_allowed(address: str | IPAddress) -> bool:
    """Whether the site may connect to the address: a public unicast address. An
    IPv6 address that carries an IPv4 address (IPv4-mapped ``::ffff:a.b.c.d``,
    IPv4-compatible ``::a.b.c.d``, NAT64 ``64:ff9b::a.b.c.d``, 6to4 ``2002::/16``)
    is allowed only when the IPv4 address is public too. NAT64 for local use
    (``64:ff9b:1::/48``) is refused, and so is Teredo (``2001::/32``, which is not
    global); were it ever counted global, its server and client addresses would
    still have to be public."""
    if isinstance(address, str):
        try:
            address = ipaddress.ip_address(address)
        except ValueError:
            return False
    if isinstance(address, ipaddress.IPv4Address):
        return _ipv4_allowed(address)
    if address.ipv4_mapped is not None:
        return _ipv4_allowed(address.ipv4_mapped)
    if address in _IPV4_COMPATIBLE or address in _NAT64:
        return _ipv4_allowed(_last_32_bits(address))
    if address in _NAT64_LOCAL:
        return False
    if address not in _GLOBAL_UNICAST or not address.is_global or address.is_multicast:
        return False
    embedded: list[ipaddress.IPv4Address] = []
    if address.sixtofour is not None:
        embedded.append(address.sixtofour)
    if address.teredo is not None:
        embedded.extend(address.teredo)
    return all(map(_ipv4_allowed, embedded))


class AddressNotAllowed(OSError):
    """The host resolves to an address that the site does not connect to."""


def resolve(
    host: str,
    port: int,
    *,
    allow_private: bool = False,
    family: socket.AddressFamily = socket.AF_UNSPEC,
) -> list[str]:
    """The host's addresses, resolved once by the system's resolver, in its order;
    only those of ``family`` when one is given (``socket.AF_INET6``: its AAAA
    records, or the host itself when it is an IPv6 literal). Raises
    AddressNotAllowed when any of them is not allowed (a name that mixes public
    and private addresses is refused whole), unless ``allow_private``; OSError
    (socket.gaierror) when the name has no address of the family."""
    infos = socket.getaddrinfo(host, port, family=family, type=socket.SOCK_STREAM)
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if not addresses:
        raise socket.gaierror(socket.EAI_NONAME, "no address")
    if not allow_private and not all(map(address_allowed, addresses)):
        raise AddressNotAllowed(f"{host} resolves to an address that is not allowed")
    return addresses


class Deadline:
    """The moment by which a whole exchange must be over."""

    def __init__(self, seconds: float) -> None:
        self.at = time.monotonic() + seconds

    def left(self) -> float:
        """Seconds left; TimeoutError once the deadline has passed."""
        left = self.at - time.monotonic()
        if left <= 0:
            raise TimeoutError("the deadline passed")
        return left


class _DeadlineSocket(socket.socket):
    """A socket whose every read and write waits at most until the deadline."""

    deadline: Deadline | None = None

    def _arm(self) -> None:
        if self.deadline is not None:
            self.settimeout(self.deadline.left())

    def recv(self, bufsize: int, flags: int = 0, /) -> bytes:
        self._arm()
        return super().recv(bufsize, flags)

    def recv_into(
        self, buffer: "WriteableBuffer", nbytes: int = 0, flags: int = 0, /
    ) -> int:
        self._arm()
        return super().recv_into(buffer, nbytes, flags)

    def sendall(self, data: "ReadableBuffer", flags: int = 0, /) -> None:
        self._arm()
        super().sendall(data, flags)


class _DeadlineTLSSocket(ssl.SSLSocket):
    """The same over TLS (SSLContext.sslsocket_class)."""

    deadline: Deadline | None = None

    def _arm(self) -> None:
        if self.deadline is not None:
            self.settimeout(self.deadline.left())

    def recv(self, buflen: int = 1024, flags: int = 0) -> bytes:
        self._arm()
        return super().recv(buflen, flags)

    def recv_into(
        self, buffer: "WriteableBuffer", nbytes: int | None = None, flags: int = 0
    ) -> int:
        self._arm()
        return super().recv_into(buffer, nbytes, flags)

    def sendall(self, data: "ReadableBuffer", flags: int = 0) -> None:
        self._arm()
        super().sendall(data, flags)


def _connect(
    addresses: Sequence[str], port: int, deadline: Deadline
) -> _DeadlineSocket:
    """A TCP connection to the first of the addresses that accepts one, as
    socket.create_connection tries them, within the deadline."""
    error: OSError = ConnectionError("no address to connect to")
    for address in addresses:
        ip = ipaddress.ip_address(address)
        family = socket.AF_INET6 if ip.version == 6 else socket.AF_INET
        sock = _DeadlineSocket(family, socket.SOCK_STREAM)
        sock.deadline = deadline
        try:
            sock.settimeout(deadline.left())
            sock.connect((address, port))
        except TimeoutError:
            sock.close()
            raise
        except OSError as refused:
            sock.close()
            error = refused
            continue
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock
    raise error


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(
        self, host: str, port: int, *, addresses: Sequence[str], deadline: Deadline
    ) -> None:
        super().__init__(host, port)
        self.addresses = addresses
        self.deadline = deadline

    def connect(self) -> None:
        self.sock = _connect(self.addresses, self.port, self.deadline)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """The certificate is checked against the host name, not the address."""

    def __init__(
        self, host: str, port: int, *, addresses: Sequence[str], deadline: Deadline
    ) -> None:
        self.tls = ssl.create_default_context()
        self.tls.sslsocket_class = _DeadlineTLSSocket
        super().__init__(host, port, context=self.tls)
        self.addresses = addresses
        self.deadline = deadline

    def connect(self) -> None:
        sock = _connect(self.addresses, self.port, self.deadline)
        try:
            # The handshake as a whole waits at most this long.
            sock.settimeout(self.deadline.left())
            tls = cast(
                _DeadlineTLSSocket,
                self.tls.wrap_socket(sock, server_hostname=self.host),
            )
        except BaseException:
            sock.close()
            raise
        tls.deadline = self.deadline
        self.sock = tls


def pinned_connection(
    *,
    scheme: str,
    host: str,
    port: int,
    addresses: Sequence[str],
    deadline: Deadline,
) -> http.client.HTTPConnection:
    """An HTTP(S) connection to ``host`` that connects to one of ``addresses`` (the
    ones checked, tried in order) and gives up at the deadline with TimeoutError.
    The Host header and the TLS server name are the host."""
    connection_class = (
        _PinnedHTTPSConnection if scheme == "https" else _PinnedHTTPConnection
    )
    return connection_class(host, port, addresses=addresses, deadline=deadline)
