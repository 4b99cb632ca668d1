"""Web extensions: what a plugin adds to the web app — routes and sign-in methods.

A plugin implements the ``ztix_web_extensions`` hook (``ztix_core.hookspecs``); each
registration's factory gets the settings and returns a :class:`WebExtension` (or None when
the plugin is installed but not configured). :func:`load_extensions` builds them for
``ztix web``; ztix_web itself never imports an adapter.

A sign-in method that finishes a sign-in calls :meth:`ztix_web.sessions.Sessions.sign_in`
exactly as the local form does (a new session id, a new CSRF token) and may leave, in the
session's data under :data:`INELIGIBLE_KEY`, the ASNs it saw but did not link — the
onboarding page lists them as "not eligible" with their reasons.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

import attrs

from ztix_core.errors import SettingsError
from ztix_core.plugins import Plugins
from ztix_core.settings import Settings
from ztix_web.config import WebSettings

if TYPE_CHECKING:
    import falcon

    from ztix_web.context import WebContext

#: Session data key: ``[{"asn": int, "name": str, "reason": str}, ...]``.
INELIGIBLE_KEY = "ineligible_asns"


@attrs.frozen
class SignInButton:
    """A way to sign in other than the local form: a link on the sign-in page (GET, so the
    CSP's ``form-action 'self'`` never stands between the browser and the provider)."""

    label: str
    href: str


class WebExtension(Protocol):
    """What a ``ztix_web_extensions`` factory returns."""

    def sign_in_buttons(self) -> list[SignInButton]:
        """The sign-in links this extension offers (empty: none)."""

    def add_routes(self, app: falcon.App[Any, Any], ctx: WebContext) -> None:
        """Add the extension's routes to ``app`` (called once, by ``create_app``)."""


def load_extensions(settings: Settings, plugins: Plugins) -> list[WebExtension]:
    """Every configured extension of the installed plugins, by registration name."""
    found = []
    for reg in plugins.web_extensions().values():
        extension = reg.factory(settings)
        if extension is not None:
            found.append(extension)
    return found


def sign_in_buttons(
    ws: WebSettings, extensions: Sequence[WebExtension]
) -> tuple[SignInButton, ...]:
    """The extensions' sign-in buttons; SettingsError when the local form is off
    (``web.local_login``) and there is none, since nobody could sign in."""
    buttons = tuple(b for ext in extensions for b in ext.sign_in_buttons())
    if not ws.local_login and not buttons:
        raise SettingsError(
            "web.local_login",
            "is false, but no other sign-in method is configured (nobody could sign in)",
        )
    return buttons
