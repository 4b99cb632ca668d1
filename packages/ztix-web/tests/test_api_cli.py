"""``ztix token`` and ``ztix ixf`` as commands against a migrated SQLite database: the
secret printed once, alone on standard output, never in a list, the audit or stderr."""

from __future__ import annotations

import json

from .test_web_cli_user import PASSWORD, Cli, cli, template  # type: ignore[import-not-found]

__all__ = ["cli", "template"]


def test_token_commands(cli: Cli) -> None:
    cli.ok("user", "create", "root", "--admin", "--password-stdin", stdin=PASSWORD + "\n")
    cli.ok("user", "create", "bob", "--password-stdin", stdin=PASSWORD + "\n")
    code, out, err = cli("token", "create", "root", "--name", "deploy", "--scope", "admin")
    assert code == 0, err
    secret = out.strip()
    assert secret.startswith("ztix_") and "\n" not in secret
    assert secret not in err and "shown once" in err
    code, _, err = cli("token", "create", "bob", "--name", "x", "--scope", "admin")
    assert code == 2 and "admin scope" in err
    code, _, err = cli("token", "create", "nobody", "--name", "x")
    assert code == 2 and "nobody" in err
    listing = cli.ok("token", "list", "root")
    assert "deploy" in listing and "active" in listing
    assert secret not in listing and secret[:11] in listing
    token_id = listing.splitlines()[1].split()[0]
    assert cli.ok("token", "revoke", token_id).startswith("revoked token")
    assert "revoked" in cli.ok("token", "list", "root")
    code, _, err = cli("token", "revoke", "not-an-id")
    assert code == 2 and "token_id" in err
    with cli.app().uow_factory() as uow:
        trail = json.dumps([e.metadata for e in uow.audit.recent(100)])
    assert secret not in trail and secret[11:] not in trail
    assert "token.created" in cli.audit_actions() and "token.revoked" in cli.audit_actions()


def test_ixf_command_prints_the_export(cli: Cli) -> None:
    doc = json.loads(cli.ok("ixf"))
    assert doc["version"] == "1.0" and doc["member_list"] == []
    assert doc["ixp_list"][0]["vlan"][0]["id"] == 1
