"""SIEM delivery: OCSF findings with a lifecycle, syslog into a real rsyslog, Splunk HEC with a spool.

rsyslog is Debian's (``.ci/run`` installs it); the HEC receiver is an in-process server that
implements the documented endpoints (``/services/collector/event``, ``/services/collector/ack``)
with 503s, slow answers and a connection dropped mid-batch. Everything listens on 127.0.0.1.
"""

from __future__ import annotations

import http.server
import json
import os
import re
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tls_fixtures import loopback_cert

from nscheck.cli import main
from nscheck.lab import start_lab
from nscheck.lab.server import RunningLab
from nscheck.report.ocsf import OcsfWriter

pytestmark = pytest.mark.lab
TOKEN = "11111111-2222-3333-4444-555555555555"


def cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as e:
        main(argv)
    out = capsys.readouterr()
    return int(e.value.code or 0), out.out, out.err


@pytest.fixture(scope="module")
def lab() -> Iterator[RunningLab]:
    with start_lab("demo") as running:
        yield running


def reachable(lab: RunningLab) -> list[str]:
    return [t.url for t in lab.targets if "unreach" not in t.name and "refused" not in t.name]


def jsonl_ids(path: Path) -> set[str]:
    return {json.loads(line)["event"]["id"] for line in path.read_text().splitlines() if line.strip()}


# -- OCSF ------------------------------------------------------------------------------------------

def _no_extra(model: Any, where: str = "") -> list[str]:
    """pydantic-ocsf models allow extra keys; the OCSF schema does not (only ``unmapped``)."""
    from pydantic import BaseModel

    bad: list[str] = []
    if isinstance(model, BaseModel):
        for k in (model.model_extra or {}):
            bad.append(f"{where}.{k}")
        for name in type(model).model_fields:
            if name == "unmapped":
                continue
            bad += _no_extra(getattr(model, name), f"{where}.{name}")
    elif isinstance(model, list):
        for i, x in enumerate(model):
            bad += _no_extra(x, f"{where}[{i}]")
    return bad


def validate_ocsf(ev: dict[str, Any]) -> None:
    # The class definitions of OCSF 1.1.0 as compiled by pydantic-ocsf from the ocsf-schema repository
    # (https://github.com/ocsf/ocsf-schema, tag v1.1.0): required attributes, types, enums.
    from ocsf.v1_1_0 import events as e

    cls = {2002: e.VulnerabilityFinding, 2004: e.DetectionFinding, 5001: e.InventoryInfo}[ev["class_uid"]]
    model = cls.model_validate(ev)
    # pydantic-ocsf derives the class constants itself and (3.0.0) has no field for the base
    # event's required `time`: those are checked here directly instead.
    derived = model.model_dump()
    for k in ("class_uid", "category_uid", "type_uid"):
        assert derived[k] == ev[k], (k, derived[k], ev[k])
    constants = {".class_uid", ".class_name", ".category_uid", ".category_name", ".type_uid", ".type_name", ".time"}
    assert [x for x in _no_extra(model) if x not in constants] == [], (ev["class_uid"], _no_extra(model))
    assert ev["type_uid"] == ev["class_uid"] * 100 + ev["activity_id"]
    assert isinstance(ev["time"], int) and ev["metadata"]["version"] == "1.1.0"


def test_ocsf_events_validate_for_every_kind_of_result() -> None:
    import sys

    sys.path.insert(0, str(Path(__file__).parent))
    from test_report_fixtures import OBSERVER, RUN, fleet

    w = OcsfWriter(RUN, observer_hostname=OBSERVER)
    seen: set[int] = set()
    for r in fleet():
        for ev in w.host_events(r):
            validate_ocsf(ev)
            seen.add(ev["class_uid"])
    assert seen == {2002, 2004, 5001}


