"""The emulator's HTTP server, its fault switches, and the public server classes.

``EmulatorServer`` emulates a self-hosted zerotier-one controller; ``CentralEmulatorServer``
emulates ZeroTier Central's API v1. Both keep their state in a zerotier-one home directory
and run a stdlib ``ThreadingHTTPServer`` in a background thread.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
import urllib.parse
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol

from ztix_adapters_zerotier.emulator.central_api import CentralApi
from ztix_adapters_zerotier.emulator.controller_api import ControllerApi
from ztix_adapters_zerotier.emulator.http_types import Reply, Request, raw_json_reply
from ztix_adapters_zerotier.emulator.state import ControllerState

log = logging.getLogger(__name__)

#: How many requests ``requests`` keeps (it is trimmed in batches).
REQUEST_LOG_SIZE = 10_000

#: The body of a forced error: like the controller's, unescaped and so not valid JSON.
FORCED_ERROR_BODY = '{"error": 500, "description": "emulated "forced" failure"}'


class Api(Protocol):
    """What the HTTP layer needs from an API emulation."""

    def authorized(self, request: Request) -> bool: ...

    def handle(self, request: Request) -> Reply: ...


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], owner: _ServerBase) -> None:
        self.owner = owner
        family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.address_family = family
        super().__init__(address, _Handler)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "libzt-emulator"
    sys_version = ""
    server: _HttpServer

    def setup(self) -> None:
        owner = self.server.owner
        self.timeout = owner.keepalive_timeout  # type: ignore[misc]
        self._served = 0
        super().setup()
        # answers go out in one write; without NODELAY, Nagle + delayed ACK cost 40 ms each
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        owner._track(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.owner._track(self.connection, add=False)

    def handle_one_request(self) -> None:
        owner = self.server.owner
        if owner._hang.is_set():
            # "go away" (hang): take the connection, never answer
            owner._released.wait()
            self.close_connection = True
            return
        super().handle_one_request()

    # the usual methods all reach the API (which answers 404 where the controller has no
    # route); other methods get http.server's 501
    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_PATCH(self) -> None:
        self._dispatch()

    def do_HEAD(self) -> None:
        self._dispatch()

    def do_OPTIONS(self) -> None:
        self._dispatch()

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _dispatch(self) -> None:
        owner = self.server.owner
        split = urllib.parse.urlsplit(self.path)
        request = Request(
            method=self.command,
            path=urllib.parse.unquote(split.path),
            query=urllib.parse.parse_qs(split.query, keep_blank_values=True),
            headers={k.lower(): v for k, v in self.headers.items()},
            body=self._read_body(),
            client=self.client_address[0],
        )
        if owner._hang.is_set():  # went away while this keep-alive connection waited
            owner._released.wait()
            reply = None
        else:
            reply = owner._answer(request)
        if reply is None:  # "drop": close without an answer (the client sees a reset/EOF)
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        self._served += 1
        # like cpp-httplib: "Keep-Alive: timeout=T, max=N" on every answer but the last of
        # a connection (the N-th, or one the client asked to close), which says close
        last = (
            self._served >= owner.keepalive_max
            or self.headers.get("Connection", "").lower() == "close"
        )
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(reply.body)))
        if last:
            self.send_header("Connection", "close")
        else:
            timeout = f"{owner.keepalive_timeout:g}"
            self.send_header("Keep-Alive", f"timeout={timeout}, max={owner.keepalive_max}")
        self.end_headers_and_body(reply.body if self.command != "HEAD" else b"")
        if last:
            self.close_connection = True

    def end_headers_and_body(self, body: bytes) -> None:
        """End the headers and send them with the body in one write (one TCP segment for
        small answers; Nagle + delayed ACK would otherwise cost 40 ms per request)."""
        buffer: list[bytes] = getattr(self, "_headers_buffer", [])
        buffer.append(b"\r\n" + body)
        self._headers_buffer = buffer
        self.flush_headers()

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        # never log the query string: it may carry ?auth=<token>
        log.debug("%s %s -> %s", self.command, urllib.parse.urlsplit(self.path).path, code)

    def log_message(self, format: str, *args: object) -> None:
        log.debug("emulator: " + format, *args)


class _ServerBase:
    """HTTP plumbing and fault switches shared by both emulators."""

    def __init__(
        self,
        api: Api,
        *,
        host: str,
        port: int,
        keepalive_max: int,
        keepalive_timeout: float,
    ) -> None:
        self.api = api
        self.host = host
        self.port = port
        self.keepalive_max = keepalive_max
        self.keepalive_timeout = keepalive_timeout
        #: seconds added before every answer (to provoke client timeouts)
        self.latency = 0.0
        #: (method, path) of the latest requests (up to REQUEST_LOG_SIZE), for assertions
        self.requests: list[tuple[str, str]] = []
        self._forced_status: int | None = None
        self._forced_remaining: int | None = None
        self._forced_body = FORCED_ERROR_BODY
        self._drop_active = False
        self._drop_remaining: int | None = None
        self._hang = threading.Event()
        self._released = threading.Event()
        self._released.set()
        self._lock = threading.Lock()
        self._connections: set[socket.socket] = set()
        self._httpd: _HttpServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle

    @property
    def running(self) -> bool:
        """True while the listener accepts connections."""
        return self._httpd is not None

    @property
    def base(self) -> str:
        """``http://host:port`` of the listener."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self) -> None:
        """Bind (the same port again after a stop) and serve in a background thread."""
        if self._httpd is not None:
            return
        httpd = _HttpServer((self.host, self.port), self)
        self.port = httpd.server_address[1]
        self._on_bound()
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )
        self._thread.start()

    def _on_bound(self) -> None:
        """Hook: the listener is bound and ``self.port`` is known."""

    def stop(self) -> None:
        """Close the listener and every open connection."""
        self._released.set()
        httpd, self._httpd = self._httpd, None
        if httpd is not None:
            httpd.shutdown()
            httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        with self._lock:
            connections = list(self._connections)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    def __enter__(self) -> _ServerBase:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _track(self, conn: socket.socket, *, add: bool) -> None:
        with self._lock:
            if add:
                self._connections.add(conn)
            else:
                self._connections.discard(conn)

    # ------------------------------------------------------------------ fault switches

    def go_away(self, mode: str = "refuse") -> None:
        """Stop answering. ``refuse``: close the listener, so connections are refused;
        ``hang``: keep accepting connections but never answer (clients time out)."""
        if mode == "refuse":
            self.stop()
        elif mode == "hang":
            self._released.clear()
            self._hang.set()
        else:
            raise ValueError(f"go_away mode must be 'refuse' or 'hang', not {mode!r}")

    def come_back(self) -> None:
        """Undo ``go_away``: listen again on the same port and answer."""
        self._hang.clear()
        self._released.set()
        self.start()

    def force_errors(
        self, status: int = 500, count: int | None = None, body: str | None = None
    ) -> None:
        """Answer the next ``count`` authorized requests (every one when None) with
        ``status`` and ``body`` (default: an unescaped, invalid-JSON error body)."""
        with self._lock:
            self._forced_status = status
            self._forced_remaining = count
            self._forced_body = FORCED_ERROR_BODY if body is None else body

    def drop_connections(self, count: int | None = 1) -> None:
        """Read the next ``count`` requests (every one when None), then close the
        connection without answering: the client sees the server disconnect mid-call."""
        with self._lock:
            self._drop_active = True
            self._drop_remaining = count

    def set_latency(self, seconds: float) -> None:
        """Delay every answer by ``seconds``."""
        self.latency = seconds

    def clear_faults(self) -> None:
        """Back to normal: no forced errors, no dropped connections, no latency,
        answering."""
        with self._lock:
            self._forced_status = None
            self._forced_remaining = None
            self._drop_active = False
            self._drop_remaining = None
        self.latency = 0.0
        self._hang.clear()
        self._released.set()

    # ------------------------------------------------------------------ answering

    def _take_forced(self) -> Reply | None:
        with self._lock:
            if self._forced_status is None:
                return None
            reply = raw_json_reply(self._forced_status, self._forced_body)
            if self._forced_remaining is not None:
                self._forced_remaining -= 1
                if self._forced_remaining <= 0:
                    self._forced_status = None
                    self._forced_remaining = None
            return reply

    def _take_drop(self) -> bool:
        with self._lock:
            if not self._drop_active:
                return False
            if self._drop_remaining is not None:
                self._drop_remaining -= 1
                if self._drop_remaining <= 0:
                    self._drop_active = False
                    self._drop_remaining = None
            return True

    def _answer(self, request: Request) -> Reply | None:
        with self._lock:
            self.requests.append((request.method, request.path))
            if len(self.requests) > 2 * REQUEST_LOG_SIZE:  # a long-running emulator
                del self.requests[:-REQUEST_LOG_SIZE]
        if self._take_drop():
            return None
        if self.latency > 0:
            time.sleep(self.latency)
        if self.api.authorized(request):
            forced = self._take_forced()
            if forced is not None:
                return forced
        try:
            return self.api.handle(request)
        except Exception:  # the real service answers 500 on any handler exception
            log.exception("emulator handler failed")
            return raw_json_reply(500, '{"error": 500, "description": "Unknown Exception"}')


