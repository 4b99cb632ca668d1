"""The in-memory store passes the onboarding storage contract."""

from ztix_core.testing.onboarding_contract import *  # noqa: F403
