"""One format registry and one run loop for scan and triage (issue 14 §3).

Every ``OutputFormat`` builds a stdout sink for a running scan and a running triage and renders
saved results of both kinds; ``nscheck.drive.drive`` is what both commands run, so a failing
sink or a failing state stage costs neither of them a host."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import json
from pathlib import Path
from typing import Any

import pytest
from test_report_fixtures import OBSERVER, RUN, fleet, summary

from nscheck.drive import drive
from nscheck.model import HostResult, RunInfo, RunSummary
from nscheck.report import render
from nscheck.report.formats import OutputFormat

SCAN = [r for r in fleet() if r.kind == "scan"]
TRIAGE = [r for r in fleet() if r.kind == "triage"] + [
    dataclasses.replace(r, target=f"collect-gw{n}.tar.gz") for n, r in enumerate(fleet()[-1:], start=5)]
TRIAGE_RUN = dataclasses.replace(RUN, run_id="triage-fixture", kind="triage")


class Collect:
    def __init__(self) -> None:
        self.opened: RunInfo | None = None
        self.results: list[HostResult] = []
        self.summary: RunSummary | None = None

    def open(self, run: RunInfo) -> None:
        self.opened = run

    def host(self, result: HostResult) -> None:
        self.results.append(result)

    def close(self, summary: RunSummary) -> None:
        self.summary = summary


class Boom(Collect):
    def host(self, result: HostResult) -> None:
        raise OSError(f"disk full while writing {result.target}")


class MarkStage:
    """A RunStage that marks what it saw; it fails on one host (a locked database, say)."""

    def __init__(self, fail_on: str | None = None) -> None:
        self.fail_on = fail_on
        self.opened = False

    def open(self, run: RunInfo) -> None:
        self.opened = True

    def annotate(self, result: HostResult) -> HostResult:
        if result.target == self.fail_on:
            raise RuntimeError("database is locked")
        return dataclasses.replace(result, extra={**result.extra, "marked": True})

    def close(self, summary: RunSummary) -> RunSummary:
        return dataclasses.replace(summary, extra={**summary.extra, "stage_closed": True})


def _shown(r: HostResult) -> str:
    return r.target.strip("[]").split("]")[0]


@pytest.mark.parametrize("kind", ["scan", "triage"])
@pytest.mark.parametrize("fmt", list(OutputFormat))
def test_every_format_prints_a_running_scan_and_triage(fmt: OutputFormat, kind: str) -> None:
    results = SCAN if kind == "scan" else TRIAGE
    out = io.StringIO()
    sink = fmt.sink("scan" if kind == "scan" else "triage", out)
    run = RUN if kind == "scan" else TRIAGE_RUN
    s = asyncio.run(drive(results, [sink], run_info=run))
    text = out.getvalue()
    assert s.hosts == len(results)
    assert text.strip(), f"{fmt} printed nothing for a {kind}"
    if fmt is OutputFormat.TABLE:
        assert f"{len(results)} host(s):" in text
    else:
        for r in results:
            assert _shown(r) in text, (fmt, r.target)
    if fmt is OutputFormat.JSONL:
        assert [json.loads(line)["target"] for line in text.splitlines()] == [r.target for r in results]
    if fmt is OutputFormat.JSON and kind == "scan":
        assert [d["target"] for d in json.loads(text)] == [r.target for r in results]
    if kind == "triage" and fmt in (OutputFormat.JSON, OutputFormat.MD):
        # one complete document per appliance, as it finishes
        assert text.count('"schema": "nscheck.triage/1"' if fmt is OutputFormat.JSON else "\n# nscheck") \
            + (fmt is OutputFormat.MD and text.startswith("# nscheck")) == len(results)
    if kind == "triage" and fmt is OutputFormat.TABLE:
        assert "ncsc-webshell-eval" in text  # the triage table goes on with every hit


@pytest.mark.parametrize("fmt", list(OutputFormat))
def test_every_format_renders_saved_scan_and_triage_results(fmt: OutputFormat) -> None:
    for results in (SCAN, TRIAGE):
        buf = io.StringIO()
        render(results, fmt, buf, run=RUN, summary=summary(results), observer_hostname=OBSERVER, color=False)
        assert buf.getvalue().strip()
        if fmt is not OutputFormat.TABLE:
            assert all(_shown(r) in buf.getvalue() for r in results), fmt


def test_render_refuses_an_unknown_format() -> None:
    with pytest.raises(ValueError, match="unknown format 'pdf'"):
        render(SCAN, "pdf", io.StringIO())


async def _stream(results: list[HostResult]) -> Any:
    for r in results:
        await asyncio.sleep(0)
        yield r


@pytest.mark.parametrize("producer", ["iterable", "async"])
def test_drive_a_failing_sink_and_a_failing_stage_lose_no_host(producer: str, capsys: pytest.CaptureFixture[str]) -> None:
    keep, boom, stage = Collect(), Boom(), MarkStage(fail_on=SCAN[1].target)
    results: Any = list(SCAN) if producer == "iterable" else _stream(list(SCAN))
    s = asyncio.run(drive(results, [boom, keep], run_info=RUN, stage=stage, partial=lambda: True))
    assert [r.target for r in keep.results] == [r.target for r in SCAN]
    assert [bool(r.extra.get("marked")) for r in keep.results] == [r.target != SCAN[1].target for r in SCAN]
    assert keep.opened is RUN and keep.summary is s and boom.summary is s
    assert s.hosts == len(SCAN) and s.partial and s.extra["stage_closed"]
    assert s.requests_sent == sum(r.requests_sent for r in SCAN)
    err = capsys.readouterr().err
    assert err.count("nscheck: output error for ") == len(SCAN)
    assert f"nscheck: state: could not record {SCAN[1].target}: RuntimeError: database is locked" in err


def test_scan_runs_through_drive(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """scan_async: hosts come from scan_host as they finish; drive feeds stage and sinks."""
    import nscheck.runner as runner
    from nscheck.options import ScanOptions
    from nscheck.targets import parse_target

    by_raw = {f"127.0.0.1:{9000 + i}": r for i, r in enumerate(SCAN)}

    async def fake_scan_host(target: Any, client: Any, opts: Any, sigs: Any) -> HostResult:
        await asyncio.sleep(0)
        return dataclasses.replace(by_raw[target.raw], target=target.raw)

    monkeypatch.setattr(runner, "scan_host", fake_scan_host)
    targets = [t for raw in by_raw for t in parse_target(raw)]
    keep, boom, stage = Collect(), Boom(), MarkStage(fail_on="127.0.0.1:9001")
    s = asyncio.run(runner.scan_async(targets, ScanOptions(concurrency=2), [boom, keep], client=object(),
                                      sigs=object(), stage=stage))  # type: ignore[arg-type]
    assert sorted(r.target for r in keep.results) == sorted(by_raw)
    assert sum(bool(r.extra.get("marked")) for r in keep.results) == len(by_raw) - 1
    assert s.hosts == len(by_raw) and not s.partial and s.extra["stage_closed"] and s.run.kind == "scan"
    err = capsys.readouterr().err
    assert err.count("nscheck: output error for 127.0.0.1:") == len(by_raw)
    assert "nscheck: state: could not record 127.0.0.1:9001" in err


def test_triage_runs_through_drive(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    """run_triage: the same loop; its --format output is a registry sink like scan's."""
    import nscheck.report as report
    import nscheck.state as state
    from nscheck.cli.triage import run_triage
    from nscheck.triage.context import TriageOptions

    keep, boom = Collect(), Boom()
    stages: list[MarkStage] = []

    def make_stage(path: str) -> MarkStage:
        stages.append(MarkStage(fail_on=TRIAGE[0].target))
        return stages[-1]

    monkeypatch.setattr(report, "build_sinks", lambda opts, kind="scan", targets=None: [boom, keep])
    monkeypatch.setattr(state, "StateStage", make_stage)
    by_path = {r.target: r for r in TRIAGE}
    opts = TriageOptions(paths=tuple(by_path), format="jsonl", state=str(tmp_path / "state.db"), fail_on="none")
    code = run_triage(opts, None, tmp_path, lambda group, o, r, s: by_path[group[0]])  # type: ignore[arg-type]
    assert code == 0
    assert [r.target for r in keep.results] == list(by_path)
    assert [bool(r.extra.get("marked")) for r in keep.results] == [False, True]
    assert keep.summary is not None and keep.summary.extra["stage_closed"] and keep.summary.run.kind == "triage"
    out, err = capsys.readouterr()
    assert [json.loads(line)["target"] for line in out.splitlines()] == list(by_path)  # the jsonl sink, per host
    assert err.count("nscheck: output error for collect-gw") == len(by_path)
    assert f"nscheck: state: could not record {TRIAGE[0].target}" in err


