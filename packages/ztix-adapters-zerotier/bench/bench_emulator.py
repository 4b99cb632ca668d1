"""Controller emulator figures: request latency per call kind, member-list size effects,
start-up time on a populated home, concurrent throughput.

Every line says how many calls it timed (n=…; the start-up is one run). No target: these
figures size the emulator for tests and the lab. The same-run baseline says how fast this
machine is right now: a bare GET on a stdlib HTTP server on 127.0.0.1 answering a fixed
JSON body, through the same kind of httpx client.

Run: ``uv run python packages/ztix-adapters-zerotier/bench/bench_emulator.py [members]``
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from _baseline import bare_http_server  # beside this script (python puts its folder first)

from ztix_adapters_zerotier.emulator import EmulatorServer
from ztix_adapters_zerotier.emulator.testing import api_client, running_emulator


def _timed(label: str, count: int, call: object) -> None:
    samples = []
    for i in range(count):
        start = time.perf_counter()
        call(i)  # type: ignore[operator]
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    print(
        f"{label:34} n={count:5}  median {statistics.median(samples):6.2f} ms  "
        f"p95 {samples[int(len(samples) * 0.95) - 1]:6.2f} ms"
    )


def main(members: int = 2000) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        with bare_http_server() as url, httpx.Client(base_url=url) as bare:
            _timed("baseline: bare GET (stdlib server)", 300, lambda i: bare.get("/"))
        with running_emulator(home) as zt, api_client(zt) as client:
            nwid = zt.create_network("bench")
            base = f"/controller/network/{nwid}"
            _timed("GET /status", 300, lambda i: client.get("/status"))
            _timed(
                "POST member (create, authorize)",
                members,
                lambda i: client.post(
                    f"{base}/member/{i + 1:010x}",
                    json={
                        "authorized": True,
                        "noAutoAssignIps": True,
                        "ipAssignments": [f"10.{i // 65536}.{i // 256 % 256}.{i % 256}"],
                        "name": f"AS{64500 + i}",
                    },
                ),
            )
            _timed(
                "POST member (unchanged)",
                300,
                lambda i: client.post(f"{base}/member/{i + 1:010x}", json={"authorized": True}),
            )
            _timed("GET member", 300, lambda i: client.get(f"{base}/member/{i + 1:010x}"))
            _timed(f"GET member list ({members})", 30, lambda i: client.get(f"{base}/member"))

            def burst(worker: int) -> None:
                with api_client(zt) as c:
                    for _ in range(100):
                        c.get(f"{base}/member/{worker + 1:010x}")

            start = time.perf_counter()
            with ThreadPoolExecutor(8) as pool:
                list(pool.map(burst, range(8)))
            elapsed = time.perf_counter() - start
            print(f"{'8 clients x 100 GET member':34} {800 / elapsed:8.0f} requests/s")
        start = time.perf_counter()
        server = EmulatorServer(home)
        server.start()
        print(
            f"{f'start-up on a home of {members}':34} {(time.perf_counter() - start):8.3f} s"
            "  (one run)"
        )
        server.stop()
    print("no target: figures for sizing the emulator")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 2000)
