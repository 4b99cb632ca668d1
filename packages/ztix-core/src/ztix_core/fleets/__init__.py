"""Route-server fleets the core ships: ``none``, for exchanges without route servers."""

from ztix_core.fleets.none import NoRouteServers

__all__ = ["NoRouteServers"]
