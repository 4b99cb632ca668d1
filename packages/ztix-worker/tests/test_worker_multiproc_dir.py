"""The multi-process metrics directory belongs to the process that made it: a forked
child leaving (a gunicorn worker unwinds the master's ``finally`` when it exits) must not
remove it from under its siblings, which still write there."""

from __future__ import annotations

import os
import subprocess
import sys

SCRIPT = """
import os
from ztix_worker.multiproc import prepare_multiprocess, remove_directory
directory, made = prepare_multiprocess()
assert made
child = os.fork()
if child == 0:
    remove_directory(directory)  # what an exiting worker does
    os._exit(0)
os.waitpid(child, 0)
print("after child:", directory.is_dir())
remove_directory(directory)
print("after maker:", directory.is_dir())
"""


def test_only_the_process_that_made_the_directory_removes_it() -> None:
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:2] == ["after child: True", "after maker: False"]
