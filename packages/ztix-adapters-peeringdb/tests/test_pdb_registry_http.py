"""The REST registry against a real HTTP server on 127.0.0.1 serving recorded
PeeringDB-shaped answers: batching with ``asn__in``, the API key header, max-prefix with
headroom and floor, 429 with Retry-After, timeouts, 5xx, malformed JSON, a body cut short,
a malformed record — and never an ASN taken as "no network" without PeeringDB's answer."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ztix_adapters_peeringdb.registry import PeeringDbRegistry, retry_after_s
from ztix_adapters_peeringdb.testing import Fault, LocalPeeringDb, local_peeringdb, net_record
from ztix_core.values import Asn

RECORDED = json.loads((Path(__file__).parent / "data" / "net_asn_in.json").read_text())["data"]


@pytest.fixture
def pdb() -> Iterator[LocalPeeringDb]:
    with local_peeringdb(RECORDED) as server:
        yield server


class Sleeps:
    """Records the waits the registry asks for instead of sleeping, and moves its own
    clock by them (the registry's pacing clock)."""

    def __init__(self) -> None:
        self.waits: list[float] = []
        self.now = 1000.0

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds

    def clock(self) -> float:
        return self.now


def _registry(pdb: LocalPeeringDb, key: str | None = "k3y", **over: Any) -> PeeringDbRegistry:
    sleeps = over.pop("sleep", Sleeps())
    return PeeringDbRegistry(pdb.settings(**over), key, sleep=sleeps, clock=sleeps.clock)


def test_found_absent_and_the_max_prefix_from_a_recorded_answer(pdb: LocalPeeringDb) -> None:
    registry = _registry(pdb)
    got = registry.fetch([Asn(64500), Asn(64501), Asn(64502), Asn(64503)])
    assert got.calls == 1 and not got.failed
    assert got.absent == frozenset({Asn(64503)})
    example = got.found[Asn(64500)]
    assert (example.name, example.irr_as_set, example.policy_general) == (
        "Example Net",
        "AS-EXAMPLE",
        "Selective",
    )
    assert (example.info_prefixes4, example.info_prefixes6) == (1000, 50)
    assert (example.max_prefix_v4, example.max_prefix_v6) == (1250, 63)  # +25 %, rounded up
    assert example.peeringdb_id == 20 and example.status == "ok"
    other = got.found[Asn(64501)]
    assert (other.max_prefix_v4, other.max_prefix_v6) == (15, None)  # v6 null: no limit
    never = got.found[Asn(64502)]
    assert never.never_via_route_servers
    assert (never.max_prefix_v4, never.max_prefix_v6) == (10, None)  # floor; 0 = no count
    (seen,) = pdb.seen
    assert seen.path == "/api/net" and seen.authorization == "Api-Key k3y"
    assert seen.asns == [64500, 64501, 64502, 64503]
    assert seen.query["depth"] == ["0"]
    registry.close()


def test_anonymous_calls_send_no_authorization(pdb: LocalPeeringDb) -> None:
    _registry(pdb, key=None).fetch([Asn(64500)])
    assert pdb.seen[0].authorization is None


def test_batches_hold_at_most_batch_size_asns_and_are_paced(pdb: LocalPeeringDb) -> None:
    pdb.networks.update({a: net_record(a) for a in range(200_000, 200_400)})
    sleeps = Sleeps()
    registry = _registry(pdb, min_interval_s=1.5, sleep=sleeps)
    asns = [Asn(a) for a in range(200_000, 200_400)]
    got = registry.fetch(asns + asns[:10])  # duplicates asked once
    assert got.calls == 3 and len(got.found) == 400 and not got.absent and not got.failed
    assert [len(s.asns) for s in pdb.seen] == [150, 150, 100]
    assert sorted(a for s in pdb.seen for a in s.asns) == list(range(200_000, 200_400))
    assert sleeps.waits == [1.5, 1.5]  # the calls are answered at once: full pauses
    assert _registry(pdb, batch_size=1).fetch(asns[:3]).calls == 3


def test_a_429_is_retried_after_what_retry_after_asks(pdb: LocalPeeringDb) -> None:
    sleeps = Sleeps()
    registry = _registry(pdb, sleep=sleeps)
    pdb.fail_next(Fault("status", 429, retry_after="3"))
    got = registry.fetch([Asn(64500)])
    assert Asn(64500) in got.found and got.calls == 2
    assert sleeps.waits == [3.0]


def test_a_long_retry_after_ends_the_round_and_blocks_until_it_passes(
    pdb: LocalPeeringDb,
) -> None:
    pdb.networks.update({a: net_record(a) for a in range(200_000, 200_300)})
    now = [1000.0]
    registry = PeeringDbRegistry(
        pdb.settings(max_retry_wait_s=60.0), None, sleep=Sleeps(), clock=lambda: now[0]
    )
    pdb.fail_next(Fault("status", 429, retry_after="600"))
    got = registry.fetch([Asn(a) for a in range(200_000, 200_300)])
    assert got.calls == 1 and not got.found and not got.absent
    assert len(got.failed) == 300  # the two later batches were not asked
    assert set(got.failed.values()) == {
        "PeeringDB rate-limited the call (HTTP 429, Retry-After 600 s)"
    }
    now[0] += 300  # still blocked: no call at all
    again = registry.fetch([Asn(64500)])
    assert again.calls == 0 and "300 s left" in again.failed[Asn(64500)]
    now[0] += 301
    assert Asn(64500) in registry.fetch([Asn(64500)]).found


def test_an_impatient_fetch_tries_once_and_never_waits_out_a_429(
    pdb: LocalPeeringDb,
) -> None:
    sleeps = Sleeps()
    registry = _registry(pdb, sleep=sleeps, retry_attempts=3)
    pdb.fail_next(Fault("status", 429, retry_after="3"))
    got = registry.fetch([Asn(64500)], patient=False)
    assert got.calls == 1 and sleeps.waits == []
    assert got.failed == {Asn(64500): "PeeringDB rate-limited the call (HTTP 429, Retry-After 3 s)"}
    held = registry.fetch([Asn(64500)], patient=False)  # Retry-After holds every caller
    assert held.calls == 0 and "(3 s left)" in held.failed[Asn(64500)]
    sleeps.now += 3
    assert Asn(64500) in registry.fetch([Asn(64500)], patient=False).found


def test_a_429_without_retry_after_backs_off_and_gives_up_after_the_attempts(
    pdb: LocalPeeringDb,
) -> None:
    sleeps = Sleeps()
    registry = _registry(pdb, sleep=sleeps, retry_attempts=3, backoff_s=0.5)
    pdb.fail_next(*[Fault("status", 429)] * 3)
    got = registry.fetch([Asn(64500)])
    assert got.calls == 3 and got.failed == {
        Asn(64500): "PeeringDB rate-limited the call (HTTP 429)"
    }
    assert sleeps.waits == [0.5, 1.0]
    assert not got.absent  # not answered is never "no network"


def test_a_timeout_is_retried_then_reported(pdb: LocalPeeringDb) -> None:
    registry = _registry(pdb, timeout_s=0.3, retry_attempts=2)
    pdb.fail_next(Fault("slow"), Fault("slow"))
    got = registry.fetch([Asn(64500)])
    assert got.calls == 2
    assert got.failed == {Asn(64500): "PeeringDB did not answer within 0.3 s"}
    pdb.fail_next(Fault("slow"))
    assert Asn(64500) in registry.fetch([Asn(64500)]).found  # a second try answers


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        (Fault("malformed"), "PeeringDB sent malformed JSON"),
        (Fault("no_data"), "PeeringDB's answer has no data list"),
        (Fault("status", 502), "PeeringDB answered HTTP 502"),
        (Fault("cut"), "cannot reach PeeringDB: RemoteProtocolError"),
    ],
)
def test_a_bad_answer_is_retried_and_never_taken_as_no_network(
    pdb: LocalPeeringDb, fault: Fault, reason: str
) -> None:
    registry = _registry(pdb, retry_attempts=2)
    pdb.fail_next(fault, fault)
    got = registry.fetch([Asn(64500), Asn(64503)])
    assert not got.found and not got.absent
    assert set(got.failed) == {Asn(64500), Asn(64503)}
    assert all(r.startswith(reason) for r in got.failed.values()), got.failed
    pdb.fail_next(fault)
    healed = registry.fetch([Asn(64500), Asn(64503)])
    assert Asn(64500) in healed.found and healed.absent == {Asn(64503)}


