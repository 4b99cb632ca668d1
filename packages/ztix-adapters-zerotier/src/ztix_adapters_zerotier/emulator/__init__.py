"""A faithful emulator of a self-hosted ZeroTier controller's JSON API (and of Central's
API v1), for tests, the demo and backup/restore drills.

State lives in a zerotier-one home directory (identity files, ``authtoken.secret``,
``controller.d/``), so a backup of it restores like a real controller's. Start one with
``EmulatorServer(home)`` (a context manager), ``ztix controller emulate`` or
``python -m ztix_adapters_zerotier.emulator``.
"""

from ztix_adapters_zerotier.emulator.identity import Identity, IdentityError, read_identity
from ztix_adapters_zerotier.emulator.server import CentralEmulatorServer, EmulatorServer
from ztix_adapters_zerotier.emulator.state import ControllerState

__all__ = [
    "CentralEmulatorServer",
    "ControllerState",
    "EmulatorServer",
    "Identity",
    "IdentityError",
    "read_identity",
]
