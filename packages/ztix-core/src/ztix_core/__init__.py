"""ztix core: the domain of a virtual Internet Exchange on ZeroTier, free of frameworks.

Integrators import records, value types, use cases and the in-memory adapters from here;
adapter distributions implement the ports in :mod:`ztix_core.ports`.
"""

__version__ = "0.1.0"
