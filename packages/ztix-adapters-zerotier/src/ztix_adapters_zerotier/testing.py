"""Helpers for tests of this package and of the repository's end-to-end tests: providers
wired to an emulator with fast retries, and a peering network under its address."""

from __future__ import annotations

import ipaddress
from typing import Any

from ztix_adapters_zerotier.central import CentralProvider
from ztix_adapters_zerotier.emulator.server import CentralEmulatorServer, EmulatorServer
from ztix_adapters_zerotier.self_hosted import SelfHostedControllerProvider
from ztix_adapters_zerotier.settings import RetryPolicy
from ztix_adapters_zerotier.token import TokenSource
from ztix_core.records import ZtNetwork
from ztix_core.settings import NetworkSettings, Settings
from ztix_core.values import NetworkId

#: A throwaway identity made by a real zerotier-one 1.14.1 (``zerotier-one -i generate``;
#: it passes ``zerotier-one -i validate``): its address comes from ZeroTier's memory-hard
#: hash, so tests can show the emulator and the drill accept real identities.
REAL_ADDRESS = "9eae2c43f9"
REAL_IDENTITY_SECRET = (
    REAL_ADDRESS
    + ":0:"
    + "d843898c04a91ddb9a58d1207ac60885d3cecd04c95a21ca044060e16276c055"
    + "7c09ff64c94d500ce8f00b5a06c47ed050ee67e235d2931ab437c91afea1b56b"
    + ":"
    + "83fc1a61ca269193d78e9c78574df6385cbf2f51cf74986dacd618f0853c7376"
    + "949e4dc91126ffc345ca880aac352fd874c40ca64ad70d649ae544c7b7eabf93"
)

#: Retries that keep tests fast: 3 tries, 10-50 ms apart, server waits capped at 0.2 s.
FAST_RETRY = RetryPolicy(attempts=3, backoff_s=0.01, backoff_max_s=0.05, max_retry_wait_s=0.2)


def peering_network(
    address: str, suffix: str = "abcdef", name: str = "ix-lan", index: int = 0
) -> ZtNetwork:
    """A peering network under controller ``address`` (192.0.2.0/24 + 2001:db8::/64 by
    default; ``index`` shifts both prefixes)."""
    return ZtNetwork(
        NetworkId(address + suffix),
        name,
        ipaddress.IPv4Network(f"198.51.{100 + index}.0/24"),
        ipaddress.IPv6Network(f"2001:db8:{index:x}::/64"),
    )


def network_settings(net: ZtNetwork) -> NetworkSettings:
    """The settings entry for ``net``."""
    return NetworkSettings(net.id, net.name, net.ipv4_prefix, net.ipv6_prefix)


def self_hosted_provider(
    server: EmulatorServer, *, token: str | None = None, **options: Any
) -> SelfHostedControllerProvider:
    """A self-hosted provider on ``server`` (its token unless given) with fast retries."""
    options.setdefault("retry", FAST_RETRY)
    options.setdefault("timeout_s", 2.0)
    return SelfHostedControllerProvider(
        server.url, TokenSource(token if token is not None else server.token), **options
    )


def central_provider(
    server: CentralEmulatorServer, *, token: str | None = None, **options: Any
) -> CentralProvider:
    """A Central provider on ``server`` with fast retries."""
    options.setdefault("retry", FAST_RETRY)
    options.setdefault("timeout_s", 2.0)
    return CentralProvider(server.url, token if token is not None else server.token, **options)


def self_hosted_settings(server: EmulatorServer, **overrides: Any) -> Settings:
    """Settings selecting the self-hosted provider on ``server`` (token, home, fast
    ``[zerotier]`` retries), with ``overrides`` applied."""
    values: dict[str, Any] = {
        "storage": "memory",
        "zt_provider": "self_hosted_controller",
        "zt_controller_base_url": server.url,
        "zt_controller_auth_token": server.token,
        "zt_controller_home": str(server.home),
        "sections": {
            "zerotier": {
                "timeout_s": 2.0,
                "retry_attempts": 3,
                "backoff_s": 0.01,
                "backoff_max_s": 0.05,
                "max_retry_wait_s": 0.2,
            }
        },
    }
    values.update(overrides)
    return Settings(**values)
