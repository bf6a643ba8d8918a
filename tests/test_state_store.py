"""Multi-run sequences through the state API, with synthesised HostResults.

Each test drives StateStore exactly as the runner does (begin_run, record_host per host,
end_run) and checks transitions, exposure and compromise assessments.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from nscheck.model import (
    AdvisoryResult,
    BuildInfo,
    Confidence,
    Coverage,
    CveDetail,
    FindingKind,
    HostResult,
    HostStatus,
    Indicator,
    Precondition,
    ProductInfo,
    RunInfo,
    RunSummary,
    Severity,
    Skipped,
    Verdict,
    finding_id,
    findings_of,
)
from nscheck.state import StateStage, extra_findings, record_triage, transition_lines
from nscheck.state.store import SCHEMA_VERSION, StateError, StateStore, migrate

URL = "https://gw1.example.test/"

# CTX693420 (CitrixBleed 2): published 2025-06-17, KEV 2025-07-10, fixed 14.1-43.56.
CB2 = dict(id="CTX693420", cves=("CVE-2025-5777", "CVE-2025-5349"), published="2025-06-17", kev=True, exploited=True,
           fixed_in="14.1-43.56", title="CitrixBleed 2",
           cve_details=({"id": "CVE-2025-5777", "kev_added": "2025-07-10"}, {"id": "CVE-2025-5349"}))
# CTX695486 (XSS): not exploited.
XSS = dict(id="CTX695486", cves=("CVE-2025-12101",), published="2025-11-11", fixed_in="14.1-56.73", title="XSS")


def adv(spec: dict, verdict: Verdict) -> AdvisoryResult:
    return AdvisoryResult(
        id=spec["id"], cves=spec["cves"], verdict=verdict, build_affected=verdict is Verdict.VULNERABLE,
        precondition=Precondition.UNKNOWN, fixed_in=spec.get("fixed_in"), reason="test", title=spec["title"],
        severity=Severity.CRITICAL, kev=spec.get("kev", False), exploited=spec.get("exploited", False),
        published=spec.get("published"), cve_details=tuple(CveDetail.from_dict(c) for c in spec.get("cve_details", ())),
    )


def host(build: str | None, *, vulnerable: tuple[dict, ...] = (), clean: tuple[dict, ...] = (),
         status: HostStatus = HostStatus.OK, url: str = URL, indicators: tuple[Indicator, ...] = (),
         skipped: tuple[Skipped, ...] = ()) -> HostResult:
    if status is not HostStatus.OK:
        return HostResult(target=url, status=status, url=url, error="connect timeout")
    b = None
    if build:
        rel, num = build.split("-")
        b = BuildInfo(rel, num, "standard", True, (build,))
    advisories = tuple(adv(s, Verdict.VULNERABLE) for s in vulnerable) + tuple(adv(s, Verdict.NOT_VULNERABLE) for s in clean)
    return HostResult(target=url, status=HostStatus.OK, url=url, product=ProductInfo(True, ("gateway",)), build=b,
                      advisories=advisories, indicators=indicators, skipped=skipped)


def run_info(n: int, started: str) -> RunInfo:
    return RunInfo(run_id=f"run-{n}", started=started, kind="scan", tool_version="test")


def do_run(path: Path, n: int, started: str, results: list[HostResult], *, partial: bool = False,
           suppressions: str | None = None) -> tuple[list[HostResult], RunSummary]:
    stage = StateStage(str(path), suppressions, warn=WARNINGS.append)
    stage.open(run_info(n, started))
    out = [stage.annotate(r) for r in results]
    summary = RunSummary(run=run_info(n, started), ended=started, duration_ms=1, hosts=len(out), counts={}, partial=partial)
    return out, stage.close(summary)


WARNINGS: list[str] = []


def transitions(r: HostResult) -> dict[str, str]:
    """rule_id -> transition, for current findings, resolved ones and assessments."""
    metas = r.extra["findings"]
    out = {f.rule_id: metas[f.id]["transition"] for f in findings_of(r)}
    for f in extra_findings(r):
        out[f.rule_id] = f.transition
    return out


def test_new_unchanged_resolved_regressed(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    (r1,), s1 = do_run(db, 1, "2025-09-01T02:00:00Z", [host("14.1-43.50", vulnerable=(XSS,))])
    assert transitions(r1) == {"CTX695486": "new"}
    assert s1.extra["transitions"] == {"new": 1}
    (r2,), _ = do_run(db, 2, "2025-09-02T02:00:00Z", [host("14.1-43.50", vulnerable=(XSS,))])
    meta = next(iter(r2.extra["findings"].values()))
    assert meta["transition"] == "unchanged" and meta["seen_count"] == 2
    assert meta["first_seen"] == "2025-09-01T02:00:00Z" and meta["last_seen"] == "2025-09-02T02:00:00Z"
    # Upgraded: the bulletin is now assessed not vulnerable -> resolved, and emitted as a document.
    (r3,), s3 = do_run(db, 3, "2025-09-03T02:00:00Z", [host("14.1-56.73", clean=(XSS,))])
    assert findings_of(r3) == []
    assert [d["rule_id"] for d in r3.extra["resolved"]] == ["CTX695486"]
    doc = r3.extra["resolved"][0]
    assert doc["transition"] == "resolved" and doc["resolved_at"] == "2025-09-03T02:00:00Z"
    assert doc["first_seen"] == "2025-09-01T02:00:00Z"
    assert s3.extra["transitions"] == {"resolved": 1}
    assert r3.extra["state"]["build_changed"] and r3.extra["state"]["previous_build"] == "14.1-43.50"
    # Downgraded again -> regressed.
    (r4,), _ = do_run(db, 4, "2025-09-04T02:00:00Z", [host("14.1-43.50", vulnerable=(XSS,))])
    assert transitions(r4) == {"CTX695486": "regressed"}
    assert "REGRESSED" in transition_lines(r4)[0]


def test_unreachable_host_keeps_findings_open(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    do_run(db, 1, "2025-09-01T02:00:00Z", [host("14.1-43.50", vulnerable=(XSS,))])
    (r2,), s2 = do_run(db, 2, "2025-09-02T02:00:00Z", [host(None, status=HostStatus.UNREACHABLE)])
    assert r2.extra["resolved"] == []
    assert [d["rule_id"] for d in r2.extra["held_open"]] == ["CTX695486"]
    assert "unreachable" in r2.extra["held_open"][0]["held_reason"]
    assert s2.extra["transitions"] == {"held": 1}
    # Reached, NetScaler, but no build: still not resolvable.
    (r3,), _ = do_run(db, 3, "2025-09-03T02:00:00Z", [host(None)])
    assert r3.extra["resolved"] == [] and "not fingerprinted" in r3.extra["held_open"][0]["held_reason"]
    # Back and still vulnerable: unchanged (not new, not regressed), first_seen kept.
    (r4,), _ = do_run(db, 4, "2025-09-04T02:00:00Z", [host("14.1-43.50", vulnerable=(XSS,))])
    meta = next(iter(r4.extra["findings"].values()))
    assert meta["transition"] == "unchanged" and meta["first_seen"] == "2025-09-01T02:00:00Z"
    st = StateStore.open(db)
    (h,) = st.history()
    assert [o["status"] for o in h["observations"]] == ["ok", "unreachable", "ok", "ok"]
    assert h["findings"][0]["status"] == "open"


def test_indicator_not_resolved_when_checks_skipped(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    ioc = Indicator("webshell-php", "PHP webshell", Severity.CRITICAL, Confidence.HIGH, "eval(", url=URL + "vpn/x.php")
    (r1,), _ = do_run(db, 1, "2025-09-01T02:00:00Z", [host("14.1-56.73", clean=(XSS,), indicators=(ioc,))])
    assert transitions(r1) == {"webshell-php": "new"}
    (r2,), _ = do_run(db, 2, "2025-09-02T02:00:00Z",
                      [host("14.1-56.73", clean=(XSS,), skipped=(Skipped("indicators", "--no-indicators"),))])
    assert r2.extra["resolved"] == [] and "skipped" in r2.extra["held_open"][0]["held_reason"]
    (r3,), _ = do_run(db, 3, "2025-09-03T02:00:00Z", [host("14.1-56.73", clean=(XSS,))])
    assert [d["kind"] for d in r3.extra["resolved"]] == ["indicator"]


def test_exploited_bulletin_opens_assessment_until_acked(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    # First seen 2025-08-01 on a vulnerable build: exposed since publication (2025-06-17), KEV since 2025-07-10.
    (r1,), _ = do_run(db, 1, "2025-08-01T02:00:00Z", [host("14.1-43.50", vulnerable=(CB2,))])
    (assess,) = r1.extra["assessments"]
    assert assess["kind"] == "assessment" and assess["rule_id"] == "compromise-assessment-required"
    assert assess["bulletins"] == ["CTX693420"] and set(assess["windows"]) == {"CTX693420"}
    assert assess["transition"] == "new"
    w = assess["exposure"]
    assert w["vulnerable_since"] == "2025-06-17" and w["exploited_since"] == "2025-07-10"
    assert w["overlaps_exploitation"] and w["overlap_days"] == 22
    adv_meta = r1.extra["findings"][findings_of(r1)[0].id]
    assert adv_meta["exposure"]["days"] == 45
    # Patched: the bulletin is resolved, the assessment stays open (check for abuse even when patched).
    (r2,), _ = do_run(db, 2, "2025-08-02T02:00:00Z", [host("14.1-43.56", clean=(CB2,))])
    assert [d["rule_id"] for d in r2.extra["resolved"]] == ["CTX693420"]
    assert [(d["rule_id"], d["transition"], d["status"]) for d in r2.extra["assessments"]] == [
        ("compromise-assessment-required", "unchanged", "open")]
    # Triage recorded -> the next scan announces it resolved once, then it is gone.
    st = StateStore.open(db)
    closed = st.ack("gw1.example.test", "clean triage, case 4711", who="alice", at="2025-08-02T09:00:00Z")
    assert list(closed) == ["gw1.example.test:443"] and len(closed["gw1.example.test:443"]) == 1
    st.close()
    (r3,), _ = do_run(db, 3, "2025-08-03T02:00:00Z", [host("14.1-43.56", clean=(CB2,))])
    assert [(d["transition"], d["resolution"]["reason"]) for d in r3.extra["assessments"]] == [
        ("resolved", "clean triage, case 4711")]
    assert any("RESOLVED" in line and "case 4711" in line for line in transition_lines(r3))
    (r4,), _ = do_run(db, 4, "2025-08-04T02:00:00Z", [host("14.1-43.56", clean=(CB2,))])
    assert r4.extra["assessments"] == []


def test_ack_while_still_vulnerable_reopens(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    do_run(db, 1, "2025-08-01T02:00:00Z", [host("14.1-43.50", vulnerable=(CB2,))])
    st = StateStore.open(db)
    st.ack("gw1.example.test:443", "looked, nothing", at="2025-08-01T09:00:00Z")
    st.close()
    (r2,), _ = do_run(db, 2, "2025-08-02T02:00:00Z", [host("14.1-43.50", vulnerable=(CB2,))])
    # An ack overtaken by events is "reopened", not "regressed" (nothing came back after a fix).
    assert [d["transition"] for d in r2.extra["assessments"]] == ["reopened"]
    assert r2.extra["assessments"][0]["reopened_after"]["reason"] == "looked, nothing"


def test_patched_before_exploitation_needs_no_assessment(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    late = dict(CB2, cve_details=({"id": "CVE-2025-5777", "kev_added": "2025-07-10"},))
    do_run(db, 1, "2025-06-20T02:00:00Z", [host("14.1-43.50", vulnerable=(late,))])
    (r2,), _ = do_run(db, 2, "2025-06-21T02:00:00Z", [host("14.1-43.56", clean=(late,))])
    assert r2.extra["assessments"] == [] and [d["rule_id"] for d in r2.extra["resolved"]] == ["CTX693420"]
    w = r2.extra["resolved"][0]["exposure"]
    assert w["overlaps_exploitation"] is False and w["until"] == "2025-06-21" and w["open"] is False
    assert r2.extra["findings"][r2.extra["resolved"][0]["id"]]["transition"] == "resolved"


def test_clean_triage_closes_assessment(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    do_run(db, 1, "2025-08-01T02:00:00Z", [host("14.1-43.50", vulnerable=(CB2,))])
    do_run(db, 2, "2025-08-02T02:00:00Z", [host("14.1-43.56", clean=(CB2,))])
    run = RunInfo("triage-1", "2025-08-05T10:00:00Z", "triage", "test")
    # Triage with hits closes nothing.
    ioc = Indicator("webshell-php", "PHP webshell", Severity.CRITICAL, Confidence.HIGH, "eval(", path="/var/x.php")
    dirty = HostResult(target="/cases/gw1-bundle.tgz", status=HostStatus.OK, kind="triage", coverage=Coverage.from_dict({"files": 10}),
                       indicators=(ioc,))
    t = record_triage(str(db), dirty, name="gw1.example.test", run=run)
    assert t.extra["assessments"] == [] and transitions(t) == {"webshell-php": "new"}
    # A clean triage of the same appliance closes the assessment (not the indicator: it was seen).
    clean = HostResult(target="/cases/gw1-bundle-2.tgz", status=HostStatus.OK, kind="triage", coverage=Coverage.from_dict({"files": 10}))
    t = record_triage(str(db), clean, name="gw1.example.test",
                      run=RunInfo("triage-2", "2025-08-06T10:00:00Z", "triage", "test"))
    assert [(d["transition"], d["resolution"]["by"]) for d in t.extra["assessments"]] == [("resolved", "triage")]
    assert [d["rule_id"] for d in t.extra["resolved"]] == ["webshell-php"]
    (h,) = StateStore.open(db).history("gw1.example.test")
    assert h["target"] == URL  # triage does not overwrite what the scan knows
    assert [o["note"] for o in h["observations"]][-2:] == ["triage of /cases/gw1-bundle.tgz",
                                                           "triage of /cases/gw1-bundle-2.tgz"]
    assert h["triage"][0]["source"] == "triage"
    assert all(f["status"] == "resolved" for f in h["findings"] if f["kind"] == FindingKind.ASSESSMENT.value)
    # The next scan announces nothing twice: the triage already reported the resolution.
    (r,), _ = do_run(db, 3, "2025-08-07T02:00:00Z", [host("14.1-43.56", clean=(CB2,))])
    assert r.extra["assessments"] == []


def test_suppression_and_expiry(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    sup = tmp_path / "sup.yaml"
    sup.write_text(
        "- host: 'gw*.example.test'\n  id: CVE-2025-12101\n  reason: not exposed\n  expires: 2025-09-02\n  who: bob\n"
    )
    WARNINGS.clear()
    (r1,), _ = do_run(db, 1, "2025-09-01T02:00:00Z", [host("14.1-43.50", vulnerable=(XSS,))], suppressions=str(sup))
    meta = next(iter(r1.extra["findings"].values()))
    assert meta["suppressed"] is True and meta["suppression"]["who"] == "bob"
    assert WARNINGS == []
    (r2,), _ = do_run(db, 2, "2025-09-02T23:00:00Z", [host("14.1-43.50", vulnerable=(XSS,))], suppressions=str(sup))
    assert next(iter(r2.extra["findings"].values()))["suppressed"] is True  # the expiry day is still covered
    (r3,), _ = do_run(db, 3, "2025-09-03T02:00:00Z", [host("14.1-43.50", vulnerable=(XSS,))], suppressions=str(sup))
    meta = next(iter(r3.extra["findings"].values()))
    assert meta["suppressed"] is False and meta["suppression_expired"]["expires"] == "2025-09-02"
    assert len(WARNINGS) == 1 and "expired" in WARNINGS[0] and "CTX695486" in WARNINGS[0]


def test_partial_run_is_marked(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    do_run(db, 1, "2025-09-01T02:00:00Z", [host("14.1-43.50")], partial=True)
    (run,) = StateStore.open(db).runs()
    assert run["status"] == "partial"


# v1 schema as released, frozen here on purpose: the migration test must not follow edits.
V1 = """
CREATE TABLE schema_version (version INTEGER NOT NULL, applied TEXT NOT NULL);
INSERT INTO schema_version VALUES (1, '2025-01-01T00:00:00Z');
CREATE TABLE runs (id TEXT PRIMARY KEY, kind TEXT, started TEXT, ended TEXT, status TEXT,
                   hosts INTEGER, counts TEXT, tool_version TEXT, command TEXT);
