"""The per-host HTML page (``--output-dir`` writes ``<host>.html`` beside ``.json`` and ``.md``):
one self-contained file, same CSP as the fleet page, nothing fetched.

Top to bottom: the verdict, what to do (in order), the indicator evidence, each open bulletin
with the fixed build for *this* host's train, the compromise assessment, the history the state
stage recorded (with ``--state``), then how nscheck knows (evidence, once) and what it could not
check. Every string from a host or an archive is escaped; advice marks (`code`, **bold**) are
turned into elements only around escaped text."""

from __future__ import annotations

from typing import Any

from nscheck.model import FindingKind, HostResult, Verdict, finding_id, findings_of, host_key
from nscheck.report.advice import host_steps
from nscheck.report.html import CSP, CSS, breakable, step_html
from nscheck.report.text import (
    LOW_CONFIDENCE_LABEL,
    as_dict,
    build_text,
    clean,
    docs_of,
    finding_meta,
    finding_severity,
    host_transitions,
    human_size,
    low_confidence_only,
    product_text,
    state_of,
    transition_text,
    window_text,
)

_VERDICT = {
    "compromised": "Indicators of compromise found: treat this appliance as compromised.",
    "vulnerable": "At least one bulletin applies to the running build.",
    "not_vulnerable": "Not vulnerable to any known bulletin (as of this signature set).",
    "unknown": "nscheck could not decide: this is not a clean result.",
    "unreachable": "No answer: nothing is known about this host.",
    "not_netscaler": "Not a NetScaler: no bulletin applies.",
}

_PAGE_CSS = """
.verdict{font-size:1.15rem;padding:.4rem .7rem;border-radius:6px;margin:.3rem 0;border:2px solid #ccc}
.verdict.v-compromised{border-color:#7b1fa2;background:#f8eefa}.verdict.v-vulnerable{border-color:#c62828;background:#fdeeee}
.verdict.v-not_vulnerable{border-color:#2e7d32;background:#eef7ee}.verdict.v-unknown{border-color:#f9a825;background:#fff8e1}
#todo{border:2px solid #7b1fa2;border-radius:8px;padding:.2rem .8rem .4rem}#todo ol{margin:.3rem 0 .3rem 1.3rem;padding:0}
#todo li{margin:.2rem 0}details summary{cursor:pointer;font-weight:600;margin:.6rem 0}
"""


def _e(s: object) -> str:
    import html

    return html.escape(str(s), quote=True)


def _yn(b: bool | None) -> str:
    return {True: "yes", False: "no", None: "?"}[b]


