"""The emulator's controller state, kept in a zerotier-one home directory.

Layout (what a backup of a real controller holds)::

    <home>/identity.secret            address:0:public:private (mode 0600)
    <home>/identity.public            address:0:public
    <home>/authtoken.secret           the API token (mode 0600)
    <home>/controller.d/network/<nwid>.json
    <home>/controller.d/network/<nwid>/member/<member>.json

Like zerotier-one's FileDB, records are loaded at start and written through on every real
change; file names are lowercase ids, the JSON inside is what the API returns.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import string
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ztix_adapters_zerotier.emulator.identity import Identity, load_or_create_identity

AUTHTOKEN_SECRET = "authtoken.secret"
CONTROLLER_D = "controller.d"

Record = dict[str, Any]


def now_ms() -> int:
    """Milliseconds since the epoch, like ``OSUtils::now()``."""
    return int(time.time() * 1000)


def generate_token() -> str:
    """A token like zerotier-one's: 24 random lowercase letters and digits."""
    alphabet = string.ascii_lowercase + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(24))


def write_secret_file(path: Path, text: str) -> None:
    """Write ``text`` atomically, readable by the owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def _write_json(path: Path, record: Record) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    # FileDB writes jsonDump(record, -1): compact, keys sorted
    tmp.write_text(json.dumps(record, separators=(",", ":"), sort_keys=True))
    os.replace(tmp, path)


def _same_record(old: Record, new: Record) -> bool:
    """FileDB's ``_compareRecords``: equal apart from ``revision``."""
    keys = (set(old) | set(new)) - {"revision"}
    return all(k in old and k in new and old[k] == new[k] for k in keys)


def _copy(record: Record) -> Record:
    copied: Record = json.loads(json.dumps(record))
    return copied


def _load_json(path: Path) -> Record | None:
    try:
        value = json.loads(path.read_text())
    except (OSError, ValueError):
        return None  # FileDB skips unreadable records too
    return value if isinstance(value, dict) else None


