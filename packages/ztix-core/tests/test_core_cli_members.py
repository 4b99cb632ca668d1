"""``ztix request approve`` and ``ztix member show|set`` through ``main(argv)``, over a
shared in-memory store (fake plugins: the core's tests install no adapter): each bad
input is one line naming the problem, exit 2, and nothing written."""

from __future__ import annotations

import ipaddress
import os
import types
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from ztix_core.cli import main
from ztix_core.errors import ProviderError
from ztix_core.hookspecs import hookimpl
from ztix_core.memory import (
    InMemoryFleet,
    InMemoryProvider,
    InMemoryRegistry,
    InMemoryStore,
    SystemClock,
)
from ztix_core.plugins import Plugins, Registration, build_plugin_manager
from ztix_core.policies import ManualAdminPolicy
from ztix_core.records import RouteServer
from ztix_core.status import RequestStatus as S
from ztix_core.testing import builders as b
from ztix_core.usecases import RequestWorkflow
from ztix_core.values import Asn

NODE = "abcdef0123"


@pytest.fixture
def store() -> InMemoryStore:
    return InMemoryStore()


@pytest.fixture
def provider() -> InMemoryProvider:
    controller = InMemoryProvider()
    controller.ensure_network(b.network())
    return controller


@pytest.fixture
def plugins(store: InMemoryStore, provider: InMemoryProvider) -> Plugins:
    fleet = InMemoryFleet(
        [
            RouteServer(
                "rs1",
                Asn(64999),
                ipaddress.IPv4Address("10.1.0.1"),
                ipaddress.IPv6Address("fd00:1::1"),
            )
        ]
    )

    @hookimpl
    def ztix_storage_backends() -> list[Registration]:
        return [Registration("shared", lambda s: store, None, "one store for the test")]

    @hookimpl
    def ztix_route_server_fleets() -> list[Registration]:
        return [Registration("labfleet", lambda s: fleet, None, "rs1 on .1 / ::1")]

    @hookimpl
    def ztix_membership_providers() -> list[Registration]:
        return [Registration("memctl", lambda s: provider, None, "an in-memory controller")]

    fake = types.SimpleNamespace(
        __name__="fake_storage",
        ztix_storage_backends=ztix_storage_backends,
        ztix_route_server_fleets=ztix_route_server_fleets,
        ztix_membership_providers=ztix_membership_providers,
    )
    return Plugins(build_plugin_manager(load_entry_points=False, disabled=(), extra=[fake]))


@pytest.fixture(autouse=True)
def clean_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in list(os.environ):
        if name.startswith(("ZT_", "ZTIX_")) or name in ("DATABASE_URL", "REDIS_URL"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("ZTIX_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("ZTIX_STORAGE", "shared")
    monkeypatch.setenv("ZTIX_ROUTE_SERVER_FLEET", "labfleet")
    monkeypatch.setenv("ZT_PROVIDER", "memctl")
    monkeypatch.setenv("ZTIX_ALLOW_DOCUMENTATION_ASNS", "true")
    yield


def _submit(store: InMemoryStore, asn: int = 64500, node: str = NODE) -> uuid.UUID:
    user, network = b.user(f"u{asn}"), b.network()
    with store() as uow:
        if uow.networks.get(network.id) is None:
            uow.networks.add(network)
        uow.users.add(user)
        uow.asn_links.add(b.link(user.id, asn))
        uow.commit()
    workflow = RequestWorkflow(
        store, SystemClock(), ManualAdminPolicy(), InMemoryRegistry(), allow_documentation_asns=True
    )
    rid: uuid.UUID = workflow.submit(user.id, asn, network.id, node).id
    return rid


def _status(store: InMemoryStore, rid: uuid.UUID) -> S:
    with store() as uow:
        request = uow.requests.get(rid)
        assert request is not None
        return request.status


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--ipv4", "10.9.0.5"], "ipv4: 10.9.0.5 is outside network a1b2c3d4e5000001's IPv4"),
        (["--ipv4", "10.1.0.1"], "ipv4: 10.1.0.1 is route server rs1's own address (reserved)"),
        (["--ipv6", "fd00:1::"], "ipv6: fd00:1:: is the subnet-router anycast address"),
        (["--ipv4", "fd00:1::5"], "ipv4: fd00:1::5 is an IPv6 address; an IPv4 address is needed"),
        (["--ipv6", "nonsense"], "ipv6: 'nonsense' is not an IP address"),
    ],
)
def test_approve_refuses_a_bad_address(
    store: InMemoryStore,
    plugins: Plugins,
    capsys: pytest.CaptureFixture[str],
    extra: list[str],
    message: str,
) -> None:
    rid = _submit(store)
    before = store.tables.copy()
    assert main(["request", "approve", str(rid), *extra], plugins=plugins) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"ztix: error: {message}") and err.count("\n") == 1
    assert store.tables == before


