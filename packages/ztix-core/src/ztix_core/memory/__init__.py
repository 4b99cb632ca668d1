"""In-memory adapters for every port: for tests, the demo and integrators' experiments."""

from ztix_core.memory.clock import FixedClock, SystemClock
from ztix_core.memory.events import NoEvents, RecordingEvents
from ztix_core.memory.fleet import InMemoryFleet
from ztix_core.memory.hasher import PlainTestHasher
from ztix_core.memory.provider import InMemoryProvider
from ztix_core.memory.queue import InProcessQueue, RecordingQueue
from ztix_core.memory.registry import InMemoryRegistry
from ztix_core.memory.storage import InMemoryStore, InMemoryUnitOfWork

__all__ = [
    "FixedClock",
    "InMemoryFleet",
    "InMemoryProvider",
    "InMemoryRegistry",
    "InMemoryStore",
    "InMemoryUnitOfWork",
    "InProcessQueue",
    "NoEvents",
    "PlainTestHasher",
    "RecordingEvents",
    "RecordingQueue",
    "SystemClock",
]
