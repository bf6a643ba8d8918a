"""The terminal summary: one rich table row per host. Rows are compact (strings only), so the
table sink can buffer 5000 hosts cheaply. Every cell is plain ``Text`` (never rich markup) and
cleaned, so a server cannot inject escapes or markup. Rich honours NO_COLOR."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Sequence

from rich.console import Console
from rich.table import Table
from rich.text import Text

from nscheck.model import HostResult
from nscheck.report.base import RunInfo, RunSummary
from nscheck.report.text import (
    LOW_CONFIDENCE_LABEL,
    build_text,
    clean,
    fix_to,
    host_transitions,
    open_assessments,
    open_bulletins,
    product_text,
    state_of,
    verdict_label,
    worst,
)

COLUMNS = ("host", "verdict", "product / roles", "build", "open bulletins", "indicators", "fix to")
# A row carries one more cell than COLUMNS: the changes since the last run (state stage), shown as
# a column only when some host has them.
CHANGES = "since last run"
_STYLE = {
    "vulnerable": "bold red", "compromised": "bold magenta", "unknown": "yellow", "unreachable": "dim",
    "not_vulnerable": "green", "not_netscaler": "dim",
}


def row_of(r: HostResult) -> tuple[str, ...]:
    opened = open_bulletins(r)
    w = worst(r)
    unknown = sum(1 for a in r.advisories if a.verdict.value == "unknown")
    bull = f"{len(opened)} (worst {w.value})" if opened and w else ("0" if r.advisories and not unknown else "")
    if unknown:
        bull += f"{', ' if bull else ''}{unknown} unknown"
    verdict = verdict_label(r) + (f": {r.error}" if r.error else "")
    return (
        clean(r.target, 80), clean(verdict, 90), clean(product_text(r), 60), clean(build_text(r), 60),
        clean(bull, 40), clean(str(len(r.indicators)) if r.indicators else "", 10), clean(fix_to(r), 40),
        clean(changes_text(r), 80),
    )


def changes_text(r: HostResult) -> str:
    """'2 new, 1 resolved; assessment open' for one host ("" without state data)."""
    from nscheck.state.transitions import summary_line

    if not state_of(r):
        return ""
    text = summary_line(host_transitions(r))
    n = len(open_assessments(r))
    if n:
        text += f"; {n} compromise assessment{'s' if n > 1 else ''} open"
    return text


def _verdict_key(cell: str) -> str:
    """The verdict value behind a verdict cell (a low-confidence label counts as compromised)."""
    if cell.startswith(LOW_CONFIDENCE_LABEL):
        return "compromised"
    return cell.split(":", 1)[0]


# Verdicts, builds and fix targets are read as words: keep room so they are not broken mid-token.
_MIN_WIDTH = {"host": 16, "verdict": 10, "build": 11, "fix to": 10}


def default_console() -> Console:
    """Rich assumes 80 columns when stdout is not a terminal (cron mail, a pipe, a log file);
    that folds every cell. Use a wide line there unless COLUMNS says otherwise."""
    probe = Console()
    if probe.is_terminal or os.environ.get("COLUMNS"):
        return probe
    return Console(width=160)


BIG_FLEET = 200  # above this many hosts, clean rows are left out of the terminal table
_QUIET_VERDICTS = ("not_vulnerable", "not_netscaler")


def render_rows(rows: Sequence[tuple[str, ...]], console: Console | None = None, *,
                summary: RunSummary | None = None, title: str = "nscheck",
                transitions: dict[str, int] | None = None) -> None:
    """``transitions``: run-wide counts for the last line (``nscheck report``); a live scan
    prints them itself ("since the last run: ..." on stderr)."""
    console = console or default_console()
    t = Table(title=title, title_justify="left")
    with_changes = any(len(row) > len(COLUMNS) and row[len(COLUMNS)] for row in rows)
    for c in (*COLUMNS, CHANGES) if with_changes else COLUMNS:
        t.add_column(c, overflow="fold", min_width=_MIN_WIDTH.get(c))
    counts: Counter[str] = Counter()
    big = len(rows) > BIG_FLEET
    hidden = 0
    low = 0
    for row in rows:
        verdict = _verdict_key(row[1])
        counts[verdict] += 1
        low += row[1].startswith(LOW_CONFIDENCE_LABEL)
        if big and verdict in _QUIET_VERDICTS:
            hidden += 1
            continue
        cells = [Text(c) for c in row[: len(COLUMNS) + (1 if with_changes else 0)]]
        cells += [Text("")] * (len(t.columns) - len(cells))
        cells[1].stylize("magenta" if row[1].startswith(LOW_CONFIDENCE_LABEL) else _STYLE.get(verdict, ""))
        t.add_row(*cells)
    console.print(t)
    if hidden:
        console.print(Text(f"({hidden} not-vulnerable / not-NetScaler hosts left out of this table; "
                           "--csv, --html and --output-dir list every host)"))
    if summary is not None:
        counts = Counter(summary.counts)
    note = f" ({low} of them a {LOW_CONFIDENCE_LABEL}: only low-confidence hits)" if low else ""
    line = ", ".join(f"{n} {v}" + (note if v == "compromised" else "") for v, n in sorted(counts.items())) or "no hosts"
    extra = ""
    if summary is not None:
        extra = f" in {summary.duration_ms / 1000:.1f}s, {summary.requests_sent} requests"
        if summary.partial:
            extra += " (PARTIAL: stopped before every target was scanned)"
    console.print(Text(f"{sum(counts.values())} host(s): {line}{extra}"))
    if transitions is not None:
        from nscheck.state.transitions import summary_line

        console.print(Text(f"since the last run: {summary_line(transitions)}"))


def render_table(results: Sequence[HostResult], console: Console | None = None, *,
                 summary: RunSummary | None = None) -> None:
    """The table of saved results (``nscheck report``): transitions are summed from the hosts."""
    trans: Counter[str] | None = None
    if any(state_of(r) for r in results):
        trans = Counter()
        for r in results:
            trans.update(host_transitions(r))
    render_rows([row_of(r) for r in results], console, summary=summary,
                transitions=dict(trans) if trans is not None else None)


class TableSink:
    """Buffers one compact row per host; prints the table at the end (stdout by default)."""

    def __init__(self, console: Console | None = None):
        self.console = console
        self.rows: list[tuple[str, ...]] = []

    def open(self, run: RunInfo) -> None:
        pass

    def host(self, result: HostResult) -> None:
        self.rows.append(row_of(result))

    def close(self, summary: RunSummary) -> None:
        render_rows(self.rows, self.console, summary=summary)
