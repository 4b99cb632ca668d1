"""The ``self_hosted_controller`` provider: a zerotier-one controller's local JSON API
(``X-ZT1-Auth``), the release path. ``docs/zerotier.md`` lists the behaviour it relies on."""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from typing import Any

import httpx

from ztix_adapters_zerotier import members as _members
from ztix_adapters_zerotier import network_spec
from ztix_adapters_zerotier.http_client import ApiClient
from ztix_adapters_zerotier.network_spec import NetworkSpec
from ztix_adapters_zerotier.settings import RetryPolicy, require_url, zerotier_settings
from ztix_adapters_zerotier.token import TOKEN_ENV, TOKEN_FILE_ENV, TokenReload, TokenSource
from ztix_core.errors import ProviderError, SettingsError
from ztix_core.ports import IPAddress, MemberState, NetworkChange, ReadinessReport
from ztix_core.records import ZtNetwork
from ztix_core.settings import NetworkSettings, Settings
from ztix_core.values import NetworkId, NodeId

NAME = "self_hosted_controller"
URL_SETTING = "ZT_CONTROLLER_BASE_URL"
AUTH_REMEDIATION = (
    f"set {TOKEN_FILE_ENV} (it wins over {TOKEN_ENV}) to the controller's authtoken.secret, "
    "then run `ztix controller reload-token --pid <worker pid>` (or restart the worker)"
)
_ADDRESS = re.compile(r"[0-9a-f]{10}")
WHAT = "controller"


