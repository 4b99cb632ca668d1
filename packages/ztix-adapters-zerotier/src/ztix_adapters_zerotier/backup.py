"""Backup and restore of a self-hosted controller's state.

A backup is a ``.tar.gz`` under ``ZT_CONTROLLER_BACKUP_DIR`` holding the ``controller.d/``
tree and the identity files (``identity.secret``, ``identity.public``,
``authtoken.secret``) of ``ZT_CONTROLLER_HOME``, plus ``manifest.json`` with the sha256 of
every file and the controller address. Archives are written owner-only (0600) and
atomically; the newest ``ZT_CONTROLLER_BACKUP_RETENTION_COUNT`` are kept.

Restore verifies the archive (checksums, safe paths, identity present and consistent) and
the identity (a backup of another controller is refused unless forced) before it touches
anything; the replaced state is moved aside, never deleted. Stop the controller first.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import os
import re
import shutil
import tarfile
import tempfile
import zlib
from collections.abc import Callable
from pathlib import Path, PurePosixPath

import attrs

from ztix_core.errors import ZtixError
from ztix_core.records import JsonDict

IDENTITY_SECRET = "identity.secret"
IDENTITY_PUBLIC = "identity.public"
AUTHTOKEN = "authtoken.secret"
IDENTITY_FILES = (IDENTITY_SECRET, IDENTITY_PUBLIC, AUTHTOKEN)
CONTROLLER_DIR = "controller.d"
MANIFEST = "manifest.json"
FORMAT = 1
PREFIX = "ztix-controller-backup-"
SUFFIX = ".tar.gz"
_NAME = re.compile(re.escape(PREFIX) + r"(\d{8}T\d{12}Z)(?:-(\d+))?" + re.escape(SUFFIX))
_ADDRESS = re.compile(r"[0-9a-f]{10}")


class BackupError(ZtixError):
    """A backup or restore was refused; ``kind`` says why (``not_a_home``, ``corrupt``,
    ``identity_mismatch``, ``bad_setting``, ``io``). Nothing was changed."""

    code = "backup_error"

    def __init__(self, message: str, *, kind: str, remediation: str = "") -> None:
        super().__init__(message, kind=kind, remediation=remediation)
        self.kind = kind
        self.remediation = remediation


@attrs.frozen
class Manifest:
    """What a backup holds: every file's sha256 and size, and whose identity it is."""

    format: int
    created_at: str
    controller: str
    files: dict[str, str]
    sizes: dict[str, int] = attrs.field(factory=dict)

    def to_json(self) -> bytes:
        return json.dumps(attrs.asdict(self), indent=2, sort_keys=True).encode()


@attrs.frozen
class BackupResult:
    """A backup written, and the old archives retention removed."""

    path: Path
    manifest: Manifest
    removed: tuple[Path, ...] = ()


@attrs.frozen
class RestoreResult:
    """A restore done: where, from what, and where the replaced state was moved."""

    home: Path
    archive: Path
    manifest: Manifest
    previous: Path | None = None
    forced: bool = False


def identity_address(public: str) -> str:
    """The 10-hex address at the start of a ZeroTier identity (``address:0:key…``)."""
    address = public.strip().split(":", 1)[0].lower()
    if not _ADDRESS.fullmatch(address):
        raise BackupError(
            "the identity does not start with a 10-hex address",
            kind="corrupt",
            remediation="use another backup",
        )
    return address


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _collect(home: Path) -> dict[str, bytes]:
    if not home.is_dir():
        raise BackupError(
            f"{home} is not a directory",
            kind="not_a_home",
            remediation="set ZT_CONTROLLER_HOME to the controller's home "
            "(e.g. /var/lib/zerotier-one)",
        )
    files: dict[str, bytes] = {}
    for name in IDENTITY_FILES:
        path = home / name
        if path.is_file():
            files[name] = path.read_bytes()
        elif name != AUTHTOKEN:
            raise BackupError(
                f"{home} has no {name}: not a controller home",
                kind="not_a_home",
                remediation="set ZT_CONTROLLER_HOME to the controller's home",
            )
    tree = home / CONTROLLER_DIR
    if tree.is_dir():
        for path in sorted(tree.rglob("*")):
            # *.tmp: a write in progress (write-then-rename), not state.
            if path.is_file() and not path.is_symlink() and path.suffix != ".tmp":
                files[path.relative_to(home).as_posix()] = path.read_bytes()
    return files


def _archive_name(backup_dir: Path, now: dt.datetime) -> Path:
    stamp = now.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
    path = backup_dir / f"{PREFIX}{stamp}{SUFFIX}"
    n = 1
    while path.exists():
        path = backup_dir / f"{PREFIX}{stamp}-{n}{SUFFIX}"
        n += 1
    return path


