"""The worked example of docs/plugin-authors.md, installed as a separate distribution (the
e2e dependency group) and run: its provider passes the core's contract suite, its settings
table is checked by ``ztix settings``, and both its plugins work through the core."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from ztix_example_plugin.provider import JsonFileProvider

from ztix_core.bootstrap import App, bootstrap
from ztix_core.plugins import Plugins, build_plugin_manager
from ztix_core.ports import MembershipProvider
from ztix_core.records import ZtNetwork
from ztix_core.settings import load_settings
from ztix_core.status import RequestStatus
from ztix_core.testing import builders as b
from ztix_core.testing.provider_contract import *  # noqa: F403 - the contract's tests
from ztix_core.testing.world import ADMIN

NETWORK = b.network(0xC0F)


@pytest.fixture
def provider(tmp_path: Path) -> MembershipProvider:
    return JsonFileProvider(str(tmp_path / "members.json"))


@pytest.fixture
def contract_network() -> ZtNetwork:
    return NETWORK


def _ztix(config: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ztix_core.cli", "--config", str(config), *argv],
        capture_output=True,
        text=True,
        env={**os.environ, "ZTIX_STORAGE": "memory", "ZTIX_ROUTE_SERVER_FLEET": "none"},
        timeout=120,
        check=False,
    )


def test_ztix_settings_checks_the_plugins_table(tmp_path: Path) -> None:
    config = tmp_path / "ztix.toml"
    config.write_text('zt_provider = "json_file"\n[example]\n')
    done = _ztix(config, "settings")
    assert done.returncode == 2
    assert "example.provider_file: required by zt_provider = json_file" in done.stderr
    config.write_text('zt_provider = "json_file"\n[example]\nprovider_fiel = "x"\n')
    assert "provider_fiel" in _ztix(config, "settings").stderr
    config.write_text(
        f'zt_provider = "json_file"\n[example]\nprovider_file = "{tmp_path / "m.json"}"\n'
    )
    done = _ztix(config, "settings")
    assert done.returncode == 0, done.stderr


NODE = "c0ffee0001"


@pytest.fixture
def example_core(tmp_path: Path) -> tuple[App, Path]:
    config = tmp_path / "ztix.toml"
    members = tmp_path / "members.json"
    config.write_text(
        'storage = "memory"\nroute_server_fleet = "none"\napproval_policy = "always_pending"\n'
        'allow_documentation_asns = true\nzt_provider = "json_file"\n'
        f'[example]\nprovider_file = "{members}"\n'
    )
    app = bootstrap(load_settings(config, environ={}), Plugins(build_plugin_manager()))
    assert app.provider is not None
    app.provider.ensure_network(NETWORK)
    return app, members


def test_the_policy_and_the_provider_work_through_the_core(
    example_core: tuple[App, Path],
) -> None:
    app, members = example_core
    operator = b.user("olga")
    with app.uow_factory() as uow:
        uow.networks.add(NETWORK)
        uow.users.add(operator)
        uow.asn_links.add(b.link(operator.id, 64500))
        uow.commit()
    request = app.workflow.submit(operator.id, 64500, NETWORK.id.value, NODE)
    # always_pending never decides: the request waits for an admin
    assert app.policy.name == "always_pending"
    assert request.status is RequestStatus.PENDING
    app.workflow.approve(ADMIN, request.id)
    assert app.provisioner is not None
    assert app.provisioner.provision(request.id) is RequestStatus.ACTIVE
    # the json_file provider holds the member, authorized with its two addresses
    stored = json.loads(members.read_text())["networks"][NETWORK.id.value]["members"]
    assert stored[NODE]["authorized"] and len(stored[NODE]["ip_assignments"]) == 2
