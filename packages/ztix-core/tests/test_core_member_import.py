"""Importing many members at once: the same rules, rows and audit trail as filing,
approving and provisioning them one by one; every refused entry says why and writes
nothing; a chunk refused at its write falls back to the one-member path."""

from __future__ import annotations

import ipaddress

import pytest

from ztix_core.errors import DuplicateRecord, NotFound, PermissionDenied, ProviderError, ZtixError
from ztix_core.policies.base import ApprovalContext, Decision, Verdict
from ztix_core.records import Actor, IpAllocation
from ztix_core.status import RequestStatus as S
from ztix_core.testing.world import ADMIN, World
from ztix_core.usecases import ImportEntry, MemberImport, MemberSettings
from ztix_core.usecases._common import TOPIC_PROVISION
from ztix_core.values import Asn


def _importer(w: World, chunk: int = 500) -> MemberImport:
    members = MemberSettings(w.store, w.clock, w.fleet.servers, allow_documentation_asns=True)
    return MemberImport(w.workflow, members, w.provisioner, chunk=chunk)


def _operators(w: World, count: int, first_asn: int = 20000) -> list[ImportEntry]:
    """``count`` operators, each with its own account, ASN and node."""
    entries = []
    for i in range(count):
        user = w.add_user(f"op{i}", first_asn + i)
        entries.append(ImportEntry(user.id, first_asn + i, f"{0xC0FFEE0000 + i:010x}"))
    return entries


def _request_count(w: World) -> int:
    with w.store() as uow:
        return len(uow.requests.get_many(list(uow.tables.requests)))


def test_every_member_ends_active_with_the_single_paths_records(world: World) -> None:
    entries = _operators(world, 5)
    report = _importer(world, chunk=2).run(ADMIN, world.network.id, entries)
    assert [o.error for o in report.outcomes] == [None] * 5
    assert {o.status for o in report.outcomes} == {S.ACTIVE}
    assert report.bulk == 5
    with world.store() as uow:
        memberships = {m.asn: m for m in uow.memberships.list()}
        outbox = [m for m in uow.outbox.claim_unsent(100) if m.topic == TOPIC_PROVISION]
        first = report.outcomes[0].request_id
        assert first is not None
        trail = [e.action for e in uow.audit.for_target("request", str(first))]
        request = uow.requests.get(first)
    # addresses: the lowest free ones, never a route server's (.1 and .2), all distinct
    v4 = sorted(int(m.ipv4) for m in memberships.values())
    assert [ipaddress.IPv4Address(a) for a in v4][:1] == [ipaddress.IPv4Address("10.1.0.3")]
    assert len(set(v4)) == 5 and len({m.ipv6 for m in memberships.values()}) == 5
    assert all(m.authorized for m in memberships.values())
    for m in memberships.values():
        held = world.provider.members[(m.network_id, m.node_id)]
        assert held.authorized and {str(m.ipv4), str(m.ipv6)} <= set(held.ip_assignments)
    assert {p.asn for p in world.fleet.applied["rs1"]} == {Asn(20000 + i) for i in range(5)}
    assert outbox == []  # the import provisions them itself (the reconciler would, if cut short)
    assert trail == [
        "request.submitted",
        "request.approved",
        "request.provisioning",
        "membership.allocated",
        "membership.authorized",
        "request.active",
    ]
    assert request is not None and request.decided_by == str(ADMIN)


def test_fixed_addresses_and_display_names_are_kept(world: World) -> None:
    user = world.add_user("kept", 20100)
    entry = ImportEntry(
        user.id,
        "AS20100",
        "00000000aa",
        ipv4="10.1.0.200",
        ipv6="fd00:1::200",
        display_name="  Kept Networks ",
    )
    fresh = _operators(world, 1, first_asn=20200)[0]
    report = _importer(world).run(ADMIN, world.network.id, [entry, fresh])
    assert [o.status for o in report.outcomes] == [S.ACTIVE, S.ACTIVE]
    rid = report.outcomes[0].request_id
    assert rid is not None
    with world.store() as uow:
        m = uow.memberships.get_for_request(rid)
        facts = uow.member_facts.get(rid)
        other = uow.memberships.get_for_request(report.outcomes[1].request_id)  # type: ignore[arg-type]
    assert m is not None and str(m.ipv4) == "10.1.0.200" and str(m.ipv6) == "fd00:1::200"
    assert facts is not None and facts.display_name == "Kept Networks"
    assert other is not None and other.ipv4 != m.ipv4
    peer = next(p for p in world.fleet.applied["rs1"] if p.asn == Asn(20100))
    assert "Kept Networks" in peer.description


