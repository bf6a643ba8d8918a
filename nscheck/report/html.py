"""The fleet overview: one self-contained static HTML page (inline CSS, JS and SVG only; a
Content-Security-Policy forbids anything else), built from compact per-host rows so the sink
stays small at thousands of hosts."""

from __future__ import annotations

import html
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nscheck.model import HostResult, Verdict
from nscheck.report.base import RunInfo, RunSummary
from nscheck.report.files import atomic_write, safe_name
from nscheck.report.order import DEFAULT_SORT, key_of, sort_keyed
from nscheck.report.text import (
    LOW_CONFIDENCE_LABEL,
    build_text,
    clean,
    fix_to,
    host_transitions,
    low_confidence_only,
    open_assessments,
    product_text,
    state_of,
    worst,
)

VERDICT_ORDER = ("compromised", "vulnerable", "unknown", "unreachable", "not_vulnerable", "not_netscaler")
_COLOURS = {"compromised": "#7b1fa2", "vulnerable": "#c62828", "unknown": "#f9a825", "unreachable": "#757575",
            "not_vulnerable": "#2e7d32", "not_netscaler": "#90a4ae"}


@dataclass(frozen=True, slots=True)
class HtmlRow:
    target: str
    verdict: str
    product: str
    build: str
    train: str  # "14.1" or "13.1 FIPS"; "" when unknown
    exact_build: str  # "14.1-43.50" when exact, else ""
    open_bulletins: tuple[str, ...]
    unknown_bulletins: int
    indicators: int
    worst: str
    fix_to: str
    link: str  # file stem of the per-host reports, "" without --output-dir
    error: str
    # state stage (``--state``): transition counts of this run, -1 when the host has no state data
    new: int = -1  # new + regressed findings
    resolved: int = 0
    held: int = 0  # open findings this run could not re-check
    assessments_open: int = 0
    low_confidence: bool = False  # every indicator hit is low confidence
    kind: str = "scan"
    gaps: int = 0  # triage: areas, families and files that could not be checked


def _fips_only(candidate: str) -> bool:
    from nscheck.build import BuildError, Edition, edition_candidates, parse_build

    try:
        return Edition.STANDARD not in edition_candidates(parse_build(candidate))
    except BuildError:
        return False


def row_of(r: HostResult, *, link: bool = False) -> HtmlRow:
    b = r.build
    train = ""
    exact = ""
    if b is not None and b.release:
        train = b.release + (f" {b.edition.upper()}" if b.edition and b.edition != "standard" else "")
        if not b.edition and b.candidates and all(_fips_only(c) for c in b.candidates):
            # Edition not stated but every candidate can only be a FIPS/NDcPP train (e.g. 12.1-55.330).
            train = b.release + " FIPS/NDcPP"
        if b.exact and b.build:
            exact = f"{b.release}-{b.build}"
    w = worst(r)
    return HtmlRow(
        target=clean(r.target, 300), verdict=r.verdict.value, product=clean(product_text(r), 100),
        build=clean(build_text(r), 100), train=clean(train, 40), exact_build=clean(exact, 40),
        # mitigated (NITRO saw the interim mitigation) is still open: the fix is missing
        open_bulletins=tuple(clean(a.id, 40) for a in r.advisories if a.verdict in (Verdict.VULNERABLE, Verdict.MITIGATED)),
        unknown_bulletins=sum(1 for a in r.advisories if a.verdict is Verdict.UNKNOWN),
        indicators=len(r.indicators), worst=w.value if w else "", fix_to=clean(fix_to(r), 60),
        link=safe_name(r.target, r.url) if link else "", error=clean(r.error or "", 200),
        **_state_fields(r), low_confidence=low_confidence_only(r), kind=r.kind,
        gaps=_triage_gaps(r) if r.kind == "triage" else 0,
    )


def _state_fields(r: HostResult) -> dict[str, int]:
    if not state_of(r):
        return {}
    t = host_transitions(r)
    return {"new": t.get("new", 0) + t.get("regressed", 0), "resolved": t.get("resolved", 0), "held": t.get("held", 0),
            "assessments_open": len(open_assessments(r))}


def _triage_gaps(r: HostResult) -> int:
    """How many things a triage could not look at (missing areas, families not run, unreadable files)."""
    cov = r.coverage if isinstance(r.coverage, dict) else {}
    if not cov:
        return 1
    fams = cov.get("families") if isinstance(cov.get("families"), dict) else {}
    n = len(cov.get("missing") or ())
    n += sum(1 for f in fams.values() if isinstance(f, dict) and f.get("status") in ("not checked", "skipped", "partial"))
    unreadable = cov.get("unreadable_count")
    n += unreadable if isinstance(unreadable, int) else len(cov.get("unreadable") or ())
    return n + (1 if cov.get("error") else 0)


