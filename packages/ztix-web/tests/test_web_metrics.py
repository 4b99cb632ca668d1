"""``/metrics``, request ids and log lines of the web app, in process (both storages)."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import attrs
import pytest
from prometheus_client.parser import text_string_to_metric_families

from ztix_core.logs import configure_logging
from ztix_core.records import ControllerObservation, ObservedCheck, RouteServerState
from ztix_core.testing import builders as b
from ztix_web.app import create_app
from ztix_web.testing import Browser

from .conftest import PASSWORD, Site, later, submit  # type: ignore[import-not-found]

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(browser: Browser) -> Samples:
    result = browser.get("/metrics")
    assert result.status_code == 200 and result.headers["content-type"].startswith("text/plain")
    assert "set-cookie" not in result.headers
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(result.text)
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


@pytest.fixture
def fresh(site: Site) -> Site:
    """The site with no cache between scrapes (each scrape reads the database)."""
    site.ws = attrs.evolve(site.ws, metrics_cache_s=0.0)
    return site


@pytest.fixture
def lines() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    handler = configure_logging("INFO", stream)
    yield stream
    logging.getLogger().removeHandler(handler)


def test_a_failed_and_a_throttled_sign_in_are_counted(fresh: Site) -> None:
    probe = fresh.browser()
    before = scrape(probe)
    browser = fresh.browser()
    assert browser.login("opa", "wrong password!!").status_code == 401
    after = scrape(probe)
    assert (
        value(after, "ztix_login_failures_total") == value(before, "ztix_login_failures_total") + 1
    )
    assert value(after, "ztix_login_throttled_total") == value(before, "ztix_login_throttled_total")
    for _ in range(fresh.ws.max_failures_per_account - 1):
        browser.login("opa", "wrong password!!")
    assert browser.login("opa", PASSWORD).status_code == 429
    throttled = scrape(probe)
    assert value(throttled, "ztix_login_throttled_total") == (
        value(before, "ztix_login_throttled_total") + 1
    )
    posts = value(
        throttled, "ztix_http_requests_total", method="POST", route="/login", status="429"
    )
    assert posts >= 1


def test_the_exchange_state_is_read_at_scrape_time(fresh: Site) -> None:
    probe = fresh.browser()
    first = scrape(probe)
    assert value(first, "ztix_vitals_up") == 1
    assert value(first, "ztix_requests", status="pending") == 0
    assert ("ztix_controller_ready", ()) not in first  # never observed yet
    submit(fresh, "opa", 64500)
    with fresh.core.uow_factory() as uow:
        uow.route_servers.put(RouteServerState("rs1", desired_generation=3, applied_generation=2))
        uow.observations.record_controller(
            ControllerObservation(b.T0, (ObservedCheck("controller_reachable", False),))
        )
        uow.commit()
    later(fresh, 30)
    second = scrape(probe)
    assert value(second, "ztix_requests", status="pending") == 1
    assert value(second, "ztix_route_server_desired_generation", server="rs1") == 3
    assert value(second, "ztix_route_server_applied_generation", server="rs1") == 2
    assert value(second, "ztix_controller_ready") == 0
    assert value(second, "ztix_controller_observed_age_seconds") == 30


def test_a_cached_reading_serves_scrapes_close_together(site: Site) -> None:
    site.ws = attrs.evolve(site.ws, metrics_cache_s=60.0)
    probe = site.browser()
    assert value(scrape(probe), "ztix_requests", status="pending") == 0
    submit(site, "opa", 64500)
    assert value(scrape(probe), "ztix_requests", status="pending") == 0  # cached


def test_metrics_can_be_turned_off(site: Site) -> None:
    browser = Browser(create_app(site.core, attrs.evolve(site.ws, metrics=False)))
    assert browser.get("/metrics").status_code == 404


def test_request_ids_are_honoured_when_sane_and_carried_by_every_line(
    site: Site, lines: io.StringIO
) -> None:
    browser = site.browser()
    sane = browser.get("/login", headers={"X-Request-ID": "lb-7f3a:42"})
    assert sane.headers["x-request-id"] == "lb-7f3a:42"
    for insane in ("two words", "x" * 129, 'quote"d', ""):
        answer = browser.get("/login", headers={"X-Request-ID": insane})
        assert answer.headers["x-request-id"] != insane
        assert len(answer.headers["x-request-id"]) == 32
    browser.get("/nowhere", headers={"X-Request-ID": "lb-404"})
    records = [json.loads(line) for line in lines.getvalue().splitlines()]
    access = [r for r in records if r["logger"] == "ztix_web.access"]
    assert {r["request_id"] for r in access} >= {"lb-7f3a:42", "lb-404"}
    (missing,) = [r for r in access if r["request_id"] == "lb-404"]
    assert missing["status"] == 404 and missing["route"] == "unmatched"
    assert missing["path"] == "/nowhere" and missing["duration_ms"] >= 0


def test_a_sign_in_logs_neither_the_password_nor_the_query(site: Site, lines: io.StringIO) -> None:
    browser = site.browser()
    browser.get("/login?next=/dashboard&code=oauthcode123")
    assert (
        browser.post(
            "/login",
            {"username": "opa", "password": "wrong password!!"},
            headers={"Authorization": "Bearer ztix_" + "k" * 43},
        ).status_code
        == 401
    )
    browser.login("opa", PASSWORD)
    text = lines.getvalue()
    assert "oauthcode123" not in text and "wrong password!!" not in text
    assert PASSWORD not in text and "k" * 43 not in text
    assert '"path": "/login"' in text