def test_each_bad_entry_says_why_and_writes_nothing(world: World) -> None:
    good = _operators(world, 2)
    stranger = world.add_user("stranger", *range(20300, 20310))
    # ASN 64500 of the world's operator already has a live request with node 1111111111
    live = world.workflow.submit(world.user.id, 64500, world.network.id, "1111111111")
    before = _request_count(world)
    bad = [
        ImportEntry(stranger.id, 20399, "2222222222"),  # not linked to that account
        ImportEntry(stranger.id, 64512, "3333333333"),  # private ASN
        ImportEntry(stranger.id, 20301, "xyz"),  # not a node id
        ImportEntry(world.user.id, 64500, "4444444444"),  # live request already
        ImportEntry(stranger.id, 20302, "1111111111"),  # node already used
        ImportEntry(good[0].user_id, good[0].asn, "5555555555"),  # ASN named twice
        ImportEntry(stranger.id, 20303, good[1].node_id),  # node named twice
        ImportEntry(stranger.id, 20304, "6666666666", ipv4="10.9.0.9"),  # outside prefix
        ImportEntry(stranger.id, 20305, "7777777777", ipv4="10.1.0.1"),  # route server's
        ImportEntry(stranger.id, 20306, "8888888888", notes="\x00"),
        ImportEntry(stranger.id, 20307, "9999999990", display_name="x" * 500),
    ]
    report = _importer(world).run(ADMIN, world.network.id, [*good, *bad])
    errors = [o.error for o in report.outcomes]
    assert errors[:2] == [None, None]
    assert all(errors[2:]), errors
    messages = "\n".join(e or "" for e in errors[2:])
    assert "AS20399 is not linked to your account" in messages
    assert "private" in messages.lower()
    assert "already has a live request" in messages or str(live.id) in messages
    assert "node 1111111111 is already used by request" in messages
    assert f"AS{good[0].asn} appears twice in this import" in messages
    assert f"node {good[1].node_id} appears twice in this import" in messages
    assert "outside network" in messages
    assert "route server rs1's own address" in messages
    assert "NUL" in messages
    assert "display_name" in messages
    assert report.bulk == 2
    assert _request_count(world) == before + 2
    assert all(o.request_id is None for o in report.outcomes[2:])


def test_the_whole_import_is_refused_when_it_cannot_start(world: World) -> None:
    entries = _operators(world, 2)
    importer = _importer(world)
    with pytest.raises(PermissionDenied):
        importer.run(Actor("user", "someone"), world.network.id, entries)
    with pytest.raises(NotFound, match="not an exchange network"):
        importer.run(ADMIN, "ffffffffffffffff", entries)
    world.provider.ready = False
    with pytest.raises(ZtixError, match="not ready"):
        importer.run(ADMIN, world.network.id, entries)
    assert _request_count(world) == 0


def test_a_controller_refusal_fails_only_that_member(world: World) -> None:
    entries = _operators(world, 3)
    calls = {"n": 0}
    original = world.provider.authorize_member

    def authorize(*args: object, **kw: object) -> object:
        calls["n"] += 1
        if calls["n"] == 2:
            raise ProviderError("member refused", kind="http", transient=False)
        return original(*args, **kw)  # type: ignore[arg-type]

    world.provider.authorize_member = authorize  # type: ignore[method-assign, assignment]
    report = _importer(world).run(ADMIN, world.network.id, entries)
    assert [o.status for o in report.outcomes] == [S.ACTIVE, S.FAILED, S.ACTIVE]
    assert "controller: member refused" in (report.outcomes[1].error or "")


def test_a_chunk_refused_at_its_write_takes_the_one_member_path(world: World) -> None:
    entries = _operators(world, 3)
    importer = _importer(world)
    _refusing_first_write(world, importer)
    report = importer.run(ADMIN, world.network.id, entries)
    assert report.bulk == 0
    assert [o.status for o in report.outcomes] == [S.ACTIVE] * 3


