"""A local PeeringDB for tests and the benchmark: a real HTTP server on 127.0.0.1 that
answers ``GET /api/net?asn__in=…`` from PeeringDB-shaped records, and plays scripted
faults (429 with Retry-After, a 5xx, an answer slower than the client's timeout,
malformed JSON, a body cut short, a malformed record) for the next calls.

Every request is recorded (path, query, the Authorization header) so tests assert what
was sent. Not for production: it holds only what a test gives it.
"""

from __future__ import annotations

import contextlib
import json
import threading
import urllib.parse
from collections import deque
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import attrs

from ztix_adapters_peeringdb.settings import PeeringDbSettings


def net_record(asn: int, **over: Any) -> dict[str, Any]:
    """A ``net`` record shaped like PeeringDB's (the fields of ``GET /api/net``)."""
    record: dict[str, Any] = {
        "id": asn % 100_000 + 1,
        "org_id": asn % 50_000 + 1,
        "name": f"Example Network AS{asn}",
        "aka": "",
        "website": f"https://as{asn}.example.net",
        "asn": asn,
        "looking_glass": "",
        "route_server": "",
        "irr_as_set": f"AS-EXAMPLE{asn}",
        "info_type": "NSP",
        "info_prefixes4": 1000,
        "info_prefixes6": 100,
        "info_traffic": "1-5Tbps",
        "info_ratio": "Balanced",
        "info_scope": "Global",
        "info_unicast": True,
        "info_multicast": False,
        "info_ipv6": True,
        "info_never_via_route_servers": False,
        "policy_url": "",
        "policy_general": "Open",
        "policy_locations": "Not Required",
        "policy_ratio": False,
        "policy_contracts": "Not Required",
        "allow_ixp_update": False,
        "status": "ok",
        "created": "2016-04-19T15:23:16Z",
        "updated": "2026-11-30T08:12:41Z",
    }
    record.update(over)
    return record


@attrs.frozen
class Fault:
    """What the server does instead of answering, for one call.

    ``kind``: ``status`` (answer ``status`` with ``retry_after`` as Retry-After when set),
    ``slow`` (answer after ``delay_s``, or when released), ``malformed`` (invalid JSON),
    ``cut`` (announce a longer body than is sent, then close), ``no_data`` (a JSON object
    without ``data``), ``bad_record`` (answer with ``record`` in place of the real one of
    its ASN), ``ok`` (answer normally: spaces other faults out).
    """

    kind: str
    status: int = 500
    retry_after: str | None = None
    delay_s: float = 30.0
    record: dict[str, Any] | None = None


@attrs.frozen
class Seen:
    """One request the server received."""

    path: str
    query: dict[str, list[str]]
    authorization: str | None

    @property
    def asns(self) -> list[int]:
        """The ASNs of ``asn__in``."""
        raw = self.query.get("asn__in", [""])[0]
        return [int(a) for a in raw.split(",") if a]


