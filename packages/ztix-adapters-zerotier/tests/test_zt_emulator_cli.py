"""The emulator's command line: `python -m ztix_adapters_zerotier.emulator` and
`ztix controller emulate` serve until SIGTERM; bad homes are refused with a message."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from ztix_adapters_zerotier.emulator.cli import add_emulate_command, run_emulate

COMMANDS = {
    "module": [sys.executable, "-m", "ztix_adapters_zerotier.emulator"],
    "ztix": [sys.executable, "-m", "ztix_core.cli", "controller", "emulate"],
}


@pytest.mark.parametrize(
    ("how", "central"),
    [("module", False), ("module", True), ("ztix", False)],  # `ztix` loads every plugin: slow
    ids=["module-controller", "module-central", "ztix-controller"],
)
def test_serves_until_sigterm(tmp_path: Path, how: str, central: bool) -> None:
    home = tmp_path / "home"
    argv = [*COMMANDS[how], "--port", "0", "--home", str(home)]
    if central:
        argv.append("--central")
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert "listening on http://127.0.0.1:" in line, line
        url = line.split("listening on ")[1].split()[0]
        token = (home / "authtoken.secret").read_text()
        if central:
            response = httpx.get(f"{url}/network", headers={"Authorization": f"token {token}"})
            assert url.endswith("/api/v1")
        else:
            response = httpx.get(f"{url}/status", headers={"X-ZT1-Auth": token})
            assert response.json()["address"] in line
        assert response.status_code == 200
        assert token not in line  # the token is never printed
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0


def test_bad_identity_is_refused_with_a_message(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "identity.secret").write_text("not an identity")
    result = subprocess.run(
        [*COMMANDS["module"], "--port", "0", "--home", str(home)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2
    assert "identity.secret" in result.stderr


def test_token_comes_from_the_named_environment_variable(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = {**os.environ, "EMU_TOKEN": "from-env-token-123456789"}
    proc = subprocess.Popen(
        [*COMMANDS["module"], "--port", "0", "--home", str(home), "--token-from-env", "EMU_TOKEN"],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        proc.stdout.readline()
        assert (home / "authtoken.secret").read_text() == "from-env-token-123456789"
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0


def test_empty_token_variable_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    parser = argparse.ArgumentParser()
    add_emulate_command(parser.add_subparsers(dest="sub"))
    args = parser.parse_args(
        ["emulate", "--home", str(tmp_path / "h"), "--token-from-env", "ZTIX_NO_SUCH_VAR_X"]
    )
    assert args.handler is run_emulate
    assert run_emulate(args) == 2
    assert "ZTIX_NO_SUCH_VAR_X" in capsys.readouterr().err
    assert not (tmp_path / "h").exists()


def test_port_in_use_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        parser = argparse.ArgumentParser()
        add_emulate_command(parser.add_subparsers(dest="sub"))
        port = busy.getsockname()[1]
        args = parser.parse_args(["emulate", "--home", str(tmp_path / "h"), "--port", str(port)])
        assert run_emulate(args) == 2
    assert "cannot listen" in capsys.readouterr().err


def test_allow_management_from_option(tmp_path: Path) -> None:
    import threading

    parser = argparse.ArgumentParser()
    add_emulate_command(parser.add_subparsers(dest="sub"))
    home = tmp_path / "h"
    args = parser.parse_args(
        ["emulate", "--home", str(home), "--port", "0", "--allow-management-from", "10.0.0.0/8",
         "--allow-management-from", "2001:db8::/32"]
    )  # fmt: skip
    stop = threading.Event()
    thread = threading.Thread(target=run_emulate, args=(args,), kwargs={"stop": stop})
    thread.start()
    try:
        for _ in range(100):
            if (home / "zerotier-one.port").exists():
                break
            threading.Event().wait(0.05)
        port = (home / "zerotier-one.port").read_text()
        token = (home / "authtoken.secret").read_text()
        status = httpx.get(f"http://127.0.0.1:{port}/status", headers={"X-ZT1-Auth": token})
        allowed = status.json()["config"]["settings"]["allowManagementFrom"]
        assert allowed == ["10.0.0.0/8", "2001:db8::/32"]
    finally:
        stop.set()
        thread.join(timeout=10)
    assert not thread.is_alive()