def test_an_exhausted_pool_sends_the_chunk_one_by_one_and_says_so(world: World) -> None:
    entries = _operators(world, 3)
    holder = world.workflow.submit(world.user.id, 64501, world.network.id, "9999999999").id
    with world.store() as uow:  # every IPv4 host address but two is held
        for host in range(3, 253):
            address = ipaddress.IPv4Address(f"10.1.0.{host}")
            uow.allocations.reserve(IpAllocation(world.network.id, address, holder))
        uow.commit()
    report = _importer(world).run(ADMIN, world.network.id, entries)
    assert report.bulk == 0
    assert [o.status for o in report.outcomes] == [S.ACTIVE, S.ACTIVE, S.FAILED]
    assert "no free address left in 10.1.0.0/24" in (report.outcomes[2].error or "")


def test_a_controller_that_stops_being_ready_stops_the_import_there(world: World) -> None:
    entries = _operators(world, 5)
    asked = {"n": 0}
    original = world.provider.check_readiness

    def readiness(networks: object) -> object:
        asked["n"] += 1
        world.provider.ready = asked["n"] == 1  # at the start only
        return original(networks)  # type: ignore[arg-type]

    world.provider.check_readiness = readiness  # type: ignore[method-assign, assignment]
    report = _importer(world, chunk=2).run(ADMIN, world.network.id, entries)
    assert [o.status for o in report.outcomes][:2] == [S.ACTIVE, S.ACTIVE]
    assert report.bulk == 2
    for outcome in report.outcomes[2:]:
        assert outcome.request_id is None
        assert (outcome.error or "").startswith("not imported: the controller is not ready")
    assert _request_count(world) == 2


def test_a_controller_that_stops_answering_leaves_the_rest_to_the_worker(world: World) -> None:
    entries = _operators(world, 4)
    calls = {"n": 0}
    original = world.provider.authorize_member

    def authorize(*args: object, **kw: object) -> object:
        calls["n"] += 1
        if calls["n"] >= 2:
            raise ProviderError("timed out", kind="timeout", transient=True)
        return original(*args, **kw)  # type: ignore[arg-type]

    world.provider.authorize_member = authorize  # type: ignore[method-assign, assignment]
    report = _importer(world).run(ADMIN, world.network.id, entries)
    assert calls["n"] == 2  # no more calls once it stopped answering
    assert report.outcomes[0].status is S.ACTIVE and report.outcomes[0].error is None
    for outcome in report.outcomes[1:]:
        assert outcome.status is S.PROVISIONING and outcome.request_id is not None
        assert "the controller did not answer (timed out)" in (outcome.error or "")
        assert "reconciler" in (outcome.error or "")


class _Always:
    """An automatic approval policy with a fixed verdict."""

    def __init__(self, verdict: Verdict) -> None:
        self.verdict = verdict
        self.name = f"always_{verdict.value}"

    def decide(self, ctx: ApprovalContext) -> Decision:
        return Decision(self.verdict, ("decided in advance",))


def _refusing_first_write(w: World, importer: MemberImport) -> None:
    """The chunk's write loses a race, so every entry takes the one-member path."""
    real = w.store
    state = {"refused": False}

    def factory() -> object:
        uow = real()
        if not state["refused"]:

            def store(batch: object) -> None:
                state["refused"] = True
                raise DuplicateRecord("taken meanwhile")

            uow.onboarding.store = store  # type: ignore[method-assign]
        return uow

    importer.uow_factory = factory  # type: ignore[assignment]


@pytest.mark.parametrize("verdict", [Verdict.APPROVE, Verdict.REJECT])
def test_the_one_member_path_under_an_automatic_policy(world: World, verdict: Verdict) -> None:
    world.workflow.policy = _Always(verdict)
    user = world.add_user("auto", 20500)
    entry = ImportEntry(user.id, 20500, "00000000bb", ipv4="10.1.0.77", ipv6="fd00:1::77")
    importer = _importer(world)
    _refusing_first_write(world, importer)
    report = importer.run(ADMIN, world.network.id, [entry])
    outcome = report.outcomes[0]
    if verdict is Verdict.REJECT:
        assert outcome.status is S.REJECTED
        assert outcome.error == "rejected by the approval policy: decided in advance"
        return
    assert outcome.status is S.ACTIVE and outcome.error is None
    with world.store() as uow:
        m = uow.memberships.get_for_request(outcome.request_id)  # type: ignore[arg-type]
    assert m is not None and (str(m.ipv4), str(m.ipv6)) == ("10.1.0.77", "fd00:1::77")
