"""TOTP: RFC 6238's (and RFC 4226's) test vectors, the ±1 step window, the otpauth URI,
and the account use cases — enrolment confirmed by a first code, replays refused,
recovery codes used once, reset — each refusal changing nothing."""

from __future__ import annotations

import base64
import datetime as dt
import urllib.parse
import uuid

import pytest

from ztix_core import totp
from ztix_core.errors import Conflict, InvalidValue, NotFound, PermissionDenied
from ztix_core.memory import FixedClock, InMemoryStore, PlainTestHasher
from ztix_core.records import Actor, User
from ztix_core.usecases.accounts import RECOVERY_CODES, Accounts, SecondFactor

ADMIN = Actor.system("cli")
PASSWORD = "correct horse battery"
UTC = dt.UTC

# RFC 6238 appendix B: the seeds are ASCII digits, 20/32/64 bytes for SHA-1/256/512.
SEEDS = {
    "sha1": b"12345678901234567890",
    "sha256": b"12345678901234567890123456789012",
    "sha512": b"1234567890" * 6 + b"1234",
}
RFC6238 = [
    (59, "94287082", "46119246", "90693936"),
    (1111111109, "07081804", "68084774", "25091201"),
    (1111111111, "14050471", "67062674", "99943326"),
    (1234567890, "89005924", "91819424", "93441116"),
    (2000000000, "69279037", "90698825", "38618901"),
    (20000000000, "65353130", "77737706", "47863826"),
]
RFC4226 = ["755224", "287082", "359152", "969429", "338314"]
RFC4226 += ["254676", "287922", "162583", "399871", "520489"]


def _b32(seed: bytes) -> str:
    return base64.b32encode(seed).decode()


@pytest.mark.parametrize(("unix", "sha1", "sha256", "sha512"), RFC6238)
def test_rfc6238_vectors(unix: int, sha1: str, sha256: str, sha512: str) -> None:
    at = dt.datetime.fromtimestamp(unix, UTC)
    for digest, expected in (("sha1", sha1), ("sha256", sha256), ("sha512", sha512)):
        assert totp.totp(_b32(SEEDS[digest]), at, digits=8, digest=digest) == expected


def test_rfc4226_vectors() -> None:
    assert [totp.hotp(SEEDS["sha1"], n) for n in range(10)] == RFC4226


def test_window_is_one_step_either_side() -> None:
    secret = totp.new_secret()
    now = dt.datetime(2026, 12, 3, 7, 0, 15, tzinfo=UTC)
    step = totp.time_step(now)
    for offset in (-1, 0, 1):
        code = totp.totp(secret, now + dt.timedelta(seconds=30 * offset))
        assert totp.matching_step(secret, code, now) == step + offset
    for offset in (-2, 2):
        code = totp.totp(secret, now + dt.timedelta(seconds=30 * offset))
        assert totp.matching_step(secret, code, now) is None
    assert totp.matching_step(secret, "12345", now) is None
    assert totp.matching_step(secret, "abcdef", now) is None


def test_secret_and_uri() -> None:
    secret = totp.new_secret()
    assert len(secret) == 32 and len(totp.secret_bytes(secret)) == 20
    with pytest.raises(InvalidValue):
        totp.secret_bytes("not base32!")
    uri = totp.provisioning_uri(secret, "alice@example", "Example IX")
    parts = urllib.parse.urlsplit(uri)
    assert (parts.scheme, parts.netloc) == ("otpauth", "totp")
    assert parts.path == "/Example%20IX:alice%40example"
    query = urllib.parse.parse_qs(parts.query)
    assert query == {
        "secret": [secret],
        "issuer": ["Example IX"],
        "algorithm": ["SHA1"],
        "digits": ["6"],
        "period": ["30"],
    }


def test_recovery_codes_are_readable_and_normalised() -> None:
    code = totp.new_recovery_code()
    assert len(code) == 11 and code[5] == "-"
    assert totp.normal_recovery_code(f" {code.upper()} ") == code.replace("-", "")


# --------------------------------------------------------------------------- use cases


class Site:
    def __init__(self) -> None:
        self.store = InMemoryStore()
        self.clock = FixedClock(dt.datetime(2026, 12, 3, 7, 0, 0, tzinfo=UTC))
        self.accounts = Accounts(self.store, self.clock, PlainTestHasher())
        self.user = self.accounts.create(ADMIN, "alice", PASSWORD)
        self.actor = Actor.user(self.user)

    def enrol(self) -> tuple[str, list[str]]:
        secret = self.accounts.start_totp(self.actor, self.user.id).secret
        codes = self.accounts.confirm_totp(self.actor, self.user.id, self.code(secret))
        self.clock.advance(seconds=60)  # past the confirming code's step and the next
        return secret, codes

    def code(self, secret: str) -> str:
        return totp.totp(secret, self.clock.now())

    def snapshot(self) -> object:
        with self.store() as uow:
            return (
                uow.totp.get(self.user.id),
                uow.totp.recovery_codes(self.user.id),
                len(uow.audit.for_target("user", str(self.user.id))),
            )


@pytest.fixture
def site() -> Site:
    return Site()


