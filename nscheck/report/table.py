"""The terminal summary: one rich table row per host. Rows are compact (strings only), so the
table sink can buffer 5000 hosts cheaply. Every cell is plain ``Text`` (never rich markup) and
cleaned, so a server cannot inject escapes or markup. Rich honours NO_COLOR."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Sequence
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from nscheck.model import Coverage, HostResult
from nscheck.report.base import RunInfo, RunSummary
from nscheck.report.order import DEFAULT_SORT, key_of, sort_keyed, sort_results
from nscheck.report.text import (
    LOW_CONFIDENCE_LABEL,
    build_text,
    clean,
    fix_to,
    host_transitions,
    low_confidence_only,
    open_assessments,
    open_bulletins,
    product_text,
    ranked_indicators,
    state_of,
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
    bull = f"{len(opened)} ({w.value})" if opened and w else ("0" if r.advisories and not unknown else "")
    if unknown:
        bull += f"{', ' if bull else ''}{unknown} unknown"
    # The low-confidence label is long: its first words say it in a narrow column.
    label = TABLE_LOW_LABEL if low_confidence_only(r) else r.verdict.value
    verdict = label + (f": {r.error}" if r.error else "")
    return (
        clean(r.target, 80), clean(verdict, 90), clean(product_text(r), 60), clean(build_text(r), 60),
        clean(bull, 40), clean(str(len(r.indicators)) if r.indicators else "", 10), clean(_short_fix(fix_to(r)), 60),
        clean(changes_text(r), 80), act_text(r),
    )


def _short_fix(fix: str) -> str:
    return "new train (EOL)" if fix == "move to a supported train" else fix


ACT_SHOWN = 5  # "Act now" lines above the table; the rest are in the table (first rows)


def act_text(r: HostResult) -> str:
    """One line for the "Act now" block above the table: what is wrong and the first thing to
    do ("" for hosts that are not compromised and have no open compromise assessment)."""
    if r.indicators:
        i = ranked_indicators(r)[0]
        where = i.path or i.url or ""
        more = f" (+{len(r.indicators) - 1} more)" if len(r.indicators) > 1 else ""
        if low_confidence_only(r):
            todo = "confirm the hits by hand first"
        else:
            todo = "isolate it, preserve evidence, start incident response"
        fix = fix_to(r)
        then = "" if not fix else "; then " + (fix if fix.startswith("move") else f"upgrade to {fix}")
        return clean(f"{i.id} at {where}{more}: {todo}{then}", 300)
    if open_assessments(r):
        return ASSESSMENT_ACT
    return ""


# Hosts with an open assessment share one line above the table (they can be many).
ASSESSMENT_ACT = "assessment"


def changes_text(r: HostResult) -> str:
    """'2 new, 1 resolved; assessment open' for one host ("" without state data)."""
    from nscheck.state.transitions import summary_line

    if not state_of(r):
        return ""
    text = summary_line(host_transitions(r))
    if open_assessments(r):
        text += "; assessment open"
    return text


TABLE_LOW_LABEL = "possible compromise"  # LOW_CONFIDENCE_LABEL, cut to what fits a column


def _verdict_key(cell: str) -> str:
    """The verdict value behind a verdict cell (a low-confidence label counts as compromised)."""
    if cell.startswith(TABLE_LOW_LABEL):
        return "compromised"
    return cell.split(":", 1)[0]


# Column fitting. Every cell stays on one line (an ellipsis marks a cut), so a host is one line
# at any width. Each column has a minimum (verdicts, builds and fix targets are read as words: not
# cut below a whole token) and a cap; the widths are computed here, not left to rich, so the
# priorities hold: when even the minimums do not fit, the least important column goes first
# (product, indicator count, changes, bulletins, build), never host, verdict or fix to.
_MIN_WIDTH = {"host": 15, "verdict": 11, "product / roles": 9, "build": 10, "open bulletins": 9,
              "indicators": 3, "fix to": 10, CHANGES: 9}
_MAX_WIDTH = {"host": 40, "verdict": 32, "product / roles": 24, "build": 34, "open bulletins": 24,
              "indicators": 4, "fix to": 40, CHANGES: 40}
# Short headers for narrow columns: a header is never cut mid-word.
_SHORT = {"product / roles": "product", "open bulletins": "bulletins", "indicators": "IoC", CHANGES: "changes"}
_DROP_ORDER = ("product / roles", "indicators", CHANGES, "open bulletins", "build")
# Which columns give up width first when the natural widths do not fit.
# An error's text after the verdict word goes first (the per-host report has it in full).
_SHRINK_ORDER = ("verdict", "product / roles", CHANGES, "build", "open bulletins", "host", "fix to", "indicators")
_GAP = 2  # characters between two columns (see the Table built in render_rows)


def _display_host(target: str) -> str:
    """https is the default: the scheme says nothing in a narrow table (http:// stays visible)."""
    t = target[len("https://"):] if target.startswith("https://") else target
    return t[:-1] if t.endswith("/") and t.count("/") == 1 else t


def _header(name: str, width: int) -> str:
    return name if width >= len(name) else _SHORT.get(name, name)


def fit_columns(names: Sequence[str], rows: Sequence[Sequence[str]], width: int) -> dict[str, int]:
    """The columns that fit ``width`` and the width of each, in table order. A column is dropped
    (lowest priority first) rather than cutting host, verdict word, bulletins or fix target."""
    natural: dict[str, int] = {}
    for i, n in enumerate(names):
        cells = max([0] + [len(r[i]) for r in rows])
        natural[n] = min(max(cells, len(_SHORT.get(n, n))), _MAX_WIDTH.get(n, 30))
    minimum = {n: min(natural[n], max(_MIN_WIDTH.get(n, 8), len(_SHORT.get(n, n)))) for n in names}
    # What must not be cut while a less important column could go instead.
    word = max([len(r[1].split(":", 1)[0]) for r in rows] + [len("verdict")])
    core = {"host": natural["host"], "verdict": min(word, natural["verdict"]), "fix to": natural["fix to"],
            "open bulletins": min(natural["open bulletins"], 12), "build": min(natural["build"], 16)}
    minimum["verdict"] = max(minimum["verdict"], core["verdict"])

    def allocate(cols: list[str]) -> tuple[dict[str, int], bool]:
        widths = {c: natural[c] for c in cols}
        over = sum(widths.values()) + _GAP * (len(cols) - 1) - width
        for c in _SHRINK_ORDER:
            if over <= 0:
                break
            if c in widths:
                give = min(over, widths[c] - minimum[c])
                widths[c] -= give
                over -= give
        hurt = any(widths.get(c, v) < v for c, v in core.items())
        return widths, over <= 0 and not hurt

    keep = [n for n in names if natural[n] > 0]
    widths, ok = allocate(keep)
    for victim in _DROP_ORDER:
        if ok:
            break
        if victim in keep:
            keep.remove(victim)
            widths, ok = allocate(keep)
    return widths


def default_console() -> Console:
    """Rich assumes 80 columns when stdout is not a terminal (cron mail, a pipe, a log file);
    that cuts every cell. Use a wide line there unless COLUMNS says otherwise."""
    probe = Console()
    if probe.is_terminal or os.environ.get("COLUMNS"):
        return probe
    return Console(width=160)


BIG_FLEET = 200  # above this many hosts, clean rows are left out of the terminal table
_QUIET_VERDICTS = ("not_vulnerable", "not_netscaler")


def render_rows(rows: Sequence[tuple[str, ...]], console: Console | None = None, *,
                summary: RunSummary | None = None, title: str = "nscheck",
                transitions: dict[str, int] | None = None) -> None:
    """Rows in the order given (callers sort them: urgency first by default).
    ``transitions``: run-wide counts for the last line (``nscheck report``); a live scan prints
    them itself ("since the last run: ..." on stderr)."""
    console = console or default_console()
    with_changes = any(len(row) > len(COLUMNS) and row[len(COLUMNS)] for row in rows)
    acts = [(row[0], row[len(COLUMNS) + 1]) for row in rows if len(row) > len(COLUMNS) + 1 and row[len(COLUMNS) + 1]]
    assess = [host for host, text in acts if text == ASSESSMENT_ACT]
    acts = [(host, text) for host, text in acts if text != ASSESSMENT_ACT]
    if acts or assess:
        # The first screen says what to do first, before a long table scrolls it away.
        console.print(Text("Act now:", style="bold magenta"))
        grid = Table.grid(padding=(0, 1), pad_edge=True)
        grid.add_column(no_wrap=True, style="bold", max_width=max(16, console.width // 3), overflow="ellipsis")
        grid.add_column()
        for host, text in acts[:ACT_SHOWN]:
            grid.add_row(Text(_display_host(host)), Text(text))
        if len(acts) > ACT_SHOWN:
            grid.add_row(Text(f"+{len(acts) - ACT_SHOWN} more"), Text("compromised: the first rows of the table"))
        if assess:
            who = _display_host(assess[0]) if len(assess) == 1 else f"{len(assess)} hosts"
            grid.add_row(Text(who), Text("compromise assessment open (vulnerable while exploited): run nscheck triage "
                                         "on their artefacts, then nscheck ack (see each host's report)"))
        console.print(grid)
    names = [*COLUMNS, CHANGES] if with_changes else list(COLUMNS)
    counts: Counter[str] = Counter()
    big = len(rows) > BIG_FLEET
    hidden = 0
    low = 0
    shown: list[tuple[str, ...]] = []
    for row in rows:
        verdict = _verdict_key(row[1])
        counts[verdict] += 1
        low += row[1].startswith(TABLE_LOW_LABEL)
        if big and verdict in _QUIET_VERDICTS:
            hidden += 1
            continue
        cells = [_display_host(row[0]), *row[1:min(len(row), len(names))]]
        shown.append(tuple(cells) + ("",) * (len(names) - len(cells)))
    widths = fit_columns(names, shown, console.width)
    idx = [names.index(c) for c in widths]
    t = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False,
              padding=(0, 1), collapse_padding=True, expand=False)
    for c, w in widths.items():
        t.add_column(_header(c, w), no_wrap=True, overflow="ellipsis", width=w, min_width=w, max_width=w)
    for row in shown:
        styled = [Text(row[i]) for i in idx]
        verdict = _verdict_key(row[1])
        styled[1].stylize("magenta" if row[1].startswith(TABLE_LOW_LABEL) else _STYLE.get(verdict, ""))
        t.add_row(*styled)
    console.print(t)
    dropped = [c for c in names if c not in widths and any(r[names.index(c)] for r in shown)]
    if dropped:
        console.print(Text(f"(too narrow for: {', '.join(dropped)}; widen the terminal or use --format md)"))
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
                 summary: RunSummary | None = None, sort: str = DEFAULT_SORT) -> None:
    """The table of saved results (``nscheck report``): transitions are summed from the hosts."""
    trans: Counter[str] | None = None
    if any(state_of(r) for r in results):
        trans = Counter()
        for r in results:
            trans.update(host_transitions(r))
    render_rows([row_of(r) for r in sort_results(results, sort)], console, summary=summary,
                transitions=dict(trans) if trans is not None else None)


class TableSink:
    """Buffers one compact row (and its sort key) per host; prints the table, most urgent host
    first, at the end (stdout by default)."""

    def __init__(self, console: Console | None = None, *, sort: str = DEFAULT_SORT):
        self.console = console
        self.sort = sort
        self.rows: list[tuple[Any, tuple[str, ...]]] = []

    def open(self, run: RunInfo) -> None:
        pass

    def host(self, result: HostResult) -> None:
        self.rows.append((key_of(result, self.sort), row_of(result)))

    def close(self, summary: RunSummary) -> None:
        render_rows(sort_keyed(self.rows), self.console, summary=summary)


def triage_details(results: Sequence[HostResult], console: Console | None = None) -> None:
    """After the triage table: the host table says the verdict; triage readers also need each hit
    and what was not looked at. Every string here came from the input (member names, log lines,
    the path given): it goes through ``clean`` (no escapes, controls, bidi or line breaks) and is
    never rich markup."""
    from nscheck.report.text import clean

    console = console or default_console()  # the terminal's width (160 only when stdout is not a terminal)

    def say(text: str) -> None:
        console.print(text, markup=False, highlight=False, emoji=False)

    for r in results:
        head = Text("\n")
        head.append(clean(r.target, 200), style="bold")
        head.append(f": {len(r.indicators)} indicator(s)")
        console.print(head, highlight=False)
        for i in r.indicators:
            where = f"{i.path}:{i.line}" if i.line else (i.path or "")
            say(f"  {i.severity.value:8} {i.confidence.value:6} {clean(i.check, 18):18} {clean(i.id, 60)}  "
                f"{clean(where, 300)}")
            say(f"      {clean(i.evidence, 500)}")
        cov = r.coverage or Coverage()
        for cut in (cov.budgets or {}).get("cut", []):
            say(f"  CUT SHORT: {clean(cut, 300)}")
        for m in cov.missing or ():
            if isinstance(m, dict):
                say(f"  not collected: {clean(m.get('area'))} ({clean(m.get('unchecked'))})")
            else:  # an older saved result: the area alone
                say(f"  not collected: {clean(m)}")
        for fam, st in sorted((cov.families or {}).items()):
            if st.get("status") not in ("checked",):
                reason = ": " + clean(st["reason"]) if st.get("reason") else ""
                say(f"  {clean(fam, 40)}: {clean(st.get('status'), 40)}{reason}")
        for step in cov.next_steps or ():
            say(f"  next: {clean(step, 500)}")
