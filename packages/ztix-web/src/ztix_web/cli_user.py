"""``ztix user …``: local accounts from the command line.

Passwords are read from a prompt (typed twice) or, with ``--password-stdin``, from the
first line of standard input — never from an argument, which other users could read in the
process list. The app is built through :func:`ztix_core.bootstrap.bootstrap`, so the
storage is whatever the settings name.
"""

from __future__ import annotations

import argparse
import getpass
import sys

from ztix_core.bootstrap import bootstrap
from ztix_core.errors import InvalidValue
from ztix_core.plugins import Plugins
from ztix_core.records import Actor
from ztix_core.settings import load_settings
from ztix_core.usecases.accounts import Accounts
from ztix_web.passwords import Argon2Hasher

#: Who the audit trail names for changes made here.
CLI_ACTOR = Actor.system("cli")


def _read_password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        line = sys.stdin.readline()
        if not line:
            raise InvalidValue("password", "--password-stdin given but standard input is empty")
        return line.rstrip("\r\n")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Password (again): ") != first:
        raise InvalidValue("password", "the two passwords differ")
    return first


def _username(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("username", help="the account's login name")


def _password_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from the first line of standard input instead of a prompt",
    )


class UserCommand:
    """``ztix user create|update|disable|enable|list|link-asn|unlink-asn|grant-network|
    revoke-network|set-password|reset-totp``."""

    def configure(self, parser: argparse.ArgumentParser) -> None:
        """Add this command's arguments."""
        sub = parser.add_subparsers(dest="user_command", metavar="ACTION")
        create = sub.add_parser("create", help="create a local account")
        _username(create)
        create.add_argument("--admin", action="store_true", help="make the account an admin")
        create.add_argument("--display-name", help="shown name (default: the username)")
        create.add_argument("--email", help="contact address")
        _password_option(create)
        update = sub.add_parser("update", help="change name, email or admin flag")
        _username(update)
        update.add_argument("--display-name", help="new shown name")
        update.add_argument("--email", help="new contact address ('' clears it)")
        admin = update.add_mutually_exclusive_group()
        admin.add_argument("--admin", dest="is_admin", action="store_const", const=True)
        admin.add_argument("--no-admin", dest="is_admin", action="store_const", const=False)
        for name, text in (
            ("disable", "switch an account off (it can no longer sign in)"),
            ("enable", "switch a disabled account back on"),
        ):
            _username(sub.add_parser(name, help=text))
        sub.add_parser("list", help="every account with its ASNs and networks")
        link = sub.add_parser("link-asn", help="let the account request for an ASN")
        _username(link)
        link.add_argument("asn", help="AS number (64500 or AS64500)")
        link.add_argument("--network-name", help="the network's name, for display")
        unlink = sub.add_parser("unlink-asn", help="take an ASN away from the account")
        _username(unlink)
        unlink.add_argument("asn", help="AS number")
        for name, text in (
            ("grant-network", "restrict the account to (also) this exchange network"),
            ("revoke-network", "remove a network grant"),
        ):
            grant = sub.add_parser(name, help=text)
            _username(grant)
            grant.add_argument("network_id", help="ZeroTier network id (16 hex digits)")
        password = sub.add_parser("set-password", help="replace the account's password")
        _username(password)
        _password_option(password)
        _username(
            sub.add_parser(
                "reset-totp",
                help="switch the account's two-factor sign-in off (lost phone); its sessions "
                "end and it may set TOTP up again",
            )
        )
        self._parser = parser

    def run(self, args: argparse.Namespace) -> int:
        """Run the command; the exit code."""
        action = getattr(args, "user_command", None)
        if action is None:
            self._parser.print_help()
            return 2
        plugins: Plugins = args.plugins
        app = bootstrap(load_settings(args.config), plugins, with_provisioning=False)
        accounts = Accounts(app.uow_factory, app.clock, Argon2Hasher())
        return _ACTIONS[action](accounts, args)


def _create(accounts: Accounts, args: argparse.Namespace) -> int:
    password = _read_password(args)
    user = accounts.create(
        CLI_ACTOR,
        args.username,
        password,
        display_name=args.display_name,
        email=args.email,
        is_admin=args.admin,
    )
    role = "admin" if user.is_admin else "operator"
    print(f"created {role} {user.username} ({user.id})")
    return 0


def _update(accounts: Accounts, args: argparse.Namespace) -> int:
    user = accounts.update(
        CLI_ACTOR,
        args.username,
        display_name=args.display_name,
        email=args.email,
        is_admin=args.is_admin,
    )
    print(f"updated {user.username}")
    return 0


def _disable(accounts: Accounts, args: argparse.Namespace) -> int:
    accounts.disable(CLI_ACTOR, args.username)
    print(f"disabled {args.username}")
    return 0


def _enable(accounts: Accounts, args: argparse.Namespace) -> int:
    accounts.enable(CLI_ACTOR, args.username)
    print(f"enabled {args.username}")
    return 0


def _list(accounts: Accounts, args: argparse.Namespace) -> int:
    rows = accounts.list(CLI_ACTOR)
    print(f"{'USERNAME':24} {'ROLE':8} {'STATE':8} {'ASNS':24} NETWORKS")
    for row in rows:
        user = row.user
        print(
            f"{user.username or '-':24} {'admin' if user.is_admin else 'operator':8} "
            f"{'disabled' if user.disabled else 'enabled':8} "
            f"{','.join(str(a) for a in row.asns) or '-':24} "
            f"{','.join(str(n) for n in row.networks) or 'all'}"
        )
    return 0


def _link(accounts: Accounts, args: argparse.Namespace) -> int:
    link = accounts.link_asn(CLI_ACTOR, args.username, args.asn, args.network_name)
    print(f"linked {link.asn} to {args.username}")
    return 0


def _unlink(accounts: Accounts, args: argparse.Namespace) -> int:
    accounts.unlink_asn(CLI_ACTOR, args.username, args.asn)
    print(f"unlinked {args.asn} from {args.username}")
    return 0


def _grant(accounts: Accounts, args: argparse.Namespace) -> int:
    accounts.grant_network(CLI_ACTOR, args.username, args.network_id)
    print(f"granted network {args.network_id} to {args.username}")
    return 0


def _revoke(accounts: Accounts, args: argparse.Namespace) -> int:
    accounts.revoke_network(CLI_ACTOR, args.username, args.network_id)
    print(f"revoked network {args.network_id} from {args.username}")
    return 0


def _set_password(accounts: Accounts, args: argparse.Namespace) -> int:
    accounts.set_password(CLI_ACTOR, args.username, _read_password(args))
    print(f"password set for {args.username}")
    return 0


def _reset_totp(accounts: Accounts, args: argparse.Namespace) -> int:
    accounts.reset_totp(CLI_ACTOR, args.username)
    print(f"two-factor sign-in reset for {args.username}: the password alone signs in now")
    return 0


_ACTIONS = {
    "create": _create,
    "update": _update,
    "disable": _disable,
    "enable": _enable,
    "list": _list,
    "link-asn": _link,
    "unlink-asn": _unlink,
    "grant-network": _grant,
    "revoke-network": _revoke,
    "set-password": _set_password,
    "reset-totp": _reset_totp,
}
