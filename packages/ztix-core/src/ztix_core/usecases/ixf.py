"""The exchange's member list in the Euro-IX IX-F Member Export schema 1.0: what PeeringDB
imports and route-server tools read (``participants.json``).

The exchange's identity comes from the ``[exchange]`` settings table; each exchange network
is one VLAN (numbered from 1 in network-id order), and each *active* member is one
``connection_list`` entry with its peering-LAN addresses, route-server peering and the
max-prefix the route servers apply (PeeringDB's, else the provisioning defaults), plus its
IRR as-set as ``as_macro`` when PeeringDB has one.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import attrs

from ztix_core.errors import SettingsError
from ztix_core.max_prefix import effective_max_prefix
from ztix_core.ports import Clock, UnitOfWorkFactory
from ztix_core.status import RequestStatus
from ztix_core.usecases.provisioning import ProvisioningSettings

IXF_VERSION = "1.0"
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _url(field: str, value: str | None) -> None:
    if value is not None and not re.match(r"^https?://[^\s/]+(/\S*)?$", value):
        raise SettingsError(f"exchange.{field}", f"{value!r} is not an http(s) URL")


@attrs.frozen
class ExchangeSettings:
    """The ``[exchange]`` table: who the exchange is, for the IX-F export."""

    #: Short name, as PeeringDB shows it.
    shortname: str = "ztix"
    #: The exchange's full name.
    name: str = "ztix virtual Internet Exchange"
    #: The exchange's id in the IX-F database (0 until it has one).
    ixf_id: int = 0
    #: The exchange's own number for itself in the export (``ixp_id``).
    ixp_id: int = 1
    #: ISO 3166 alpha-2 country code (``ZZ``: none).
    country: str = "ZZ"
    #: The exchange's web site.
    url: str | None = None
    #: The exchange's PeeringDB ``ix`` id.
    peeringdb_id: int | None = None
    #: Where members write for help.
    support_email: str | None = None
    #: Where members write in an emergency (a NOC).
    emergency_email: str | None = None
    #: The exchange's peering policy words (``peering_policy_list``).
    peering_policy_list: tuple[str, ...] = ("open",)

    def __attrs_post_init__(self) -> None:
        if not 1 <= len(self.shortname) <= 100:
            raise SettingsError("exchange.shortname", "1 to 100 characters")
        if not 1 <= len(self.name) <= 200:
            raise SettingsError("exchange.name", "1 to 200 characters")
        if self.ixf_id < 0:
            raise SettingsError("exchange.ixf_id", "must be 0 or more")
        if self.ixp_id < 1:
            raise SettingsError("exchange.ixp_id", "must be at least 1")
        if self.peeringdb_id is not None and self.peeringdb_id < 1:
            raise SettingsError("exchange.peeringdb_id", "must be at least 1")
        if not re.fullmatch(r"[A-Z]{2}", self.country):
            raise SettingsError("exchange.country", "two capital letters (ISO 3166), e.g. DE")
        _url("url", self.url)
        for field in ("support_email", "emergency_email"):
            value = getattr(self, field)
            if value is not None and not _EMAIL.match(value):
                raise SettingsError(f"exchange.{field}", f"{value!r} is not an e-mail address")


def _iso(at: dt.datetime) -> str:
    return at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class IxfExport:
    """Builds the member export. Public: anyone may read an exchange's member list."""

    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        clock: Clock,
        exchange: ExchangeSettings,
        provisioning: ProvisioningSettings,
    ) -> None:
        self.uow_factory = uow_factory
        self.clock = clock
        self.exchange = exchange
        self.provisioning = provisioning

    def last_change(self) -> dt.datetime | None:
        """When the member list last may have changed (any request's last move): one
        indexed read, so a cache can tell it is still current."""
        with self.uow_factory() as uow:
            return uow.requests.last_change()

    def document(self) -> tuple[dict[str, Any], dt.datetime | None]:
        """The export and the last change it reflects (its ``timestamp``; now when there
        has never been a request)."""
        with self.uow_factory() as uow:
            changed = uow.requests.last_change()
            networks = sorted(uow.networks.list(), key=lambda n: n.id.value)
            memberships = uow.memberships.list()
            requests = uow.requests.get_many([m.request_id for m in memberships])
            asns = {m.asn for m in memberships}
            cached = uow.network_facts.get_many(asns) if asns else {}
            overrides = uow.network_facts.overrides(asns) if asns else {}
            own = uow.member_facts.get_many(list(requests)) if requests else {}
        vlan_of = {n.id: i + 1 for i, n in enumerate(networks)}
        ex = self.exchange
        ixp: dict[str, Any] = {
            "ixp_id": ex.ixp_id,
            "ixf_id": ex.ixf_id,
            "shortname": ex.shortname,
            "name": ex.name,
            "country": ex.country,
            "peering_policy_list": list(ex.peering_policy_list),
            "vlan": [
                {
                    "id": vlan_of[n.id],
                    "name": n.name,
                    "ipv4": {
                        "prefix": str(n.ipv4_prefix.network_address),
                        "mask_length": n.ipv4_prefix.prefixlen,
                    },
                    "ipv6": {
                        "prefix": str(n.ipv6_prefix.network_address),
                        "mask_length": n.ipv6_prefix.prefixlen,
                    },
                }
                for n in networks
            ],
        }
        for key in ("url", "peeringdb_id", "support_email", "emergency_email"):
            if getattr(ex, key) is not None:
                ixp[key] = getattr(ex, key)
        members: dict[int, dict[str, Any]] = {}
        active = [
            (m, requests[m.request_id])
            for m in memberships
            if m.request_id in requests
            and requests[m.request_id].status is RequestStatus.ACTIVE
            and m.network_id in vlan_of
        ]
        active.sort(key=lambda pair: (pair[0].asn.value, pair[0].network_id.value))
        for m, request in active:
            member = members.get(m.asn.value)
            entry = cached.get(m.asn)
            facts = entry.facts if entry is not None else None
            if member is None:
                member = members[m.asn.value] = {
                    "asnum": m.asn.value,
                    "member_type": "peering",
                    "name": facts.name if facts and facts.name else f"AS{m.asn.value}",
                    "connection_list": [],
                }
                if facts is not None and facts.policy_general:
                    member["peering_policy"] = facts.policy_general.lower()
            limit = effective_max_prefix(
                entry,
                overrides.get(m.asn),
                self.provisioning.default_max_prefix_v4,
                self.provisioning.default_max_prefix_v6,
                own.get(m.request_id),
            )
            macro = {"as_macro": facts.irr_as_set} if facts and facts.irr_as_set else {}
            since = request.provisioned_at or request.decided_at or request.requested_at
            member["connection_list"].append(
                {
                    "ixp_id": ex.ixp_id,
                    "state": "active",
                    "connected_since": _iso(since),
                    "if_list": [{"if_type": "zerotier"}],
                    "vlan_list": [
                        {
                            "vlan_id": vlan_of[m.network_id],
                            "ipv4": {
                                "address": str(m.ipv4),
                                "routeserver": True,
                                "max_prefix": limit.v4,
                                **macro,
                            },
                            "ipv6": {
                                "address": str(m.ipv6),
                                "routeserver": True,
                                "max_prefix": limit.v6,
                                **macro,
                            },
                        }
                    ],
                }
            )
        doc = {
            "version": IXF_VERSION,
            "timestamp": _iso(changed or self.clock.now()),
            "ixp_list": [ixp],
            "member_list": list(members.values()),
        }
        return doc, changed
