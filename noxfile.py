"""Sessions: lint, typecheck, tests (one environment per package), e2e, bench.

Run everything the README's test command runs with ``uvx nox``; one session with
``uvx nox -s lint``. Every session installs exactly what ``uv.lock`` pins (``uv sync
--locked``, which also fails when the lock is stale against a ``pyproject.toml``) and then
checks the environment against the lock. Each ``tests`` session holds only that package,
the core and the package's ``testing`` extra, so an undeclared dependency fails.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from pathlib import Path

import nox

nox.options.default_venv_backend = "uv"
nox.options.sessions = ["lint", "typecheck", "tests", "e2e"]
nox.options.reuse_existing_virtualenvs = True

ROOT = Path(__file__).parent
PACKAGES = [
    "ztix-core",
    "ztix-adapters-sql",
    "ztix-adapters-zerotier",
    "ztix-adapters-bird",
    "ztix-adapters-peeringdb",
    "ztix-worker",
    "ztix-web",
]
#: Dependencies whose version drifted when sessions ignored the lock; each check names them.
KEY_DEPENDENCIES = ("httpx", "sqlalchemy")

_LIST_DISTRIBUTIONS = (
    "import importlib.metadata as m, json; "
    "print(json.dumps(sorted([d.metadata['Name'], d.version] for d in m.distributions())))"
)


def _sync(session: nox.Session, *selection: str) -> None:
    """Make the session's venv hold exactly the locked packages of ``selection`` (uv sync
    arguments such as ``--package X --extra testing``), then prove it against uv.lock."""
    session.run_install(
        "uv",
        "sync",
        "--locked",
        "--no-default-groups",
        *selection,
        env={"UV_PROJECT_ENVIRONMENT": session.virtualenv.location},
    )
    _check_locked_versions(session)


def _normalise(name: str) -> str:
    """A distribution name as uv.lock spells it (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _locked_versions() -> dict[str, set[str]]:
    """Every package in uv.lock with the version(s) it pins (forks may pin more than one)."""
    lock = tomllib.loads((ROOT / "uv.lock").read_text(encoding="utf-8"))
    locked: dict[str, set[str]] = {}
    for package in lock["package"]:
        if "version" in package:
            locked.setdefault(_normalise(package["name"]), set()).add(package["version"])
    return locked


def _check_locked_versions(session: nox.Session) -> None:
    """Fail the session when any installed distribution is missing from uv.lock or differs
    from the version it pins; log the key dependencies so a reader sees what was tested."""
    out = session.run("python", "-c", _LIST_DISTRIBUTIONS, silent=True, log=False)
    if not isinstance(out, str):  # --install-only / --no-install runs skip session.run
        return
    installed = {_normalise(name): version for name, version in json.loads(out)}
    locked = _locked_versions()
    wrong = []
    for name, version in sorted(installed.items()):
        pinned = locked.get(name)
        if pinned is None:
            wrong.append(f"{name} {version} (not in uv.lock)")
        elif version not in pinned:
            wrong.append(f"{name} {version} (uv.lock: {' or '.join(sorted(pinned))})")
    if wrong:
        session.error("installed versions differ from uv.lock: " + ", ".join(wrong))
    keys = ", ".join(f"{k} {installed[k]}" for k in KEY_DEPENDENCIES if k in installed)
    session.log(f"{len(installed)} distributions match uv.lock" + (f" ({keys})" if keys else ""))


@nox.session
def lint(session: nox.Session) -> None:
    """ruff (check + format) and the import contract that keeps the core pure."""
    _sync(session, "--all-packages", "--group", "dev")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("lint-imports")


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy --strict over every package's sources and tests (with the test extras, whose
    libraries the tests import)."""
    _sync(session, "--all-packages", "--all-extras", "--group", "dev", "--group", "e2e")
    session.run("mypy", *[f"packages/{pkg}/src" for pkg in PACKAGES])
    for pkg in PACKAGES:
        session.run("mypy", f"packages/{pkg}/tests")
    session.run("mypy", "tests")


@nox.session
@nox.parametrize("package", PACKAGES)
def tests(session: nox.Session, package: str) -> None:
    """One package's tests in an environment holding only that package and the core."""
    _sync(session, "--package", package, "--extra", "testing")
    session.run(
        "pytest",
        f"packages/{package}/tests",
        "-q",
        "-p",
        "no:cacheprovider",
        *session.posargs,
    )


@nox.session
def e2e(session: nox.Session) -> None:
    """Cross-package tests at the repository root (real services), with every package and
    the example third-party plugin (tests/plugin_dist)."""
    _sync(session, "--all-packages", "--extra", "testing", "--group", "e2e")
    session.run("pytest", "tests", "-q", "-p", "no:cacheprovider", *session.posargs)


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmarks: print figures and ratios (never part of the test run)."""
    _sync(session, "--all-packages", "--extra", "testing")
    for script in sorted(ROOT.glob("packages/*/bench/bench_*.py")):
        if session.posargs and not any(p in script.name for p in session.posargs):
            continue
        session.log(f"== {script.relative_to(ROOT)}")
        session.run("python", str(script), env={"PYTHONUNBUFFERED": "1", **os.environ})
