"""Importing many members at once: the core's onboarding storage contract on SQLite and
PostgreSQL (set-wise reads, multi-row inserts, a refused batch keeps nothing)."""

from ztix_core.testing.onboarding_contract import *  # noqa: F403