class SelfHostedControllerProvider:
    """MembershipProvider over a self-hosted ZeroTier controller.

    ``required_ids`` (``ZT_CONTROLLER_REQUIRED_NETWORK_IDS``) and ``networks`` (the
    configured exchange networks) are what readiness checks and reconciliation enforce.
    """

    name = NAME

    def __init__(
        self,
        base_url: str,
        token: TokenSource,
        *,
        required_ids: Sequence[str] = (),
        networks: Sequence[ZtNetwork | NetworkSettings] = (),
        retry: RetryPolicy | None = None,
        timeout_s: float = 10.0,
        transport: httpx.BaseTransport | None = None,
        sleep: Any = None,
    ) -> None:
        self.token = token
        self.required_ids = network_spec.validate_required_ids(required_ids)
        self.networks = tuple(networks)
        extra: dict[str, Any] = {"sleep": sleep} if sleep is not None else {}
        self.api = ApiClient(
            base_url,
            self._auth_headers,
            what=WHAT,
            auth_remediation=AUTH_REMEDIATION,
            url_setting=URL_SETTING,
            retry=retry,
            timeout_s=timeout_s,
            transport=transport,
            **extra,
        )
        self._address: str | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_settings(
        cls, settings: Settings, *, transport: httpx.BaseTransport | None = None
    ) -> SelfHostedControllerProvider:
        """Build from the settings; SettingsError names a missing URL or token."""
        why = f"when ZT_PROVIDER={NAME}"
        url = require_url(settings.zt_controller_base_url, URL_SETTING, why)
        token = TokenSource.from_settings(settings)
        if token.get() is None:
            raise SettingsError(TOKEN_ENV, f"is required {why} (or set {TOKEN_FILE_ENV})")
        zt = zerotier_settings(settings)
        return cls(
            url,
            token,
            required_ids=settings.zt_controller_required_network_ids,
            networks=settings.networks,
            retry=zt.retry,
            timeout_s=zt.timeout_s,
            transport=transport,
        )

    def __repr__(self) -> str:
        return f"SelfHostedControllerProvider({self.api.base_url!r})"

    def close(self) -> None:
        """Close the HTTP connections."""
        self.api.close()

    def _auth_headers(self) -> dict[str, str]:
        token = self.token.get()
        return {"X-ZT1-Auth": token} if token else {}

    # ------------------------------------------------------------------ controller

    def status(self, *, attempts: int | None = None) -> dict[str, Any]:
        """``GET /status``; caches the controller's address. A 404 means the base URL is
        not a zerotier-one API root: ProviderError(kind="wrong_url") naming the setting."""
        try:
            body = self.api.request("GET", "/status", attempts=attempts)
        except ProviderError as exc:
            if exc.status == 404:
                raise self._wrong_url("/status") from None
            raise
        if not isinstance(body, dict):
            raise _members.bad_response(WHAT, "/status is not an object")
        address = str(body.get("address", "")).lower()
        if not _ADDRESS.fullmatch(address):
            raise _members.bad_response(WHAT, "/status has no 10-hex address")
        with self._lock:
            self._address = address
        return body

    def controller_info(self, *, attempts: int | None = None) -> dict[str, Any]:
        """``GET /controller`` (a 503 means the database is not ready; a 404 that this
        zerotier-one runs no network controller)."""
        try:
            body = self.api.request("GET", "/controller", attempts=attempts)
        except ProviderError as exc:
            if exc.status == 404:
                raise ProviderError(
                    f"{self.api.base_url} answers /status but has no /controller: this "
                    "zerotier-one does not run the network controller",
                    kind="wrong_url",
                    transient=False,
                    status=404,
                    remediation=f"point {URL_SETTING} at the zerotier-one that runs the "
                    "network controller (a build with the controller, which 1.14 has)",
                ) from None
            raise
        if not isinstance(body, dict):
            raise _members.bad_response(WHAT, "/controller is not an object")
        return body

    def _wrong_url(self, path: str) -> ProviderError:
        return ProviderError(
            f"no zerotier-one API at {self.api.base_url}: GET {path} answered 404",
            kind="wrong_url",
            transient=False,
            status=404,
            remediation=f"set {URL_SETTING} to the API root, e.g. http://127.0.0.1:9993 "
            "(no path: zerotier-one serves /status and /controller at the root)",
        )

    def controller_address(self) -> str:
        """This controller's 10-hex node address (the prefix of every network it owns)."""
        with self._lock:
            address = self._address
        if address is None:
            self.status()
            with self._lock:
                address = self._address
        assert address is not None
        return address

    def check_owned(self, network_id: NetworkId) -> None:
        """Refuse a network id under another controller's prefix, before any POST (a POST
        would create it, and such a network can never serve members)."""
        address = self.controller_address()
        if network_id.controller != address:
            raise ProviderError(
                f"network {network_id} belongs to controller {network_id.controller}, not to "
                f"this controller ({address})",
                kind="wrong_controller",
                transient=False,
                remediation=f"use a network id starting with {address} (or a 6-hex suffix in "
                f"{network_spec.REQUIRED_IDS_SETTING}), or point {URL_SETTING} at the "
                "controller that owns this network",
            )

    def list_network_ids(self) -> list[str]:
        """Every network id the controller holds."""
        body = self.api.request("GET", "/controller/network")
        if not isinstance(body, list):
            raise _members.bad_response(WHAT, "/controller/network is not a list")
        return [str(x) for x in body]

    def get_network(self, network_id: NetworkId) -> dict[str, Any] | None:
        """The stored network, or None."""
        body = self.api.request("GET", f"/controller/network/{network_id}", missing_ok=True)
        if body is not None and not isinstance(body, dict):
            raise _members.bad_response(WHAT, "a network is not an object")
        return body

    def reload_token(self) -> TokenReload:
        """Re-read the token from its file or the environment (SettingsError naming the
        setting when it cannot; the old token then stays in use)."""
        return self.token.reload()

    # ------------------------------------------------------------------ networks

    def desired_specs(
        self, networks: Sequence[ZtNetwork | NetworkSettings] = ()
    ) -> tuple[list[NetworkSpec], list[network_spec.Refusal]]:
        """The specs readiness and reconciliation enforce: ``networks`` (e.g. from the
        database), then the configured networks, then the required ids."""
        return network_spec.resolve(
            self.required_ids, [*networks, *self.networks], self.controller_address()
        )

    def ensure_spec(self, spec: NetworkSpec) -> NetworkChange:
        """Create the network if missing and repair drift; read what the controller stored
        and raise ProviderError(kind="mismatch") if it still drifts."""
        self.check_owned(spec.id)
        path = f"/controller/network/{spec.id}"
        stored = self.get_network(spec.id)
        if stored is None:
            result = self.api.request("POST", path, body=network_spec.full_body(spec))
            change = NetworkChange(spec.id, created=True)
        else:
            fix = network_spec.drift(spec, stored)
            if not fix:
                return NetworkChange(spec.id)
            result = self.api.request("POST", path, body=fix)
            change = NetworkChange(spec.id, repaired=tuple(sorted(fix)))
        if not isinstance(result, dict):
            result = self.get_network(spec.id) or {}
        left = network_spec.drift(spec, result)
        if left:
            raise ProviderError(
                f"the controller did not store the settings of network {spec.id}: "
                f"{', '.join(sorted(left))} still differ",
                kind="mismatch",
                transient=False,
                remediation="check the controller version and its logs",
            )
        return change

    def ensure_network(self, network: ZtNetwork) -> NetworkChange:
        """Create the network if missing and repair drift (private, no auto-assign, routes
        for the peering prefixes, name)."""
        return self.ensure_spec(NetworkSpec.from_network(network))

    def check_readiness(self, networks: Sequence[ZtNetwork]) -> ReadinessReport:
        """The readiness gate (see :mod:`ztix_adapters_zerotier.readiness`)."""
        from ztix_adapters_zerotier.readiness import controller_readiness

        return controller_readiness(self, networks)

    # ------------------------------------------------------------------ members

    def _member_path(self, network_id: NetworkId, node_id: NodeId) -> str:
        return f"/controller/network/{network_id}/member/{node_id}"

    def _state(self, body: Any) -> MemberState:
        if not isinstance(body, dict):
            raise _members.bad_response(WHAT, "a member is not an object")
        try:
            ips = body.get("ipAssignments") or []
            return MemberState(
                NetworkId(str(body["nwid"])),
                NodeId(str(body["id"])),
                body.get("authorized") is True,
                tuple(str(a) for a in ips),
                str(body.get("name") or ""),
                body.get("noAutoAssignIps") is True,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise _members.bad_response(WHAT, f"member: {type(exc).__name__}") from None

    def authorize_member(
        self,
        network_id: NetworkId,
        node_id: NodeId,
        ip_assignments: Sequence[IPAddress],
        name: str,
    ) -> MemberState:
        """Authorize with exactly these addresses and ``noAutoAssignIps``; read the member
        back and raise ProviderError(kind="mismatch") when the stored state differs.
        Idempotent: the same call again changes nothing (the revision stays)."""
        ips = _members.check_inputs(ip_assignments, name)
        self.check_owned(network_id)
        path = self._member_path(network_id, node_id)
        body = {"authorized": True, "ipAssignments": ips, "noAutoAssignIps": True, "name": name}
        self.api.request("POST", path, body=body)
        stored = self._state(self.api.request("GET", path))
        sent = MemberState(network_id, node_id, True, tuple(ips), name, True)
        _members.verify(sent, stored, WHAT)
        return stored

    def deauthorize_member(self, network_id: NetworkId, node_id: NodeId) -> None:
        """Deauthorize (addresses are kept, as the controller does); a member or network
        that is already gone is fine — it is never re-created."""
        self.check_owned(network_id)
        path = self._member_path(network_id, node_id)
        if self.api.request("GET", path, missing_ok=True) is None:
            return
        result = self.api.request("POST", path, body={"authorized": False}, missing_ok=True)
        if result is not None and self._state(result).authorized:
            raise ProviderError(
                f"the controller kept member {node_id} on {network_id} authorized",
                kind="mismatch",
                transient=False,
                remediation="check the controller's logs and retry",
            )

    def remove_member(self, network_id: NetworkId, node_id: NodeId) -> None:
        """Delete the member record; already gone is fine."""
        self.check_owned(network_id)
        self.api.request("DELETE", self._member_path(network_id, node_id), missing_ok=True)

    def read_member(self, network_id: NetworkId, node_id: NodeId) -> MemberState | None:
        """The stored member, or None when unknown (or its network is)."""
        body = self.api.request("GET", self._member_path(network_id, node_id), missing_ok=True)
        return None if body is None else self._state(body)

    def list_members(self, network_id: NetworkId) -> list[MemberState]:
        """Every member of the network, by node id; ProviderError(not_found) for an
        unknown network. One call through ``/unstable/…/member`` when the controller has
        it (1.14 does), else the member index and one GET per member."""
        bulk = self.api.request(
            "GET", f"/unstable/controller/network/{network_id}/member", missing_ok=True
        )
        if isinstance(bulk, dict) and isinstance(bulk.get("data"), list):
            states = [self._state(m) for m in bulk["data"]]
            return sorted(states, key=lambda m: m.node_id)
        index = self.api.request("GET", f"/controller/network/{network_id}/member")
        if not isinstance(index, dict):
            raise _members.bad_response(WHAT, "the member index is not an object")
        out = []
        for member_id in sorted(index):
            try:
                node = NodeId(member_id)
            except ValueError:
                continue
            state = self.read_member(network_id, node)
            if state is not None:
                out.append(state)
        return out
