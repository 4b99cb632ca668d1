"""The composition root: settings + plugins → adapters → use cases.

Web and worker call :func:`bootstrap` and nothing else to get their wiring.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import attrs

from ztix_core.errors import ProviderError, SettingsError
from ztix_core.memory.clock import SystemClock
from ztix_core.plugins import Plugins
from ztix_core.policies.base import ApprovalPolicy
from ztix_core.ports import (
    Clock,
    IPAddress,
    MemberRouter,
    MembershipProvider,
    MemberState,
    NetworkChange,
    NetworkRegistry,
    ReadinessReport,
    RouterConfigs,
    RouterSnippet,
    RouteServerFleet,
    UnitOfWorkFactory,
)
from ztix_core.records import RouteServer, ZtNetwork
from ztix_core.settings import Settings
from ztix_core.usecases import (
    MemberSettings,
    Provisioner,
    RegistryFacts,
    RequestQueries,
    RequestWorkflow,
)
from ztix_core.usecases.router_config import RouterConfigQuery
from ztix_core.values import NetworkId, NodeId


@attrs.frozen
class App:
    """Everything a composition root needs, wired."""

    settings: Settings
    uow_factory: UnitOfWorkFactory
    clock: Clock
    policy: ApprovalPolicy
    registry: NetworkRegistry
    workflow: RequestWorkflow
    queries: RequestQueries
    provider: MembershipProvider | None = None
    fleet: RouteServerFleet | None = None
    provisioner: Provisioner | None = None
    #: PeeringDB facts through the cache: lookups, the refresh, max-prefix overrides
    facts: RegistryFacts = attrs.field(
        default=attrs.Factory(
            lambda self: RegistryFacts(
                self.uow_factory, self.clock, self.registry, self.settings.provisioning
            ),
            takes_self=True,
        )
    )
    #: admins' per-member settings (display name, max-prefix, fixed addresses)
    members: MemberSettings = attrs.field(
        default=attrs.Factory(
            lambda self: MemberSettings(self.uow_factory, self.clock), takes_self=True
        )
    )
    #: Members' router snippets (reads the database and the settings only)
    router_config: RouterConfigQuery = attrs.field(
        default=attrs.Factory(
            lambda self: RouterConfigQuery(
                self.uow_factory,
                NoRouterConfigs("this app was wired without bootstrap(): no router snippets"),
                self.settings.provisioning,
            ),
            takes_self=True,
        )
    )


@attrs.frozen
class NoRouterConfigs:
    """A :class:`RouterConfigs` that cannot write snippets; every call says why."""

    reason: str
    setting: str = "ZTIX_ROUTE_SERVER_FLEET"

    def router_snippets(self, member: MemberRouter) -> Sequence[RouterSnippet]:
        """Raises SettingsError naming the setting, with the reason."""
        raise SettingsError(self.setting, self.reason)


def router_configs(settings: Settings, plugins: Plugins) -> RouterConfigs:
    """The selected fleet's :class:`RouterConfigs`, built from the settings alone (its
    registration's ``router_configs``). Never raises: a fleet that is not installed here
    or writes no snippets gives one that says so when asked."""
    name = settings.route_server_fleet
    try:
        reg = plugins.select("route_server_fleets", name, "ZTIX_ROUTE_SERVER_FLEET")
    except SettingsError as exc:
        return _unavailable(exc)
    if reg.router_configs is None:
        return NoRouterConfigs(f"the route-server fleet {name!r} writes no router configuration")
    try:
        configs: RouterConfigs = reg.router_configs(settings)
    except SettingsError as exc:
        return _unavailable(exc)
    return configs


def _unavailable(exc: SettingsError) -> NoRouterConfigs:
    setting = str(exc.details.get("setting", "")) or "ZTIX_ROUTE_SERVER_FLEET"
    return NoRouterConfigs(exc.message.removeprefix(f"setting {setting}: "), setting)


def configured_networks(settings: Settings) -> list[ZtNetwork]:
    """The exchange networks named in the settings, as records."""
    return [
        ZtNetwork(n.id, n.name, n.ipv4_prefix, n.ipv6_prefix, n.description)
        for n in settings.networks
    ]


def build_route_server_fleet(settings: Settings, plugins: Plugins) -> RouteServerFleet:
    """The route-server fleet the settings name (``route_server_fleet``), built by the
    plugin that registered it.

    The one place a fleet is built: :func:`bootstrap` (so the worker) and ``ztix rs``
    both call it, so the same settings give the same servers, the same policy (the
    peering LANs filled in) and the same refusal of a fleet with no server. A name no
    installed plugin registered raises SettingsError naming ``ZTIX_ROUTE_SERVER_FLEET``.
    """
    fleet: RouteServerFleet = plugins.select(
        "route_server_fleets", settings.route_server_fleet, "ZTIX_ROUTE_SERVER_FLEET"
    ).factory(settings)
    return fleet


class NoController:
    """The membership provider of a process that never talks to the controller (``ztix
    rs``: it reads the members from storage and works on the route servers only). Every
    call raises ProviderError; nothing reads the ``[zerotier]`` settings."""

    name = "none"

    def _refuse(self) -> ProviderError:
        return ProviderError(
            "this command was built without a ZeroTier provider: it never talks to the controller",
            kind="not_configured",
            transient=False,
            remediation="use the worker or `ztix controller` for controller work",
        )

    def check_readiness(self, networks: Sequence[ZtNetwork]) -> ReadinessReport:
        raise self._refuse()

    def ensure_network(self, network: ZtNetwork) -> NetworkChange:
        raise self._refuse()

    def authorize_member(
        self,
        network_id: NetworkId,
        node_id: NodeId,
        ip_assignments: Sequence[IPAddress],
        name: str,
    ) -> MemberState:
        raise self._refuse()

    def deauthorize_member(self, network_id: NetworkId, node_id: NodeId) -> None:
        raise self._refuse()

    def remove_member(self, network_id: NetworkId, node_id: NodeId) -> None:
        raise self._refuse()

    def read_member(self, network_id: NetworkId, node_id: NodeId) -> MemberState | None:
        raise self._refuse()

    def list_members(self, network_id: NetworkId) -> list[MemberState]:
        raise self._refuse()


def bootstrap(
    settings: Settings,
    plugins: Plugins,
    *,
    clock: Clock | None = None,
    with_provisioning: bool = True,
    with_controller: bool = True,
) -> App:
    """Build the adapters the settings name and the use cases over them.

    ``with_provisioning=False`` skips provider and fleet (the web process needs neither).
    ``with_controller=False`` builds the fleet and a provisioner over it but no provider
    (``App.provider`` is None; the provisioner's is :class:`NoController`): for commands
    that read the desired route-server state and never talk to ZeroTier, so they need no
    ``[zerotier]`` settings. A setting that names no installed plugin raises
    SettingsError naming it.
    """
    clock = clock or SystemClock()
    uow_factory: UnitOfWorkFactory = plugins.select(
        "storage_backends", settings.storage, "ZTIX_STORAGE"
    ).factory(settings)
    policy: ApprovalPolicy = plugins.select(
        "approval_policies", settings.approval_policy, "ZTIX_APPROVAL_POLICY"
    ).factory(settings)
    registry: NetworkRegistry = plugins.select(
        "network_registries", settings.network_registry, "ZTIX_NETWORK_REGISTRY"
    ).factory(settings)
    facts = RegistryFacts(uow_factory, clock, registry, settings.provisioning)
    workflow = RequestWorkflow(
        uow_factory,
        clock,
        policy,
        registry,
        allow_documentation_asns=settings.allow_documentation_asns,
        facts=facts,
    )
    queries = RequestQueries(
        uow_factory, clock, allow_documentation_asns=settings.allow_documentation_asns
    )
    router_config = RouterConfigQuery(
        uow_factory, router_configs(settings, plugins), settings.provisioning
    )
    if not with_provisioning:
        members = MemberSettings(
            uow_factory,
            clock,
            _route_servers_of(settings, plugins),
            allow_documentation_asns=settings.allow_documentation_asns,
        )
        return App(
            settings,
            uow_factory,
            clock,
            policy,
            registry,
            workflow,
            queries,
            facts=facts,
            router_config=router_config,
            members=members,
        )
    provider: MembershipProvider | None = None
    if with_controller:
        provider = plugins.select(
            "membership_providers", settings.zt_provider, "ZT_PROVIDER"
        ).factory(settings)
    fleet = build_route_server_fleet(settings, plugins)
    provisioner = Provisioner(
        uow_factory,
        clock,
        provider if provider is not None else NoController(),
        fleet,
        registry,
        settings.provisioning,
    )
    return App(
        settings,
        uow_factory,
        clock,
        policy,
        registry,
        workflow,
        queries,
        provider,
        fleet,
        provisioner,
        facts=facts,
        router_config=router_config,
        members=MemberSettings(
            uow_factory,
            clock,
            fleet.servers,
            allow_documentation_asns=settings.allow_documentation_asns,
        ),
    )


def _route_servers_of(settings: Settings, plugins: Plugins) -> Callable[[], Sequence[RouteServer]]:
    """The configured route servers, read when first needed (their addresses are reserved
    on the peering LAN) from a fleet built for that and closed at once: building a fleet
    opens no connection, and a process without provisioning (the web) keeps none."""
    found: list[RouteServer] = []
    loaded = False

    def servers() -> Sequence[RouteServer]:
        nonlocal loaded
        if not loaded:
            fleet = build_route_server_fleet(settings, plugins)
            try:
                found.extend(fleet.servers())
            finally:
                close = getattr(fleet, "close", None)
                if callable(close):
                    close()
            loaded = True
        return found

    return servers
