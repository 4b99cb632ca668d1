"""End to end: ``ztix member import`` (its ``main``, in this process) on the real lab —
PostgreSQL, the controller emulator, a ``ztix worker`` and two BIRD route servers over
SSH. Twenty existing members, one keeping its addresses and name, go from a CSV file to
established configuration on every running daemon; a row named twice is refused and
writes nothing; a file without its columns changes nothing."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ztix_core.ports import RequestFilter
from ztix_core.status import RequestStatus as S
from ztix_worker.lab import ExchangeLab, node_for

ASNS = list(range(21600, 21620))


def _requests(lab: ExchangeLab) -> dict[int, Any]:
    with lab.app.uow_factory() as uow:
        found = uow.requests.query(RequestFilter(network_id=lab.network_id, limit=1000))
    return {r.asn.value: r for r in found}


def test_an_import_reaches_the_controller_and_every_route_server(
    lab: ExchangeLab, ztix: Any, tmp_path: Path
) -> None:
    lab.worker()
    lab.link(ASNS)
    user = lab.user.username
    rows = [f"{user},AS{asn},{node_for(asn)},,," for asn in ASNS]
    rows[0] = f"{user},AS{ASNS[0]},{node_for(ASNS[0])},10.77.1.60,fd77::60,Kept Networks"
    rows.append(f"{user},{ASNS[1]},{node_for(29999)},,,")  # the ASN a second time
    members = tmp_path / "members.csv"
    members.write_text("user,asn,node_id,ipv4,ipv6,display_name\n" + "\n".join(rows) + "\n")

    bad = tmp_path / "bad.csv"
    bad.write_text("user,asn\noperator,21600\n")
    refused = ztix("member", "import", str(bad), "--network", lab.network_id.value)
    assert refused.returncode == 2 and "missing column node_id" in refused.stderr
    assert _requests(lab) == {}

    ran = ztix("member", "import", str(members), "--network", lab.network_id.value)
    assert ran.returncode == 1, ran
    assert f"line 22: AS{ASNS[1]} {node_for(29999)}: AS{ASNS[1]} appears twice" in ran.stdout
    assert f"imported 20 of 21 members on {lab.network_id.value}; 1 refused" in ran.stdout
    requests = _requests(lab)
    assert sorted(requests) == ASNS  # nothing for the refused row
    rids = [requests[asn].id for asn in ASNS]
    lab.wait_status(rids, S.ACTIVE, timeout=180)
    lab.check_consistent(rids, ASNS)

    kept = lab.member(ASNS[0])
    assert kept is not None and set(kept.ip_assignments) == {"10.77.1.60", "fd77::60"}
    for server in lab.server_names:
        assert set(ASNS) <= lab.peers_on(server)
        session = str(lab.daemons[server].birdc("show", "protocols", "all", f"AS{ASNS[0]}_v4"))
        assert "Kept Networks" in session
        assert re.search(r"Neighbor address:\s+10\.77\.1\.60\b", session)
    trail = lab.actions(rids[0])
    for action in ("request.submitted", "request.approved", "membership.allocated"):
        assert trail.count(action) == 1, trail
    assert trail[-1] == "request.active"
