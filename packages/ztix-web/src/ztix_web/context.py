"""What every page handler needs, wired once per app: the core's use cases, the account
use cases with the argon2id hasher, the live-state queries, sessions, the sign-in gate and
the templates."""

from __future__ import annotations

from pathlib import Path

import attrs
import jinja2

from ztix_core.bootstrap import App
from ztix_core.ports import PasswordHasher
from ztix_core.usecases.accounts import Accounts
from ztix_core.usecases.looking_glass import LookingGlass
from ztix_core.usecases.oversight import Oversight
from ztix_web.config import WebSettings
from ztix_web.extensions import SignInButton
from ztix_web.login import LoginGate
from ztix_web.pages import observe_interval_s
from ztix_web.sessions import Sessions

HERE = Path(__file__).parent
STATIC_DIR = HERE / "static"


def _templates() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return env


@attrs.frozen
class WebContext:
    """The app's wiring (built by :func:`ztix_web.app.create_app`)."""

    core: App
    ws: WebSettings
    accounts: Accounts
    sessions: Sessions
    gate: LoginGate
    templates: jinja2.Environment
    oversight: Oversight
    #: How often the worker records sessions and readiness (for the pages' notes).
    observe_every_s: float
    #: Sign-in methods of the web extensions, shown on the sign-in page.
    sign_in_buttons: tuple[SignInButton, ...] = ()
    #: The looking glass: snapshots the worker recorded, refreshes through the outbox.
    looking_glass: LookingGlass = attrs.field(
        default=attrs.Factory(
            lambda self: LookingGlass(self.core.uow_factory, self.core.clock), takes_self=True
        )
    )

    @classmethod
    def build(
        cls,
        core: App,
        ws: WebSettings,
        hasher: PasswordHasher,
        sign_in_buttons: tuple[SignInButton, ...] = (),
    ) -> WebContext:
        """Wire the use cases, sessions, the sign-in gate and templates over ``core``."""
        accounts = Accounts(core.uow_factory, core.clock, hasher)
        return cls(
            core,
            ws,
            accounts,
            Sessions(core.uow_factory, core.clock, ws),
            LoginGate(core.uow_factory, core.clock, accounts, ws),
            _templates(),
            Oversight(core.uow_factory, core.clock),
            observe_interval_s(core.settings),
            sign_in_buttons,
        )
