"""One route-server fleet, whoever builds it: ``ztix rs`` and the worker render the same
files, byte for byte, from the same settings file and the same database (SQLite through
the sql adapter, members stored in it); and ``ztix rs render|check|status`` work with no
ZeroTier settings at all (they never talk to the controller)."""

from __future__ import annotations

import argparse
import ipaddress
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ztix_adapters_bird.fleet import BirdFleet
from ztix_adapters_bird.testing import BirdDaemon, bird_lab, simple_config
from ztix_adapters_sql.testing import migrated_sqlite_url
from ztix_adapters_sql.uow import sql_uow_factory
from ztix_core.bootstrap import bootstrap
from ztix_core.cli import build_parser
from ztix_core.hookspecs import hookimpl
from ztix_core.memory.provider import InMemoryProvider
from ztix_core.plugins import Plugins, Registration, build_plugin_manager
from ztix_core.settings import load_settings
from ztix_core.status import RequestStatus
from ztix_core.testing import builders
from ztix_core.values import NetworkId
from ztix_worker.runtime import WorkerRuntime
from ztix_worker.settings import load_worker_settings

pytestmark = [pytest.mark.bird]

NET = NetworkId("8056c2e21c000001")
LAN4 = ipaddress.IPv4Network("185.1.0.0/24")
LAN6 = ipaddress.IPv6Network("2a0c:b641:780::/64")
ASNS = (200001, 200002, 200003, 3320)


class _Provider:
    """A ZeroTier provider for the worker's bootstrap (the CLI builds none)."""

    __name__ = "one-fleet-test-provider"

    @hookimpl
    def ztix_membership_providers(self) -> list[Registration]:
        return [Registration("one-fleet-test", lambda s: InMemoryProvider())]


def _seed(url: str) -> None:
    """Active, authorized members on the configured network, plus one pending request
    (which no route server may configure)."""
    uow_factory = sql_uow_factory(url)
    try:
        with uow_factory() as uow:
            owner = builders.user("op")
            uow.users.add(owner)
            uow.networks.add(builders.network(1, id=NET, ipv4_prefix=LAN4, ipv6_prefix=LAN6))
            for i, asn in enumerate(ASNS):
                req = builders.request(
                    owner.id, NET, asn=asn, node=f"abcdef{i:04d}", status=RequestStatus.ACTIVE
                )
                uow.requests.add(req)
                uow.memberships.add(
                    builders.membership(
                        req,
                        v4=f"185.1.0.{i + 10}",
                        v6=f"2a0c:b641:780::{i + 10:x}",
                        authorized=True,
                    )
                )
            uow.requests.add(builders.request(owner.id, NET, asn=200099, node="abcdef0099"))
            uow.commit()
    finally:
        uow_factory.dispose()


def _settings_text(url: str, daemons: list[BirdDaemon], provider: str | None) -> str:
    head = f'storage = "sql"\ndatabase_url = "{url}"\nroute_server_fleet = "bird"\n'
    head += 'network_registry = "memory"\n'
    if provider is not None:
        head += f'zt_provider = "{provider}"\n'
    text = head + (
        f'\n[[networks]]\nid = "{NET.value}"\nname = "ix"\n'
        f'ipv4_prefix = "{LAN4}"\nipv6_prefix = "{LAN6}"\n\n[bird]\n'
    )
    for i, d in enumerate(daemons):
        p = d.paths()
        text += (
            f'\n[[bird.servers]]\nname = "rs{i + 1}"\nasn = 64999\nrouter_id = "10.0.0.{i + 1}"\n'
            f'ipv4 = "185.1.0.{i + 1}"\nipv6 = "2a0c:b641:780::{i + 1:x}"\ntransport = "local"\n'
            f'[bird.servers.paths]\nconfig_dir = "{p.config_dir}"\n'
            f'main_config = "{p.main_config}"\ncontrol_socket = "{p.control_socket}"\n'
        )
    return text


@pytest.fixture(scope="module")
def daemons() -> Iterator[list[BirdDaemon]]:
    with bird_lab() as lab:
        yield [lab.daemon(f"rs{i}", simple_config(f"10.0.0.{i}", {})) for i in (1, 2)]


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = migrated_sqlite_url(tmp_path_factory.mktemp("one-fleet-db"))
    _seed(url)
    return url


