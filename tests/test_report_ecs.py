"""ECS JSON Lines: every document validates against its JSON Schema, the counts follow the
design (peers.md §c), ids are stable, state annotations surface, and lines are flushed per host."""

from __future__ import annotations

import dataclasses
import io
import json
from pathlib import Path

import jsonschema
import pytest
from test_report_fixtures import OBSERVER, RUN, fleet, summary

from nscheck.model import FindingKind, Verdict, findings_of, host_key
from nscheck.paths import schemas_dir
from nscheck.report import render
from nscheck.report.ecs import JsonlSink
from nscheck.report.jsonfmt import load_results

SCHEMAS = {p.name.removesuffix(".schema.json"): json.loads(p.read_text()) for p in schemas_dir().glob("*.schema.json")}


def validate(doc: dict) -> None:
    jsonschema.Draft202012Validator(SCHEMAS[doc["event"]["dataset"]]).validate(doc)
    if doc["event"]["dataset"] == "nscheck.host":
        result = doc["nscheck"]["result"]
        name = "nscheck.triage-1" if result["schema"] == "nscheck.triage/1" else "nscheck.host-1"
        jsonschema.Draft202012Validator(SCHEMAS[name]).validate(result)


def jsonl(results=None) -> list[dict]:
    results = fleet() if results is None else results
    buf = io.StringIO()
    render(results, "jsonl", buf, run=RUN, summary=summary(results), observer_hostname=OBSERVER)
    text = buf.getvalue()
    assert text.endswith("\n")
    return [json.loads(line) for line in text.splitlines()]


def test_schemas_are_valid_json_schemas() -> None:
    assert {"nscheck.finding", "nscheck.host", "nscheck.run", "nscheck.host-1", "nscheck.triage-1"} <= set(SCHEMAS)
    for s in SCHEMAS.values():
        jsonschema.Draft202012Validator.check_schema(s)


def test_every_line_validates_and_counts_follow_the_design() -> None:
    results = fleet()
    docs = jsonl(results)
    for d in docs:
        validate(d)
    by = {ds: [d for d in docs if d["event"]["dataset"] == ds] for ds in ("nscheck.finding", "nscheck.host", "nscheck.run")}
    assert len(by["nscheck.host"]) == len(results)
    assert len(by["nscheck.run"]) == 1 and docs[-1]["event"]["dataset"] == "nscheck.run"
    expected = sum(1 for r in results for a in r.advisories if a.verdict is not Verdict.NOT_VULNERABLE)
    expected += sum(len(r.indicators) for r in results)
    assert len(by["nscheck.finding"]) == expected
    run = by["nscheck.run"][0]["nscheck"]
    assert run["hosts"] == len(results) and run["partial"] is False
    assert run["signature_set"] == {"version": "2026.10.04", "date": "2026-10-04"}


def test_finding_fields() -> None:
    docs = jsonl()
    findings = [d for d in docs if d["event"]["dataset"] == "nscheck.finding"]
    bleed = next(d for d in findings if d["nscheck"].get("bulletin") == "CTX693420")
    assert bleed["vulnerability"]["id"] == ["CVE-2025-5777", "CVE-2025-5349"]
    assert bleed["vulnerability"]["score"]["base"] == 9.3 and bleed["vulnerability"]["severity"] == "critical"
    assert bleed["event"]["kind"] == "state" and bleed["event"]["severity"] == 90
    assert bleed["rule"]["id"] == "nscheck.advisory.CTX693420" and bleed["rule"]["version"] == "2026.10.04"
    assert bleed["url"]["domain"] == "gw1.example.test" and bleed["url"]["port"] == 443
    assert bleed["observer"]["hostname"] == OBSERVER
    assert {"kev", "exploited-in-the-wild"} <= set(bleed["tags"])
    assert bleed["nscheck"]["fixed_in"] == "14.1-43.56" and bleed["nscheck"]["minimum_upgrade"] == "14.1-56.73"
    unknown = next(d for d in findings if d["nscheck"].get("bulletin") == "CTX696300")
    assert unknown["nscheck"]["verdict"] == "unknown"
    remote = next(d for d in findings if d["nscheck"]["kind"] == "indicator" and d["nscheck"]["artefact_source"] == "remote")
    assert remote["event"]["kind"] == "alert" and "intrusion_detection" in remote["event"]["category"]
    assert remote["url"]["path"] == "/vpn/themes/x.php"
    tri = next(d for d in findings if d["nscheck"]["kind"] == "indicator" and d["nscheck"]["artefact_source"] == "artefacts")
    assert tri["event"]["kind"] == "alert" and "file" in tri["event"]["category"]
    assert tri["file"] == {"path": "/var/netscaler/logon/themes/a.php", "size": 812, "mtime": "2025-07-02T11:00:00Z",
                           "hash": {"sha256": "ab" * 32}}
    assert tri["nscheck"]["line"] == 3