def test_approve_with_fixed_addresses_then_a_taken_one(
    store: InMemoryStore, plugins: Plugins, capsys: pytest.CaptureFixture[str]
) -> None:
    first, second = _submit(store), _submit(store, 64501, "abcdef0456")
    argv = ["request", "approve", "AS64500", NODE, "--ipv4", "10.1.0.40", "--ipv6", "fd00:1::40"]
    assert main(argv, plugins=plugins) == 0
    out = capsys.readouterr().out
    assert f"request {first}: approved (AS64500)" in out
    assert "fixed addresses: 10.1.0.40, fd00:1::40" in out
    assert _status(store, first) is S.APPROVED
    before = store.tables.copy()
    assert main(["request", "approve", str(second), "--ipv4", "10.1.0.40"], plugins=plugins) == 2
    assert "10.1.0.40 is already held by another member" in capsys.readouterr().err
    assert store.tables == before
    assert main(["request", "approve", str(second)], plugins=plugins) == 0  # no fixed address
    assert _status(store, second) is S.APPROVED


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--max-prefix-v4", "0"], "max_prefix_v4: must be 1-10000000, got 0"),
        (["--max-prefix-v6", "-4"], "max_prefix_v6: must be 1-10000000, got -4"),
        (["--max-prefix-v4", "99999999"], "max_prefix_v4: must be 1-10000000, got 99999999"),
        (["--max-prefix-v4", "lots"], "max_prefix_v4: 'lots' is not a whole number"),
        (["--display-name", "two\nlines"], "display_name: must be one line of printable text"),
        (["--display-name", "bell\x07"], "display_name: must be one line"),
        (["--display-name", "x" * 121], "display_name: at most 120 characters, got 121"),
        ([], "member set: give at least one of --display-name"),
        (["--ipv4", "10.1.0.1"], "ipv4: 10.1.0.1 is route server rs1's own address"),
    ],
)
def test_member_set_refuses_bad_input(
    store: InMemoryStore,
    plugins: Plugins,
    capsys: pytest.CaptureFixture[str],
    extra: list[str],
    message: str,
) -> None:
    rid = _submit(store)
    assert main(["request", "approve", str(rid)], plugins=plugins) == 0
    assert main(["member", "set", str(rid), "--display-name", "Before"], plugins=plugins) == 0
    capsys.readouterr()
    before = store.tables.copy()
    assert main(["member", "set", str(rid), *extra], plugins=plugins) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"ztix: error: {message}") and err.count("\n") == 1, err
    assert store.tables == before


def test_member_set_and_show(
    store: InMemoryStore, plugins: Plugins, capsys: pytest.CaptureFixture[str]
) -> None:
    rid = _submit(store)
    argv = [
        "member",
        "set",
        "64500",
        NODE,
        "--display-name",
        "Example Networks",
        "--max-prefix-v4",
        "5000",
        "--max-prefix-v6",
        "700",
    ]
    assert main(argv, plugins=plugins) == 0
    out = capsys.readouterr().out
    assert "changed: display_name, max_prefix_v4, max_prefix_v6" in out
    assert main(["member", "set", str(rid), "--max-prefix-v6", "none"], plugins=plugins) == 0
    capsys.readouterr()
    assert main(["member", "show", str(rid)], plugins=plugins) == 0
    out = capsys.readouterr().out
    assert "display name: Example Networks" in out
    assert "max-prefix: v4 5000, v6 -" in out
    assert "set by system:cli" in out
    with store() as uow:
        events = [
            e for e in uow.audit.for_target("request", str(rid)) if e.action.startswith("member.")
        ]
    assert [e.actor for e in events] == ["system:cli", "system:cli"]
    assert events[-1].metadata["changes"] == {"max_prefix_v6": {"from": 700, "to": None}}


def test_an_unknown_request_is_named(plugins: Plugins, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["member", "show", "AS64500", NODE], plugins=plugins) == 2
    assert (
        "no pending or current request of AS64500 with node abcdef0123" in capsys.readouterr().err
    )
    assert main(["member", "show", "not-an-id"], plugins=plugins) == 2
    assert "'not-an-id' is not a request id" in capsys.readouterr().err


def _operators(store: InMemoryStore, *asns: int) -> None:
    network = b.network()
    with store() as uow:
        if uow.networks.get(network.id) is None:
            uow.networks.add(network)
        for asn in asns:
            user = b.user(f"op{asn}")
            uow.users.add(user)
            uow.asn_links.add(b.link(user.id, asn))
        uow.commit()


