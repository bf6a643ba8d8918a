"""Every output format, hung off one result type (``nscheck.model.HostResult``).

Where each format lives:

- ``table.py``: the terminal summary (rich); ``progress.py``: the progress bar on stderr
- ``jsonfmt.py``: the per-host JSON contract, and reading saved results back
- ``markdown.py``: the per-host Markdown report
- ``ecs.py``: ECS JSON Lines for a SIEM (``--jsonl``)
- ``csvfmt.py``: CSV (``--csv``); ``html.py``: the fleet overview page (``--html``)
- ``files.py``: atomic writes, safe file names, the ``--output-dir`` sink
- ``exitcodes.py``: exit codes from a running tally; the signature-age check
- ``text.py``: cleaning untrusted strings; ``base.py``: the Sink protocol

Runs feed sinks (``build_sinks``); ``nscheck report`` feeds saved results to ``render``.
"""

from __future__ import annotations

import datetime as dt
import sys
from collections import Counter
from collections.abc import Sequence
from typing import Any, TextIO

from rich.console import Console

from nscheck import __version__
from nscheck.model import HostResult
from nscheck.report.base import RunInfo, RunSummary, Sink
from nscheck.report.exitcodes import ExitTally, check_signature_age, exit_code
from nscheck.report.files import atomic_write, safe_name
from nscheck.report.order import DEFAULT_SORT, SORTS, SortedSpool, key_of, sort_results
from nscheck.report.table import render_table

FORMATS = ("table", "md", "csv", "html", "json", "jsonl")

__all__ = [
    "FORMATS",
    "SORTS",
    "ExitTally",
    "RunInfo",
    "RunSummary",
    "Sink",
    "atomic_write",
    "build_sinks",
    "check_signature_age",
    "exit_code",
    "render",
    "render_table",
    "safe_name",
]


def build_sinks(opts: Any, *, kind: str = "scan", targets: Sequence[str] | None = None) -> list[Sink]:
    """The file outputs the options ask for (JSONL, per-host files, CSV, HTML) and the progress
    bar. ``opts`` is a ScanOptions (or anything with the same attribute names). The stdout
    format (``--format``) and the exit tally are the caller's. ``targets``: every target's name
    when the list is known up front (the progress bar then shows N/total and who is pending).
    The progress bar comes first: closed first, it is gone before anything prints a table."""
    sinks: list[Sink] = []
    if getattr(opts, "jsonl", None):
        from nscheck.report.ecs import JsonlSink

        sinks.append(JsonlSink(opts.jsonl))
    if getattr(opts, "output_dir", None):
        from nscheck.report.files import OutputDirSink

        sinks.append(OutputDirSink(opts.output_dir, fleet_page=getattr(opts, "html", None)))
    if getattr(opts, "csv", None):
        from nscheck.report.csvfmt import CsvSink

        sinks.append(CsvSink(opts.csv, sort=getattr(opts, "sort", DEFAULT_SORT)))
    if getattr(opts, "ocsf", None):
        from nscheck.report.ocsf import OcsfSink

        sinks.append(OcsfSink(opts.ocsf))
    if getattr(opts, "syslog", None) or getattr(opts, "hec_url", None):
        from nscheck import deliver

        sinks.extend(deliver.build(opts))
    if getattr(opts, "html", None):
        from nscheck.report.html import HtmlSink

        sinks.append(HtmlSink(opts.html, output_dir=getattr(opts, "output_dir", None),
                              sort=getattr(opts, "sort", DEFAULT_SORT)))
    if kind == "scan":
        from nscheck.report.progress import ProgressSink, wanted

        if wanted(opts):
            sinks.insert(0, ProgressSink(targets=targets))
    return sinks


def synthetic_run(results: Sequence[HostResult], kind: str = "scan") -> tuple[RunInfo, RunSummary]:
    """A RunInfo/RunSummary for re-rendered results (``nscheck report``): times from the results."""
    starts = sorted(r.started for r in results if r.started)
    started = starts[0] if starts else dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    import hashlib

    rid = "report-" + hashlib.sha256("|".join(f"{r.target}|{r.started}" for r in results).encode()).hexdigest()[:12]
    kinds = {r.kind for r in results}
    info = RunInfo(run_id=rid, started=started, kind=kinds.pop() if len(kinds) == 1 else kind, tool_version=__version__,
                   command="nscheck report")
    counts = Counter(r.verdict.value for r in results)
    summary = RunSummary(run=info, ended=starts[-1] if starts else started, duration_ms=0, hosts=len(results),
                         counts=dict(counts), requests_sent=sum(r.requests_sent for r in results))
    return info, summary


