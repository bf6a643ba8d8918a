"""``nscheck history`` and ``nscheck ack`` over a state database built through the state API."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_state_store import CB2, XSS, do_run, host

from nscheck.cli import main
from nscheck.model import HostStatus


def cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as e:
        main(argv)
    out = capsys.readouterr()
    return int(e.value.code or 0), out.out, out.err


@pytest.fixture
def db(tmp_path: Path) -> Path:
    p = tmp_path / "state.db"
    do_run(p, 1, "2025-08-01T02:00:00Z", [host("14.1-43.50", vulnerable=(CB2, XSS))])
    do_run(p, 2, "2025-08-02T02:00:00Z", [host(None, status=HostStatus.UNREACHABLE)])
    do_run(p, 3, "2025-08-03T02:00:00Z", [host("14.1-56.73", clean=(CB2, XSS))])
    return p


def test_history_table(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(["history", "--state", str(db)], capsys)
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("gw1.example.test:443")
    assert "14.1-43.50" in lines[1] and "new CTX693420" in lines[1] and "compromise-assessment-required" in lines[1]
    assert "unreachable" in lines[2] and "open findings kept" in lines[2]
    assert "14.1-56.73" in lines[3] and "resolved CTX693420, CTX695486" in lines[3]
    assert any("open: assessment" in line for line in lines)
    # Unreachable on 08-02, seen fixed on 08-03: exposed until the run that saw the fix.
    assert "exposed 2025-06-17 .. 2025-08-03 (47 days), exploited since 2025-07-10: 24 days of overlap" in out


def test_history_json_and_unknown_host(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(["history", "gw1.example.test", "--state", str(db), "--format", "json"], capsys)
    assert code == 0
    doc = json.loads(out)
    assert doc["schema"] == "nscheck.history/1"
    (h,) = doc["hosts"]
    assert [o["build"] for o in h["observations"]] == ["14.1-43.50", None, "14.1-56.73"]
    assert {f["rule_id"]: f["status"] for f in h["findings"]} == {
        "CTX693420": "resolved", "CTX695486": "resolved", "compromise-assessment-required": "open"}
    (a,) = [f for f in h["findings"] if f["kind"] == "assessment"]
    assert a["bulletins"] == ["CTX693420"]
    code, _, err = cli(["history", "nope.example", "--state", str(db)], capsys)
    assert code == 64 and "no host" in err


def test_history_runs(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(["history", "--runs", "--state", str(db), "-f", "json"], capsys)
    runs = json.loads(out)
    assert code == 0 and [r["id"] for r in runs] == ["run-3", "run-2", "run-1"]
    assert runs[0]["transitions"] == {"resolved": 2, "unchanged": 1}


def test_ack_closes_assessment(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(["ack", "gw1.example.test", "--triaged", "bundle clean", "--who", "carol", "--state", str(db)], capsys)
    assert code == 0 and "1 open compromise assessment(s) closed" in out
    code, out, _ = cli(["history", "--state", str(db), "-f", "json"], capsys)
    (h,) = json.loads(out)["hosts"]
    assert h["triage"][0]["who"] == "carol" and h["triage"][0]["reason"] == "bundle clean"
    assert all(f["status"] == "resolved" for f in h["findings"])
    code, _, err = cli(["ack", "other.example", "--triaged", "x", "--state", str(db)], capsys)
    assert code == 64 and "no host" in err


def test_missing_state_is_noinput(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # EX_NOINPUT, as for every input path that does not exist (issue 13: one exit-code table)
    code, _, err = cli(["history", "--state", str(tmp_path / "none.db")], capsys)
    assert code == 66 and "no state database" in err
    assert not (tmp_path / "none.db").exists()
