"""A handler that serves an agent's A2A card at the well-known path: for the tests
of the liveness probe, over IPv4 and IPv6."""

from http.server import BaseHTTPRequestHandler
from typing import Any


class CardHandler(BaseHTTPRequestHandler):
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
