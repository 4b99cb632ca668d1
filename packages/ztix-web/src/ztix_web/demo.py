"""``ztix demo``: the whole exchange on this machine, on embedded defaults.

One process tree, each part a ``ztix`` command of its own (so the web imports no adapter):

1. the ZeroTier controller emulator (``ztix controller emulate``) on a free loopback port,
   its home and API token kept in the data directory;
2. the settings file: SQLite in the data directory, the emulator as the self-hosted
   controller, one exchange network on it, no route servers (the explicit ``none``
   fleet), the web in dev mode (plain http on 127.0.0.1);
3. ``ztix db upgrade`` and ``ztix controller reconcile`` (the network on the controller);
4. on first start only: an admin and an operator (AS64500) with random passwords, printed
   once on the terminal and never written anywhere;
5. ``ztix worker`` (embedded: no Redis) and ``ztix web``.

Ctrl-C (or SIGTERM) stops every child's process group and waits for it. A second start
reuses the data directory; ``--fresh`` wipes it first.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path
from typing import IO

from ztix_core.errors import SettingsError, ZtixError

DEMO_ASN = 64500
LAN_V4 = "10.99.0.0/24"
LAN_V6 = "fd99:99::/64"
READY_TIMEOUT_S = 120.0


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

    def write_config(self, network_id: str) -> Path:
        """The settings file of this demo."""
        path = self.data / "ztix.toml"
        path.write_text(
            "\n".join(
                [
                    'storage = "sql"',
                    f'database_url = "sqlite:///{self.data / "ztix.db"}"',
                    'zt_provider = "self_hosted_controller"',
                    'route_server_fleet = "none"',
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
                ]
            )
        )
        return path

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


def _banner(url: str, passwords: dict[str, str], data: Path) -> str:
    lines = [
        "",
        "ztix demo is running",
        f"  web:            {url}",
        "  storage:        SQLite in " + str(data),
        "  controller:     the ZeroTier controller emulator (one network, demo-lan)",
        "  route servers:  none (this demo runs without route servers: members turn active",
        "                  once the controller authorizes them)",
        "  worker:         embedded (no Redis)",
    ]
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
        zt_env = base | {"ZTIX_DEMO_ZT_TOKEN": token}
        demo.start(
            zt_env,
            "controller",
            "controller",
            "emulate",
            "--home",
            str(demo.data / "zerotier-one"),
            "--port",
            str(zt_port),
            "--token-from-env",
            "ZTIX_DEMO_ZT_TOKEN",
            ready="listening on",
        )
        zt_url = f"http://127.0.0.1:{zt_port}"
        network_id = demo.controller_address(zt_url, token) + "000001"
        config = demo.write_config(network_id)
        env = base | {
            "ZTIX_CONFIG": str(config),
            "ZT_CONTROLLER_BASE_URL": zt_url,
            "ZT_CONTROLLER_AUTH_TOKEN": token,
        }
        demo.run(env, "db", "upgrade")
        demo.run(env, "controller", "reconcile")
        passwords = demo.seed(env)
        demo.start(env, "worker", "worker", ready="ztix worker starting")
        url = f"http://127.0.0.1:{demo.port}"
        demo.start(
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
        print(_banner(url, passwords, demo.data), flush=True)
        while not done.wait(0.5):
            if any(p.poll() is not None for p in demo.children):
                print("ztix demo: a part stopped; stopping the rest", file=sys.stderr)
                return 1
        return 0
    finally:
        demo.stop()
