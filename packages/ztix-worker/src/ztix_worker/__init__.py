"""ztix worker: Dramatiq actors, outbox relay, coalesced route-server sync, reconciler.

:class:`~ztix_worker.runtime.WorkerRuntime` is the composition root; without a
``REDIS_URL`` it runs embedded (in-process), which is what the demo and single-box
installs use.
"""
