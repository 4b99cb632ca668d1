"""The core Provisioner with route-server syncs coalesced through the task queue."""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

from ztix_core.usecases import Provisioner, SyncResult


class CoalescingProvisioner(Provisioner):
    """A Provisioner whose ``provision``/``deprovision`` ask for a sync instead of running
    one inline.

    The core calls :meth:`sync_route_servers` at the end of provisioning and leaving; here
    that only raises the "sync pending" flag (see :mod:`ztix_worker.coalesce`), and the
    ``sync_route_servers`` actor runs :meth:`run_sync` for everything that changed
    meanwhile. That is what turns a burst of approvals into few applies.
    """

    def __init__(self, *args: Any, request_sync: Callable[[], None], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._request_sync = request_sync

    def sync_route_servers(
        self, *, force: bool = False, servers: Collection[str] = ()
    ) -> SyncResult:
        """Ask for a coalesced sync; the result is empty (generation 0, no outcomes).
        (A drift repair names ``servers``; it runs through :meth:`repair_route_servers`.)"""
        self._request_sync()
        return SyncResult(0, ())

    def run_sync(self, *, force: bool = False) -> SyncResult:
        """Really render, apply where behind (everywhere when ``force``) and settle."""
        return super().sync_route_servers(force=force)