@pytest.mark.parametrize("cmd", ["scan", "triage", "report"])
def test_format_choices_in_help(cmd: str, run_cli: Any) -> None:
    code, out, _err = run_cli([cmd, "--help"])
    assert code == 0
    out = " ".join(out.split())
    assert "-f, --format " + "|".join(f.value for f in OutputFormat) in out


def test_file_outputs_are_one_list(tmp_path: Path) -> None:
    """build_sinks and the pre-flight path check read the same list (report/outputs.py)."""
    from nscheck.options import ScanOptions
    from nscheck.report import build_sinks
    from nscheck.report.outputs import FILE_OUTPUTS, check_run_outputs

    paths = {o.attr: str(tmp_path / (o.attr + ("" if o.check == "dir" else ".out"))) for o in FILE_OUTPUTS}
    opts = ScanOptions(no_progress=True, **paths)  # type: ignore[arg-type]
    sinks = build_sinks(opts)
    assert [type(s).__name__ for s in sinks] == ["JsonlSink", "OutputDirSink", "CsvSink", "OcsfSink", "HtmlSink"]
    assert check_run_outputs(opts) == []
    # every FILE output is checked before the first packet, --ocsf too
    (tmp_path / "plain").write_text("a file, not a directory")
    bad = ScanOptions(output=str(tmp_path), ocsf=str(tmp_path), csv=str(tmp_path / "plain" / "x.csv"))
    problems = check_run_outputs(bad)
    assert [p.split(" ", 1)[0] for p in problems] == ["-o", "--csv", "--ocsf"]


@pytest.mark.parametrize(("cmd", "choices"), [(["assess"], "table|json"), (["history"], "table|json"),
                                              (["demo"], "table|json"), (["signatures", "status"], "text|json")])
def test_document_format_choices(cmd: list[str], choices: str, run_cli: Any) -> None:
    code, out, _err = run_cli([*cmd, "--help"])
    assert code == 0 and f"--format {choices}" in " ".join(out.split())
    code, _out, err = run_cli([*cmd, "--format", "pdf"])
    assert code == 64 and "'pdf' is not one of" in err