def test_ocsf_activity_follows_the_lifecycle() -> None:
    from nscheck.model import RunInfo

    w = OcsfWriter(RunInfo(run_id="r", started="2026-12-01T00:00:00Z", kind="scan", tool_version="t"))
    base = {"@timestamp": "2026-12-01T00:00:00Z", "event": {"id": "e", "severity": 70, "dataset": "nscheck.finding"},
            "message": "m", "host": {"name": "gw"}, "rule": {"name": "CTX1"},
            "vulnerability": {"id": ["CVE-2025-5777"], "severity": "critical", "score": {"base": 9.3}}}
    got = {}
    for tr in ("new", "unchanged", "regressed", "reopened", "resolved", None):
        ns = {"finding_id": "nsf-1", "kind": "advisory", "status": "resolved" if tr == "resolved" else "open",
              **({"transition": tr} if tr else {})}
        ev = w.finding_event({**base, "nscheck": ns})
        validate_ocsf(ev)
        got[tr] = (ev["activity_name"], ev["status"])
    assert got == {"new": ("Create", "New"), "unchanged": ("Update", "In Progress"), "regressed": ("Update", "In Progress"),
                   "reopened": ("Update", "In Progress"), "resolved": ("Close", "Resolved"), None: ("Create", "New")}


def test_ocsf_scan_with_state_creates_then_updates(lab, tmp_path, capsys) -> None:
    state, out = tmp_path / "state.db", tmp_path / "f.ocsf.jsonl"
    urls = reachable(lab)
    for run in (1, 2):
        code, _, err = cli(["scan", *urls, "--state", str(state), "--ocsf", str(out), "-q", "--timeout", "3"], capsys)
        assert code in (0, 1), err
        events = [json.loads(line) for line in out.read_text().splitlines()]
        for ev in events:
            validate_ocsf(ev)
        findings = [ev for ev in events if ev["class_uid"] in (2002, 2004)]
        assert findings, "the demo lab has vulnerable and compromised hosts"
        acts = {ev["activity_name"] for ev in findings}
        assert acts == ({"Create"} if run == 1 else {"Update"}), (run, acts)
        assert sum(1 for ev in events if ev["class_uid"] == 5001) == len(urls)
        ids = [ev["finding_info"]["uid"] for ev in findings]
        if run == 1:
            first_ids = set(ids)
        else:
            assert set(ids) >= first_ids  # the same finding ids: consumers update, not duplicate
        out.unlink()


# -- syslog into a real rsyslog --------------------------------------------------------------------

def _free_ports(*kinds: int) -> list[int]:
    """Free ports, all different numbers: every socket stays bound until all are chosen (one at a
    time, the kernel may hand out the same free port twice: CI once got tcp == tls)."""
    for _ in range(50):
        socks = [socket.socket(socket.AF_INET, kind) for kind in kinds]
        try:
            for s in socks:
                s.bind(("127.0.0.1", 0))
            ports = [s.getsockname()[1] for s in socks]
        finally:
            for s in socks:
                s.close()
        if len(set(ports)) == len(ports):  # a UDP and a TCP port may share a number: avoid it too
            return ports
    raise AssertionError("no distinct free ports on loopback")


def _free_port(kind: int) -> int:
    return _free_ports(kind)[0]


