"""The deployment files and the documentation say only what the real CLI and settings
accept.

compose.yaml and the systemd units cannot be started here (no container images, no systemd
as PID 1), so every command they run is checked against ``ztix <command> --help``, every
environment variable against the settings, every reference against its declaration, and the
units with ``systemd-analyze verify`` (on a copy pointing at this checkout's ``ztix``).
"""

from __future__ import annotations

import argparse
import re
import shlex
import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

import attrs
import pytest
import yaml

from ztix_core.cli import build_parser
from ztix_core.plugins import Plugins, build_plugin_manager
from ztix_core.settings import CONFIG_ENV, Settings

ROOT = Path(__file__).resolve().parents[1]
UNITS = sorted((ROOT / "deploy" / "systemd").iterdir())
ZTIX = shutil.which("ztix") or str(Path(sys.executable).parent / "ztix")


@cache
def _parser() -> argparse.ArgumentParser:
    """ztix's real argument parser with every installed command configured (what
    ``ztix … --help`` prints, without a process per question)."""
    parser, _ = build_parser(Plugins(build_plugin_manager()))
    return parser


@cache
def _help(*command: str) -> str:
    parser = _parser()
    for word in command:
        actions = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        assert actions and word in actions[0].choices, f"ztix has no command {command}"
        parser = actions[0].choices[word]
    return parser.format_help()


def check_ztix_command(argv: list[str]) -> None:
    """``argv`` (without ``ztix``) names a real command and only options it has."""
    words = [a for a in argv if not a.startswith("-")]
    command: list[str] = []
    for word in words:  # the longest prefix of words that is a command
        text = _help(*command)
        takes_subcommand = re.search(r"[A-Z]+ \.\.\.\s*$", text.split("\n\n")[0]) is not None
        if not takes_subcommand:
            break
        assert re.search(rf"^\s+{re.escape(word)}\s", text, re.M), (
            f"ztix {' '.join(command)} has no subcommand {word}"
        )
        command.append(word)
    assert command, argv
    text = _help(*command)
    for option in (a.split("=", 1)[0] for a in argv if a.startswith("--")):
        assert option in text, f"ztix {' '.join(command)} has no {option}"


def _settings_env() -> set[str]:
    names = {CONFIG_ENV}
    for field in attrs.fields(Settings):
        env = field.metadata.get("env")
        if env:
            names.add(env)
            if field.metadata.get("file_env"):
                names.add(f"{env}_FILE")
    return names


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "compose.yaml").read_text())
    return data


def test_compose_runs_real_commands_with_real_settings(compose: dict[str, Any]) -> None:
    known_env = _settings_env()
    ztix_services = {
        name: s for name, s in compose["services"].items() if s.get("image", "").startswith("ztix")
    }
    assert set(ztix_services) == {"migrate", "web", "worker"}
    assert ztix_services["migrate"]["command"] == ["db", "upgrade"]
    assert ztix_services["worker"]["deploy"]["replicas"] == 2
    for name, service in ztix_services.items():
        check_ztix_command(service["command"])
        unknown = set(service["environment"]) - known_env
        assert not unknown, f"{name}: {unknown} are not ztix settings"
        for secret in service.get("secrets", []):
            assert secret in compose["secrets"], (name, secret)
        for volume in service.get("volumes", []):
            assert volume.split(":")[0] in compose["volumes"], (name, volume)
        for config in service.get("configs", []):
            assert config["source"] in compose["configs"]
        health = service.get("healthcheck")
        if name != "migrate":
            assert health is not None and health["test"][:2] == ["CMD", "ztix"], name
            check_ztix_command(health["test"][2:])
    for name, service in compose["services"].items():
        for dep, condition in service.get("depends_on", {}).items():
            assert dep in compose["services"], (name, dep)
            if condition["condition"] == "service_healthy":
                assert "healthcheck" in compose["services"][dep], (name, dep)
        if name != "migrate":
            assert "healthcheck" in service, f"{name} has no health check"


