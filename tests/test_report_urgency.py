"""Urgency order in every format, --sort, and a terminal table that fits 80 columns."""

from __future__ import annotations

import csv
import dataclasses
import io
import re

import pytest
from rich.console import Console
from test_report_fixtures import RUN, fleet, summary

from nscheck.model import HostResult
from nscheck.report import StreamSink, render, render_table
from nscheck.report.csvfmt import CsvSink
from nscheck.report.order import URGENCY_LABELS, sort_results, urgency_group
from nscheck.report.table import TableSink

URGENT = ["gw3.example.test", "collect-gw4.tar.gz", "gw1.example.test", "10.0.0.7", "[::1]:8443",
          "gw9.example.test", "gw2.example.test", "www.example.test"]


def with_assessment(r: HostResult) -> HostResult:
    doc = {"id": "nsf-x", "kind": "assessment", "rule_id": "compromise-assessment-required", "host": "h",
           "status": "open", "transition": "new"}
    return dataclasses.replace(r, extra={"assessments": [doc], "state": {"host_key": "h"}})


def test_urgency_order_groups_then_cvss_then_name() -> None:
    assert [r.target for r in sort_results(fleet())] == URGENT
    groups = [urgency_group(r) for r in sort_results(fleet())]
    assert groups == sorted(groups)
    assert URGENCY_LABELS[groups[0]] == "compromised" and URGENCY_LABELS[groups[-1]] == "not NetScaler"


def test_open_assessment_comes_after_compromised_before_exploited() -> None:
    hosts = fleet()
    patched = with_assessment(dataclasses.replace(hosts[1], target="patched.example.test"))
    order = [r.target for r in sort_results([*hosts, patched])]
    assert order.index("patched.example.test") == 2  # after both compromised, before gw1 (exploited)


def test_vulnerable_without_exploitation_after_exploited() -> None:
    hosts = fleet()
    medium_only = dataclasses.replace(hosts[0], target="a-medium.example.test",
                                      advisories=tuple(a for a in hosts[0].advisories if not a.kev))
    order = [r.target for r in sort_results([medium_only, *hosts])]
    assert order.index("a-medium.example.test") == order.index("10.0.0.7") + 1


@pytest.mark.parametrize("how", ["name", "input", "verdict", "cvss"])
def test_sort_choices(how: str) -> None:
    got = [r.target for r in sort_results(fleet(), how)]
    if how == "name":
        assert got == sorted(got, key=str.lower)
    elif how == "input":
        assert got == [r.target for r in fleet()]
    elif how == "cvss":
        assert got[0] == "gw1.example.test"  # 9.3 is the worst score in the fleet
    else:
        assert set(got[:2]) == {"gw3.example.test", "collect-gw4.tar.gz"} and got[-1] == "www.example.test"


def _table_hosts(text: str) -> list[str]:
    found = []
    for line in text.splitlines():
        for t in URGENT:
            if line.strip().startswith(t.removeprefix("https://")) and t not in found:
                found.append(t)
    return found


@pytest.mark.parametrize("fmt", ["table", "md", "csv", "html"])
def test_every_format_puts_the_most_urgent_host_first(fmt: str) -> None:
    buf = io.StringIO()
    render(list(reversed(fleet())), fmt, buf, run=RUN, summary=summary(fleet()), color=False)
    text = buf.getvalue()
    positions = [max(text.find(t), text.find(t.replace("[", "\\[").replace("]", "\\]"))) for t in URGENT]
    assert all(p >= 0 for p in positions)
    if fmt == "csv":
        targets = list(dict.fromkeys(row["target"] for row in csv.DictReader(io.StringIO(text))))
        assert targets == URGENT
    elif fmt == "table":
        assert _table_hosts(text) == URGENT
    elif fmt == "md":
        heads = [x.split("nscheck: ", 1)[1] for x in text.splitlines() if x.startswith("## nscheck: ") or x.startswith("# nscheck: ")]
        assert [h.replace("\\", "") for h in heads] == URGENT
    else:
        assert positions == sorted(positions), fmt


def test_sinks_sort_streamed_hosts() -> None:
    for fmt in ("md", "csv"):
        out = io.StringIO()
        s = StreamSink(fmt, out)
        s.open(RUN)
        for r in reversed(fleet()):
            s.host(r)
        s.close(summary(fleet()))
        text = out.getvalue()
        assert text.find("gw3.example.test") < text.find("gw1.example.test") < text.find("www.example.test")
    buf = io.StringIO()
    t = TableSink(Console(file=buf, width=120))
    for r in reversed(fleet()):
        t.host(r)
    t.close(summary(fleet()))
    assert _table_hosts(buf.getvalue()) == URGENT