class LocalPeeringDb:
    """The server (see the module docstring). ``networks`` maps ASN → record."""

    def __init__(self, networks: Iterable[dict[str, Any]] = ()) -> None:
        self.networks: dict[int, dict[str, Any]] = {r["asn"]: r for r in networks}
        self.faults: deque[Fault] = deque()
        self.seen: list[Seen] = []
        self.release = threading.Event()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=lambda: self._server.serve_forever(poll_interval=0.05), daemon=True
        )

    def _serve(self) -> None:
        self._server.serve_forever(poll_interval=0.05)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/api"

    def settings(self, **over: Any) -> PeeringDbSettings:
        """Registry settings pointing here: no pacing, fast back-off, short timeouts."""
        values: dict[str, Any] = {
            "base_url": self.base_url,
            "timeout_s": 2.0,
            "connect_timeout_s": 2.0,
            "backoff_s": 0.0,
            "min_interval_s": 0.0,
            "max_retry_wait_s": 5.0,
        }
        values.update(over)
        return PeeringDbSettings(**values)

    def fail_next(self, *faults: Fault) -> None:
        """Play these faults for the next calls, one each, in order."""
        with self._lock:
            self.faults.extend(faults)

    def start(self) -> LocalPeeringDb:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.release.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    # ------------------------------------------------------------------ serving

    def _next_fault(self) -> Fault | None:
        with self._lock:
            return self.faults.popleft() if self.faults else None

    def _answer(self, seen: Seen, fault: Fault | None) -> dict[str, Any]:
        records = [self.networks[a] for a in seen.asns if a in self.networks]
        if fault is not None and fault.kind == "bad_record" and fault.record is not None:
            bad_asn = fault.record.get("asn")
            records = [r for r in records if r["asn"] != bad_asn] + [fault.record]
        return {"meta": {}, "data": records}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", headers.pop("Content-Length", str(len(body))))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)
                self.wfile.flush()

            def do_GET(self) -> None:
                url = urllib.parse.urlsplit(self.path)
                seen = Seen(
                    url.path,
                    urllib.parse.parse_qs(url.query),
                    self.headers.get("Authorization"),
                )
                with owner._lock:
                    owner.seen.append(seen)
                fault = owner._next_fault()
                if url.path.rstrip("/") != "/api/net":
                    self._send(404, b'{"meta": {"error": "not found"}, "data": []}', {})
                    return
                if fault is not None and fault.kind == "status":
                    headers = {}
                    if fault.retry_after is not None:
                        headers["Retry-After"] = fault.retry_after
                    body = json.dumps({"message": "Request was throttled."}).encode()
                    self._send(fault.status, body, headers)
                    return
                if fault is not None and fault.kind == "slow":
                    owner.release.wait(fault.delay_s)
                if fault is not None and fault.kind == "malformed":
                    self._send(200, b'{"meta": {}, "data": [{"asn": 64500, "name": ', {})
                    return
                if fault is not None and fault.kind == "no_data":
                    self._send(200, b'{"meta": {"error": "oops"}}', {})
                    return
                body = json.dumps(owner._answer(seen, fault)).encode()
                if fault is not None and fault.kind == "cut":
                    self._send(200, body[: len(body) // 2], {"Content-Length": str(len(body))})
                    self.close_connection = True
                    return
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self._send(200, body, {})  # the client may have given up (its timeout)

        return Handler


@contextmanager
def local_peeringdb(networks: Iterable[dict[str, Any]] = ()) -> Iterator[LocalPeeringDb]:
    """A started :class:`LocalPeeringDb`, stopped on exit."""
    server = LocalPeeringDb(networks).start()
    try:
        yield server
    finally:
        server.stop()


def plugins_with_memory_provider() -> Any:
    """The installed plugins plus an in-memory ZeroTier provider named ``memory``: this
    package's test environment holds no real provider, yet ``ztix settings`` checks one."""
    import types

    from ztix_core.hookspecs import hookimpl
    from ztix_core.memory import InMemoryProvider
    from ztix_core.plugins import Plugins, Registration, build_plugin_manager

    @hookimpl
    def ztix_membership_providers() -> list[Registration]:
        return [Registration("memory", lambda s: InMemoryProvider(), None, "in memory")]

    fake = types.SimpleNamespace(
        __name__="fake_provider", ztix_membership_providers=ztix_membership_providers
    )
    return Plugins(build_plugin_manager(disabled=(), extra=[fake]))


def isolate_settings_env(monkeypatch: Any, data_dir: Any) -> None:
    """Drop every ztix-related variable from the environment and select in-memory parts,
    with the data directory at ``data_dir`` (which the caller checks stays unused)."""
    import os

    for name in list(os.environ):
        if name.startswith(("ZT_", "ZTIX_", "PEERINGDB_")) or name in (
            "DATABASE_URL",
            "REDIS_URL",
        ):
            monkeypatch.delenv(name)
    monkeypatch.setenv("ZTIX_DATA_DIR", str(data_dir))
    monkeypatch.setenv("ZTIX_STORAGE", "memory")
    monkeypatch.setenv("ZTIX_ROUTE_SERVER_FLEET", "memory")
    monkeypatch.setenv("ZT_PROVIDER", "memory")
