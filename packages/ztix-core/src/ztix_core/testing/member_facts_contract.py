"""The repository contract of admins' per-member settings (``uow.member_facts``);
:mod:`ztix_core.testing.repository_contract` re-exports it, so every storage backend runs
it with the rest."""

from __future__ import annotations

import ipaddress

import attrs
import pytest

from ztix_core.errors import NotFound
from ztix_core.ports import UnitOfWorkFactory
from ztix_core.records import MemberFacts
from ztix_core.testing import builders as b

__all__ = ["test_member_facts_need_a_known_request", "test_member_facts_roundtrip"]


def test_member_facts_roundtrip(uow_factory: UnitOfWorkFactory) -> None:
    u, n = b.user(), b.network()
    r1, r2 = b.request(u.id, n.id), b.request(u.id, n.id, asn=64501, node="abcdef0002")
    full = MemberFacts(
        r1.id,
        display_name="Example Networks — Zürich 'edge'",
        max_prefix_v4=5000,
        max_prefix_v6=10_000_000,
        ipv4=ipaddress.IPv4Address("10.1.0.77"),
        ipv6=ipaddress.IPv6Address("fd00:1::77"),
        updated_at=b.T0,
        updated_by="system:cli",
    )
    partial = MemberFacts(r2.id, max_prefix_v6=40, updated_at=b.T0, updated_by="user:x")
    with uow_factory() as uow:
        uow.users.add(u)
        uow.networks.add(n)
        uow.requests.add(r1)
        uow.requests.add(r2)
        uow.member_facts.put(full)
        uow.member_facts.put(partial)
        uow.commit()
    with uow_factory() as uow:
        assert uow.member_facts.get(r1.id) == full
        assert uow.member_facts.get(r2.id) == partial
        assert uow.member_facts.get_many([r1.id, r2.id, b.request(u.id, n.id).id]) == {
            r1.id: full,
            r2.id: partial,
        }
        assert uow.member_facts.get_many([]) == {}
        cleared = attrs.evolve(full, display_name=None, max_prefix_v4=None, ipv6=None)
        uow.member_facts.put(cleared)  # replaces, NULLs included
        assert uow.member_facts.delete(r2.id) is True
        assert uow.member_facts.delete(r2.id) is False
        uow.commit()
    with uow_factory() as uow:
        assert uow.member_facts.get(r1.id) == cleared
        assert uow.member_facts.get(r2.id) is None


def test_member_facts_need_a_known_request(uow_factory: UnitOfWorkFactory) -> None:
    u, n = b.user(), b.network()
    with uow_factory() as uow:
        uow.users.add(u)
        uow.networks.add(n)
        uow.commit()
    ghost = b.request(u.id, n.id)
    with uow_factory() as uow, pytest.raises(NotFound):
        uow.member_facts.put(MemberFacts(ghost.id, display_name="x", updated_at=b.T0))
    with uow_factory() as uow:
        assert uow.member_facts.get(ghost.id) is None
