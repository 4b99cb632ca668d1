"""Fixtures of the end-to-end tests: the whole exchange on this machine.

Real PostgreSQL (127.0.0.1:5432, a temporary database), real Redis (127.0.0.1:6379, a
key namespace per lab), the ZeroTier controller emulator, two BIRD 2 route servers over a
real key-only sshd, and ``ztix worker`` processes. Missing services make these tests
fail, never skip.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ztix_worker.lab import ExchangeLab


@pytest.fixture
def lab() -> Iterator[ExchangeLab]:
    """A fresh exchange (no worker started yet)."""
    with ExchangeLab() as exchange:
        yield exchange
