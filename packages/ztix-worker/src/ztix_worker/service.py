"""``ztix worker``: the long-running service.

Dramatiq's worker is run programmatically (``dramatiq.Worker``) rather than by spawning
the ``dramatiq`` CLI: the CLI imports a module that must build its broker at import time
from global state, while ztix builds its broker and actors from the loaded settings and
plugins. Running the worker ourselves also lets one process hold the readiness gate before
consuming, and host the outbox relay and the reconciler next to the actors. Extra
processes (``--processes``) are started with multiprocessing's *spawn* method; each loads
the settings itself and consumes only; they die with the parent (PR_SET_PDEATHSIG).

With ``[worker] metrics_bind`` set, the first process serves ``GET /metrics`` there. The
multi-process directory is prepared before the metrics module is first imported, so the
consumers (which count what their actors do) and the first process (which serves the
sums) share it (:mod:`ztix_worker.multiproc`).
"""

from __future__ import annotations

import ctypes
import logging
import multiprocessing
import signal
import sys
import threading
from types import FrameType

from ztix_core.bootstrap import bootstrap
from ztix_core.plugins import Plugins, build_plugin_manager
from ztix_core.ports import ProvisioningEvents
from ztix_core.settings import Settings, load_settings
from ztix_worker.logs import configure_from_settings, configure_logging
from ztix_worker.multiproc import mark_dead, prepare_multiprocess, remove_directory
from ztix_worker.runtime import WorkerRuntime
from ztix_worker.settings import WorkerSettings, load_worker_settings
from ztix_worker.token_reload import install_token_reload

log = logging.getLogger(__name__)


def _die_with_parent() -> None:
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:  # not Linux: children may outlive a killed parent
        pass


def _stop_on_signals(stop: threading.Event) -> None:
    def handler(signum: int, frame: FrameType | None) -> None:
        log.info("signal %d: stopping", signum)
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


def describe_gate(runtime: WorkerRuntime) -> str | None:
    """A one-line explanation when the readiness gate fails now, else None."""
    if not runtime.gate.enabled:
        return None
    report = runtime.gate.check()
    failure = report.first_failure
    if failure is None:
        return None
    text = f"controller readiness gate failed: {failure.name}: {failure.message}"
    if failure.remediation:
        text += f" (remediation: {failure.remediation})"
    return text + "; waiting — no message is consumed until it passes"


def _runtime(settings: Settings, ws: WorkerSettings, plugins: Plugins) -> WorkerRuntime:
    """The runtime, counting its provisioning events when the metrics endpoint is on."""
    app = bootstrap(settings, plugins)
    events: ProvisioningEvents | None = None
    if ws.metrics_bind:
        from ztix_worker.metrics import PrometheusEvents

        assert app.fleet is not None
        events = PrometheusEvents(s.name for s in app.fleet.servers())
    return WorkerRuntime(app, ws, events=events)


def _consumer_process(config: str | None, threads: int, log_level: str) -> None:
    _die_with_parent()
    configure_logging(log_level)  # until the settings say which format
    settings = load_settings(config)
    configure_from_settings(settings, log_level)
    ws = load_worker_settings(settings, threads=threads)
    runtime = _runtime(settings, ws, Plugins(build_plugin_manager()))
    stop = threading.Event()
    _stop_on_signals(stop)
    install_token_reload(runtime.app)
    runtime.start(relay=False, reconcile=False)
    stop.wait()
    runtime.stop()


def serve(
    settings: Settings,
    ws: WorkerSettings,
    plugins: Plugins,
    *,
    config: str | None = None,
    log_level: str = "INFO",
    stop: threading.Event | None = None,
) -> int:
    """Run the worker until SIGTERM/SIGINT (or ``stop``); returns the exit code.
    SettingsError when ``[worker] metrics_bind`` cannot be listened on."""
    metrics_dir = prepare_multiprocess() if ws.metrics_bind else None
    try:
        return _serve(settings, ws, plugins, config, log_level, stop)
    finally:
        if metrics_dir is not None and metrics_dir[1]:
            remove_directory(metrics_dir[0])


def _serve(
    settings: Settings,
    ws: WorkerSettings,
    plugins: Plugins,
    config: str | None,
    log_level: str,
    stop: threading.Event | None,
) -> int:
    stop = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():
        _stop_on_signals(stop)
    runtime = _runtime(settings, ws, plugins)
    server = None
    if ws.metrics_bind:
        from ztix_worker.metrics import MetricsServer

        server = MetricsServer(ws.metrics_bind, runtime)
    problem = describe_gate(runtime)
    if problem:
        print(f"ztix worker: {problem}", file=sys.stderr, flush=True)
        log.error(problem)
    mode = "embedded (no REDIS_URL)" if runtime.embedded else "redis"
    log.info(
        "ztix worker starting: %s, %d process(es) x %d thread(s)", mode, ws.processes, ws.threads
    )
    runtime.start()
    children: list[multiprocessing.process.BaseProcess] = []
    ctx = multiprocessing.get_context("spawn")
    extra = 0 if runtime.embedded else ws.processes - 1

    def spawn() -> multiprocessing.process.BaseProcess:
        proc = ctx.Process(
            target=_consumer_process,
            args=(config, ws.threads, log_level),
            name="ztix-worker-consumer",
            daemon=False,
        )
        proc.start()
        return proc

    children = [spawn() for _ in range(extra)]
    if threading.current_thread() is threading.main_thread():
        install_token_reload(runtime.app, lambda: [proc.pid for proc in children])
    while not stop.wait(1.0):
        for i, proc in enumerate(children):
            if not proc.is_alive():
                log.warning("consumer process %s exited (%s); restarting", proc.pid, proc.exitcode)
                if server is not None:
                    mark_dead(proc.pid)
                children[i] = spawn()
    for proc in children:
        proc.terminate()
    if server is not None:
        server.stop()
    runtime.stop()
    for proc in children:
        proc.join(30)
    log.info("ztix worker stopped")
    return 0
