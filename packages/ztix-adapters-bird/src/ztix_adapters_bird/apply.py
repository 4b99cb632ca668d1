"""Safe apply of one route server's config set, the same over SSH and locally.

Stages (one apply at a time per server, held by a lock directory on the server), in three
round trips — two when the caller knows what the server has (its own last apply): then
round trips 1 and 2 travel together. The stage names are what a failed ApplyOutcome
reports:

* round trip 1
    ``probe``     take the lock, read the manifest (``.ztix-applied``: digest and one sha256
                  per file) and list the live files (skipped when the manifest names the
                  digest the caller applied last); ``recover`` an interrupted apply first.
* round trip 2
    ``upload``    only the changed files (one tar stream, mode 0640 and the config dir's
                  group: never 0600, BIRD reads as its own user) into the staging dir, a
                  hard-link mirror of the live files kept between applies.
    ``parse``     ``bird -p -c staging/bird.conf``.
    ``check``     ``birdc configure check "staging/bird.conf"`` (the daemon parses it, as
                  its user); 0020 required.
* round trip 3 (one script; each step only after the previous one succeeded)
    ``swap``      hard-link backups of every file about to change, then rename the new
                  files into place and delete the peer files no longer desired.
    ``configure`` ``birdc configure timeout N`` (the daemon's main config); 0003/0004.
    ``health``    the daemon answers and every protocol the new files declare exists.
    ``confirm``   ``birdc configure confirm``; 0018 required.
    then: drop the backup, update the manifest, re-link the mirror, release the lock.

Any failure after ``swap`` puts the backed-up files back (the same inodes: byte-identical,
same mode and owner) and, after ``configure``, sends ``configure undo``. Failures before
``swap`` touch nothing but the staging dir. An apply that dies after ``swap`` leaves its
backup and plan; the next apply restores them first (stage ``recover``), taking the dead
apply's lock over at once when its owner (``host:pid:tag``) is a dead process of this host
or carries the caller's own tag; a lock the apply itself holds is never waited for.
Scripts sent on stdin are one brace group (:func:`whole_or_nothing`): cut short in
transit, they run nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import io
import json
import os
import re
import shlex
import socket
import tarfile
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence

import attrs

from ztix_adapters_bird import birdc
from ztix_adapters_bird.settings import RemotePaths, RouteServerSettings
from ztix_adapters_bird.transport import CommandResult, Transport, TransportError
from ztix_core.errors import InvalidValue
from ztix_core.ports import ApplyOutcome

MAIN_FILE = "bird.conf"
MANIFEST = ".ztix-applied"
MANIFEST_HEADER = "ztix-applied v1 "
BACKUP = ".ztix-backup"
LOCK = ".ztix-lock"
PLAN = ".ztix-plan"
#: ``find -printf`` of the live files (name, inode, size, mtime, mode) after ztix's last
#: apply: an apply whose listing differs hashes the live files instead of trusting the
#: manifest, so a hand edit is re-uploaded.
STAT = ".ztix-stat"
#: BIRD's "Last reboot on" and "Last reconfiguration on" right after ztix's last
#: configure: when ``show status`` says otherwise, someone else restarted or reconfigured
#: the daemon, and the running config may not be ztix's.
CONFIGURED = ".ztix-configured"
LOCKED_EXIT = 75
#: The lock step could not create the lock directory although nobody holds it.
LOCK_ERROR_EXIT = 76

# Top-level dot names are ztix's own (manifest, lock, backup, staging); deeper ones (e.g.
# ``peers/.keep``) are config files like any other.
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.+-]*(/[A-Za-z0-9_.][A-Za-z0-9_.+-]*)*$")
_PATH_BAD = re.compile(r"[\"'\s\\;]")


#: What birdc (or the health check) says when the daemon is not there to answer: it is
#: restarting or stopped. Anything else BIRD says about a config is its verdict.
_DAEMON_UNREACHABLE = (
    "Unable to connect to server control socket",
    "Connection closed by server",
    "Server read error",
    "Server write error",
    "the daemon does not answer",
)


def daemon_unreachable(message: str) -> bool:
    """True when ``message`` says the BIRD daemon could not be asked (a transient state:
    restarting, stopped), as opposed to an answer refusing something."""
    return any(text in message for text in _DAEMON_UNREACHABLE)


class ApplyFailed(Exception):
    """A stage failed; carries the stage and BIRD's (or the shell's) message.

    ``transient`` when the daemon could not be asked at all (see :func:`daemon_unreachable`):
    the same apply may succeed once it is back."""

    def __init__(self, stage: str, message: str) -> None:
        super().__init__(f"{stage}: {message}")
        self.stage = stage
        self.message = message
        self.transient = stage in _DAEMON_STAGES and daemon_unreachable(message)


#: Stages that ask the daemon (``lock`` and ``parse`` never do: their failures stand).
_DAEMON_STAGES = frozenset({"check", "recover", "configure", "health", "confirm"})


def validate_file_names(files: Iterable[str]) -> None:
    """Raise InvalidValue unless every name is a plain relative path ztix may write
    (no dot files, no ``..``, no absolute paths, no shell or BIRD metacharacters)."""
    names = list(files)
    if MAIN_FILE not in names:
        raise InvalidValue("files", f"the config set has no {MAIN_FILE}")
    for name in names:
        if not _NAME.match(name) or any(part in (".", "..") for part in name.split("/")):
            raise InvalidValue("files", f"{name!r} is not a plain relative file name")


def validate_paths(paths: RemotePaths) -> None:
    """Raise InvalidValue for remote paths the pipeline cannot use safely."""
    for field in ("config_dir", "bird", "birdc", "control_socket", "staging_dir"):
        value = getattr(paths, field)
        if field == "staging_dir" and not value:
            continue
        if not value.startswith("/") or _PATH_BAD.search(value):
            raise InvalidValue(
                f"paths.{field}",
                f"{value!r} must be an absolute path without quotes, "
                "spaces, backslashes or semicolons",
            )
    staging = staging_dir(paths)
    config = paths.config_dir.rstrip("/")
    if staging.startswith(config + "/"):
        first = staging[len(config) + 1 :].split("/")[0]
        if not first.startswith("."):
            raise InvalidValue("paths.staging_dir", "inside config_dir it must be a dot directory")


def staging_dir(paths: RemotePaths) -> str:
    """The staging dir (default ``<config_dir>/.staging``)."""
    return paths.staging_dir or paths.config_dir.rstrip("/") + "/.staging"


# Per file content: one apply looks at every file several times (plan, manifest, health
# expectation) and the next apply sees the same contents again; 3,000 files are hashed once.
_DIGESTS: dict[bytes, str] = {}
_NAMES: dict[str, tuple[str, ...]] = {}
_CACHE_LIMIT = 50_000
_PROTOCOL = re.compile(rb"^[ \t]*protocol[ \t]+[a-z0-9]+[ \t]+([A-Za-z_][A-Za-z0-9_]*)\b", re.M)


def file_digest(data: bytes) -> str:
    """sha256 of one file (cached by content)."""
    found = _DIGESTS.get(data)
    if found is None:
        if len(_DIGESTS) > _CACHE_LIMIT:
            _DIGESTS.clear()
        found = _DIGESTS[data] = hashlib.sha256(data).hexdigest()
    return found


def protocol_names_in(files: Mapping[str, bytes]) -> list[str]:
    """Names of the protocols the config set declares (``protocol TYPE NAME``), sorted
    bytewise (the health check's expectation)."""
    names: set[str] = set()
    if len(_NAMES) > _CACHE_LIMIT:
        _NAMES.clear()
    for data in files.values():
        key = file_digest(data)
        found = _NAMES.get(key)
        if found is None:
            found = _NAMES[key] = tuple(m.decode() for m in _PROTOCOL.findall(data))
        names.update(found)
    return sorted(names)


@attrs.frozen
class RemoteState:
    """What the probe found on the server.

    ``hashes`` are the manifest's, or the live files' own when ``files_drifted`` (their
    listing is not the one ztix's last apply left). ``reconfigured``: the daemon was
    restarted or reconfigured since ztix's last configure (it must be configured again
    even when no file changes)."""

    digest: str
    hashes: Mapping[str, str]
    files: frozenset[str]
    dirs: frozenset[str]
    pending_plan: Mapping[str, list[str]] | None
    files_drifted: bool = False
    reconfigured: bool = False


@attrs.frozen
class Plan:
    """The file changes of one apply."""

    changed: tuple[str, ...]
    removed: tuple[str, ...]
    existing: tuple[str, ...]  # changed or removed names that exist live (get backed up)
    new_dirs: tuple[str, ...]

    def to_json(self) -> str:
        return json.dumps(attrs.asdict(self), sort_keys=True)


def make_plan(files: Mapping[str, bytes], state: RemoteState) -> Plan:
    """Which files to upload and which to delete, against the live state."""
    changed = tuple(
        sorted(
            name
            for name, data in files.items()
            if name not in state.files or state.hashes.get(name) != file_digest(data)
        )
    )
    removed = tuple(sorted(state.files - set(files)))
    existing = tuple(sorted((set(changed) | set(removed)) & state.files))
    needed: set[str] = set()
    for name in changed:
        parts = name.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            needed.add("/".join(parts[:i]))
    new_dirs = tuple(sorted(needed - state.dirs))
    return Plan(changed, removed, existing, new_dirs)


# --------------------------------------------------------------------------- remote scripts

# Take the lock. Held by this very apply already (``$OWNER``: after recovering an
# interrupted apply it probes again): keep it. Not held by anyone, yet ``mkdir`` fails
# (permissions, a read-only file system): say why at once (exit 76), never "locked".
_LOCK = r"""
[ -d "$C" ] || { echo "config dir $C does not exist"; exit 1; }
if ! mkdir -- "$L" 2>/dev/null; then
  o=
  read -r o 2>/dev/null < "$L/owner" || o=
  if [ -n "$o" ] && [ "$o" = "$OWNER" ]; then
    :
  elif [ ! -e "$L" ]; then
    err=$(mkdir -- "$L" 2>&1) || { echo "cannot take the lock: $err"; exit 76; }
  else
    now=$(date +%s); t=$(stat -c %Y -- "$L" 2>/dev/null || echo "$now")
    if [ $((now - t)) -lt "$STALE" ]; then
      echo "locked by $o"; exit 75
    fi
    rm -rf -- "$L"; mkdir -- "$L" 2>/dev/null || exit 75
  fi
fi
printf '%s\n' "$OWNER" > "$L/owner"
"""

#: How far apart BIRD may print one instant: it keeps its boot and reconfiguration times
#: on its monotonic clock and converts them to wall-clock time at each ``show status``, so
#: two calls can differ by one in the last digit of the milliseconds. No wider: someone
#: else's reconfiguration right after ztix's must still show (a birdc round trip alone
#: takes longer than this).
TIME_TOLERANCE_S = 0.002
_STAMP = re.compile(r"(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(\.\d+)?")


def _instant(match: re.Match[str]) -> float:
    y, mo, d, h, mi, sec = (int(match.group(i)) for i in range(1, 7))
    at = dt.datetime(y, mo, d, h, mi, sec, tzinfo=dt.UTC).timestamp()
    return at + float(match.group(7) or 0)


def same_bird_times(now: Sequence[str], recorded: Sequence[str]) -> bool:
    """Whether BIRD's "Last reboot on" / "Last reconfiguration on" lines name the same
    instants as those recorded after ztix's last configure (within
    :data:`TIME_TOLERANCE_S`; lines without a recognisable time must match exactly)."""
    if len(now) != len(recorded):
        return False
    for a, b in zip(now, recorded, strict=True):
        if a == b:
            continue
        ma, mb = _STAMP.search(a), _STAMP.search(b)
        if ma is None or mb is None or a[: ma.start()] != b[: mb.start()]:
            return False
        if abs(_instant(ma) - _instant(mb)) > TIME_TOLERANCE_S:
            return False
    return True


# The same judgement in awk (the probe decides on the server, in its one round trip):
# the recorded file first, then BIRD's lines on stdin; exit 0 when they name the same
# instants. Plain awk arithmetic (mawk has no mktime): days from the civil date.
_SAME_TIMES_AWK = r"""
function secs(s,   d, t, y, m) {
  if (!match(s, /[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9][ T][0-9][0-9]:[0-9][0-9]:[0-9][0-9]/))
    return -1
  split(substr(s, RSTART, 10), d, "-")
  split(substr(s, RSTART + 11), t, ":")
  y = d[1] + 0; m = d[2] + 0
  if (m <= 2) { y--; m += 12 }
  return (365 * y + int(y / 4) - int(y / 100) + int(y / 400) \
    + int((153 * (m - 3) + 2) / 5) + d[3]) * 86400 + t[1] * 3600 + t[2] * 60 + (t[3] + 0)
}
FILENAME == ARGV[1] { rec[++nr] = $0; next }
{ now[++nn] = $0 }
END {
  if (nr != nn || nn == 0) exit 1
  for (i = 1; i <= nn; i++) {
    if (now[i] == rec[i]) continue
    a = secs(now[i]); b = secs(rec[i])
    if (a < 0 || b < 0) exit 1
    if (substr(now[i], 1, index(now[i], " on ")) != substr(rec[i], 1, index(rec[i], " on "))) exit 1
    if (a - b > TOL || b - a > TOL) exit 1
  }
  exit 0
}
""".replace("TOL", str(TIME_TOLERANCE_S))

# The live files' listing, compared with the one ztix's last apply recorded (STAT), and
# BIRD's restart/reconfiguration times, compared with those after ztix's last configure
# (CONFIGURED). A daemon that does not answer is not judged here (the apply finds out).
_FINGERPRINT = r"""
FPOK=0
if ( cd -- "$C" && find . -path './.*' -prune -o -type f -printf '%P %i %s %T@ %m\n' ) \
  | cmp -s - "$C/.ztix-stat"; then FPOK=1; fi
RUNOK=1
"""
_RUNNING = (
    r"""
ST=$("$BIRDC" -s "$SOCK" show status 2>/dev/null \
  | awk '/Last (reboot|reconfiguration) on/ { sub(/^[0-9]+-/, ""); sub(/^ +/, ""); print }')
if [ -n "$ST" ] && ! printf '%s\n' "$ST" \
  | awk '"""
    + _SAME_TIMES_AWK
    + r"""' "$C/.ztix-configured" - 2>/dev/null; then RUNOK=0; fi
"""
)

_LISTING = r"""
[ "$RUNOK" = 1 ] || echo "@@reconfigured"
echo "@@pending"
[ -f "$B/.complete" ] && cat -- "$B/.ztix-plan"
echo
echo "@@manifest"
cat -- "$C/.ztix-applied" 2>/dev/null
echo
echo "@@files"
cd -- "$C" && find . -path './.*' -prune \
  -o -type f -printf 'f %P\n' -o -type d -printf 'd %P\n'
if [ "$FPOK" != 1 ]; then
  echo "@@hashes"
  find . -path './.*' -prune -o -type f -printf '%P\0' | xargs -0 -r sha256sum --
fi
"""

_PROBE = (
    "C=$1; L=$2; STALE=$3; OWNER=$4; B=$5; KNOWN=$6; BIRDC=$7; SOCK=$8; VERIFY=${9:-0}\n"
    + _LOCK
    + _FINGERPRINT
    + _RUNNING
    + r"""
# asked to hash whatever the listing says (a drift check found a difference it hides)
[ "$VERIFY" = 1 ] && FPOK=0
h=
read -r h 2>/dev/null < "$C/.ztix-applied" || h=
if [ ! -f "$B/.complete" ] && [ -n "$KNOWN" ] && [ "$h" = "$KNOWN" ] && [ "$FPOK" = 1 ] \
  && [ "$RUNOK" = 1 ]; then
  echo "@@same"
  exit 0
fi
"""
    + _LISTING
)

_UPLOAD_BODY = r"""
set -e
umask 027
# The staging dir left by the last apply mirrors the live files (hard links) when its
# marker names the live manifest: then only the changed files need to be written.
# (shell builtins only on this path: every process costs milliseconds on a busy server)
MIRROR=0 m= h=
if [ "$FULL" = 0 ] && [ -s "$S/.ztix-mirror" ]; then
  read -r m < "$S/.ztix-mirror" || m=
  read -r h < "$C/.ztix-applied" || h=
fi
if [ -n "$m" ] && [ "$m" = "$h" ]; then
  : > "$S/.ztix-mirror"
  MIRROR=1
else
  rm -rf -- "$S"
  mkdir -p -- "$S"
  chgrp --reference="$C" -- "$S"
  if [ "$FULL" = 0 ]; then
    for f in "$C"/*; do
      # hard links are cheap; protected_hardlinks refuses them for others' files
      if [ -e "$f" ]; then
        cp -al -- "$f" "$S"/ 2>/dev/null || cp -a --remove-destination -- "$f" "$S"/
      fi
    done
  fi
fi
tar -x -U -p --no-same-owner -f - -C "$S"
cd -- "$S"
if [ -s .ztix-remove ]; then tr '\n' '\0' < .ztix-remove | xargs -0 -r rm -f --; fi
tr '\n' '\0' < .ztix-changed | xargs -0 -r chgrp --reference="$C" --
if [ "$MIRROR" = 1 ]; then
  if [ -s .ztix-newdirs ]; then
    tr '\n' '\0' < .ztix-newdirs | xargs -0 -r chgrp --reference="$C" --
    tr '\n' '\0' < .ztix-newdirs | xargs -0 -r chmod g+rx --
  fi
else
  find . -type d -exec chgrp --reference="$C" -- {} + -exec chmod g+rx -- {} +
fi
echo "@@parse"
"$BIRD" -p -c "$S/bird.conf" 2>&1 || exit 3
echo "@@check"
exec "$BIRDC" -s "$SOCK" -v configure check "\"$S/bird.conf\""
"""

_UPLOAD = "C=$1; S=$2; FULL=$3; BIRD=$4; BIRDC=$5; SOCK=$6\n" + _UPLOAD_BODY

# One round trip when the caller knows what the server has: lock, and when the manifest
# still names that digest (and no interrupted apply waits), the upload prepared against
# it; otherwise the probe's answer (the lock is held either way, unless exit 75).
_PROBE_UPLOAD = (
    "C=$1; L=$2; STALE=$3; OWNER=$4; B=$5; KNOWN=$6; S=$7; FULL=$8; BIRD=$9; BIRDC=${10}; "
    "SOCK=${11}\n"
    + _LOCK
    + _FINGERPRINT
    + r"""
h=
read -r h 2>/dev/null < "$C/.ztix-applied" || h=
if [ -f "$B/.complete" ] || [ "$h" != "$KNOWN" ] || [ "$FPOK" != 1 ]; then
"""
    + _LISTING
    + r"""
  exit 0
fi
echo "@@same"
"""
    + _UPLOAD_BODY
)

_RELEASE = r"""
L=$1; OWNER=$2; S=$3; KEEP=$4; C=$5
[ "$KEEP" = 1 ] || rm -rf -- "$S"
# the live files were found identical to the desired ones: record their listing again
if [ -n "$C" ]; then
  ( cd -- "$C" && find . -path './.*' -prune -o -type f -printf '%P %i %s %T@ %m\n' ) \
    > "$C/.ztix-stat.new" && mv -f -- "$C/.ztix-stat.new" "$C/.ztix-stat"
fi
[ "$(cat -- "$L/owner" 2>/dev/null)" = "$OWNER" ] && rm -rf -- "$L"
exit 0
"""


def _q(items: Iterable[str]) -> str:
    return " ".join(shlex.quote(i) for i in items)


def _chunks(items: Sequence[str], size: int = 400) -> Iterable[Sequence[str]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def swap_script(config: str, staging: str, backup: str, plan: Plan) -> str:
    """Back up, then move the new files in and delete the removed ones."""
    c, s, b = shlex.quote(config), shlex.quote(staging), shlex.quote(backup)
    lines = [
        "set -e",
        "umask 027",
        f"cd {c}",
        f"if [ -e {b} ]; then rm -rf -- {b}; fi",
        f"mkdir {b}",
    ]
    lines += [
        f"cp -al --parents -t {b} -- {_q(chunk)} 2>/dev/null || "
        f"cp -a --remove-destination --parents -t {b} -- {_q(chunk)}"
        for chunk in _chunks(plan.existing)
    ]
    lines.append(f"printf '%s' {shlex.quote(plan.to_json())} > {b}/{PLAN}")
    lines.append(f": > {b}/.complete")
    for d in plan.new_dirs:
        lines.append(f"mkdir -- {shlex.quote(d)}")
        lines.append(f"chgrp --reference={c} -- {shlex.quote(d)}")
    by_dir: dict[str, list[str]] = {}
    for name in plan.changed:
        by_dir.setdefault(os.path.dirname(name), []).append(name)
    for d, names in sorted(by_dir.items()):
        target = shlex.quote(d or ".")
        for chunk in _chunks(names):
            lines.append(f"mv -f -t {target} -- {_q(s + '/' + n for n in chunk)}")
    lines += [f"rm -f -- {_q(chunk)}" for chunk in _chunks(plan.removed)]
    return "\n".join(lines) + "\n"


def restore_script(config: str, backup: str, plan: Plan) -> str:
    """Put back every backed-up file (same inode) and remove what the swap added."""
    c, b = shlex.quote(config), shlex.quote(backup)
    # Without a complete backup the swap never touched the live files.
    lines = [f"[ -f {b}/.complete ] || {{ rm -rf -- {b}; exit 0; }}", f"cd {c} || exit 1", "rc=0"]
    lines += [f"rm -f -- {_q(chunk)} || rc=1" for chunk in _chunks(plan.changed)]
    if plan.existing:
        lines.append(f"cd {b} || exit 1")
        lines += [
            f"cp -al --parents -t {c} -- {_q(chunk)} 2>/dev/null || "
            f"cp -a --remove-destination --parents -t {c} -- {_q(chunk)} || rc=1"
            for chunk in _chunks(plan.existing)
        ]
        lines.append(f"cd {c}")
    for d in reversed(plan.new_dirs):
        lines.append(f"rmdir -- {shlex.quote(d)} || rc=1")
    lines.append(f"[ $rc = 0 ] && rm -rf -- {b}")
    lines.append("exit $rc")
    return "\n".join(lines) + "\n"


def finalize_script(
    config: str,
    staging: str,
    backup: str,
    lock: str,
    owner: str,
    *,
    digest: str,
    full: bool,
    changed: Sequence[str] = (),
) -> str:
    """Record the manifest, drop staging and backup, release the lock.

    The manifest (``.ztix-applied``) is line based: ``ztix-applied v1 DIGEST``, then
    ``SHA256  NAME`` per file. Only the changed lines travel: the server keeps the old
    lines of files that did not change (all of them are replaced after a full upload)."""
    c, s, b, lk = (shlex.quote(x) for x in (config, staging, backup, lock))
    header = shlex.quote(MANIFEST_HEADER + digest)
    # header, the old lines of unchanged files (none after a full upload), the new lines
    old = "/dev/null" if full else f"{c}/{MANIFEST}"
    merge = (
        f"awk -v h={header} 'BEGIN {{ print h }} FILENAME == ARGV[1] {{ drop[$0] = 1; next }} "
        f"FILENAME == ARGV[2] {{ if (FNR > 1 && !($2 in drop)) print; next }} {{ print }}' "
        f"{s}/.ztix-drop {old} {s}/.ztix-add > {s}/.ztix-applied.new"
    )
    return (
        "\n".join(
            [
                "set -e",
                # confirmed: the backup must go first, or the next apply would "recover" it
                f"rm -rf -- {b}",
                merge,
                f"mv -f -- {s}/.ztix-applied.new {c}/{MANIFEST}",
                f"cd {c}",
                # the listing an apply compares with, to notice hand edits cheaply
                f"find . -path './.*' -prune -o -type f -printf '%P %i %s %T@ %m\\n' > {STAT}.new",
                f"mv -f -- {STAT}.new {STAT}",
                # keep the staging dir as a mirror of the live files for the next apply
                *(
                    f"cp -al --parents -t {s} -- {_q(chunk)} 2>/dev/null || mirror=no"
                    for chunk in _chunks(changed)
                ),
                f'if [ "${{mirror:-}}" = no ]; then rm -rf -- {s}; '
                f"else printf '%s\\n' {header} > {s}/.ztix-mirror; fi",
                f"read -r o < {lk}/owner || o=",
                f'if [ "$o" = {shlex.quote(owner)} ]; then rm -rf -- {lk}; fi',
                "exit 0",
            ]
        )
        + "\n"
    )


def commit_tail(
    config: str,
    staging: str,
    birdc_path: str,
    socket_path: str,
    timeout_s: int,
    main_config: str,
) -> str:
    """Appended to the swap script, in the same round trip: ``configure "MAIN" timeout N``
    (0003/0004 required, else exit 10), the health check (the daemon answers and every
    protocol declared in the live files runs, else exit 11) and ``configure confirm``
    (0018 required, else exit 4), then BIRD's restart and reconfiguration times are
    recorded (``.ztix-configured``). The main file is named: a daemon started on another
    file (by hand) is brought back to ztix's. If this script dies half-way, BIRD's timer
    undoes the running config and the next apply restores the files."""
    birdc_cmd = f"{shlex.quote(birdc_path)} -s {shlex.quote(socket_path)} -v"
    c, s = shlex.quote(config), shlex.quote(staging)
    main = shlex.quote(f'"{main_config}"')
    return f"""echo "@@configure"
cd {c}
# BIRD answers 0013 whether it is up and running or still reconfiguring (removed protocols
# shutting down); only the text tells. Wait for the daemon to settle before configuring
# (a configure during another one is queued, 0005) and before recording its times.
settled() {{
  n=0
  while :; do
    st=$({birdc_cmd} show status 2>&1) || true
    case "$st" in *"0013 Daemon is up and running"*) return 0 ;; *"0013 "*) ;; *) return 0 ;; esac
    n=$((n + 1)); [ "$n" -ge 300 ] && return 0
    sleep 0.05
  done
}}
settled
out=$({birdc_cmd} configure {main} timeout {int(timeout_s)} 2>&1) || true
printf '%s\\n' "$out"
case "$out" in *"0003 "*|*"0004 "*) ;; *) exit 10 ;; esac
echo "@@health"
have=$({birdc_cmd} show protocols 2>&1) || true
case "$have" in
  *2002-*) ;;
  *) echo "the daemon does not answer: $(printf '%s' "$have" | tail -n 2)"; exit 11 ;;
esac
missing=$(printf '%s\\n' "$have" | awk 'FILENAME == ARGV[1] {{ want[$0] = 1; next }}
  /^1002-/ {{ sub(/^1002-/, ""); have[$1] = 1; next }} /^ / {{ have[$1] = 1 }}
  END {{ for (w in want) if (!(w in have)) {{ printf "%s ", w; if (++n == 10) exit }} }}' \\
  {s}/.ztix-want -)
if [ -n "$missing" ]; then echo "protocols missing after configure: $missing"; exit 11; fi
echo "@@confirm"
out=$({birdc_cmd} configure confirm 2>&1) || true
printf '%s\\n' "$out"
case "$out" in *"0018 "*) ;; *) exit 4 ;; esac
# BIRD's times once the reconfiguration has finished (removed protocols shut down)
settled
printf '%s\\n' "$st" | awk '/Last (reboot|reconfiguration) on/ {{ sub(/^[0-9]+-/, "");
  sub(/^ +/, ""); print }}' > {c}/{CONFIGURED}
echo "@@finalize"
"""


def whole_or_nothing(script: str) -> str:
    """``script`` as one brace group: ``sh -s`` parses a compound command completely
    before running any of it, so a script cut short in transit (the sender killed, the
    connection dropped) is a syntax error that runs nothing. Unguarded, ``sh`` would run
    every line it received, the last one cut anywhere: ``rm -rf -- /etc/bird/ztix/.ztix-backup``
    cut after ``ztix`` empties the config dir."""
    return "{\n" + script + "\n}\n"


def _sections(output: str) -> dict[str, str]:
    """Split script output at ``@@name`` marker lines."""
    out: dict[str, list[str]] = {}
    current = ""
    for line in output.splitlines():
        if line.startswith("@@"):
            current = line[2:].strip()
            out[current] = []
        elif current:
            out[current].append(line)
    return {k: "\n".join(v) for k, v in out.items()}


def build_tar(files: Mapping[str, bytes], plan: Plan) -> bytes:
    """The upload: changed files (mode 0640) plus the plan lists and the manifest delta."""
    buf = io.BytesIO()
    now = int(time.time())
    extra = {
        ".ztix-changed": "".join(n + "\n" for n in plan.changed).encode(),
        ".ztix-remove": "".join(n + "\n" for n in plan.removed).encode(),
        ".ztix-drop": "".join(n + "\n" for n in (*plan.changed, *plan.removed)).encode(),
        ".ztix-add": "".join(f"{file_digest(files[n])}  {n}\n" for n in plan.changed).encode(),
        ".ztix-newdirs": "".join(d + "\n" for d in plan.new_dirs).encode(),
        # the health check's expectation: every protocol the new files declare (C order)
        ".ztix-want": "".join(n + "\n" for n in protocol_names_in(files)).encode(),
    }
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for name, data in [*((n, files[n]) for n in plan.changed), *extra.items()]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o640
            info.mtime = now
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def parse_probe(output: str) -> RemoteState:
    """Parse the probe's sections."""
    sections: dict[str, list[str]] = {}
    current = ""
    for line in output.splitlines():
        if line.startswith("@@"):
            current = line[2:]
            sections[current] = []
        elif current:
            sections[current].append(line)
    digest, hashes = parse_manifest(sections.get("manifest", []))
    pending = None
    raw_pending = "\n".join(sections.get("pending", [])).strip()
    if raw_pending:
        try:
            pending = {k: list(v) for k, v in json.loads(raw_pending).items()}
        except (ValueError, AttributeError, TypeError):
            pending = None
    files: set[str] = set()
    dirs: set[str] = set()
    for line in sections.get("files", []):
        kind, _, name = line.partition(" ")
        if not name:
            continue
        (files if kind == "f" else dirs).add(name)
    drifted = "hashes" in sections
    if drifted:
        hashes = parse_sums(sections["hashes"])
    return RemoteState(
        digest,
        hashes,
        frozenset(files),
        frozenset(dirs),
        pending,
        files_drifted=drifted,
        reconfigured="reconfigured" in sections,
    )


def parse_sums(lines: Sequence[str]) -> dict[str, str]:
    """``sha256sum`` output (``HASH  NAME`` per line) as name → hash. A name sha256sum had
    to escape (a leading backslash) keeps its escapes: it is reported, never opened."""
    out: dict[str, str] = {}
    for line in lines:
        sha, sep, name = line.lstrip("\\").partition("  ")
        if sep and len(sha) == 64:
            out[name] = sha
    return out


def parse_manifest(lines: Sequence[str]) -> tuple[str, dict[str, str]]:
    """Digest and per-file hashes of a ``.ztix-applied`` file; ("", {}) when it is missing
    or not in the v1 format (then every file counts as changed)."""
    if not lines or not lines[0].startswith(MANIFEST_HEADER):
        return "", {}
    hashes: dict[str, str] = {}
    for line in lines[1:]:
        sha, sep, name = line.partition("  ")
        if not sep or len(sha) != 64:
            if line.strip():
                return "", {}
            continue
        hashes[name] = sha
    return lines[0][len(MANIFEST_HEADER) :].strip(), hashes


def manifest_bytes(digest: str, files: Mapping[str, bytes]) -> bytes:
    """The whole ``.ztix-applied`` file for a config set (what finalize leaves behind)."""
    lines = [MANIFEST_HEADER + digest] + [f"{file_digest(files[n])}  {n}" for n in sorted(files)]
    return ("\n".join(lines) + "\n").encode()


def state_of(digest: str, files: Mapping[str, bytes]) -> RemoteState:
    """The server's state right after ``files`` were applied."""
    dirs = {"/".join(n.split("/")[:i]) for n in files for i in range(1, n.count("/") + 1)}
    return RemoteState(
        digest,
        {n: file_digest(data) for n, data in files.items()},
        frozenset(files),
        frozenset(dirs),
        None,
    )


def owner_is_dead(locked_reply: str) -> bool:
    """True when a lock's owner (``host:pid:tag`` after "locked by") is a process of this
    host that no longer exists. Owners elsewhere are never judged: they wait to go stale."""
    text = locked_reply.strip()
    if not text.startswith("locked by "):
        return False
    host, _, rest = text.removeprefix("locked by ").partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid in (0, os.getpid()):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


# --------------------------------------------------------------------------- the pipeline


@attrs.frozen
class ApplyOptions:
    """Knobs of one apply that are not route-server settings."""

    #: How long to wait for another apply's lock on the server.
    lock_wait_s: float = 120.0
    #: A lock older than this belongs to an apply that died (an apply holds it at most for
    #: its commands plus the confirm timeout) and is taken over.
    lock_stale_s: int | None = None
    #: Upload everything (no hard-link copy) when more than this share of files changed.
    full_upload_ratio: float = 0.5


class SafeApply:
    """Applies one config set to one route server through a transport."""

    def __init__(
        self,
        server: RouteServerSettings,
        transport: Transport,
        options: ApplyOptions | None = None,
        known: RemoteState | None = None,
        *,
        owner_tag: str = "",
        verify: bool = False,
    ) -> None:
        validate_paths(server.paths)
        #: Hash the live files whatever their listing says (and skip the optimistic
        #: upload): a drift check found files that differ although the listing did not
        #: move (edited, then given back its size and mtime).
        self.verify = verify
        self.server = server
        self.transport = transport
        self.options = options or ApplyOptions()
        p = server.paths
        self.config = p.config_dir.rstrip("/")
        self.staging = staging_dir(p).rstrip("/")
        self.backup = f"{self.config}/{BACKUP}"
        self.lock = f"{self.config}/{LOCK}"
        #: The lock's owner, ``host:pid:tag``. A caller that serialises its applies to this
        #: server passes the same tag each time: a lock it left behind (its connection
        #: dropped mid-commit) is then its own, recovered at once rather than waited for.
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{owner_tag or uuid.uuid4().hex[:12]}"
        ssh = server.ssh
        command_s = ssh.command_timeout_s if ssh else 60.0
        #: Default: longer than any live apply can hold the lock (confirm window plus its
        #: commands), at least 5 minutes.
        self.lock_stale_s = self.options.lock_stale_s or int(
            max(300, server.policy.confirm_timeout_s + 4 * command_s)
        )
        #: Seconds spent in each stage of the last apply (the benchmark prints these).
        self.timings: dict[str, float] = {}
        #: What the caller believes is applied (from its last apply): when the server's
        #: manifest still names that digest, the probe skips listing files.
        self.known = known
        #: The server's state after a successful apply (callers keep it as ``known``).
        self.applied_state: RemoteState | None = None
        #: Why an apply of the config the server already had ran anyway (drift), or "".
        self.drift_note = ""
        #: Size of the last upload (tar stream), and how many config files it carried.
        self.uploaded_bytes = 0
        self.uploaded_files = 0

    # -- helpers

    async def _sh(self, script: str, *args: str, stdin: bytes | None = None) -> CommandResult:
        return await self.transport.run(["sh", "-c", script, "sh", *args], stdin=stdin)

    async def _script(self, script: str) -> CommandResult:
        return await self.transport.run(["sh", "-s"], stdin=whole_or_nothing(script).encode())

    async def birdc(self, *command: str) -> birdc.Reply:
        """Run one birdc command (``-v``) and parse its reply."""
        p = self.server.paths
        result = await self.transport.run([p.birdc, "-s", p.control_socket, "-v", *command])
        return birdc.parse_reply(result.stdout + "\n" + result.stderr)

    def _quoted(self, path: str) -> str:
        return f'"{path}"'

    # -- stages

    async def _probe(self) -> RemoteState:
        deadline = time.monotonic() + self.options.lock_wait_s
        delay = 0.05
        stale_s = self.lock_stale_s
        waiting_since: float | None = None
        while True:
            result = await self._sh(
                _PROBE,
                self.config,
                self.lock,
                str(stale_s),
                self.owner,
                self.backup,
                MANIFEST_HEADER + self.known.digest if self.known else "",
                self.server.paths.birdc,
                self.server.paths.control_socket,
                "1" if self.verify else "0",
            )
            if result.exit_status == 0:
                state = parse_probe(result.stdout)
                if "\n@@same" in "\n" + result.stdout and self.known is not None:
                    return attrs.evolve(self.known, pending_plan=state.pending_plan)
                return state
            if result.exit_status == LOCK_ERROR_EXIT:
                raise self._lock_error(result)
            if result.exit_status != LOCKED_EXIT:
                raise ApplyFailed("probe", (result.stdout + result.stderr).strip()[:500])
            if owner_is_dead(result.stdout):
                # A worker on this host was killed mid-apply: take its lock over now (the
                # next probe recovers the half-done apply) instead of waiting until stale.
                stale_s = 0
                continue
            if time.monotonic() >= deadline:
                raise ApplyFailed(
                    "lock", f"{result.stdout.strip()} (waited {self.options.lock_wait_s:.0f} s)"
                )
            if waiting_since is None:
                waiting_since = time.perf_counter()
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.5)
            # Evidence for callers (and tests) that this apply waited for another's lock.
            self.timings["lock_wait"] = time.perf_counter() - waiting_since

    def _lock_error(self, result: CommandResult) -> ApplyFailed:
        text = (result.stdout + result.stderr).strip()[:400]
        return ApplyFailed(
            "lock",
            f"{text} (the account ztix uses on the route server needs write access to "
            f"config_dir {self.config}; nothing was changed)",
        )

    async def _recover(self, pending: Mapping[str, list[str]]) -> None:
        plan = Plan(
            tuple(pending.get("changed", [])),
            tuple(pending.get("removed", [])),
            tuple(pending.get("existing", [])),
            tuple(pending.get("new_dirs", [])),
        )
        result = await self._script(restore_script(self.config, self.backup, plan))
        if result.exit_status != 0:
            raise ApplyFailed(
                "recover",
                "cannot restore the files of an interrupted apply: "
                + (result.stdout + result.stderr).strip()[:400],
            )
        # The running config may be the interrupted one (undo timer not yet expired): load
        # the restored files, which also cancels any pending undo.
        reply = await self.birdc("configure", self._quoted(self.server.paths.main_config))
        if not reply.has(birdc.RECONFIGURED, birdc.RECONFIG_IN_PROGRESS, birdc.NOTHING_TO_DO):
            raise ApplyFailed("recover", reply.summary())
        # Not recorded as ztix's configure: the probe that follows sees the daemon
        # reconfigured, so this apply configures again, with its health check and confirm.

    async def _release(self, *, keep_staging: bool = False, restat: bool = False) -> None:
        with contextlib.suppress(TransportError):
            await self._sh(
                _RELEASE,
                self.lock,
                self.owner,
                self.staging,
                "1" if keep_staging else "0",
                self.config if restat else "",
            )

    async def _restore(self, plan: Plan) -> str:
        result = await self._script(restore_script(self.config, self.backup, plan))
        if result.exit_status != 0:
            return (
                "; restoring the previous files FAILED: "
                + (result.stdout + result.stderr).strip()[:300]
            )
        return ""

    async def apply(self, files: Mapping[str, bytes], digest: str) -> ApplyOutcome:
        """Run the whole sequence; never raises for the server's failures."""
        started = time.perf_counter()
        self.timings = {}
        self.uploaded_bytes = self.uploaded_files = 0
        self.drift_note = ""
        stage = "connect"
        name = self.server.name

        def done(
            result: str, stage: str = "", message: str = "", *, transient: bool = False
        ) -> ApplyOutcome:
            return ApplyOutcome(
                name,
                result,
                digest,
                stage,
                message,
                round(time.perf_counter() - started, 4),
                transient=transient,
            )

        def mark(stage_name: str, t0: float) -> None:
            self.timings[stage_name] = time.perf_counter() - t0

        try:
            validate_file_names(files)
        except InvalidValue as exc:
            return done("failed", "render", str(exc))
        locked = False
        plan: Plan | None = None
        swapped = configured = False
        try:
            t0 = time.perf_counter()
            stage = "probe"
            state: RemoteState | None = None
            result: CommandResult | None = None
            full = False
            p = self.server.paths
            if self.known is not None and not self.verify:
                # Optimistic: plan against what this process applied last and send it with
                # the probe; the server takes it only if its manifest still says so.
                guess = make_plan(files, self.known)
                worth = guess.changed or guess.removed or self.known.digest != digest
                small = len(guess.changed) <= self.options.full_upload_ratio * len(files)
                if worth and small:
                    archive = build_tar(files, guess)
                    answer = await self._sh(
                        _PROBE_UPLOAD,
                        self.config,
                        self.lock,
                        str(self.lock_stale_s),
                        self.owner,
                        self.backup,
                        MANIFEST_HEADER + self.known.digest,
                        self.staging,
                        "0",
                        p.bird,
                        p.birdc,
                        p.control_socket,
                        stdin=archive,
                    )
                    if answer.exit_status == LOCK_ERROR_EXIT:
                        raise self._lock_error(answer)
                    if answer.exit_status != LOCKED_EXIT:
                        locked = True
                        if "\n@@same" in "\n" + answer.stdout:
                            state, plan, result = self.known, guess, answer
                            mark("probe+upload+parse+check", t0)
                            self.uploaded_bytes = len(archive)
                            self.uploaded_files = len(guess.changed)
                        elif answer.exit_status == 0:
                            state = parse_probe(answer.stdout)
                        else:
                            raise ApplyFailed(
                                "probe", (answer.stdout + answer.stderr).strip()[:500]
                            )
            if state is None:
                stage = "probe"
                state = await self._probe()
                locked = True
            if result is None:
                mark("probe", t0)
            if state.pending_plan is not None:
                stage = "recover"
                await self._recover(state.pending_plan)
                self.known = None
                state = await self._probe()
            if result is None:
                plan = make_plan(files, state)
                # "Unchanged" only when the live files are the desired ones (hashed when
                # their listing moved) and the daemon runs ztix's last configure.
                if (
                    state.digest == digest
                    and not plan.changed
                    and not plan.removed
                    and not state.reconfigured
                ):
                    await self._release(keep_staging=True, restat=state.files_drifted)
                    locked = False
                    self.applied_state = state
                    return done("unchanged")
                if state.digest == digest:
                    # the same config as last time: say why it is applied again
                    why = []
                    if plan.changed or plan.removed:
                        touched = [*plan.changed, *plan.removed]
                        why.append(
                            f"{len(touched)} file(s) on the server were not ztix's: "
                            + ", ".join(touched[:5])
                        )
                    if state.reconfigured:
                        why.append("BIRD was restarted or reconfigured outside ztix")
                    self.drift_note = "repaired drift: " + "; ".join(why)

                stage = "upload"
                t0 = time.perf_counter()
                # Without a manifest (a config written by hand or by ``rs init``) the
                # new one cannot keep the old lines of unchanged files: upload them all.
                full = (
                    not state.hashes
                    or not state.digest
                    or len(plan.changed) > self.options.full_upload_ratio * max(len(files), 1)
                )
                if full:
                    plan = make_plan(files, attrs.evolve(state, hashes={}))
                archive = build_tar(files, plan)
                self.uploaded_bytes, self.uploaded_files = len(archive), len(plan.changed)
                result = await self._sh(
                    _UPLOAD,
                    self.config,
                    self.staging,
                    "1" if full else "0",
                    p.bird,
                    p.birdc,
                    p.control_socket,
                    stdin=archive,
                )
            assert plan is not None
            stage = "upload"
            sections = _sections(result.stdout)
            if "parse" not in sections:
                raise ApplyFailed("upload", (result.stdout + result.stderr).strip()[:500])
            if "check" not in sections:
                raise ApplyFailed("parse", (sections["parse"] + result.stderr).strip()[:500])
            if "probe+upload+parse+check" not in self.timings:
                mark("upload+parse+check", t0)
            stage = "check"
            reply = birdc.parse_reply(sections["check"] + "\n" + result.stderr)
            if not reply.has(birdc.CONFIG_OK):
                raise ApplyFailed("check", reply.summary())

            stage = "swap"
            t0 = time.perf_counter()
            swapped = True  # from here on the files are restored on failure
            result = await self._script(
                swap_script(self.config, self.staging, self.backup, plan)
                + commit_tail(
                    self.config,
                    self.staging,
                    p.birdc,
                    p.control_socket,
                    self.server.policy.confirm_timeout_s,
                    p.main_config,
                )
                + finalize_script(
                    self.config,
                    self.staging,
                    self.backup,
                    self.lock,
                    self.owner,
                    digest=digest,
                    full=full,
                    changed=plan.changed,
                )
            )
            mark("swap+configure+health+confirm", t0)
            sections = _sections(result.stdout)
            if "configure" not in sections:
                raise ApplyFailed("swap", (result.stdout + result.stderr).strip()[:500])
            stage = "configure"
            reply = birdc.parse_reply(sections["configure"])
            configured = reply.has(birdc.UNDO_SCHEDULED, birdc.RECONFIGURED)
            if "health" not in sections:
                raise ApplyFailed("configure", reply.summary())
            stage = "health"
            if "confirm" not in sections:
                text = sections["health"].strip() or result.stderr.strip()
                raise ApplyFailed("health", text[:500])
            stage = "confirm"
            reply = birdc.parse_reply(sections["confirm"])
            if not reply.has(birdc.CONFIRMED):
                raise ApplyFailed("confirm", reply.summary() or result.stderr.strip()[:300])
            configured = swapped = False  # committed: nothing to roll back any more
            locked = False
            self.applied_state = state_of(digest, files)
            if result.exit_status != 0:
                # The new config runs and is confirmed; only bookkeeping failed, so the next
                # apply re-uploads. Report it, since the manifest is stale.
                self.applied_state = None
                await self._release()
                return done(
                    "applied",
                    "finalize",
                    "applied; recording the manifest failed: "
                    + (result.stdout + result.stderr).strip()[:300],
                )
            return done("applied", message=self.drift_note)
        except ApplyFailed as exc:
            message = exc.message
            stage = exc.stage
            transient = exc.transient
        except TransportError as exc:
            message = str(exc)
            transient = exc.transient
            if stage == "probe" and exc.kind != "lost":
                stage = "connect"
        except Exception as exc:  # never let one server's failure escape
            message = f"{type(exc).__name__}: {exc}"
            transient = False
        message = await self._roll_back(message, plan, swapped, configured)
        if locked:
            await self._release()
        return done("failed", stage, message, transient=transient)

    async def _roll_back(
        self, message: str, plan: Plan | None, swapped: bool, configured: bool
    ) -> str:
        try:
            if swapped and plan is not None:
                message += await self._restore(plan)
            if configured:
                reply = await self.birdc("configure", "undo")
                if not reply.has(birdc.UNDO_REQUESTED, birdc.NOTHING_TO_DO):
                    message += "; configure undo failed: " + reply.summary()
        except TransportError as exc:
            message += (
                f"; roll-back interrupted ({exc}); BIRD undoes the running config when its "
                "timeout expires and the next apply restores the files"
            )
        return message
