"""The fleet overview: one self-contained static HTML page (inline CSS and JS only; a
Content-Security-Policy forbids anything else, nothing is fetched), built from compact per-host
rows so the sink stays small at thousands of hosts.

The first screen answers "what do I do first?": the counts, then "Act now" (compromised hosts
with their indicator evidence and actions, hosts with an open compromise assessment, then hosts
vulnerable to bulletins exploited in the wild). Below: bulletins by severity x hosts, builds per
train against the fixes, and the host table (most urgent first, sortable, filterable, each row
linking to the host's own page). Sorting and the filter can be set from the URL fragment
(``#sort=verdict&dir=desc&q=gw3``), so a link or a test can open the page in a given state."""

from __future__ import annotations

import html
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from nscheck.model import HostResult, Verdict
from nscheck.report.advice import ASSESS, CONTAIN, UPGRADE, host_steps
from nscheck.report.base import RunInfo, RunSummary
from nscheck.report.files import atomic_write, safe_name
from nscheck.report.order import (
    DEFAULT_SORT,
    URGENCY_LABELS,
    exploited_open,
    key_of,
    sort_keyed,
    urgency_group,
    worst_cvss,
)
from nscheck.report.text import (
    LOW_CONFIDENCE_LABEL,
    OPEN_VERDICTS,
    build_text,
    clean,
    fix_to,
    host_transitions,
    low_confidence_only,
    open_assessments,
    product_text,
    ranked_indicators,
    state_of,
    worst,
)

VERDICT_ORDER = ("compromised", "vulnerable", "unknown", "unreachable", "not_vulnerable", "not_netscaler")
ACT_NOW_LIMIT = 10  # hosts detailed per "Act now" group; the rest are one click away in the table
_INDICATORS_SHOWN = 3
_STEPS_SHOWN = 4


@dataclass(frozen=True, slots=True)
class Hit:
    """One indicator hit, trimmed for the fleet page."""

    rule: str
    title: str
    where: str
    snippet: str
    severity: str
    confidence: str


@dataclass(frozen=True, slots=True)
class BulletinInfo:
    id: str
    cves: tuple[str, ...]
    cvss: float | None
    kev: bool
    exploited: bool
    names: tuple[str, ...]


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
    group: int = 9  # urgency group (order.py)
    cvss: float = -1.0  # worst CVSS of the open bulletins
    exploited: tuple[str, ...] = ()  # open bulletins exploited in the wild / KEV
    hits: tuple[Hit, ...] = ()  # urgent hosts only: the first indicator hits
    steps: tuple[str, ...] = ()  # urgent hosts only: the first steps of "What to do"
    bulletin_info: tuple[BulletinInfo, ...] = field(default=(), compare=False)


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
    group = urgency_group(r)
    opened = [a for a in r.advisories if a.verdict in OPEN_VERDICTS]
    urgent = group <= 2
    hits = tuple(Hit(clean(i.id, 80), clean(i.title, 160),
                     clean((i.path or i.url or "") + (f":{i.line}" if i.path and i.line is not None else ""), 300),
                     clean(i.evidence, 240), i.severity.value, i.confidence.value)
                 for i in ranked_indicators(r)[:_INDICATORS_SHOWN]) if urgent else ()
    steps: tuple[str, ...] = ()
    if urgent:
        # "Act now" shows what to do first: contain, upgrade, check for compromise (the full,
        # ordered list is on the host's page).
        every = host_steps(r)
        checks = [s for s in every if s.phase == ASSESS]
        checks.sort(key=lambda s: "nscheck triage" not in s.text)  # the command that closes an assessment first
        pick = ([s for s in every if s.phase == CONTAIN][:3] + [s for s in every if s.phase == UPGRADE][:1]
                + checks[:1])
        steps = tuple(s.text for s in (pick or every[:_STEPS_SHOWN]))
    return HtmlRow(
        target=clean(r.target, 300), verdict=r.verdict.value, product=clean(product_text(r), 100),
        build=clean(build_text(r), 100), train=clean(train, 40), exact_build=clean(exact, 40),
        open_bulletins=tuple(clean(a.id, 40) for a in opened),
        unknown_bulletins=sum(1 for a in r.advisories if a.verdict is Verdict.UNKNOWN),
        indicators=len(r.indicators), worst=w.value if w else "", fix_to=clean(fix_to(r), 60),
        link=safe_name(r.target, r.url) if link else "", error=clean(r.error or "", 200),
        **_state_fields(r), low_confidence=low_confidence_only(r), kind=r.kind,
        gaps=_triage_gaps(r) if r.kind == "triage" else 0, group=group, cvss=worst_cvss(r),
        exploited=tuple(clean(a.id, 40) for a in exploited_open(r)), hits=hits, steps=steps,
        bulletin_info=tuple(BulletinInfo(clean(a.id, 40), tuple(clean(c, 30) for c in a.cves[:12]), a.cvss, a.kev,
                                         a.exploited, tuple(clean(n, 40) for n in a.names)) for a in opened),
    )