def _tree(base: Path) -> dict[str, bytes]:
    return {str(p.relative_to(base)): p.read_bytes() for p in base.rglob("*") if p.is_file()}


def test_cli_and_worker_render_byte_identical_trees(
    daemons: list[BirdDaemon],
    database: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = tmp_path / "ztix.toml"
    config.write_text(_settings_text(database, daemons, "one-fleet-test"))
    plugins = Plugins(build_plugin_manager(extra=[_Provider()]))
    settings = load_settings(str(config))

    parser, commands = build_parser(plugins)
    out_dir = tmp_path / "cli"
    args: argparse.Namespace = parser.parse_args(
        ["--config", str(config), "rs", "render", "--out", str(out_dir)]
    )
    args.plugins = plugins
    assert commands[args.command].run(args) == 0
    printed = capsys.readouterr().out
    cli_digests = dict(re.findall(r"^(rs\d): .* digest ([0-9a-f]+)$", printed, re.M))

    runtime = WorkerRuntime(bootstrap(settings, plugins), load_worker_settings(settings))
    fleet = runtime.provisioner.fleet
    assert isinstance(fleet, BirdFleet)
    try:
        with runtime.app.uow_factory() as uow:
            peers, _ = runtime.provisioner.desired_state(uow)
        worker_trees = fleet.render(peers)
        assert sorted(worker_trees) == sorted(cli_digests) == ["rs1", "rs2"]
        assert len(peers) == len(ASNS)
        for name, files in worker_trees.items():
            cli_files = _tree(out_dir / name)
            assert sorted(cli_files) == sorted(files), name
            for rel, data in files.items():
                assert cli_files[rel] == data, f"{name}/{rel} differs"
            assert cli_digests[name] == fleet.digest(files)
            # the configured network's prefixes are the peering LAN on both sides
            assert f"{LAN4}+".encode() in files["bird.conf"], name
    finally:
        fleet.close()
        runtime.app.uow_factory.dispose()  # type: ignore[attr-defined]


def _cli(config: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ZT_", "ZTIX_"))}
    return subprocess.run(
        [sys.executable, "-m", "ztix_core.cli", "--config", str(config), *argv],
        check=False,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


def test_rs_needs_no_zerotier_settings(
    daemons: list[BirdDaemon], database: str, tmp_path: Path
) -> None:
    """No ``zt_provider``, no token, no ``[zerotier]``: the default provider
    (self_hosted_controller) could not be built, and none of these commands builds it."""
    config = tmp_path / "ztix.toml"
    config.write_text(_settings_text(database, daemons, None))
    out_dir = tmp_path / "out"
    render = _cli(config, "rs", "render", "--out", str(out_dir))
    assert render.returncode == 0, render.stdout + render.stderr
    assert f"{len(ASNS)} members" in render.stdout
    assert (out_dir / "rs1" / "bird.conf").is_file()
    check = _cli(config, "rs", "check")
    # the daemons run a hand-made config: drift (exit 1), never a settings error (2)
    assert check.returncode == 1, check.stdout + check.stderr
    assert "rs1: DRIFT" in check.stdout
    status = _cli(config, "rs", "status")
    assert status.returncode == 0, status.stdout + status.stderr
    assert "unreachable" not in status.stdout
    # the worker does need the provider: the same file refuses it, naming the setting
    worker = bootstrap_error(config)
    assert "zerotier" in worker.lower() or "zt_" in worker.lower(), worker


def bootstrap_error(config: Path) -> str:
    """What bootstrap with a controller says about the same settings file."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ZT_", "ZTIX_"))}
    code = (
        "import sys\n"
        "from ztix_core.bootstrap import bootstrap\n"
        "from ztix_core.errors import ZtixError\n"
        "from ztix_core.plugins import Plugins, build_plugin_manager\n"
        "from ztix_core.settings import load_settings\n"
        "try:\n"
        f"    bootstrap(load_settings({str(config)!r}), Plugins(build_plugin_manager()))\n"
        "except ZtixError as exc:\n"
        "    print(exc)\n"
        "else:\n"
        "    print('built')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        check=False,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()