def test_enrolment_is_pending_until_a_first_valid_code(site: Site) -> None:
    assert site.accounts.totp_status(site.user.id).active is False
    started = site.accounts.start_totp(site.actor, site.user.id)
    assert site.accounts.start_totp(site.actor, site.user.id) == started  # same secret again
    assert started.uri.startswith("otpauth://totp/ztix:alice?secret=" + started.secret)
    status = site.accounts.totp_status(site.user.id)
    assert (status.active, status.pending) == (False, True)
    # a pending secret does not guard sign-in: no code passes yet
    assert site.accounts.verify_second_factor(site.user.id, site.code(started.secret)) is None
    before = site.snapshot()
    with pytest.raises(InvalidValue, match="code"):
        site.accounts.confirm_totp(site.actor, site.user.id, "000000")
    assert site.snapshot() == before
    codes = site.accounts.confirm_totp(site.actor, site.user.id, site.code(started.secret))
    assert len(codes) == RECOVERY_CODES == len(set(codes))
    status = site.accounts.totp_status(site.user.id)
    assert (status.active, status.recovery_codes_left) == (True, RECOVERY_CODES)
    with site.store() as uow:
        stored = [c.code_hash for c in uow.totp.recovery_codes(site.user.id)]
        events = uow.audit.for_target("user", str(site.user.id))
    assert not set(stored) & {totp.normal_recovery_code(c) for c in codes}  # hashed
    assert events[-1].action == "account.totp_enabled"
    assert started.secret not in repr(events) and codes[0] not in repr(events)
    with pytest.raises(Conflict):
        site.accounts.start_totp(site.actor, site.user.id)


def test_only_the_owner_enrols(site: Site) -> None:
    other = site.accounts.create(ADMIN, "bob", PASSWORD, is_admin=True)
    before = site.snapshot()
    for actor in (Actor.user(other), ADMIN):
        with pytest.raises(PermissionDenied):
            site.accounts.start_totp(actor, site.user.id)
        with pytest.raises(PermissionDenied):
            site.accounts.confirm_totp(actor, site.user.id, "123456")
    assert site.snapshot() == before
    ghost = User(uuid.uuid4(), "ghost", "Ghost")
    with pytest.raises(NotFound):
        site.accounts.start_totp(Actor.user(ghost), ghost.id)
    with pytest.raises(Conflict):  # nothing pending
        site.accounts.confirm_totp(site.actor, site.user.id, "123456")


def test_codes_in_the_window_pass_once(site: Site) -> None:
    secret, _ = site.enrol()
    now = site.clock.now()
    previous = totp.totp(secret, now - dt.timedelta(seconds=30))
    assert site.accounts.verify_second_factor(site.user.id, previous) is SecondFactor.TOTP
    # replayed: refused, even though it is still inside the window
    assert site.accounts.verify_second_factor(site.user.id, previous) is None
    current = site.code(secret)
    assert site.accounts.verify_second_factor(site.user.id, current) is SecondFactor.TOTP
    assert site.accounts.verify_second_factor(site.user.id, current) is None
    # an older step than the last accepted one is refused too
    site.clock.advance(seconds=30)
    assert site.accounts.verify_second_factor(site.user.id, previous) is None
    nxt = totp.totp(secret, site.clock.now() + dt.timedelta(seconds=30))
    assert site.accounts.verify_second_factor(site.user.id, f"{nxt[:3]} {nxt[3:]}") is (
        SecondFactor.TOTP
    )
    far = totp.totp(secret, site.clock.now() + dt.timedelta(seconds=120))
    assert site.accounts.verify_second_factor(site.user.id, far) is None


def test_recovery_codes_work_once(site: Site) -> None:
    _, codes = site.enrol()
    first = codes[3]
    assert site.accounts.verify_second_factor(site.user.id, first.upper()) is (
        SecondFactor.RECOVERY_CODE
    )
    before = site.snapshot()
    assert site.accounts.verify_second_factor(site.user.id, first) is None
    assert site.accounts.verify_second_factor(site.user.id, "aaaaa-bbbbb") is None
    assert site.accounts.verify_second_factor(site.user.id, "x" * 65) is None
    assert site.accounts.verify_second_factor(site.user.id, "") is None
    assert site.snapshot() == before
    assert site.accounts.totp_status(site.user.id).recovery_codes_left == RECOVERY_CODES - 1
    with site.store() as uow:
        used = uow.audit.for_target("user", str(site.user.id))[-1]
    assert used.action == "account.totp_recovery_code_used"
    assert used.metadata["recovery_codes_left"] == RECOVERY_CODES - 1
    assert first not in repr(used)
    assert site.accounts.verify_second_factor(site.user.id, codes[4]) is (
        SecondFactor.RECOVERY_CODE
    )


def test_reset_turns_it_off_and_ends_sessions(site: Site) -> None:
    from ztix_core.web_ports import WebSession

    secret, _ = site.enrol()
    with site.store() as uow:
        now = site.clock.now()
        uow.web_sessions.create(
            WebSession("s", "c", now, now, now + dt.timedelta(hours=1), user_id=site.user.id)
        )
        uow.commit()
    before = site.snapshot()
    with pytest.raises(PermissionDenied):
        site.accounts.reset_totp(site.actor, "nobody")  # not an admin
    with pytest.raises(NotFound):
        site.accounts.reset_totp(ADMIN, "nobody")
    with pytest.raises(PermissionDenied):
        site.accounts.reset_totp(Actor("user", str(site.user.id), is_admin=False), "alice")
    assert site.snapshot() == before
    site.accounts.reset_totp(ADMIN, "alice")
    assert site.accounts.totp_status(site.user.id).active is False
    assert site.accounts.verify_second_factor(site.user.id, site.code(secret)) is None
    with site.store() as uow:
        assert uow.web_sessions.get("s", site.clock.now()) is None
        event = uow.audit.for_target("user", str(site.user.id))[-1]
    assert event.action == "account.totp_reset"
    assert event.metadata["sessions_ended"] == 1 and event.actor == "system:cli"
    with pytest.raises(NotFound, match="no two-factor"):
        site.accounts.reset_totp(ADMIN, "alice")
    # and the owner may enrol again, with a new secret
    assert site.accounts.start_totp(site.actor, site.user.id).secret != secret
