"""State data reaches every reader: transitions, held-open findings, suppressions (active and
expired), compromise assessments with their exposure window, in Markdown, ECS JSONL (validated
against the published schemas), the terminal table and the HTML page.

The host results are real StateStage output: three runs recorded in a tmp SQLite database.
Goldens live in tests/golden/state/ (regenerate with NSCHECK_UPDATE_GOLDEN=1, review the diff).
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import jsonschema
import pytest
from rich.console import Console
from test_report_golden import check

from nscheck.model import (
    AdvisoryResult,
    BuildInfo,
    Confidence,
    CveDetail,
    FindingKind,
    HostResult,
    HostStatus,
    Indicator,
    Precondition,
    ProductInfo,
    Severity,
    Verdict,
    findings_of,
)
from nscheck.paths import schemas_dir
from nscheck.report import render
from nscheck.report.base import RunInfo, RunSummary
from nscheck.report.markdown import host_markdown
from nscheck.report.table import TableSink
from nscheck.state import StateStage
from nscheck.state.store import StateStore

# CitrixBleed 2: published 2025-06-17, on CISA KEV since 2025-07-10 (exploited in the wild).
CB2 = dict(id="CTX693420", cves=("CVE-2025-5777", "CVE-2025-5349"), published="2025-06-17", kev=True, exploited=True,
           fixed_in="14.1-43.56", title="CitrixBleed 2", cvss=9.3,
           cve_details=({"id": "CVE-2025-5777", "kev_added": "2025-07-10"}, {"id": "CVE-2025-5349"}))
XSS = dict(id="CTX695486", cves=("CVE-2025-12101",), published="2025-06-01", fixed_in="14.1-56.73", title="XSS", cvss=5.9)
OBSERVER = "scanner.test"
SUPPRESSIONS = """\
- host: gw1.example.test
  id: CTX695486
  reason: portal not exposed to the internet
  expires: 2026-01-31
  who: alice
- host: gw4.example.test
  id: CVE-2025-12101
  reason: accepted until the maintenance window
  expires: 2025-07-31
  who: bob
