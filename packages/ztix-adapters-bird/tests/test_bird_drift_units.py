"""The drift check's judgement of a server's answer (no daemon needed)."""

from __future__ import annotations

from ztix_adapters_bird.apply import MANIFEST_HEADER, file_digest, manifest_bytes
from ztix_adapters_bird.drift import compare, declared_protocols, running_protocols

FILES = {
    "bird.conf": b'protocol device {\n}\ninclude "peers/*.conf";\n',
    "peers/AS1.conf": b"protocol bgp AS1_v4 from ztix_client_v4 {\n}\n",
}
DIGEST = "d" * 64
STATUS = """0001 BIRD 2.0.12 ready.
1000-BIRD 2.0.12
1011-Router ID is 10.0.0.1
     Last reboot on 2026-12-03 01:00:00.000
     Last reconfiguration on 2026-12-03 01:00:01.000
0013 Daemon is up and running"""
CONFIGURED = (
    "Last reboot on 2026-12-03 01:00:00.000\nLast reconfiguration on 2026-12-03 01:00:01.000"
)
PROTOCOLS = """0001 BIRD 2.0.12 ready.
2002-Name       Proto      Table      State  Since         Info
1002-device1    Device     ---        up     01:00:00.000
     AS1_v4     BGP        ---        start  01:00:01.000  Active"""


def answer(
    files: dict[str, bytes] = FILES,
    manifest: str | None = None,
    status: str = STATUS,
    configured: str = CONFIGURED,
    protocols: str = PROTOCOLS,
) -> str:
    if manifest is None:
        manifest = manifest_bytes(DIGEST, FILES).decode()
    sums = "\n".join(f"{file_digest(data)}  {name}" for name, data in files.items())
    return (
        f"@@manifest\n{manifest}\n@@configured\n{configured}\n@@hashes\n{sums}\n"
        f"@@status\n{status}\n@@protocols\n{protocols}\n@@end\n"
    )


def test_a_server_as_ztix_left_it_is_in_sync() -> None:
    found = compare("rs1", answer(), FILES, DIGEST)
    assert not found.drifted and found.error == "", found


def test_every_kind_of_difference_is_named_with_digests_only() -> None:
    live = {"bird.conf": FILES["bird.conf"], "peers/extra.conf": b"secret 123\n"}
    protocols = PROTOCOLS.replace("AS1_v4 ", "hand_1 ")
    status = STATUS.replace("01:00:01.000", "01:05:00.000")
    found = compare("rs1", answer(live, protocols=protocols, status=status), FILES, DIGEST)
    assert [(f.name, f.problem) for f in found.files] == [
        ("peers/AS1.conf", "missing"),
        ("peers/extra.conf", "extra"),
    ]
    assert found.files[1].found == file_digest(b"secret 123\n")
    assert found.missing_protocols == ("AS1_v4",)
    assert found.extra_protocols == ("hand_1",)
    assert "Last reconfiguration on 2026-12-03 01:05:00.000" in found.reconfigured
    assert "secret" not in repr(found)


def test_manifest_problems() -> None:
    missing = compare("rs1", answer(manifest=""), FILES, DIGEST)
    assert missing.manifest.startswith("missing or unreadable")
    other = compare("rs1", answer(), FILES, "e" * 64)
    assert other.manifest.startswith("names config dddddddddddd, the desired one is eeeeeeeeeeee")
    header_only = compare("rs1", answer(manifest=MANIFEST_HEADER + DIGEST), FILES, DIGEST)
    assert header_only.manifest == "its per-file digests are not the desired config's"


def test_no_record_of_ztix_configure_is_drift() -> None:
    found = compare("rs1", answer(configured=""), FILES, DIGEST)
    assert found.reconfigured == "ztix has no record of its last configure"


def test_busy_unreachable_and_cut_answers_judge_nothing() -> None:
    busy = compare("rs1", "@@busy\nhost:12:abc\n", FILES, DIGEST)
    assert busy.error.startswith("an apply is under way (host:12:abc)") and not busy.drifted
    cut = compare("rs1", answer().replace("@@end\n", ""), FILES, DIGEST)
    assert cut.error.startswith("incomplete answer")
    down = compare(
        "rs1",
        answer(protocols="Unable to connect to server control socket (/run/bird.ctl)"),
        FILES,
        DIGEST,
    )
    assert down.error.startswith("BIRD does not answer: Unable to connect")
    gone = compare("rs1", "@@error\nconfig dir /x does not exist\n", FILES, DIGEST)
    assert gone.error == "config dir /x does not exist"


def test_protocol_names_as_bird_gives_them() -> None:
    files = {
        "a.conf": b"protocol device {\n}\nprotocol kernel k4 {\n}\nprotocol bgp from t {\n}\n",
        "b.conf": b"  protocol device {\n}\nprotocol static ztix_vrp4 {\n",
    }
    assert declared_protocols(files) == {"device1", "device2", "k4", "bgp1", "ztix_vrp4"}
    assert running_protocols(PROTOCOLS) == {"device1", "AS1_v4"}
    assert running_protocols("Unable to connect") is None
