"""The in-memory provider passes the contract every membership provider must pass."""

from __future__ import annotations

import ipaddress

import pytest

from ztix_core.memory import InMemoryProvider
from ztix_core.records import ZtNetwork
from ztix_core.testing.provider_contract import *  # noqa: F403
from ztix_core.values import NetworkId


@pytest.fixture
def provider() -> InMemoryProvider:
    return InMemoryProvider(controller="0123456789")


@pytest.fixture
def contract_network() -> ZtNetwork:
    return ZtNetwork(
        NetworkId("0123456789abcdef"),
        "contract-lan",
        ipaddress.IPv4Network("10.99.0.0/24"),
        ipaddress.IPv6Network("fd00:99::/64"),
    )
