"""Fixtures of the worker's tests: in-memory exchanges and a Redis namespace."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from ztix_worker.testing import REDIS_URL, flush_namespace, test_namespace


@pytest.fixture
def redis_ns() -> Iterator[str]:
    """A unique key prefix on the shared Redis, removed afterwards. Fails without Redis."""
    client = redis.Redis.from_url(REDIS_URL)
    client.ping()
    ns = test_namespace()
    yield ns
    flush_namespace(client, ns)
