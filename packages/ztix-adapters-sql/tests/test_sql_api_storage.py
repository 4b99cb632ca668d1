"""API tokens and idempotency keys: the core's API storage contract on SQLite and
PostgreSQL."""

from ztix_core.testing.api_storage_contract import *  # noqa: F403
