"""Exchange networks: the settings are the source of truth; the database follows them.

Every composition root that writes (the worker, ``ztix db upgrade``, ``ztix controller
reconcile``) calls :func:`sync_networks` at start-up: networks in the settings are created
or updated, networks no longer in the settings are retired (kept for their history, closed
to new requests). A change that would strand members is refused, with nothing written:
retiring a network that members still hold, or moving a prefix away from addresses in use.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

import attrs

from ztix_core.errors import Conflict
from ztix_core.ports import Clock, RequestFilter, UnitOfWork, UnitOfWorkFactory
from ztix_core.records import Actor, JsonDict, ZtNetwork
from ztix_core.status import LIVE_STATUSES, RequestStatus
from ztix_core.usecases._common import audit

SETTINGS = Actor.system("settings")
#: Statuses whose request may hold addresses and a controller member on its network.
_HOLDING = LIVE_STATUSES | {RequestStatus.FAILED, RequestStatus.DEPROVISIONING}


@attrs.frozen
class NetworkSync:
    """What one synchronisation changed, by network id."""

    created: tuple[str, ...] = ()
    updated: tuple[str, ...] = ()
    retired: tuple[str, ...] = ()

    @property
    def changed(self) -> bool:
        """True when anything was written."""
        return bool(self.created or self.updated or self.retired)

    def lines(self) -> list[str]:
        """One line per change, for a CLI or a log."""
        return [
            f"network {net_id} {verb} from the settings"
            for verb, ids in (
                ("created", self.created),
                ("updated", self.updated),
                ("retired", self.retired),
            )
            for net_id in ids
        ]


def _describe(network: ZtNetwork) -> JsonDict:
    return {
        "name": network.name,
        "ipv4_prefix": str(network.ipv4_prefix),
        "ipv6_prefix": str(network.ipv6_prefix),
        "description": network.description,
        "retired": network.retired,
    }


def _holders(uow: UnitOfWork, network: ZtNetwork) -> list[str]:
    held = uow.requests.query(
        RequestFilter(statuses=frozenset(_HOLDING), network_id=network.id, limit=5)
    )
    return [f"{r.id} (AS{r.asn.value}, {r.status.value})" for r in held]


def _stranded(uow: UnitOfWork, old: ZtNetwork, new: ZtNetwork) -> list[str]:
    """Members whose addresses the new prefixes would no longer contain."""
    if (old.ipv4_prefix, old.ipv6_prefix) == (new.ipv4_prefix, new.ipv6_prefix):
        return []
    out = []
    for m in uow.memberships.list():
        if m.network_id != new.id:
            continue
        for addr in (m.ipv4, m.ipv6):
            prefix: ipaddress.IPv4Network | ipaddress.IPv6Network = (
                new.ipv4_prefix if addr.version == 4 else new.ipv6_prefix
            )
            if addr not in prefix:
                out.append(f"{addr} (AS{m.asn.value})")
    return out


def sync_networks(
    uow_factory: UnitOfWorkFactory, clock: Clock, configured: Sequence[ZtNetwork]
) -> NetworkSync:
    """Make the stored exchange networks match ``configured`` in one unit of work, each
    change audited (actor ``system:settings``).

    Raises Conflict, writing nothing, when a network that members still hold (live,
    failed or leaving requests) left the settings, or when new prefixes would no longer
    contain addresses in use. An empty ``configured`` changes nothing: a deployment that
    manages networks in the database only keeps working.
    """
    if not configured:
        return NetworkSync()
    wanted = {n.id: attrs.evolve(n, retired=False) for n in configured}
    created: list[str] = []
    updated: list[str] = []
    retired: list[str] = []
    with uow_factory() as uow:
        now = clock.now()
        stored = {n.id: n for n in uow.networks.list()}
        for net_id, network in sorted(wanted.items()):
            old = stored.get(net_id)
            if old is None:
                uow.networks.add(network)
                audit(
                    uow,
                    now,
                    SETTINGS,
                    "network.created",
                    "network",
                    net_id.value,
                    _describe(network),
                )
                created.append(net_id.value)
            elif old != network:
                stranded = _stranded(uow, old, network)
                if stranded:
                    raise Conflict(
                        f"network {net_id}: the new prefixes {network.ipv4_prefix} / "
                        f"{network.ipv6_prefix} leave members' addresses outside them "
                        f"({', '.join(stranded[:5])}); have those members leave first or "
                        "keep the old prefixes",
                        network_id=net_id.value,
                    )
                uow.networks.update(network)
                audit(
                    uow,
                    now,
                    SETTINGS,
                    "network.updated",
                    "network",
                    net_id.value,
                    {"before": _describe(old), "after": _describe(network)},
                )
                updated.append(net_id.value)
        for net_id, old in sorted(stored.items()):
            if net_id in wanted or old.retired:
                continue
            holders = _holders(uow, old)
            if holders:
                raise Conflict(
                    f"network {net_id} is no longer in the settings ([[networks]]) but "
                    f"members still hold it: requests {', '.join(holders)}; have them leave "
                    "first, or put the network back in the settings",
                    network_id=net_id.value,
                )
            uow.networks.update(attrs.evolve(old, retired=True))
            audit(uow, now, SETTINGS, "network.retired", "network", net_id.value, _describe(old))
            retired.append(net_id.value)
        uow.commit()
    return NetworkSync(tuple(created), tuple(updated), tuple(retired))
