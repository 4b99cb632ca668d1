"""The benchmarks' machine baseline: a bare HTTP server on 127.0.0.1 (stdlib only)."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

_BODY = b'{"online": true}'


class _Fixed(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the controller's clients use it
    # one segment per response: headers and body written separately would meet Nagle's
    # algorithm and the client's delayed ACK (40 ms per request)
    disable_nagle_algorithm = True
    wbufsize = -1

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(_BODY)))
        self.end_headers()
        self.wfile.write(_BODY)

    def log_message(self, format: str, *args: object) -> None:
        return


@contextlib.contextmanager
def bare_http_server() -> Iterator[str]:
    """A server answering every GET with a fixed JSON body; yields its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Fixed)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