def test_member_import_files_approves_and_authorizes(
    store: InMemoryStore, plugins: Plugins, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    _operators(store, 64500, 64501, 64502)
    csv_file = tmp_path / "members.csv"
    csv_file.write_text(
        "user,asn,node_id,ipv4,ipv6,display_name\n"
        "op64500,AS64500,ABCDEF0001,10.1.0.50,fd00:1::50,Example One\n"
        "op64501,64501,abcdef0002,,,\n"
        "nobody,64502,abcdef0003,,,\n"
        "op64502,64502,abcdef0001,,,\n"
    )
    network = b.network().id.value
    assert main(["member", "import", str(csv_file), "--network", network], plugins=plugins) == 1
    out = capsys.readouterr().out
    assert "line 4: no user 'nobody' (give a username or a user id)" in out
    assert "line 5: AS64502 abcdef0001: node abcdef0001 appears twice in this import" in out
    assert f"imported 2 of 4 members on {network}; 2 refused (nothing written for them)" in out
    assert "the worker's next route-server sync turns them active" in out
    with store() as uow:
        memberships = {m.asn.value: m for m in uow.memberships.list()}
        topics = [m.topic for m in uow.outbox.claim_unsent(100)]
    assert sorted(memberships) == [64500, 64501]
    assert str(memberships[64500].ipv4) == "10.1.0.50" and memberships[64500].authorized
    assert topics.count("sync_route_servers") == 1
    for m in memberships.values():
        assert _status(store, m.request_id) is S.PROVISIONING  # active after the worker's sync


def test_member_import_reads_a_spreadsheets_csv(
    store: InMemoryStore, plugins: Plugins, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    _operators(store, 64500)
    csv_file = tmp_path / "members.csv"
    csv_file.write_bytes("\ufeffUser,ASN,Node_ID\r\nop64500,AS64500,abcdef0001\r\n".encode())
    argv = ["member", "import", str(csv_file), "--network", b.network().id.value]
    assert main(argv, plugins=plugins) == 0, capsys.readouterr()
    assert "imported 1 of 1 members" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "is empty: it needs a header row"),
        ("user,asn\nop64500,64500\n", "missing column node_id"),
        ("user,asn,node_id,colour\nop64500,64500,abcdef0001,red\n", "unknown column colour"),
        ("user,asn,node_id\n", "holds a header row but no members"),
        ("user,asn,node_id\nop64500,64500,abcdef0001,extra\n", "more values than columns"),
    ],
)
def test_member_import_refuses_a_bad_file(
    store: InMemoryStore,
    plugins: Plugins,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    content: str,
    message: str,
) -> None:
    _operators(store, 64500)
    csv_file = tmp_path / "members.csv"
    csv_file.write_text(content)
    before = store.tables.copy()
    argv = ["member", "import", str(csv_file), "--network", b.network().id.value]
    assert main(argv, plugins=plugins) == 2
    err = capsys.readouterr().err
    assert err.startswith("ztix: error: file: ") and message in err and err.count("\n") == 1
    assert store.tables == before


def test_member_import_names_the_members_filed_but_not_finished(
    store: InMemoryStore,
    plugins: Plugins,
    provider: InMemoryProvider,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    _operators(store, 64500)
    csv_file = tmp_path / "members.csv"
    csv_file.write_text("user,asn,node_id\nop64500,64500,abcdef0001\n")
    provider.fail_next = ProviderError("member refused", kind="http", transient=False)
    argv = ["member", "import", str(csv_file), "--network", b.network().id.value]
    assert main(argv, plugins=plugins) == 1
    out = capsys.readouterr().out
    assert "line 2: AS64500 abcdef0001: controller: member refused (request " in out
    assert ", failed)" in out
    assert "imported 0 of 1 members" in out and "1 filed but not finished" in out


@pytest.mark.parametrize(
    ("network", "message"),
    [
        ("nothex", "network_id"),
        ("ffffffffffffffff", "network ffffffffffffffff is not an exchange network"),
    ],
)
def test_member_import_refuses_a_network_that_is_not_the_exchanges(
    store: InMemoryStore,
    plugins: Plugins,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    network: str,
    message: str,
) -> None:
    _operators(store, 64500)
    csv_file = tmp_path / "members.csv"
    csv_file.write_text("user,asn,node_id\nop64500,64500,abcdef0001\n")
    before = store.tables.copy()
    assert main(["member", "import", str(csv_file), "--network", network], plugins=plugins) == 2
    err = capsys.readouterr().err
    assert err.startswith("ztix: error: ") and message in err and err.count("\n") == 1
    assert store.tables == before
