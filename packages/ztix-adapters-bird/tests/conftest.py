"""Fixtures of the bird adapter's tests: real BIRD daemons and a real key-only sshd.

They fail (never skip) when bird2, openssh-server or root are missing.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ztix_adapters_bird.testing import BirdLab, SshServer, bird_lab


@pytest.fixture
def lab() -> Iterator[BirdLab]:
    """Daemons for one test, stopped and removed afterwards."""
    with bird_lab() as lab:
        yield lab


@pytest.fixture(scope="module")
def sshd() -> Iterator[SshServer]:
    """One key-only sshd on 127.0.0.1 shared by a test module."""
    with bird_lab() as lab:
        yield lab.sshd()