def _state_fields(r: HostResult) -> dict[str, int]:
    if not state_of(r):
        return {}
    t = host_transitions(r)
    return {"new": t.get("new", 0) + t.get("regressed", 0), "resolved": t.get("resolved", 0), "held": t.get("held", 0),
            "assessments_open": len(open_assessments(r))}


def _triage_gaps(r: HostResult) -> int:
    """How many things a triage could not look at (missing areas, families not run, unreadable files)."""
    cov = r.coverage
    if not cov:
        return 1
    n = len(cov.missing or ())
    n += sum(1 for f in (cov.families or {}).values() if f.get("status") in ("not checked", "skipped", "partial"))
    n += cov.unreadable_count if cov.unreadable_count is not None else len(cov.unreadable or ())
    return n + (1 if cov.error else 0)


def _e(s: object) -> str:
    return html.escape(str(s), quote=True)


def breakable(s: str) -> str:
    """Escaped text that may wrap after '/', '?' or '&' (URLs, paths), never in the middle of a
    name: a long URL breaks between its segments, not per character."""
    return re.sub(r"(/|\?|&amp;)(?!/)", r"\1<wbr>", _e(s))


_BUILD = re.compile(r"\d+\.\d+-\d+\.\d+(?: (?:FIPS|NDCPP|NDcPP))?")


def builds_html(text: str) -> str:
    """Escaped text in which every build ("14.1-66.59 FIPS") stays on one line: a list of
    candidates wraps between builds, never at the hyphen inside one."""
    out, last = [], 0
    for m in _BUILD.finditer(text):
        out.append(_e(text[last:m.start()]) + f'<span class="nw">{_e(m.group(0))}</span>')
        last = m.end()
    return "".join(out) + _e(text[last:])


