"""The web's settings: the ``[web]`` table of the settings file.

``dev`` drops the Secure flag from the session cookie (plain http on 127.0.0.1, the demo);
production leaves it off. ``public_origin`` is what browsers send as ``Origin`` when the app
sits behind a proxy that changes scheme or host; by default the request's own origin.
"""

from __future__ import annotations

import attrs

from ztix_core.errors import SettingsError
from ztix_core.settings import Settings


@attrs.frozen
class WebSettings:
    """Sessions, sign-in throttling and origin settings of the web app."""

    #: Development only: cookies without ``Secure`` so plain http works on localhost.
    dev: bool = False
    #: The site's public origin (``https://ix.example.net``) behind a proxy; sign-in redirects
    #: and the CSRF origin check use it.
    public_origin: str | None = None
    #: A session unused for this long is dead.
    session_idle_s: int = 30 * 60
    #: No session lives longer than this, used or not.
    session_absolute_s: int = 12 * 60 * 60
    #: Failed sign-ins per account, within ``throttle_window_s``, before it is refused.
    max_failures_per_account: int = 5
    #: Failed sign-ins per client address, within ``throttle_window_s``.
    max_failures_per_address: int = 20
    #: The window over which failed sign-ins are counted.
    throttle_window_s: int = 15 * 60
    #: How often a status page asks for news while a request is moving.
    poll_interval_s: int = 3
    #: The username/password form. Off: the form is gone and POST /login is refused, so
    #: people sign in only through an extension (Sign in with PeeringDB); ``ztix web``
    #: refuses to start with it off and no other way in.
    local_login: bool = True
    #: API calls a second one token may make on average (per web worker process).
    api_rate_per_s: float = 10.0
    #: API calls one token may make at once before the rate applies.
    api_burst: int = 60

    def __attrs_post_init__(self) -> None:
        for name in (
            "session_idle_s",
            "session_absolute_s",
            "max_failures_per_account",
            "max_failures_per_address",
            "throttle_window_s",
            "poll_interval_s",
            "api_burst",
        ):
            if getattr(self, name) < 1:
                raise SettingsError(f"web.{name}", "must be at least 1")
        if not self.api_rate_per_s > 0:
            raise SettingsError("web.api_rate_per_s", "must be above 0")
        if self.session_idle_s > self.session_absolute_s:
            raise SettingsError("web.session_idle_s", "must not exceed web.session_absolute_s")
        origin = self.public_origin
        if origin is not None and (
            not origin.startswith(("http://", "https://"))
            or origin.rstrip("/") != origin
            or origin.count("/") != 2
        ):
            raise SettingsError(
                "web.public_origin", f"{origin!r} must be scheme://host[:port], no path"
            )


def web_settings(settings: Settings) -> WebSettings:
    """The ``[web]`` table, structured; SettingsError names a bad key."""
    return settings.section("web", WebSettings)
