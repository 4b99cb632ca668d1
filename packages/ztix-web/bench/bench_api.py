"""Benchmark of the JSON API and the IX-F export on PostgreSQL (not a test).

Seeds 100,000 join requests (the SQL adapter's ``bench_queries`` data set, imported from
there: 5,000 ASNs on 3 networks) and gives 3,000 of the active ones a membership, so the
export lists 3,000 members. Then, in one run, under ``ztix web`` (gunicorn, 1 worker x 4
threads, the real app with its middleware):

* ``GET /api/v1/requests?limit=50`` with an admin token (newest first, the page and the
  count of all 100,000), beside the same queries bare in this process (the token lookup,
  the page and the count, each unit of work as the endpoint opens it);
* ``GET /participants.json`` (gzip, as importers ask for it, and uncompressed), beside its
  bare queries: the cache check the endpoint runs on every call (``last_change``), and
  the full build it runs after a membership change;
* a bare Falcon route (one JSON line, no middleware, no database) on the same gunicorn
  settings: the floor of HTTP + WSGI on this machine right now.

Each is timed with one client (p50/p95 and requests/s) and with 4 concurrent clients
(requests/s). Targets: p95 < 50 ms; an endpoint's median at most 2x its bare queries'
median plus the median of a bare route moving the same bytes (what HTTP costs anyway:
the tiny bare route for the API page, a bare route serving the export's very bytes for the
export). PASS/MISS is printed.

    uv run python packages/ztix-web/bench/bench_api.py [--n 1000]
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import http.client
import importlib.util
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import falcon
from sqlalchemy import insert, text

from ztix_adapters_sql.models import Base, MembershipRow
from ztix_adapters_sql.testing import temporary_postgres_database
from ztix_adapters_sql.uow import SqlUnitOfWorkFactory, sql_uow_factory
from ztix_core.api_ports import TokenScope
from ztix_core.memory.clock import SystemClock
from ztix_core.ports import RequestFilter
from ztix_core.records import Actor, User
from ztix_core.settings import Settings
from ztix_core.usecases.ixf import ExchangeSettings, IxfExport
from ztix_core.usecases.tokens import ApiTokens, hash_secret

HERE = Path(__file__).parent
QUERIES = HERE.parents[1] / "ztix-adapters-sql" / "bench" / "bench_queries.py"
TARGET_P95_MS = 50.0
MEMBERS = 3000


def _bench_queries() -> Any:
    """The SQL adapter's bench module (its seeding), imported rather than copied."""
    spec = importlib.util.spec_from_file_location("bench_queries", QUERIES)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --------------------------------------------------------------------------- seeding


def seed(factory: SqlUnitOfWorkFactory, args: argparse.Namespace) -> tuple[str, int]:
    """The data set, 3,000 memberships and an admin with an admin token (its secret)."""
    bq = _bench_queries()
    # 6,000 ASNs (the SQL bench uses 5,000): enough that 3,000 of them have an active
    # request, so the export lists 3,000 member ASNs.
    seeded = argparse.Namespace(requests=args.requests, asns=6000, networks=3, seed=7)
    _, seconds, _ = bq.seed_database(factory, seeded)
    print(f"seeded {args.requests:,} requests in {seconds:.1f} s")
    with factory.engine.begin() as conn:
        active = conn.execute(
            text(
                "SELECT DISTINCT ON (asn) id, asn, network_id, node_id FROM join_requests "
                "WHERE status = 'active' ORDER BY asn, network_id LIMIT :n"
            ),
            {"n": MEMBERS},
        ).all()
        per_net: dict[str, int] = {}
        rows = []
        now = SystemClock().now()
        for rid, asn, net, node in active:
            k = per_net[net] = per_net.get(net, 0) + 1
            i = int(net[-6:], 16) - 1
            rows.append(
                {
                    "id": uuid.uuid4(),
                    "request_id": rid,
                    "network_id": net,
                    "node_id": node,
                    "asn": asn,
                    "ipv4": f"10.{i}.{k // 250}.{k % 250 + 2}",
                    "ipv6": f"fd00:{i:x}::{k + 2:x}",
                    "created_at": now,
                    "updated_at": now,
                    "authorized": True,
                    "config_generation": 1,
                    "removal_generation": None,
                }
            )
        conn.execute(insert(Base.metadata.tables[MembershipRow.__tablename__]), rows)
    with factory.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
    admin = User(uuid.uuid4(), "admin", "Admin", is_admin=True, created_at=SystemClock().now())
    with factory() as uow:
        uow.users.add(admin)
        uow.commit()
    tokens = ApiTokens(factory, SystemClock())
    secret = tokens.create(Actor.system("bench"), admin.id, "bench", TokenScope.ADMIN).secret
    return secret, len(rows)


