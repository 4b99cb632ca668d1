"""Drift check of one route server: what it holds and runs against the desired render.

One round trip (a read-only ``sh`` script, no lock taken) returns:

* whether an apply is under way (its lock directory or an interrupted apply's backup
  exists, before or after the reads): then nothing is judged, the check reports ``busy``;
* the manifest (``.ztix-applied``) and ``.ztix-configured`` (BIRD's restart and
  reconfiguration times right after ztix's last configure);
* a sha256 of every live config file (top-level dot entries are ztix's own and skipped);
* ``birdc show status`` and ``birdc show protocols``.

:func:`compare` then lists the files that differ from the desired render (``changed``,
``missing``, ``extra``), a manifest that does not name the desired config, desired
protocols BIRD does not run and protocols it runs that ztix did not render, and a
restart or reconfiguration ztix did not do. File contents never leave the server.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from ztix_adapters_bird import apply
from ztix_adapters_bird.settings import RouteServerSettings
from ztix_core.ports import FileDrift, RouteServerDrift

_CHECK = r"""
C=$1; L=$2; B=$3; BIRDC=$4; SOCK=$5
[ -d "$C" ] || { echo "@@error"; echo "config dir $C does not exist"; exit 0; }
busy() {
  if [ -d "$L" ] || [ -f "$B/.complete" ]; then
    echo "@@busy"; cat -- "$L/owner" 2>/dev/null; exit 0
  fi
}
busy
echo "@@manifest"
cat -- "$C/.ztix-applied" 2>/dev/null
echo "@@configured"
cat -- "$C/.ztix-configured" 2>/dev/null
echo "@@hashes"
( cd -- "$C" && find . -path './.*' -prune -o -type f -printf '%P\0' | xargs -0 -r sha256sum -- )
echo "@@status"
"$BIRDC" -s "$SOCK" -v show status 2>&1
echo "@@protocols"
"$BIRDC" -s "$SOCK" -v show protocols 2>&1
busy
echo "@@end"
"""

# ``protocol TYPE NAME`` or an unnamed ``protocol TYPE {`` (BIRD names it TYPE1, TYPE2, ...)
_DECLARED = re.compile(
    rb"^[ \t]*protocol[ \t]+([a-z0-9]+)(?:[ \t]+(?!from\b)([A-Za-z_][A-Za-z0-9_]*))?", re.M
)


def check_command(server: RouteServerSettings) -> list[str]:
    """The argv of the check (``sh -c SCRIPT sh ARGS``)."""
    p = server.paths
    config = p.config_dir.rstrip("/")
    return [
        "sh",
        "-c",
        _CHECK,
        "sh",
        config,
        f"{config}/{apply.LOCK}",
        f"{config}/{apply.BACKUP}",
        p.birdc,
        p.control_socket,
    ]


def declared_protocols(files: Mapping[str, bytes]) -> set[str]:
    """Names of the protocols a config set declares, as BIRD will name them (an unnamed
    ``protocol device`` becomes ``device1``). Files are taken in name order."""
    names: set[str] = set()
    unnamed: dict[str, int] = {}
    for name in sorted(files):
        for kind, given in _DECLARED.findall(files[name]):
            if given:
                names.add(given.decode())
            else:
                count = unnamed[kind.decode()] = unnamed.get(kind.decode(), 0) + 1
                names.add(f"{kind.decode()}{count}")
    return names


def running_protocols(output: str) -> set[str] | None:
    """Protocol names from ``birdc -v show protocols`` (None when BIRD did not answer)."""
    if "2002-" not in output:
        return None
    names: set[str] = set()
    for raw in output.splitlines():
        if raw.startswith("1002-"):
            line = raw[5:]
        elif raw.startswith(" "):
            line = raw
        else:
            continue
        parts = line.split()
        if parts:
            names.add(parts[0])
    return names


def _sections(output: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    current = ""
    for line in output.splitlines():
        if line.startswith("@@"):
            current = line[2:].strip()
            out[current] = []
        elif current:
            out[current].append(line)
    return out


def _times(lines: Sequence[str]) -> list[str]:
    """The "Last reboot on" / "Last reconfiguration on" lines, codes and indent removed."""
    out = []
    for line in lines:
        text = re.sub(r"^\d{4}-", "", line).strip()
        if text.startswith(("Last reboot on", "Last reconfiguration on")):
            out.append(text)
    return out


def compare(server: str, output: str, files: Mapping[str, bytes], digest: str) -> RouteServerDrift:
    """Judge the check's output against the desired ``files`` (and their ``digest``)."""
    sections = _sections(output)
    if "error" in sections:
        return RouteServerDrift(server, error=" ".join(sections["error"]).strip())
    if "busy" in sections:
        owner = " ".join(sections["busy"]).strip()
        return RouteServerDrift(
            server, error=f"an apply is under way ({owner or 'interrupted'}); checked next time"
        )
    if "end" not in sections:
        return RouteServerDrift(server, error=f"incomplete answer: {output.strip()[-300:]}")
    running = running_protocols("\n".join(sections.get("protocols", [])))
    if running is None:
        reply = " ".join(sections.get("protocols", [])).strip()[:300]
        return RouteServerDrift(server, error=f"BIRD does not answer: {reply}")

    live = apply.parse_sums(sections.get("hashes", []))
    wanted = {name: apply.file_digest(data) for name, data in files.items()}
    found: list[FileDrift] = []
    for name in sorted(set(live) | set(wanted)):
        if name not in live:
            found.append(FileDrift(name, "missing", expected=wanted[name]))
        elif name not in wanted:
            found.append(FileDrift(name, "extra", found=live[name]))
        elif live[name] != wanted[name]:
            found.append(FileDrift(name, "changed", expected=wanted[name], found=live[name]))

    manifest_digest, manifest_hashes = apply.parse_manifest(sections.get("manifest", []))
    manifest = ""
    if not manifest_digest:
        manifest = "missing or unreadable: ztix has no record of its last apply"
    elif manifest_digest != digest:
        manifest = (
            f"names config {manifest_digest[:12]}, the desired one is {digest[:12]} "
            "(an apply is due, or another one ran)"
        )
    elif manifest_hashes != wanted:
        manifest = "its per-file digests are not the desired config's"

    declared = declared_protocols(files)
    missing = tuple(sorted(declared - running))
    extra = tuple(sorted(running - declared))

    now = _times(sections.get("status", []))
    recorded = _times(sections.get("configured", []))
    reconfigured = ""
    if not recorded:
        reconfigured = "ztix has no record of its last configure"
    elif not apply.same_bird_times(now, recorded):
        reconfigured = (
            "BIRD was restarted or reconfigured outside ztix: "
            + "; ".join(now)
            + " (ztix's last configure: "
            + "; ".join(recorded)
            + ")"
        )
    return RouteServerDrift(
        server,
        files=tuple(found),
        manifest=manifest,
        missing_protocols=missing,
        extra_protocols=extra,
        reconfigured=reconfigured,
    )
