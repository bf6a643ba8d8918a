"""Terminal output: the summary table, NO_COLOR, and a progress bar only on a TTY."""

from __future__ import annotations

import io

import pytest
from rich.console import Console
from test_report_fixtures import RUN, fleet, summary

from nscheck.options import ScanOptions
from nscheck.report import StreamSink, build_sinks, render_table
from nscheck.report.progress import ProgressSink, wanted


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_table_shows_the_summary_columns() -> None:
    buf = io.StringIO()
    render_table(fleet(), Console(file=buf, width=200), summary=summary(fleet()))
    out = buf.getvalue()
    for needle in ("gw1.example.test", "2 (critical)", "14.1-56.73", "13.1-37.241 FIPS", "1 unknown",
                   "unreachable: connect timeout", "not NetScaler", "8 host(s): 2 compromised"):
        assert needle in out, needle


def test_colours_on_a_terminal_and_off_with_no_color(monkeypatch: pytest.MonkeyPatch) -> None:
    buf = io.StringIO()
    render_table(fleet(), Console(file=buf, width=200, force_terminal=True))
    assert "\x1b[" in buf.getvalue()
    monkeypatch.setenv("NO_COLOR", "1")
    buf = io.StringIO()
    render_table(fleet(), Console(file=buf, width=200, force_terminal=True))
    assert "\x1b[31m" not in buf.getvalue() and "\x1b[1;31m" not in buf.getvalue()


def test_progress_only_on_a_tty_and_not_quiet() -> None:
    assert wanted(ScanOptions(), Tty()) is True
    assert wanted(ScanOptions(), io.StringIO()) is False
    assert wanted(ScanOptions(quiet=True), Tty()) is False
    assert wanted(ScanOptions(no_progress=True), Tty()) is False
    # Under pytest stderr is not a TTY: build_sinks adds no progress bar.
    assert not any(isinstance(s, ProgressSink) for s in build_sinks(ScanOptions()))


def test_progress_sink_counts_hosts() -> None:
    out = Tty()
    p = ProgressSink(stream=out)
    p.open(RUN)
    for r in fleet():
        p.host(r)
    p.close(summary(fleet()))
    assert sum(p.counts.values()) == len(fleet()) and p.counts["compromised"] == 2


def test_stream_sinks() -> None:
    for fmt, marker in (("csv", "target,url,"), ("md", "## nscheck: gw1.example.test")):
        out = io.StringIO()
        s = StreamSink(fmt, out)
        s.open(RUN)
        for r in fleet():
            s.host(r)
        s.close(summary(fleet()))
        assert marker in out.getvalue()
    assert out.getvalue().count("\n---\n") == len(fleet()) - 1


def test_big_fleets_leave_clean_hosts_out_of_the_table() -> None:
    import dataclasses

    from nscheck.report.table import BIG_FLEET

    many = [dataclasses.replace(fleet()[1 if n % 2 else 5], target=f"h{n}.test") for n in range(BIG_FLEET + 1)]
    many.append(dataclasses.replace(fleet()[0], target="bad.test"))
    buf = io.StringIO()
    render_table(many, Console(file=buf, width=200))
    out = buf.getvalue()
    assert "bad.test" in out and "h0.test" not in out
    assert f"({BIG_FLEET + 1} not-vulnerable / not-NetScaler hosts left out" in out
    assert f"{BIG_FLEET + 2} host(s)" in out
