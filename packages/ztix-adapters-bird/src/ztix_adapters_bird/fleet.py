"""BirdFleet: the core's RouteServerFleet over BIRD 2 route servers.

The fleet owns one event loop on a daemon thread. Synchronous callers (the worker, the
CLI) submit coroutines to it; SSH connections stay open across applies on that loop, and
one asyncio lock per server serialises applies to it within the process. Across
processes the lock directory on the server serialises them (see :mod:`.apply`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
import uuid
from collections.abc import Callable, Coroutine, Mapping, Sequence
from concurrent.futures import Future
from typing import Any, TypeVar

import attrs

from ztix_adapters_bird import drift
from ztix_adapters_bird import looking_glass as lg
from ztix_adapters_bird.apply import ApplyOptions, RemoteState, SafeApply, validate_paths
from ztix_adapters_bird.render import check_policy
from ztix_adapters_bird.settings import BirdSettings, RouteServerSettings
from ztix_adapters_bird.status import parse_sessions, peer_pattern
from ztix_adapters_bird.transport import (
    CommandHook,
    LocalTransport,
    SshTransport,
    Transport,
    TransportError,
)
from ztix_core.errors import InvalidValue, SettingsError
from ztix_core.looking_glass import LookingGlassReport, LookingGlassServer
from ztix_core.ports import (
    ApplyOutcome,
    PeerSpec,
    RouteServerDrift,
    SessionReport,
    SessionStatus,
)
from ztix_core.records import RouteServer
from ztix_core.values import Asn

log = logging.getLogger(__name__)
T = TypeVar("T")
Renderer = Callable[[RouteServerSettings, Sequence[PeerSpec]], dict[str, bytes]]
Digest = Callable[[Mapping[str, bytes]], str]
TransportFactory = Callable[[RouteServerSettings], Transport]
#: The members a server cannot configure, by index, with the reason (see refused_peers).
Checker = Callable[[RouteServerSettings, Sequence[PeerSpec]], Mapping[int, str]]


def check_settings(settings: BirdSettings) -> None:
    """Raise SettingsError (naming the key) for settings no apply could work with."""
    if not 0 <= settings.retry_for_s <= 3600:
        raise SettingsError("bird.retry_for_s", "must be between 0 and 3600 s")
    if not 0 < settings.retry_initial_backoff_s <= 60:
        raise SettingsError("bird.retry_initial_backoff_s", "must be more than 0 and at most 60 s")
    if not settings.retry_initial_backoff_s <= settings.retry_max_backoff_s <= 600:
        raise SettingsError(
            "bird.retry_max_backoff_s",
            "must be at least retry_initial_backoff_s and at most 600 s",
        )
    if not 1 <= settings.looking_glass_max_routes <= 10_000:
        raise SettingsError("bird.looking_glass_max_routes", "must be between 1 and 10000")
    if not 1 <= settings.looking_glass_timeout_s <= 300:
        raise SettingsError("bird.looking_glass_timeout_s", "must be between 1 and 300 s")
    seen: set[str] = set()
    for i, server in enumerate(settings.servers):
        key = f"bird.servers[{i}]"
        if not server.name or server.name in seen:
            raise SettingsError(f"{key}.name", f"{server.name!r} is empty or used twice")
        seen.add(server.name)
        if server.transport not in ("ssh", "local"):
            raise SettingsError(f"{key}.transport", f"{server.transport!r}: use ssh or local")
        if server.transport == "ssh":
            if server.ssh is None:
                raise SettingsError(f"{key}.ssh", "transport ssh needs an [ssh] table")
            if not server.ssh.known_hosts:
                raise SettingsError(
                    f"{key}.ssh.known_hosts", "required: host keys are pinned, never trusted"
                )
            if not server.ssh.private_key:
                raise SettingsError(f"{key}.ssh.private_key", "required")
        if server.policy.confirm_timeout_s < 5:
            raise SettingsError(f"{key}.policy.confirm_timeout_s", "must be at least 5 s")
        try:
            check_policy(server.policy)
        except InvalidValue as exc:
            raise SettingsError(f"{key}.{exc.field}", exc.message) from None
        try:
            validate_paths(server.paths)
        except InvalidValue as exc:
            raise SettingsError(f"{key}.{exc.field}", exc.message) from None


def default_transport(server: RouteServerSettings, hook: CommandHook | None = None) -> Transport:
    """SSH to ``server.ssh`` or local subprocesses, per ``server.transport``."""
    if server.transport == "local":
        timeout = server.ssh.command_timeout_s if server.ssh else 60.0
        return LocalTransport(command_timeout_s=timeout, hook=hook)
    if server.ssh is None:
        raise SettingsError(f"bird.servers.{server.name}.ssh", "transport ssh needs an [ssh] table")
    return SshTransport(server.ssh, hook=hook)


def _default_renderer() -> tuple[Renderer, Digest, Checker]:
    from ztix_adapters_bird.render import config_digest, peer_problems, render_server

    def check(server: RouteServerSettings, peers: Sequence[PeerSpec]) -> dict[int, str]:
        return {i: p.reason for i, p in peer_problems(server, peers).items()}

    return render_server, config_digest, check


@attrs.frozen
class ApplyStats:
    """What one apply to one server did: seconds per stage and what it uploaded."""

    timings: dict[str, float]
    uploaded_files: int
    uploaded_bytes: int


class _LoopThread:
    """An event loop running on a daemon thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(
            target=self.loop.run_forever, name="ztix-bird-fleet", daemon=True
        )
        self.thread.start()

    def submit(self, coro: Coroutine[Any, Any, T]) -> Future[T]:
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        if not self.thread.is_alive():
            self.loop.close()


