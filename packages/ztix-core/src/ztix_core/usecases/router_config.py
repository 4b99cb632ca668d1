"""The router configuration of an active member: what to paste into their own router.

:class:`RouterConfigQuery` gathers what a member's router needs (its peering-LAN addresses,
the exchange network's prefixes, the max-prefix the route servers apply to it, and a
max-prefix suggestion for its own side: twice the most routes one route server exports to
it, as the worker last observed its sessions, and at least a floor) and asks the fleet's
:class:`~ztix_core.ports.RouterConfigs` for one snippet per router flavour. It reads the
database only: the web serves it without the route servers' SSH key.
"""

from __future__ import annotations

import uuid

import attrs

from ztix_core.errors import Conflict, InvalidValue, NotFound, PermissionDenied
from ztix_core.max_prefix import effective_max_prefix
from ztix_core.ports import (
    ROUTER_FLAVOURS,
    MemberRouter,
    RouterConfigs,
    RouterSnippet,
    UnitOfWork,
    UnitOfWorkFactory,
)
from ztix_core.records import Actor, Membership
from ztix_core.status import RequestStatus
from ztix_core.usecases.oversight import address_family
from ztix_core.usecases.provisioning import ProvisioningSettings

#: The suggestion is this many times the most routes one route server sends today …
SUGGESTION_HEADROOM = 2
#: … and never less than these (a young exchange grows; a pasted limit stays).
SUGGESTION_FLOOR_V4 = 1000
SUGGESTION_FLOOR_V6 = 500

#: What pages say when the fleet writes no snippet.
NO_SNIPPETS = (
    "This exchange has no route servers, so there is nothing to configure for them: "
    "peer bilaterally with the other members."
)


@attrs.frozen
class RouterConfig:
    """An active request's router configuration: the member's facts and one snippet per
    flavour (none when the exchange has no route servers; ``note`` says why)."""

    request_id: uuid.UUID
    member: MemberRouter
    snippets: tuple[RouterSnippet, ...]
    note: str = ""

    def snippet(self, flavour: str) -> RouterSnippet:
        """The snippet of ``flavour``: InvalidValue for an unknown flavour, NotFound when
        the fleet wrote none for it."""
        if flavour not in ROUTER_FLAVOURS:
            raise InvalidValue("flavour", f"{flavour!r} is not one of {', '.join(ROUTER_FLAVOURS)}")
        for snippet in self.snippets:
            if snippet.flavour == flavour:
                return snippet
        raise NotFound(self.note or f"no {flavour} configuration for this request")


def suggested_limit(total: int, floor: int) -> int:
    """``total`` times :data:`SUGGESTION_HEADROOM`, rounded up to a hundred, at least
    ``floor``."""
    wanted = total * SUGGESTION_HEADROOM
    return max(floor, -(-wanted // 100) * 100)


class RouterConfigQuery:
    """The router configuration of one active request, for its owner or an admin."""

    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        configs: RouterConfigs,
        settings: ProvisioningSettings | None = None,
    ) -> None:
        self.uow_factory = uow_factory
        self.configs = configs
        self.settings = settings or ProvisioningSettings()

    def for_request(self, actor: Actor, request_id: uuid.UUID) -> RouterConfig:
        """Snippets for the request's member. NotFound for an unknown request,
        PermissionDenied for another user's, Conflict unless it is active (an active
        request has its addresses and sessions); InvalidValue when the fleet cannot write
        a snippet for this member. Reads only; changes nothing."""
        with self.uow_factory() as uow:
            request = uow.requests.get(request_id)
            if request is None:
                raise NotFound(f"request {request_id} not found")
            if not actor.is_admin and str(request.user_id) != actor.id:
                raise PermissionDenied("this request belongs to another user")
            if request.status is not RequestStatus.ACTIVE:
                raise Conflict(
                    f"router configuration is for active requests; this one is "
                    f"{request.status.value}",
                    request_id=str(request_id),
                    current_status=request.status.value,
                )
            membership = uow.memberships.get_for_request(request_id)
            if membership is None or not membership.authorized:
                raise Conflict("this request's member is not authorized on the network")
            member = self._member(uow, membership)
        snippets = tuple(self.configs.router_snippets(member))
        return RouterConfig(request_id, member, snippets, "" if snippets else NO_SNIPPETS)

    def _member(self, uow: UnitOfWork, own: Membership) -> MemberRouter:
        # A few indexed reads, whatever the member count: the request pages compute this
        # on every view.
        entry = uow.network_facts.get_many([own.asn]).get(own.asn)
        found = effective_max_prefix(
            entry,
            uow.network_facts.overrides([own.asn]).get(own.asn),
            self.settings.default_max_prefix_v4,
            self.settings.default_max_prefix_v6,
        )
        sessions = uow.observations.sessions_for_asn(own.asn)

        def most_sent(family: str) -> int:
            return max(
                (s.exported for s in sessions if address_family(s.protocol) == family),
                default=0,
            )

        network = uow.networks.get(own.network_id)
        name = entry.facts.name if entry is not None and entry.facts is not None else ""
        return MemberRouter(
            asn=own.asn,
            name=name or f"AS{own.asn.value}",
            network_id=own.network_id,
            ipv4=own.ipv4,
            ipv6=own.ipv6,
            lan_v4=network.ipv4_prefix if network is not None else None,
            lan_v6=network.ipv6_prefix if network is not None else None,
            accepted_v4=found.v4,
            accepted_v6=found.v6,
            suggested_v4=suggested_limit(most_sent("IPv4"), SUGGESTION_FLOOR_V4),
            suggested_v6=suggested_limit(most_sent("IPv6"), SUGGESTION_FLOOR_V6),
        )
