"""Read models the pages need beyond the core's queries: the onboarding choices and the
per-route-server view of one request. Read-only, through the unit of work's ports."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import attrs

from ztix_core.asns import join_refusal
from ztix_core.bootstrap import App
from ztix_core.ports import UnitOfWork
from ztix_core.records import Membership, RouteServerState, User, ZtNetwork
from ztix_core.settings import Settings
from ztix_core.status import RequestStatus
from ztix_core.values import Asn
from ztix_web.extensions import INELIGIBLE_KEY

#: While a request is in one of these, its page asks for news (HTMX polling).
MOVING = frozenset(
    {
        RequestStatus.PENDING,
        RequestStatus.APPROVED,
        RequestStatus.PROVISIONING,
        RequestStatus.DEPROVISIONING,
    }
)


#: A request in one of these has (or is getting, or is losing) BGP sessions to show.
WITH_SESSIONS = frozenset(
    {
        RequestStatus.PROVISIONING,
        RequestStatus.ACTIVE,
        RequestStatus.FAILED,
        RequestStatus.DEPROVISIONING,
    }
)
#: The worker's default ``observe_interval_s``.
OBSERVE_DEFAULT_S = 30.0


def observe_interval_s(settings: Settings, environ: Mapping[str, str] | None = None) -> float:
    """How often the worker records sessions and readiness: ``ZTIX_WORKER_OBSERVE_INTERVAL_S``,
    else ``[worker] observe_interval_s``, else its default. Only the pages' notes use it, so
    a value the worker would refuse falls back to the default here (the web runs without
    the worker's package and reads the raw setting)."""
    env = os.environ if environ is None else environ
    raw = env.get("ZTIX_WORKER_OBSERVE_INTERVAL_S")
    if raw is None:
        raw = settings.sections.get("worker", {}).get("observe_interval_s")
    try:
        value = float(raw) if raw is not None else OBSERVE_DEFAULT_S
    except (TypeError, ValueError):
        return OBSERVE_DEFAULT_S
    return value if value > 0 else OBSERVE_DEFAULT_S


@attrs.frozen
class AsnChoice:
    """An ASN linked to the user; ``refusal`` says why it may not join (None: it may)."""

    asn: Asn
    name: str | None
    refusal: str | None


@attrs.frozen
class Choices:
    """What the onboarding form offers the user."""

    asns: tuple[AsnChoice, ...]
    networks: tuple[ZtNetwork, ...]

    @property
    def eligible(self) -> tuple[AsnChoice, ...]:
        """The ASNs that may join."""
        return tuple(c for c in self.asns if c.refusal is None)

    @property
    def ineligible(self) -> tuple[AsnChoice, ...]:
        """The ASNs that may not join, each with its reason."""
        return tuple(c for c in self.asns if c.refusal is not None)


def choices(core: App, user: User, session_data: Mapping[str, Any] | None = None) -> Choices:
    """The user's ASNs (with reasons for those that may not join) and the open exchange
    networks the user may use (all, unless the account is restricted to some). The ASNs a
    sign-in method saw but did not link (session data, see
    :data:`ztix_web.extensions.INELIGIBLE_KEY`) are listed too, with its reasons."""
    with core.uow_factory() as uow:
        links = uow.asn_links.list_for_user(user.id)
        allowed = {a.network_id for a in uow.network_access.list_for_user(user.id)}
        networks = tuple(
            n for n in uow.networks.list() if not n.retired and (not allowed or n.id in allowed)
        )
    allow_doc = core.settings.allow_documentation_asns
    asns = tuple(
        AsnChoice(
            lk.asn, lk.network_name, join_refusal(lk.asn.value, allow_documentation=allow_doc)
        )
        for lk in links
    )
    linked = {c.asn for c in asns}
    for item in (session_data or {}).get(INELIGIBLE_KEY) or []:
        try:
            asn = Asn.parse(item["asn"])
        except (KeyError, TypeError, ValueError):
            continue
        if asn not in linked:
            asns += (AsnChoice(asn, item.get("name") or None, str(item.get("reason", ""))),)
    return Choices(asns, networks)


@attrs.frozen
class ServerView:
    """One route server as a request's page shows it."""

    name: str
    state: str
    applied_generation: int
    desired_generation: int
    last_error: str | None


def server_views(states: list[RouteServerState], membership: Membership | None) -> list[ServerView]:
    """Per route server: has it applied the generation that configures this member?"""
    views = []
    for st in states:
        if membership is None or membership.config_generation is None:
            state = "not yet configured"
        elif st.applied_generation >= membership.config_generation:
            state = "applied"
        elif st.last_error:
            state = "failing"
        else:
            state = "waiting"
        views.append(
            ServerView(st.name, state, st.applied_generation, st.desired_generation, st.last_error)
        )
    return views


def network_names(core: App) -> dict[str, ZtNetwork]:
    """Every exchange network by id (for labels)."""
    with core.uow_factory() as uow:
        return networks_by_id(uow)


def networks_by_id(uow: UnitOfWork) -> dict[str, ZtNetwork]:
    """:func:`network_names` within a unit of work the caller has open."""
    return {n.id.value: n for n in uow.networks.list()}