def test_a_refused_key_ends_the_round_without_retrying(pdb: LocalPeeringDb) -> None:
    pdb.networks.update({a: net_record(a) for a in range(200_000, 200_200)})
    pdb.fail_next(Fault("status", 401))
    got = _registry(pdb, retry_attempts=3).fetch([Asn(a) for a in range(200_000, 200_200)])
    assert got.calls == 1 and len(got.failed) == 200
    assert "HTTP 401" in got.failed[Asn(200_000)] and "k3y" not in got.failed[Asn(200_000)]


def test_a_malformed_record_fails_only_its_asn(pdb: LocalPeeringDb) -> None:
    bad = net_record(64501, info_prefixes4="lots")
    pdb.fail_next(Fault("bad_record", record=bad))
    got = _registry(pdb).fetch([Asn(64500), Asn(64501)])
    assert Asn(64500) in got.found
    assert got.failed == {
        Asn(64501): "PeeringDB sent a malformed record for AS64501: info_prefixes4 is 'lots', "
        "not a count"
    }
    assert not got.absent


def test_records_for_asns_not_asked_are_ignored(pdb: LocalPeeringDb) -> None:
    pdb.fail_next(Fault("bad_record", record=net_record(13335)))
    got = _registry(pdb).fetch([Asn(64500)])
    assert set(got.found) == {Asn(64500)}


def test_an_unreachable_peeringdb_fails_every_asn_with_the_reason() -> None:
    server = LocalPeeringDb().start()
    settings = server.settings(retry_attempts=2)
    server.stop()  # nothing listens on the port any more
    got = PeeringDbRegistry(settings, None, sleep=Sleeps()).fetch([Asn(64500)])
    assert got.calls == 2 and not got.absent
    assert got.failed[Asn(64500)].startswith("cannot reach PeeringDB: ConnectError")


def test_retry_after_as_seconds_or_http_date() -> None:
    assert retry_after_s("120") == 120.0
    assert retry_after_s(" 0 ") == 0.0
    assert retry_after_s("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10.0
    assert retry_after_s("soon") is None
    assert retry_after_s(None) is None
