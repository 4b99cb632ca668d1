"""API tokens, the idempotent submit and the IX-F export, on the in-memory store."""

from __future__ import annotations

import datetime as dt
import uuid

import attrs
import pytest

from ztix_core.api_ports import TokenScope
from ztix_core.errors import (
    IdempotencyKeyReused,
    InvalidValue,
    NotEligible,
    NotFound,
    PermissionDenied,
    SettingsError,
)
from ztix_core.ports import CachedFacts, NetworkFacts, RequestFilter
from ztix_core.records import Actor
from ztix_core.settings import structure
from ztix_core.status import RequestStatus
from ztix_core.testing.world import World
from ztix_core.usecases.ixf import ExchangeSettings, IxfExport
from ztix_core.usecases.provisioning import ProvisioningSettings
from ztix_core.usecases.tokens import ApiTokens, TokenRefused, hash_secret
from ztix_core.values import Asn

CLI = Actor.system("test")


def _tokens(world: World) -> ApiTokens:
    return ApiTokens(world.store, world.clock)


def test_token_lifecycle(world: World) -> None:
    tokens = _tokens(world)
    owner = Actor.user(world.user)
    made = tokens.create(owner, world.user.id, "ci", "operator")
    assert made.secret.startswith("ztix_") and len(made.secret) > 40
    assert made.token.secret_hash == hash_secret(made.secret) != made.secret
    bearer = tokens.authenticate(made.secret)
    assert bearer.user.id == world.user.id and not bearer.actor.is_admin
    assert bearer.token.last_used_at == world.clock.now()
    assert [t.id for t in tokens.list(owner, world.user.id)] == [made.token.id]
    tokens.revoke(owner, made.token.id)
    with pytest.raises(TokenRefused, match="revoked"):
        tokens.authenticate(made.secret)
    with world.store() as uow:
        trail = [e for e in uow.audit.recent(10) if e.action.startswith("token.")]
    assert [e.action for e in trail] == ["token.revoked", "token.created"]
    assert made.secret not in repr(trail)


def test_token_rules(world: World) -> None:
    tokens = _tokens(world)
    owner = Actor.user(world.user)
    other = world.add_user("bob", 64501)
    with pytest.raises(InvalidValue, match="admin scope"):
        tokens.create(owner, world.user.id, "x", TokenScope.ADMIN)
    with pytest.raises(InvalidValue, match="scope"):
        tokens.create(owner, world.user.id, "x", "root")
    with pytest.raises(InvalidValue, match="name"):
        tokens.create(owner, world.user.id, " ")
    with pytest.raises(InvalidValue, match="future"):
        tokens.create(owner, world.user.id, "x", expires_at=world.clock.now())
    with pytest.raises(PermissionDenied):
        tokens.create(owner, other.id, "x")
    theirs = tokens.create(CLI, other.id, "theirs")
    with pytest.raises(NotFound):
        tokens.revoke(owner, theirs.token.id)
    soon = tokens.create(
        owner, world.user.id, "soon", expires_at=world.clock.now() + dt.timedelta(hours=1)
    )
    world.clock.advance(seconds=3600)
    with pytest.raises(TokenRefused, match="expired"):
        tokens.authenticate(soon.secret)
    with pytest.raises(TokenRefused, match="unknown"):
        tokens.authenticate("ztix_" + "x" * 43)
    with pytest.raises(TokenRefused, match="not a ztix"):
        tokens.authenticate("Bearer something")


def test_admin_scope_needs_an_admin_and_makes_one(world: World) -> None:
    tokens = _tokens(world)
    admin = world.add_user("root")
    with world.store() as uow:
        user = uow.users.get(admin.id)
        assert user is not None
        uow.users.update(attrs.evolve(user, is_admin=True))
        uow.commit()
    as_admin = tokens.create(CLI, admin.id, "admin", TokenScope.ADMIN)
    as_operator = tokens.create(CLI, admin.id, "narrow", TokenScope.OPERATOR)
    assert tokens.authenticate(as_admin.secret).actor.is_admin
    assert not tokens.authenticate(as_operator.secret).actor.is_admin
    # the admin's own session acting as an operator (it owes its TOTP code) may not
    acting = Actor("user", str(admin.id), is_admin=False)
    with pytest.raises(PermissionDenied, match="actor with admin rights"):
        tokens.create(acting, admin.id, "sneaky", TokenScope.ADMIN)
    assert len(tokens.list(acting, admin.id)) == 2


