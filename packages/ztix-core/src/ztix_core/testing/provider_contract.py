"""The membership-provider contract: every MembershipProvider must pass these tests.

Use it from an adapter's test module::

    from ztix_core.testing.provider_contract import *  # noqa: F403

and provide two fixtures:

``provider``
    the MembershipProvider under test (self-hosted controller, Central, in-memory, ...).
``contract_network``
    a ZtNetwork that exists on the provider's controller, or that
    ``provider.ensure_network`` can create. The suite calls ``ensure_network`` once per
    test before using it.

Every test uses fresh random node ids and removes its members afterwards, so the suite can
run against a real controller that holds other members too.
"""

from __future__ import annotations

import contextlib
import ipaddress
import secrets
from collections.abc import Iterator

import pytest

from ztix_core.errors import ProviderError
from ztix_core.ports import IPAddress, MembershipProvider, MemberState
from ztix_core.records import ZtNetwork
from ztix_core.values import NetworkId, NodeId

NAME = "AS64500"


def _random_node_id() -> NodeId:
    while True:
        raw = secrets.token_hex(5)
        if raw != "0" * 10 and not raw.startswith("ff"):
            return NodeId(raw)


def _host(prefix: ipaddress.IPv4Network | ipaddress.IPv6Network, index: int) -> IPAddress:
    # stay clear of the network address and (for IPv4) the broadcast address
    usable = min(prefix.num_addresses - 2, 4000)
    return prefix.network_address + 1 + (index % usable)


@pytest.fixture
def contract_ready_network(provider: MembershipProvider, contract_network: ZtNetwork) -> ZtNetwork:
    """``contract_network``, ensured on the provider's controller."""
    provider.ensure_network(contract_network)
    return contract_network


@pytest.fixture
def contract_nodes(
    provider: MembershipProvider, contract_ready_network: ZtNetwork
) -> Iterator[list[NodeId]]:
    """Three fresh node ids; whatever the test left of them is removed afterwards."""
    nodes = [_random_node_id() for _ in range(3)]
    yield nodes
    for node in nodes:
        # best-effort cleanup; the test's own assertions already ran
        with contextlib.suppress(ProviderError):
            provider.remove_member(contract_ready_network.id, node)


def _addresses(network: ZtNetwork, index: int) -> tuple[IPAddress, IPAddress]:
    return _host(network.ipv4_prefix, index), _host(network.ipv6_prefix, index)


def _assert_matches(
    state: MemberState, network: ZtNetwork, node: NodeId, addresses: tuple[IPAddress, ...]
) -> None:
    assert state.network_id == network.id
    assert state.node_id == node
    assert state.authorized is True
    assert state.no_auto_assign_ips is True
    assert state.name == NAME
    assert sorted(state.ip_assignments) == sorted(str(a) for a in addresses)


# ------------------------------------------------------------------ readiness


def test_readiness_passes_for_an_ensured_network(
    provider: MembershipProvider, contract_ready_network: ZtNetwork
) -> None:
    report = provider.check_readiness([contract_ready_network])
    assert report.ready, report.first_failure


def test_readiness_reports_a_missing_network_without_raising(
    provider: MembershipProvider, contract_ready_network: ZtNetwork
) -> None:
    missing = _unknown_network(contract_ready_network)
    report = provider.check_readiness([missing])
    assert not report.ready
    assert report.first_failure is not None
    assert report.first_failure.remediation


# ------------------------------------------------------------------ authorize


def test_authorize_with_explicit_addresses_reads_back_equal(
    provider: MembershipProvider, contract_ready_network: ZtNetwork, contract_nodes: list[NodeId]
) -> None:
    node = contract_nodes[0]
    addresses = _addresses(contract_ready_network, 11)
    state = provider.authorize_member(contract_ready_network.id, node, addresses, NAME)
    _assert_matches(state, contract_ready_network, node, addresses)
    stored = provider.read_member(contract_ready_network.id, node)
    assert stored is not None
    _assert_matches(stored, contract_ready_network, node, addresses)
    assert stored == state


def test_authorize_is_idempotent(
    provider: MembershipProvider, contract_ready_network: ZtNetwork, contract_nodes: list[NodeId]
) -> None:
    node = contract_nodes[0]
    addresses = _addresses(contract_ready_network, 12)
    first = provider.authorize_member(contract_ready_network.id, node, addresses, NAME)
    second = provider.authorize_member(contract_ready_network.id, node, addresses, NAME)
    assert first == second
    listed = [m for m in provider.list_members(contract_ready_network.id) if m.node_id == node]
    assert len(listed) == 1
    _assert_matches(listed[0], contract_ready_network, node, addresses)


def test_changing_addresses_converges(
    provider: MembershipProvider, contract_ready_network: ZtNetwork, contract_nodes: list[NodeId]
) -> None:
    node = contract_nodes[0]
    old = _addresses(contract_ready_network, 13)
    new = _addresses(contract_ready_network, 14)
    provider.authorize_member(contract_ready_network.id, node, old, NAME)
    state = provider.authorize_member(contract_ready_network.id, node, new, NAME)
    _assert_matches(state, contract_ready_network, node, new)
    stored = provider.read_member(contract_ready_network.id, node)
    assert stored is not None
    _assert_matches(stored, contract_ready_network, node, new)


