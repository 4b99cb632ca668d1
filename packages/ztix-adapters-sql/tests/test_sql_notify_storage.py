"""Notification intents, deliveries and recipients: the core's notification storage
contract on SQLite and PostgreSQL."""

from ztix_core.testing.notify_storage_contract import *  # noqa: F403