def list_backups(backup_dir: Path) -> list[Path]:
    """ztix's archives in ``backup_dir``, oldest first (names sort by time)."""
    if not backup_dir.is_dir():
        return []

    def key(p: Path) -> tuple[str, int]:
        m = _NAME.fullmatch(p.name)
        assert m is not None
        return m.group(1), int(m.group(2) or 0)

    found = [p for p in backup_dir.iterdir() if _NAME.fullmatch(p.name) and p.is_file()]
    return sorted(found, key=key)


def apply_retention(backup_dir: Path, keep: int) -> tuple[Path, ...]:
    """Delete all but the newest ``keep`` archives; returns what was deleted."""
    if keep < 1:
        raise BackupError(
            f"retention must keep at least 1 backup, got {keep}",
            kind="bad_setting",
            remediation="set ZT_CONTROLLER_BACKUP_RETENTION_COUNT >= 1",
        )
    old = list_backups(backup_dir)[:-keep]
    for path in old:
        path.unlink()
    return tuple(old)


def create_backup(
    home: str | Path,
    backup_dir: str | Path,
    *,
    retention: int,
    now: dt.datetime | None = None,
) -> BackupResult:
    """Archive the controller state of ``home`` into ``backup_dir`` and apply retention."""
    if retention < 1:
        raise BackupError(
            f"retention must keep at least 1 backup, got {retention}",
            kind="bad_setting",
            remediation="set ZT_CONTROLLER_BACKUP_RETENTION_COUNT >= 1",
        )
    home, backup_dir = Path(home), Path(backup_dir)
    files = _collect(home)
    now = now or dt.datetime.now(dt.UTC)
    manifest = Manifest(
        FORMAT,
        now.astimezone(dt.UTC).isoformat(),
        identity_address(files[IDENTITY_PUBLIC].decode(errors="replace")),
        {name: _sha256(data) for name, data in files.items()},
        {name: len(data) for name, data in files.items()},
    )
    backup_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    target = _archive_name(backup_dir, now)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=SUFFIX, dir=backup_dir)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as raw, tarfile.open(fileobj=raw, mode="w:gz") as tar:
            for name, data in [(MANIFEST, manifest.to_json()), *files.items()]:
                info = tarfile.TarInfo(name)
                info.size = len(data)
                info.mode = 0o600
                info.mtime = int(now.timestamp())
                tar.addfile(info, io.BytesIO(data))
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    removed = apply_retention(backup_dir, retention)
    return BackupResult(target, manifest, removed)


def _safe_name(name: str) -> bool:
    path = PurePosixPath(name)
    return (
        bool(name)
        and not path.is_absolute()
        and ".." not in path.parts
        and (name in IDENTITY_FILES or name == MANIFEST or path.parts[0] == CONTROLLER_DIR)
    )


def read_backup(archive: str | Path) -> tuple[Manifest, dict[str, bytes]]:
    """Open and fully verify an archive: safe member names, regular files only, a
    manifest whose checksums match every file (no file missing, none extra), the identity
    present and matching the manifest. Raises BackupError(kind="corrupt") otherwise."""
    archive = Path(archive)

    def corrupt(why: str) -> BackupError:
        return BackupError(
            f"backup {archive.name} is unusable: {why}",
            kind="corrupt",
            remediation="use another backup; this one must not be restored",
        )

    if not archive.is_file():
        raise BackupError(
            f"backup {archive} does not exist",
            kind="io",
            remediation="name an existing archive in ZT_CONTROLLER_BACKUP_DIR",
        )
    contents: dict[str, bytes] = {}
    try:
        with tarfile.open(archive, mode="r:gz") as tar:
            for member in tar.getmembers():
                if not member.isfile() or not _safe_name(member.name):
                    raise corrupt(f"unexpected entry {member.name!r}")
                if member.name in contents:
                    raise corrupt(f"duplicate entry {member.name!r}")
                fh = tar.extractfile(member)
                assert fh is not None
                contents[member.name] = fh.read()
    except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
        raise corrupt(f"cannot read the archive ({type(exc).__name__})") from None
    if MANIFEST not in contents:
        raise corrupt("no manifest")
    try:
        raw = json.loads(contents.pop(MANIFEST))
        manifest = Manifest(
            int(raw["format"]),
            str(raw["created_at"]),
            str(raw["controller"]),
            {str(k): str(v) for k, v in raw["files"].items()},
            {str(k): int(v) for k, v in raw.get("sizes", {}).items()},
        )
    except (ValueError, KeyError, TypeError, AttributeError):
        raise corrupt("the manifest is not valid") from None
    if manifest.format != FORMAT:
        raise corrupt(f"unknown manifest format {manifest.format}")
    if set(manifest.files) != set(contents):
        missing = sorted(set(manifest.files) - set(contents))
        extra = sorted(set(contents) - set(manifest.files))
        raise corrupt(f"files do not match the manifest (missing {missing}, extra {extra})")
    bad = sorted(n for n, data in contents.items() if _sha256(data) != manifest.files[n])
    if bad:
        raise corrupt(f"checksum mismatch: {', '.join(bad)}")
    for name in (IDENTITY_SECRET, IDENTITY_PUBLIC):
        if name not in contents:
            raise corrupt(f"no {name}")
    address = identity_address(contents[IDENTITY_PUBLIC].decode(errors="replace"))
    secret_address = identity_address(contents[IDENTITY_SECRET].decode(errors="replace"))
    if address != manifest.controller or secret_address != address:
        raise corrupt("the identity files do not match the manifest's controller")
    return manifest, contents


