"""PeeringDB end to end, on SQLite through the installed plugins: the ``peeringdb``
registry against a local PeeringDB-shaped server, the cache in the database, the BIRD
config rendered with PeeringDB's max-prefix (headroom included), ``ztix peeringdb``
overriding it (audited) and refreshing, and PeeringDB down serving the stale facts."""

from __future__ import annotations

import ipaddress
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from ztix_adapters_bird.lab import example_server
from ztix_adapters_bird.render import render_server
from ztix_adapters_peeringdb.testing import Fault, LocalPeeringDb, local_peeringdb, net_record
from ztix_core.bootstrap import App, bootstrap
from ztix_core.cli import main
from ztix_core.memory import InMemoryFleet, InMemoryProvider
from ztix_core.plugins import Plugins, build_plugin_manager
from ztix_core.records import Actor, AsnLink, LinkSource, RouteServer, User, ZtNetwork
from ztix_core.settings import load_settings
from ztix_core.usecases import Provisioner
from ztix_core.values import Asn, NetworkId

AS = Asn(39120)
ADMIN = Actor("user", "admin", is_admin=True)
LAN = ZtNetwork(
    NetworkId("a1b2c3d4e5000001"),
    "lan1",
    ipaddress.IPv4Network("10.1.0.0/24"),
    ipaddress.IPv6Network("fd00:1::/64"),
)
RS = example_server(
    ipv4=ipaddress.IPv4Address("10.1.0.1"),
    ipv6=ipaddress.IPv6Address("fd00:1::1"),
    router_id=ipaddress.IPv4Address("10.1.0.1"),
)


@pytest.fixture
def pdb() -> Iterator[LocalPeeringDb]:
    with local_peeringdb([net_record(39120, info_prefixes4=1000, info_prefixes6=40)]) as server:
        yield server


@pytest.fixture
def config(tmp_path: Path, pdb: LocalPeeringDb, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("ZTIX_CONFIG", "DATABASE_URL", "PEERINGDB_API_KEY", "PEERINGDB_API_KEY_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ZTIX_DATA_DIR", str(tmp_path / "data"))
    key = tmp_path / "pdb.key"
    key.write_text("e2e-key\n")
    monkeypatch.setenv("PEERINGDB_API_KEY_FILE", str(key))
    path = tmp_path / "ztix.toml"
    path.write_text(
        f'database_url = "sqlite:///{tmp_path / "ztix.db"}"\n'
        'network_registry = "peeringdb"\n'
        'route_server_fleet = "none"\n'
        "[peeringdb]\n"
        f'base_url = "{pdb.base_url}"\n'
        "min_interval_s = 0.0\nbackoff_s = 0.0\nretry_attempts = 1\n"
        "max_prefix_headroom_percent = 25\n"
    )
    return path


def _plugins() -> Plugins:
    return Plugins(build_plugin_manager(disabled=()))


def _app(config: Path) -> tuple[App, Provisioner, InMemoryFleet]:
    app = bootstrap(load_settings(config), _plugins(), with_provisioning=False)
    fleet = InMemoryFleet([RouteServer("rs1", RS.asn, RS.ipv4, RS.ipv6)])
    provider = InMemoryProvider()
    provider.ensure_network(LAN)
    provisioner = Provisioner(
        app.uow_factory, app.clock, provider, fleet, app.registry, app.settings.provisioning
    )
    return app, provisioner, fleet


def _peer_conf(fleet: InMemoryFleet) -> str:
    files = render_server(RS, list(fleet.applied["rs1"]))
    return files["peers/AS39120.conf"].decode()


def test_peeringdb_max_prefix_in_the_bird_config_override_and_outage(
    config: Path, pdb: LocalPeeringDb, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--config", str(config), "db", "upgrade"]) == 0
    app, provisioner, fleet = _app(config)
    user = User(uuid.uuid4(), "op", "Operator")
    with app.uow_factory() as uow:
        uow.networks.add(LAN)
        uow.users.add(user)
        uow.asn_links.add(AsnLink(user.id, AS, LinkSource.LOCAL))
        uow.commit()
    req = app.workflow.submit(user.id, 39120, LAN.id, "abcdef0123")
    assert pdb.seen[0].authorization == "Api-Key e2e-key"
    app.workflow.approve(ADMIN, req.id)
    provisioner.provision(req.id)
    conf = _peer_conf(fleet)
    assert "import limit 1250 action restart;" in conf  # 1000 + 25 %
    assert "import limit 50 action restart;" in conf  # 40 + 25 %

    # an admin's override, from the CLI: audited, and the route servers follow
    args = ["--config", str(config), "peeringdb", "override", "set", "AS39120"]
    assert main([*args, "--v4", "5000", "--reason", "full table"], plugins=_plugins()) == 0
    assert "max-prefix: v4 5000 (override), v6 50 (peeringdb)" in capsys.readouterr().out
    with app.uow_factory() as uow:
        (event,) = uow.audit.for_target("asn", "39120")
        assert (event.actor, event.action) == ("system:cli", "max_prefix.override_set")
        assert any(m.topic == "sync_route_servers" for m in uow.outbox.claim_unsent(20))
    provisioner.sync_route_servers()
    assert "import limit 5000 action restart;" in _peer_conf(fleet)
    assert main([*args[:-2], "list"], plugins=_plugins()) == 0
    assert "AS39120: v4 5000, v6 - by system:cli" in capsys.readouterr().out
    bad = ["--config", str(config), "peeringdb", "override", "set", "AS39120", "--v4", "0"]
    assert main([*bad, "--reason", "x"], plugins=_plugins()) == 2
    assert "max_prefix_v4: must be 1-10000000, got 0" in capsys.readouterr().err

    # PeeringDB down: the refresh fails (exit 1), the stale facts stay with their age
    pdb.fail_next(Fault("status", 429, retry_after="3600"))
    refresh = ["--config", str(config), "peeringdb", "refresh", "--all"]
    assert main(refresh, plugins=_plugins()) == 1
    assert "1 not answered" in capsys.readouterr().out
    assert main(["--config", str(config), "peeringdb", "show", "39120"], plugins=_plugins()) == 0
    shown = capsys.readouterr().out
    assert "last ask failed: PeeringDB rate-limited the call (HTTP 429, Retry-After 3600 s)" in (
        shown
    )
    assert "name: Example Network AS39120 (status ok)" in shown
    assert "prefixes announced: v4 1000, v6 40" in shown

    # cleared: PeeringDB's value holds again
    clear = ["--config", str(config), "peeringdb", "override", "clear", "39120"]
    assert main([*clear, "--reason", "done"], plugins=_plugins()) == 0
    provisioner.sync_route_servers()
    assert "import limit 1250 action restart;" in _peer_conf(fleet)
    assert main(clear, plugins=_plugins()) == 2  # nothing left to clear
    assert "AS39120 has no max-prefix override" in capsys.readouterr().err
