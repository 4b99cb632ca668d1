"""Sessions: lint, typecheck, tests (one environment per package), e2e, bench.

Run everything the README's test command runs with ``uvx nox``; one session with
``uvx nox -s lint``. Each ``tests`` session installs only that package (plus the core and
its own ``testing`` extra) into a fresh environment, so an undeclared dependency fails.
"""

from __future__ import annotations

import os
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
    "ztix-worker",
    "ztix-web",
]
ALL_EDITABLE = [arg for pkg in PACKAGES for arg in ("-e", f"packages/{pkg}[testing]")]


def _sync_workspace(session: nox.Session) -> None:
    """Install the whole workspace (all members + dev group) into the session's venv."""
    session.run_install(
        "uv",
        "sync",
        "--all-packages",
        "--frozen",
        "--inexact",
        env={"UV_PROJECT_ENVIRONMENT": session.virtualenv.location},
    )


@nox.session
def lint(session: nox.Session) -> None:
    """ruff (check + format) and the import contract that keeps the core pure."""
    _sync_workspace(session)
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("lint-imports")


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy --strict over every package's sources and tests."""
    _sync_workspace(session)
    session.run("mypy", *[f"packages/{pkg}/src" for pkg in PACKAGES])
    for pkg in PACKAGES:
        session.run("mypy", f"packages/{pkg}/tests")
    session.run("mypy", "tests")


@nox.session
@nox.parametrize("package", PACKAGES)
def tests(session: nox.Session, package: str) -> None:
    """One package's tests in an environment holding only that package and the core."""
    session.install("-e", "packages/ztix-core[testing]", "-e", f"packages/{package}[testing]")
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
    """Cross-package tests at the repository root (real services), with every package."""
    session.install(*ALL_EDITABLE, "-e", "tests/plugin_dist")
    session.run("pytest", "tests", "-q", "-p", "no:cacheprovider", *session.posargs)


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmarks: print figures and ratios (never part of the test run)."""
    session.install(*ALL_EDITABLE)
    for script in sorted(ROOT.glob("packages/*/bench/bench_*.py")):
        if session.posargs and not any(p in script.name for p in session.posargs):
            continue
        session.log(f"== {script.relative_to(ROOT)}")
        session.run("python", str(script), env={"PYTHONUNBUFFERED": "1", **os.environ})
