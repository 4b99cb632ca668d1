"""Reusable contract test suites and builders for adapter authors (needs pytest).

Import a suite's tests into your adapter's test module and provide its fixtures:
``from ztix_core.testing.repository_contract import *`` with a ``uow_factory`` fixture;
``from ztix_core.testing.provider_contract import *`` with ``provider`` and
``contract_network`` fixtures (membership providers).
"""