class BirdFleet:
    """Every configured BIRD route server: render, safe apply (all servers in parallel),
    session status."""

    def __init__(
        self,
        settings: BirdSettings,
        *,
        renderer: Renderer | None = None,
        digest: Digest | None = None,
        transport_factory: TransportFactory | None = None,
        options: ApplyOptions | None = None,
        checker: Checker | None = None,
    ) -> None:
        check_settings(settings)
        self.settings = settings
        self._by_name = {s.name: s for s in settings.servers}
        if renderer is None or digest is None or checker is None:
            default_render, default_digest, default_check = _default_renderer()
            renderer = renderer or default_render
            digest = digest or default_digest
            checker = checker or default_check
        self._render = renderer
        self._digest = digest
        self._check = checker
        self._transport_factory = transport_factory or default_transport
        self.options = options or ApplyOptions()
        self._transports: dict[str, Transport] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._loop: _LoopThread | None = None
        # The tag of this fleet's locks on the servers: its applies to one server never
        # overlap (the asyncio lock), so a lock with this tag is one its own earlier apply
        # left behind, and the next apply takes it over and recovers at once.
        self._owner_tag = uuid.uuid4().hex[:12]
        # Per server, the state this fleet last applied: lets the probe skip the file list.
        self._known: dict[str, RemoteState] = {}
        # Servers whose last drift check found files that differ: their next apply hashes
        # every live file, even if the listing ztix recorded did not move.
        self._verify: set[str] = set()
        #: Per server, what the last apply did (stage timings, upload size).
        self.last_stats: dict[str, ApplyStats] = {}
        self._loop_guard = threading.Lock()

    # ----------------------------------------------------------------- plumbing

    def _runner(self) -> _LoopThread:
        with self._loop_guard:
            if self._loop is None:
                self._loop = _LoopThread()
            return self._loop

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        runner = self._runner()
        if threading.current_thread() is runner.thread:
            coro.close()
            raise RuntimeError("BirdFleet's sync methods cannot run on its own loop")
        return runner.submit(coro).result()

    async def _on_loop(self, coro: Coroutine[Any, Any, T]) -> T:
        return await asyncio.wrap_future(self._runner().submit(coro))

    def _transport(self, server: RouteServerSettings) -> Transport:
        if server.name not in self._transports:
            self._transports[server.name] = self._transport_factory(server)
        return self._transports[server.name]

    def _lock(self, name: str) -> asyncio.Lock:
        if name not in self._locks:
            self._locks[name] = asyncio.Lock()
        return self._locks[name]

    def _select(self, servers: Sequence[str] | None) -> list[RouteServerSettings]:
        if servers is None:
            return list(self._by_name.values())
        unknown = [n for n in servers if n not in self._by_name]
        if unknown:
            raise InvalidValue(
                "servers",
                f"unknown route server(s): {', '.join(unknown)}; configured: "
                f"{', '.join(self._by_name) or 'none'}",
            )
        return [self._by_name[n] for n in dict.fromkeys(servers)]

    def close(self) -> None:
        """Close connections and stop the loop thread."""
        if self._loop is None:
            return

        async def _close() -> None:
            for transport in self._transports.values():
                with contextlib.suppress(TransportError, OSError):
                    await transport.close()
            self._transports.clear()

        self._run(_close())
        self._loop.stop()
        self._loop = None
        self._locks.clear()

    # ----------------------------------------------------------------- the port

    def servers(self) -> Sequence[RouteServer]:
        """The configured servers, by name."""
        return [
            RouteServer(s.name, s.asn, s.ipv4, s.ipv6)
            for s in sorted(self.settings.servers, key=lambda s: s.name)
        ]

    def server_settings(self, name: str) -> RouteServerSettings:
        """One server's settings; InvalidValue for an unknown name."""
        return self._select([name])[0]

    def digest(self, files: Mapping[str, bytes]) -> str:
        """The digest of a rendered config set (what ``.ztix-applied`` records)."""
        return self._digest(files)

    def refused_peers(self, peers: Sequence[PeerSpec]) -> Mapping[int, str]:
        """The members some server cannot configure, by index, with the reason (the
        renderer's own validation, all members at once: clashes between members count).
        The rest render on every server: each server judges only the members the servers
        before it accepted, and leaving members out never makes another one invalid."""
        refused: dict[int, str] = {}
        for server in sorted(self._by_name.values(), key=lambda s: s.name):
            remaining = [i for i in range(len(peers)) if i not in refused]
            problems = self._check(server, [peers[i] for i in remaining])
            for j, reason in sorted(problems.items()):
                refused[remaining[j]] = f"route server {server.name}: {reason}"
        return dict(sorted(refused.items()))

    def render(self, peers: Sequence[PeerSpec]) -> Mapping[str, Mapping[str, bytes]]:
        """Per server, file name → bytes (raises InvalidValue for bad members)."""
        return {
            s.name: self._render(s, peers)
            for s in sorted(self._by_name.values(), key=lambda s: s.name)
        }

    def apply(
        self, peers: Sequence[PeerSpec], servers: Sequence[str] | None = None
    ) -> list[ApplyOutcome]:
        """Render and safely apply to the named servers (all when None), in parallel.
        One server's failure is its outcome; an unknown server name raises InvalidValue
        before anything happens."""
        selected = self._select(servers)
        return self._run(self._apply_all(peers, selected))

    async def apply_async(
        self, peers: Sequence[PeerSpec], servers: Sequence[str] | None = None
    ) -> list[ApplyOutcome]:
        """``apply`` for async callers (runs on the fleet's loop)."""
        selected = self._select(servers)
        return await self._on_loop(self._apply_all(peers, selected))

    async def _apply_all(
        self, peers: Sequence[PeerSpec], selected: Sequence[RouteServerSettings]
    ) -> list[ApplyOutcome]:
        outcomes = await asyncio.gather(*(self._apply_one(s, peers) for s in selected))
        return sorted(outcomes, key=lambda o: o.server)

    async def _apply_one(
        self, server: RouteServerSettings, peers: Sequence[PeerSpec]
    ) -> ApplyOutcome:
        try:
            files = self._render(server, peers)
            digest = self._digest(files)
        except Exception as exc:
            return ApplyOutcome(server.name, "failed", "", "render", str(exc))
        return await self.apply_files(server.name, files, digest)

    async def apply_files(self, name: str, files: Mapping[str, bytes], digest: str) -> ApplyOutcome:
        """Apply a ready config set to one server (must run on the fleet's loop; tests
        and the benchmark use it to apply hand-made configs).

        A transient failure (the daemon or the SSH server restarting, a dropped or refused
        connection) is retried with back-off until ``retry_for_s`` has passed (at least
        once when ``retry_for_s`` is above 0, however long the first attempt took); the outcome
        lists the failures retried past (``retried``) and says whether the last one was
        transient. Each attempt is a whole safe apply: one that died mid-commit is
        recovered (files restored, daemon reloaded) by the next. The server's lock in this
        process is held throughout, so no later apply to it can overtake this one."""
        server = self._by_name[name]
        retry = self.settings
        async with self._lock(name):
            deadline = time.monotonic() + retry.retry_for_s
            delay = retry.retry_initial_backoff_s
            retried: list[str] = []
            while True:
                outcome = await self._attempt(server, files, digest)
                now = time.monotonic()
                # at least one retry when retrying is on at all: a first attempt slower
                # than the bound (a connect timeout, a loaded host) still gets a second
                out_of_time = now >= deadline and (retried or retry.retry_for_s == 0)
                if outcome.ok or not outcome.transient or out_of_time:
                    break
                # the last attempt comes at the bound
                delay = max(0.0, min(delay, deadline - now))
                note = f"{outcome.stage}: {outcome.message}"
                retried.append(note)
                log.warning(
                    "route server %s: transient failure at stage %s (%s); retrying in %.1f s",
                    name,
                    outcome.stage,
                    outcome.message,
                    delay,
                )
                await asyncio.sleep(delay)
                delay = min(
                    max(delay, retry.retry_initial_backoff_s) * 2, retry.retry_max_backoff_s
                )
            return attrs.evolve(outcome, retried=tuple(retried))

    async def _attempt(
        self, server: RouteServerSettings, files: Mapping[str, bytes], digest: str
    ) -> ApplyOutcome:
        name = server.name
        try:
            transport = self._transport(server)
        except SettingsError as exc:
            return ApplyOutcome(name, "failed", digest, "connect", str(exc))
        safe = SafeApply(
            server,
            transport,
            self.options,
            known=self._known.get(name),
            owner_tag=self._owner_tag,
            verify=name in self._verify,
        )
        outcome = await safe.apply(files, digest)
        if outcome.ok:
            self._verify.discard(name)
        if safe.applied_state is not None:
            self._known[name] = safe.applied_state
        else:
            self._known.pop(name, None)
        self.last_stats[name] = ApplyStats(
            dict(safe.timings), safe.uploaded_files, safe.uploaded_bytes
        )
        return outcome

    def apply_rendered(self, configs: Mapping[str, Mapping[str, bytes]]) -> list[ApplyOutcome]:
        """Apply ready config sets (server name → files), all servers in parallel."""
        self._select(list(configs))

        async def _all() -> list[ApplyOutcome]:
            outcomes = await asyncio.gather(
                *(self.apply_files(n, f, self._digest(f)) for n, f in configs.items())
            )
            return sorted(outcomes, key=lambda o: o.server)

        return self._run(_all())

    def apply_config(self, name: str, files: Mapping[str, bytes], digest: str) -> ApplyOutcome:
        """Synchronous :meth:`apply_files`."""
        self._select([name])
        return self._run(self.apply_files(name, files, digest))

    def check_drift(
        self, peers: Sequence[PeerSpec], servers: Sequence[str] | None = None
    ) -> list[RouteServerDrift]:
        """Compare each named server (all when None) with the desired render for ``peers``
        (see :mod:`.drift`): one read-only round trip per server, all in parallel, under
        the server's lock in this process (never beside this fleet's own apply). A server
        that cannot be asked, or whose apply is under way, reports ``error``."""
        selected = self._select(servers)
        return self._run(self._check_all(peers, selected))

    async def _check_all(
        self, peers: Sequence[PeerSpec], selected: Sequence[RouteServerSettings]
    ) -> list[RouteServerDrift]:
        found = await asyncio.gather(*(self._check_one(s, peers) for s in selected))
        return sorted(found, key=lambda d: d.server)

    async def _check_one(
        self, server: RouteServerSettings, peers: Sequence[PeerSpec]
    ) -> RouteServerDrift:
        try:
            files = self._render(server, peers)
            digest = self._digest(files)
        except Exception as exc:
            return RouteServerDrift(server.name, error=f"render: {exc}")
        async with self._lock(server.name):
            try:
                result = await self._transport(server).run(drift.check_command(server))
            except (TransportError, SettingsError) as exc:
                return RouteServerDrift(server.name, error=str(exc))
        found = drift.compare(server.name, result.stdout, files, digest)
        if found.files or found.manifest:
            self._verify.add(server.name)
        return found

    def session_status(self, asn: Asn | None = None) -> list[SessionStatus]:
        """Live BGP session state per member and server (one birdc query per server, for
        one member's protocols or the ``AS*`` pattern). A server that cannot be asked
        yields, when ``asn`` is given, one entry with state ``unreachable``."""
        return self._run(self._status_all(asn))

    async def session_status_async(self, asn: Asn | None = None) -> list[SessionStatus]:
        """``session_status`` for async callers."""
        return await self._on_loop(self._status_all(asn))

    def session_report(self, asn: Asn | None = None) -> SessionReport:
        """The sessions as :meth:`session_status` finds them, and separately every server
        that could not be asked, with the reason (also when ``asn`` is None)."""
        return self._run(self._report(asn))

    async def _status_all(self, asn: Asn | None) -> list[SessionStatus]:
        report = await self._report(asn)
        out = list(report.sessions)
        if asn is not None:
            out += [
                SessionStatus(name, asn, "", "unreachable", last_error=reason)
                for name, reason in report.unreachable.items()
            ]
        return sorted(out, key=lambda s: (s.asn, s.server, s.protocol))

    async def _report(self, asn: Asn | None) -> SessionReport:
        servers = sorted(self._by_name.values(), key=lambda s: s.name)
        results = await asyncio.gather(*(self._status_one(s, asn) for s in servers))
        sessions = [s for group, _ in results for s in group]
        unreachable = {
            server.name: error
            for server, (_, error) in zip(servers, results, strict=True)
            if error is not None
        }
        return SessionReport(
            sorted(sessions, key=lambda s: (s.asn, s.server, s.protocol)), unreachable
        )

    async def _status_one(
        self, server: RouteServerSettings, asn: Asn | None
    ) -> tuple[list[SessionStatus], str | None]:
        p = server.paths
        try:
            transport = self._transport(server)
            result = await transport.run(
                [
                    p.birdc,
                    "-s",
                    p.control_socket,
                    "-v",
                    "show",
                    "protocols",
                    "all",
                    f'"{peer_pattern(asn)}"',
                ]
            )
        except (TransportError, SettingsError) as exc:
            return [], str(exc)
        output = result.stdout + result.stderr
        sessions = parse_sessions(server.name, output)
        # 8003: no protocol matches (no such member); anything else without sessions
        # means the daemon did not answer.
        if not sessions and "8003" not in output and (asn is not None or "0001" not in output):
            return [], output.strip()[:300] or f"birdc exited with {result.exit_status}"
        return sessions, None

    def looking_glass(self, asn: Asn) -> LookingGlassReport:
        """The member on every server (see :mod:`.looking_glass`): one restricted birdc
        per server, all in parallel, each reading at most ``looking_glass_max_routes``
        filtered routes and ended after ``looking_glass_timeout_s``."""
        lg.member_protocols(asn)  # InvalidValue before anything runs
        return self._run(self._looking_glass_all(asn))

    async def looking_glass_async(self, asn: Asn) -> LookingGlassReport:
        """``looking_glass`` for async callers (runs on the fleet's loop)."""
        lg.member_protocols(asn)
        return await self._on_loop(self._looking_glass_all(asn))

    async def _looking_glass_all(self, asn: Asn) -> LookingGlassReport:
        servers = sorted(self._by_name.values(), key=lambda s: s.name)
        found = await asyncio.gather(*(self._looking_glass_one(s, asn) for s in servers))
        return LookingGlassReport(asn, tuple(found))

    async def _looking_glass_one(self, server: RouteServerSettings, asn: Asn) -> LookingGlassServer:
        limit = self.settings.looking_glass_max_routes
        timeout = self.settings.looking_glass_timeout_s
        cap = lg.RouteCap(frozenset(lg.member_protocols(asn)), limit)
        stdin = "".join(f"{c}\n" for c in lg.commands(asn)).encode()
        try:
            transport = self._transport(server)
            result = await transport.stream_lines(
                lg.argv(server.paths.birdc, server.paths.control_socket),
                cap,
                stdin=stdin,
                timeout=timeout,
            )
        except (TransportError, SettingsError) as exc:
            return LookingGlassServer(server.name, error=str(exc))
        found = lg.parse_member(
            server.name, server.asn.value, asn, cap.lines, truncated=result.ended != "eof"
        )
        if result.ended == "timeout":
            return attrs.evolve(
                found, note=f"the query was ended after {timeout:g} s: what it read is shown"
            )
        return found
