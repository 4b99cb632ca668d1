"""BIRD prints its boot and reconfiguration times by converting its monotonic clock to
wall-clock time at each ``show status``: two calls can differ in the last millisecond.
The check that nobody reconfigured BIRD behind ztix's back (the apply's probe, in awk on
the server, and the drift check, in Python) must call that the same instant, and still
see a real restart or reconfiguration."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from ztix_adapters_bird.apply import _RUNNING, same_bird_times

RECORDED = [
    "Last reboot on 2026-12-03 10:48:53.213",
    "Last reconfiguration on 2026-12-03 10:48:56.696",
]
CASES = [
    (RECORDED, True),
    (["Last reboot on 2026-12-03 10:48:53.214", RECORDED[1]], True),  # seen on CI
    (["Last reboot on 2026-12-03 10:48:53.212", RECORDED[1]], True),
    (["Last reboot on 2026-12-03 10:48:53.216", RECORDED[1]], False),  # 3 ms: not jitter
    ([RECORDED[0], "Last reconfiguration on 2026-12-03 10:48:56.750"], False),  # 54 ms later
    ([RECORDED[0], "Last reconfiguration on 2026-12-03 10:49:02.001"], False),
    (["Last reboot on 2026-12-03 10:50:00.000", RECORDED[1]], False),
    (["Last reboot on 2026-12-04 10:48:53.213", RECORDED[1]], False),  # a day later
    ([RECORDED[0]], False),
    (["Last reboot on yesterday", RECORDED[1]], False),
    (["Last reconfiguration on 2026-12-03 10:48:53.213", RECORDED[1]], False),
]
CROSSING = (
    ["Last reboot on 2026-12-31 23:59:59.9995"],
    ["Last reboot on 2027-01-01 00:00:00.000"],
)


@pytest.mark.parametrize(("now", "same"), CASES)
def test_python_judgement(now: list[str], same: bool) -> None:
    assert same_bird_times(now, RECORDED) is same


def test_an_instant_across_midnight_and_new_year_is_one_instant() -> None:
    assert same_bird_times(*CROSSING)


#: Debian's default awk (mawk, always installed) and GNU awk where present: a route
#: server may have either.
AWKS = ["mawk"] + (["gawk"] if shutil.which("gawk") else [])


def _probe(tmp_path: Path, now: list[str], recorded: list[str] | None, awk: str = "mawk") -> bool:
    """Run the probe's own shell snippet with a fake birdc printing ``now``, under
    ``awk``."""
    found = shutil.which(awk)
    assert found is not None, f"{awk} is missing"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    if not (bin_dir / "awk").exists():
        (bin_dir / "awk").symlink_to(found)
    birdc = tmp_path / "birdc"
    lines = ["0001 BIRD 2.0.12 ready.", "1000-BIRD 2.0.12", "1011-Router ID is 192.0.2.1"]
    lines += [f" {line}" for line in now] + ["0013 Daemon is up and running"]
    body = "".join(f"echo '{line}'\n" for line in lines)
    birdc.write_text("#!/bin/sh\n" + body)
    birdc.chmod(0o755)
    if recorded is not None:
        (tmp_path / ".ztix-configured").write_text("".join(f"{r}\n" for r in recorded))
    script = f'C={tmp_path}; BIRDC={birdc}; SOCK=x; RUNOK=1\n{_RUNNING}\necho "RUNOK=$RUNOK"\n'
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    done = subprocess.run(["sh", "-c", script], capture_output=True, text=True, check=True, env=env)
    assert done.stdout.strip().endswith(("RUNOK=1", "RUNOK=0")), done
    return done.stdout.strip().endswith("RUNOK=1")


@pytest.mark.parametrize("awk", AWKS)
@pytest.mark.parametrize(("now", "same"), CASES)
def test_the_probe_on_the_server_judges_alike(
    tmp_path: Path, now: list[str], same: bool, awk: str
) -> None:
    assert _probe(tmp_path, now, RECORDED, awk) is same


@pytest.mark.parametrize("awk", AWKS)
def test_the_probe_across_new_year_and_without_a_record(tmp_path: Path, awk: str) -> None:
    assert _probe(tmp_path, *CROSSING, awk=awk)
    none = tmp_path / "none"
    none.mkdir()
    assert not _probe(none, RECORDED, None, awk)