# --------------------------------------------------------------------------- servers


def export_doc(factory: SqlUnitOfWorkFactory) -> dict[str, Any]:
    """The export as the web serves it (for the bare route's payload)."""
    return IxfExport(
        factory, SystemClock(), ExchangeSettings(), Settings().provisioning
    ).document()[0]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class _Bare:
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = {"data": "ok"}


class _BareBody:
    """The export's bytes from a file, as the cache holds them: the same payload with no
    middleware and no database (the floor for moving that many bytes)."""

    def __init__(self, plain: bytes, zipped: bytes) -> None:
        self.plain, self.zipped = plain, zipped

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.content_type = falcon.MEDIA_JSON
        if "gzip" in (req.get_header("Accept-Encoding") or ""):
            resp.set_header("Content-Encoding", "gzip")
            resp.data = self.zipped
        else:
            resp.data = self.plain


def serve_bare(port: int, body_file: str) -> None:
    """A Falcon app with one route, under gunicorn with ``ztix web``'s settings."""
    from gunicorn.app.base import BaseApplication  # type: ignore[import-untyped]

    class Bare(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            for key, value in {
                "bind": f"127.0.0.1:{port}",
                "workers": 1,
                "threads": 4,
                "worker_class": "gthread",
                "control_socket_disable": True,
                "accesslog": None,
            }.items():
                self.cfg.set(key, value)

        def load(self) -> Any:
            app = falcon.App()
            app.add_route("/bare", _Bare())
            plain = Path(body_file).read_bytes()
            app.add_route("/bare-body", _BareBody(plain, gzip.compress(plain, 6, mtime=0)))
            return app

    Bare().run()


def wait_for_port(port: int, proc: subprocess.Popen[bytes]) -> None:
    """Until the port accepts a connection (or the server died)."""
    while True:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited with {proc.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)


@contextlib.contextmanager
def server(argv: list[str], port: int, env: dict[str, str]) -> Iterator[None]:
    proc = subprocess.Popen(
        argv,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_for_port(port, proc)
        yield
    finally:
        proc.terminate()
        proc.wait(timeout=20)


# --------------------------------------------------------------------------- timing


class Figures:
    def __init__(self, samples: list[float], seconds: float) -> None:
        self.samples = sorted(samples)
        self.seconds = seconds

    @property
    def p50(self) -> float:
        return statistics.median(self.samples)

    @property
    def p95(self) -> float:
        return self.samples[int(len(self.samples) * 0.95) - 1]

    @property
    def rate(self) -> float:
        return len(self.samples) / self.seconds

    def line(self, label: str) -> str:
        return (
            f"  {label:46} p50 {self.p50:7.2f} ms  p95 {self.p95:7.2f} ms  {self.rate:8.0f} req/s"
        )


def over_http(port: int, path: str, headers: dict[str, str], n: int, clients: int = 1) -> Figures:
    samples: list[float] = []
    lock = threading.Lock()

    def worker(count: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine = []
        for _ in range(count):
            start = time.perf_counter()
            conn.request("GET", path, headers=headers)
            resp = conn.getresponse()
            resp.read()
            mine.append((time.perf_counter() - start) * 1000)
            if resp.status != 200:
                raise SystemExit(f"{path}: HTTP {resp.status}")
        conn.close()
        with lock:
            samples.extend(mine)

    worker(max(10, n // 20))  # warm-up, not counted
    samples.clear()
    started = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(n // clients,)) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return Figures(samples, time.perf_counter() - started)


def in_process(fn: Callable[[], object], n: int) -> Figures:
    for _ in range(max(10, n // 20)):
        fn()
    samples = []
    started = time.perf_counter()
    for _ in range(n):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return Figures(samples, time.perf_counter() - started)


def _verdict(endpoint: Figures, bare_queries: Figures, bare_route: Figures) -> str:
    p95_ok = endpoint.p95 < TARGET_P95_MS
    ratio_ok = endpoint.p50 <= 2 * bare_queries.p50 + bare_route.p50
    return (
        f"  p95 < {TARGET_P95_MS:.0f} ms: {'PASS' if p95_ok else 'MISS'}; "
        f"median {endpoint.p50:.2f} <= 2 x bare queries {bare_queries.p50:.2f} "
        f"+ bare route {bare_route.p50:.2f} ms: {'PASS' if ratio_ok else 'MISS'} "
        f"(ratio to bare queries alone: {endpoint.p50 / bare_queries.p50:.2f})"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--n", type=int, default=1000, help="timed calls per figure")
    parser.add_argument("--serve-bare", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--body-file", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_bare:
        serve_bare(args.serve_bare, args.body_file)
        return 0
    random.seed(7)
    with temporary_postgres_database(prefix="ztix_bench_api") as url:
        factory = sql_uow_factory(url)
        secret, members = seed(factory, args)
        print(f"{members:,} members with a membership; load average {os.getloadavg()[0]:.2f}")
        # The per-token limit would refuse the benchmark's own client: lift it.
        config = Path(tempfile.mkdtemp(prefix="ztix_bench_api")) / "ztix.toml"
        config.write_text("[web]\napi_burst = 1000000\napi_rate_per_s = 1000000.0\n")
        env = {
            **os.environ,
            "ZTIX_CONFIG": str(config),
            "DATABASE_URL": url,
            "ZTIX_STORAGE": "sql",
            "ZTIX_ROUTE_SERVER_FLEET": "none",
            "ZT_PROVIDER": "self_hosted_controller",
            "ZT_CONTROLLER_BASE_URL": "http://127.0.0.1:9",
        }
        web_port, bare_port = free_port(), free_port()
        web = [
            sys.executable,
            "-m",
            "ztix_core.cli",
            "web",
            "--dev",
            "--bind",
            f"127.0.0.1:{web_port}",
            "--workers",
            "1",
            "--threads",
            "4",
        ]
        body_file = config.with_name("participants.json")
        body_file.write_bytes(json.dumps(export_doc(factory), separators=(",", ":")).encode())
        bare = [
            sys.executable,
            str(Path(__file__).resolve()),
            "--serve-bare",
            str(bare_port),
            "--body-file",
            str(body_file),
        ]
        auth = {"Authorization": f"Bearer {secret}"}
        results: list[str] = []
        # The bare queries: what each endpoint asks the database, in this process.
        clock = SystemClock()
        flt = RequestFilter(limit=50)
        token_hash = hash_secret(secret)

        def list_bare() -> None:
            with factory() as uow:
                uow.api_tokens.get_by_hash(token_hash)
            with factory() as uow:
                uow.requests.query(flt)
                uow.requests.count(flt)

        export = IxfExport(factory, clock, ExchangeSettings(), Settings().provisioning)

        def ixf_check() -> None:
            export.last_change()

        with server(web, web_port, env), server(bare, bare_port, env):
            n = args.n
            route = over_http(bare_port, "/bare", {}, n)
            route4 = over_http(bare_port, "/bare", {}, n, clients=4)
            listing = over_http(web_port, "/api/v1/requests?limit=50", auth, n)
            listing4 = over_http(web_port, "/api/v1/requests?limit=50", auth, n, clients=4)
            gz = {"Accept-Encoding": "gzip"}  # as importers ask for it
            ixf = over_http(web_port, "/participants.json", gz, n)
            ixf4 = over_http(web_port, "/participants.json", gz, n, clients=4)
            ixf_plain = over_http(web_port, "/participants.json", {}, n)
            body_route = over_http(bare_port, "/bare-body", gz, n)
            body_plain = over_http(bare_port, "/bare-body", {}, n)
            conn = http.client.HTTPConnection("127.0.0.1", web_port)
            conn.request("GET", "/participants.json")
            body = conn.getresponse().read()
            listed = len(json.loads(body)["member_list"])
            list_q = in_process(list_bare, n)
            ixf_q = in_process(ixf_check, n)
            build = in_process(export.document, max(20, n // 50))
        results += [
            "bare Falcon route (gunicorn 1 x 4 threads, no middleware, no database)",
            route.line("GET /bare, 1 client"),
            route4.line("GET /bare, 4 clients"),
            f"GET /api/v1/requests?limit=50 as admin ({args.requests:,} requests, with the count)",
            listing.line("over HTTP, 1 client"),
            listing4.line("over HTTP, 4 clients"),
            list_q.line("bare queries: token + page + count"),
            _verdict(listing, list_q, route),
            f"GET /participants.json ({listed:,} members, {len(body) / 1024:.0f} KiB, "
            f"{len(gzip.compress(body, 6)) / 1024:.0f} KiB gzipped, cached)",
            ixf.line("over HTTP, gzip, 1 client"),
            ixf4.line("over HTTP, gzip, 4 clients"),
            ixf_plain.line("over HTTP, uncompressed, 1 client"),
            body_route.line("bare route, same bytes, gzip, 1 client"),
            body_plain.line("bare route, same bytes, uncompressed"),
            ixf_q.line("bare query: the cache check (last_change)"),
            build.line("bare build after a change (IxfExport.document)"),
            _verdict(ixf, ixf_q, body_route),
        ]
        factory.dispose()
    print("\n".join(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
