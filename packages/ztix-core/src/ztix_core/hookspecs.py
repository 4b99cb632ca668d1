"""Hook specifications of ztix (pluggy project ``ztix``; every hook starts with ``ztix_``).

Each hook takes no arguments and returns a list of :class:`~ztix_core.plugins.Registration`
records (name, factory, settings type, description). Registrations are collected by
:class:`~ztix_core.plugins.Plugins`, which refuses two registrations with one name.

Third-party distributions implement these in a module listed under the entry-point group
``ztix``; built-in ones are listed in :data:`ztix_core.plugins.BUILTIN_PLUGINS`.

One hook differs: :func:`ztix_explain_error` takes the error to explain and returns text.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from ztix_core.plugins import Registration
    from ztix_core.settings import Settings

PROJECT = "ztix"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def ztix_storage_backends() -> list[Registration]:  # type: ignore[empty-body]
    """Storage backends (repositories + unit of work).

    Called once when a composition root builds its adapters. Return registrations whose
    factory takes the :class:`~ztix_core.settings.Settings` and returns a
    ``UnitOfWorkFactory``. Implemented by storage distributions (``sql`` in
    ztix-adapters-sql; ``memory`` is built in).
    """


@hookspec
def ztix_membership_providers() -> list[Registration]:  # type: ignore[empty-body]
    """ZeroTier membership providers, selected by the ``ZT_PROVIDER`` setting.

    Factory: ``Settings -> MembershipProvider``. It must stop start-up with a
    SettingsError naming any missing setting (URL, token). Implemented by
    ztix-adapters-zerotier (``self_hosted_controller``, ``central``).
    """


@hookspec
def ztix_route_server_fleets() -> list[Registration]:  # type: ignore[empty-body]
    """Route-server fleets (render + safe apply + session status).

    Factory: ``Settings -> RouteServerFleet``. Implemented by ztix-adapters-bird (``bird``);
    ``memory`` is built in.
    """


@hookspec
def ztix_approval_policies() -> list[Registration]:  # type: ignore[empty-body]
    """Approval policies, selected by the ``approval_policy`` setting.

    Factory: ``Settings -> ApprovalPolicy``. ``manual_admin`` (default) and
    ``policy_auto`` are built in.
    """


@hookspec
def ztix_network_registries() -> list[Registration]:  # type: ignore[empty-body]
    """Sources of PeeringDB facts (NetworkRegistry), selected by ``network_registry``.

    Factory: ``Settings -> NetworkRegistry``. ``memory`` is built in.
    """


@hookspec
def ztix_cli_commands() -> list[Registration]:  # type: ignore[empty-body]
    """Subcommands of the ``ztix`` command.

    Return registrations whose factory is a :class:`~ztix_core.cli.CliCommand` builder:
    ``factory()`` gives an object with ``configure(parser)`` and ``run(args) -> int``.
    Called when the CLI starts. Implemented by every distribution that adds commands
    (serve, worker, db, user, controller, rs, demo).
    """


@hookspec
def ztix_web_extensions() -> list[Registration]:  # type: ignore[empty-body]
    """Additions to the web app: routes and sign-in methods (Sign in with PeeringDB).

    Factory: ``Settings -> extension | None``; None when the plugin is installed but not
    configured. The extension is what :class:`ztix_web.extensions.WebExtension` describes
    (``sign_in_buttons()`` and ``add_routes(app, ctx)``); it may import ztix_web, which
    itself never imports an adapter. Called once by ``ztix_web.app.app_from_settings``.
    Implemented by ztix-adapters-peeringdb (``peeringdb``).
    """


@hookspec(firstresult=True)
def ztix_explain_error(error: BaseException, settings: Settings | None) -> str | None:
    """Explain an exception this plugin's code raised, for a user: one line naming the
    problem and its fix (e.g. "the database at … is not migrated: run `ztix db upgrade`"),
    or None when the error is not the plugin's.

    Called by the ``ztix`` command when a command fails with an exception that is not a
    ztix error, so adapters translate their libraries' exceptions without the core
    importing them. ``settings`` are the loaded settings (None when they could not be
    loaded). Must not raise and must not import anything heavy: check
    ``type(error).__module__`` or ``sys.modules`` before importing the library.
    """