def test_submit_once(world: World) -> None:
    args = (world.user.id, "k1", "f1", 64500, world.network.id, "abcdef0001")
    first, replayed = world.workflow.submit_once(*args)
    assert not replayed
    again, replayed = world.workflow.submit_once(*args)
    assert replayed and again.id == first.id
    with pytest.raises(IdempotencyKeyReused):
        world.workflow.submit_once(world.user.id, "k1", "f2", 64501, world.network.id, "abcdef0002")
    with pytest.raises(NotEligible):  # refused: the key stays free
        world.workflow.submit_once(world.user.id, "k2", "f3", 64999, world.network.id, "abcdef0003")
    with world.store() as uow:
        assert uow.idempotency.get(world.user.id, "k2") is None
        assert len(uow.requests.query(RequestFilter(limit=100))) == 1


def test_idempotency_keys_expire(world: World) -> None:
    first, _ = world.workflow.submit_once(
        world.user.id, "k", "f1", 64500, world.network.id, "abcdef0001"
    )
    world.clock.advance(seconds=25 * 3600)
    second, replayed = world.workflow.submit_once(
        world.user.id, "k", "f2", 64501, world.network.id, "abcdef0002"
    )
    assert not replayed and second.id != first.id
    with world.store() as uow:
        entry = uow.idempotency.get(world.user.id, "k")
        assert entry is not None and entry.request_id == second.id


def test_exchange_settings_are_checked() -> None:
    assert structure({"country": "DE", "ixf_id": 42}, ExchangeSettings, "exchange").ixf_id == 42
    for raw, field in (
        ({"country": "de"}, "exchange.country"),
        ({"url": "ftp://x"}, "exchange.url"),
        ({"support_email": "nobody"}, "exchange.support_email"),
        ({"ixp_id": 0}, "exchange.ixp_id"),
    ):
        with pytest.raises(SettingsError) as info:
            structure(raw, ExchangeSettings, "exchange")
        assert field in str(info.value)


def test_ixf_export_lists_active_members_only(world: World) -> None:
    with world.store() as uow:
        facts = NetworkFacts(Asn(64500), "Alice Net", "AS-ALICE", 250, None)
        uow.network_facts.put(CachedFacts(Asn(64500), facts, world.clock.now(), world.clock.now()))
        uow.commit()
    bob = world.add_user("bob", 64502)
    admin = Actor.system("admin")
    active = world.workflow.submit(world.user.id, 64500, world.network.id, "abcdef0001")
    world.workflow.approve(admin, active.id)
    assert world.provisioner.provision(active.id) is RequestStatus.ACTIVE
    world.workflow.submit(bob.id, 64502, world.network.id, "abcdef0002")  # pending
    export = IxfExport(world.store, world.clock, ExchangeSettings(), ProvisioningSettings())
    doc, changed = export.document()
    assert changed == export.last_change() is not None
    assert [m["asnum"] for m in doc["member_list"]] == [64500]
    member = doc["member_list"][0]
    assert member["name"] == "Alice Net"
    vlan = member["connection_list"][0]["vlan_list"][0]
    assert vlan["ipv4"] == {
        "address": vlan["ipv4"]["address"],
        "routeserver": True,
        "max_prefix": 250,
        "as_macro": "AS-ALICE",
    }
    assert vlan["ipv6"]["max_prefix"] == ProvisioningSettings().default_max_prefix_v6
    assert doc["ixp_list"][0]["vlan"][0]["id"] == vlan["vlan_id"] == 1
    assert uuid.UUID(str(active.id))