def render(results: Sequence[HostResult], fmt: str, out: TextIO, *, run: RunInfo | None = None,
           summary: RunSummary | None = None, observer_hostname: str | None = None, color: bool | None = None,
           link_prefix: str | None = None, sort: str = DEFAULT_SORT, width: int | None = None) -> None:
    """Render results in one format to ``out`` (``nscheck report``, golden tests, --format).
    ``link_prefix`` (html only): relative location of per-host reports, None for no links.
    ``sort``: host order (urgency by default, see ``order.py``); JSON and JSONL keep input order.
    ``width`` (table only): columns; None = the terminal's (160 when ``out`` is not a terminal)."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r} (one of {', '.join(FORMATS)})")
    if run is None or summary is None:
        info, summ = synthetic_run(results)
        run, summary = run or info, summary or summ
    if fmt in ("table", "md", "csv", "html"):
        results = sort_results(results, sort)
    if fmt == "table":
        if width is None:
            from nscheck.report.table import default_console

            width = default_console().width if out is sys.stdout else 160
        console = Console(file=out, no_color=None if color else True, width=width,
                          force_terminal=bool(color)) if color is not None else Console(file=out, width=width)
        render_table(results, console, summary=summary, sort="input")
    elif fmt == "md":
        from nscheck.report.markdown import fleet_markdown

        out.write(fleet_markdown(results))
    elif fmt == "csv":
        from nscheck.report.csvfmt import render_csv

        out.write(render_csv(results))
    elif fmt == "html":
        from nscheck.report.html import render_results_html

        out.write(render_results_html(results, run=run, summary=summary, link_prefix=link_prefix))
    elif fmt == "json":
        from nscheck.report.jsonfmt import results_json

        out.write(results_json(results))
    else:
        from nscheck.report.ecs import render_jsonl

        out.write(render_jsonl(results, run, summary, observer_hostname=observer_hostname))


class StreamSink:
    """``--format md|csv`` on stdout. With ``sort="input"`` streamed host by host; otherwise
    (urgency by default) each host's text is spooled to a temp file (not memory) and written in
    order at the end, so the first screen is the most urgent host."""

    def __init__(self, fmt: str, out: TextIO | None = None, *, sort: str = DEFAULT_SORT):
        if fmt not in ("md", "csv"):
            raise ValueError(f"StreamSink streams md or csv, not {fmt!r}")
        self.fmt = fmt
        self.out = out or sys.stdout
        self.n = 0
        self.sort = sort
        self.spool: SortedSpool | None = None if sort == "input" else SortedSpool()

    def open(self, run: RunInfo) -> None:
        if self.fmt == "csv":
            import csv

            from nscheck.report.csvfmt import COLUMNS

            self.writer = csv.writer(self.out, lineterminator="\n")
            self.writer.writerow(COLUMNS)

    def host(self, result: HostResult) -> None:
        if self.fmt == "csv":
            from nscheck.report.csvfmt import rows_of

            if self.spool is not None:
                import csv
                import io

                buf = io.StringIO()
                csv.writer(buf, lineterminator="\n").writerows(rows_of(result))
                self.spool.add(key_of(result, self.sort), buf.getvalue())
                return
            self.writer.writerows(rows_of(result))
        else:
            from nscheck.report.markdown import host_markdown

            text = host_markdown(result).replace("# nscheck: ", "## nscheck: ", 1)
            if self.spool is not None:
                self.spool.add(key_of(result, self.sort), text)
                return
            self._write_md(text)
        self.out.flush()

    def _write_md(self, text: str) -> None:
        self.out.write(("\n---\n\n" if self.n else "") + text)
        self.n += 1

    def close(self, summary: RunSummary) -> None:
        if self.spool is not None:
            for chunk in self.spool.chunks():
                if self.fmt == "csv":
                    self.out.write(chunk)
                else:
                    self._write_md(chunk)
        self.out.flush()


def stdout_sink(fmt: str, out: TextIO | None = None, *, sort: str = DEFAULT_SORT) -> Sink:
    """The sink for ``--format`` on stdout: table (compact rows), md and csv (spooled, sorted)."""
    if fmt == "table":
        from nscheck.report.table import TableSink

        return TableSink(Console(file=out) if out is not None else None, sort=sort)
    return StreamSink(fmt, out, sort=sort)
