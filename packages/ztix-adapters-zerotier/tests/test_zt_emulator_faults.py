"""Emulator fault switches (database not ready, go away, forced errors, latency, token
change) and the keep-alive rule (closed after 5 requests or 5 s)."""

from __future__ import annotations

import http.client
import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ztix_adapters_zerotier.emulator import EmulatorServer
from ztix_adapters_zerotier.emulator.testing import api_client, running_emulator

NODE = "0a1b2c3d4e"


@pytest.fixture
def zt(tmp_path: Path) -> Iterator[EmulatorServer]:
    with running_emulator(tmp_path / "home", keepalive_timeout=0.5) as server:
        yield server


@pytest.fixture
def client(zt: EmulatorServer) -> Iterator[httpx.Client]:
    with api_client(zt) as c:
        yield c


def test_database_not_ready_gives_503(zt: EmulatorServer, client: httpx.Client) -> None:
    zt.set_database_ready(False)
    response = client.get("/controller")
    assert response.status_code == 503
    assert response.json()["databaseReady"] is False
    assert response.json()["controller"] is True
    assert client.get("/status").status_code == 200
    zt.database_ready = True
    assert client.get("/controller").json()["databaseReady"] is True


def test_go_away_refuses_connections_until_it_comes_back(
    zt: EmulatorServer, client: httpx.Client
) -> None:
    nwid = zt.create_network("lan")
    url = zt.url
    assert client.get("/status").status_code == 200  # an open keep-alive connection
    zt.go_away()
    assert not zt.running
    with pytest.raises(httpx.TransportError):
        client.get("/status")
    with pytest.raises(httpx.ConnectError), api_client(zt) as fresh:
        fresh.get("/status")
    zt.come_back()
    assert zt.url == url
    assert client.get(f"/controller/network/{nwid}").status_code == 200


def test_go_away_hang_makes_clients_time_out(zt: EmulatorServer) -> None:
    zt.go_away("hang")
    with pytest.raises(httpx.ReadTimeout), api_client(zt, timeout=0.3) as client:
        client.get("/status")
    zt.come_back()
    with api_client(zt) as client:
        assert client.get("/status").status_code == 200


def test_go_away_rejects_unknown_modes(zt: EmulatorServer) -> None:
    with pytest.raises(ValueError, match="refuse"):
        zt.go_away("sulk")
    assert zt.running


def test_forced_errors_count_down_and_do_nothing(zt: EmulatorServer, client: httpx.Client) -> None:
    nwid = zt.create_network("lan")
    path = f"/controller/network/{nwid}/member/{NODE}"
    zt.force_errors(500, count=2)
    for _ in range(2):
        response = client.post(path, json={"authorized": True})
        assert response.status_code == 500
        with pytest.raises(json.JSONDecodeError):
            json.loads(response.text)  # unescaped like the real error body
    assert client.get(f"/controller/network/{nwid}/member").json() == {}  # nothing done
    assert client.post(path, json={"authorized": True}).status_code == 200


def test_forced_errors_until_cleared_and_auth_still_first(
    zt: EmulatorServer, client: httpx.Client
) -> None:
    zt.force_errors(503, body="")
    assert client.get("/status").status_code == 503
    assert client.get("/controller").status_code == 503
    unauthenticated = httpx.get(f"{zt.url}/status", headers={"X-ZT1-Auth": "bad"})
    assert (unauthenticated.status_code, unauthenticated.content) == (401, b"{}")
    zt.clear_faults()
    assert client.get("/status").status_code == 200


def test_latency_provokes_client_timeouts(zt: EmulatorServer) -> None:
    zt.set_latency(0.6)
    with api_client(zt, timeout=0.2) as client, pytest.raises(httpx.ReadTimeout):
        client.get("/status")
    zt.set_latency(0)
    with api_client(zt, timeout=0.2) as client:
        assert client.get("/status").status_code == 200


def test_token_change(zt: EmulatorServer, client: httpx.Client) -> None:
    old = zt.token
    zt.set_token("rotated-token-0000000000")
    assert zt.token == "rotated-token-0000000000"
    assert (zt.home / "authtoken.secret").read_text() == "rotated-token-0000000000"
    refused = client.get("/status")
    assert (refused.status_code, refused.content) == (401, b"{}")
    with api_client(zt) as fresh:
        assert fresh.get("/status").status_code == 200
    assert old != zt.token


def test_keep_alive_closes_after_five_requests(zt: EmulatorServer) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", zt.port, timeout=5)
    headers = {"X-ZT1-Auth": zt.token}
    try:
        for i in range(1, 6):
            conn.request("GET", "/status", headers=headers)
            response = conn.getresponse()
            response.read()
            assert response.status == 200
            closing = response.getheader("Connection") == "close"
            assert closing is (i == 5), i
            # like cpp-httplib in zerotier-one 1.14.1: the limits on every other answer
            keep_alive = response.getheader("Keep-Alive")
            limits = f"timeout={zt.keepalive_timeout:g}, max=5"  # 5 s unless a test says
            assert keep_alive == (None if i == 5 else limits), i
            sock_open = conn.sock is not None
            assert sock_open is (i < 5)
    finally:
        conn.close()