class ControllerState:
    """Networks and members of one emulated controller, persisted under ``home``.

    Every method is thread-safe; returned records are copies.
    """

    def __init__(
        self, home: Path, token: str | None = None, clock: Callable[[], int] = now_ms
    ) -> None:
        self.home = Path(home)
        self.clock = clock
        self.identity: Identity = load_or_create_identity(self.home)
        self._lock: threading.RLock = threading.RLock()
        token_path = self.home / AUTHTOKEN_SECRET
        if token is not None:
            write_secret_file(token_path, token)
        elif not token_path.exists():
            write_secret_file(token_path, generate_token())
        self.token = token_path.read_text().strip()
        #: fault hook: applied to every member record before it is stored (tests of a
        #: provider's read-back check); None in normal operation
        self.member_mangler: Callable[[Record], None] | None = None
        self._networks: dict[str, Record] = {}
        self._members: dict[str, dict[str, Record]] = {}
        self._load()

    # ------------------------------------------------------------------ paths and loading

    @property
    def address(self) -> str:
        """The controller's 10-hex node address."""
        return self.identity.address

    @property
    def network_dir(self) -> Path:
        return self.home / CONTROLLER_D / "network"

    def _network_path(self, nwid: str) -> Path:
        return self.network_dir / f"{nwid}.json"

    def _member_path(self, nwid: str, member_key: str) -> Path:
        return self.network_dir / nwid / "member" / f"{member_key}.json"

    def _load(self) -> None:
        if not self.network_dir.is_dir():
            return
        for path in sorted(self.network_dir.glob("*.json")):
            nwid = path.stem.lower()
            record = _load_json(path)
            if record is None or len(nwid) != 16:
                continue
            self._networks[nwid] = record
            members: dict[str, Record] = {}
            for mpath in sorted((self.network_dir / path.stem / "member").glob("*.json")):
                member = _load_json(mpath)
                if member is not None and len(mpath.stem) == 10:
                    members[mpath.stem.lower()] = member
            self._members[nwid] = members

    @property
    def lock(self) -> threading.RLock:
        """Held by the API around each read-modify-write, so concurrent POSTs to one record
        never lose an update."""
        return self._lock

    def set_token(self, token: str) -> None:
        """Replace the API token, in memory and in ``authtoken.secret``."""
        with self._lock:
            write_secret_file(self.home / AUTHTOKEN_SECRET, token)
            self.token = token

    # ------------------------------------------------------------------ networks

    def network_ids(self) -> list[str]:
        """Every network id, sorted."""
        with self._lock:
            return sorted(self._networks)

    def has_network(self, nwid: str) -> bool:
        with self._lock:
            return nwid.lower() in self._networks

    def get_network(self, nwid: str) -> Record | None:
        with self._lock:
            record = self._networks.get(nwid.lower())
            return _copy(record) if record is not None else None

    def save_network(self, record: Record) -> Record:
        """Store ``record`` (keyed by its ``id``); bump ``revision`` only on a real change.
        Returns the stored record (``record`` itself is updated in place too)."""
        nwid = str(record["id"]).lower()
        with self._lock:
            old = self._networks.get(nwid)
            if old is None or not _same_record(old, record):
                record["revision"] = int(record.get("revision") or 0) + 1
                self._networks[nwid] = _copy(record)
                self._members.setdefault(nwid, {})
                _write_json(self._network_path(nwid), record)
            return _copy(record)

    def delete_network(self, nwid: str) -> Record | None:
        """Remove the network and its members; the removed network, or None."""
        nwid = nwid.lower()
        with self._lock:
            record = self._networks.pop(nwid, None)
            if record is None:
                return None
            self._members.pop(nwid, None)
            self._network_path(nwid).unlink(missing_ok=True)
            shutil.rmtree(self.network_dir / nwid, ignore_errors=True)
            return record

    # ------------------------------------------------------------------ members

    def members(self, nwid: str) -> list[Record]:
        """The network's members, by id (copies); empty for an unknown network."""
        with self._lock:
            found = self._members.get(nwid.lower(), {})
            return [_copy(found[k]) for k in sorted(found)]

    def member_revisions(self, nwid: str) -> list[tuple[object, object]]:
        """(stored ``id``, ``revision``) of every member of the network, without copies."""
        with self._lock:
            found = self._members.get(nwid.lower(), {})
            return [(found[k].get("id"), found[k].get("revision")) for k in sorted(found)]

    def get_member(self, nwid: str, member_id: str) -> Record | None:
        with self._lock:
            record = self._members.get(nwid.lower(), {}).get(member_id.lower())
            return _copy(record) if record is not None else None

    def save_member(self, nwid: str, member_id: str, record: Record) -> Record:
        """Store the member; bump ``revision`` only on a real change. Like FileDB, an
        all-zero member id is never stored (the record is still returned)."""
        nwid, key = nwid.lower(), member_id.lower()
        with self._lock:
            if nwid not in self._networks or int(key, 16) == 0:
                return record
            if self.member_mangler is not None:
                self.member_mangler(record)
            old = self._members[nwid].get(key)
            if old is None or not _same_record(old, record):
                record["revision"] = int(record.get("revision") or 0) + 1
                self._members[nwid][key] = _copy(record)
                _write_json(self._member_path(nwid, key), record)
            return _copy(record)

    def delete_member(self, nwid: str, member_id: str) -> Record | None:
        """Remove the member; the removed record, or None."""
        nwid, key = nwid.lower(), member_id.lower()
        with self._lock:
            record = self._members.get(nwid, {}).pop(key, None)
            if record is not None:
                self._member_path(nwid, key).unlink(missing_ok=True)
            return record

    def fresh_network_id(self) -> str:
        """A random unused network id under this controller (6 random hex, never 000000)."""
        with self._lock:
            while True:
                suffix = secrets.randbits(24) or 1
                nwid = f"{self.address}{suffix:06x}"
                if nwid not in self._networks:
                    return nwid