def test_finding_ids_are_stable_and_match_the_model() -> None:
    results = fleet()
    ids = {f.id for r in results for f in findings_of(r)}
    docs = [d for d in jsonl(results) if d["event"]["dataset"] == "nscheck.finding"]
    assert {d["nscheck"]["finding_id"] for d in docs} == ids
    # Another build on the same host (still vulnerable) keeps the id: no build/time in it.
    r0 = results[0]
    moved = dataclasses.replace(r0, build=dataclasses.replace(r0.build, build="43.52"), started="2027-01-01T00:00:00Z")
    assert {f.id for f in findings_of(moved)} == {f.id for f in findings_of(r0)}
    assert [d["event"]["id"] for d in jsonl(results)] == [d["event"]["id"] for d in jsonl(results)]


def test_host_documents_show_coverage_for_blind_spots() -> None:
    hosts = {d["nscheck"]["target"]: d for d in jsonl() if d["event"]["dataset"] == "nscheck.host"}
    gone = hosts["gw9.example.test"]["nscheck"]
    assert gone["verdict"] == "unreachable" and gone["coverage"]["reachable"] is False
    assert gone["coverage"]["error"] == "connect timeout"
    unk = hosts["[::1]:8443"]["nscheck"]
    assert unk["coverage"]["fingerprinted"] is True and unk["coverage"]["unknown_bulletins"] == 1
    assert hosts["[::1]:8443"]["host"]["ip"] == ["::1"]
    assert hosts["gw1.example.test"]["tls"]["server"]["x509"]["alternative_names"] == ["gw1.example.test"]
    assert hosts["www.example.test"]["nscheck"]["coverage"]["is_netscaler"] is False
    assert hosts["collect-gw4.tar.gz"]["nscheck"]["coverage"]["artefacts"]["source"]["files"] == 1234


def test_state_annotations_surface_in_findings() -> None:
    r = fleet()[0]
    fid = next(f.id for f in findings_of(r) if f.rule_id == "CTX693420")
    sup = next(f.id for f in findings_of(r) if f.rule_id == "CTX695486")
    r = dataclasses.replace(r, extra={"findings": {
        fid: {"transition": "new", "first_seen": "2026-10-01T00:00:00Z", "last_seen": "2026-11-01T02:00:00Z",
              "seen_count": 1, "suppressed": False},
        sup: {"transition": "unchanged", "suppressed": True, "suppression": {"reason": "not exposed"}}}})
    docs = {d["nscheck"].get("finding_id"): d for d in jsonl([r])}
    new = docs[fid]
    validate(new)
    assert new["event"]["action"] == "vulnerability-detected"
    assert new["nscheck"]["transition"] == "new" and new["nscheck"]["first_seen"] == "2026-10-01T00:00:00Z"
    s = docs[sup]
    assert s["nscheck"]["suppressed"] is True and "suppressed" in s["tags"]
    assert s["event"]["action"] == "vulnerability-still-present"


def test_resolved_findings_from_state_are_emitted() -> None:
    r = fleet()[1]
    doc = {"id": "nsf-" + "1" * 24, "kind": FindingKind.ADVISORY.value, "rule_id": "CTX693420", "host": host_key(r),
           "title": "CitrixBleed 2", "severity": "critical", "transition": "resolved", "cves": ["CVE-2025-5777"],
           "first_seen": "2026-10-01T00:00:00Z", "last_seen": "2026-10-31T00:00:00Z"}
    r = dataclasses.replace(r, extra={"resolved": [doc]})
    docs = [d for d in jsonl([r]) if d["event"]["dataset"] == "nscheck.finding"]
    assert len(docs) == 1
    validate(docs[0])
    assert docs[0]["event"]["action"] == "vulnerability-resolved" and docs[0]["nscheck"]["status"] == "resolved"


def test_sink_flushes_each_host_and_shards_concatenate(tmp_path: Path) -> None:
    results = fleet()
    a, b = tmp_path / "shard1.jsonl", tmp_path / "shard2.jsonl"
    sink = JsonlSink(str(a), observer_hostname=OBSERVER)
    sink.open(RUN)
    sink.host(results[0])
    # Not closed yet (as if killed): the finished host is already on disk, complete.
    lines = a.read_text().splitlines()
    assert lines and all(json.loads(x) for x in lines)
    assert json.loads(lines[-1])["event"]["dataset"] == "nscheck.host"
    for r in results[1:4]:
        sink.host(r)
    sink.close(summary(results[:4]))
    sink2 = JsonlSink(str(b), observer_hostname=OBSERVER)
    sink2.open(dataclasses.replace(RUN, run_id="run-2", shard="2/2"))
    for r in results[4:]:
        sink2.host(r)
    sink2.close(summary(results[4:]))
    both = tmp_path / "all.jsonl"
    both.write_text(a.read_text() + b.read_text())
    for line in both.read_text().splitlines():
        validate(json.loads(line))
    back = load_results([str(both)])
    assert [r.to_dict() for r in back] == [r.to_dict() for r in results]


@pytest.mark.parametrize("stdout", [True])
def test_jsonl_to_stdout(capsys: pytest.CaptureFixture[str], stdout: bool) -> None:
    sink = JsonlSink("-", observer_hostname=OBSERVER)
    sink.open(RUN)
    sink.host(fleet()[4])
    sink.close(summary([fleet()[4]]))
    out = capsys.readouterr().out.splitlines()
    assert [json.loads(x)["event"]["dataset"] for x in out] == ["nscheck.host", "nscheck.run"]
