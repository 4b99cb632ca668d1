"""``ztix web``: the start-up check, and a real gunicorn serving the app."""

from __future__ import annotations

import http.client
import os
import re
import signal
import socket
import subprocess
import sys
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest

PASSWORD = "a long enough passphrase"


def _env(db: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "ZTIX_CONFIG"}
    return env | {"DATABASE_URL": f"sqlite:///{db}", "ZTIX_STORAGE": "sql"} | extra


def _ztix(env: dict[str, str], *argv: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ztix_core.cli", *argv],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite database with an operator, made with the real commands."""
    db = tmp_path_factory.mktemp("serve") / "ztix.db"
    env = _env(db)
    assert _ztix(env, "db", "upgrade").returncode == 0
    done = _ztix(env, "user", "create", "opa", "--password-stdin", stdin=PASSWORD + "\n")
    assert done.returncode == 0, done.stderr
    return db


def test_check_passes_on_a_current_database(database: Path) -> None:
    done = _ztix(_env(database), "web", "--check")
    assert done.returncode == 0, done.stderr
    assert "storage: ready" in done.stdout and "Secure cookies" in done.stdout


def test_check_refuses_an_old_or_missing_database(tmp_path: Path) -> None:
    from ztix_adapters_sql.migrate import downgrade, upgrade

    db = tmp_path / "old.db"
    url = f"sqlite:///{db}"
    upgrade(url)
    downgrade(url, "0003")
    done = _ztix(_env(db), "web", "--check")
    assert done.returncode != 0 and "ztix db upgrade" in done.stderr, done.stderr
    done = _ztix(_env(tmp_path / "missing.db"), "web", "--check")
    assert done.returncode != 0 and "no database at" in done.stderr, done.stderr
    assert not (tmp_path / "missing.db").exists()


def test_check_names_a_bad_web_setting(database: Path, tmp_path: Path) -> None:
    config = tmp_path / "ztix.toml"
    config.write_text("[web]\nsession_idle_s = 0\n")
    done = _ztix(_env(database, ZTIX_CONFIG=str(config)), "web", "--check")
    assert done.returncode == 2 and "web.session_idle_s" in done.stderr, done.stderr
    config.write_text('[web]\npublic_origin = "https://x.example/path"\n')
    done = _ztix(_env(database, ZTIX_CONFIG=str(config)), "web", "--check")
    assert done.returncode == 2 and "web.public_origin" in done.stderr, done.stderr
    done = _ztix(_env(database), "web", "--workers", "0", "--check")
    assert done.returncode == 2 and "--workers" in done.stderr


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
def server(database: Path) -> Iterator[tuple[int, subprocess.Popen[str]]]:
    port = _free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ztix_core.cli",
            "web",
            "--dev",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "2",
            "--threads",
            "2",
        ],
        env=_env(database),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    assert proc.stdout is not None
    booted = 0
    seen = []
    for line in proc.stdout:  # evidence: gunicorn says each worker booted
        seen.append(line)
        if "Booting worker" in line:
            booted += 1
            if booted == 2:
                break
    assert booted == 2, "".join(seen)
    try:
        yield port, proc
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=60)


def test_gunicorn_serves_the_app(server: tuple[int, subprocess.Popen[str]]) -> None:
    port, proc = server
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", "/login")
    page = conn.getresponse()
    text = page.read().decode()
    assert (
        page.status == 200 and "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    )
    cookie = page.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    token = cookie.split(";", 1)[0]
    match = re.search(r'name="csrf_token" value="([^"]+)"', text)
    assert match is not None
    body = urllib.parse.urlencode(
        {"username": "opa", "password": PASSWORD, "csrf_token": match.group(1)}
    )
    conn.request(
        "POST",
        "/login",
        body=body,
        headers={
            "Cookie": token,
            "Origin": f"http://127.0.0.1:{port}",
            "Content-Type": "application/x-www-form-urlencoded",
        },
    )
    signed_in = conn.getresponse()
    signed_in.read()
    assert signed_in.status == 303 and signed_in.headers["Location"] == "/dashboard"
    conn.request(
        "GET", "/dashboard", headers={"Cookie": signed_in.headers["Set-Cookie"].split(";")[0]}
    )
    dashboard = conn.getresponse()
    assert dashboard.status == 200 and "Your requests" in dashboard.read().decode()
    conn.request("GET", "/static/vendor/htmx.min.js")
    script = conn.getresponse()
    assert script.status == 200 and len(script.read()) > 10_000
    conn.close()
    os.killpg(proc.pid, signal.SIGTERM)
    code = proc.wait(timeout=60)
    assert code == 0, proc.stdout.read() if proc.stdout else ""
    with pytest.raises(ProcessLookupError):  # the whole process group is gone
        os.killpg(proc.pid, 0)


def test_healthz_and_web_health_probe_a_running_server(
    server: tuple[int, subprocess.Popen[str]], database: Path
) -> None:
    port, _ = server
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", "/healthz")
    answer = conn.getresponse()
    assert answer.status == 200 and answer.read() == b'{"status": "ok"}'
    assert answer.headers["Set-Cookie"] is None  # no session for a probe
    env = _env(database)
    done = _ztix(env, "web-health", "--url", f"http://127.0.0.1:{port}/healthz")
    assert done.returncode == 0 and "web healthy" in done.stdout, done.stdout + done.stderr
    done = _ztix(env, "web-health", "--url", f"http://127.0.0.1:{_free_port()}/healthz")
    assert done.returncode == 1 and "web unreachable" in done.stdout
    done = _ztix(env, "web-health", "--url", f"http://127.0.0.1:{port}/nothing-here")
    assert done.returncode == 1 and "answered 404" in done.stdout
    done = _ztix(env, "web-health", "--url", "ftp://x")
    assert done.returncode == 2 and "--url" in done.stderr


def test_healthz_says_503_when_the_storage_cannot_be_read(tmp_path: Path) -> None:
    from falcon import testing
    from sqlalchemy import text

    from ztix_core.bootstrap import bootstrap
    from ztix_core.plugins import Plugins, build_plugin_manager
    from ztix_core.settings import Settings
    from ztix_web.app import create_app
    from ztix_web.config import WebSettings

    db = tmp_path / "gone.db"
    assert _ztix(_env(db), "db", "upgrade").returncode == 0
    settings = Settings(storage="sql", database_url=f"sqlite:///{db}")
    core = bootstrap(settings, Plugins(build_plugin_manager()), with_provisioning=False)
    app = create_app(core, WebSettings(dev=True))
    client = testing.TestClient(app)
    assert client.simulate_get("/healthz").status_code == 200
    with core.uow_factory() as uow:
        uow.session.execute(text("DROP TABLE route_server_state"))  # type: ignore[attr-defined]
        uow.commit()
    sick = client.simulate_get("/healthz")
    assert sick.status_code == 503 and sick.json["status"] == "unavailable"
