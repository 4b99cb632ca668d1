"""``ztix demo``: the whole exchange on this machine, on embedded defaults.

One process tree, each part a ``ztix`` command of its own (so the web imports no adapter):

1. the ZeroTier controller emulator (``ztix controller emulate``) on a free loopback port,
   its home and API token kept in the data directory;
2. the settings file: SQLite in the data directory, the emulator as the self-hosted
   controller, one exchange network on it, the web in dev mode (plain http on
   127.0.0.1), and two route servers ``rs1`` and ``rs2``: local BIRD 2 daemons when
   ``bird`` is installed (``$ZTIX_DEMO_BIRD``, else ``bird`` on PATH, else
   ``/usr/sbin/bird``), with static VRPs from a file in the data directory;
3. ``ztix db upgrade`` and ``ztix controller reconcile`` (the network on the controller);
4. on first start only: an admin and an operator (AS64500) with random passwords, printed
   once on the terminal and never written anywhere;
5. the route servers: ``ztix rs init`` (a first config for a server that has none), then
   one ``bird -f`` per server in its own process group, files and control socket under
   ``DATA/rsN``. A BIRD that answers ``show status`` on its socket proves the route
   servers can run here; without that evidence (no bird, a BIRD that would not start) the
   settings switch to the explicit ``none`` fleet and the banner says why;
6. ``ztix worker`` (embedded: no Redis) and ``ztix web``.

Steps that do not need each other's results run side by side (start-up time is mostly
Python starting ``ztix`` commands): a later start upgrades the database while the emulator
starts, skips the reconcile when the emulator still has the network an earlier start
reconciled, and the web and the worker start once the route servers are decided.

Ctrl-C (or SIGTERM) stops every child's process group and waits for it. A second start
reuses the data directory (BIRD starts on the config last applied); ``--fresh`` wipes it.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import IO, NamedTuple

from ztix_core.errors import SettingsError, ZtixError

DEMO_ASN = 64500
LAN_V4 = "10.99.0.0/24"
LAN_V6 = "fd99:99::/64"
READY_TIMEOUT_S = 120.0
#: The bird binary to use (birdc is taken from the same directory); a path that is not
#: there makes the demo run without route servers, which is how its tests check that case.
BIRD_ENV = "ZTIX_DEMO_BIRD"
#: The route servers' ASN (private) and addresses, reserved in the demo network.
RS_ASN = 64999
ROUTE_SERVERS = (("rs1", "10.99.0.1", "fd99:99::1"), ("rs2", "10.99.0.2", "fd99:99::2"))
#: How long a starting BIRD may take to answer on its control socket.
BIRD_START_TIMEOUT_S = 15.0
# What the bird adapter refuses in a path (it quotes them into shell commands and BIRD
# config): such a data directory runs the demo without route servers.
_PATH_BAD = re.compile(r"[\"'\s\\;]")


class LocalBird(NamedTuple):
    """The BIRD 2 binaries the route servers run on."""

    bird: str
    birdc: str
    version: str


class RouteServersUnavailable(ZtixError):
    """The route servers cannot run here; the message says why."""


def find_bird(env: dict[str, str]) -> LocalBird:
    """The BIRD 2 binaries to use; RouteServersUnavailable saying why there are none."""
    configured = env.get(BIRD_ENV, "")
    if configured:
        bird = configured
        if not (os.path.isfile(bird) and os.access(bird, os.X_OK)):
            raise RouteServersUnavailable(f"{BIRD_ENV}={bird}: no such program")
    else:
        found = shutil.which("bird", path=env.get("PATH"))
        if found is None and os.access("/usr/sbin/bird", os.X_OK):
            found = "/usr/sbin/bird"
        if found is None:
            raise RouteServersUnavailable(
                "bird2 not installed: no bird on PATH or at /usr/sbin/bird"
            )
        bird = found
    birdc = str(Path(bird).with_name("birdc"))
    if not os.access(birdc, os.X_OK):
        raise RouteServersUnavailable(f"no birdc next to {bird}")
    try:
        done = subprocess.run(
            [bird, "--version"], capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise RouteServersUnavailable(f"{bird} --version failed: {exc}") from None
    said = (done.stdout + done.stderr).strip()
    match = re.search(r"BIRD version (\S+)", said)
    if match is None:
        raise RouteServersUnavailable(f"{bird} --version said {said[:100]!r}, not a BIRD version")
    if not match.group(1).startswith("2."):
        raise RouteServersUnavailable(
            f"{bird} is BIRD {match.group(1)}; the route servers need BIRD 2"
        )
    return LocalBird(bird, birdc, match.group(1))


def _toml(value: str) -> str:
    """A TOML basic string (JSON's escapes are TOML's)."""
    return json.dumps(value)


def seconds_since_start() -> float | None:
    """How long ago this process started (Linux /proc), or None where that is unknown."""
    try:
        fields = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
        uptime = float(Path("/proc/uptime").read_text().split()[0])
        return uptime - int(fields[19]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def default_data_dir() -> Path:
    """``$ZTIX_DATA_DIR/demo``, else ``$XDG_DATA_HOME/ztix/demo``, else
    ``~/.local/share/ztix/demo``."""
    if os.environ.get("ZTIX_DATA_DIR"):
        return Path(os.environ["ZTIX_DATA_DIR"]) / "demo"
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "ztix" / "demo"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Demo:
    """Starts, watches and stops the demo's processes."""

    def __init__(self, data: Path, port: int) -> None:
        self.data = data
        self.port = port
        self.children: list[subprocess.Popen[str]] = []
        self.names: dict[int, str] = {}
        self.route_servers: list[subprocess.Popen[str]] = []
        self.stopping = threading.Event()

    # ------------------------------------------------------------------ processes

    def _ztix(self) -> list[str]:
        return [sys.executable, "-m", "ztix_core.cli"]

    def run(self, env: dict[str, str], *argv: str, stdin: str = "") -> str:
        """Run one ``ztix`` command to completion; ZtixError with its message if it fails."""
        done = subprocess.run(
            [*self._ztix(), *argv],
            input=stdin,
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        if done.returncode != 0:
            raise ZtixError(f"ztix {' '.join(argv)} failed: {done.stderr.strip() or done.stdout}")
        return done.stdout

    def start(self, env: dict[str, str], name: str, *argv: str, ready: str) -> None:
        """Start a long-running ``ztix`` command in its own process group and wait for the
        line that says it is ready (its output is relayed, prefixed with ``name``)."""
        proc = subprocess.Popen(
            [*self._ztix(), *argv],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self.children.append(proc)
        self.names[proc.pid] = name
        assert proc.stdout is not None
        seen: list[str] = []
        for line in proc.stdout:
            seen.append(line)
            if ready in line:
                break
        else:
            raise ZtixError(f"{name} stopped before it was ready:\n{''.join(seen[-20:])}")
        threading.Thread(target=self._relay, args=(name, proc.stdout), daemon=True).start()

    def _relay(self, name: str, stream: IO[str]) -> None:
        for line in stream:
            if not self.stopping.is_set():
                sys.stdout.write(f"[{name}] {line}")
                sys.stdout.flush()

    def stop(self) -> None:
        """SIGTERM every child's process group, newest first, and wait for each."""
        self.stopping.set()
        for proc in reversed(self.children):
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
        for proc in reversed(self.children):
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()

    # ------------------------------------------------------------------ set-up

    def token(self) -> str:
        """The emulator's API token, made once and kept (mode 0600) in the data dir."""
        path = self.data / "zerotier-token"
        if not path.exists():
            path.write_text(secrets.token_hex(24))
            path.chmod(0o600)
        return path.read_text().strip()

    def controller_address(self, url: str, token: str) -> str:
        """The emulated controller's 10-hex address (its network ids start with it)."""
        request = urllib.request.Request(f"{url}/status", headers={"X-ZT1-Auth": token})
        with urllib.request.urlopen(request, timeout=10) as response:  # the emulator, on loopback
            return str(json.load(response)["address"])

    def write_config(self, network_id: str, bird: LocalBird | None) -> Path:
        """The settings file of this demo: the ``bird`` fleet of :data:`ROUTE_SERVERS` on
        ``bird``, or the ``none`` fleet when there is no BIRD."""
        path = self.data / "ztix.toml"
        database = f"sqlite:///{self.data / 'ztix.db'}"
        fleet = "bird" if bird else "none"
        lines = [
            'storage = "sql"',
            f"database_url = {_toml(database)}",
            'zt_provider = "self_hosted_controller"',
            f'route_server_fleet = "{fleet}"',
            'approval_policy = "manual_admin"',
            "# the demo's operator uses AS64500, an RFC 5398 documentation ASN",
            "allow_documentation_asns = true",
            "",
            "[[networks]]",
            f'id = "{network_id}"',
            'name = "demo-lan"',
            f'ipv4_prefix = "{LAN_V4}"',
            f'ipv6_prefix = "{LAN_V6}"',
            "",
            "[web]",
            "dev = true",
            "",
            "# the demo relays the web's and the worker's logs to a terminal",
            "[logging]",
            'format = "text"',
            "",
        ]
        if bird:
            lines += self._bird_section(bird)
        # Whole or not at all: other ztix commands may be reading it.
        tmp = path.with_name(".ztix.toml.tmp")
        tmp.write_text("\n".join(lines))
        tmp.replace(path)
        return path

    def _bird_section(self, bird: LocalBird) -> list[str]:
        vrps = self.write_vrps()
        lines: list[str] = []
        for name, v4, v6 in ROUTE_SERVERS:
            home = self.data / name
            lines += [
                "[[bird.servers]]",
                f'name = "{name}"',
                f"asn = {RS_ASN}",
                f'router_id = "{v4}"',
                f'ipv4 = "{v4}"',
                f'ipv6 = "{v6}"',
                'transport = "local"',
                "[bird.servers.paths]",
                f"config_dir = {_toml(str(home / 'config'))}",
                f"main_config = {_toml(str(home / 'config' / 'bird.conf'))}",
                f"bird = {_toml(bird.bird)}",
                f"birdc = {_toml(bird.birdc)}",
                f"control_socket = {_toml(str(home / 'bird.ctl'))}",
                f"log_file = {_toml(str(home / 'bird.log'))}",
                "[bird.servers.rpki]",
                f"vrp_file = {_toml(str(vrps))}",
                "[bird.servers.policy]",
                "# the demo's member is AS64500 and may announce documentation prefixes",
                "allow_documentation_ranges = true",
                "",
            ]
        return lines

    def write_vrps(self) -> Path:
        """The route servers' RPKI source, offline: a VRP file (rpki-client JSON) in the
        data dir, written once. It makes the demo operator's documentation prefixes valid."""
        path = self.data / "vrps.json"
        if not path.exists():
            roas = [
                {"prefix": "203.0.113.0/24", "maxLength": 24, "asn": DEMO_ASN, "ta": "demo"},
                {"prefix": "2001:db8::/32", "maxLength": 48, "asn": DEMO_ASN, "ta": "demo"},
            ]
            path.write_text(json.dumps({"metadata": {"source": "ztix demo"}, "roas": roas}))
        return path

    # ------------------------------------------------------------------ route servers

    def start_route_servers(self, env: dict[str, str], bird: LocalBird) -> list[int]:
        """Start one BIRD per route server (``bird -f``, its own process group) and wait
        until each answers on its control socket; their pids. RouteServersUnavailable
        (with BIRD's own words) when one does not: the caller then stops them."""
        if any(not (self.data / n / "config" / "bird.conf").exists() for n, _, _ in ROUTE_SERVERS):
            try:
                self.run(env, "rs", "init")
            except ZtixError as exc:
                raise RouteServersUnavailable(str(exc)) from None
        started: list[tuple[str, subprocess.Popen[str], Path]] = []
        for name, _, _ in ROUTE_SERVERS:
            home = self.data / name
            self._stop_leftover(name, home)
            with open(home / "bird.stderr", "w") as stderr:
                proc = subprocess.Popen(
                    [
                        bird.bird,
                        "-f",
                        "-c",
                        str(home / "config" / "bird.conf"),
                        "-s",
                        str(home / "bird.ctl"),
                        "-P",
                        str(home / "bird.pid"),
                    ],
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=stderr,
                    text=True,
                    start_new_session=True,
                )
            self.children.append(proc)
            self.names[proc.pid] = name
            self.route_servers.append(proc)
            started.append((name, proc, home))
        deadline = time.monotonic() + BIRD_START_TIMEOUT_S
        waiting = list(started)
        while waiting:
            for item in list(waiting):
                name, proc, home = item
                if proc.poll() is not None:
                    said = (home / "bird.stderr").read_text().strip().splitlines()
                    why = said[-1] if said else f"exit status {proc.returncode}"
                    raise RouteServersUnavailable(f"BIRD for {name} did not start: {why}")
                if "0013" in _birdc(bird, home / "bird.ctl", "show", "status"):
                    waiting.remove(item)
            if waiting and time.monotonic() > deadline:
                raise RouteServersUnavailable(
                    f"BIRD for {waiting[0][0]} did not answer on {waiting[0][2] / 'bird.ctl'} "
                    f"within {BIRD_START_TIMEOUT_S:.0f} s"
                )
            if waiting:
                time.sleep(0.02)
        return [proc.pid for _, proc, _ in started]

    def apply_route_servers(self, env: dict[str, str]) -> None:
        """``ztix rs apply`` once the BIRDs run, before the worker starts: BIRD was
        (re)started by the demo, not by an apply, and until ztix applies to it the
        worker's drift check would report exactly that. A failure is said, not fatal:
        BIRD runs, and the worker applies again with the next change."""
        try:
            self.run(env, "rs", "apply")
        except ZtixError as exc:
            print(f"ztix demo: {exc}", file=sys.stderr, flush=True)

    def _stop_leftover(self, name: str, home: Path) -> None:
        """A BIRD an earlier demo left running on this server's files (that demo was
        killed outright) is stopped: two daemons on one socket cannot both work."""
        try:
            pid = int((home / "bird.pid").read_text().strip())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except (OSError, ValueError):
            return
        if str(home / "config" / "bird.conf").encode() not in cmdline:
            return
        print(
            f"ztix demo: stopping the BIRD of {name} an earlier run left behind (pid {pid})",
            flush=True,
        )
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)

    def stop_route_servers(self) -> None:
        """Stop the BIRDs started so far and forget them (when not all of them started)."""
        procs, self.route_servers = self.route_servers, []
        for proc in procs:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            self.children.remove(proc)

    def start_controller(self, base: dict[str, str], port: int, token: str) -> None:
        """The controller emulator on ``port``, its home in the data dir."""
        self.start(
            base | {"ZTIX_DEMO_ZT_TOKEN": token},
            "controller",
            "controller",
            "emulate",
            "--home",
            str(self.data / "zerotier-one"),
            "--port",
            str(port),
            "--token-from-env",
            "ZTIX_DEMO_ZT_TOKEN",
            ready="listening on",
        )

    def known_network_id(self) -> str | None:
        """The network id an earlier start found (the emulator keeps its identity)."""
        path = self.data / "network-id"
        return path.read_text().strip() if path.exists() else None

    def remember_network_id(self, network_id: str) -> None:
        """Keep the network id for the next start."""
        (self.data / "network-id").write_text(network_id + "\n")

    def reconcile(self, env: dict[str, str], url: str, token: str, network_id: str) -> None:
        """``ztix controller reconcile``, unless an earlier start reconciled this very
        network and the emulator still has it (its state is kept in the data dir)."""
        marker = self.data / "reconciled"
        wanted = f"{network_id} {LAN_V4} {LAN_V6} demo-lan\n"
        if (
            marker.exists()
            and marker.read_text() == wanted
            and self._has_network(url, token, network_id)
        ):
            return
        marker.unlink(missing_ok=True)
        self.run(env, "controller", "reconcile")
        marker.write_text(wanted)

    def _has_network(self, url: str, token: str, network_id: str) -> bool:
        request = urllib.request.Request(
            f"{url}/controller/network/{network_id}", headers={"X-ZT1-Auth": token}
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:  # the emulator
                return bool(response.status == 200)
        except OSError:  # urllib's HTTPError (404) is an OSError too
            return False

    def seed(self, env: dict[str, str]) -> dict[str, str]:
        """An admin and an operator (AS64500), on first start only: their passwords."""
        marker = self.data / "seeded"
        if marker.exists():
            return {}
        passwords = {}
        for name, extra in (("admin", ["--admin"]), ("operator", [])):
            password = secrets.token_urlsafe(12)
            self.run(env, "user", "create", name, *extra, "--password-stdin", stdin=password)
            passwords[name] = password
        self.run(env, "user", "link-asn", "operator", str(DEMO_ASN), "--network-name", "Demo Net")
        marker.write_text("admin and operator were created on the first start\n")
        return passwords


def _birdc(bird: LocalBird, sock: Path, *command: str) -> str:
    """``birdc -v`` output (stdout and stderr); empty when birdc could not run."""
    try:
        done = subprocess.run(
            [bird.birdc, "-s", str(sock), "-v", *command],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return done.stdout + done.stderr


class RouteServers(NamedTuple):
    """What the banner says about the route servers: the BIRD they run on, or why none."""

    bird: LocalBird | None
    pids: list[int]
    why_none: str


def _route_server_lines(rs: RouteServers, data: Path) -> list[str]:
    if rs.bird is None:
        return [
            f"  route servers:  none ({rs.why_none})",
            "                  members turn active once the controller authorizes them",
        ]
    names = ", ".join(n for n, _, _ in ROUTE_SERVERS)
    pids = ", ".join(str(p) for p in rs.pids)
    lines = [
        f"  route servers:  {names} — local BIRD {rs.bird.version} (pid {pids}), files under",
        f"                  {data}/rsN; a member turns active once both applied it. Its",
        "                  sessions stay Idle: its address is on no interface of this machine",
    ]
    if os.geteuid() != 0:
        lines += [
            "                  (not root: BIRD cannot listen on port 179, so on a machine",
            "                  joined to the network they show 'Error: No listening socket')",
        ]
    return lines


def _banner(
    url: str,
    passwords: dict[str, str],
    data: Path,
    rs: RouteServers,
    first_page_s: float | None = None,
) -> str:
    lines = [
        "",
        "ztix demo is running",
        f"  web:            {url}",
        "  storage:        SQLite in " + str(data),
        "  controller:     the ZeroTier controller emulator (one network, demo-lan)",
        *_route_server_lines(rs, data),
        "  worker:         embedded (no Redis)",
    ]
    if first_page_s is not None:
        lines.append(f"  started in:     {first_page_s:.1f} s (from ztix demo to the first page)")
    if passwords:
        lines.append("  accounts (passwords shown this once):")
        for name, password in passwords.items():
            lines.append(f"    {name:9} {password}")
    else:
        lines.append("  accounts:       admin, operator (from the first start; `ztix user")
        lines.append("                  set-password NAME` with this demo's ZTIX_CONFIG to reset)")
    lines += ["Press Ctrl-C to stop.", ""]
    return "\n".join(lines)


class DemoCommand:
    """``ztix demo [--port N] [--data-dir DIR] [--fresh]``."""

    def configure(self, parser: argparse.ArgumentParser) -> None:
        """Add this command's arguments."""
        parser.add_argument("--port", type=int, default=8080, help="web port (8080)")
        parser.add_argument("--data-dir", type=Path, help="where the demo keeps its state")
        parser.add_argument("--fresh", action="store_true", help="wipe the data dir first")

    def run(self, args: argparse.Namespace) -> int:
        """Run the command; the exit code."""
        if not 1 <= args.port <= 65535:
            raise SettingsError("--port", "must be 1-65535")
        data: Path = (args.data_dir or default_data_dir()).absolute()
        if args.fresh and data.exists():
            shutil.rmtree(data)
        data.mkdir(parents=True, exist_ok=True)
        return serve_demo(Demo(data, args.port))


def _first_page(url: str) -> float | None:
    """Ask for the sign-in page once; how long after this process started it was answered
    (None when /proc cannot say); ZtixError when the page does not come."""
    try:
        with urllib.request.urlopen(f"{url}/login", timeout=30) as response:  # our own web
            response.read()
    except OSError as exc:
        raise ZtixError(f"the web started but {url}/login did not answer: {exc}") from None
    return seconds_since_start()


def serve_demo(demo: Demo) -> int:
    """Start everything, print the banner, wait for Ctrl-C or SIGTERM, stop everything."""
    done = threading.Event()

    def _stop(signum: int, frame: object) -> None:
        done.set()

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    base = {
        k: v
        for k, v in os.environ.items()
        if k not in ("ZTIX_CONFIG", "REDIS_URL", "DATABASE_URL") and not k.startswith("ZT_")
    }
    try:
        token = demo.token()
        zt_port = _free_port()
        zt_url = f"http://127.0.0.1:{zt_port}"
        bird: LocalBird | None = None
        try:
            bird = find_bird(base)
            if _PATH_BAD.search(str(demo.data)):
                raise RouteServersUnavailable(
                    f"the data dir {demo.data} has a space, quote or semicolon in its path, "
                    "which the route servers' paths may not (--data-dir to choose another)"
                )
            rs = RouteServers(bird, [], "")
        except RouteServersUnavailable as exc:
            bird = None
            rs = RouteServers(None, [], str(exc))
        env = base | {
            "ZTIX_CONFIG": str(demo.data / "ztix.toml"),
            "ZT_CONTROLLER_BASE_URL": zt_url,
            "ZT_CONTROLLER_AUTH_TOKEN": token,
        }
        # Start-up time is mostly Python starting ztix commands, so what does not need
        # another step's result runs beside it. The network id comes from the emulator's
        # address; a second start knows it and upgrades the database meanwhile.
        with ThreadPoolExecutor(4) as pool:
            controller = pool.submit(demo.start_controller, base, zt_port, token)
            known = demo.known_network_id()
            upgraded = None
            if known:
                demo.write_config(known, bird)
                upgraded = pool.submit(demo.run, env, "db", "upgrade")
            controller.result()
            network_id = demo.controller_address(zt_url, token) + "000001"
            if upgraded is not None:
                upgraded.result()
            if network_id != known:
                demo.write_config(network_id, bird)
                demo.run(env, "db", "upgrade")
                demo.remember_network_id(network_id)
            reconciled = pool.submit(demo.reconcile, env, zt_url, token, network_id)
            seeded = pool.submit(demo.seed, env)
            if bird is not None:
                try:
                    rs = RouteServers(bird, demo.start_route_servers(env, bird), "")
                except RouteServersUnavailable as exc:
                    demo.stop_route_servers()
                    rs = RouteServers(None, [], str(exc))
                    demo.write_config(network_id, None)
            # The worker and the web read the settings once: they start after the route
            # servers are decided, beside the accounts and the controller's reconcile.
            url = f"http://127.0.0.1:{demo.port}"
            web = pool.submit(
                demo.start,
                env,
                "web",
                "web",
                "--bind",
                f"127.0.0.1:{demo.port}",
                "--workers",
                "1",
                "--threads",
                "4",
                ready="Booting worker",
            )
            if rs.bird is not None:
                demo.apply_route_servers(env)
            worker = pool.submit(demo.start, env, "worker", "worker", ready="ztix worker starting")
            web.result()
            first_page_s = _first_page(url)
            reconciled.result()
            passwords = seeded.result()
            worker.result()
        print(_banner(url, passwords, demo.data, rs, first_page_s), flush=True)
        while not done.wait(0.5):
            stopped = [p for p in demo.children if p.poll() is not None]
            if stopped:
                name = demo.names.get(stopped[0].pid, "a part")
                print(f"ztix demo: {name} stopped; stopping the rest", file=sys.stderr)
                return 1
        return 0
    finally:
        demo.stop()
