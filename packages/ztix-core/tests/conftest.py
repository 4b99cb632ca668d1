"""Fixtures of the core's own tests."""

from __future__ import annotations

import pytest

from ztix_core.memory import InMemoryStore
from ztix_core.ports import UnitOfWorkFactory
from ztix_core.testing.world import World, make_world


@pytest.fixture
def uow_factory() -> UnitOfWorkFactory:
    return InMemoryStore()


@pytest.fixture
def world() -> World:
    return make_world()
