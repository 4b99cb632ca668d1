"""Schemathesis against the served OpenAPI document, SQLite behind it: every operation,
with an operator's and an admin's token — no 5xx, no answer the document does not allow."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import falcon
import hypothesis
import pytest
import schemathesis
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import positive_data_acceptance

from ztix_core.api_ports import TokenScope
from ztix_core.bootstrap import bootstrap
from ztix_core.memory import FixedClock
from ztix_core.plugins import Plugins, build_plugin_manager
from ztix_core.records import Actor
from ztix_core.settings import Settings
from ztix_core.testing import builders as b
from ztix_core.usecases.tokens import ApiTokens
from ztix_web.app import create_app
from ztix_web.config import WebSettings

from .conftest import FAST_HASHER, Site, seed, submit  # type: ignore[import-not-found]


@attrs.frozen
class Served:
    app: falcon.App[falcon.Request, falcon.Response]
    secrets: dict[str, str]


@pytest.fixture
def served(sqlite_template: Path, tmp_path: Path) -> Iterator[Served]:
    from ztix_adapters_sql.testing import copy_sqlite

    url = copy_sqlite(sqlite_template, tmp_path / "ztix.db")
    settings = Settings(storage="sql", database_url=url, allow_documentation_asns=True)
    clock = FixedClock(b.T0)
    core = bootstrap(
        settings, Plugins(build_plugin_manager()), clock=clock, with_provisioning=False
    )
    # No rate limit in the way: the fuzzer makes many calls with one token.
    site = Site(core, clock, WebSettings(api_burst=1_000_000, api_rate_per_s=1_000_000))
    seed(site)
    for asn, node in ((64500, "a1b2c3d4e5"), (64501, "a1b2c3d4e6")):
        submit(site, "opa" if asn == 64500 else "opb", asn, node)
    tokens = ApiTokens(core.uow_factory, clock)
    cli = Actor.system("test")
    secrets = {
        "operator": tokens.create(cli, site.users["opa"].id, "fuzz").secret,
        "admin": tokens.create(cli, site.users["admin"].id, "fuzz", TokenScope.ADMIN).secret,
    }
    yield Served(create_app(core, site.ws, FAST_HASHER), secrets)
    core.uow_factory.dispose()  # type: ignore[attr-defined]


SETTINGS = hypothesis.settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=list(hypothesis.HealthCheck),
    derandomize=True,
    database=None,
)


def _fuzz(served: Served, who: str) -> list[str]:
    """Every operation of the served document, each with generated cases; the failures
    (one line each)."""
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", served.app)
    # identity: the WSGI transport asks for gzip but does not decode it (an HTTP client
    # does); the export's gzip is tested in test_api_ixf.
    headers = {"Authorization": f"Bearer {served.secrets[who]}", "Accept-Encoding": "identity"}
    failures: list[str] = []
    operations = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result  # the document loads whole
        operations.append(result.ok())
    assert len(operations) >= 14
    for operation in operations:

        @SETTINGS
        @hypothesis.given(case=operation.as_strategy())
        def run(case: Any) -> None:
            # Every other check runs: no 5xx, status codes, content types, headers and
            # bodies as documented, invalid input refused. Not "schema-valid input is
            # accepted": the domain refuses valid-looking input the schema cannot know
            # about (an ASN that is not the caller's: 422 not_eligible).
            case.call_and_validate(headers=headers, excluded_checks=[positive_data_acceptance])

        try:
            run()
        except Exception as exc:
            failures.append(f"{operation.label}: {str(exc)[:2000]}")
    return failures


@pytest.mark.parametrize("who", ["operator", "admin"])
def test_api_conforms_to_its_document(served: Served, who: str) -> None:
    failures = _fuzz(served, who)
    assert not failures, "\n\n".join(failures)
