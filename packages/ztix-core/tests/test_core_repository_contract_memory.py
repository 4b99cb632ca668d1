"""The in-memory store passes the repository contract every storage adapter must pass."""

from ztix_core.testing.repository_contract import *  # noqa: F403
