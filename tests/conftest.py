"""Fixtures of the end-to-end tests: the whole exchange on this machine.

Real PostgreSQL (127.0.0.1:5432, a temporary database), real Redis (127.0.0.1:6379, a
key namespace per lab), the ZeroTier controller emulator, two BIRD 2 route servers over a
real key-only sshd, and ``ztix worker`` processes. Missing services make these tests
fail, never skip.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import attrs
import pytest

from ztix_core.cli import main
from ztix_worker.lab import ExchangeLab


@pytest.fixture
def lab() -> Iterator[ExchangeLab]:
    """A fresh exchange (no worker started yet)."""
    with ExchangeLab() as exchange:
        yield exchange


@attrs.frozen
class Ran:
    """What one ``ztix`` command returned and printed."""

    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def ztix(
    lab: ExchangeLab, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Callable[..., Ran]:
    """Run the ``ztix`` command on the lab through its ``main``, in this process (a
    subprocess would spend its time importing)."""
    for name, value in lab.env.items():
        monkeypatch.setenv(name, value)

    def run(*args: str) -> Ran:
        code = main(list(args))
        out = capsys.readouterr()
        return Ran(code, out.out, out.err)

    return run