def step_html(text: str) -> str:
    """A step of advice.py (`code` and **bold** marks) as escaped HTML."""
    out = []
    for part in re.split(r"(`[^`]*`)", text):
        if part.startswith("`") and part.endswith("`") and len(part) > 1:
            # A command wraps between its words, never inside one ("--name" stays whole).
            words = " ".join(f'<span class="nw">{_e(w)}</span>' for w in part[1:-1].split(" "))
            out.append(f"<code>{words}</code>")
        else:
            out.append(re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", _e(part)))
    return "".join(out)


CSS = """
*{box-sizing:border-box}
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0 auto;padding:.75rem 1rem;color:#212121;
max-width:1400px;font-size:14px;line-height:1.35}
h1{font-size:1.25rem;margin:.2rem 0}h2{font-size:1.08rem;margin:1.1rem 0 .4rem}h3{font-size:1rem;margin:.3rem 0}
.meta{color:#616161;font-size:.85rem;margin:0 0 .5rem}
table{border-collapse:collapse;margin:.3rem 0;width:100%}
th,td{border-bottom:1px solid #ddd;padding:.25rem .45rem;text-align:left;vertical-align:top;overflow-wrap:break-word;
word-break:normal;hyphens:none}
th{background:#f2f2f2;white-space:nowrap;font-weight:600}
code,pre{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.85em}
code{background:#f5f5f5;padding:0 .2rem;border-radius:3px}
pre{white-space:pre-wrap;overflow-wrap:break-word;background:#f7f7f7;border-left:3px solid #bbb;padding:.3rem .5rem;
margin:.2rem 0;max-height:6.5em;overflow:auto}
.v-vulnerable{color:#c62828;font-weight:bold}.v-compromised{color:#7b1fa2;font-weight:bold}
.v-unknown{color:#8d6e00}.v-unreachable,.v-not_netscaler{color:#757575}.v-not_vulnerable{color:#2e7d32}
.cards{display:flex;gap:.4rem;flex-wrap:wrap;margin:.2rem 0}
.card{border:1px solid #ccc;border-radius:6px;padding:.2rem .6rem;min-width:6.5rem;font-size:.82rem}
.card b{display:block;font-size:1.3rem;line-height:1.2}
.card.hot{border-color:#7b1fa2;background:#f8eefa}.card.warn{border-color:#c62828;background:#fdeeee}
.below{color:#c62828}.ok{color:#2e7d32}.undetermined{color:#8d6e00}.muted{color:#757575}
.assess{display:inline-block;background:#7b1fa2;color:#fff;border-radius:4px;padding:0 .3rem;font-size:.78rem;
font-weight:bold;white-space:nowrap}.new{color:#c62828;font-weight:bold}
.kev{display:inline-block;background:#c62828;color:#fff;border-radius:3px;padding:0 .25rem;font-size:.75rem}
#act-now{border:2px solid #7b1fa2;border-radius:8px;padding:.3rem .8rem .6rem;margin:.6rem 0}
#act-now h2{margin-top:.3rem;color:#7b1fa2}
.act{border-top:1px solid #e0d0e6;padding:.35rem 0}.act:first-of-type{border-top:0}
.act ol{margin:.2rem 0 .2rem 1.2rem;padding:0}.act li{margin:.1rem 0}
.hit{margin:.15rem 0}.hit .where{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.85em}
.bar{display:inline-block;height:.8rem;background:#c62828;vertical-align:middle;margin-right:.3rem;min-width:2px}
.controls{display:flex;gap:1rem;align-items:center;margin:.3rem 0}
.controls input{font-size:.95rem;padding:.2rem .4rem;width:22rem;max-width:100%}
th.sortable{cursor:pointer;user-select:none}th.sortable::after{content:" \\2195";color:#9e9e9e;font-weight:normal}
th[aria-sort=ascending]::after{content:" \\25B2";color:#212121}th[aria-sort=descending]::after{content:" \\25BC";color:#212121}
#hosts td.host{min-width:11rem;max-width:22rem}#hosts td.nowrap,.nw{white-space:nowrap}#hosts td.build{max-width:16rem}
#hosts td.fix{max-width:12rem}#hosts td.verdict{max-width:15rem}
"""

_JS = r"""
(function(){
var t=document.getElementById('hosts');if(!t)return;var b=t.tBodies[0],ths=t.tHead.rows[0].cells;
function key(r,i){var c=r.cells[i];return c.dataset.k!==undefined?c.dataset.k:c.textContent.trim();}
function sortBy(i,dir){var rows=Array.from(b.rows);rows.sort(function(a,c){var x=key(a,i),y=key(c,i);
var nx=Number(x),ny=Number(y);var r=(x!==''&&y!==''&&!isNaN(nx)&&!isNaN(ny))?nx-ny:(x<y?-1:x>y?1:0);
if(r===0){r=(+a.dataset.order)-(+c.dataset.order);return r;}return dir==='desc'?-r:r;});
rows.forEach(function(r){b.appendChild(r)});
Array.from(ths).forEach(function(h,j){if(h.classList.contains('sortable'))h.setAttribute('aria-sort',j===i?(dir==='desc'?'descending':'ascending'):'none')});}
function filter(q){q=(q||'').toLowerCase();var n=0;Array.from(b.rows).forEach(function(r){
var hit=!q||r.textContent.toLowerCase().indexOf(q)>=0;r.style.display=hit?'':'none';if(hit)n++;});
var s=document.getElementById('shown');if(s)s.textContent=n+' of '+b.rows.length+' hosts';}
Array.from(ths).forEach(function(h,i){if(!h.classList.contains('sortable'))return;
function go(){sortBy(i,h.getAttribute('aria-sort')==='ascending'?'desc':'asc');}
h.addEventListener('click',go);h.addEventListener('keydown',function(e){if(e.key==='Enter'||e.key===' '){e.preventDefault();go();}});});
var f=document.getElementById('filter');if(f)f.addEventListener('input',function(){filter(f.value)});
var p={};location.hash.replace(/^#/,'').split('&').forEach(function(kv){var x=kv.split('=');if(x[0])p[x[0]]=decodeURIComponent(x[1]||'')});
if(p.sort){var i=Array.from(ths).findIndex(function(h){return h.dataset.col===p.sort});if(i>=0)sortBy(i,p.dir==='desc'?'desc':'asc');}
if(p.q!==undefined){if(f)f.value=p.q;filter(p.q);}else{filter('');}
})();
"""

CSP = ("default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:; "
       "base-uri 'none'; form-action 'none'")


def _build_key(b: str) -> tuple[int, ...]:
    try:
        rel, _, num = b.partition("-")
        return tuple(int(x) for x in (*rel.split("."), *num.split(".")))
    except ValueError:
        return (0,)


def short_host(target: str) -> str:
    """https is the default: the table shows the host without it (http:// stays visible)."""
    t = target[len("https://"):] if target.startswith("https://") else target
    return t[:-1] if t.endswith("/") and t.count("/") == 1 else t


def _host_link(r: HtmlRow, text: str | None = None) -> str:
    label = breakable(text if text is not None else short_host(r.target))
    return f'<a href="{_e(r.link)}.html" title="{_e(r.target)}">{label}</a>' if r.link else label


def _bulletin_label(b: BulletinInfo | None, bid: str) -> str:
    if b is None or not b.names:
        return _e(bid)
    return f"{_e(bid)} <strong>{_e(', '.join(b.names))}</strong>"


def _act_now(rows: Sequence[HtmlRow], catalog: dict[str, BulletinInfo]) -> list[str]:
    comp = [r for r in rows if r.group == 0]
    assess = [r for r in rows if r.group == 1]
    expl = [r for r in rows if r.group == 2]
    out = ['<section id="act-now">', "<h2>Act now</h2>"]
    if not (comp or assess or expl):
        out.append('<p class="ok">Nothing urgent: no host is compromised, none has an open compromise assessment and '
                   "none is vulnerable to a bulletin exploited in the wild.</p></section>")
        return out
    if comp:
        out.append(f'<h3 class="v-compromised">Compromised ({len(comp)}): isolate, preserve evidence, respond</h3>')
        for r in comp[:ACT_NOW_LIMIT]:
            label = LOW_CONFIDENCE_LABEL if r.low_confidence else "compromised"
            out.append(f'<div class="act" data-host="{_e(r.target)}"><b>{_host_link(r)}</b> '
                       f'<span class="v-compromised">{_e(label)}</span> <span class="muted">{_e(r.product)}'
                       f'{" · " + _e(r.build) if r.build else ""}</span>')
            for h in r.hits:
                out.append(f'<div class="hit"><b>{_e(h.rule)}</b>: {_e(h.title)} '
                           f'<span class="muted">({_e(h.severity)}, {_e(h.confidence)} confidence)</span><br>'
                           f'<span class="where">{breakable(h.where)}</span><pre>{_e(h.snippet)}</pre></div>')
            if r.indicators > len(r.hits):
                out.append(f'<div class="muted">and {r.indicators - len(r.hits)} more hit(s) in the host report</div>')
            if r.steps:
                out.append("<ol>" + "".join(f"<li>{step_html(s)}</li>" for s in r.steps) + "</ol>")
            out.append("</div>")
        if len(comp) > ACT_NOW_LIMIT:
            out.append(f'<p class="muted">and {len(comp) - ACT_NOW_LIMIT} more compromised host(s): see the table.</p>')
    if assess:
        out.append(f"<h3>Compromise assessment open ({len(assess)}): vulnerable while exploited, check for abuse</h3>"
                   "<ul>")
        for r in assess[:ACT_NOW_LIMIT]:
            first = next((s for s in r.steps if "nscheck triage" in s), r.steps[0] if r.steps else "")
            out.append(f'<li data-host="{_e(r.target)}"><b>{_host_link(r)}</b> <span class="muted">{_e(r.build)}</span>: '
                       f"{step_html(first)}</li>")
        out.append("</ul>")
        if len(assess) > ACT_NOW_LIMIT:
            out.append(f'<p class="muted">and {len(assess) - ACT_NOW_LIMIT} more: see the table.</p>')
    if expl:
        out.append(f'<h3 class="v-vulnerable">Vulnerable to bulletins exploited in the wild ({len(expl)}): patch first</h3>'
                   '<table id="act-exploited"><thead><tr><th>host</th><th>build</th><th>exploited bulletins</th>'
                   "<th>fix to</th></tr></thead><tbody>")
        for r in expl[:ACT_NOW_LIMIT]:
            bl = ", ".join(_bulletin_label(catalog.get(b), b) for b in r.exploited)
            out.append(f'<tr data-host="{_e(r.target)}"><td>{_host_link(r)}</td><td class="build">{_e(r.build)}</td>'
                       f'<td>{bl}</td><td class="nowrap">{_e(r.fix_to)}</td></tr>')
        out.append("</tbody></table>")
        if len(expl) > ACT_NOW_LIMIT:
            out.append(f'<p class="muted">and {len(expl) - ACT_NOW_LIMIT} more: see the table.</p>')
    out.append("</section>")
    return out


def render_html(rows: Sequence[HtmlRow], *, run: RunInfo | None = None, summary: RunSummary | None = None) -> str:
    """The page, rows in the order given (callers sort them: most urgent first by default)."""
    counts = Counter(r.verdict for r in rows)
    groups = Counter(r.group for r in rows)
    catalog: dict[str, BulletinInfo] = {}
    for r in rows:
        for b in r.bulletin_info:
            catalog.setdefault(b.id, b)
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
           f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
           '<meta name="viewport" content="width=device-width, initial-scale=1">',
           f"<title>{title}</title><style>{CSS}</style></head><body>",
           f"<h1>{title}</h1>", f'<p class="meta">{" · ".join(meta)}</p>' if meta else ""]

    out.append('<div class="cards" id="counts">')
    out.append(f'<div class="card" data-verdict="total"><b>{len(rows)}</b>hosts</div>')
    for v in VERDICT_ORDER:
        hot = " hot" if v == "compromised" and counts.get(v) else (" warn" if v == "vulnerable" and counts.get(v) else "")
        out.append(f'<div class="card v-{v}{hot}" data-verdict="{v}"><b>{counts.get(v, 0)}</b>'
                   f'{_e(v.replace("_", " "))}</div>')
    if groups.get(1):
        out.append(f'<div class="card hot" data-group="assessment"><b>{groups[1]}</b>assessment open</div>')
    if groups.get(2):
        out.append(f'<div class="card warn" data-group="exploited"><b>{groups[2]}</b>exploited bulletin</div>')
    out.append("</div>")
    low = sum(1 for r in rows if r.low_confidence)
    if low:
        out.append(f'<p class="muted">{low} compromised host(s) have only low-confidence hits, shown as '
                   f'"{_e(LOW_CONFIDENCE_LABEL)}": confirm every hit by hand.</p>')

    out += _act_now(rows, catalog)

    stateful = [r for r in rows if r.new >= 0]
    if stateful:
        new = sum(r.new for r in stateful)
        resolved = sum(r.resolved for r in stateful)
        held = sum(r.held for r in stateful)
        assess = sum(1 for r in stateful if r.assessments_open)
        out.append('<h2>Since the last run</h2><div class="cards" id="changes">')
        out.append(f'<div class="card" data-state="new"><b class="{"new" if new else "ok"}">{new}</b>new since last run'
                   "</div>")
        out.append(f'<div class="card" data-state="resolved"><b>{resolved}</b>resolved</div>')
        if held:
            out.append(f'<div class="card v-unknown" data-state="held"><b>{held}</b>held open (host not re-checked)</div>')
        out.append(f'<div class="card v-compromised" data-state="assessments"><b>{assess}</b>hosts with a compromise '
                   "assessment open</div>")
        out.append("</div>")

    out += _hosts_table(rows, stateful=bool(stateful))
    out += _bulletins(rows, catalog)
    out += _trains(rows)
    triaged = [r for r in rows if r.kind == "triage"]
    if triaged:
        out.append('<h2>Triaged appliances</h2><table id="triage"><thead><tr><th>artefacts</th><th>verdict</th>'
                   "<th>indicators</th><th>could not be checked</th></tr></thead><tbody>")
        for r in triaged:
            gaps = (f'<span class="undetermined">{r.gaps} gap(s): see the per-host report</span>' if r.gaps
                    else '<span class="ok">nothing known to be missing</span>')
            label = LOW_CONFIDENCE_LABEL if r.low_confidence else r.verdict
            out.append(f'<tr><td>{_host_link(r)}</td><td class="v-{_e(r.verdict)}">{_e(label)}</td>'
                       f"<td>{r.indicators}</td><td>{gaps}</td></tr>")
        out.append("</tbody></table>")
    out.append(f"<script>{_JS}</script></body></html>")
    return "\n".join(x for x in out if x) + "\n"


