"""Typed errors of the domain. Every refusal says what is wrong and changes nothing."""

from __future__ import annotations

from typing import Any


class ZtixError(Exception):
    """Base of every error ztix raises on purpose."""

    code = "error"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def __str__(self) -> str:
        return self.message


class InvalidValue(ZtixError, ValueError):
    """A value failed validation; ``field`` names it."""

    code = "invalid_value"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}", field=field)
        self.field = field


class NotFound(ZtixError, LookupError):
    """A record the caller named does not exist."""

    code = "not_found"


class PermissionDenied(ZtixError):
    """The actor may not do this."""

    code = "permission_denied"


class NotEligible(ZtixError):
    """The user may not request this ASN or network (eligibility rules)."""

    code = "not_eligible"


class Conflict(ZtixError):
    """The change clashes with the current state; nothing was changed."""

    code = "conflict"


class InvalidTransition(Conflict):
    """A status move the state machine forbids; carries the current status."""

    code = "invalid_transition"

    def __init__(self, request_id: object, current: str, target: str) -> None:
        super().__init__(
            f"request {request_id} is {current}; it cannot move to {target}",
            request_id=str(request_id),
            current_status=current,
            target_status=target,
        )
        self.current_status = current
        self.target_status = target


class DuplicateLiveRequest(Conflict):
    """A live request already exists for this ASN and network; names it."""

    code = "duplicate_live_request"

    def __init__(self, existing_id: object, asn: int, network_id: str) -> None:
        super().__init__(
            f"AS{asn} already has live request {existing_id} on network {network_id}",
            existing_request_id=str(existing_id),
            asn=asn,
            network_id=network_id,
        )
        self.existing_id = existing_id


class IdempotencyKeyReused(Conflict):
    """An ``Idempotency-Key`` came back with a different body than the first time."""

    code = "idempotency_key_reused"

    def __init__(self, key: str, request_id: object) -> None:
        super().__init__(
            f"Idempotency-Key {key!r} was first used with a different body "
            f"(for request {request_id}); use a new key for a new request",
            request_id=str(request_id),
        )


class DuplicateRecord(Conflict):
    """A uniqueness rule was broken (username, membership, address, ...)."""

    code = "duplicate"


class AddressPoolExhausted(ZtixError):
    """No free peering-LAN address is left in a prefix."""

    code = "address_pool_exhausted"


class ProviderError(ZtixError):
    """A membership provider (ZeroTier controller/Central) failed.

    ``transient`` tells the worker whether retrying later can help; ``remediation``
    is text an admin can act on. Never carries secrets.
    """

    code = "provider_error"

    def __init__(
        self,
        message: str,
        *,
        kind: str,
        transient: bool,
        remediation: str = "",
        status: int | None = None,
    ) -> None:
        super().__init__(
            message, kind=kind, transient=transient, remediation=remediation, status=status
        )
        self.kind = kind
        self.transient = transient
        self.remediation = remediation
        self.status = status


class NotReady(ZtixError):
    """A readiness gate failed; ``check`` names the failed check. ``transient`` when it may
    pass by itself (a server restarting), as opposed to a verdict (a schema behind)."""

    code = "not_ready"

    def __init__(
        self, check: str, message: str, remediation: str = "", *, transient: bool = False
    ) -> None:
        super().__init__(message, check=check, remediation=remediation, transient=transient)
        self.check = check
        self.remediation = remediation
        self.transient = transient


class SettingsError(ZtixError):
    """A setting is missing or bad; ``setting`` names it."""

    code = "settings_error"

    def __init__(self, setting: str, message: str) -> None:
        super().__init__(f"setting {setting}: {message}", setting=setting)
        self.setting = setting


class PluginError(ZtixError):
    """Plugins clash (duplicate names) or a named plugin is missing."""

    code = "plugin_error"
