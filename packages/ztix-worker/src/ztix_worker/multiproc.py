"""prometheus_client's multi-process mode for ``ztix worker``, set up before the library
is imported.

prometheus_client decides at import time whether a metric's value lives in this
process's memory or in a file under ``$PROMETHEUS_MULTIPROC_DIR`` that a scrape sums. The
worker's consumer processes (``--processes``) run the actors, so they count the events;
the first process serves ``/metrics``. ``ztix worker`` therefore prepares the directory
before it imports :mod:`ztix_worker.metrics`, and the consumers, spawned afterwards,
inherit it through their environment. This module never imports the library itself at
import time.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
#: The directories :func:`prepare_multiprocess` made, by the process that made each.
_MADE_BY: dict[Path, int] = {}


def multiprocess_dir() -> str | None:
    """The multi-process directory in use, or None (single process)."""
    return os.environ.get(MULTIPROC_ENV) or None


def prepare_multiprocess() -> tuple[Path, bool]:
    """Use ``$PROMETHEUS_MULTIPROC_DIR`` (emptied of its ``*.db`` files: counts of an
    earlier run must not add to this one's) or make a fresh temporary directory and set
    the variable. Returns the directory and whether it was made here (then
    :func:`remove_directory` it at exit). RuntimeError when the path is not a directory or
    prometheus_client was already imported in single-process mode."""
    made = False
    path = multiprocess_dir()
    if path is None:
        path = tempfile.mkdtemp(prefix="ztix-worker-metrics-")
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


def mark_dead(pid: int | None) -> None:
    """A consumer process exited: drop its live gauges (its counters stay)."""
    path = multiprocess_dir()
    if path is not None and pid is not None:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid, path)  # type: ignore[no-untyped-call]