def test_the_dockerfile_builds_from_the_lock_and_runs_unprivileged() -> None:
    text = (ROOT / "Dockerfile").read_text()
    assert len(re.findall(r"^FROM ", text, re.M)) >= 2, "multi-stage"
    assert "uv sync --locked" in text
    users = re.findall(r"^USER (\S+)", text, re.M)
    assert users and users[-1] not in ("root", "0")
    assert re.search(r'^ENTRYPOINT \["ztix"\]', text, re.M)
    for copied in re.findall(r"^COPY (?!--from)(.+) \S+$", text, re.M):
        for path in copied.split():
            assert (ROOT / path).exists(), f"Dockerfile copies {path}, which is missing"


@pytest.mark.parametrize("unit", [u for u in UNITS if u.suffix == ".service"], ids=lambda u: u.name)
def test_units_run_real_commands_hardened(unit: Path) -> None:
    text = unit.read_text()
    execs = re.findall(r"^ExecStart(?:Pre)?=/opt/ztix/bin/ztix (.+)$", text, re.M)
    assert execs, unit
    for line in execs:
        check_ztix_command(line.split())
    for option in ("NoNewPrivileges=yes", "ProtectSystem=strict", "PrivateTmp=yes"):
        assert option in text, f"{unit.name} lacks {option}"
    for env in re.findall(r"^Environment=(\w+)=", text, re.M):
        assert env in _settings_env(), env


def test_systemd_analyze_verifies_the_units(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    assert analyze is not None, "systemd-analyze is missing: apt-get install systemd"
    for unit in UNITS:
        text = unit.read_text().replace("/opt/ztix/bin/ztix", ZTIX)
        (tmp_path / unit.name).write_text(text)
    done = subprocess.run(
        [analyze, "verify", "--man=no", *sorted(str(p) for p in tmp_path.iterdir())],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0 and "Unknown" not in done.stderr, done.stderr


# ------------------------------------------------------------------ documentation
# The guides are tried as a new user would: each ``ztix …`` line in a shell block, and each
# inline ``ztix …`` in the text, of README.md and docs/*.md is checked against the real
# ``ztix <command> --help``, like the deployment files above.
DOC_PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"^```(?:sh|bash|console|shell)\n(.*?)^```", re.M | re.S)
INLINE = re.compile(r"`(ztix [^`]+)`")


def commands(text: str) -> list[str]:
    """The ``ztix`` command lines of a Markdown page (continuations joined, comments,
    prompts and placeholders' ellipses removed)."""
    found: list[str] = []
    for block in BLOCK.findall(text):
        joined = re.sub(r"\\\n\s*", " ", block)
        for raw in joined.splitlines():
            line = re.sub(r"\s+#.*$", "", re.sub(r"^\$ ", "", raw.strip()))
            for piece in re.split(r"\s*(?:&&|\||;)\s*", line):
                part = re.sub(r"^uv run ", "", piece.strip())
                if part.startswith("ztix "):
                    found.append(part)
    found += INLINE.findall(text)
    return [c for c in found if "…" not in c.split()[1]]


def _argv(command: str) -> list[str]:
    words = shlex.split(command.replace("…", ""), comments=False)
    words = [w for w in words[1:] if not w.startswith(("<", ">", "$"))]
    # global options come before the command
    while words and words[0] in ("--config", "--debug"):
        words = words[2:] if words[0] == "--config" else words[1:]
    return words


CASES = [(page, command) for page in DOC_PAGES for command in commands(page.read_text())]


def test_the_docs_show_commands() -> None:
    assert len(CASES) > 40, "the extraction found almost nothing: is the pattern broken?"


@pytest.mark.parametrize(("page", "command"), CASES, ids=[f"{p.name}:{c}" for p, c in CASES])
def test_documented_command_exists(page: Path, command: str) -> None:
    argv = _argv(command)
    if not argv:
        return  # `ztix --help`, `ztix --config …` alone
    # `ztix rs render|apply` names several commands: each must exist
    at = next((i for i, word in enumerate(argv) if "|" in word), None)
    if at is None:
        check_ztix_command(argv)
        return
    for choice in argv[at].split("|"):
        check_ztix_command([*argv[:at], choice, *argv[at + 1 :]])
