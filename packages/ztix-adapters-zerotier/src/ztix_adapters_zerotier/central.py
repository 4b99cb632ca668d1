"""The ``central`` provider: ZeroTier Central API v1 (``Authorization: token …``), kept for
compatibility and migration. Central networks are created in Central itself; ztix only
checks them, repairs drift and manages members. 429s are retried honouring
``Retry-After`` / ``X-Ratelimit-Reset``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from ztix_adapters_zerotier import members as _members
from ztix_adapters_zerotier import network_spec
from ztix_adapters_zerotier.http_client import ApiClient
from ztix_adapters_zerotier.network_spec import NetworkSpec
from ztix_adapters_zerotier.settings import RetryPolicy, require_url, zerotier_settings
from ztix_core.errors import ProviderError, SettingsError
from ztix_core.ports import (
    IPAddress,
    MemberState,
    NetworkChange,
    ReadinessCheck,
    ReadinessReport,
)
from ztix_core.records import ZtNetwork
from ztix_core.settings import NetworkSettings, Settings
from ztix_core.values import NetworkId, NodeId

NAME = "central"
TOKEN_SETTING = "ZT_CENTRAL_API_TOKEN"
URL_SETTING = "ZT_CENTRAL_BASE_URL"
AUTH_REMEDIATION = f"set {TOKEN_SETTING} to a valid ZeroTier Central API token"
WHAT = "ZeroTier Central"


class CentralProvider:
    """MembershipProvider over ZeroTier Central (compatibility mode)."""

    name = NAME

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        networks: Sequence[ZtNetwork | NetworkSettings] = (),
        retry: RetryPolicy | None = None,
        timeout_s: float = 10.0,
        transport: httpx.BaseTransport | None = None,
        sleep: Any = None,
    ) -> None:
        self._token = token
        self.networks = tuple(networks)
        extra: dict[str, Any] = {"sleep": sleep} if sleep is not None else {}
        self.api = ApiClient(
            base_url,
            lambda: {"Authorization": f"token {self._token}"},
            what=WHAT,
            auth_remediation=AUTH_REMEDIATION,
            url_setting=URL_SETTING,
            retry=retry,
            timeout_s=timeout_s,
            transport=transport,
            **extra,
        )

    @classmethod
    def from_settings(
        cls, settings: Settings, *, transport: httpx.BaseTransport | None = None
    ) -> CentralProvider:
        """Build from the settings; SettingsError names a missing URL or token."""
        why = f"when ZT_PROVIDER={NAME}"
        url = require_url(settings.zt_central_base_url, URL_SETTING, why)
        token = settings.secret("zt_central_api_token")
        if not token or not token.strip():
            raise SettingsError(TOKEN_SETTING, f"is required {why}")
        zt = zerotier_settings(settings)
        return cls(
            url,
            token.strip(),
            networks=settings.networks,
            retry=zt.retry,
            timeout_s=zt.timeout_s,
            transport=transport,
        )

    def __repr__(self) -> str:
        return f"CentralProvider({self.api.base_url!r})"

    def close(self) -> None:
        """Close the HTTP connections."""
        self.api.close()

    # ------------------------------------------------------------------ networks

    def get_network(self, network_id: NetworkId) -> dict[str, Any] | None:
        """The network as Central stores it, or None."""
        body = self.api.request("GET", f"/network/{network_id}", missing_ok=True)
        if body is not None and not isinstance(body, dict):
            raise _members.bad_response(WHAT, "a network is not an object")
        return body

    @staticmethod
    def _config(body: Mapping[str, Any]) -> Mapping[str, Any]:
        config = body.get("config")
        return config if isinstance(config, Mapping) else {}

    def ensure_network(self, network: ZtNetwork) -> NetworkChange:
        """Repair drift of a network that exists in Central; a missing one is a
        ProviderError(not_found): Central networks are created in Central."""
        spec = NetworkSpec.from_network(network)
        stored = self.get_network(network.id)
        if stored is None:
            raise ProviderError(
                f"network {network.id} does not exist in ZeroTier Central",
                kind="not_found",
                transient=False,
                status=404,
                remediation="create the network in ZeroTier Central and configure its id",
            )
        fix = network_spec.drift(spec, self._config(stored))
        if not fix:
            return NetworkChange(network.id)
        result = self.api.request("POST", f"/network/{network.id}", body={"config": fix})
        if not isinstance(result, dict):
            result = self.get_network(network.id) or {}
        left = network_spec.drift(spec, self._config(result))
        if left:
            raise ProviderError(
                f"ZeroTier Central did not store the settings of network {network.id}: "
                f"{', '.join(sorted(left))} still differ",
                kind="mismatch",
                transient=False,
                remediation="fix the network's settings in ZeroTier Central",
            )
        return NetworkChange(network.id, repaired=tuple(sorted(fix)))

    def check_readiness(self, networks: Sequence[ZtNetwork]) -> ReadinessReport:
        """Token configured and accepted, each network present with the expected settings.
        Never raises for a failed check."""
        checks: list[ReadinessCheck] = []
        wanted: dict[NetworkId, NetworkSpec] = {}
        for net in [*networks, *self.networks]:
            wanted.setdefault(net.id, NetworkSpec.from_network(net))
        if not self._token:
            return ReadinessReport(
                (ReadinessCheck("token_configured", False, "no Central token", AUTH_REMEDIATION),)
            )
        checks.append(ReadinessCheck("token_configured", True))
        try:
            status = self.api.request("GET", "/status")
            if isinstance(status, dict) and "user" in status and status["user"] is None:
                # Central answers /status without a valid token too, with no user
                raise ProviderError(
                    "ZeroTier Central did not accept the token (/status has no user)",
                    kind="auth",
                    transient=False,
                    remediation=AUTH_REMEDIATION,
                )
        except ProviderError as exc:
            auth = exc.kind in ("auth", "forbidden")
            checks.append(
                ReadinessCheck(
                    "central_reachable",
                    auth,
                    "" if auth else exc.message,
                    "" if auth else exc.remediation,
                )
            )
            if auth:
                checks.append(ReadinessCheck("token_accepted", False, exc.message, exc.remediation))
            return ReadinessReport(tuple(checks))
        checks.append(ReadinessCheck("central_reachable", True))
        checks.append(ReadinessCheck("token_accepted", True))
        for spec in wanted.values():
            try:
                stored = self.get_network(spec.id)
            except ProviderError as exc:
                name = f"network_present:{spec.id}"
                checks.append(ReadinessCheck(name, False, exc.message, exc.remediation))
                continue
            if stored is None:
                checks.append(
                    ReadinessCheck(
                        f"network_present:{spec.id}",
                        False,
                        f"network {spec.id} does not exist in ZeroTier Central",
                        "create the network in ZeroTier Central and configure its id",
                    )
                )
                continue
            checks.append(ReadinessCheck(f"network_present:{spec.id}", True))
            fix = network_spec.drift(spec, self._config(stored))
            checks.append(
                ReadinessCheck(
                    f"network_settings:{spec.id}",
                    not fix,
                    f"network {spec.id} drifted: {', '.join(sorted(fix))}" if fix else "",
                    "run `ztix controller reconcile` or fix the network in Central" if fix else "",
                )
            )
        return ReadinessReport(tuple(checks))

    # ------------------------------------------------------------------ members

    def _path(self, network_id: NetworkId, node_id: NodeId) -> str:
        return f"/network/{network_id}/member/{node_id}"

    def _state(self, body: Any) -> MemberState:
        if not isinstance(body, dict):
            raise _members.bad_response(WHAT, "a member is not an object")
        config = self._config(body)
        try:
            ips = config.get("ipAssignments") or []
            return MemberState(
                NetworkId(str(body.get("networkId") or body["id"].split("-")[0])),
                NodeId(str(body.get("nodeId") or body["id"].split("-")[-1])),
                config.get("authorized") is True,
                tuple(str(a) for a in ips),
                str(body.get("name") or ""),
                config.get("noAutoAssignIps") is True,
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise _members.bad_response(WHAT, f"member: {type(exc).__name__}") from None

    def authorize_member(
        self,
        network_id: NetworkId,
        node_id: NodeId,
        ip_assignments: Sequence[IPAddress],
        name: str,
    ) -> MemberState:
        """Authorize with exactly these addresses and ``noAutoAssignIps``; read back and
        raise ProviderError(kind="mismatch") when Central stored something else."""
        ips = _members.check_inputs(ip_assignments, name)
        path = self._path(network_id, node_id)
        body = {
            "name": name,
            "config": {"authorized": True, "ipAssignments": ips, "noAutoAssignIps": True},
        }
        self.api.request("POST", path, body=body)
        stored = self._state(self.api.request("GET", path))
        _members.verify(
            MemberState(network_id, node_id, True, tuple(ips), name, True), stored, WHAT
        )
        return stored

    def deauthorize_member(self, network_id: NetworkId, node_id: NodeId) -> None:
        """Deauthorize; a member that is already gone is fine (never re-created)."""
        path = self._path(network_id, node_id)
        if self.api.request("GET", path, missing_ok=True) is None:
            return
        self.api.request("POST", path, body={"config": {"authorized": False}}, missing_ok=True)

    def remove_member(self, network_id: NetworkId, node_id: NodeId) -> None:
        """Delete the member; already gone is fine."""
        self.api.request("DELETE", self._path(network_id, node_id), missing_ok=True)

    def read_member(self, network_id: NetworkId, node_id: NodeId) -> MemberState | None:
        """The stored member, or None."""
        body = self.api.request("GET", self._path(network_id, node_id), missing_ok=True)
        return None if body is None else self._state(body)

    def list_members(self, network_id: NetworkId) -> list[MemberState]:
        """Every member of the network, by node id."""
        body = self.api.request("GET", f"/network/{network_id}/member")
        if not isinstance(body, list):
            raise _members.bad_response(WHAT, "the member list is not a list")
        return sorted((self._state(m) for m in body), key=lambda m: m.node_id)
