"""The in-memory store passes the web storage contract (sessions, OAuth states)."""

from ztix_core.testing.web_storage_contract import *  # noqa: F403
