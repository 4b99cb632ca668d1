"""The worker's SIGHUP re-reads the controller token in place (no restart), re-runs
readiness, logs and audits; a provider that cannot reload leaves SIGHUP alone, so
``ztix controller reload-token --pid`` can refuse it instead of killing it."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

import attrs
import pytest

from ztix_core.errors import SettingsError
from ztix_core.memory import InMemoryProvider
from ztix_core.ports import ReadinessCheck, ReadinessReport
from ztix_core.records import AuditEvent, ZtNetwork
from ztix_worker.testing import MemoryExchange, memory_exchange, wait_for
from ztix_worker.token_reload import RELOAD_FAILED, RELOADED, install_token_reload

ACCEPTED = "rotated-token-0123456789"


@attrs.frozen
class Reloaded:
    source: str
    changed: bool


class TokenFileProvider(InMemoryProvider):
    """A provider whose token lives in a file, like the self-hosted one: requests use
    ``self.token``; the controller accepts only ``ACCEPTED``."""

    def __init__(self, token_file: Path) -> None:
        super().__init__()
        self.token_file = token_file
        self.token = token_file.read_text().strip()
        self.checked = threading.Event()

    def reload_token(self) -> Reloaded:
        text = self.token_file.read_text().strip() if self.token_file.exists() else ""
        if not text:
            raise SettingsError("ZT_CONTROLLER_AUTH_TOKEN_FILE", "holds no token")
        changed, self.token = text != self.token, text
        return Reloaded("file", changed)

    def check_readiness(self, networks: Sequence[ZtNetwork]) -> ReadinessReport:
        ok = self.token == ACCEPTED
        check = ReadinessCheck("token_accepted", ok, "" if ok else "401", "set the token file")
        self.checked.set()
        return ReadinessReport((check,))


def _caught(pid: int) -> bool:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("SigCgt:"):
            return bool(int(line.split()[1], 16) & 1)
    raise AssertionError("no SigCgt line")


@pytest.fixture
def exchange(tmp_path: Path) -> Iterator[tuple[MemoryExchange, TokenFileProvider]]:
    token_file = tmp_path / "authtoken.secret"
    token_file.write_text("old-token\n")
    provider = TokenFileProvider(token_file)
    yield memory_exchange(provider=provider), provider


def _hup_and_wait(ex: MemoryExchange, provider: TokenFileProvider, n: int) -> AuditEvent:
    provider.checked.clear()
    os.kill(os.getpid(), signal.SIGHUP)

    def events() -> list[AuditEvent]:
        with ex.store() as uow:
            return uow.audit.for_target("controller", provider.name)

    found = wait_for(lambda: events()[n - 1 :], what="audit event")
    return found[0]


def test_sighup_reloads_the_token_in_place_and_audits(
    exchange: tuple[MemoryExchange, TokenFileProvider],
) -> None:
    ex, provider = exchange
    assert not provider.check_readiness(()).ready
    uninstall = install_token_reload(ex.app)
    assert uninstall is not None
    try:
        assert _caught(os.getpid())  # the marker the CLI checks before signalling
        provider.token_file.write_text(ACCEPTED + "\n")
        event = _hup_and_wait(ex, provider, 1)
        assert event.action == RELOADED and event.actor == "system:worker"
        assert event.metadata["changed"] is True and event.metadata["ready"] is True
        assert provider.token == ACCEPTED  # the object the worker uses, no restart
        assert ACCEPTED not in repr(event.metadata)
        provider.token_file.write_text("")  # an empty file: the old token stays
        event = _hup_and_wait(ex, provider, 2)
        assert event.action == RELOAD_FAILED and "holds no token" in str(event.metadata)
        assert provider.token == ACCEPTED
    finally:
        uninstall()
    assert not _caught(os.getpid())


def test_a_provider_that_cannot_reload_leaves_sighup_alone() -> None:
    ex = memory_exchange()
    assert install_token_reload(ex.app) is None
    assert not _caught(os.getpid())