def _hosts_table(rows: Sequence[HtmlRow], *, stateful: bool) -> list[str]:
    out = ['<h2>Hosts, most urgent first</h2><div class="controls"><label>Filter '
           '<input type="search" id="filter" placeholder="host, verdict, build, bulletin..." autocomplete="off">'
           '</label><span id="shown" class="muted"></span><span class="muted">Click a column heading to sort.</span>'
           "</div>",
           '<table class="sortable" id="hosts"><thead><tr>']
    # "verdict" sorts by urgency (compromised, assessment open, exploited, ...), like the page.
    cols = [("host", "host"), ("verdict", "verdict"), ("build", "build"), ("bulletins", "open bulletins"),
            ("cvss", "CVSS"), ("fix", "fix to")]
    if stateful:
        cols.append(("changes", "since last run"))
    head = "".join(f'<th class="sortable" data-col="{c}" tabindex="0" aria-sort="none">{_e(label)}</th>' for c, label in cols)
    out.append(head + "<th>report</th></tr></thead><tbody>")
    rank = {v: n for n, v in enumerate(VERDICT_ORDER)}
    for n, r in enumerate(rows):
        links = ""
        if r.link:
            links = (f'<a href="{_e(r.link)}.html">page</a> <a href="{_e(r.link)}.md">md</a> '
                     f'<a href="{_e(r.link)}.json">json</a>')
        verdict = _e(LOW_CONFIDENCE_LABEL if r.low_confidence else r.verdict.replace("_", " "))
        verdict += f'<br><span class="muted">{breakable(r.error)}</span>' if r.error else ""
        if r.assessments_open:
            verdict += '<br><span class="assess">assessment open</span>'
        bull = ""
        if r.open_bulletins:
            bull = f"{len(r.open_bulletins)} open"
            if r.exploited:
                bull += f' <span class="kev">{len(r.exploited)} exploited</span>'
        if r.unknown_bulletins:
            bull += f"{', ' if bull else ''}{r.unknown_bulletins} unknown"
        if r.indicators:
            bull += f"{'<br>' if bull else ''}{r.indicators} indicator hit(s)"
        changes = ""
        if stateful:
            text = "" if r.new < 0 else ", ".join(
                x for x in (f'<span class="new">{r.new} new</span>' if r.new else "",
                            f"{r.resolved} resolved" if r.resolved else "",
                            f"{r.held} held open" if r.held else "") if x) or "no change"
            changes = f'<td data-k="{max(r.new, 0)}">{text}</td>'
        cvss = f"{r.cvss:.1f}" if r.cvss >= 0 else ""
        out.append(
            f'<tr data-verdict="{_e(r.verdict)}" data-order="{n}"><td class="host" data-k="{_e(r.target.lower())}">'
            f"{_host_link(r)}</td>"
            f'<td class="verdict v-{_e(r.verdict)}" data-k="{r.group * 10 + rank.get(r.verdict, 9)}" '
            f'title="{_e(URGENCY_LABELS[r.group]) if r.group < len(URGENCY_LABELS) else ""}">{verdict}</td>'
            f'<td class="build" data-k="{_e(r.exact_build or r.build)}">{builds_html(r.build)}</td>'
            f'<td data-k="{len(r.open_bulletins) * 100 + len(r.exploited)}">{bull}</td>'
            f'<td data-k="{r.cvss:.1f}">{cvss}</td><td class="fix">{builds_html(r.fix_to)}</td>{changes}<td class="nowrap">'
            f"{links}</td></tr>"
        )
    out.append("</tbody></table>")
    return out