class EmulatorServer(_ServerBase):
    """An emulated self-hosted zerotier-one controller, state in ``home``.

    ``token`` (when given) is written to ``authtoken.secret``; otherwise the home's token
    is used (a fresh one is created for a new home). Use as a context manager, or call
    ``start()`` / ``stop()``. ``url`` is the API base (no trailing slash).
    """

    def __init__(
        self,
        home: Path,
        token: str | None = None,
        port: int = 0,
        *,
        host: str = "127.0.0.1",
        allow_management_from: list[str] | None = None,
        keepalive_max: int = 5,
        keepalive_timeout: float = 5.0,
    ) -> None:
        self.home = Path(home)
        self.state = ControllerState(self.home, token)
        self._allow = allow_management_from
        self.controller = ControllerApi(self.state, allow_management_from=allow_management_from)
        super().__init__(
            self.controller,
            host=host,
            port=port,
            keepalive_max=keepalive_max,
            keepalive_timeout=keepalive_timeout,
        )

    def __enter__(self) -> EmulatorServer:
        self.start()
        return self

    def _on_bound(self) -> None:
        self.controller.port = self.port
        (self.home / "zerotier-one.port").write_text(str(self.port))

    @property
    def url(self) -> str:
        return self.base

    @property
    def token(self) -> str:
        return self.state.token

    @property
    def address(self) -> str:
        """The controller's 10-hex node address (the prefix of its network ids)."""
        return self.state.address

    @property
    def database_ready(self) -> bool:
        return self.controller.database_ready

    @database_ready.setter
    def database_ready(self, ready: bool) -> None:
        self.controller.database_ready = ready

    def set_database_ready(self, ready: bool) -> None:
        """Fault switch: while False, ``GET /controller`` answers 503."""
        self.controller.database_ready = ready

    def set_token(self, token: str) -> None:
        """Rotate the API token (also rewrites ``authtoken.secret``)."""
        self.state.set_token(token)

    def mangle_members(self, mangler: Callable[[dict[str, Any]], None] | None) -> None:
        """Fault switch: apply ``mangler`` to every member record before it is stored
        (e.g. drop an address), so a provider's read-back check can be tested; None
        turns it off."""
        self.state.member_mangler = mangler

    def restart(self) -> None:
        """Stop, re-read everything from the home (like a daemon restart), start again on
        the same port. Fault switches other than the database switch are cleared."""
        ready = self.controller.database_ready
        self.stop()
        self.clear_faults()
        self.state = ControllerState(self.home)
        self.controller = ControllerApi(self.state, allow_management_from=self._allow)
        self.controller.database_ready = ready
        self.api = self.controller
        self.start()

    def create_network(self, name: str = "", **fields: object) -> str:
        """Create a network under this controller directly (no HTTP); its id."""
        from ztix_adapters_zerotier.emulator import records

        nwid = self.state.fresh_network_id()
        network: dict[str, object] = {}
        records.init_network(network, self.state.clock())
        records.update_network(network, {"name": name, **fields})
        network["id"] = network["nwid"] = nwid
        self.state.save_network(network)
        return nwid


