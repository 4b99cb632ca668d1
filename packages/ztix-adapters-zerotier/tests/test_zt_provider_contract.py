"""The core's membership-provider contract, run against:

- the self_hosted_controller provider on the controller emulator,
- the central provider on the Central emulator,
- and, when ``ZTIX_TEST_ZT_CONTROLLER_URL`` and ``ZTIX_TEST_ZT_CONTROLLER_TOKEN`` are set,
  the self_hosted_controller provider on that real controller (optionally
  ``ZTIX_TEST_ZT_CONTROLLER_NETWORK``: a 16-hex id under that controller, used as given,
  or a 6-hex suffix; anything else fails the run; default suffix ``7e5700``, created if
  missing).

The same tests passing on both sides is what shows the emulator and a real zerotier-one
agree.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from ztix_adapters_zerotier.emulator.testing import (
    TOKEN_ENV,
    URL_ENV,
    TargetConfigError,
    running_central,
    running_emulator,
    target_network_id,
)
from ztix_adapters_zerotier.self_hosted import SelfHostedControllerProvider
from ztix_adapters_zerotier.testing import (
    FAST_RETRY,
    central_provider,
    peering_network,
    self_hosted_provider,
)
from ztix_adapters_zerotier.token import TokenSource
from ztix_core.ports import MembershipProvider
from ztix_core.records import ZtNetwork
from ztix_core.testing.provider_contract import *  # noqa: F403

TARGETS = ["self_hosted_emulator", "central_emulator"]
if os.environ.get(URL_ENV) and os.environ.get(TOKEN_ENV):
    TARGETS.append("real_controller")


@pytest.fixture(params=TARGETS)
def _target(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[MembershipProvider, ZtNetwork]]:
    kind = request.param
    if kind == "self_hosted_emulator":
        with running_emulator(tmp_path / "zerotier-one") as zt:
            provider = self_hosted_provider(zt)
            yield provider, peering_network(zt.address, suffix="c0ffee", name="contract")
            provider.close()
    elif kind == "central_emulator":
        with running_central(tmp_path / "central", rate_limit=None) as central:
            nwid = central.create_network("contract")
            central_p = central_provider(central)
            yield central_p, peering_network(nwid[:10], suffix=nwid[10:], name="contract")
            central_p.close()
    else:
        real = SelfHostedControllerProvider(
            os.environ[URL_ENV], TokenSource(os.environ[TOKEN_ENV]), retry=FAST_RETRY
        )
        address = real.controller_address()
        try:
            nwid = target_network_id(address, "7e5700")
        except TargetConfigError as exc:
            pytest.fail(str(exc))
        yield real, peering_network(address, suffix=nwid[10:], name="ztix-contract")
        real.close()


@pytest.fixture
def provider(_target: tuple[MembershipProvider, ZtNetwork]) -> MembershipProvider:
    return _target[0]


@pytest.fixture
def contract_network(_target: tuple[MembershipProvider, ZtNetwork]) -> ZtNetwork:
    return _target[1]
