"""The in-memory store passes the API storage contract (tokens, idempotency keys)."""

from ztix_core.testing.api_storage_contract import *  # noqa: F403
