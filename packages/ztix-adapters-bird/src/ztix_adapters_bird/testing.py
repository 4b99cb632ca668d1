"""Test helpers other packages reuse: real BIRD daemons and a real key-only sshd.

Everything lives in temp dirs under /tmp (mode 0755, because BIRD drops to user ``bird``
and must traverse them; pytest's own tmp dirs are 0700) and is removed by ``close()``.

Choices, for the record:

* BIRD runs as Debian's ``bird`` user (``-u bird -g bird``), as on a real route server, so
  the 0600 trap (a config file only its owner can read) shows up in tests exactly as in
  production.
* SSH logs in as a dedicated system account (:data:`TEST_USER`, supplementary group
  ``bird``, password field ``*`` so that ``UsePAM no`` accepts key logins). The account is
  created once and kept (creating and deleting accounts per test would race between
  parallel test processes); it has no password and its only authorized key lives in the
  temp sshd's own ``AuthorizedKeysFile``, so the system sshd (if any) never lets it in.
* The sshd listens on 127.0.0.1 on a free port, with its own host key, ``UsePAM no``,
  public-key authentication only, and ``StrictModes no`` (its files live in /tmp).

Requires root and Debian's ``bird2`` and ``openssh-server``; raises
:class:`LabUnavailable` (tests must fail, never skip) when they are missing.
"""

from __future__ import annotations

import contextlib
import fcntl
import grp
import ipaddress
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from ztix_adapters_bird.settings import PolicyKnobs, RemotePaths, RouteServerSettings, SshTarget
from ztix_core.values import Asn

BIRD = "/usr/sbin/bird"
BIRDC = "/usr/sbin/birdc"
SSHD = "/usr/sbin/sshd"
SSH_KEYGEN = "/usr/bin/ssh-keygen"
BIRD_USER = "bird"
TEST_USER = "ztixrs"


class LabUnavailable(RuntimeError):
    """A binary, account or privilege the lab needs is missing."""


def require_lab() -> None:
    """Raise LabUnavailable unless bird2, openssh-server and root are available."""
    missing = [p for p in (BIRD, BIRDC, SSHD, SSH_KEYGEN) if not os.access(p, os.X_OK)]
    if missing:
        raise LabUnavailable(
            f"missing {', '.join(missing)}: apt-get install -y bird2 openssh-server"
        )
    if os.geteuid() != 0:
        raise LabUnavailable("the BIRD/sshd lab needs root (to run BIRD as user bird)")
    try:
        pwd.getpwnam(BIRD_USER)
    except KeyError:
        raise LabUnavailable("user 'bird' is missing: apt-get install -y bird2") from None


def make_root(prefix: str = "ztix-bird-") -> Path:
    """A fresh temp dir other users (bird, the SSH account) can traverse."""
    path = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    path.chmod(0o755)
    return path


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def ensure_test_user(name: str = TEST_USER) -> None:
    """Create (once) the SSH account: group bird, key login only."""
    with open("/tmp/.ztix-test-user.lock", "w") as lockf:
        fcntl.flock(lockf, fcntl.LOCK_EX)
        home = f"/var/lib/{name}"
        try:
            pwd.getpwnam(name)
        except KeyError:
            subprocess.run(
                [
                    "useradd",
                    "--system",
                    "--home-dir",
                    home,
                    "--shell",
                    "/bin/sh",
                    "-G",
                    BIRD_USER,
                    name,
                ],
                check=True,
                capture_output=True,
            )
        if name not in grp.getgrnam(BIRD_USER).gr_mem:
            subprocess.run(["usermod", "-aG", BIRD_USER, name], check=True, capture_output=True)
        # useradd leaves the account locked ('!'); sshd with UsePAM no refuses locked ones.
        subprocess.run(["usermod", "-p", "*", name], check=True, capture_output=True)
        os.makedirs(home, exist_ok=True)
        pw = pwd.getpwnam(name)
        os.chown(home, pw.pw_uid, pw.pw_gid)
        os.chmod(home, 0o750)