CREATE TABLE hosts (key TEXT PRIMARY KEY, target TEXT, url TEXT, first_seen TEXT, last_seen TEXT,
                    seen_count INTEGER, last_status TEXT, last_verdict TEXT, last_build TEXT, last_run TEXT);
CREATE TABLE findings (id TEXT PRIMARY KEY, host_key TEXT, kind TEXT, rule_id TEXT, title TEXT,
                       severity TEXT, status TEXT, verdict TEXT, first_seen TEXT, last_seen TEXT,
                       seen_count INTEGER, resolved_at TEXT, last_run TEXT);
CREATE INDEX findings_host ON findings(host_key);
"""


def test_old_schema_migrates(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    from nscheck.model import finding_id

    fid = finding_id("gw1.example.test:443", FindingKind.ADVISORY, "CTX695486")
    conn = sqlite3.connect(db)
    conn.executescript(V1)
    conn.execute("INSERT INTO runs VALUES ('old-1','scan','2025-08-01T00:00:00Z','2025-08-01T00:01:00Z','complete',1,'{}','0.0.1','')")
    conn.execute("INSERT INTO hosts VALUES ('gw1.example.test:443','gw1',?, '2025-08-01T00:00:00Z','2025-08-01T00:00:00Z',"
                 "1,'ok','vulnerable','14.1-43.50','old-1')", (URL,))
    conn.execute("INSERT INTO findings VALUES (?,'gw1.example.test:443','advisory','CTX695486','XSS','medium','open',"
                 "'vulnerable','2025-08-01T00:00:00Z','2025-08-01T00:00:00Z',1,NULL,'old-1')", (fid,))
    conn.commit()
    conn.close()
    st = StateStore.open(db)
    assert st.version == SCHEMA_VERSION
    (h,) = st.history()
    assert h["build"] == "14.1-43.50" and h["observations"][0]["note"] == "migrated from schema v1"
    st.close()
    # The migrated data carries on: the old finding is unchanged, with its old first_seen.
    (r,), _ = do_run(db, 2, "2025-09-01T02:00:00Z", [host("14.1-43.50", vulnerable=(XSS,))])
    meta = r.extra["findings"][fid]
    assert meta["transition"] == "unchanged" and meta["first_seen"] == "2025-08-01T00:00:00Z" and meta["seen_count"] == 2


def test_migrate_step_by_step_and_refuse_newer(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    StateStore.open(db, upto=1).close()
    conn = sqlite3.connect(db)
    assert [r[0] for r in conn.execute("SELECT version FROM schema_version")] == [1]
    assert migrate(conn) == SCHEMA_VERSION
    conn.execute("INSERT INTO schema_version VALUES (?, 'x')", (SCHEMA_VERSION + 1,))
    conn.commit()
    conn.close()
    with pytest.raises(StateError, match="newer than this nscheck"):
        StateStore.open(db)


def test_not_a_database(tmp_path: Path) -> None:
    bad = tmp_path / "bad.db"
    bad.write_text("hello, I am not SQLite" * 100)
    with pytest.raises(StateError, match="not a usable nscheck state database"):
        StateStore.open(bad)


def test_history_json_roundtrip(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    do_run(db, 1, "2025-09-01T02:00:00Z", [host("14.1-43.50", vulnerable=(XSS,))])
    do_run(db, 2, "2025-09-02T02:00:00Z", [host("14.1-56.73", clean=(XSS,))])
    (h,) = StateStore.open(db).history()
    json.dumps(h)
    assert [o["build"] for o in h["observations"]] == ["14.1-43.50", "14.1-56.73"]
    assert [e["transition"] for e in h["events"]] == ["new", "resolved"]


BLEED1 = dict(id="CTX579459", cves=("CVE-2023-4966",), published="2023-10-10", kev=True, exploited=True,
              fixed_in="14.1-8.50", title="CitrixBleed",
              cve_details=({"id": "CVE-2023-4966", "kev_added": "2023-10-18", "name": "CitrixBleed"},))


def test_one_assessment_per_host_lists_every_exploited_bulletin(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    (r1,), _ = do_run(db, 1, "2025-08-01T02:00:00Z", [host("14.1-4.42", vulnerable=(CB2, BLEED1, XSS))])
    (assess,) = r1.extra["assessments"]  # one per host, not one per bulletin
    assert assess["rule_id"] == "compromise-assessment-required"
    assert assess["bulletins"] == ["CTX579459", "CTX693420"]
    assert set(assess["windows"]) == {"CTX579459", "CTX693420"}
    assert assess["windows"]["CTX579459"]["exploited_since"] == "2023-10-18"
    assert "CTX579459 (CitrixBleed)" in assess["title"] and "CTX693420" in assess["title"]
    assert f"--state {db.resolve()}" in assess["advice"]
    assert sorted(assess["cves"]) == ["CVE-2023-4966", "CVE-2025-5349", "CVE-2025-5777"]
    # One ack closes it; the next run announces that once.
    st = StateStore.open(db)
    assert [len(v) for v in st.ack("gw1.example.test", "bundle clean").values()] == [1]
    st.close()


def test_migration_folds_per_bulletin_assessments_into_one(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    StateStore.open(db, upto=3).close()
    conn = sqlite3.connect(db)
    key = "gw1.example.test:443"
    conn.execute("INSERT INTO hosts (key, target, first_seen, last_seen, seen_count, last_status, last_verdict,"
                 " last_build, last_run, last_assessed) VALUES (?,?,?,?,?,?,?,?,?,?)",
                 (key, URL, "2025-08-01T02:00:00Z", "2025-08-01T02:00:00Z", 1, "ok", "vulnerable", "14.1-43.50",
                  "run-1", "2025-08-01T02:00:00Z"))
    for ctx, status in (("CTX693420", "open"), ("CTX694788", "open"), ("CTX579459", "resolved")):
        rule = f"compromise-assessment-required:{ctx}"
        conn.execute("INSERT INTO findings (id, host_key, kind, rule_id, title, severity, status, verdict, first_seen,"
                     " last_seen, seen_count, last_run, cves, data, episode_start, last_transition)"
                     " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                     (finding_id(key, "assessment", rule), key, "assessment", rule, "old", "critical", status,
                      "required", "2025-08-01T02:00:00Z", "2025-08-01T02:00:00Z", 1, "run-1", "[]", "{}",
                      "2025-08-01T02:00:00Z", "new"))
    conn.commit()
    conn.close()
    st = StateStore.open(db)
    assert st.version == SCHEMA_VERSION
    (h,) = st.history()
    (a,) = [f for f in h["findings"] if f["kind"] == "assessment"]
    assert a["rule_id"] == "compromise-assessment-required" and a["status"] == "open"
    assert sorted(a["bulletins"]) == ["CTX579459", "CTX693420", "CTX694788"]
    assert a["id"] == finding_id(key, "assessment", "compromise-assessment-required")
    st.close()
    # The next scan carries on with the one assessment: unchanged, not new.
    (r,), _ = do_run(db, 2, "2025-08-02T02:00:00Z", [host("14.1-43.50", vulnerable=(CB2,))])
    assert [(d["rule_id"], d["transition"]) for d in r.extra["assessments"]] == [
        ("compromise-assessment-required", "unchanged")]


def test_assessment_advice_names_the_real_state_path(tmp_path: Path) -> None:
    db = tmp_path / "my state.db"
    (r1,), _ = do_run(db, 1, "2025-08-01T02:00:00Z", [host("14.1-43.50", vulnerable=(CB2,))])
    (assess,) = r1.extra["assessments"]
    assert f"--state '{db.resolve()}'" in assess["advice"] and "STATE" not in assess["advice"]
