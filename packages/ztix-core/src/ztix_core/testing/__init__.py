"""Reusable contract test suites and builders for adapter authors (needs pytest).

Import a suite's tests into your adapter's test module and provide its fixtures:
``from ztix_core.testing.repository_contract import *`` with a ``uow_factory`` fixture.
"""
