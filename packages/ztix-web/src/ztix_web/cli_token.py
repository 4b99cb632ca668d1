"""``ztix token …``: API tokens from the command line, and ``ztix ixf``: the IX-F export.

``create`` prints the secret once, alone on standard output (so ``$(ztix token create …)``
captures just it); what was made goes to standard error. Storage keeps only its SHA-256.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import uuid

from ztix_core.bootstrap import bootstrap
from ztix_core.errors import InvalidValue, NotFound
from ztix_core.plugins import Plugins
from ztix_core.records import Actor, User
from ztix_core.settings import load_settings
from ztix_core.usecases.accounts import Accounts
from ztix_core.usecases.ixf import ExchangeSettings, IxfExport
from ztix_core.usecases.tokens import ApiTokens
from ztix_web.passwords import Argon2Hasher

CLI_ACTOR = Actor.system("cli")


def _user(accounts: Accounts, username: str) -> User:
    for row in accounts.list(CLI_ACTOR):
        if row.user.username and row.user.username.lower() == username.lower():
            return row.user
    raise NotFound(f"no account named {username!r}", username=username)


def _when(value: dt.datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else "-"


class TokenCommand:
    """``ztix token create|list|revoke``."""

    def configure(self, parser: argparse.ArgumentParser) -> None:
        """Add this command's arguments."""
        sub = parser.add_subparsers(dest="token_command", metavar="ACTION")
        create = sub.add_parser("create", help="make a token (its secret is shown once)")
        create.add_argument("username", help="whose token")
        create.add_argument("--name", required=True, help="what uses it (shown in lists)")
        create.add_argument(
            "--scope",
            choices=("operator", "admin"),
            default="operator",
            help="admin: the admin operations too (admin accounts only)",
        )
        create.add_argument("--expires-days", type=int, help="expire after N days (default never)")
        listing = sub.add_parser("list", help="an account's tokens (never their secrets)")
        listing.add_argument("username")
        revoke = sub.add_parser("revoke", help="revoke a token at once")
        revoke.add_argument("token_id", help="the token's id (from list)")
        self._parser = parser

    def run(self, args: argparse.Namespace) -> int:
        """Run the command; the exit code."""
        action = getattr(args, "token_command", None)
        if action is None:
            self._parser.print_help()
            return 2
        plugins: Plugins = args.plugins
        app = bootstrap(load_settings(args.config), plugins, with_provisioning=False)
        accounts = Accounts(app.uow_factory, app.clock, Argon2Hasher())
        tokens = ApiTokens(app.uow_factory, app.clock)
        if action == "create":
            if args.expires_days is not None and not 1 <= args.expires_days <= 3650:
                raise InvalidValue("--expires-days", "1 to 3650")
            expires = (
                app.clock.now() + dt.timedelta(days=args.expires_days)
                if args.expires_days
                else None
            )
            user = _user(accounts, args.username)
            made = tokens.create(CLI_ACTOR, user.id, args.name, args.scope, expires)
            print(
                f"created {made.token.scope.value} token {made.token.id} ({made.token.name}) "
                f"for {user.username}, expires {_when(expires)}; the secret follows, shown once",
                file=sys.stderr,
            )
            print(made.secret)
            return 0
        if action == "list":
            user = _user(accounts, args.username)
            head = ("ID", "NAME", "SCOPE", "PREFIX", "EXPIRES", "LAST USED")
            print("{:36} {:20} {:8} {:12} {:16} {:16} STATE".format(*head))
            now = app.clock.now()
            for t in tokens.list(CLI_ACTOR, user.id):
                state = (
                    "revoked" if t.revoked_at else "expired" if not t.usable_at(now) else "active"
                )
                print(
                    f"{t.id!s:36} {t.name[:20]:20} {t.scope.value:8} {t.prefix:12} "
                    f"{_when(t.expires_at):16} {_when(t.last_used_at):16} {state}"
                )
            return 0
        try:
            token_id = uuid.UUID(args.token_id)
        except ValueError:
            raise InvalidValue("token_id", "not a token id (see ztix token list)") from None
        revoked = tokens.revoke(CLI_ACTOR, token_id)
        print(f"revoked token {revoked.id} ({revoked.name})")
        return 0


class IxfCommand:
    """``ztix ixf``: print the IX-F member export (what /participants.json serves)."""

    def configure(self, parser: argparse.ArgumentParser) -> None:
        """No arguments."""

    def run(self, args: argparse.Namespace) -> int:
        """Print the export as JSON."""
        settings = load_settings(args.config)
        app = bootstrap(settings, args.plugins, with_provisioning=False)
        export = IxfExport(
            app.uow_factory,
            app.clock,
            settings.section("exchange", ExchangeSettings),
            settings.provisioning,
        )
        json.dump(export.document()[0], sys.stdout, indent=2)
        print()
        return 0
