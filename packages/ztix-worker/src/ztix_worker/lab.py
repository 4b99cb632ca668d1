"""The whole exchange on one machine, for end-to-end tests and the benchmark.

:class:`ExchangeLab` starts a migrated PostgreSQL database, the ZeroTier controller
emulator, two BIRD 2 route servers reached over a real key-only sshd, writes a ztix config
file, seeds the database and runs ``ztix worker`` processes against it all. The test
process drives the workflow (submit/approve/leave) through the core use cases, exactly as
the web process would, and inspects the database, the controller and the daemons.

:class:`PostgresCluster` is a throwaway PostgreSQL cluster (``initdb``/``pg_ctl``, run as
user ``postgres``) for tests that restart the database.

Needs the other adapters (ztix-adapters-sql, -zerotier, -bird), root, bird2,
openssh-server, redis-server and PostgreSQL; imports them lazily so the rest of
ztix_worker does not depend on them.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ztix_core.bootstrap import App, bootstrap
from ztix_core.plugins import Plugins, build_plugin_manager
from ztix_core.ports import MembershipProvider, MemberState
from ztix_core.records import Actor, AsnLink, JoinRequest, LinkSource, User, ZtNetwork, new_id
from ztix_core.settings import load_settings
from ztix_core.status import RequestStatus
from ztix_core.values import Asn, NetworkId, NodeId
from ztix_worker.testing import REDIS_URL, WorkerProcess, free_port, test_namespace, wait_for

ADMIN = Actor("user", "e2e-admin", is_admin=True)
RS_ASN = 64999
LAN_V4 = ipaddress.IPv4Network("10.77.0.0/22")
LAN_V6 = ipaddress.IPv6Network("fd77::/64")


def _pg_bin() -> Path:
    """Debian's newest PostgreSQL server binaries (/usr/lib/postgresql/<major>/bin)."""
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    return found[-1].parent if found else Path("/usr/lib/postgresql/15/bin")


PG_BIN = _pg_bin()


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return json.dumps(str(value))


def _table(name: str, values: Mapping[str, Any]) -> str:
    lines = [f"[{name}]"] + [f"{k} = {_toml(v)}" for k, v in values.items()]
    return "\n".join(lines) + "\n"


class RequestsFailed(AssertionError):
    """Requests failed while a test waited for another status."""


