"""A web server on 127.0.0.1 that answers one byte at a time: for the tests of the
deadlines of outgoing fetches. It sends ``prefix`` at once, then one byte of ``drip``
every ``interval`` seconds, and hangs up after ``limit`` seconds, so that a test never
hangs however the code under test behaves."""

import socket
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager


def _serve(
    conn: socket.socket,
    *,
    prefix: bytes,
    drip: bytes,
    interval: float,
    limit: float,
    stop: threading.Event,
    tls: ssl.SSLContext | None,
) -> None:
    until = time.monotonic() + limit
    conn.settimeout(limit)
    try:
        if tls is not None:
            conn = tls.wrap_socket(conn, server_side=True)
    except OSError:
        conn.close()
        return
    with conn:
        request = b""
        try:
            while b"\r\n\r\n" not in request:
                chunk = conn.recv(4096)
                if not chunk:
                    return
                request += chunk
            conn.sendall(prefix)
            index = 0
            while not stop.is_set() and time.monotonic() < until:
                conn.sendall(drip[index % len(drip) : index % len(drip) + 1])
                index += 1
                stop.wait(interval)
        except OSError:
            return


@contextmanager
def slow_server(
    *,
    prefix: bytes,
    drip: bytes = b"a",
    interval: float = 0.05,
    limit: float = 5.0,
    tls: ssl.SSLContext | None = None,
) -> Iterator[int]:
    """Yields the port of the server (speaking TLS with ``tls``, if given)."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.settimeout(0.05)
    stop = threading.Event()
    workers: list[threading.Thread] = []

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _peer = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            worker = threading.Thread(
                target=_serve,
                kwargs={
                    "conn": conn,
                    "prefix": prefix,
                    "drip": drip,
                    "interval": interval,
                    "limit": limit,
                    "stop": stop,
                    "tls": tls,
                },
                daemon=True,
            )
            worker.start()
            workers.append(worker)

    acceptor = threading.Thread(target=accept, daemon=True)
    acceptor.start()
    try:
        yield int(listener.getsockname()[1])
    finally:
        stop.set()
        acceptor.join()
        for worker in workers:
            worker.join()
        listener.close()


# A status line, then a header that never ends.
DRIPPING_HEADERS = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Slow: "
# Complete headers, then a body that never ends.
DRIPPING_BODY = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 100000\r\n\r\n"
)
