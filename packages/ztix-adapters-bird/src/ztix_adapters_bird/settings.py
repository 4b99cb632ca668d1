"""Settings of the BIRD route-server fleet (TOML section ``[bird]``).

```toml
[bird]
retry_for_s = 180            # transient failures (restarts, dropped connections) are retried

[[bird.servers]]
name = "rs1"
asn = 64999
router_id = "10.0.0.1"
ipv4 = "10.0.0.1"
ipv6 = "fd00::1"
[bird.servers.ssh]
host = "127.0.0.1"
port = 22
user = "ztix"
private_key = "/etc/ztix/id_ed25519"
known_hosts = "/etc/ztix/known_hosts"
[bird.servers.paths]
config_dir = "/etc/bird/ztix"
```
"""

from __future__ import annotations

import ipaddress

import attrs

from ztix_adapters_bird.policy import TRANSIT_FREE_ASNS
from ztix_core.errors import InvalidValue
from ztix_core.values import Asn


@attrs.frozen
class SshTarget:
    """How to reach a route server over SSH. Host keys are pinned in ``known_hosts``."""

    #: The route server's SSH address.
    host: str
    #: The route server's SSH port.
    port: int = 22
    #: The SSH user; it owns ``paths.config_dir`` and may run ``birdc`` (see docs/route-
    #: servers.md).
    user: str = "ztix"
    #: The private key file ztix signs in with (key-only; no passwords).
    private_key: str = ""
    #: A known_hosts file pinning the server's host key (required: unknown hosts are refused).
    known_hosts: str = ""
    #: Seconds to wait for the SSH connection.
    connect_timeout_s: float = 10.0
    #: Seconds one remote command may take.
    command_timeout_s: float = 60.0


@attrs.frozen
class RemotePaths:
    """Where things live on the route server."""

    #: The directory ztix owns on the route server (its generated files and manifest).
    config_dir: str = "/etc/bird/ztix"
    #: BIRD's main configuration file, which ztix writes (it includes the generated files).
    main_config: str = "/etc/bird/bird.conf"
    #: The ``bird`` binary on the server (used for ``bird -p`` parse checks).
    bird: str = "/usr/sbin/bird"
    #: The ``birdc`` binary on the server.
    birdc: str = "/usr/sbin/birdc"
    #: BIRD's control socket.
    control_socket: str = "/run/bird/bird.ctl"
    #: Where a new configuration is uploaded and checked before the swap; empty:
    #: ``<config_dir>/.staging``.
    staging_dir: str = ""
    #: BIRD's log file; empty means ``log syslog all``.
    log_file: str = ""


@attrs.frozen
class RpkiSource:
    """RTR servers (``host:port``) or a static VRP file (rpki-client JSON); one of them."""

    #: RPKI-to-Router caches, ``host:port`` each (e.g. a local stayrtr or routinator).
    rtr_servers: tuple[str, ...] = ()
    #: Or: a static VRP file (rpki-client JSON), for labs and offline route servers.
    vrp_file: str = ""


#: Keys of ``[bird.servers.policy]`` that no longer exist, with what replaces each: the
#: settings refuse them with this text rather than letting a knob with no effect stand.
REMOVED_POLICY_KEYS = {
    "default_max_prefix_v4": (
        "default_max_prefix_v4 was removed: a member's IPv4 max-prefix falls back to "
        "`[provisioning] default_max_prefix_v4` (one default for every route server); move "
        "the value there"
    ),
    "default_max_prefix_v6": (
        "default_max_prefix_v6 was removed: a member's IPv6 max-prefix falls back to "
        "`[provisioning] default_max_prefix_v6` (one default for every route server); move "
        "the value there"
    ),
}


def _removed(_instance: object, attribute: attrs.Attribute[int | None], value: int | None) -> None:
    if value is not None:
        raise InvalidValue(attribute.name, REMOVED_POLICY_KEYS[attribute.name])


