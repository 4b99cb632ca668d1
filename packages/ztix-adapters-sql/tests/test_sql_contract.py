"""The core's repository contract, on SQLite and on PostgreSQL (see conftest's uow_factory)."""

from ztix_core.testing.repository_contract import *  # noqa: F403
