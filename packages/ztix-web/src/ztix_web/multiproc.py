"""prometheus_client's multi-process mode under gunicorn, set up before the library is
imported.

prometheus_client decides at import time whether a metric's value lives in this
process's memory or in a file under ``$PROMETHEUS_MULTIPROC_DIR`` that a scrape in any
process sums. gunicorn forks its workers from the master, so ``ztix web`` prepares the
directory in the master before anything imports the library (this module never does at
import time), and every worker counts into its own files there.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
#: The directories :func:`prepare_multiprocess` made, by the process that made each.
_MADE_BY: dict[Path, int] = {}


def multiprocess_dir() -> str | None:
    """The multi-process directory in use, or None (single process)."""
    return os.environ.get(MULTIPROC_ENV) or None


def prepare_multiprocess() -> tuple[Path, bool]:
    """Get this process ready to share metrics with the workers it forks: use
    ``$PROMETHEUS_MULTIPROC_DIR`` (emptied of its ``*.db`` files: counts from an earlier
    run must not be added to this one's) or make a fresh temporary directory and set the
    variable. Returns the directory and whether it was made here (then
    :func:`remove_directory` it at exit).

    RuntimeError when the directory is not one, or when prometheus_client was already
    imported in single-process mode (its storage can no longer change)."""
    made = False
    path = multiprocess_dir()
    if path is None:
        path = tempfile.mkdtemp(prefix="ztix-metrics-")
        os.environ[MULTIPROC_ENV] = path
        made = True
        _MADE_BY[Path(path)] = os.getpid()
    directory = Path(path)
    if not directory.is_dir():
        raise RuntimeError(f"{MULTIPROC_ENV}={path} is not a directory")
    values = sys.modules.get("prometheus_client.values")
    if values is not None and not getattr(values.ValueClass, "_multiprocess", False):
        raise RuntimeError(
            "prometheus_client was imported before the multi-process directory was set"
        )
    for old in directory.glob("*.db"):
        old.unlink()
    return directory, made


def remove_directory(path: Path) -> None:
    """Remove a directory :func:`prepare_multiprocess` made, in the process that made it
    only: a forked child (a gunicorn worker) unwinds the same ``finally`` when it exits,
    and must not take the directory from its siblings, which still write there (one
    worker leaving while another booted made that one fail, and the server with it)."""
    if _MADE_BY.get(path) != os.getpid():
        return
    shutil.rmtree(path, ignore_errors=True)


def child_exit(server: Any, worker: Any) -> None:
    """gunicorn's ``child_exit`` hook: a worker that exited leaves no live gauge behind
    (its counters stay: what it counted happened)."""
    path = multiprocess_dir()
    if path is not None:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid, path)  # type: ignore[no-untyped-call]