def test_several_members_are_listed_with_their_own_addresses(
    provider: MembershipProvider, contract_ready_network: ZtNetwork, contract_nodes: list[NodeId]
) -> None:
    expected = {}
    for index, node in enumerate(contract_nodes):
        addresses = _addresses(contract_ready_network, 20 + index)
        provider.authorize_member(contract_ready_network.id, node, addresses, NAME)
        expected[node] = addresses
    listed = {
        m.node_id: m
        for m in provider.list_members(contract_ready_network.id)
        if m.node_id in expected
    }
    assert set(listed) == set(expected)
    for node, addresses in expected.items():
        _assert_matches(listed[node], contract_ready_network, node, addresses)


def test_ids_are_lowercase(
    provider: MembershipProvider, contract_ready_network: ZtNetwork, contract_nodes: list[NodeId]
) -> None:
    node = NodeId(contract_nodes[0].value.upper())
    network_id = NetworkId(contract_ready_network.id.value.upper())
    addresses = _addresses(contract_ready_network, 15)
    state = provider.authorize_member(network_id, node, addresses, NAME)
    assert str(state.node_id) == str(state.node_id).lower() == contract_nodes[0].value
    assert str(state.network_id) == contract_ready_network.id.value
    listed = [m for m in provider.list_members(contract_ready_network.id) if m.node_id == node]
    assert [str(m.node_id) for m in listed] == [contract_nodes[0].value]


# ------------------------------------------------------------------ leave path


def test_deauthorize_keeps_the_record(
    provider: MembershipProvider, contract_ready_network: ZtNetwork, contract_nodes: list[NodeId]
) -> None:
    node = contract_nodes[0]
    addresses = _addresses(contract_ready_network, 16)
    provider.authorize_member(contract_ready_network.id, node, addresses, NAME)
    provider.deauthorize_member(contract_ready_network.id, node)
    stored = provider.read_member(contract_ready_network.id, node)
    assert stored is not None
    assert stored.authorized is False
    # deauthorizing twice is fine
    provider.deauthorize_member(contract_ready_network.id, node)
    again = provider.read_member(contract_ready_network.id, node)
    assert again is not None and again.authorized is False


def test_remove_then_read_gives_none(
    provider: MembershipProvider, contract_ready_network: ZtNetwork, contract_nodes: list[NodeId]
) -> None:
    node, other = contract_nodes[0], contract_nodes[1]
    provider.authorize_member(
        contract_ready_network.id, node, _addresses(contract_ready_network, 17), NAME
    )
    provider.authorize_member(
        contract_ready_network.id, other, _addresses(contract_ready_network, 18), NAME
    )
    provider.deauthorize_member(contract_ready_network.id, node)
    provider.remove_member(contract_ready_network.id, node)
    assert provider.read_member(contract_ready_network.id, node) is None
    listed = {m.node_id for m in provider.list_members(contract_ready_network.id)}
    assert node not in listed
    assert other in listed  # only the named member went


def test_operations_on_a_removed_member_are_fine(
    provider: MembershipProvider, contract_ready_network: ZtNetwork, contract_nodes: list[NodeId]
) -> None:
    node = contract_nodes[0]
    provider.authorize_member(
        contract_ready_network.id, node, _addresses(contract_ready_network, 19), NAME
    )
    provider.remove_member(contract_ready_network.id, node)
    provider.remove_member(contract_ready_network.id, node)
    provider.deauthorize_member(contract_ready_network.id, node)
    # deauthorizing a gone member must not bring a record back
    assert provider.read_member(contract_ready_network.id, node) is None


def test_operations_on_a_never_seen_member_are_fine(
    provider: MembershipProvider, contract_ready_network: ZtNetwork, contract_nodes: list[NodeId]
) -> None:
    node = contract_nodes[2]
    assert provider.read_member(contract_ready_network.id, node) is None
    provider.deauthorize_member(contract_ready_network.id, node)
    # deauthorizing must not create a (deauthorized) record
    assert provider.read_member(contract_ready_network.id, node) is None
    provider.remove_member(contract_ready_network.id, node)
    assert provider.read_member(contract_ready_network.id, node) is None


def test_reauthorize_after_remove_starts_clean(
    provider: MembershipProvider, contract_ready_network: ZtNetwork, contract_nodes: list[NodeId]
) -> None:
    node = contract_nodes[0]
    provider.authorize_member(
        contract_ready_network.id, node, _addresses(contract_ready_network, 30), NAME
    )
    provider.remove_member(contract_ready_network.id, node)
    addresses = _addresses(contract_ready_network, 31)
    state = provider.authorize_member(contract_ready_network.id, node, addresses, NAME)
    _assert_matches(state, contract_ready_network, node, addresses)


# ------------------------------------------------------------------ unknown network


def _unknown_network(network: ZtNetwork) -> ZtNetwork:
    """A network under the same controller that does not exist (a random suffix)."""
    while True:
        candidate = NetworkId(network.id.controller + secrets.token_hex(3))
        if candidate != network.id:
            return ZtNetwork(
                candidate, "contract-missing", network.ipv4_prefix, network.ipv6_prefix
            )


def test_authorize_on_an_unknown_network_is_a_permanent_not_found(
    provider: MembershipProvider, contract_ready_network: ZtNetwork, contract_nodes: list[NodeId]
) -> None:
    missing = _unknown_network(contract_ready_network)
    with pytest.raises(ProviderError) as caught:
        provider.authorize_member(missing.id, contract_nodes[0], _addresses(missing, 40), NAME)
    assert caught.value.kind == "not_found"
    assert caught.value.transient is False
    assert provider.read_member(missing.id, contract_nodes[0]) is None


__all__ = [name for name in dir() if name.startswith("test_") or name.startswith("contract_")]