def host_html(r: HostResult, *, signatures: str | None = None, fleet_link: str | None = None) -> str:
    v = r.verdict.value
    label = LOW_CONFIDENCE_LABEL if low_confidence_only(r) else v
    title = f"nscheck: {clean(r.target, 200)}"
    facts = [product_text(r)] if r.kind == "scan" else ["artefacts (triage)"]
    if build_text(r):
        facts.append(f"build {build_text(r)}")
    if r.started:
        facts.append(("scanned " if r.kind == "scan" else "triaged ") + r.started)
    if signatures:
        facts.append(f"signature set {signatures}")
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
           f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
           '<meta name="viewport" content="width=device-width, initial-scale=1">',
           f"<title>{_e(title)}</title><style>{CSS}{_PAGE_CSS}</style></head><body>"]
    if fleet_link:
        out.append(f'<p class="meta"><a href="{_e(fleet_link)}">&larr; fleet overview</a></p>')
    out.append(f"<h1>{breakable(clean(r.target, 300))}</h1>")
    out.append(f'<p class="meta">{" · ".join(_e(clean(f, 300)) for f in facts)}</p>')
    text = _VERDICT.get(v, "")
    if low_confidence_only(r):
        text = "Only low-confidence indicators matched: confirm each hit by hand before treating it as compromised."
    err = f' <span class="muted">({_e(clean(r.error, 300))})</span>' if r.error else ""
    out.append(f'<div class="verdict v-{_e(v)}" id="verdict"><b>{_e(label)}</b>: {_e(text)}{err}</div>')

    out.append('<section id="todo"><h2>What to do</h2><ol>')
    out += [f"<li>{step_html(s.text)}</li>" for s in host_steps(r)]
    out.append("</ol></section>")

    out += _indicators(r)
    out += _bulletins(r)
    out += _assessment(r)
    out += _history(r)
    out += _evidence(r)
    if r.skipped:
        out.append("<h2>Not checked</h2><ul>")
        out += [f"<li>{_e(clean(s.what, 100))}: {_e(clean(s.reason, 300))}</li>" for s in r.skipped]
        out.append("</ul>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def _indicators(r: HostResult) -> list[str]:
    if not r.indicators:
        return []
    out = [f'<h2 id="indicators">Indicators of compromise ({len(r.indicators)})</h2>',
           '<table><thead><tr><th>rule</th><th>where</th><th>evidence</th><th>severity</th></tr></thead><tbody>']
    for i in r.indicators:
        where = (i.path or i.url or "") + (f":{i.line}" if i.path and i.line is not None else "")
        info = as_dict(i.file)
        extra = ""
        if info:
            bits = [f"size {human_size(info.get('size'))}"] if "size" in info else []
            if info.get("mtime"):
                bits.append(f"modified {clean(info['mtime'], 40)}")
            if info.get("sha256"):
                bits.append(f"sha256 {clean(info['sha256'], 64)}")
            extra = f'<br><span class="muted">{_e(", ".join(bits))}</span>'
        out.append(f"<tr><td><b>{_e(clean(i.id, 100))}</b><br>{_e(clean(i.title, 200))}</td>"
                   f'<td class="where">{breakable(clean(where, 500))}{extra}</td>'
                   f"<td><pre>{_e(clean(i.evidence, 1000))}</pre></td>"
                   f"<td>{_e(i.severity.value)}, {_e(i.confidence.value)} confidence</td></tr>")
    out.append("</tbody></table>")
    return out


def _bulletins(r: HostResult) -> list[str]:
    if not r.advisories:
        return []
    applicable = [a for a in r.advisories if a.verdict is not Verdict.NOT_VULNERABLE]
    applicable.sort(key=lambda a: (a.verdict is not Verdict.VULNERABLE, not (a.kev or a.exploited), -(a.cvss or 0), a.id))
    out = ['<h2 id="bulletins">Open bulletins</h2>']
    train = f" on {r.build.release}" if r.build is not None and r.build.release else ""
    if not applicable:
        out.append("<p>None: every bulletin was checked and none applies to this build.</p>")
    else:
        out.append(f"<table><thead><tr><th>bulletin</th><th>CVEs</th><th>CVSS</th><th>exploited</th><th>verdict</th>"
                   f"<th>fixed in{_e(train)}</th><th>why</th></tr></thead><tbody>")
        key = host_key(r)
        for a in applicable:
            names = f" <strong>{_e(', '.join(a.names))}</strong>" if a.names else ""
            flags = ", ".join(x for x in ("KEV" if a.kev else "", "in the wild" if a.exploited else "") if x) or "no"
            cvss = "" if a.cvss is None else f"{a.cvss:.1f} {finding_severity(a).value}"
            meta = finding_meta(r, finding_id(key, FindingKind.ADVISORY, a.id))
            change = transition_text(meta)
            fixed = a.fixed_in or ("none: move to a supported train" if a.eol else "")
            out.append(f'<tr><td class="nowrap">{_e(a.id)}{names}</td><td>{_e(", ".join(a.cves))}</td><td>{cvss}</td>'
                       f'<td>{_e(flags)}</td><td class="v-{_e(a.verdict.value)}">{_e(a.verdict.value)}'
                       + (f'<br><span class="muted">{_e(clean(change, 200))}</span>' if change else "")
                       + f'</td><td class="nowrap">{_e(clean(fixed, 60))}</td><td>{_e(clean(a.reason, 400))}{_decided_by(a)}</td></tr>')
        out.append("</tbody></table>")
    clean_ones = sorted((a for a in r.advisories if a.verdict is Verdict.NOT_VULNERABLE), key=lambda a: a.id)
    if clean_ones:
        out.append(f"<details><summary>Not vulnerable ({len(clean_ones)} bulletins)</summary><table><tbody>")
        out += [f"<tr><td>{_e(a.id)}</td><td>{_e(', '.join(a.cves))}</td><td>{_e(clean(a.reason, 300))}</td></tr>"
                for a in clean_ones]
        out.append("</tbody></table></details>")
    return out


def _decided_by(a: Any) -> str:
    if not a.method:
        return ""
    what = f": {clean(a.evidence[0].detail, 160)}" if a.evidence else ""
    label = "NITRO" if a.method == "nitro" else a.method
    return f'<br><span class="muted">decided by {_e(clean(label, 20))}{_e(what)}</span>'


def _assessment(r: HostResult) -> list[str]:
    docs = docs_of(r, "assessments")
    if not docs:
        return []
    out = ['<h2 id="assessment">Compromise assessment</h2>']
    for d in docs:
        resolved = d.get("transition") == "resolved" or d.get("status") == "resolved"
        out.append("<p><b>Closed</b>: a triage result was recorded.</p>" if resolved else
                   "<p><b>OPEN</b>: this host was vulnerable while these bulletins were exploited in the wild. "
                   "Patching does not remove an intrusion that happened before: check for abuse.</p>")
        windows = as_dict(d.get("windows"))
        if windows:
            out.append("<table><thead><tr><th>bulletin</th><th>exposure window</th><th>exploitation known from</th>"
                       "</tr></thead><tbody>")
            for b in d.get("bulletins") or ():
                w = as_dict(windows.get(b))
                facts = as_dict(w.get("exploitation"))
                names = ", ".join(str(x) for x in facts.get("names") or ())
                out.append(f"<td>{_e(clean(b, 40))}{' <strong>' + _e(clean(names, 80)) + '</strong>' if names else ''}</td>"
                           f"<td>{_e(clean(window_text(w), 400))}</td><td>{_e(clean(facts.get('exploited_basis') or '', 300))}"
                           "</td></tr>")
            out.append("</tbody></table>")
        res = as_dict(d.get("resolution"))
        if resolved and res:
            out.append(f"<p>Closed {_e(clean(res.get('at') or '', 40))} through {_e(clean(res.get('by') or '?', 20))}: "
                       f"{_e(clean(res.get('reason') or 'no reason recorded', 300))}</p>")
    return out


def _history(r: HostResult) -> list[str]:
    """What the state stage knows (``--state``): first seen, build changes, each finding's change."""
    st = state_of(r)
    if not st:
        return []
    from nscheck.state.transitions import summary_line

    out = ['<h2 id="history">History</h2><ul>']
    seen = st.get("host_seen_count")
    out.append(f"<li>First seen {_e(clean(st.get('host_first_seen') or '?', 40))}"
               + (f", {seen} runs recorded" if isinstance(seen, int) else "") + ".</li>")
    if st.get("build_changed"):
        out.append(f"<li>Build changed: {_e(clean(st.get('previous_build') or '?', 60))} &rarr; "
                   f"{_e(clean(st.get('build') or '?', 60))}.</li>")
    out.append(f"<li>This run: {_e(summary_line(host_transitions(r)))}.</li></ul>")
    rows: list[tuple[str, str, str]] = []
    metas: Any = as_dict(r.extra.get("findings"))
    for f in findings_of(r):
        m = metas.get(f.id) or {}
        if m.get("transition"):
            rows.append((f.rule_id, f.kind.value, transition_text(m)))
    for d in docs_of(r, "resolved"):
        rows.append((str(d.get("rule_id") or "?"), str(d.get("kind") or ""), transition_text(d)))
    for d in docs_of(r, "held_open"):
        rows.append((str(d.get("rule_id") or "?"), str(d.get("kind") or ""),
                     f"still open, not re-checked: {d.get('held_reason') or 'not assessed'}"))
    if rows:
        out.append("<table><thead><tr><th>finding</th><th>kind</th><th>change</th></tr></thead><tbody>")
        out += [f"<tr><td>{_e(clean(a, 120))}</td><td>{_e(clean(b, 20))}</td><td>{_e(clean(c, 300))}</td></tr>"
                for a, b, c in rows]
        out.append("</tbody></table>")
    return out


def _evidence(r: HostResult) -> list[str]:
    ev = list(dict.fromkeys([*r.product.evidence, *(r.build.methods if r.build else ())]))
    if not ev:
        return []
    out = ['<details open><summary>How nscheck knows</summary><table><thead><tr><th>method</th><th>evidence</th>'
           "<th>URL</th><th>confidence</th></tr></thead><tbody>"]
    out += [f"<tr><td>{_e(clean(e.method, 80))}</td><td>{_e(clean(e.detail, 400))}</td>"
            f"<td>{breakable(clean(e.url or '', 300))}</td><td>{_e(e.confidence.value)}</td></tr>" for e in ev]
    out.append("</tbody></table></details>")
    return out