class CentralEmulatorServer(_ServerBase):
    """An emulated ZeroTier Central API v1 (``Authorization: token …``), state in
    ``home``. ``url`` ends in ``/api/v1``. ``rate_limit`` is requests per second
    (None: unlimited); over it, 429 with ``X-Ratelimit-*`` headers."""

    def __init__(
        self,
        home: Path,
        token: str | None = None,
        port: int = 0,
        *,
        host: str = "127.0.0.1",
        rate_limit: int | None = 100,
        keepalive_max: int = 100,
        keepalive_timeout: float = 5.0,
    ) -> None:
        self.home = Path(home)
        self.state = ControllerState(self.home, token)
        self.central = CentralApi(self.state, rate_limit=rate_limit)
        super().__init__(
            self.central,
            host=host,
            port=port,
            keepalive_max=keepalive_max,
            keepalive_timeout=keepalive_timeout,
        )

    def __enter__(self) -> CentralEmulatorServer:
        self.start()
        return self

    @property
    def url(self) -> str:
        return self.base + "/api/v1"

    @property
    def token(self) -> str:
        return self.state.token

    @property
    def address(self) -> str:
        """The prefix of the networks this emulated account holds."""
        return self.state.address

    @property
    def rate_limit(self) -> int | None:
        return self.central.rate_limit

    @rate_limit.setter
    def rate_limit(self, value: int | None) -> None:
        self.central.rate_limit = value

    def set_token(self, token: str) -> None:
        """Rotate the API token."""
        self.state.set_token(token)

    def mangle_members(self, mangler: Callable[[dict[str, Any]], None] | None) -> None:
        """Fault switch: apply ``mangler`` to every member record before it is stored."""
        self.state.member_mangler = mangler

    def create_network(self, name: str = "", nwid: str | None = None) -> str:
        """Create a network in the emulated account directly (no HTTP); its id."""
        return self.central.create_network(name=name, nwid=nwid)

    def forbid(self, nwid: str) -> None:
        """Make ``nwid`` belong to someone else: every call on it answers 403."""
        self.central.forbidden.add(nwid.lower())
