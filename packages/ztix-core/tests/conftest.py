"""Fixtures of the core's own tests."""

from __future__ import annotations

import pytest

from ztix_core.memory import InMemoryStore
from ztix_core.ports import UnitOfWorkFactory


@pytest.fixture
def uow_factory() -> UnitOfWorkFactory:
    return InMemoryStore()