def write_files(directory: Path, files: Mapping[str, bytes], *, owner: str | None = None) -> None:
    """Write a config set the way ztix does: group bird, mode 0640 (dirs 2750)."""
    gid = grp.getgrnam(BIRD_USER).gr_gid
    uid = pwd.getpwnam(owner).pw_uid if owner else 0
    for name, data in files.items():
        path = directory / name
        for parent in reversed(path.relative_to(directory).parents[:-1]):
            d = directory / parent
            if not d.exists():
                d.mkdir()
                os.chown(d, uid, gid)
                d.chmod(0o2750)
        path.write_bytes(data)
        os.chown(path, uid, gid)
        path.chmod(0o640)


def read_files(directory: Path) -> dict[str, bytes]:
    """Every file under ``directory`` by relative path, except top-level dot entries
    (ztix's manifest, lock, staging and backup)."""
    out: dict[str, bytes] = {}
    for path in sorted(directory.rglob("*")):
        rel = path.relative_to(directory)
        if rel.parts[0].startswith(".") or not path.is_file():
            continue
        out[str(rel)] = path.read_bytes()
    return out


class BirdDaemon:
    """A BIRD 2 daemon with its own config dir, control socket and pidfile.

    ``config_dir`` is owned by ``config_owner`` (default root) and group bird, mode 2750;
    the daemon's main config is ``config_dir/bird.conf``.
    """

    def __init__(self, root: Path, name: str = "rs", *, config_owner: str | None = None):
        self.root = root / name
        self.config_dir = self.root / "config"
        self.run_dir = self.root / "run"
        self.socket = self.run_dir / "bird.ctl"
        self.pidfile = self.run_dir / "bird.pid"
        self.config_owner = config_owner
        self.pid: int | None = None
        gid = grp.getgrnam(BIRD_USER).gr_gid
        bird_uid = pwd.getpwnam(BIRD_USER).pw_uid
        uid = pwd.getpwnam(config_owner).pw_uid if config_owner else 0
        self.root.mkdir(parents=True)
        self.root.chmod(0o755)
        self.config_dir.mkdir()
        os.chown(self.config_dir, uid, gid)
        self.config_dir.chmod(0o2750)
        # BIRD refuses `include "peers/*.conf"` when the directory is missing (an empty
        # one is fine): a prepared route server has it.
        (self.config_dir / "peers").mkdir()
        os.chown(self.config_dir / "peers", uid, gid)
        (self.config_dir / "peers").chmod(0o2750)
        self.run_dir.mkdir()
        os.chown(self.run_dir, bird_uid, gid)
        self.run_dir.chmod(0o750)

    @property
    def main_config(self) -> Path:
        return self.config_dir / "bird.conf"

    def paths(self) -> RemotePaths:
        """RemotePaths pointing at this daemon."""
        return RemotePaths(
            config_dir=str(self.config_dir),
            main_config=str(self.main_config),
            bird=BIRD,
            birdc=BIRDC,
            control_socket=str(self.socket),
        )

    def write(self, files: Mapping[str, bytes]) -> None:
        """Write files into the config dir (group bird, 0640)."""
        write_files(self.config_dir, files, owner=self.config_owner)

    def start(
        self,
        files: Mapping[str, bytes] | None = None,
        timeout: float = 10.0,
        *,
        main_config: Path | None = None,
    ) -> None:
        """Write ``files`` (when given) and start the daemon; wait until it answers.
        ``main_config`` overrides the daemon's main file (default config_dir/bird.conf)."""
        if files is not None:
            self.write(files)
        proc = subprocess.run(
            [
                BIRD,
                "-c",
                str(main_config or self.main_config),
                "-s",
                str(self.socket),
                "-P",
                str(self.pidfile),
                "-u",
                BIRD_USER,
                "-g",
                BIRD_USER,
            ],
            check=False,
            capture_output=True,
            text=True,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"bird did not start: {proc.stderr.strip()}")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.pidfile.exists() and "0013" in self.birdc("show", "status"):
                self.pid = int(self.pidfile.read_text().strip())
                return
            time.sleep(0.02)
        raise RuntimeError("bird did not answer on its control socket")

    def birdc(self, *command: str) -> str:
        """birdc -v output (stdout and stderr)."""
        proc = subprocess.run(
            [BIRDC, "-s", str(self.socket), "-v", *command],
            check=False,
            capture_output=True,
            text=True,
        )
        return proc.stdout + proc.stderr

    def files(self) -> dict[str, bytes]:
        """The live config files (top-level dot entries excluded)."""
        return read_files(self.config_dir)

    def last_reconfiguration(self) -> str:
        """The 'Last reconfiguration on …' line of ``show status``."""
        for line in self.birdc("show", "status").splitlines():
            if "Last reconfiguration" in line:
                return line.strip()
        return ""

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after 5 s."""
        pid, self.pid = self.pid, None
        if pid is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and Path(f"/proc/{pid}").exists():
            time.sleep(0.02)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


class SshServer:
    """A key-only OpenSSH server on 127.0.0.1 with its own host key and known_hosts."""

    def __init__(self, root: Path, user: str = TEST_USER) -> None:
        self.root = root / "sshd"
        self.root.mkdir(parents=True)
        self.root.chmod(0o755)
        self.user = user
        self.port = 0
        self.host_key = self.root / "host_ed25519"
        self.client_key = self.root / "client_ed25519"
        self.authorized_keys = self.root / "authorized_keys"
        self.known_hosts = self.root / "known_hosts"
        self.log = self.root / "sshd.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def _keygen(self, path: Path) -> None:
        subprocess.run(
            [SSH_KEYGEN, "-q", "-t", "ed25519", "-N", "", "-C", "ztix-test", "-f", str(path)],
            check=True,
            capture_output=True,
        )

    def start(self, timeout: float = 10.0) -> None:
        """Generate keys, write the config and start sshd; wait until it listens."""
        ensure_test_user(self.user)
        self._keygen(self.host_key)
        self._keygen(self.client_key)
        shutil.copy(f"{self.client_key}.pub", self.authorized_keys)
        self.authorized_keys.chmod(0o644)
        self.port = free_port()
        host_pub = Path(f"{self.host_key}.pub").read_text().split()
        self.known_hosts.write_text(f"[127.0.0.1]:{self.port} {host_pub[0]} {host_pub[1]}\n")
        self._launch(timeout)

    def restart(self, timeout: float = 10.0) -> None:
        """Start sshd again after :meth:`stop`: the same port, keys and config."""
        self._launch(timeout)

    def _launch(self, timeout: float) -> None:
        config = self.root / "sshd_config"
        config.write_text(
            "\n".join(
                [
                    f"Port {self.port}",
                    "ListenAddress 127.0.0.1",
                    f"HostKey {self.host_key}",
                    f"PidFile {self.root / 'sshd.pid'}",
                    f"AuthorizedKeysFile {self.authorized_keys}",
                    "AuthenticationMethods publickey",
                    "PubkeyAuthentication yes",
                    "PasswordAuthentication no",
                    "KbdInteractiveAuthentication no",
                    "UsePAM no",
                    "StrictModes no",
                    f"AllowUsers {self.user}",
                    "PermitRootLogin no",
                    "X11Forwarding no",
                    "AllowTcpForwarding no",
                    "PrintMotd no",
                    "MaxSessions 64",
                    "MaxStartups 64",
                    "LogLevel VERBOSE",
                    "",
                ]
            )
        )
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [SSHD, "-D", "-e", "-f", str(config)], stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"sshd exited: {self.log.read_text()[-2000:]}")
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2),
            ):
                return
            time.sleep(0.02)
        raise RuntimeError("sshd did not listen")

    def target(self, **overrides: object) -> SshTarget:
        """An SshTarget for this server (pinned host key, the test account's key)."""
        values: dict[str, object] = {
            "host": "127.0.0.1",
            "port": self.port,
            "user": self.user,
            "private_key": str(self.client_key),
            "known_hosts": str(self.known_hosts),
            "connect_timeout_s": 5.0,
            "command_timeout_s": 30.0,
        }
        values.update(overrides)
        return SshTarget(**values)  # type: ignore[arg-type]

    def wrong_known_hosts(self) -> Path:
        """A known_hosts file that pins a different key for this server's address."""
        other = self.root / "other_ed25519"
        if not other.exists():
            self._keygen(other)
        pub = Path(f"{other}.pub").read_text().split()
        path = self.root / "wrong_known_hosts"
        path.write_text(f"[127.0.0.1]:{self.port} {pub[0]} {pub[1]}\n")
        return path

    def session_count(self) -> int:
        """How many sessions sshd started (command or shell requests), from its log."""
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return text.count("Starting session:")

    def stop(self) -> None:
        """Terminate sshd."""
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


class BirdLab:
    """Owns daemons and sshds started for one test; ``close()`` stops and removes all."""

    def __init__(self) -> None:
        require_lab()
        self.root = make_root()
        self.daemons: list[BirdDaemon] = []
        self.sshds: list[SshServer] = []

    def daemon(
        self,
        name: str,
        files: Mapping[str, bytes] | None = None,
        *,
        config_owner: str | None = None,
        start: bool = True,
    ) -> BirdDaemon:
        """A BIRD daemon (started when ``start``) whose config dir ``config_owner`` owns."""
        if config_owner is not None:
            ensure_test_user(config_owner)
        d = BirdDaemon(self.root, name, config_owner=config_owner)
        self.daemons.append(d)
        if start:
            d.start(files)
        elif files is not None:
            d.write(files)
        return d

    def sshd(self) -> SshServer:
        """A started key-only sshd on 127.0.0.1."""
        s = SshServer(self.root / f"ssh{len(self.sshds)}")
        self.sshds.append(s)
        s.start()
        return s

    def close(self) -> None:
        for d in self.daemons:
            d.stop()
        for s in self.sshds:
            s.stop()
        shutil.rmtree(self.root, ignore_errors=True)


@contextlib.contextmanager
def bird_lab() -> Iterator[BirdLab]:
    """A BirdLab for a ``with`` block (or a pytest fixture that yields it)."""
    lab = BirdLab()
    try:
        yield lab
    finally:
        lab.close()


def simple_config(
    router_id: str, peers: Mapping[int, str], *, extra: str = "", listen_port: int | None = None
) -> dict[str, bytes]:
    """A small valid config set: ``bird.conf`` including ``peers/*.conf``, one BGP protocol
    ``AS<asn>_4`` per peer (``asn -> neighbour IPv4``), passive on ``listen_port`` when
    given, else disabled (no socket, so many daemons can run at once). For tests that need
    a config without the renderer."""
    session = (
        f"passive on;\n  local port {listen_port} as 64999;"
        if listen_port
        else ("disabled;\n  local as 64999;")
    )
    files = {
        "bird.conf": (
            f'router id {router_id};\nprotocol device {{}}\n{extra}include "peers/*.conf";\n'
        ).encode()
    }
    for asn, address in sorted(peers.items()):
        files[f"peers/AS{asn}.conf"] = (
            f"protocol bgp AS{asn}_4 {{\n  {session}\n  neighbor {address} as {asn};\n"
            f"  ipv4 {{ import all; export none; }};\n}}\n"
        ).encode()
    return files


def route_server(
    daemon: BirdDaemon,
    sshd: SshServer | None = None,
    *,
    name: str | None = None,
    asn: int = 64999,
    router_id: str = "10.0.0.1",
    confirm_timeout_s: int = 30,
) -> RouteServerSettings:
    """Settings of a route server that is ``daemon``, over ``sshd`` (local transport when
    None)."""
    return RouteServerSettings(
        name or daemon.root.name,
        Asn(asn),
        ipaddress.IPv4Address(router_id),
        transport="ssh" if sshd else "local",
        ssh=sshd.target() if sshd else None,
        paths=daemon.paths(),
        policy=PolicyKnobs(confirm_timeout_s=confirm_timeout_s),
    )


def bird_section(servers: Sequence[RouteServerSettings]) -> dict[str, Any]:
    """The raw ``[bird]`` table for ``servers`` (what a TOML file would hold), e.g. for
    ``Settings(sections={"bird": bird_section([...])})`` in end-to-end tests."""

    def plain(value: Any) -> Any:
        if isinstance(value, Asn):
            return value.value
        if isinstance(value, ipaddress.IPv4Address | ipaddress.IPv6Address):
            return str(value)
        if attrs.has(type(value)):
            return {
                f.name: plain(getattr(value, f.name))
                for f in attrs.fields(type(value))
                if getattr(value, f.name) is not None
            }
        if isinstance(value, tuple):
            return [plain(v) for v in value]
        return value

    return {"servers": [plain(s) for s in servers]}
