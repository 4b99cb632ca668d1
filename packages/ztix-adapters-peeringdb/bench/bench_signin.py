"""Benchmark of Sign in with PeeringDB against the local provider (not a test).

Starts the test provider (django-oauth-toolkit under gunicorn, as the tests do) and ztix
on a migrated SQLite file with the sign-in configured, then times ``--iterations`` sign-ins
of one PeeringDB user (after a warm-up that is not counted), each from a fresh browser
(``SignInDriver``: ztix through ``falcon.testing`` in this process, the provider over
HTTP on 127.0.0.1):

* round trip — what a person waits for, minus rendering: ztix's sign-in page,
  ``/login/peeringdb`` (a state stored), the provider's authorize, its login form and
  POST, authorize again, then ztix's callback;
* callback — ztix's share of it: the state taken, the token exchange, the id_token
  verified (JWKS cached), ``profile/v1`` read, user and links written, session started.

Beside them, in the same run, two baselines say how fast this machine is right now: a
bare GET of the provider's ``/ready`` (one Django request, one SQLite count) and ztix's
sign-in page (one session row written). The callback is split into the provider calls and
what ztix itself does. Every figure is p50/p95 in ms.

    uv run python packages/ztix-adapters-peeringdb/bench/bench_signin.py [--iterations 50]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from ztix_adapters_peeringdb.testing_idp.harness import LocalIdp
from ztix_adapters_peeringdb.testing_idp.signin import (
    CALLBACK,
    SignInDriver,
    make_exchange,
    net,
    new_person,
    profile,
)
from ztix_adapters_sql.testing import migrated_sqlite_url
from ztix_web.testing import Browser


def _line(label: str, samples: list[float]) -> str:
    q = statistics.quantiles(samples, n=100)
    return f"  {label:40} p50 {q[49]:7.2f} ms   p95 {q[94]:7.2f} ms   (n={len(samples)})"


def _time(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000


def _timed(fn: Callable[..., Any], samples: list[float]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kw: Any) -> Any:
        start = time.perf_counter()
        try:
            return fn(*args, **kw)
        finally:
            samples.append((time.perf_counter() - start) * 1000)

    return wrapper


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=5)
    args = parser.parse_args(argv)

    with (
        tempfile.TemporaryDirectory(prefix="ztix-bench-signin-") as tmp,
        LocalIdp([CALLBACK]) as idp,
    ):
        exchange = make_exchange(idp, migrated_sqlite_url(Path(tmp)))
        oidc = exchange.extensions[0].flow.oidc
        parts: dict[str, list[float]] = {"exchange": [], "verify_id_token": [], "profile": []}
        for name, samples in parts.items():
            oidc.__dict__[name] = _timed(getattr(oidc, name), samples)
        person = new_person(idp, profile(networks=[net(64500, 15), net(64501, 1)]))
        round_trips: list[float] = []
        callbacks: list[float] = []
        provider_bare: list[float] = []
        ztix_bare: list[float] = []
        probe = httpx.Client()
        page = Browser(exchange.app)
        for i in range(args.warmup + args.iterations):
            driver = SignInDriver(exchange)
            t0 = time.perf_counter()
            started = driver.start()
            url = driver.authorize(started.headers["location"], person.username)
            t1 = time.perf_counter()
            answer = driver.callback(url)
            t2 = time.perf_counter()
            assert answer.status_code == 303, answer.text
            driver.close()
            bare_provider = _time(lambda: probe.get(idp.base_url + "/ready"))
            bare_ztix = _time(lambda: page.get("/login"))
            if i < args.warmup:
                for samples in parts.values():
                    samples.clear()
                continue
            round_trips.append((t2 - t0) * 1000)
            callbacks.append((t2 - t1) * 1000)
            provider_bare.append(bare_provider)
            ztix_bare.append(bare_ztix)
        probe.close()
        load = os.getloadavg()
        print(f"Sign in with PeeringDB, {args.iterations} sign-ins (load {load[0]:.2f})")
        print(_line("round trip (ztix + provider)", round_trips))
        print(_line("ztix callback", callbacks))
        print(_line("  of which: token exchange", parts["exchange"]))
        print(_line("  of which: id_token verification", parts["verify_id_token"]))
        print(_line("  of which: profile/v1", parts["profile"]))
        rest = [
            c - e - v - p
            for c, e, v, p in zip(
                callbacks,
                parts["exchange"],
                parts["verify_id_token"],
                parts["profile"],
                strict=True,
            )
        ]
        print(_line("  of which: ztix (state, user, session)", rest))
        print(_line("baseline: provider GET /ready", provider_bare))
        print(_line("baseline: ztix GET /login", ztix_bare))
        print(f"  JWKS fetched {oidc.jwks_fetches} time(s) in the run")
        audit = exchange.actions()
        print(f"  audit rows: {audit.count('auth.login')} sign-ins")
        exchange.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