def _e(s: object) -> str:
    return html.escape(str(s), quote=True)


def _bar_chart(title: str, items: Sequence[tuple[str, int, str]], *, label_width: int = 150) -> str:
    """A horizontal SVG bar chart: (label, value, colour) per bar."""
    if not items:
        return ""
    bar_h, gap, width = 22, 6, 640
    top = max(v for _, v, _ in items) or 1
    h = len(items) * (bar_h + gap) + 10
    parts = [f'<figure><figcaption>{_e(title)}</figcaption>'
             f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="{_e(title)}" width="{width}" '
             f'height="{h}" viewBox="0 0 {width} {h}">']
    span = width - label_width - 60
    for n, (label, value, colour) in enumerate(items):
        y = n * (bar_h + gap) + 5
        w = max(1, round(span * value / top)) if value else 0
        parts.append(f'<text x="{label_width - 6}" y="{y + 15}" text-anchor="end" font-size="13">{_e(label[:28])}</text>'
                     f'<rect class="bar" x="{label_width}" y="{y}" width="{w}" height="{bar_h}" fill="{colour}">'
                     f'<title>{_e(label)}: {value}</title></rect>'
                     f'<text x="{label_width + w + 6}" y="{y + 15}" font-size="13">{value}</text>')
    parts.append("</svg></figure>")
    return "".join(parts)


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:1.5rem;color:#212121}
h1{font-size:1.4rem}h2{font-size:1.15rem;margin-top:2rem}
table{border-collapse:collapse;margin:.5rem 0}th,td{border:1px solid #ccc;padding:.25rem .5rem;text-align:left;
vertical-align:top;max-width:32rem;overflow-wrap:anywhere}th{background:#f2f2f2;cursor:pointer}
.v-vulnerable{color:#c62828;font-weight:bold}.v-compromised{color:#7b1fa2;font-weight:bold}
.v-unknown{color:#8d6e00}.v-unreachable,.v-not_netscaler{color:#757575}.v-not_vulnerable{color:#2e7d32}
.cards{display:flex;gap:.75rem;flex-wrap:wrap}.card{border:1px solid #ccc;border-radius:6px;padding:.5rem 1rem}
.card b{display:block;font-size:1.5rem}figure{margin:.5rem 0}figcaption{font-weight:bold}
.below{color:#c62828}.ok{color:#2e7d32}.undetermined{color:#8d6e00}.muted{color:#757575}
td[class^="v-"]{white-space:nowrap}.assess{display:inline-block;background:#7b1fa2;color:#fff;border-radius:4px;
padding:0 .3rem;font-size:.8rem;font-weight:bold;white-space:nowrap}.new{color:#c62828;font-weight:bold}
"""

_JS = """
document.querySelectorAll('table.sortable th').forEach(function(th,i){th.addEventListener('click',function(){
var t=th.closest('table'),b=t.tBodies[0],rows=Array.from(b.rows),asc=th.dataset.asc!=='1';
t.querySelectorAll('th').forEach(function(x){delete x.dataset.asc});th.dataset.asc=asc?'1':'0';
rows.sort(function(a,c){var x=a.cells[i].dataset.k||a.cells[i].textContent,y=c.cells[i].dataset.k||c.cells[i].textContent;
var nx=parseFloat(x),ny=parseFloat(y);var r=(!isNaN(nx)&&!isNaN(ny))?nx-ny:x.localeCompare(y);return asc?r:-r;});
rows.forEach(function(r){b.appendChild(r)});});});
"""

_CSP = ("default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:; "
        "base-uri 'none'; form-action 'none'")


def _build_key(b: str) -> tuple[int, ...]:
    try:
        rel, _, num = b.partition("-")
        return tuple(int(x) for x in (*rel.split("."), *num.split(".")))
    except ValueError:
        return (0,)


def render_html(rows: Sequence[HtmlRow], *, run: RunInfo | None = None, summary: RunSummary | None = None) -> str:
    counts = Counter(r.verdict for r in rows)
    bulletins = Counter(b for r in rows for b in r.open_bulletins)
    title = "nscheck fleet overview"
    meta = []
    if run is not None:
        meta.append(f"run {_e(run.run_id)} started {_e(run.started)}")
        if run.signatures_version or run.signatures_date:
            meta.append(f"signature set {_e(run.signatures_version or '')} ({_e(run.signatures_date or '')})")
    if summary is not None:
        meta.append(f"{summary.duration_ms / 1000:.1f} s, {summary.requests_sent} requests")
        if summary.partial:
            meta.append("<strong>PARTIAL run: not every target was scanned</strong>")
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
           f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">',
           '<meta name="viewport" content="width=device-width, initial-scale=1">',
           f"<title>{title}</title><style>{_CSS}</style></head><body>",
           f"<h1>{title}</h1>", f'<p class="muted">{" · ".join(meta)}</p>' if meta else ""]

    out.append('<h2>Hosts by verdict</h2><div class="cards" id="counts">')
    out.append(f'<div class="card" data-verdict="total"><b>{len(rows)}</b>hosts</div>')
    for v in VERDICT_ORDER:
        out.append(f'<div class="card v-{v}" data-verdict="{v}"><b>{counts.get(v, 0)}</b>{_e(v.replace("_", " "))}</div>')
    out.append("</div>")
    stateful = [r for r in rows if r.new >= 0]
    if stateful:
        new = sum(r.new for r in stateful)
        resolved = sum(r.resolved for r in stateful)
        assess = sum(r.assessments_open for r in stateful)
        out.append('<h2>Since the last run</h2><div class="cards" id="changes">')
        out.append(f'<div class="card" data-state="new"><b class="{"new" if new else "ok"}">{new}</b>new since last run'
                   "</div>")
        out.append(f'<div class="card" data-state="resolved"><b>{resolved}</b>resolved</div>')
        held = sum(r.held for r in stateful)
        if held:
            out.append(f'<div class="card v-unknown" data-state="held"><b>{held}</b>held open (host not re-checked)</div>')
        out.append(f'<div class="card v-compromised" data-state="assessments"><b>{assess}</b>compromise assessments '
                   "open</div>")
        out.append("</div>")
        if assess:
            out.append("<p>An open compromise assessment means the host was vulnerable while the bulletin was "
                       "exploited in the wild: run <code>nscheck triage</code> on its artefacts, then record the "
                       "result with <code>nscheck ack HOST --triaged \"reason\"</code>.</p>")
    low = sum(1 for r in rows if r.low_confidence)
    if low:
        out.append(f'<p class="muted">{low} compromised host(s) have only low-confidence hits, shown as '
                   f'"{_e(LOW_CONFIDENCE_LABEL)}": confirm every hit by hand.</p>')
    out.append(_bar_chart("Hosts by verdict", [(v.replace("_", " "), counts.get(v, 0), _COLOURS[v]) for v in VERDICT_ORDER]))

    out.append("<h2>Bulletins that hit most hosts</h2>")
    if bulletins:
        top = bulletins.most_common(15)
        out.append(_bar_chart("Vulnerable hosts per bulletin", [(b, n, "#c62828") for b, n in top], label_width=120))
        out.append('<table id="bulletins"><thead><tr><th>bulletin</th><th>vulnerable hosts</th></tr></thead><tbody>')
        out += [f"<tr><td>{_e(b)}</td><td>{n}</td></tr>" for b, n in top]
        out.append("</tbody></table>")
    else:
        out.append("<p>No host is vulnerable to a known bulletin.</p>")

    out.append("<h2>Builds per release train</h2>")
    # train -> build -> [hosts, fixes wanted, verdicts seen]
    trains: dict[str, dict[str, tuple[int, set[str], set[str]]]] = defaultdict(dict)
    for r in rows:
        if r.train:
            key = r.exact_build or r.build or "?"
            n, fx, vs = trains[r.train].get(key, (0, set(), set()))
            if r.fix_to:
                fx.add(r.fix_to)
            vs.add(r.verdict)
            trains[r.train][key] = (n + 1, fx, vs)
    if trains:
        out.append('<table id="trains"><thead><tr><th>train</th><th>build</th><th>hosts</th><th>against the fixed builds'
                   "</th></tr></thead><tbody>")
        for train in sorted(trains):
            for b, (n, fx, vs) in sorted(trains[train].items(), key=lambda kv: _build_key(kv[0])):
                if fx and vs & {"vulnerable", "compromised"}:
                    moves = sorted(f for f in fx if f.startswith("move "))
                    ups = sorted(f for f in fx if not f.startswith("move "))
                    state = "below the fixed build: " + "; ".join(
                        ([f"upgrade to {', '.join(ups)}"] if ups else []) + moves)
                    cls = "below"
                elif vs <= {"not_vulnerable"}:
                    cls, state = "ok", "at or above every fixed build"
                else:
                    cls, state = "undetermined", "undetermined" + (f" (fix: {', '.join(sorted(fx))})" if fx else "")
                out.append(f'<tr><td>{_e(train)}</td><td class="{cls}">{_e(b)}</td><td>{n}</td>'
                           f'<td class="{cls}">{_e(state)}</td></tr>')
        out.append("</tbody></table>")
    else:
        out.append("<p>No build known.</p>")

    out.append('<h2>Hosts</h2><table class="sortable" id="hosts"><thead><tr>')
    cols = ("host", "verdict", "product / roles", "build", "open bulletins", "worst", "unknown", "indicators",
            "fix to", *(("since last run",) if stateful else ()), "report")
    out.append("".join(f"<th>{c}</th>" for c in cols) + "</tr></thead><tbody>")
    rank = {v: n for n, v in enumerate(VERDICT_ORDER)}
    sev_rank = {"critical": 4, "high": 3, "medium": 2, "low": 1, "info": 0, "": -1}
    for r in rows:
        link = ""
        if r.link:
            link = f'<a href="{_e(r.link)}.md">md</a> <a href="{_e(r.link)}.json">json</a>'
        verdict = _e(LOW_CONFIDENCE_LABEL if r.low_confidence else r.verdict)
        verdict += f'<br><span class="muted">{_e(r.error)}</span>' if r.error else ""
        if r.assessments_open:
            verdict += f'<br><span class="assess">compromise assessment open ({r.assessments_open})</span>'
        changes = ""
        if stateful:
            text = "" if r.new < 0 else ", ".join(
                x for x in (f'<span class="new">{r.new} new</span>' if r.new else "",
                            f"{r.resolved} resolved" if r.resolved else "",
                            f"{r.held} held open" if r.held else "") if x) or "no change"
            changes = f'<td data-k="{max(r.new, 0)}">{text}</td>'
        out.append(
            f'<tr data-verdict="{_e(r.verdict)}"><td>{_e(r.target)}</td>'
            f'<td class="v-{_e(r.verdict)}" data-k="{rank.get(r.verdict, 9)}">{verdict}</td>'
            f"<td>{_e(r.product)}</td><td data-k=\"{_e(r.build)}\">{_e(r.build)}</td>"
            f'<td data-k="{len(r.open_bulletins)}">{_e(", ".join(r.open_bulletins))}</td>'
            f'<td data-k="{sev_rank.get(r.worst, -1)}">{_e(r.worst)}</td><td>{r.unknown_bulletins}</td>'
            f"<td>{r.indicators}</td><td>{_e(r.fix_to)}</td>{changes}<td>{link}</td></tr>"
        )
    out.append("</tbody></table>")
    triaged = [r for r in rows if r.kind == "triage"]
    if triaged:
        out.append('<h2>Triaged appliances</h2><table id="triage"><thead><tr><th>artefacts</th><th>verdict</th>'
                   "<th>indicators</th><th>could not be checked</th></tr></thead><tbody>")
        for r in triaged:
            gaps = (f'<span class="undetermined">{r.gaps} gap(s): see the per-host report</span>' if r.gaps
                    else '<span class="ok">nothing known to be missing</span>')
            label = LOW_CONFIDENCE_LABEL if r.low_confidence else r.verdict
            out.append(f'<tr><td>{_e(r.target)}</td><td class="v-{_e(r.verdict)}">{_e(label)}</td>'
                       f"<td>{r.indicators}</td><td>{gaps}</td></tr>")
        out.append("</tbody></table>")
    out.append(f"<script>{_JS}</script></body></html>")
    return "\n".join(x for x in out if x) + "\n"


def render_results_html(results: Iterable[HostResult], *, link_prefix: str | None = None, run: RunInfo | None = None,
                        summary: RunSummary | None = None) -> str:
    """``link_prefix``: where the per-host reports are, relative to the page ("" = same folder);
    None = no links."""
    from dataclasses import replace

    rows = [row_of(r, link=link_prefix is not None) for r in results]
    if link_prefix:
        rows = [replace(x, link=link_prefix + x.link) for x in rows]
    return render_html(rows, run=run, summary=summary)


def link_prefix(output_dir: str, page: str | None) -> str:
    """The relative URL prefix from the page's folder (cwd for stdout) to ``output_dir``."""
    import os
    from urllib.parse import quote

    base = Path(page).resolve().parent if page else Path.cwd()
    rel = os.path.relpath(Path(output_dir).resolve(), base)
    return "" if rel == "." else quote(rel.replace(os.sep, "/")) + "/"


class HtmlSink:
    """Keeps one small HtmlRow per host; writes the page atomically at the end. Links to the
    per-host reports are relative, and only made when --output-dir is used."""

    def __init__(self, path: str, *, output_dir: str | None = None, sort: str = DEFAULT_SORT):
        self.path = Path(path)
        self.output_dir = output_dir
        self.sort = sort
        self.rows: list[tuple[Any, HtmlRow]] = []
        self.run: RunInfo | None = None

    def _link_prefix(self) -> str:
        return link_prefix(self.output_dir, str(self.path)) if self.output_dir else ""

    def open(self, run: RunInfo) -> None:
        self.run = run

    def host(self, result: HostResult) -> None:
        row = row_of(result, link=bool(self.output_dir))
        if row.link:
            from dataclasses import replace

            row = replace(row, link=self._link_prefix() + row.link)
        self.rows.append((key_of(result, self.sort), row))

    def close(self, summary: RunSummary) -> None:
        atomic_write(self.path, render_html(sort_keyed(self.rows), run=self.run, summary=summary))
