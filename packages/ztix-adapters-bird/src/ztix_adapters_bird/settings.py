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

from ztix_core.values import Asn


@attrs.frozen
class SshTarget:
    """How to reach a route server over SSH. Host keys are pinned in ``known_hosts``."""

    host: str
    port: int = 22
    user: str = "ztix"
    private_key: str = ""
    known_hosts: str = ""
    connect_timeout_s: float = 10.0
    command_timeout_s: float = 60.0


@attrs.frozen
class RemotePaths:
    """Where things live on the route server."""

    config_dir: str = "/etc/bird/ztix"
    main_config: str = "/etc/bird/bird.conf"
    bird: str = "/usr/sbin/bird"
    birdc: str = "/usr/sbin/birdc"
    control_socket: str = "/run/bird/bird.ctl"
    staging_dir: str = ""  # default: <config_dir>/.staging
    #: BIRD's log file; empty means ``log syslog all``.
    log_file: str = ""


@attrs.frozen
class RpkiSource:
    """RTR servers (``host:port``) or a static VRP file (rpki-client JSON); one of them."""

    rtr_servers: tuple[str, ...] = ()
    vrp_file: str = ""


@attrs.frozen
class PolicyKnobs:
    """Import-policy bounds."""

    ipv4_min_len: int = 8
    ipv4_max_len: int = 24
    ipv6_min_len: int = 16
    ipv6_max_len: int = 48
    max_as_path_len: int = 64
    default_max_prefix_v4: int = 100
    default_max_prefix_v6: int = 50
    confirm_timeout_s: int = 60
    #: Test-only: accept documentation prefixes/ASNs (labs announce them). Never in production.
    allow_documentation_ranges: bool = False
    #: The exchange's own peering-LAN prefixes: never accepted from a member (nor anything
    #: inside them). Default: the prefixes of the configured networks.
    peering_lan_v4: tuple[ipaddress.IPv4Network, ...] = ()
    peering_lan_v6: tuple[ipaddress.IPv6Network, ...] = ()


@attrs.frozen
class RouteServerSettings:
    """One route server."""

    name: str
    asn: Asn
    router_id: ipaddress.IPv4Address
    ipv4: ipaddress.IPv4Address | None = None
    ipv6: ipaddress.IPv6Address | None = None
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
    retry_max_backoff_s: float = 10.0
    #: The looking glass reads at most this many filtered routes of a member per server
    #: (the server's count says how many more there are).
    looking_glass_max_routes: int = 200
    #: One server's looking-glass query is ended after this many seconds.
    looking_glass_timeout_s: float = 20.0