class PostgresCluster:
    """A private PostgreSQL cluster on a free port (trust auth, user postgres), made with
    ``initdb`` and run with ``pg_ctl`` as user ``postgres``; ``stop``/``start`` at will,
    ``close`` removes it."""

    def __init__(self, port: int | None = None) -> None:
        if not (PG_BIN / "initdb").exists():
            raise RuntimeError(f"{PG_BIN}/initdb missing: apt-get install postgresql")
        self.port = port or free_port()
        self.root = Path(tempfile.mkdtemp(prefix="ztix-pg-", dir="/tmp"))
        self.data = self.root / "data"
        shutil.chown(self.root, "postgres", "postgres")
        self._as_postgres(
            [
                str(PG_BIN / "initdb"),
                "-D",
                str(self.data),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
            ]
        )

    def _as_postgres(self, args: Sequence[str]) -> None:
        subprocess.run(
            ["runuser", "-u", "postgres", "--", *args], check=True, capture_output=True, timeout=120
        )

    @property
    def admin_url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def start(self) -> PostgresCluster:
        opts = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._as_postgres(
            [
                str(PG_BIN / "pg_ctl"),
                "-D",
                str(self.data),
                "-o",
                opts,
                "-l",
                str(self.root / "log"),
                "-w",
                "start",
            ]
        )
        return self

    def stop(self, mode: str = "fast") -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self._as_postgres(
                [str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop"]
            )

    def close(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


class ExchangeLab:
    """See the module docstring. Use as a context manager; ``close()`` undoes everything.

    ``worker_settings`` go to the config file's ``[worker]`` table; ``redis_url`` may point
    at a throwaway server; ``admin_url`` at a throwaway PostgreSQL cluster.
    """

    def __init__(
        self,
        *,
        redis_url: str = REDIS_URL,
        admin_url: str | None = None,
        worker_settings: Mapping[str, Any] | None = None,
        servers: Sequence[str] = ("rs1", "rs2"),
        zerotier: Mapping[str, Any] | None = None,
        bird: Mapping[str, Any] | None = None,
    ) -> None:
        self.redis_url = redis_url
        #: Extra keys of the ``[bird]`` table (e.g. ``retry_for_s``).
        self.bird: dict[str, Any] = dict(bird or {})
        self.admin_url = admin_url
        self.namespace = test_namespace()
        self.worker_settings: dict[str, Any] = {
            "redis_namespace": self.namespace,
            "queue": self.namespace,
            "threads": 8,
            "relay_interval_s": 0.05,
            "min_backoff_ms": 200,
            "max_backoff_ms": 2000,
            "max_retries": 4,
            "stuck_after_s": 20.0,
            "reconcile_interval_s": 5.0,
            "heartbeat_timeout_ms": 4000,
            "maintenance_chance": 200000,
            "gate_poll_s": 0.3,
            "sync_lock_ttl_s": 6.0,
            "sync_pending_ttl_s": 6.0,
            **(worker_settings or {}),
        }
        self.zerotier = {
            "timeout_s": 2.0,
            "retry_attempts": 2,
            "backoff_s": 0.1,
            **(zerotier or {}),
        }
        self.server_names = tuple(servers)
        self.stack = contextlib.ExitStack()
        self.workdir = Path(tempfile.mkdtemp(prefix="ztix-e2e-", dir="/tmp"))
        self.workdir.chmod(0o755)
        self.workers: list[WorkerProcess] = []
        self.daemons: dict[str, Any] = {}

    # ------------------------------------------------------------------ setup

    def __enter__(self) -> ExchangeLab:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> None:
        from ztix_adapters_sql.testing import POSTGRES_ADMIN_URL, temporary_postgres_database
        from ztix_adapters_zerotier.emulator.testing import running_emulator

        self.database_url = self.stack.enter_context(
            temporary_postgres_database(self.admin_url or POSTGRES_ADMIN_URL)
        )
        self.zt = self.stack.enter_context(running_emulator(self.workdir / "zerotier-one"))
        self.network_id = NetworkId(self.zt.create_network("ztix-e2e"))
        self._start_route_servers()
        self.config = self.workdir / "ztix.toml"
        self.config.write_text(self._config_text())
        self.env = {
            "ZTIX_CONFIG": str(self.config),
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.redis_url,
            "ZT_PROVIDER": "self_hosted_controller",
            "ZT_CONTROLLER_BASE_URL": self.zt.url,
            "ZT_CONTROLLER_AUTH_TOKEN": self.zt.token,
        }
        settings = load_settings(self.config, environ=self.env)
        self.settings = settings
        plugins = Plugins(build_plugin_manager())
        self.app: App = bootstrap(settings, plugins, with_provisioning=False)
        self.provider: MembershipProvider = plugins.select(
            "membership_providers", settings.zt_provider, "ZT_PROVIDER"
        ).factory(settings)
        self.network = ZtNetwork(self.network_id, "ztix-e2e", LAN_V4, LAN_V6)
        self.provider.ensure_network(self.network)
        self.user = User(
            new_id(),
            "operator",
            "Operator",
            email="op@example.net",
            email_verified=True,
            verified_user=True,
        )
        with self.app.uow_factory() as uow:
            uow.networks.add(self.network)
            uow.users.add(self.user)
            uow.commit()

    def _start_route_servers(self) -> None:
        from ztix_adapters_bird.render import render_server
        from ztix_adapters_bird.settings import RouteServerSettings, RpkiSource
        from ztix_adapters_bird.testing import TEST_USER, BirdLab

        lab = BirdLab()
        self.stack.callback(lab.close)
        sshd = lab.sshd()
        vrps = self.workdir / "vrps.json"
        vrps.write_text(
            json.dumps(
                {
                    "metadata": {},
                    "roas": [
                        {"prefix": "192.0.2.0/24", "maxLength": 24, "asn": "AS64500", "ta": "test"}
                    ],
                }
            )
        )
        vrps.chmod(0o644)
        self.rs_settings = []
        for i, name in enumerate(self.server_names, start=1):
            daemon = lab.daemon(name, config_owner=TEST_USER, start=False)
            server = RouteServerSettings(
                name=name,
                asn=Asn(RS_ASN),
                router_id=ipaddress.IPv4Address(f"10.77.0.{i}"),
                ipv4=ipaddress.IPv4Address(f"10.77.0.{i}"),
                ipv6=ipaddress.IPv6Address(f"fd77::{i}"),
                transport="ssh",
                ssh=sshd.target(),
                paths=daemon.paths(),
                rpki=RpkiSource(vrp_file=str(vrps)),
            )
            daemon.start(render_server(server, []))
            self.daemons[name] = daemon
            self.rs_settings.append(server)
        self.sshd = sshd

    def _config_text(self) -> str:
        parts = [
            'storage = "sql"\nroute_server_fleet = "bird"\napproval_policy = "manual_admin"\n'
            # the lab's members use RFC 5398 documentation ASNs
            "allow_documentation_asns = true\n",
            _table("worker", self.worker_settings),
            _table("zerotier", self.zerotier),
            "[[networks]]\n"
            + "".join(
                f"{k} = {_toml(v)}\n"
                for k, v in {
                    "id": self.network_id.value,
                    "name": "ztix-e2e",
                    "ipv4_prefix": str(LAN_V4),
                    "ipv6_prefix": str(LAN_V6),
                }.items()
            ),
        ]
        if self.bird:
            parts.append(_table("bird", self.bird))
        for s in self.rs_settings:
            assert s.ssh is not None
            parts.append(
                "[[bird.servers]]\n"
                + "".join(
                    f"{k} = {_toml(v)}\n"
                    for k, v in {
                        "name": s.name,
                        "asn": RS_ASN,
                        "router_id": str(s.router_id),
                        "ipv4": str(s.ipv4),
                        "ipv6": str(s.ipv6),
                        "transport": "ssh",
                    }.items()
                )
            )
            parts.append(
                "[bird.servers.ssh]\n"
                + "".join(
                    f"{k} = {_toml(getattr(s.ssh, k))}\n"
                    for k in (
                        "host",
                        "port",
                        "user",
                        "private_key",
                        "known_hosts",
                        "connect_timeout_s",
                        "command_timeout_s",
                    )
                )
            )
            parts.append(
                "[bird.servers.paths]\n"
                + "".join(
                    f"{k} = {_toml(getattr(s.paths, k))}\n"
                    for k in ("config_dir", "main_config", "bird", "birdc", "control_socket")
                )
            )
            parts.append(f"[bird.servers.rpki]\nvrp_file = {_toml(s.rpki.vrp_file)}\n")
        return "\n".join(parts)

    def close(self) -> None:
        for worker in self.workers:
            worker.kill()
        self.workers.clear()
        with contextlib.suppress(Exception):
            from ztix_worker.testing import flush_namespace, redis_client_for

            flush_namespace(redis_client_for(self.redis_url), self.namespace)
        self.stack.close()
        if not os.environ.get("ZTIX_E2E_KEEP"):
            shutil.rmtree(self.workdir, ignore_errors=True)

    # ------------------------------------------------------------------ worker

    def worker(
        self, *args: str, env: Mapping[str, str] | None = None, start: bool = True
    ) -> WorkerProcess:
        """A ``ztix worker`` process on this lab (started unless ``start`` is False)."""
        proc = WorkerProcess(
            {**self.env, **(env or {})}, args, log_dir=self.workdir / f"worker{len(self.workers)}"
        )
        self.workers.append(proc)
        return proc.start() if start else proc

    # ------------------------------------------------------------------ workflow

    def link(self, asns: Iterable[int]) -> None:
        with self.app.uow_factory() as uow:
            for asn in asns:
                uow.asn_links.add(AsnLink(self.user.id, Asn(asn), LinkSource.LOCAL))
            uow.commit()

    def submit(self, asn: int, node: str | None = None) -> uuid.UUID:
        """File a request for ``asn`` (linking it to the operator first)."""
        self.link([asn])
        req = self.app.workflow.submit(self.user.id, asn, self.network_id, node or node_for(asn))
        return req.id

    def approve(self, request_id: uuid.UUID) -> None:
        self.app.workflow.approve(ADMIN, request_id)

    def request(self, request_id: uuid.UUID) -> JoinRequest:
        with self.app.uow_factory() as uow:
            req = uow.requests.get(request_id)
        assert req is not None
        return req

    def statuses(self, ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, RequestStatus]:
        with self.app.uow_factory() as uow:
            out = {}
            for rid in ids:
                req = uow.requests.get(rid)
                assert req is not None
                out[rid] = req.status
            return out

    def wait_status(
        self,
        ids: Sequence[uuid.UUID],
        status: RequestStatus,
        timeout: float = 60.0,
        interval: float = 0.05,
    ) -> None:
        def done() -> bool:
            seen = set(self.statuses(ids).values())
            if status is not RequestStatus.FAILED and RequestStatus.FAILED in seen:
                failed = [
                    self.request(r) for r in ids if self.request(r).status is RequestStatus.FAILED
                ]
                raise RequestsFailed(
                    f"{len(failed)} request(s) failed, e.g. "
                    f"{failed[0].last_error}; logs in {self.workdir}"
                )
            return seen == {status}

        try:
            wait_for(done, timeout=timeout, interval=interval, what=f"all {status.value}")
        except RequestsFailed:
            raise
        except AssertionError:
            counts: dict[str, int] = {}
            for s in self.statuses(ids).values():
                counts[s.value] = counts.get(s.value, 0) + 1
            raise AssertionError(
                f"not all {status.value} after {timeout} s: {counts}; worker logs in {self.workdir}"
            ) from None

    def actions(self, request_id: uuid.UUID) -> list[str]:
        with self.app.uow_factory() as uow:
            return [e.action for e in uow.audit.for_target("request", str(request_id))]

    def member(self, asn: int) -> MemberState | None:
        return self.provider.read_member(self.network_id, NodeId(node_for(asn)))

    def peers_on(self, server: str) -> set[int]:
        """ASNs with a BGP protocol on a route server, asked from the running daemon."""
        out = self.daemons[server].birdc("show", "protocols")
        found = set()
        for line in out.splitlines():
            name = line.split()[0] if line.split() else ""
            if name.startswith("AS") and "_" in name:
                with contextlib.suppress(ValueError):
                    found.add(int(name[2:].split("_")[0]))
        return found

    def applies(self) -> dict[str, int]:
        """Successful applies (``route_server.applied`` audit events) per server."""
        with self.app.uow_factory() as uow:
            events = uow.audit.recent(limit=100_000, action="route_server.applied")
        counts = dict.fromkeys(self.server_names, 0)
        for e in events:
            counts[e.target_id] = counts.get(e.target_id, 0) + 1
        return counts

    def check_consistent(self, rids: Sequence[uuid.UUID], asns: Sequence[int]) -> None:
        """Nothing lost, nothing duplicated: every request active with its status changes
        audited once, one membership and one address pair each, the controller holding
        exactly these members (authorized, with the database's addresses) and every route
        server exactly these peers."""
        with self.app.uow_factory() as uow:
            memberships = {m.request_id: m for m in uow.memberships.list()}
            for rid in rids:
                req = uow.requests.get(rid)
                assert req is not None and req.status is RequestStatus.ACTIVE, (rid, req)
                actions = [e.action for e in uow.audit.for_target("request", str(rid))]
                tries = actions.count("request.approved")
                assert tries >= 1 and actions.count("request.provisioning") == tries, actions
                assert actions.count("request.failed") == tries - 1, (rid, actions)
                for action in ("request.submitted", "request.active", "membership.allocated"):
                    assert actions.count(action) == 1, (rid, action, actions)
        assert set(memberships) == set(rids), "memberships differ from the requests"
        assert len({m.ipv4 for m in memberships.values()}) == len(rids)
        assert len({m.ipv6 for m in memberships.values()}) == len(rids)
        members = {m.node_id: m for m in self.provider.list_members(self.network_id)}
        assert set(members) == {m.node_id for m in memberships.values()}, "controller differs"
        for m in memberships.values():
            state = members[m.node_id]
            assert state.authorized, m.node_id
            assert {str(ipaddress.ip_address(a)) for a in state.ip_assignments} == {
                str(m.ipv4),
                str(m.ipv6),
            }, m.node_id
        for server in self.server_names:
            assert self.peers_on(server) == set(asns), server


def node_for(asn: int) -> str:
    """A deterministic 10-hex node id for a member ASN."""
    return f"{0xEE00000000 + asn:010x}"


def wait_for_file_text(path: Path, text: str, timeout: float = 30.0) -> None:
    """Wait until ``path`` contains ``text``."""
    wait_for(
        lambda: path.exists() and text in path.read_text(errors="replace"),
        timeout=timeout,
        what=f"{text!r} in {path}",
    )