@pytest.fixture
def rsyslog(tmp_path) -> Iterator[dict[str, Any]]:
    exe = shutil.which("rsyslogd") or ("/usr/sbin/rsyslogd" if Path("/usr/sbin/rsyslogd").exists() else None)
    if exe is None:
        if os.environ.get("CI"):
            pytest.fail("rsyslogd is not installed (.ci/run installs Debian's rsyslog)")
        pytest.skip("rsyslogd not installed")
    work = tmp_path / "rsyslog"
    work.mkdir()
    udp, tcp, tls = _free_ports(socket.SOCK_DGRAM, socket.SOCK_STREAM, socket.SOCK_STREAM)
    out = work / "messages.log"
    cert, key = loopback_cert(work, "syslog")
    conf = work / "rsyslog.conf"
    conf.write_text(f"""
global(workDirectory="{work}" defaultNetstreamDriverCAFile="{cert}"
       defaultNetstreamDriverCertFile="{cert}" defaultNetstreamDriverKeyFile="{key}")
module(load="imudp")
module(load="imtcp")
input(type="imudp" address="127.0.0.1" port="{udp}")
input(type="imtcp" address="127.0.0.1" port="{tcp}")
input(type="imtcp" address="127.0.0.1" port="{tls}" streamDriver.name="ossl" streamDriver.mode="1"
      streamDriver.authMode="anon")
*.* action(type="omfile" file="{out}" template="RSYSLOG_SyslogProtocol23Format")
""", encoding="utf-8")
    proc = subprocess.Popen([exe, "-n", "-f", str(conf), "-i", str(work / "pid")],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", tcp), timeout=0.5).close()
            break
        except OSError:
            time.sleep(0.1)
    else:
        proc.kill()
        pytest.fail(f"rsyslogd did not start: {proc.stdout.read().decode(errors='replace') if proc.stdout else ''}")
    yield {"udp": udp, "tcp": tcp, "tls": tls, "ca": cert, "out": out, "proc": proc}
    proc.terminate()
    proc.wait(10)


def _read_back(path: Path, want: int, timeout: float = 20) -> list[str]:
    deadline = time.monotonic() + timeout
    lines: list[str] = []
    while time.monotonic() < deadline:
        lines = [ln for ln in (path.read_text(errors="replace").splitlines() if path.exists() else []) if " nscheck " in ln]
        if len(lines) >= want:
            return lines
        time.sleep(0.2)
    return lines


_RFC5424 = re.compile(r'^<(\d+)>1 (\S+) (\S+) nscheck - (finding|run) \[nscheck@32473 ([^\]]*(?:\\\][^\]]*)*)\] (.*)$')


@pytest.mark.parametrize("proto", ["tcp", "udp", "tls"])
def test_syslog_reaches_rsyslog_as_rfc5424(lab, rsyslog, tmp_path, capsys, proto) -> None:
    jsonl = tmp_path / "f.jsonl"
    url = f"{proto}://127.0.0.1:{rsyslog[proto]}"
    extra = ["--syslog-ca", str(rsyslog["ca"])] if proto == "tls" else []
    code, _, err = cli(["scan", *reachable(lab), "--syslog", url, "--jsonl", str(jsonl), "-q", "--timeout", "3",
                        "--spool-dir", str(tmp_path / "spool"), *extra], capsys)
    assert code in (0, 1), err
    findings = [json.loads(ln) for ln in jsonl.read_text().splitlines()]
    finding_ids = {d["nscheck"]["finding_id"] for d in findings if d["event"]["dataset"] == "nscheck.finding"}
    lines = _read_back(rsyslog["out"], len(finding_ids) + 1)
    parsed = [_RFC5424.match(ln) for ln in lines]
    assert all(parsed), [ln for ln, m in zip(lines, parsed, strict=True) if not m][:2]
    got = {re.search(r'finding_id="([^"]+)"', m.group(5)).group(1) for m in parsed if m and m.group(4) == "finding"}
    assert got == finding_ids
    assert sum(1 for m in parsed if m and m.group(4) == "run") == 1
    # severity in PRI: local0 (16*8) + crit/err/warning/notice/info
    assert {int(m.group(1)) - 128 for m in parsed if m} <= {2, 3, 4, 5, 6}
    assert not (tmp_path / "spool").exists() or not any((tmp_path / "spool").iterdir())


def test_syslog_collector_down_spools_then_delivers_next_run(lab, rsyslog, tmp_path, capsys) -> None:
    spool = tmp_path / "spool"
    dead = _free_port(socket.SOCK_STREAM)  # nothing listens there
    args = ["scan", *reachable(lab)[:3], "-q", "--timeout", "3", "--spool-dir", str(spool)]
    code, _, err = cli([*args, "--syslog", f"tcp://127.0.0.1:{dead}", "--jsonl", str(tmp_path / "a.jsonl")], capsys)
    assert code == 74, err
    assert "spooled" in err
    pending = sum(1 for f in spool.iterdir() for ln in f.read_text().splitlines() if ln.strip())
    assert pending > 0
    assert (tmp_path / "a.jsonl").read_text().strip(), "the local JSONL is complete whatever the collector did"
    # the spool is keyed by destination: point the same spool at the live collector's port by renaming
    live = f"tcp://127.0.0.1:{rsyslog['tcp']}"
    from nscheck.deliver.syslog import SyslogSink

    old = SyslogSink(f"tcp://127.0.0.1:{dead}", spool).spool.path
    new = SyslogSink(live, spool).spool.path
    old.rename(new)
    code, _, err = cli([*(a for a in args if a != "-q"), "--syslog", live], capsys)
    assert code in (0, 1), err
    assert "from the spool" in err
    lines = _read_back(rsyslog["out"], pending)
    assert len(lines) >= pending
    assert not new.exists()


# -- Splunk HEC ------------------------------------------------------------------------------------

class Hec:
    """A HEC receiver: token check, concatenated JSON events, optional acks, scripted faults."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.requests = 0
        self.fail_first = 0  # answer 503 to the first N event requests
        self.drop_first = 0  # close the connection without an answer on the first N
        self.slow_s = 0.0
        self.acks: dict[int, bool] = {}
        self.next_ack = 0
        self.lock = threading.Lock()
        hec = self

        class H(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.headers.get("Authorization") != f"Splunk {TOKEN}":
                    return self._json(401, {"text": "Invalid authorization", "code": 3})
                with hec.lock:
                    hec.requests += 1
                    n = hec.requests
                if self.path == "/services/collector/ack":
                    ids = json.loads(body)["acks"]
                    return self._json(200, {"acks": {str(i): hec.acks.get(i, False) for i in ids}})
                if self.path != "/services/collector/event":
                    return self._json(404, {"text": "not found", "code": 404})
                if n <= hec.drop_first:
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return None
                if n <= hec.drop_first + hec.fail_first:
                    return self._json(503, {"text": "Server is busy", "code": 9})
                time.sleep(hec.slow_s)
                dec, pos, text, got = json.JSONDecoder(), 0, body.decode(), []
                while pos < len(text):
                    while pos < len(text) and text[pos].isspace():
                        pos += 1
                    if pos >= len(text):
                        break
                    obj, pos = dec.raw_decode(text, pos)
                    got.append(obj)
                with hec.lock:
                    hec.events.extend(got)
                    ack = hec.next_ack
                    hec.next_ack += 1
                    hec.acks[ack] = True
                out = {"text": "Success", "code": 0}
                if self.headers.get("X-Splunk-Request-Channel"):
                    out["ackId"] = ack
                return self._json(200, out)

            def _json(self, status: int, doc: dict[str, Any]) -> None:
                data = json.dumps(doc).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def ids(self) -> set[str]:
        return {e["event"]["event"]["id"] for e in self.events}

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hec(monkeypatch) -> Iterator[Hec]:
    monkeypatch.setenv("NSCHECK_HEC_TOKEN", TOKEN)
    h = Hec()
    yield h
    h.stop()


def _hec_scan(lab, tmp_path, capsys, url: str, *extra: str) -> tuple[int, str, Path]:
    jsonl = tmp_path / f"run{time.monotonic_ns()}.jsonl"
    code, _, err = cli(["scan", *reachable(lab)[:4], "--hec-url", url, "--jsonl", str(jsonl), "--no-progress",
                        "-f", "json", "--timeout", "3",
                        "--spool-dir", str(tmp_path / "spool"), *extra], capsys)
    return code, err, jsonl


def test_hec_delivers_every_event_with_acks(lab, hec, tmp_path, capsys) -> None:
    code, err, jsonl = _hec_scan(lab, tmp_path, capsys, hec.url, "--hec-ack", "--hec-index", "netscaler")
    assert code in (0, 1), err
    assert hec.ids() == jsonl_ids(jsonl)
    assert {e["index"] for e in hec.events} == {"netscaler"} and {e["sourcetype"] for e in hec.events} == {"nscheck"}
    assert TOKEN not in err and TOKEN not in jsonl.read_text()


def test_hec_503_and_dropped_connection_are_retried(lab, hec, tmp_path, capsys) -> None:
    hec.drop_first, hec.fail_first = 1, 2
    code, err, jsonl = _hec_scan(lab, tmp_path, capsys, hec.url)
    assert code in (0, 1), err
    assert hec.ids() == jsonl_ids(jsonl)


def test_hec_slow_answers_do_not_stall_the_scan(lab, hec, tmp_path, capsys) -> None:
    hec.slow_s = 0.3
    code, err, jsonl = _hec_scan(lab, tmp_path, capsys, hec.url)
    assert code in (0, 1), err
    assert hec.ids() == jsonl_ids(jsonl)


def test_hec_down_spools_and_next_run_delivers(lab, tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("NSCHECK_HEC_TOKEN", TOKEN)
    # The collector is down for the first run: the port is bound but not listening, so connections
    # are refused and no outgoing connection of the scan can take the port as its own source port
    # (then the collector could not come back on it).
    down = socket.socket()
    down.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{down.getsockname()[1]}"
    try:
        code, err, first = _hec_scan(lab, tmp_path, capsys, url)
    finally:
        down.close()
    assert code == 74, err
    assert "spooled" in err and TOKEN not in err
    spooled = [f for f in (tmp_path / "spool").iterdir()]
    assert spooled and all(f.stat().st_mode & 0o077 == 0 for f in spooled)
    assert TOKEN not in "".join(f.read_text() for f in spooled)
    # the collector is back on the same address
    port = int(url.rsplit(":", 1)[1])
    h2 = _hec_on_port(port)
    try:
        code, err, second = _hec_scan(lab, tmp_path, capsys, url)
        assert code in (0, 1), err
        assert "from the spool" in err
        assert h2.ids() >= jsonl_ids(first) | jsonl_ids(second)  # nothing lost
        assert not any((tmp_path / "spool").glob("*.spool"))
    finally:
        h2.stop()


def _hec_on_port(port: int) -> Hec:
    h = Hec.__new__(Hec)
    Hec.__init__(h)
    h.stop()
    handler = h.server.RequestHandlerClass
    h.server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    threading.Thread(target=h.server.serve_forever, daemon=True).start()
    return h


def test_hec_killed_mid_run_loses_nothing(lab, hec, tmp_path, capsys) -> None:
    """The receiver goes away after its first batch: the rest is spooled, then sent next run."""
    orig = hec.server.RequestHandlerClass.do_POST

    def once_then_gone(self: Any) -> None:
        orig(self)
        if hec.requests >= 1:
            threading.Thread(target=hec.server.shutdown, daemon=True).start()
    hec.server.RequestHandlerClass.do_POST = once_then_gone  # type: ignore[method-assign]
    code, err, first = _hec_scan(lab, tmp_path, capsys, hec.url)
    hec.server.server_close()
    assert code == 74, err
    got_first = hec.ids()
    assert got_first and got_first < jsonl_ids(first)
    h2 = _hec_on_port(int(hec.url.rsplit(":", 1)[1]))
    try:
        code, err, second = _hec_scan(lab, tmp_path, capsys, hec.url)
        assert code in (0, 1), err
        assert got_first | h2.ids() >= jsonl_ids(first) | jsonl_ids(second)
    finally:
        h2.stop()


def test_bad_delivery_options_fail_before_scanning(tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.delenv("NSCHECK_HEC_TOKEN", raising=False)
    for args, text in ((["--syslog", "smtp://127.0.0.1:25"], "expected udp://"),
                       (["--hec-url", "https://127.0.0.1:8088"], "needs a token"),
                       (["--hec-url", "https://u:pw@127.0.0.1:8088"], "must not carry")):
        code, _, err = cli(["scan", "127.0.0.1:9", *args], capsys)
        assert code == 64 and text in err, (args, err)
        assert "pw" not in err
    tok = tmp_path / "tok"
    tok.write_text(TOKEN)
    tok.chmod(0o644)
    code, _, err = cli(["scan", "127.0.0.1:9", "--hec-url", "https://127.0.0.1:8088", "--hec-token-file", str(tok)], capsys)
    assert code == 64 and "chmod 600" in err and TOKEN not in err


def test_lifecycle_end_to_end_fixed_host_sends_close(rsyslog, hec, tmp_path, capsys) -> None:
    """A lab host on a vulnerable build, then upgraded (the same address): OCSF says Create, then
    Close for the bulletins the upgrade fixed and Update for those still open; the same runs feed
    rsyslog and the HEC receiver."""
    from test_state_lab import FIXED_MORE, REVERTED, VULNERABLE, Forwarder

    from nscheck.lab import Profile

    profiles = [Profile("old", build=VULNERABLE, roles=("gateway",)), Profile("new", build=FIXED_MORE, roles=("gateway",))]
    with start_lab(profiles) as running:
        backends = {t.name: (t.host, t.port) for t in running.targets}
        fwd = Forwarder()
        try:
            url = f"https://127.0.0.1:{fwd.port}"
            ocsf, state = tmp_path / "f.ocsf.jsonl", tmp_path / "state.db"
            by_run = []
            for backend in ("old", "new"):
                fwd.backend = backends[backend]
                code, _, err = cli(["scan", url, "--state", str(state), "--ocsf", str(ocsf), "-q", "--timeout", "5",
                                    "--syslog", f"tcp://127.0.0.1:{rsyslog['tcp']}", "--hec-url", hec.url,
                                    "--spool-dir", str(tmp_path / "spool")], capsys)
                assert code == 1, err
                by_run.append([json.loads(ln) for ln in ocsf.read_text().splitlines()])
                ocsf.unlink()
        finally:
            fwd.stop()
    uid_of = {e["unmapped"]["bulletin"]: e["finding_info"]["uid"] for e in by_run[0] if e["class_uid"] == 2002
              and e.get("unmapped", {}).get("bulletin")}
    assert set(uid_of) >= REVERTED
    assert {e["activity_name"] for e in by_run[0] if e["class_uid"] == 2002} == {"Create"}
    second = {e["finding_info"]["uid"]: e["activity_name"] for e in by_run[1] if e["class_uid"] == 2002}
    # the same finding ids, closed: consumers close the very findings they opened
    assert {b: second.get(uid_of[b]) for b in REVERTED} == dict.fromkeys(REVERTED, "Close")
    still_open = {uid_of[b] for b in uid_of if b not in REVERTED}
    assert still_open and {second.get(u) for u in still_open} == {"Update"}
    for ev in by_run[1]:
        validate_ocsf(ev)
    closed = [e for e in by_run[1] if e["activity_name"] == "Close"]
    assert all(e["status"] == "Resolved" for e in closed)
    # the same runs reached rsyslog and HEC, resolved transitions included
    assert _read_back(rsyslog["out"], 2)
    assert any(e["event"]["nscheck"].get("transition") == "resolved" for e in hec.events
               if e["event"]["event"]["dataset"] == "nscheck.finding")


def test_close_never_waits_on_a_stuck_collector_and_spools_the_batch_in_flight(tmp_path) -> None:
    """A collector that accepts the connection and never answers: the end of the run waits only
    close_wait_s, and the batch being sent is spooled (not lost when the process exits)."""
    from nscheck.deliver.base import ThreadedDelivery
    from nscheck.deliver.spool import Spool
    from nscheck.model import RunInfo, RunSummary

    release = threading.Event()

    class Stuck(ThreadedDelivery):
        def events_for_host(self, result):  # type: ignore[no-untyped-def]
            return []

        def send(self, batch: list[str]) -> int:
            release.wait(30)
            return len(batch)

    run = RunInfo(run_id="r", started="2026-12-01T00:00:00Z", kind="scan", tool_version="t")
    sink = Stuck("stuck", Spool(tmp_path, "stuck"), close_wait_s=0.5)
    sink.open(run)
    sink._enqueue(["one", "two"])
    sink._enqueue(["three"])
    time.sleep(0.2)  # the worker is now inside send() with the first batch
    t0 = time.monotonic()
    sink.close(RunSummary(run=run, ended="2026-12-01T00:00:01Z", duration_ms=0, hosts=0, counts={}))
    waited = time.monotonic() - t0
    release.set()
    assert waited < 10  # bounded by close_wait_s, not by the collector (30 s here)
    assert sink.stats.failed and sink.stats.sent == 0
    assert sink.spool.claim() == ["one", "two", "three"]