def _bulletins(rows: Sequence[HtmlRow], catalog: dict[str, BulletinInfo]) -> list[str]:
    """One table that is also the chart: a bar per bulletin, most severe x most hosts first."""
    hosts = Counter(b for r in rows for b in r.open_bulletins)
    out = ["<h2>Open bulletins by severity x hosts</h2>"]
    if not hosts:
        return [*out, "<p>No host is vulnerable to a known bulletin.</p>"]
    top = max(hosts.values())

    def weight(bid: str) -> tuple[float, int, str]:
        b = catalog.get(bid)
        cvss = b.cvss if b is not None and b.cvss is not None else 7.0
        return (-(cvss * hosts[bid]), -hosts[bid], bid)

    out.append('<table id="bulletins"><thead><tr><th>bulletin</th><th>CVEs</th><th>CVSS</th><th>exploited</th>'
               "<th>vulnerable hosts</th></tr></thead><tbody>")
    for bid in sorted(hosts, key=weight):
        b = catalog.get(bid)
        cves = ", ".join(b.cves) if b else ""
        cvss = f"{b.cvss:.1f}" if b is not None and b.cvss is not None else "?"
        flags = ", ".join(x for x in (("KEV" if b and b.kev else ""), ("in the wild" if b and b.exploited else "")) if x)
        width = max(2, round(240 * hosts[bid] / top))
        out.append(f'<tr data-bulletin="{_e(bid)}"><td class="nowrap">{_bulletin_label(b, bid)}</td><td>{_e(cves)}</td>'
                   f'<td>{cvss}</td><td>{_e(flags) or "no"}</td><td class="nowrap"><span class="bar" '
                   f'style="width:{width}px"></span>{hosts[bid]}</td></tr>')
    out.append("</tbody></table>")
    return out


