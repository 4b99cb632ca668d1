"""``ztix user …`` run as a real command against a migrated SQLite database."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ztix_core.bootstrap import App, bootstrap
from ztix_core.cli import main
from ztix_core.plugins import Plugins, build_plugin_manager
from ztix_core.settings import load_settings
from ztix_core.testing import builders as b
from ztix_core.values import Asn

PASSWORD = "a long enough passphrase"


class Cli:
    """Runs the ``ztix`` command with a database of its own: in this process through
    :func:`ztix_core.cli.main` (fast), or as a child process (the console script's path)."""

    def __init__(self, db: Path, capsys: pytest.CaptureFixture[str] | None = None) -> None:
        self.env = {
            **{k: v for k, v in os.environ.items() if k != "ZTIX_CONFIG"},
            "DATABASE_URL": f"sqlite:///{db}",
            "ZTIX_STORAGE": "sql",
        }
        self.capsys = capsys

    def __call__(self, *argv: str, stdin: str = "") -> tuple[int, str, str]:
        assert self.capsys is not None
        self.capsys.readouterr()
        with pytest.MonkeyPatch.context() as mp:
            for key, value in self.env.items():
                mp.setenv(key, value)
            mp.delenv("ZTIX_CONFIG", raising=False)
            mp.setattr(sys, "stdin", io.StringIO(stdin))
            code = main(list(argv))
        out, err = self.capsys.readouterr()
        return code, out, err

    def child(self, *argv: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        # A new session has no controlling terminal: getpass then reads standard input.
        return subprocess.run(
            [sys.executable, "-m", "ztix_core.cli", *argv],
            input=stdin,
            capture_output=True,
            text=True,
            env=self.env,
            timeout=120,
            start_new_session=True,
            check=False,
        )

    def ok(self, *argv: str, stdin: str = "") -> str:
        code, out, err = self(*argv, stdin=stdin)
        assert code == 0, err
        return out

    def app(self) -> App:
        settings = load_settings(environ=self.env)
        return bootstrap(settings, Plugins(build_plugin_manager()), with_provisioning=False)

    def audit_actions(self) -> list[str]:
        with self.app().uow_factory() as uow:
            return [e.action for e in reversed(uow.audit.recent(1000))]

    def counts(self) -> tuple[int, ...]:
        with self.app().uow_factory() as uow:
            return (
                len(uow.users.list()),
                len(uow.audit.recent(1000)),
                sum(len(uow.asn_links.list_for_user(u.id)) for u in uow.users.list()),
                sum(len(uow.network_access.list_for_user(u.id)) for u in uow.users.list()),
            )


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated database holding one exchange network, made once with ``ztix db
    upgrade`` and copied for each test."""
    db = tmp_path_factory.mktemp("template") / "ztix.db"
    runner = Cli(db)
    done = runner.child("db", "upgrade")
    assert done.returncode == 0, done.stderr
    with runner.app().uow_factory() as uow:
        uow.networks.add(b.network(1))
        uow.commit()
    return db


@pytest.fixture
def cli(template: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Cli:
    db = tmp_path / "ztix.db"
    for suffix in ("", "-wal", "-shm"):  # SQLite's write-ahead log holds the newest pages
        source = template.with_name(template.name + suffix)
        if source.exists():
            shutil.copyfile(source, db.with_name(db.name + suffix))
    return Cli(db, capsys)


def test_account_lifecycle(cli: Cli) -> None:
    out = cli.ok("user", "create", "alice", "--password-stdin", stdin=PASSWORD + "\n")
    assert out.startswith("created operator alice")
    cli.ok("user", "create", "root", "--admin", "--password-stdin", stdin=PASSWORD + "\n")
    cli.ok("user", "update", "alice", "--display-name", "Alice A", "--email", "a@example.net")
    cli.ok("user", "link-asn", "alice", "AS64500", "--network-name", "Alice Net")
    cli.ok("user", "link-asn", "alice", "64501")
    cli.ok("user", "unlink-asn", "alice", "64501")
    cli.ok("user", "grant-network", "alice", b.network(1).id.value)
    listing = cli.ok("user", "list")
    [alice] = [line for line in listing.splitlines() if line.startswith("alice")]
    assert "operator" in alice and "enabled" in alice and "AS64500" in alice
    assert b.network(1).id.value in alice
    assert "admin" in next(line for line in listing.splitlines() if line.startswith("root"))
    cli.ok("user", "revoke-network", "alice", b.network(1).id.value)
    cli.ok("user", "disable", "alice")
    assert "disabled" in cli.ok("user", "list")
    cli.ok("user", "enable", "alice")
    cli.ok("user", "set-password", "alice", "--password-stdin", stdin="another passphrase!\n")
    assert cli.audit_actions() == [
        "account.created",
        "account.created",
        "account.updated",
        "account.asn_linked",
        "account.asn_linked",
        "account.asn_unlinked",
        "account.network_granted",
        "account.network_revoked",
        "account.disabled",
        "account.enabled",
        "account.password_set",
    ]
    with cli.app().uow_factory() as uow:
        user = uow.users.get_by_username("alice")
        assert user is not None and user.display_name == "Alice A" and not user.disabled
        assert [lk.asn for lk in uow.asn_links.list_for_user(user.id)] == [Asn(64500)]
        stored = uow.credentials.get(user.id)
        assert stored is not None and stored.startswith("$argon2id$")
        assert "another passphrase" not in repr(uow.audit.recent(1000))


BAD_INPUT = [
    (("user", "create", "alice", "--password-stdin"), PASSWORD + "\n", "is taken"),
    (("user", "create", "ALICE", "--password-stdin"), PASSWORD + "\n", "is taken"),
    (("user", "create", "bob", "--password-stdin"), "short\n", "password"),
    (("user", "create", "bob", "--password-stdin"), "", "standard input is empty"),
    (("user", "create", "bad name", "--password-stdin"), PASSWORD + "\n", "username"),
    (("user", "create", "bob", "--email", "x", "--password-stdin"), PASSWORD, "email"),
    (("user", "update", "ghost", "--display-name", "G"), "", "no account named 'ghost'"),
    (("user", "disable", "ghost"), "", "no account named"),
    (("user", "link-asn", "alice", "AS0"), "", "reserved"),
    (("user", "link-asn", "alice", "sixty"), "", "not an AS number"),
    (("user", "unlink-asn", "alice", "64999"), "", "not linked"),
    (("user", "grant-network", "alice", "nothex"), "", "network_id"),
    (("user", "grant-network", "alice", "0123456789abcdef"), "", "not an exchange"),
    (("user", "revoke-network", "alice", b.network(1).id.value), "", "no grant"),
    (("user", "set-password", "alice", "--password-stdin"), "tiny\n", "password"),
]


def test_bad_input_is_refused_with_nothing_written(cli: Cli) -> None:
    cli.ok("user", "create", "alice", "--password-stdin", stdin=PASSWORD + "\n")
    before = cli.counts()
    for argv, stdin, message in BAD_INPUT:
        code, out, err = cli(*argv, stdin=stdin)
        assert code == 2, (argv, out)
        assert message in err and err.startswith("ztix: error:"), (argv, err)
        assert cli.counts() == before, argv


def test_password_is_never_an_argument(cli: Cli) -> None:
    with pytest.raises(SystemExit) as info:
        cli("user", "create", "alice", "--password", PASSWORD)
    assert info.value.code == 2
    assert cli.counts()[0] == 0


def test_the_console_command_prompts_for_the_password_twice(cli: Cli) -> None:
    # Without a terminal getpass reads standard input: two different lines, then equal ones.
    done = cli.child("user", "create", "alice", stdin=f"{PASSWORD}\n{PASSWORD}x\n")
    assert done.returncode == 2 and "the two passwords differ" in done.stderr
    assert cli.counts()[0] == 0
    done = cli.child("user", "create", "alice", "--admin", stdin=f"{PASSWORD}\n{PASSWORD}\n")
    assert done.returncode == 0 and done.stdout.startswith("created admin alice"), done.stderr


def test_reset_totp(cli: Cli) -> None:
    from ztix_core import totp
    from ztix_core.memory import PlainTestHasher
    from ztix_core.records import Actor
    from ztix_core.usecases.accounts import Accounts

    cli.ok("user", "create", "alice", "--password-stdin", stdin=PASSWORD + "\n")
    app = cli.app()
    accounts = Accounts(app.uow_factory, app.clock, PlainTestHasher())
    with app.uow_factory() as uow:
        alice = uow.users.get_by_username("alice")
    assert alice is not None
    secret = accounts.start_totp(Actor.user(alice), alice.id).secret
    accounts.confirm_totp(Actor.user(alice), alice.id, totp.totp(secret, app.clock.now()))
    before = cli.counts()
    code, _, err = cli("user", "reset-totp", "bob")
    assert code == 2 and "no account named 'bob'" in err
    assert cli.counts() == before
    out = cli.ok("user", "reset-totp", "alice")
    assert out.startswith("two-factor sign-in reset for alice")
    assert accounts.totp_status(alice.id).active is False
    assert cli.audit_actions()[-2:] == ["account.totp_enabled", "account.totp_reset"]
    code, _, err = cli("user", "reset-totp", "alice")
    assert code == 2 and "'alice' has no two-factor sign-in to reset" in err
