"""The one list of ``--format`` choices: what each prints on stdout, and how.

``OutputFormat`` is what ``nscheck scan``, ``nscheck triage`` and ``nscheck report`` accept as
``-f/--format`` (typer turns it into the choice list of ``--help`` and shell completion; any
other value is a usage error, exit 64). Per format, ``_FORMATS`` says

- how a running scan or triage prints it (``OutputFormat.sink``: a sink fed host by host by
  ``nscheck.drive``), and
- how saved results are rendered (``OutputFormat.render``: ``nscheck report``, goldens).

``DocumentFormat`` (table, json) is the ``-f`` of commands that print a document of their own
(``assess``, ``history``, ``demo``), ``StatusFormat`` (text, json) that of ``signatures status``.
A new format is one member and one ``_Format`` row here; the text itself lives in its own
module (``table.py``, ``markdown.py``, ``csvfmt.py``, ``html.py``, ``jsonfmt.py``, ``ecs.py``).
File outputs (``--jsonl FILE``, ``--csv FILE``, ...) are built by ``build_sinks``.

Where scan and triage differ, they differ here, on purpose: a scan is a fleet (one table of
compact rows, one JSON array, Markdown sections in urgency order); a triage is a few appliances,
each examined in depth (the table is followed by every hit and coverage gap, and ``json``/``md``
print each appliance's complete document as soon as it is done). ``jsonl`` on stdout is one host
document (``nscheck.host/1``, ``nscheck.triage/1``) per line as hosts finish; ``nscheck report -f
jsonl`` writes ECS JSON Lines, the same as ``--jsonl FILE``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal, TextIO

from rich.console import Console

from nscheck.model import HostResult, RunInfo, RunSummary
from nscheck.report.base import Sink
from nscheck.report.order import DEFAULT_SORT, SortedSpool, key_of, sort_results

RunKind = Literal["scan", "triage"]

__all__ = ["DocumentFormat", "OutputFormat", "RenderContext", "RunKind", "StatusFormat", "StreamSink"]


class OutputFormat(StrEnum):
    TABLE = "table"
    MD = "md"
    CSV = "csv"
    HTML = "html"
    JSON = "json"
    JSONL = "jsonl"

    @property
    def help(self) -> str:
        return _FORMATS[self].help

    def sink(self, kind: RunKind = "scan", out: TextIO | None = None, *, sort: str = DEFAULT_SORT) -> Sink:
        """The stdout sink of a running ``kind`` (``out``: sys.stdout as it is when the sink is made)."""
        spec = _FORMATS[self]
        return (spec.scan if kind == "scan" else spec.triage)(out or sys.stdout, sort)

    def render(self, results: Sequence[HostResult], out: TextIO, ctx: RenderContext, *,
               sort: str = DEFAULT_SORT) -> None:
        """Saved results, all at once (``nscheck report``)."""
        spec = _FORMATS[self]
        spec.render(sort_results(results, sort) if spec.sorted else results, out, ctx)


class DocumentFormat(StrEnum):
    """``-f`` of the commands that print one document of their own rather than host results
    (``assess``, ``history``, ``demo``): a table for people, JSON for programs."""

    TABLE = "table"
    JSON = "json"


class StatusFormat(StrEnum):
    """``nscheck signatures status -f``: lines of text, or JSON."""

    TEXT = "text"
    JSON = "json"


def help_text(prefix: str = "") -> str:
    """``--format`` help: every choice with a few words on it."""
    return prefix + "; ".join(f"{f.value}: {f.help}" for f in OutputFormat) + "."


@dataclass(frozen=True)
class RenderContext:
    """What rendering saved results needs besides the hosts. ``link_prefix`` (html): where the
    per-host reports are, relative to the page, None for no links; ``color``/``width`` (table):
    None for what the terminal can show (160 columns when ``out`` is not one)."""

    run: RunInfo
    summary: RunSummary
    observer_hostname: str | None = None
    color: bool | None = None
    link_prefix: str | None = None
    width: int | None = None


# -- running sinks ---------------------------------------------------------------------------------


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


class PerHostSink:
    """One complete document per host, written (and flushed) as soon as the host is done."""

    def __init__(self, out: TextIO, text: Callable[[HostResult], str]):
        self.out = out
        self.text = text

    def open(self, run: RunInfo) -> None:
        pass

    def host(self, result: HostResult) -> None:
        self.out.write(self.text(result))
        self.out.flush()

    def close(self, summary: RunSummary) -> None:
        pass


class AtEndSink:
    """Keeps the hosts and renders them once the run is over (a JSON array, the triage table)."""

    def __init__(self, out: TextIO, render: Callable[[list[HostResult], TextIO, RunSummary], None]):
        self.out = out
        self.render = render
        self.results: list[HostResult] = []

    def open(self, run: RunInfo) -> None:
        pass

    def host(self, result: HostResult) -> None:
        self.results.append(result)

    def close(self, summary: RunSummary) -> None:
        self.render(self.results, self.out, summary)
        self.out.flush()


def _host_line(result: HostResult) -> str:
    return json.dumps(result.to_dict(), default=str) + "\n"


def _table_sink(out: TextIO, sort: str) -> Sink:
    from nscheck.report.table import TableSink

    # stdout itself: the terminal's console (width, colour); anything else is written as given
    return TableSink(None if out is sys.stdout else Console(file=out), sort=sort)


def _triage_table(results: list[HostResult], out: TextIO, summary: RunSummary) -> None:
    from nscheck.report.table import default_console, render_table, triage_details

    console = default_console() if out is sys.stdout else Console(file=out)
    render_table(results, console, summary=summary)
    triage_details(results, console)


def _html_sink(out: TextIO, sort: str) -> Sink:
    from nscheck.report.html import HtmlSink, render_html
    from nscheck.report.order import sort_keyed

    class HtmlStreamSink(HtmlSink):
        def close(self, summary: RunSummary) -> None:
            out.write(render_html(sort_keyed(self.rows), run=self.run, summary=summary))
            out.flush()

    return HtmlStreamSink("-", sort=sort)


def _json_array(results: list[HostResult], out: TextIO, summary: RunSummary) -> None:
    from nscheck.report.jsonfmt import results_json

    out.write(results_json(results))


def _host_json(result: HostResult) -> str:
    from nscheck.report.jsonfmt import host_json

    return host_json(result)


def _host_md(result: HostResult) -> str:
    from nscheck.report.markdown import host_markdown

    return host_markdown(result)


# -- rendering saved results -----------------------------------------------------------------------


def _render_table(results: Sequence[HostResult], out: TextIO, ctx: RenderContext) -> None:
    from nscheck.report.table import default_console, render_table

    width = ctx.width
    if width is None:
        width = default_console().width if out is sys.stdout else 160
    color = ctx.color
    console = Console(file=out, no_color=None if color else True, width=width,
                      force_terminal=bool(color)) if color is not None else Console(file=out, width=width)
    render_table(results, console, summary=ctx.summary, sort="input")


def _render_md(results: Sequence[HostResult], out: TextIO, ctx: RenderContext) -> None:
    from nscheck.report.markdown import fleet_markdown

    out.write(fleet_markdown(results))


def _render_csv(results: Sequence[HostResult], out: TextIO, ctx: RenderContext) -> None:
    from nscheck.report.csvfmt import render_csv

    out.write(render_csv(results))


def _render_html(results: Sequence[HostResult], out: TextIO, ctx: RenderContext) -> None:
    from nscheck.report.html import render_results_html

    out.write(render_results_html(results, run=ctx.run, summary=ctx.summary, link_prefix=ctx.link_prefix))


def _render_json(results: Sequence[HostResult], out: TextIO, ctx: RenderContext) -> None:
    from nscheck.report.jsonfmt import results_json

    out.write(results_json(results))


def _render_jsonl(results: Sequence[HostResult], out: TextIO, ctx: RenderContext) -> None:
    from nscheck.report.ecs import render_jsonl

    out.write(render_jsonl(results, ctx.run, ctx.summary, observer_hostname=ctx.observer_hostname))


# -- the registry ----------------------------------------------------------------------------------

SinkFactory = Callable[[TextIO, str], Sink]


@dataclass(frozen=True)
class _Format:
    help: str
    scan: SinkFactory  # a running scan's stdout
    triage: SinkFactory  # a running triage's stdout
    render: Callable[[Sequence[HostResult], TextIO, RenderContext], None]  # saved results
    sorted: bool = True  # rendered in --sort order (json and jsonl keep the input order)


_FORMATS: dict[OutputFormat, _Format] = {
    OutputFormat.TABLE: _Format(
        "terminal table, most urgent host first (triage: then every hit and coverage gap)",
        scan=_table_sink,
        triage=lambda out, sort: AtEndSink(out, _triage_table),
        render=_render_table),
    OutputFormat.MD: _Format(
        "Markdown report per host",
        scan=lambda out, sort: StreamSink("md", out, sort=sort),
        triage=lambda out, sort: PerHostSink(out, _host_md),
        render=_render_md),
    OutputFormat.CSV: _Format(
        "one row per host x bulletin",
        scan=lambda out, sort: StreamSink("csv", out, sort=sort),
        triage=lambda out, sort: StreamSink("csv", out, sort=sort),
        render=_render_csv),
    OutputFormat.HTML: _Format(
        "self-contained fleet page",
        scan=_html_sink,
        triage=_html_sink,
        render=_render_html),
    OutputFormat.JSON: _Format(
        "host documents (scan: one array; triage: one object per appliance)",
        scan=lambda out, sort: AtEndSink(out, _json_array),
        triage=lambda out, sort: PerHostSink(out, _host_json),
        render=_render_json, sorted=False),
    OutputFormat.JSONL: _Format(
        "one host document per line as hosts finish (report: ECS JSON Lines)",
        scan=lambda out, sort: PerHostSink(out, _host_line),
        triage=lambda out, sort: PerHostSink(out, _host_line),
        render=_render_jsonl, sorted=False),
}
assert set(_FORMATS) == set(OutputFormat), "every OutputFormat needs its row in _FORMATS"