def _trains(rows: Sequence[HtmlRow]) -> list[str]:
    out = ["<h2>Builds per release train</h2>"]
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
    if not trains:
        return [*out, "<p>No build known.</p>"]
    out.append('<table id="trains"><thead><tr><th>train</th><th>build</th><th>hosts</th><th>against the fixed builds'
               "</th></tr></thead><tbody>")
    for train in sorted(trains):
        for b, (n, fx, vs) in sorted(trains[train].items(), key=lambda kv: _build_key(kv[0])):
            if fx and vs & {"vulnerable", "compromised"}:
                moves = sorted(f for f in fx if f.startswith("move "))
                ups = sorted(f for f in fx if not f.startswith("move "))
                state = "below the fixed build: " + "; ".join(([f"upgrade to {', '.join(ups)}"] if ups else []) + moves)
                cls = "below"
            elif vs <= {"not_vulnerable"}:
                cls, state = "ok", "at or above every fixed build"
            else:
                cls, state = "undetermined", "undetermined" + (f" (fix: {', '.join(sorted(fx))})" if fx else "")
            out.append(f'<tr><td>{_e(train)}</td><td class="{cls}">{_e(b)}</td><td>{n}</td>'
                       f'<td class="{cls}">{_e(state)}</td></tr>')
    out.append("</tbody></table>")
    return out


def render_results_html(results: Iterable[HostResult], *, link_prefix: str | None = None, run: RunInfo | None = None,
                        summary: RunSummary | None = None) -> str:
    """``link_prefix``: where the per-host reports are, relative to the page ("" = same folder);
    None = no links. Rows in the order given."""
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
    """Keeps one small HtmlRow per host (urgent hosts carry a few hits and steps more); writes the
    page atomically at the end, most urgent host first. Links to the per-host reports are
    relative, and only made when --output-dir is used."""

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
            row = replace(row, link=self._link_prefix() + row.link)
        self.rows.append((key_of(result, self.sort), row))

    def close(self, summary: RunSummary) -> None:
        atomic_write(self.path, render_html(sort_keyed(self.rows), run=self.run, summary=summary))
