"""Settings of Sign in with PeeringDB: the ``[peeringdb_login]`` TOML table and the client
secret.

The client secret comes from ``PEERINGDB_CLIENT_SECRET`` or the file named by
``PEERINGDB_CLIENT_SECRET_FILE`` (read by the core's loader), never from the TOML file.
An empty ``client_id`` (the default) leaves the sign-in off. Whether the local
username/password form stays is ``[web] local_login``.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable

import attrs

from ztix_core.errors import SettingsError
from ztix_core.settings import Settings, gather_errors

SECTION = "peeringdb_login"
SECRET_ENV = "PEERINGDB_CLIENT_SECRET"
#: What ztix asks PeeringDB for: identity, name, email and the networks with permissions.
SCOPES = "openid profile email networks"


def _check(name: str, ok: bool, message: str) -> Callable[[], None]:
    def check() -> None:
        if not ok:
            raise SettingsError(f"{SECTION}.{name}", message)

    return check


def _plain_url(value: str, *, path_ok: bool = True) -> bool:
    parsed = urllib.parse.urlsplit(value)
    return (
        parsed.scheme in ("http", "https")
        and bool(parsed.hostname)
        and not (parsed.username or parsed.password or parsed.query or parsed.fragment)
        and (path_ok or parsed.path in ("", "/"))
    )


@attrs.frozen
class SignInSettings:
    """The ``[peeringdb_login]`` table (defaults in the package README)."""

    #: the OAuth application's client id registered on PeeringDB; empty: sign-in off
    client_id: str = ""
    #: PeeringDB's OAuth server; a test or staging provider is named here. The issuer is
    #: this + ``/oauth2`` and discovery ``<issuer>/.well-known/openid-configuration``.
    base_url: str = "https://auth.peeringdb.com"
    #: the callback registered on PeeringDB; empty: ``web.public_origin`` (else the
    #: request's origin) + ``/login/peeringdb/callback``
    redirect_url: str = ""
    #: seconds for one call to the provider (discovery, JWKS, token, profile)
    timeout_s: float = 10.0
    #: how long a started sign-in may take (the state's lifetime)
    state_ttl_s: int = 600
    #: how long discovery and the JWKS are kept (an unknown ``kid`` refetches the JWKS)
    cache_s: int = 3600
    #: clock difference tolerated on ``exp``/``iat``
    clock_skew_s: int = 60
    #: the button's text on the sign-in page
    label: str = "Sign in with PeeringDB"

    def __attrs_post_init__(self) -> None:
        gather_errors(
            _check(
                "client_id",
                self.client_id == self.client_id.strip() and len(self.client_id) <= 200,
                "must have no surrounding spaces and at most 200 characters",
            ),
            _check(
                "base_url",
                _plain_url(self.base_url, path_ok=False),
                f"{self.base_url!r} must be http(s)://host[:port] (no path, query or credentials)",
            ),
            _check(
                "redirect_url",
                not self.redirect_url
                or (
                    _plain_url(self.redirect_url)
                    and self.redirect_url.endswith("/login/peeringdb/callback")
                ),
                f"{self.redirect_url!r} must be an http(s) URL ending in /login/peeringdb/callback",
            ),
            _check("timeout_s", self.timeout_s > 0, f"must be > 0, got {self.timeout_s!r}"),
            _check(
                "state_ttl_s",
                30 <= self.state_ttl_s <= 3600,
                f"must be 30 to 3600, got {self.state_ttl_s!r}",
            ),
            _check("cache_s", self.cache_s >= 0, f"must be >= 0, got {self.cache_s!r}"),
            _check(
                "clock_skew_s",
                0 <= self.clock_skew_s <= 600,
                f"must be 0 to 600, got {self.clock_skew_s!r}",
            ),
            _check("label", bool(self.label.strip()), "must not be empty"),
        )

    @property
    def enabled(self) -> bool:
        """A client id is set: the sign-in is offered."""
        return bool(self.client_id)

    @property
    def issuer(self) -> str:
        """The id_token's expected ``iss`` (PeeringDB: ``https://auth.peeringdb.com/oauth2``)."""
        return self.base_url.rstrip("/") + "/oauth2"


def signin_settings(settings: Settings) -> SignInSettings:
    """The ``[peeringdb_login]`` table; SettingsError names a bad key. A secret in the
    table is refused with where it belongs; a client id without a secret is refused."""
    raw = settings.sections.get(SECTION, {})
    for key in ("client_secret", "client_secret_file"):
        if key in raw:
            raise SettingsError(
                f"{SECTION}.{key}",
                "secrets are read from the environment or a file, not the config file: "
                f"set {SECRET_ENV} or {SECRET_ENV}_FILE",
            )
    found = settings.section(SECTION, SignInSettings)
    if found.enabled and not client_secret(settings):
        raise SettingsError(
            SECRET_ENV, f"required when {SECTION}.client_id is set (or {SECRET_ENV}_FILE)"
        )
    return found


def client_secret(settings: Settings) -> str:
    """The client secret, stripped ("" when unset)."""
    return (settings.secret("peeringdb_client_secret") or "").strip()