@attrs.frozen
class PolicyKnobs:
    """Import-policy bounds."""

    #: Shortest IPv4 prefix accepted from a member.
    ipv4_min_len: int = 8
    #: Longest IPv4 prefix accepted from a member (blackhole routes excepted).
    ipv4_max_len: int = 24
    #: Shortest IPv6 prefix accepted from a member.
    ipv6_min_len: int = 16
    #: Longest IPv6 prefix accepted from a member (blackhole routes excepted).
    ipv6_max_len: int = 48
    #: Longest AS path accepted.
    max_as_path_len: int = 64
    # Every member's import limit comes from the core (member setting > ASN override >
    # PeeringDB > ``[provisioning] default_max_prefix_v4/v6``): these two keys only exist
    # to refuse an old config that still sets them, saying what replaced them.
    #: Removed: a member's IPv4 limit falls back to ``[provisioning] default_max_prefix_v4``;
    #: setting it here is refused.
    default_max_prefix_v4: int | None = attrs.field(
        default=None, validator=_removed, repr=False, eq=False
    )
    #: Removed: a member's IPv6 limit falls back to ``[provisioning] default_max_prefix_v6``;
    #: setting it here is refused.
    default_max_prefix_v6: int | None = attrs.field(
        default=None, validator=_removed, repr=False, eq=False
    )
    #: Seconds BIRD waits for ``configure confirm`` before rolling a new configuration back.
    confirm_timeout_s: int = 60
    #: Test-only: accept documentation prefixes/ASNs (labs announce them). Never in production.
    allow_documentation_ranges: bool = False
    #: The exchange's own peering-LAN prefixes: never accepted from a member (nor anything
    #: inside them). Default: the prefixes of the configured networks.
    peering_lan_v4: tuple[ipaddress.IPv4Network, ...] = ()
    #: The IPv6 peering-LAN prefixes, likewise.
    peering_lan_v6: tuple[ipaddress.IPv6Network, ...] = ()
    #: A route whose AS path holds one of these ASNs is rejected, unless the member is one
    #: of them itself; empty turns the check off. Default: the transit-free list arouteserver
    #: ships (``ztix_adapters_bird.policy.TRANSIT_FREE_ASNS``, with names).
    transit_free_asns: tuple[int, ...] = tuple(asn for asn, _name in TRANSIT_FREE_ASNS)
    #: BGP roles (RFC 9234): the route server announces the role ``rs_server``; BIRD then
    #: adds OTC towards members and treats a route a member sends with OTC as withdrawn.
    bgp_roles: bool = True
    #: Strict mode for every member: a session whose member announces no role is refused
    #: (a role other than ``rs_client`` is refused in either mode). Needs ``bgp_roles``.
    bgp_roles_strict: bool = False
    #: Members (ASNs) always in strict mode, whatever ``bgp_roles_strict`` says.
    bgp_roles_strict_asns: tuple[int, ...] = ()
    #: Members (ASNs) never in strict mode, whatever ``bgp_roles_strict`` says.
    bgp_roles_lenient_asns: tuple[int, ...] = ()


@attrs.frozen
class RouteServerSettings:
    """One route server."""

    #: The route server's name (unique; used in file names, pages and audit).
    name: str
    #: The route server's ASN (members peer with it; it does not prepend itself).
    asn: Asn
    #: BIRD's router id.
    router_id: ipaddress.IPv4Address
    #: The route server's IPv4 address on the peering LAN (members' IPv4 sessions go here).
    ipv4: ipaddress.IPv4Address | None = None
    #: The route server's IPv6 address on the peering LAN.
    ipv6: ipaddress.IPv6Address | None = None
    #: How ztix reaches the server: ``ssh`` (``ssh`` table) or ``local`` (the same host, e.g.
    #: the demo).
    transport: str = "ssh"  # "ssh" | "local"
    ssh: SshTarget | None = None
    paths: RemotePaths = RemotePaths()
    rpki: RpkiSource = RpkiSource()
    policy: PolicyKnobs = PolicyKnobs()


@attrs.frozen
class BirdSettings:
    """The whole ``[bird]`` section."""

    servers: tuple[RouteServerSettings, ...] = ()
    #: How long a server's apply is retried after transient failures (the daemon or sshd
    #: restarting, a dropped or refused connection) before it counts as failed; 0: never.
    retry_for_s: float = 180.0
    #: The first pause between attempts; each later one doubles, up to the maximum.
    retry_initial_backoff_s: float = 0.5
    #: The longest pause between two attempts.
    retry_max_backoff_s: float = 10.0
    #: The looking glass reads at most this many filtered routes of a member per server
    #: (the server's count says how many more there are).
    looking_glass_max_routes: int = 200
    #: One server's looking-glass query is ended after this many seconds.
    looking_glass_timeout_s: float = 20.0
