"""Run the test provider: :class:`LocalIdp` prepares its directory (SQLite database,
RS256 signing key, a second "rogue" key, Django secret), migrates, registers ztix as a
client and serves it with gunicorn on 127.0.0.1 (a free port). Start-up waits on
gunicorn's "Listening at" line and an answer from ``/ready``; a provider that cannot start
raises with its log.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

SETTINGS = "ztix_adapters_peeringdb.testing_idp.settings"
LISTENING = re.compile(r"Listening at: http://127\.0\.0\.1:(\d+)")
#: Generous: a cold Django import on a busy 2-core machine.
START_TIMEOUT_S = 60.0


def _pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


class IdpError(RuntimeError):
    """The provider could not be prepared or started; the message carries its output."""


class LocalIdp:
    """A PeeringDB-like OpenID Connect provider in a subprocess (see the package doc).

    ``base_url`` is what ztix's ``peeringdb.base_url`` points at; the issuer is
    ``base_url + "/oauth2"``. ``client_id``/``client_secret`` are registered at start.
    """

    def __init__(self, redirect_uris: list[str], directory: Path | None = None) -> None:
        self._tmp = None if directory else tempfile.TemporaryDirectory(prefix="ztix-idp-")
        self.dir = directory or Path(self._tmp.name)  # type: ignore[union-attr]
        self.client_id = "ztix-" + secrets.token_hex(4)
        self.client_secret = secrets.token_urlsafe(32)
        self.redirect_uris = list(redirect_uris)
        self.base_url = ""
        self.proc: subprocess.Popen[str] | None = None
        self.log: list[str] = []
        self._port = threading.Event()
        self._port_value = 0
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": SETTINGS,
            "ZTIX_IDP_DIR": str(self.dir),
        }

    # ---------------------------------------------------------------- set-up

    def _run(self, *argv: str, stdin: str = "") -> str:
        done = subprocess.run(
            [sys.executable, *argv],
            input=stdin,
            capture_output=True,
            text=True,
            env=self.env,
            timeout=120,
            check=False,
        )
        if done.returncode != 0:
            raise IdpError(f"{' '.join(argv)} failed:\n{done.stdout}\n{done.stderr}")
        return done.stdout

    def _setup(self, command: dict[str, Any]) -> str:
        return self._run(
            "-m", "ztix_adapters_peeringdb.testing_idp.setup", stdin=json.dumps(command)
        ).strip()

    def start(self) -> LocalIdp:
        """Prepare the directory, migrate, register the client, serve; returns self."""
        (self.dir / "django-secret").write_text(secrets.token_urlsafe(40), encoding="utf-8")
        (self.dir / "signing-key.pem").write_text(_pem(), encoding="utf-8")
        (self.dir / "rogue-key.pem").write_text(_pem(), encoding="utf-8")
        self.write_profiles({})
        self.set_control({})
        self._run("-m", "django", "migrate", "--noinput", "-v", "0")
        self.register_client(self.redirect_uris)
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "--bind",
                "127.0.0.1:0",
                "--worker-class",
                "gthread",
                "--threads",
                "8",
                "--workers",
                "1",
                "--no-control-socket",
                "--graceful-timeout",
                "2",
                "ztix_adapters_peeringdb.testing_idp.wsgi:application",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=self.env,
            start_new_session=True,
        )
        threading.Thread(target=self._pump, daemon=True).start()
        if not self._port.wait(START_TIMEOUT_S) or not self._port_value:
            self.stop()
            raise IdpError("the provider did not start:\n" + "\n".join(self.log))
        self.base_url = f"http://127.0.0.1:{self._port_value}"
        answer = httpx.get(self.base_url + "/ready", timeout=START_TIMEOUT_S)
        if answer.status_code != 200:
            self.stop()
            raise IdpError(f"/ready answered {answer.status_code}:\n" + "\n".join(self.log))
        return self

    def _pump(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        for line in self.proc.stdout:
            self.log.append(line.rstrip())
            found = LISTENING.search(line)
            if found and not self._port.is_set():
                self._port_value = int(found.group(1))
                self._port.set()
        self._port.set()  # the process ended: whoever waits learns it now

    def stop(self) -> None:
        """Stop gunicorn (its whole process group) and remove the directory."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        if self._tmp is not None:
            self._tmp.cleanup()

    def __enter__(self) -> LocalIdp:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---------------------------------------------------------------- what tests change

    @property
    def issuer(self) -> str:
        """The id_token's ``iss``, as PeeringDB's: the base URL + ``/oauth2``."""
        return self.base_url + "/oauth2"

    def register_client(self, redirect_uris: list[str]) -> None:
        """Register (or update) ztix as a confidential RS256 client."""
        self.redirect_uris = list(redirect_uris)
        self._setup(
            {
                "client": {
                    "client_id": self.client_id,
                    "client_secret": self.client_secret,
                    "redirect_uris": self.redirect_uris,
                }
            }
        )

    def add_user(self, username: str, password: str, profile: dict[str, Any]) -> int:
        """Create a provider account with its ``profile/v1`` content; its PeeringDB id."""
        user_id = int(self._setup({"user": {"username": username, "password": password}}))
        self.set_profile(username, profile)
        return user_id

    def set_profile(self, username: str, profile: dict[str, Any]) -> None:
        """Replace what ``profile/v1`` says about ``username`` (the next sign-in sees it)."""
        profiles = json.loads((self.dir / "profiles.json").read_text(encoding="utf-8"))
        profiles[username] = profile
        self.write_profiles(profiles)

    def write_profiles(self, profiles: dict[str, Any]) -> None:
        """Write ``profiles.json`` whole (atomically: the provider reads it per request)."""
        self._write("profiles.json", profiles)

    def set_control(self, control: dict[str, Any]) -> None:
        """Switch faults on or off (``faults``, ``id_token``; see the views module)."""
        self._write("control.json", control)

    def _write(self, name: str, value: Any) -> None:
        tmp = self.dir / f".{name}.tmp"
        tmp.write_text(json.dumps(value), encoding="utf-8")
        tmp.replace(self.dir / name)
