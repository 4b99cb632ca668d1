"""End to end: an admin's per-member settings through the ``ztix`` command (its ``main``,
in this process: a subprocess would spend its time importing), the real worker, the
controller emulator and two BIRD route servers over SSH — approval with fixed addresses,
then a display name, max-prefix limits and a moved address reaching every running daemon
and the controller. Bad input at the command line changes nothing."""

from __future__ import annotations

import re
import uuid
from typing import Any

from ztix_core.status import RequestStatus as S
from ztix_worker.lab import ExchangeLab
from ztix_worker.testing import wait_for

ASN = 21500


def session(lab: ExchangeLab, server: str, family: int) -> str:
    return str(lab.daemons[server].birdc("show", "protocols", "all", f"AS{ASN}_v{family}"))


def test_member_settings_reach_the_controller_and_every_route_server(
    lab: ExchangeLab, ztix: Any
) -> None:
    lab.worker()
    rid: uuid.UUID = lab.submit(ASN)
    refused = ztix("request", "approve", str(rid), "--ipv4", "10.77.0.1")
    assert refused.returncode == 2
    assert "10.77.0.1 is route server rs1's own address (reserved)" in refused.stderr
    assert lab.request(rid).status is S.PENDING

    done = ztix("request", "approve", str(rid), "--ipv4", "10.77.1.50", "--ipv6", "fd77::50")
    assert done.returncode == 0, done.stderr
    lab.wait_status([rid], S.ACTIVE, timeout=90)
    member = lab.member(ASN)
    assert member is not None and set(member.ip_assignments) == {"10.77.1.50", "fd77::50"}

    node = lab.request(rid).node_id.value
    bad = ztix("member", "set", f"AS{ASN}", node, "--max-prefix-v4", "0")
    assert bad.returncode == 2 and "max_prefix_v4: must be 1-10000000, got 0" in bad.stderr

    changed = ztix(
        "member",
        "set",
        str(rid),
        "--display-name",
        "E2E Networks",
        "--max-prefix-v4",
        "4321",
        "--max-prefix-v6",
        "765",
    )
    assert changed.returncode == 0, changed.stderr

    def configured() -> bool:
        for server in lab.server_names:
            v4, v6 = session(lab, server, 4), session(lab, server, 6)
            if not ("E2E Networks" in v4 and re.search(r"Import limit:\s+4321", v4)):
                return False
            if not re.search(r"Import limit:\s+765", v6):
                return False
        return True

    wait_for(configured, timeout=90, what="the name and limits on every route server")

    moved = ztix("member", "set", str(rid), "--ipv4", "10.77.1.51")
    assert moved.returncode == 0, moved.stderr

    def readdressed() -> bool:
        current = lab.member(ASN)
        on_controller = current is not None and "10.77.1.51" in current.ip_assignments
        on_servers = all(
            re.search(r"Neighbor address:\s+10\.77\.1\.51\b", session(lab, s, 4))
            for s in lab.server_names
        )
        return on_controller and on_servers

    wait_for(readdressed, timeout=90, what="the new address on the controller and the servers")
    assert "membership.readdressed" in lab.actions(rid)
    assert lab.request(rid).status is S.ACTIVE
