"""Drive Sign in with PeeringDB over HTTP, for the tests and the benchmark.

:func:`make_exchange` builds ztix-web over a storage URL with the peeringdb plugin's web
extension loaded through the ``ztix_web_extensions`` hook, exactly as ``ztix web`` loads
it; :class:`SignInDriver` plays one browser: ztix through ``falcon.testing``, the provider
through httpx (its login form, then the authorization), following the redirects by hand.
"""

from __future__ import annotations

import itertools
import urllib.parse
from typing import Any

import attrs
import falcon.testing
import httpx

from ztix_adapters_peeringdb.testing_idp.harness import LocalIdp
from ztix_core.bootstrap import App, bootstrap
from ztix_core.plugins import Plugins, build_plugin_manager
from ztix_core.records import AuditEvent, User
from ztix_core.settings import Settings
from ztix_core.testing import builders as b
from ztix_web.app import create_app
from ztix_web.config import WebSettings
from ztix_web.extensions import load_extensions
from ztix_web.passwords import Argon2Hasher
from ztix_web.testing import ORIGIN, Browser

#: The callback as ``falcon.testing`` sees it (register it on the provider).
CALLBACK = ORIGIN + "/login/peeringdb/callback"
PASSWORD = "provider-password-1"
FAST_HASHER = Argon2Hasher(time_cost=1, memory_cost=1024, parallelism=1)
_numbers = itertools.count(1)


def profile(
    name: str = "Jane Doe",
    *,
    verified_user: bool = True,
    verified_email: bool = True,
    networks: list[dict[str, Any]] | None = None,
    email: str = "jane@example.net",
) -> dict[str, Any]:
    """A ``profile/v1`` body as PeeringDB shapes it (the provider adds ``id``)."""
    given, _, family = name.partition(" ")
    return {
        "name": name,
        "given_name": given,
        "family_name": family,
        "verified_user": verified_user,
        "email": email,
        "verified_email": verified_email,
        "networks": networks if networks is not None else [],
    }


def net(asn: int, perms: int, name: str | None = None) -> dict[str, Any]:
    """One entry of ``networks``; ``perms`` is also ``manage_peering_sessions``."""
    return {
        "id": asn % 100_000,
        "name": name or f"Net {asn}",
        "asn": asn,
        "perms": perms,
        "manage_peering_sessions": perms,
    }


@attrs.define
class Person:
    """An account on the provider."""

    username: str
    peeringdb_id: int


def new_person(idp: LocalIdp, body: dict[str, Any]) -> Person:
    """A fresh provider account (a unique name) with ``body`` as its profile."""
    username = f"person{next(_numbers)}"
    return Person(username, idp.add_user(username, PASSWORD, body))


@attrs.define
class Exchange:
    """ztix with Sign in with PeeringDB configured against a provider."""

    core: App
    app: Any
    idp: LocalIdp
    #: The web extensions loaded (the first is Sign in with PeeringDB).
    extensions: list[Any] = attrs.Factory(list)

    def users(self) -> list[User]:
        """Every user."""
        with self.core.uow_factory() as uow:
            return uow.users.list()

    def user(self, peeringdb_id: int) -> User | None:
        """The user a PeeringDB id signed in as, or None."""
        with self.core.uow_factory() as uow:
            return uow.users.get_by_peeringdb_id(peeringdb_id)

    def links(self, user: User) -> dict[int, tuple[str, bool]]:
        """ASN → (source, can_manage_sessions)."""
        with self.core.uow_factory() as uow:
            return {
                lk.asn.value: (lk.source.value, lk.can_manage_sessions)
                for lk in uow.asn_links.list_for_user(user.id)
            }

    def audit(self) -> list[AuditEvent]:
        """The audit trail, oldest first."""
        with self.core.uow_factory() as uow:
            return list(reversed(uow.audit.recent(limit=1000)))

    def actions(self) -> list[str]:
        """The audit trail's actions, oldest first."""
        return [e.action for e in self.audit()]

    def close(self) -> None:
        """Release the database."""
        dispose = getattr(self.core.uow_factory, "dispose", None)
        if dispose is not None:
            dispose()


def make_exchange(
    idp: LocalIdp,
    database_url: str,
    *,
    local_login: bool = True,
    dev: bool = False,
    **login: Any,
) -> Exchange:
    """ztix over ``database_url`` (migrated) with one exchange network, the provider as
    PeeringDB (``login`` adds keys to ``[peeringdb_login]``; ``dev``: plain-http cookies
    for a real browser on 127.0.0.1)."""
    settings = Settings(
        storage="sql",
        database_url=database_url,
        allow_documentation_asns=True,
        peeringdb_client_secret=idp.client_secret,
        sections={
            "peeringdb_login": {"client_id": idp.client_id, "base_url": idp.base_url, **login},
            "web": {"local_login": local_login, "dev": dev},
        },
    )
    plugins = Plugins(build_plugin_manager())
    core = bootstrap(settings, plugins, with_provisioning=False)
    with core.uow_factory() as uow:
        uow.networks.add(b.network(1))
        uow.commit()
    ws = WebSettings(local_login=local_login, dev=dev)
    extensions = load_extensions(settings, plugins)
    app = create_app(core, ws, FAST_HASHER, extensions=extensions)
    return Exchange(core, app, idp, list(extensions))


class SignInDriver:
    """One browser: ztix's cookies (``falcon.testing``) and the provider's (httpx)."""

    def __init__(self, exchange: Exchange) -> None:
        self.ex = exchange
        self.ztix = Browser(exchange.app)
        self.provider = httpx.Client(timeout=30)

    def close(self) -> None:
        """Close the provider connections."""
        self.provider.close()

    def start(self, next_path: str = "/onboarding") -> falcon.testing.Result:
        """Click "Sign in with PeeringDB" on the sign-in page."""
        page = self.ztix.get("/login")
        assert 'href="/login/peeringdb?next=' in page.text, page.text
        return self.ztix.get("/login/peeringdb", params={"next": next_path})

    def authorize(self, authorize_url: str, username: str) -> str:
        """At the provider: sign in on its form when asked, let it authorize; the
        callback URL it sends the browser to."""
        answer = self.provider.get(authorize_url)
        if answer.status_code == 302 and answer.headers["location"].startswith("/account/login"):
            form_url = urllib.parse.urljoin(authorize_url, answer.headers["location"])
            form = self.provider.get(form_url)
            assert form.status_code == 200, form.text
            query = urllib.parse.parse_qs(urllib.parse.urlsplit(form_url).query)
            logged = self.provider.post(
                form_url,
                data={
                    "username": username,
                    "password": PASSWORD,
                    "next": query["next"][0],
                    "csrfmiddlewaretoken": self.provider.cookies["idp_csrf"],
                },
                headers={"Referer": form_url},
            )
            assert logged.status_code == 302, logged.text
            again = urllib.parse.urljoin(authorize_url, logged.headers["location"])
            answer = self.provider.get(again)
        assert answer.status_code == 302, answer.text
        location = answer.headers["location"]
        assert location.startswith(CALLBACK), location
        return location

    def callback(self, url: str) -> falcon.testing.Result:
        """The browser arriving back at ztix."""
        parts = urllib.parse.urlsplit(url)
        return self.ztix.get(parts.path, query_string=parts.query)

    def sign_in(self, person: Person, next_path: str = "/onboarding") -> falcon.testing.Result:
        """The whole round trip; ztix's answer to the callback."""
        started = self.start(next_path)
        assert started.status_code == 303, started.text
        return self.callback(self.authorize(started.headers["location"], person.username))