def verify_backup(archive: str | Path) -> Manifest:
    """Verify an archive (see :func:`read_backup`) and return its manifest."""
    return read_backup(archive)[0]


def home_identity(home: Path) -> str | None:
    """The public identity already in ``home``, or None."""
    public = home / IDENTITY_PUBLIC
    if public.is_file():
        return public.read_text().strip()
    secret = home / IDENTITY_SECRET
    if secret.is_file():  # zerotier-one rewrites identity.public from the secret at start
        return ":".join(secret.read_text().strip().split(":")[:3])
    return None


def _mkdirs(root: Path, path: Path) -> None:
    """Create ``path`` under ``root`` with every new directory owner-only (``mkdir
    parents=True`` would give the intermediate ones the default mode)."""
    current = root
    for part in path.relative_to(root).parts:
        current = current / part
        if not current.is_dir():
            current.mkdir(mode=0o700)


def restore_backup(
    archive: str | Path,
    home: str | Path,
    *,
    force: bool = False,
    now: Callable[[], dt.datetime] | None = None,
    durable: bool = True,
) -> RestoreResult:
    """Restore ``archive`` into ``home`` (stop the controller first).

    Verifies everything first; refuses (BackupError kind ``identity_mismatch``) a backup
    whose identity differs from the identity already in ``home`` unless ``force``. The
    replaced ``controller.d`` and identity files are moved to ``home/.ztix-pre-restore-*``.
    ``durable=False`` skips the per-file fsync (scratch homes of a drill).
    """
    archive, home = Path(archive), Path(home)
    manifest, contents = read_backup(archive)
    current = home_identity(home)
    backup_public = contents[IDENTITY_PUBLIC].decode(errors="replace").strip()
    if current is not None and current != backup_public and not force:
        raise BackupError(
            f"backup {archive.name} holds controller {manifest.controller}'s identity but "
            f"{home} holds {identity_address(current)}'s; restoring would change every "
            "network id",
            kind="identity_mismatch",
            remediation="restore into the matching controller's home, or pass --force to "
            "replace this controller's identity on purpose",
        )
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    stamp = (now or (lambda: dt.datetime.now(dt.UTC)))().strftime("%Y%m%dT%H%M%S%fZ")
    staging = Path(tempfile.mkdtemp(prefix=".ztix-restore-", dir=home))
    try:
        for name, data in contents.items():
            path = staging / name
            _mkdirs(staging, path.parent)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                if durable:
                    fh.flush()
                    os.fsync(fh.fileno())
        replaced = [n for n in (*IDENTITY_FILES, CONTROLLER_DIR) if (home / n).exists()]
        previous: Path | None = None
        if replaced:
            previous = home / f".ztix-pre-restore-{stamp}"
            previous.mkdir(mode=0o700)
            for name in replaced:
                os.replace(home / name, previous / name)
        for name in (*IDENTITY_FILES, CONTROLLER_DIR):
            if (staging / name).exists():
                os.replace(staging / name, home / name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return RestoreResult(
        home,
        archive,
        manifest,
        previous,
        force and current is not None and current != backup_public,
    )


def backup_metadata(result: BackupResult) -> JsonDict:
    """Audit metadata of a backup (no secrets: names, counts and checksums only)."""
    return {
        "archive": result.path.name,
        "controller": result.manifest.controller,
        "files": len(result.manifest.files),
        "bytes": sum(result.manifest.sizes.values()),
        "removed": [p.name for p in result.removed],
    }


def restore_metadata(result: RestoreResult) -> JsonDict:
    """Audit metadata of a restore (no secrets)."""
    return {
        "archive": result.archive.name,
        "controller": result.manifest.controller,
        "home": str(result.home),
        "files": len(result.manifest.files),
        "previous": str(result.previous) if result.previous else None,
        "forced": result.forced,
    }
