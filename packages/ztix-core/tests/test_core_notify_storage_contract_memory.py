"""The in-memory store passes the notification storage contract."""

from ztix_core.testing.notify_storage_contract import *  # noqa: F403