def test_a_client_asking_to_close_gets_connection_close(zt: EmulatorServer) -> None:
    response = httpx.get(
        f"{zt.url}/status", headers={"X-ZT1-Auth": zt.token, "Connection": "close"}
    )
    assert response.headers["Connection"] == "close" and "Keep-Alive" not in response.headers
    assert response.json()["version"] == "1.14.1"  # the version this emulates


def test_keep_alive_closes_an_idle_connection(zt: EmulatorServer) -> None:
    with socket.create_connection(("127.0.0.1", zt.port), timeout=5) as sock:
        request = (f"GET /status HTTP/1.1\r\nHost: x\r\nX-ZT1-Auth: {zt.token}\r\n\r\n").encode()
        sock.sendall(request)
        first = sock.recv(65536)
        assert first.startswith(b"HTTP/1.1 200")
        time.sleep(0.8)  # the fixture's keep-alive timeout is 0.5 s
        assert sock.recv(65536) == b""


def test_default_keep_alive_limits_are_the_controllers(tmp_path: Path) -> None:
    server = EmulatorServer(tmp_path / "home")
    assert (server.keepalive_max, server.keepalive_timeout) == (5, 5.0)


def test_requests_are_recorded_without_query_strings(zt: EmulatorServer) -> None:
    httpx.get(f"{zt.url}/status", params={"auth": zt.token})
    assert zt.requests[-1] == ("GET", "/status")


def test_restart_keeps_everything(zt: EmulatorServer, client: httpx.Client) -> None:
    nwid = zt.create_network("lan")
    client.post(f"/controller/network/{nwid}/member/{NODE}", json={"authorized": True})
    zt.set_database_ready(False)
    address, url, token = zt.address, zt.url, zt.token
    zt.restart()
    assert (zt.address, zt.url, zt.token) == (address, url, token)
    with api_client(zt) as fresh:
        assert fresh.get(f"/controller/network/{nwid}/member").json() == {NODE: 1}
        assert fresh.get("/controller").status_code == 503  # the switch survives


def test_dropped_connections_count_down_and_do_nothing(
    zt: EmulatorServer, client: httpx.Client
) -> None:
    nwid = zt.create_network("lan")
    path = f"/controller/network/{nwid}/member/{NODE}"
    zt.drop_connections(2)
    for _ in range(2):
        with pytest.raises(httpx.RemoteProtocolError):
            client.post(path, json={"authorized": True})
    assert client.get(f"/controller/network/{nwid}/member").json() == {}
    assert client.post(path, json={"authorized": True}).status_code == 200


def test_dropping_until_cleared(zt: EmulatorServer, client: httpx.Client) -> None:
    zt.drop_connections(None)
    for _ in range(3):
        with pytest.raises(httpx.RemoteProtocolError):
            client.get("/status")
    zt.clear_faults()
    assert client.get("/status").status_code == 200


def test_concurrent_posts_never_lose_updates(zt: EmulatorServer) -> None:
    from concurrent.futures import ThreadPoolExecutor

    nwid = zt.create_network("lan")
    nodes = [f"{i:010x}" for i in range(1, 9)]

    def work(node: str) -> list[int]:
        revisions = []
        with api_client(zt) as c:
            for n in range(10):
                body = {"authorized": True, "ipAssignments": [f"192.0.2.{n + 1}"]}
                revisions.append(
                    c.post(f"/controller/network/{nwid}/member/{node}", json=body).json()[
                        "revision"
                    ]
                )
                # also hammer one shared member
                c.post(f"/controller/network/{nwid}/member/00000000ff", json={"name": f"{n}"})
        return revisions

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(work, nodes))
    for revisions in results:
        assert revisions == list(range(1, 11))
    with api_client(zt) as c:
        listed = c.get(f"/controller/network/{nwid}/member").json()
    assert set(listed) == {*nodes, "00000000ff"}
    assert all(listed[node] == 10 for node in nodes)


def test_ipv6_loopback_listener(tmp_path: Path) -> None:
    with running_emulator(tmp_path / "v6", host="::1") as zt, api_client(zt) as client:
        assert zt.url.startswith("http://[::1]:")
        assert client.get("/status").json()["address"] == zt.address


def test_mangled_members_are_stored_differently_from_what_was_sent(
    zt: EmulatorServer, client: httpx.Client
) -> None:
    nwid = zt.create_network("lan")
    path = f"/controller/network/{nwid}/member/{NODE}"

    def drop_ipv6(member: dict[str, object]) -> None:
        member["ipAssignments"] = [a for a in member["ipAssignments"] if ":" not in a]  # type: ignore[attr-defined]

    zt.mangle_members(drop_ipv6)
    sent = {"authorized": True, "ipAssignments": ["192.0.2.1", "2001:db8::1"]}
    assert client.post(path, json=sent).json()["ipAssignments"] == ["192.0.2.1"]
    assert client.get(path).json()["ipAssignments"] == ["192.0.2.1"]
    zt.mangle_members(None)
    assert client.post(path, json=sent).json()["ipAssignments"] == ["192.0.2.1", "2001:db8::1"]


def test_go_away_hang_also_stalls_open_keep_alive_connections(
    zt: EmulatorServer,
) -> None:
    with api_client(zt, timeout=0.3) as client:
        assert client.get("/status").status_code == 200
        zt.go_away("hang")
        with pytest.raises(httpx.ReadTimeout):
            client.get("/status")
        zt.come_back()
        assert client.get("/status").status_code == 200