"""


def _adv(spec: dict, verdict: Verdict) -> AdvisoryResult:
    return AdvisoryResult(
        id=spec["id"], cves=spec["cves"], verdict=verdict, build_affected=verdict is Verdict.VULNERABLE,
        precondition=Precondition.MET, fixed_in=spec["fixed_in"], reason=f"{spec['id']}: test ({verdict.value})",
        title=spec["title"], cvss=spec["cvss"], severity=Severity.from_cvss(spec["cvss"]), kev=spec.get("kev", False),
        exploited=spec.get("exploited", False), published=spec["published"], cve_details=tuple(CveDetail.from_dict(c) for c in spec.get("cve_details", ())),
    )


def host(name: str, build: str | None, vulnerable: tuple[dict, ...] = (), clean: tuple[dict, ...] = (), *,
         status: HostStatus = HostStatus.OK, indicators: tuple[Indicator, ...] = (), when: str = "") -> HostResult:
    url = f"https://{name}:443"
    if status is not HostStatus.OK:
        return HostResult(target=name, status=status, url=url, error="connect timeout", started=when)
    b = None
    if build:
        rel, num = build.split("-")
        b = BuildInfo(rel, num, "standard", True, (build,))
    advs = tuple(_adv(s, Verdict.VULNERABLE) for s in vulnerable) + tuple(_adv(s, Verdict.NOT_VULNERABLE) for s in clean)
    return HostResult(target=name, status=HostStatus.OK, url=url, product=ProductInfo(True, ("gateway",), Confidence.HIGH),
                      build=b, advisories=advs, indicators=indicators, started=when, requests_sent=9, duration_ms=500)


LOW_HIT = Indicator("NSC-IOC-EXFIL-SCRIPT-SRC", "Login page loads a script from another origin", Severity.MEDIUM,
                    Confidence.LOW, "script src=https://cdn.example/x.js", check="portal_exfil",
                    url="https://gw3.example.test/logon/LogonPoint/index.html")


def run(db: Path, n: int, when: str, results: list[HostResult], suppressions: Path | None = None,
        ) -> tuple[list[HostResult], RunSummary, RunInfo]:
    info = RunInfo(run_id=f"run-{n}", started=when, kind="scan", tool_version="0.0.0-test",
                   signatures_version="2026.10.04", signatures_date="2026-10-04")
    stage = StateStage(str(db), str(suppressions) if suppressions else None, warn=lambda _m: None)
    stage.open(info)
    out = [stage.annotate(r) for r in results]
    from collections import Counter

    summary = RunSummary(run=info, ended=when, duration_ms=1000, hosts=len(out),
                         counts=dict(Counter(r.verdict.value for r in out)), requests_sent=sum(r.requests_sent for r in out))
    return out, stage.close(summary), info


def history(tmp: Path) -> dict[str, list[HostResult]]:
    """Three runs: the first sees everything vulnerable; the second (with suppressions) sees a
    patch, an unreachable host, a host without a build and an expired suppression; after an
    ``ack`` the third announces the closed compromise assessment."""
    db, sup = tmp / "state.db", tmp / "suppressions.yaml"
    sup.write_text(SUPPRESSIONS)
    t1, t2, t3 = "2025-08-01T02:00:00Z", "2025-08-02T02:00:00Z", "2025-08-03T02:00:00Z"
    r1, _, _ = run(db, 1, t1, [
        host("gw1.example.test", "14.1-43.50", (CB2, XSS), when=t1),
        host("gw2.example.test", "14.1-43.50", (XSS,), when=t1),
        host("gw3.example.test", "14.1-66.59", (), (CB2,), when=t1),
        host("gw4.example.test", "14.1-43.50", (XSS,), when=t1),
        host("gw5.example.test", "14.1-43.50", (XSS,), when=t1),
    ])
    r2, s2, i2 = run(db, 2, t2, [
        host("gw1.example.test", "14.1-43.56", (XSS,), (CB2,), when=t2),  # patched CB2; XSS suppressed
        host("gw2.example.test", None, status=HostStatus.UNREACHABLE, when=t2),
        host("gw3.example.test", "14.1-66.59", (), (CB2,), indicators=(LOW_HIT,), when=t2),
        host("gw4.example.test", "14.1-43.50", (XSS,), when=t2),  # suppression expired 2025-07-31
        host("gw5.example.test", None, when=t2),  # reached, but no build this time
    ], sup)
    st = StateStore.open(str(db))
    st.ack("gw1.example.test", "clean triage, case 4711", who="alice", at="2025-08-02T09:00:00Z")
    st.close()
    r3, s3, i3 = run(db, 3, t3, [host("gw1.example.test", "14.1-43.56", (XSS,), (CB2,), when=t3)], sup)
    return {"run1": r1, "run2": r2, "run3": r3, "summary2": [s2], "info2": [i2], "summary3": [s3], "info3": [i3],  # type: ignore[dict-item]
            "db": db}


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict:
    return history(tmp_path_factory.mktemp("state"))


def by_target(results: list[HostResult]) -> dict[str, HostResult]:
    return {r.target: r for r in results}


SCHEMAS = {p.name.removesuffix(".schema.json"): json.loads(p.read_text()) for p in schemas_dir().glob("*.schema.json")}


def jsonl(results: list[HostResult], info: RunInfo, summary: RunSummary) -> list[dict]:
    buf = io.StringIO()
    render(results, "jsonl", buf, run=info, summary=summary, observer_hostname=OBSERVER)
    docs = [json.loads(x) for x in buf.getvalue().splitlines()]
    for d in docs:
        jsonschema.Draft202012Validator(SCHEMAS[d["event"]["dataset"]]).validate(d)
    return docs


# -- Markdown ------------------------------------------------------------------------------------


def test_markdown_transitions_per_finding(runs: dict) -> None:
    first = host_markdown(by_target(runs["run1"])["gw1.example.test"])
    assert "## Changes since the last run" in first
    assert "new since 2025-08-01T02:00:00Z" in first and "This run: 3 new." in first
    md = host_markdown(by_target(runs["run2"])["gw1.example.test"])
    changes = md[md.index("## Changes since the last run"):]
    assert "Host first seen 2025-08-01T02:00:00Z, 2 runs recorded." in changes
    assert "Build changed: 14.1-43.50 -> 14.1-43.56." in changes
    # CitrixBleed 2 patched -> resolved; the XSS unchanged (with its first sighting and run count).
    assert "| CTX693420 (CVE-2025-5777, CVE-2025-5349): CitrixBleed 2 | advisory | resolved 2025-08-02T02:00:00Z" in changes
    assert "unchanged, first seen 2025-08-01T02:00:00Z, seen in 2 runs" in changes
    bulletins = md[md.index("## Open bulletins"):md.index("## Compromise assessment")]
    assert "**vulnerable** (unchanged, first seen 2025-08-01T02:00:00Z, seen in 2 runs; suppressed: portal not exposed" in bulletins


def test_markdown_regressed(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    run(db, 1, "2025-09-01T00:00:00Z", [host("gw1.example.test", "14.1-43.50", (XSS,))])
    run(db, 2, "2025-09-02T00:00:00Z", [host("gw1.example.test", "14.1-56.73", (), (XSS,))])
    (r,), _, _ = run(db, 3, "2025-09-03T00:00:00Z", [host("gw1.example.test", "14.1-43.50", (XSS,))])
    md = host_markdown(r)
    assert "regressed: resolved before, back again (first seen 2025-09-01T00:00:00Z)" in md
    assert "This run: 1 regressed." in md


def test_markdown_compromise_assessment_open_with_window_and_next_steps(runs: dict) -> None:
    md = host_markdown(by_target(runs["run2"])["gw1.example.test"])
    sec = md[md.index("## Compromise assessment"):md.index("## Scan facts")]
    assert "**OPEN.**" in sec and "check for abuse even after patching" in sec
    assert sec.count("**OPEN.**") == 1  # one assessment per host
    # Exposed since publication (the vulnerable build ran before the first scan) until the patch.
    assert ("| CTX693420 | vulnerable since 2025-06-17 until 2025-08-02 (46 days); exploited in the "
            "wild since 2025-07-10: 23 days exposed while exploitation was known") in sec
    # The commands carry the real --state path: they work when pasted.
    db = str((runs["db"]).resolve())
    assert f"`nscheck triage ARTEFACTS --name gw1.example.test:443 --state {db}`" in sec
    assert f'`nscheck ack gw1.example.test:443 --triaged "what you checked" --state {db}`' in sec
    todo = md[md.index("## What to do"):md.index("## Open bulletins")]
    assert "Check for compromise" in todo and "`nscheck ack gw1.example.test:443 --triaged" in todo


def test_markdown_compromise_assessment_resolved(runs: dict) -> None:
    md = host_markdown(by_target(runs["run3"])["gw1.example.test"])
    sec = md[md.index("## Compromise assessment"):]
    assert "**Closed.**" in sec and "CTX693420" in sec[:sec.index("## Scan facts")]
    assert "Closed 2025-08-02T09:00:00Z by alice through `nscheck ack`: clean triage, case 4711" in sec
    assert "OPEN" not in sec[:sec.index("## Changes")]
    assert "nscheck ack" not in md[md.index("## What to do"):md.index("## Open bulletins")]


def test_markdown_held_open_with_reason(runs: dict) -> None:
    r2 = by_target(runs["run2"])
    down = host_markdown(r2["gw2.example.test"])
    held = down[down.index("### Still open: not re-checked this run"):]
    assert "they are NOT resolved" in held
    assert "CTX695486 (CVE-2025-12101): XSS: open since 2025-08-01T02:00:00Z" in held
    assert "held open: **host unreachable: connect timeout**" in held
    nobuild = host_markdown(r2["gw5.example.test"])
    assert "held open: **build not fingerprinted this run**" in nobuild


def test_markdown_suppressed_and_expired(runs: dict) -> None:
    r2 = by_target(runs["run2"])
    md = host_markdown(r2["gw1.example.test"])
    sec = md[md.index("## Suppressed findings"):]
    assert ("- CTX695486 (CVE-2025-12101): XSS: portal not exposed to the internet (alice, expires 2026-01-31)") in sec
    assert "WARNING" not in md
    expired = host_markdown(r2["gw4.example.test"])
    # Loud, and at the top: right under the verdict.
    head = expired[:expired.index("| | |")]
    assert "> **WARNING: suppression EXPIRED on 2025-07-31** for CTX695486 (CVE-2025-12101): XSS" in head
    assert "accepted until the maintenance window, bob" in head and "counts for the exit code" in head
    assert "suppression EXPIRED" in expired[expired.index("## Open bulletins"):]
    assert "## Suppressed findings" not in expired


def test_markdown_low_confidence_only_label(runs: dict) -> None:
    r = by_target(runs["run2"])["gw3.example.test"]
    assert r.verdict.value == "compromised" and r.to_dict()["verdict"] == "compromised"
    md = host_markdown(r)
    assert md.splitlines()[2].startswith("**Verdict: possible compromise (low confidence)** (compromised).")
    assert "Confirm each hit by hand" in md
    assert "Confirm each indicator below by hand first (only low-confidence rules matched)" in md
    assert "treat this appliance as compromised" not in md


# -- ECS JSONL -------------------------------------------------------------------------------------


def test_ecs_finding_documents_carry_state(runs: dict) -> None:
    docs = jsonl(runs["run2"], runs["info2"][0], runs["summary2"][0])
    findings = [d for d in docs if d["event"]["dataset"] == "nscheck.finding"]
    gw1 = [d for d in findings if d["nscheck"]["target"] == "gw1.example.test"]
    resolved = next(d for d in gw1 if d["nscheck"]["kind"] == "advisory" and d["nscheck"]["status"] == "resolved")
    assert resolved["event"]["action"] == "vulnerability-resolved"
    w = resolved["nscheck"]["exposure_window"]
    assert w["vulnerable_since"] == "2025-06-17" and w["until"] == "2025-08-02" and w["open"] is False
    assert w["overlaps_exploitation"] is True and w["overlap_days"] == 23
    (assess,) = [d for d in gw1 if d["nscheck"]["kind"] == "assessment"]
    ns = assess["nscheck"]
    assert assess["event"]["action"] == "compromise-assessment-still-required"
    assert ns["status"] == "open" and ns["verdict"] == "required" and ns["transition"] == "unchanged"
    assert ns["exposure_window"]["exploited_since"] == "2025-07-10" and ns["exploited_since"] == "2025-07-10"
    assert "nscheck triage" in ns["advice"] and "nscheck ack gw1.example.test:443 --triaged" in ns["advice"]
    assert ns["bulletins"] == ["CTX693420"] and "compromise-assessment" in assess["tags"]
    xss = next(d for d in gw1 if d["nscheck"].get("bulletin") == "CTX695486")
    assert xss["nscheck"]["suppressed"] is True and xss["nscheck"]["suppression"]["who"] == "alice"
    assert "suppression_expired" not in xss["nscheck"]
    gw4 = next(d for d in findings if d["nscheck"]["target"] == "gw4.example.test")
    assert gw4["nscheck"]["suppressed"] is False
    assert gw4["nscheck"]["suppression_expired"] == {"host": "gw4.example.test", "id": "CVE-2025-12101",
                                                     "reason": "accepted until the maintenance window",
                                                     "expires": "2025-07-31", "who": "bob"}
    assert "suppression-expired" in gw4["tags"]


def test_ecs_assessment_resolution(runs: dict) -> None:
    docs = jsonl(runs["run3"], runs["info3"][0], runs["summary3"][0])
    (assess,) = [d for d in docs if d["event"]["dataset"] == "nscheck.finding" and d["nscheck"]["kind"] == "assessment"]
    assert assess["event"]["action"] == "compromise-assessment-resolved"
    ns = assess["nscheck"]
    assert ns["status"] == "resolved" and ns["verdict"] == "resolved"
    assert ns["resolution"] == {"by": "ack", "at": "2025-08-02T09:00:00Z", "reason": "clean triage, case 4711", "who": "alice"}


def test_ecs_host_coverage_held_open_and_why(runs: dict) -> None:
    docs = jsonl(runs["run2"], runs["info2"][0], runs["summary2"][0])
    hosts = {d["nscheck"]["target"]: d["nscheck"] for d in docs if d["event"]["dataset"] == "nscheck.host"}
    down = hosts["gw2.example.test"]["coverage"]
    assert down["held_open"] == 1 and down["held_reasons"] == ["host unreachable: connect timeout"]
    assert down["not_resolvable"] == {"advisories": "host unreachable: connect timeout",
                                      "indicators": "host unreachable: connect timeout"}
    assert down["transitions"] == {"held": 1}
    nobuild = hosts["gw5.example.test"]["coverage"]
    assert nobuild["held_open"] == 1 and nobuild["not_resolvable"]["advisories"] == "build not fingerprinted this run"
    gw1 = hosts["gw1.example.test"]["coverage"]
    assert gw1["held_open"] == 0 and gw1["not_resolvable"] == {"advisories": None, "indicators": None}
    assert gw1["assessments_open"] == 1 and gw1["transitions"] == {"resolved": 1, "unchanged": 2}
    low = hosts["gw3.example.test"]
    assert low["verdict"] == "compromised" and low["verdict_note"] == "possible compromise (low confidence)"
    assert "verdict_note" not in hosts["gw1.example.test"]
    (run_doc,) = [d for d in docs if d["event"]["dataset"] == "nscheck.run"]
    assert run_doc["nscheck"]["transitions"]["held"] == 2


def test_ecs_without_state_has_no_state_fields(runs: dict) -> None:
    from test_report_fixtures import RUN, fleet, summary

    docs = jsonl(fleet(), RUN, summary(fleet()))
    for d in docs:
        cov = d["nscheck"].get("coverage") or {}
        assert not {"held_open", "not_resolvable", "transitions", "assessments_open"} & set(cov)
        assert "exposure_window" not in d["nscheck"]


def test_schema_rejects_a_malformed_window() -> None:
    from test_report_fixtures import RUN, fleet, summary

    doc = next(d for d in jsonl(fleet(), RUN, summary(fleet())) if d["event"]["dataset"] == "nscheck.finding")
    doc["nscheck"]["exposure_window"] = {"days": 3}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(SCHEMAS["nscheck.finding"]).validate(doc)
    doc["nscheck"]["exposure_window"] = {"vulnerable_since": "2025-06-17", "until": "2025-08-02", "open": False}
    jsonschema.Draft202012Validator(SCHEMAS["nscheck.finding"]).validate(doc)


# -- terminal and HTML -------------------------------------------------------------------------------


def test_table_shows_changes_and_the_transition_line(runs: dict) -> None:
    buf = io.StringIO()
    render(runs["run2"], "table", buf, run=runs["info2"][0], summary=runs["summary2"][0], color=False)
    out = buf.getvalue()
    assert "since last run" in out  # the column
    assert "1 resolved, 2 unchanged; assessment open" in out and "1 held open (host not assessed)" in out
    assert "possible compromise" in out
    assert "5 host(s): 1 compromised (1 of them a possible compromise (low confidence): only low-confidence hits), " in out
    # `nscheck report` on saved results sums the hosts' transitions (the same words as the scan's line).
    from nscheck.state import summary_line

    line = summary_line(runs["summary2"][0].extra["transitions"])
    assert f"since the last run: {line}" in out
    assert line == "1 new, 1 resolved, 3 unchanged, 2 held open (host not assessed)"


def test_table_sink_of_a_live_scan_leaves_the_line_to_the_runner(runs: dict) -> None:
    buf = io.StringIO()
    sink = TableSink(Console(file=buf, width=200))
    sink.open(runs["info2"][0])
    for r in runs["run2"]:
        sink.host(r)
    sink.close(runs["summary2"][0])
    out = buf.getvalue()
    assert "since last run" in out and "since the last run:" not in out  # printed once, by the runner (stderr)


def test_table_without_state_has_no_changes_column() -> None:
    from test_report_fixtures import fleet

    buf = io.StringIO()
    render(fleet(), "table", buf, color=False)
    assert "since last run" not in buf.getvalue() and "since the last run" not in buf.getvalue()


def test_html_new_count_and_open_assessments(runs: dict) -> None:
    from test_report_html import page_of

    buf = io.StringIO()
    render(runs["run2"], "html", buf, run=runs["info2"][0], summary=runs["summary2"][0])
    text = buf.getvalue()
    p = page_of(text)
    assert p.cards["compromised"] == "1"  # verdict cards unchanged
    assert '<div class="card" data-state="new"><b class="new">1</b>new since last run</div>' in text
    assert 'data-state="resolved"><b>1</b>resolved' in text
    assert 'data-state="assessments"><b>1</b>hosts with a compromise assessment open' in text
    assert 'data-state="held"><b>2</b>held open (host not re-checked)' in text
    rows = [x for x in text.split("<tr") if x.startswith(" data-verdict")]  # the host table
    down = next(x for x in rows if "gw2.example.test" in x)
    assert "1 held open" in down
    row = next(x for x in rows if "gw1.example.test" in x)
    assert '<span class="assess">assessment open</span>' in row and "1 resolved" in row
    low = next(x for x in rows if "gw3.example.test" in x)
    assert 'data-verdict="compromised"' in low and "possible compromise (low confidence)" in low
    # "Act now" lists the host with the command that closes the assessment, ready to paste.
    import re

    act = re.sub(r"</?span[^>]*>", "", text[text.index('id="act-now"'):text.index("</section>")])
    assert "gw1.example.test" in act and "<code>nscheck triage ARTEFACTS --name gw1.example.test:443 --state " in act
    for tag, attrs in p.tags:
        assert "src" not in attrs and tag not in ("link", "img", "iframe")


def test_html_without_state_has_no_state_cards() -> None:
    from test_report_fixtures import fleet

    buf = io.StringIO()
    render(fleet(), "html", buf)
    assert "new since last run" not in buf.getvalue() and 'class="assess"' not in buf.getvalue()


# -- goldens ----------------------------------------------------------------------------------------


def _golden_results(runs: dict) -> list[HostResult]:
    return [*runs["run2"], *runs["run3"]]


@pytest.mark.parametrize(("fmt", "name"), [("table", "state/fleet.table.txt"), ("md", "state/fleet.md"),
                                           ("html", "state/fleet.html"), ("jsonl", "state/fleet.jsonl")])
def test_state_formats_match_golden(runs: dict, fmt: str, name: str) -> None:
    buf = io.StringIO()
    # Two runs' hosts on one page: the summary (counts) is made from the results themselves.
    render(_golden_results(runs), fmt, buf, run=runs["info2"][0], observer_hostname=OBSERVER, color=False)
    # The state database's real path is in the reports (commands must work when pasted); the
    # fixture's temp directory is not part of the golden text.
    check(name, buf.getvalue().replace(str(runs["db"].resolve().parent), "/STATE-DIR"))


def test_state_is_real_stage_output(runs: dict) -> None:
    """Guard for the fixture itself: the data is what StateStage produces, not hand-made."""
    gw1 = by_target(runs["run2"])["gw1.example.test"]
    kinds = {f.kind for f in findings_of(gw1)}
    assert kinds == {FindingKind.ADVISORY}
    assert gw1.extra["state"]["run_id"] == "run-2" and gw1.extra["assessments"]


def test_saved_results_keep_the_state_data(runs: dict, tmp_path: Path) -> None:
    """`nscheck report` re-renders from the JSONL: the same Markdown, state sections included."""
    from nscheck.report.jsonfmt import load_results

    path = tmp_path / "run2.jsonl"
    buf = io.StringIO()
    render(runs["run2"], "jsonl", buf, run=runs["info2"][0], summary=runs["summary2"][0], observer_hostname=OBSERVER)
    path.write_text(buf.getvalue())
    back = load_results([str(path)])
    assert [host_markdown(r) for r in back] == [host_markdown(r) for r in runs["run2"]]
    assert "## Compromise assessment" in host_markdown(back[0])


def test_hostile_state_strings_stay_inside_their_line(runs: dict) -> None:
    """Suppression reasons come from a file, titles and reasons from the store: still escaped."""
    import dataclasses

    evil = "a|b\nc <script>x</script> `rm` [l](http://e)"
    r = by_target(runs["run2"])["gw2.example.test"]
    held = [dict(d, held_reason=evil, title=evil) for d in r.extra["held_open"]]
    gw1 = by_target(runs["run2"])["gw1.example.test"]
    assess = [dict(d, title=evil, bulletins=[evil]) for d in gw1.extra["assessments"]]
    md = host_markdown(dataclasses.replace(r, extra={**r.extra, "held_open": held}))
    md += host_markdown(dataclasses.replace(gw1, extra={**gw1.extra, "assessments": assess}))
    # Outside code spans no tag survives; inside one (the text had backticks) it is shown verbatim.
    import re

    outside = re.sub(r"(`+)(?:(?!\1).)+?\1", "", md)
    assert re.search(r"(?<!\\)<script>", outside) is None and "&lt;" not in md
    assert "`` a\\|b c <script>x</script> `rm` [l](http://e) ``" in md
    assert all(line.count("\\|") >= 1 for line in md.splitlines() if "a\\|b" in line)
    assert not any(line.startswith("c ") for line in md.splitlines())  # no line break smuggled in
    # Malformed extra (an older or foreign file) degrades to "no state", never a traceback.
    odd = dataclasses.replace(gw1, extra={"findings": ["x"], "state": "y", "assessments": "z", "held_open": None})
    assert host_markdown(odd).startswith("# nscheck: gw1.example.test")
    odd = dataclasses.replace(odd, extra={**odd.extra, "resolved": [5, {"id": 1}]})
    for fmt in ("table", "md", "csv", "html", "json", "jsonl"):
        buf = io.StringIO()
        render([odd], fmt, buf, observer_hostname=OBSERVER, color=False)
        assert "gw1.example.test" in buf.getvalue(), fmt
    from nscheck.report.exitcodes import ExitTally

    tally = ExitTally()
    tally.host(odd)
    assert tally.code("high") == 0 and tally.code("medium") == 1  # the XSS (medium); its suppression mark is lost
