"""Consecutive scans of a changing lab: new / unchanged / resolved / regressed, end to end.

The lab gives each profile a fresh port, but a host's identity across runs is its host:port.
So the test puts a plain TCP forwarder on one stable loopback port in front of the lab and
points it at another lab host (another build) between runs: to the scanner it is one appliance
being upgraded and downgraded.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from nscheck.cli import main
from nscheck.lab import Profile, start_lab

pytestmark = pytest.mark.lab

VULNERABLE = "14.1-43.50"  # CTX693420 (CitrixBleed 2, KEV), CTX694788, CTX694938 open, and later ones
FIXED_MORE = "14.1-47.48"  # those three fixed; the later bulletins still open
REVERTED = {"CTX693420", "CTX694788", "CTX694938"}


class Forwarder:
    """127.0.0.1:<stable port> -> whichever backend is set, byte for byte (TLS passes through)."""

    def __init__(self) -> None:
        self.backend: tuple[str, int] | None = None
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.port = 0
        self.thread.start()
        self.ready.wait(10)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        server = self.loop.run_until_complete(asyncio.start_server(self._handle, "127.0.0.1", 0))
        self.port = server.sockets[0].getsockname()[1]
        self.ready.set()
        self.loop.run_forever()
        server.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        assert self.backend is not None
        try:
            r2, w2 = await asyncio.open_connection(*self.backend)
        except OSError:
            writer.close()
            return

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(Exception):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            with contextlib.suppress(Exception):
                dst.close()

        await asyncio.gather(pipe(reader, w2), pipe(r2, writer))

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


@pytest.fixture(scope="module")
def lab() -> Iterator[tuple[Forwarder, dict[str, tuple[str, int]]]]:
    profiles = [Profile("old", build=VULNERABLE, roles=("gateway",)), Profile("new", build=FIXED_MORE, roles=("gateway",))]
    with start_lab(profiles) as running:
        fwd = Forwarder()
        try:
            yield fwd, {t.name: (t.host, t.port) for t in running.targets}
        finally:
            fwd.stop()


def scan(argv: list[str]) -> int:
    with pytest.raises(SystemExit) as e:
        main(["scan", *argv])
    return int(e.value.code or 0)


def test_changing_lab_history(lab: tuple[Forwarder, dict[str, tuple[str, int]]], tmp_path: Path,
                              capsys: pytest.CaptureFixture[str]) -> None:
    fwd, backends = lab
    state = tmp_path / "state.db"
    url = f"https://127.0.0.1:{fwd.port}"
    common = [url, "--state", str(state), "--no-progress", "--timeout", "5"]
    quiet_out = []
    for n, backend in enumerate(["old", "old", "new", "old"], 1):
        fwd.backend = backends[backend]
        jsonl = tmp_path / f"run{n}.jsonl"
        # Vulnerable in every run (later bulletins stay open): exit 1 every time.
        assert scan([*common, "--quiet", "--jsonl", str(jsonl)]) == 1
        quiet_out.append(capsys.readouterr().out)
    # --quiet prints transitions only: nothing at all for the unchanged second run.
    assert "NEW" in quiet_out[0] and "CTX693420" in quiet_out[0]
    assert quiet_out[1] == ""
    assert quiet_out[2].count("RESOLVED") == len(REVERTED) and "nscheck: 3 resolved" in quiet_out[2]
    assert quiet_out[3].count("REGRESSED") == len(REVERTED)

    with pytest.raises(SystemExit):
        main(["history", "--state", str(state), "--format", "json"])
    (h,) = json.loads(capsys.readouterr().out)["hosts"]
    assert h["host"] == f"127.0.0.1:{fwd.port}"
    assert [o["build"] for o in h["observations"]] == [VULNERABLE, VULNERABLE, FIXED_MORE, VULNERABLE]
    by_rule: dict[str, list[str]] = {}
    for e in h["events"]:
        by_rule.setdefault(e["rule_id"], []).append(e["transition"])
    for ctx in REVERTED:
        assert by_rule[ctx] == ["new", "resolved", "regressed"], ctx
    later = [r for r in by_rule if r.startswith(("CTX", "NSB-")) and r not in REVERTED]  # NSB-: CTX id unconfirmed
    assert later and all(by_rule[r] == ["new"] for r in later)
    # CitrixBleed 2 was exploited while the host was vulnerable: a compromise assessment is open.
    assessments = {f["rule_id"]: f for f in h["findings"] if f["kind"] == "assessment"}
    assert list(assessments) == ["compromise-assessment-required"]  # one per host, listing the bulletins
    assert assessments["compromise-assessment-required"]["status"] == "open"
    assert "CTX693420" in assessments["compromise-assessment-required"]["bulletins"]

    # The SIEM stream of each run carries the same transitions (nscheck.finding documents).
    def jsonl_transitions(n: int) -> dict[str, tuple[str, str]]:
        out = {}
        for line in (tmp_path / f"run{n}.jsonl").read_text().splitlines():
            d = json.loads(line)
            if d["event"]["dataset"] == "nscheck.finding" and d["nscheck"]["kind"] == "advisory":
                out[d["nscheck"].get("bulletin") or d["nscheck"]["rule_id"]] = (d["nscheck"]["transition"], d["event"]["action"])
        return out

    runs = [jsonl_transitions(n) for n in (1, 2, 3, 4)]
    assert set(runs[0]) == REVERTED | set(later)
    assert all(t == ("new", "vulnerability-detected") for t in runs[0].values())
    assert all(t == ("unchanged", "vulnerability-still-present") for t in runs[1].values())
    assert {r: runs[2][r] for r in REVERTED} == dict.fromkeys(REVERTED, ("resolved", "vulnerability-resolved"))
    assert {r: runs[3][r] for r in REVERTED} == dict.fromkeys(REVERTED, ("regressed", "vulnerability-regressed"))
    assert all(runs[2][r][0] == "unchanged" for r in later)


def test_host_down_keeps_findings_open(lab: tuple[Forwarder, dict[str, tuple[str, int]]], tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    fwd, backends = lab
    state = tmp_path / "state.db"
    url = f"https://127.0.0.1:{fwd.port}"
    common = [url, "--state", str(state), "--no-progress", "--timeout", "3", "--host-deadline", "6", "--quiet"]
    fwd.backend = backends["old"]
    assert scan(common) == 1
    capsys.readouterr()
    # The appliance stops answering: the forwarder accepts and drops every connection.
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    fwd.backend = ("127.0.0.1", closed.getsockname()[1])  # bound, not listening: refused
    try:
        jsonl = tmp_path / "down.jsonl"
        scan([*common, "--jsonl", str(jsonl)])
    finally:
        closed.close()
    assert capsys.readouterr().out == ""  # nothing resolved, nothing to mail
    docs = [json.loads(line) for line in jsonl.read_text().splitlines()]
    assert not [d for d in docs if d["event"].get("action") == "vulnerability-resolved"]
    (host_doc,) = [d for d in docs if d["event"]["dataset"] == "nscheck.host"]
    extra = host_doc["nscheck"]["result"]["extra"]
    assert len(extra["held_open"]) >= len(REVERTED) and not extra["state"]["fingerprinted"]
    assert extra["state"]["advisories_not_resolvable"].startswith("host ")  # says why (error/unreachable)
    with pytest.raises(SystemExit):
        main(["history", "--state", str(state), "-f", "json"])
    (h,) = json.loads(capsys.readouterr().out)["hosts"]
    assert all(f["status"] == "open" for f in h["findings"])


def test_clean_triage_closes_the_compromise_assessment(lab: tuple[Forwarder, dict[str, tuple[str, int]]],
                                                        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """NCSC advice made operational: scan (vulnerable while exploited) -> assessment open ->
    clean `nscheck triage --name HOST --state` -> the next scan reports it resolved once."""
    from tests.triage_fixtures import clean_tree, write_dir

    fwd, backends = lab
    fwd.backend = backends["new"]
    state = tmp_path / "state.db"
    host = f"127.0.0.1:{fwd.port}"
    common = [f"https://{host}", "--state", str(state), "--no-progress", "--timeout", "5", "--format", "json"]
    scan(common)
    capsys.readouterr()

    def open_assessments() -> set[str]:
        with pytest.raises(SystemExit):
            main(["history", host, "--state", str(state), "--format", "json"])
        (h,) = json.loads(capsys.readouterr().out)["hosts"]
        return {b for f in h["findings"] if f["kind"] == "assessment" and f["status"] == "open"
                for b in f.get("bulletins") or ()}

    assert "CTX696604" in open_assessments()

    tree = write_dir(clean_tree(), tmp_path / "bundle")
    with pytest.raises(SystemExit):
        main(["triage", str(tree), "--name", host, "--state", str(state), "--format", "json", "--no-yara",
              "--jsonl", str(tmp_path / "triage.jsonl")])
    # (exit 1 is fine: the collected ns.conf names a vulnerable build; what matters is: no indicator)
    assert json.loads(capsys.readouterr().out)["indicators"] == []
    assert open_assessments() == set()

    jsonl = tmp_path / "after.jsonl"
    scan([*common, "--jsonl", str(jsonl)])
    capsys.readouterr()
    docs = (tmp_path / "triage.jsonl").read_text().splitlines() + jsonl.read_text().splitlines()
    resolved = [json.loads(x) for x in docs]
    resolved = [d for d in resolved if d["event"]["dataset"] == "nscheck.finding"
                and d["nscheck"]["kind"] == "assessment" and d["nscheck"]["transition"] == "resolved"]
    assert len(resolved) == len({d["nscheck"]["finding_id"] for d in resolved}) >= 1, \
        "the closed assessment is announced to the SIEM, once"