def test_csv_file_sink_sorted(tmp_path) -> None:  # type: ignore[no-untyped-def]
    s = CsvSink(str(tmp_path / "f.csv"))
    s.open(RUN)
    for r in reversed(fleet()):
        s.host(r)
    s.close(summary(fleet()))
    rows = list(csv.DictReader((tmp_path / "f.csv").open()))
    assert list(dict.fromkeys(r["target"] for r in rows)) == URGENT


@pytest.mark.parametrize("width", [80, 100, 120, 200])
def test_table_fits_the_terminal_one_line_per_host(width: int) -> None:
    buf = io.StringIO()
    render_table(fleet(), Console(file=buf, width=width), summary=summary(fleet()))
    lines = buf.getvalue().splitlines()
    assert all(len(x) <= width for x in lines), max(len(x) for x in lines)
    rule = next(n for n, x in enumerate(lines) if x.startswith("─"))
    body = [x for x in lines[rule + 1:] if any(x.startswith(t) for t in URGENT)]
    assert len(body) == len(URGENT)  # one line per host: nothing wraps
    out = buf.getvalue()
    # host, verdict and the fix are kept at every width, the first row is the compromised host
    for needle in ("gw3.example.test", "compromised", "13.1-59.22", "14.1-56.73", "fix to"):
        assert needle in out, (width, needle)
    assert body[0].strip().startswith("gw3.example.test")
    # headers are never cut mid-word
    header = next(x for x in lines if "host" in x and "verdict" in x)
    assert re.search(r"\bverdict\b", header) and re.search(r"\bfix to\b", header)


def test_single_candidate_is_a_build_and_fix_builds_listed_once() -> None:
    from nscheck.model import BuildInfo, Remediation
    from nscheck.report.text import build_text, fix_to

    r = fleet()[3]
    one = dataclasses.replace(r, build=dataclasses.replace(r.build, candidates=("14.1-66.59",)))
    assert build_text(one) == "14.1-66.59"
    assert build_text(r).startswith("one of ")
    both = dataclasses.replace(r, remediation=Remediation("13.1-64.28 or 14.1-73.41 or 14.1-73.41 FIPS"),
                               build=BuildInfo("14.1", None, None, False, ("13.1-63.18", "14.1-72.61")))
    assert fix_to(both) == "13.1-64.28 or 14.1-73.41"


def test_progress_shows_total_and_names_the_host_holding_up_the_end() -> None:
    from test_report_terminal import Tty

    from nscheck.report.progress import ProgressSink

    hosts = fleet()
    out = Tty()
    p = ProgressSink(stream=out, targets=[r.target for r in hosts])
    p.open(RUN)
    assert p.total == len(hosts)
    for r in hosts[:-1]:
        p.host(r)
    assert "waiting for collect-gw4.tar.gz" in p.description()
    p.host(hosts[-1])
    assert "waiting for" not in p.description()
    p.close(summary(hosts))
    assert p.progress.tasks[0].completed == len(hosts) and p.progress.tasks[0].total == len(hosts)


def test_progress_bar_closes_before_the_table(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from nscheck.options import ScanOptions
    from nscheck.report import build_sinks
    from nscheck.report.progress import ProgressSink

    monkeypatch.setattr("nscheck.report.progress.wanted", lambda opts: True)
    sinks = build_sinks(ScanOptions(csv=str(tmp_path / "x.csv")), targets=["a", "b"])
    assert isinstance(sinks[0], ProgressSink) and sinks[0].total == 2


def test_table_starts_with_act_now_for_compromised_hosts() -> None:
    buf = io.StringIO()
    render_table(fleet(), Console(file=buf, width=80), summary=summary(fleet()))
    out = buf.getvalue()
    head = " ".join(out[:out.index("verdict")].split())
    assert head.startswith("Act now:") and "gw3.example.test" in head and "isolate it" in head
    assert "webshell-php-vpn-themes" in head and "upgrade to 13.1-59.22" in head
    clean = [r for r in fleet() if not r.indicators]
    buf = io.StringIO()
    render_table(clean, Console(file=buf, width=80))
    assert "Act now" not in buf.getvalue()


def test_bulletin_decided_by_nitro_says_so() -> None:
    from nscheck.model import Evidence
    from nscheck.report.hostpage import host_html
    from nscheck.report.markdown import host_markdown

    r = fleet()[0]
    a = dataclasses.replace(r.advisories[0], method="nitro",
                            evidence=(Evidence("nitro", "nsversion: NetScaler NS14.1: Build 43.50.nc"),))
    r = dataclasses.replace(r, advisories=(a, *r.advisories[1:]))
    assert "(decided by NITRO: nsversion: NetScaler NS14.1: Build 43.50.nc)" in host_markdown(r)
    assert "decided by NITRO: nsversion: NetScaler NS14.1: Build 43.50.nc" in host_html(r)


def test_reopened_assessment_is_not_called_regressed() -> None:
    from nscheck.report.text import transition_text

    text = transition_text({"transition": "reopened", "first_seen": "2025-08-01"})
    assert text.startswith("reopened: a triage was recorded") and "regressed" not in text
