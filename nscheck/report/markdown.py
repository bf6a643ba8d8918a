"""The per-host Markdown report: verdict, what the appliance is and how we know, one row per
bulletin, indicators, and what to do (minimum upgrade, vendor post-patch actions, and the
NCSC advice to look for compromise when an exploited-in-the-wild bulletin was open).

With state data (``--state``): each finding's change since the last run, compromise assessments
(exposure window, how to close them), findings held open and why, suppressed findings, and
expired suppressions at the top. For triage: what was checked and, as prominently, what could
not be, so "nothing found" is never read as "nothing looked at"; each hit with its file facts."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from nscheck.model import (
    AdvisoryResult,
    Coverage,
    FindingKind,
    HostResult,
    HostVerdict,
    Verdict,
    VerdictBasis,
    finding_id,
    findings_of,
    host_key,
)
from nscheck.report.advice import Step, host_steps, triage_commands
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
    md_cell,
    md_code,
    product_text,
    state_of,
    suppression_text,
    transition_text,
    window_text,
)

NCSC_ADVICE = (
    "This host was vulnerable to a bulletin that is exploited in the wild. Patching closes the hole "
    "but does not remove an attacker who got in before: as the NCSC advises, check for compromise "
    "even after patching. Collect artefacts from the appliance and run `nscheck triage` on them."
)

_VERDICT_TEXT = {
    HostVerdict.VULNERABLE: "VULNERABLE: at least one bulletin applies to the running build.",
    HostVerdict.COMPROMISED: "INDICATORS OF COMPROMISE FOUND: treat this appliance as compromised.",
    HostVerdict.NOT_VULNERABLE: "Not vulnerable to any known bulletin (as of this signature set).",
    HostVerdict.UNKNOWN: "UNKNOWN: nscheck could not decide; this is not a clean result.",
    HostVerdict.UNREACHABLE: "UNREACHABLE: no answer; nothing is known about this host.",
    HostVerdict.NOT_NETSCALER: "Not a NetScaler: no bulletin applies.",
}
# Offline triage answers "was it compromised", not "is the build vulnerable".
_TRIAGE_VERDICT_TEXT = {
    HostVerdict.NOT_VULNERABLE: "No indicator of compromise found in the artefacts examined. Read what was and "
                                "was NOT checked below: nothing found is not the same as nothing looked at.",
    HostVerdict.UNKNOWN: "UNKNOWN: the artefacts could not be examined (see below); this is not a clean result.",
}
_LOW_TEXT = (f"{LOW_CONFIDENCE_LABEL.upper()}: only low-confidence indicators matched. Confirm each hit by hand "
             "before treating the appliance as compromised (the machine-readable verdict stays \"compromised\").")


def _yn(b: bool | None) -> str:
    return {True: "yes", False: "no", None: "?"}[b]


def md_steps(steps: list[Step]) -> list[str]:
    """Numbered steps; their `code` and **bold** marks are Markdown already."""
    return [f"{n}. {_md_step(s.text)}" for n, s in enumerate(steps, 1)]


def _md_step(text: str) -> str:
    """Step text is our wording and bulletin data: keep its `code` and **bold**, neutralise any
    HTML-looking angle bracket outside code (e.g. ``<name>`` in a command description)."""
    parts = re.split(r"(`[^`]*`)", text)
    return "".join(p if p.startswith("`") else re.sub(r"(<(?=[A-Za-z/!?])|[\[\]])", r"\\\1", p) for p in parts)


def bulletin_label(a: Any) -> str:
    """"CTX693420 (CitrixBleed 2)": the CTX id with the common name where one exists."""
    names = ", ".join(a.names)
    return f"{a.id} ({names})" if names else a.id


def _facts_line(r: HostResult) -> str:
    bits = []
    if r.kind == "scan":
        bits.append(product_text(r))
        if build_text(r):
            bits.append(f"build {build_text(r)}")
        if r.started:
            bits.append(f"scanned {r.started}")
    else:
        if r.extra.get("host_name"):
            bits.append(f"appliance {r.extra['host_name']}")
        if r.started:
            bits.append(f"triaged {r.started}")
    return " · ".join(md_cell(b, 200) for b in bits)


def host_markdown(r: HostResult, *, signatures: str | None = None) -> str:
    """One host: the verdict and what to do first; then the evidence behind them, each once."""
    v = r.verdict
    out: list[str] = [f"# nscheck: {md_cell(r.target, 200)}", ""]
    if low_confidence_only(r):
        out.append(f"**Verdict: {LOW_CONFIDENCE_LABEL}** ({v.value}). {_LOW_TEXT}")
    else:
        text = (_TRIAGE_VERDICT_TEXT.get(v) if r.kind == "triage" else None) or _VERDICT_TEXT[v]
        out.append(f"**Verdict: {v.value}**. {text}")
    facts_line = _facts_line(r)
    if facts_line:
        out += ["", facts_line]
    out.append("")
    out += _expired_warnings(r)
    out += ["## What to do", "", *md_steps(host_steps(r)), ""]

    out += _indicators(r)
    out += _open_bulletins(r)
    out += _assessments(r)

    if r.kind == "triage":
        facts = [("Artefacts", r.target), ("Status", r.status.value + (f" ({r.error})" if r.error else "")),
                 ("Triaged", r.started or "")]
        if r.extra.get("host_name"):
            facts.insert(1, ("Appliance", str(r.extra["host_name"])))
    else:
        facts = [("Target", r.target), ("URL", r.url or ""), ("Status", r.status.value + (f" ({r.error})" if r.error else "")),
                 ("Scanned", r.started or ""), ("Requests sent", str(r.requests_sent))]
    if signatures:
        facts.append(("Signature set", signatures))
    out += ["## Scan facts", "", "| | |", "|---|---|"] + [f"| {k} | {md_cell(val, 300)} |" for k, val in facts if val]
    out.append("")

    if r.kind == "triage":
        out += _triage_section(r)
    else:
        out += ["## The appliance", ""]
        out.append(f"- Product: {md_cell(product_text(r))} (confidence {r.product.confidence.value})")
        if r.build is not None:
            b = r.build
            out.append(f"- Build: {md_cell(build_text(r)) or 'unknown'} ({'exact' if b.exact else 'not exact'}, "
                       f"confidence {b.confidence.value})")
            if b.conflict:
                out.append(f"- Methods disagree: {md_cell(b.conflict)}")
            if b.compiled:
                out.append(f"- Compiled: {md_cell(b.compiled)} (verdicts marked dated rest on this date)")
        if r.certificate is not None:
            c = r.certificate
            out.append(f"- Certificate: {md_cell(c.subject)} (issuer {md_cell(c.issuer)}"
                       + (", default NetScaler certificate" if c.default_netscaler else "") + ")")
        ev = list(dict.fromkeys([*r.product.evidence, *(r.build.methods if r.build else ())]))  # each once
        if ev:
            out += ["", "How nscheck knows:", "", "| method | evidence | URL | confidence |", "|---|---|---|---|"]
            out += [f"| {md_cell(e.method)} | {md_code(e.detail)} | {md_cell(e.url or '')} | {e.confidence.value} |"
                    for e in ev]
        out.append("")
        from nscheck.nitro.report import nitro_markdown

        out += nitro_markdown(r.extra, md_cell)

    clean_ones = sorted((a for a in r.advisories if a.verdict is Verdict.NOT_VULNERABLE), key=lambda a: a.id)
    if clean_ones:
        out += [f"## Not vulnerable ({len(clean_ones)} bulletins)", "", "| bulletin | CVE | why |", "|---|---|---|"]
        out += [f"| {md_cell(bulletin_label(a))} | {md_cell(', '.join(a.cves), 120)} | {md_cell(a.reason, 200)} |"
                for a in clean_ones]
        out.append("")
    out += _changes(r)
    if r.skipped:
        out += ["## Not checked", ""] + [f"- {md_cell(s.what)}: {md_cell(s.reason)}" for s in r.skipped] + [""]
    return "\n".join(out).rstrip("\n") + "\n"


def _open_bulletins(r: HostResult) -> list[str]:
    """Bulletins that are vulnerable or undetermined, worst first, with the fix for this train."""
    if not r.advisories:
        return []
    applicable = [a for a in r.advisories if a.verdict is not Verdict.NOT_VULNERABLE]
    order = {Verdict.VULNERABLE: 0, Verdict.MITIGATED: 1, Verdict.UNKNOWN: 2}
    applicable.sort(key=lambda a: (order[a.verdict], not (a.kev or a.exploited), -(a.cvss or 0), a.id))
    out = ["## Open bulletins", ""]
    if not applicable:
        return [*out, "None: every bulletin was checked and none applies to this build.", ""]
    out += ["| bulletin | CVE | CVSS | KEV | exploited | verdict | fixed in (this train) | why |",
            "|---|---|---|---|---|---|---|---|"]
    key = host_key(r)
    for a in applicable:
        cvss = "" if a.cvss is None else f"{a.cvss:.1f} {finding_severity(a).value}"
        note = _marks(finding_meta(r, finding_id(key, FindingKind.ADVISORY, a.id)))
        out.append(
            f"| {md_cell(bulletin_label(a))} | {md_cell(', '.join(a.cves), 120)} | {cvss} | {_yn(a.kev)} | "
            f"{_yn(a.exploited)} | **{a.verdict.value}**{_basis(a)}{note} | "
            f"{md_cell(a.fixed_in or ('none: move train' if a.eol else ''))} | {md_cell(a.reason, 200)}{_decided_by(a)} |"
        )
    out += _open_questions(applicable)
    out.append("")
    return out


def _decided_by(a: Any) -> str:
    """" (decided by NITRO: nsversion ...)" when an authenticated read, not the remote scan, decided it."""
    method = getattr(a, "method", "")
    if not method:
        return ""
    ev = getattr(a, "evidence", ())
    what = f": {md_cell(ev[0].detail, 120)}" if ev else ""
    return f" (decided by {md_cell(method.upper() if method == 'nitro' else method)}{what})"


def _basis(a: AdvisoryResult) -> str:
    return "" if a.basis is VerdictBasis.BUILD else f" ({a.basis.value})"


def _open_questions(advs: Iterable[AdvisoryResult]) -> list[str]:
    """One line per question that would decide unknown bulletins (issue 11 §3)."""
    asked: dict[str, list[str]] = {}
    for a in advs:
        if a.verdict is Verdict.UNKNOWN and a.open_question is not None:
            asked.setdefault(a.open_question.question, []).append(a.id)
    if not asked:
        return []
    return ["", "What would decide the unknown bulletins:", ""] + [
        f"- {md_cell(q, 200)} ({md_cell(', '.join(ids), 200)})" for q, ids in asked.items()]


def _yes_no(v: Any) -> str:
    if v is True:
        return "yes"
    if v is False:
        return "**no**"
    return "?" if v is None else md_cell(v)


def _code(value: Any, limit: int = 200) -> str:
    """Inline code for a command a reader copies: one line, no backticks to break out of it."""
    s = clean(value, limit).replace("`", "'")
    return f"`{s}`" if s else ""


# Coverage keys rendered by name; anything else a newer triage adds is listed generically.
_KNOWN_COVERAGE = {"summary", "collector_bundles", "collector_shell_outputs", "source", "sources", "collected_at", "collected_at_source", "metadata", "families", "areas_present",
                   "missing", "logs", "refused", "refused_count", "unreadable", "unreadable_count",
                   "content_truncated_files", "extras", "config", "next_steps", "errors", "error"}
_LIST_CAP = 20
_FAMILY_KEYS = {"rules", "entries_examined", "hits", "status", "reason", "notes", "lines", "files"}


def _marks(meta: dict[str, Any]) -> str:
    """" (new since ..., suppressed: reason (...))" after a finding, or ""."""
    marks = [transition_text(meta)] if transition_text(meta) else []
    if meta.get("suppressed"):
        marks.append("suppressed: " + (suppression_text(meta.get("suppression")) or "yes"))
    if meta.get("suppression_expired"):
        marks.append("suppression EXPIRED")
    return f" ({md_cell('; '.join(marks), 300)})" if marks else ""


def _finding_label(f: Any) -> str:
    cves = f" ({', '.join(f.cves[:4])})" if getattr(f, "cves", ()) else ""
    where = ""
    if f.indicator is not None and (f.indicator.path or f.indicator.url):
        where = f" at {f.indicator.path or f.indicator.url}"
    return md_cell(f"{f.rule_id}{cves}: {f.title}{where}", 300)


def _doc_label(d: dict[str, Any]) -> str:
    cves = d.get("cves") or []
    return md_cell(f"{d.get('rule_id')}" + (f" ({', '.join(cves[:4])})" if cves else "") + f": {d.get('title') or ''}", 300)


def _expired_warnings(r: HostResult) -> list[str]:
    """Expired suppressions, loudly: the finding they hid is open again and fails the run."""
    metas = as_dict(r.extra.get("findings"))
    out = []
    for f in findings_of(r):
        exp = (metas.get(f.id) or {}).get("suppression_expired")
        if isinstance(exp, dict):
            who = f", {exp['who']}" if exp.get("who") else ""
            out.append(f"> **WARNING: suppression EXPIRED on {md_cell(exp.get('expires') or '?')}** for "
                       f"{_finding_label(f)} (reason: {md_cell(exp.get('reason') or '?', 200)}{md_cell(who)}). The "
                       "finding is open again and counts for the exit code: fix it, or renew the suppression with a "
                       "new expiry date.")
            out.append("")
    return out


def _indicators(r: HostResult) -> list[str]:
    out = ["## Indicators of compromise", ""]
    if not r.indicators:
        if r.kind == "scan" and r.verdict in (HostVerdict.UNREACHABLE, HostVerdict.NOT_NETSCALER):
            out.append("Not checked.")
        elif r.kind == "triage":
            out.append("None found by the checks that ran: see what could NOT be checked (below) before calling "
                       "the appliance clean.")
        else:
            out.append("None found by the checks that ran.")
        out.append("")
        return out
    ids = [f.id for f in findings_of(r) if f.kind is FindingKind.INDICATOR]
    conf = {c: sum(1 for i in r.indicators if i.confidence.value == c) for c in ("high", "medium", "low")}
    out.append(f"{len(r.indicators)} hit(s): " + ", ".join(f"{n} {c} confidence" for c, n in conf.items() if n) + ".")
    if low_confidence_only(r):
        out.append("Every hit is low confidence: each needs confirming by hand (read the file, compare it with a "
                   "known-good appliance of the same build) before an incident is declared.")
    out.append("")
    detailed = r.kind == "triage" or any(i.path for i in r.indicators)
    if not detailed:
        out += ["| rule | severity | confidence | where | evidence |", "|---|---|---|---|---|"]
        for i, fid in zip(r.indicators, ids, strict=True):
            out.append(f"| {md_cell(i.id)}: {md_cell(i.title)}{_marks(finding_meta(r, fid))} | {i.severity.value} | "
                       f"{i.confidence.value} | {md_code(i.url or i.path or '')} | {md_code(i.evidence)} |")
        out.append("")
        return out
    for n, (i, fid) in enumerate(zip(r.indicators, ids, strict=True), 1):
        out += [f"### {n}. {md_cell(i.id)}: {md_cell(i.title, 200)}", ""]
        low = " (low: confirm by hand)" if i.confidence.value == "low" else ""
        out.append(f"- Severity **{i.severity.value}**, confidence {i.confidence.value}{low}"
                   + (f", check family {md_cell(i.check)}" if i.check else "") + _marks(finding_meta(r, fid)))
        where = i.path or i.url or ""
        if i.path and i.line is not None:
            where += f":{i.line}"
        if where:
            out.append(f"- Where: {md_code(where, 500, table=False)}")
        info = as_dict(i.file)
        if info:
            bits = []
            if "size" in info:
                bits.append(f"size {human_size(info.get('size'))}")
            if info.get("mtime"):
                bits.append(f"modified {md_cell(info['mtime'])}")
            if info.get("mode"):
                bits.append(f"mode {md_cell(info['mode'])}")
            if info.get("uid") is not None:
                bits.append(f"uid {md_cell(info['uid'])}")
            bits.append(f"sha256 {md_cell(info['sha256'])}" if info.get("sha256") else "sha256 not computed")
            out.append("- File: " + ", ".join(bits))
        out.append(f"- Evidence: {md_code(i.evidence, 500, table=False)}")
        if i.references:
            out.append(f"- Source: {md_cell('; '.join(i.references[:3]), 400)}")
        out.append("")
    return out


def _assessments(r: HostResult) -> list[str]:
    """The host's compromise assessment (state stage): NCSC "check for abuse even when patched".
    One per host, listing the exploited bulletins and the exposure windows that opened it."""
    docs = docs_of(r, "assessments")
    if not docs:
        return []
    out = ["## Compromise assessment", ""]
    for d in docs:
        resolved = d.get("transition") == "resolved" or d.get("status") == "resolved"
        if resolved:
            out.append("**Closed.** A triage result was recorded for this appliance.")
        else:
            out.append("**OPEN.** This host was vulnerable while these bulletins were exploited in the wild. Patching "
                       "closes the hole, not an intrusion that happened before: as the NCSC advises, check for abuse "
                       "even after patching. An open assessment fails the run until a triage result is recorded.")
        change = transition_text(d)
        if change:
            out.append(f"Status: {md_cell(change, 300)}.")
        out.append("")
        windows = as_dict(d.get("windows"))
        bulletins = [str(b) for b in d.get("bulletins") or ()]
        if windows:
            out += ["| bulletin | exposure window | exploitation known from |", "|---|---|---|"]
            for b in bulletins:
                w = as_dict(windows.get(b))
                facts = as_dict(w.get("exploitation"))
                names = ", ".join(str(x) for x in facts.get("names") or ())
                label = f"{b} ({names})" if names else b
                out.append(f"| {md_cell(label)} | {md_cell(window_text(w), 400)} | "
                           f"{md_cell(facts.get('exploited_basis') or '', 300)} |")
            out.append("")
        elif bulletins:
            out += [f"Bulletins: {md_cell(', '.join(bulletins), 400)}.", ""]
            exposure = window_text(d.get("exposure"))
            if exposure:
                out += [f"Exposure window: {md_cell(exposure, 500)}.", ""]
        if resolved:
            res = as_dict(d.get("resolution"))
            who = f" by {md_cell(res['who'])}" if res.get("who") else ""
            how = {"ack": "`nscheck ack`", "triage": "a clean `nscheck triage`"}.get(str(res.get("by")), md_cell(res.get("by") or "?"))
            out += [f"Closed {md_cell(res.get('at') or d.get('resolved_at') or '')}{who} through {how}: "
                    f"{md_cell(res.get('reason') or 'no reason recorded', 300)}.", ""]
        else:
            triage, ack = triage_commands(r)
            out += [f"Close it with a clean `{triage}`, or record how it was examined: `{ack}`.", ""]
    return out


def _changes(r: HostResult) -> list[str]:
    """Transitions since the last run, findings held open, suppressed findings (state stage)."""
    st = state_of(r)
    metas = as_dict(r.extra.get("findings"))
    resolved = docs_of(r, "resolved")
    held = docs_of(r, "held_open")
    rank = {"new": 0, "regressed": 1, "resolved": 2, "unchanged": 3}
    rows: list[tuple[int, str, str, str]] = []
    for f in findings_of(r):
        m = metas.get(f.id) or {}
        if m.get("transition"):
            rows.append((rank.get(str(m["transition"]), 9), _finding_label(f), f.kind.value, md_cell(transition_text(m), 200)))
    for d in resolved:
        rows.append((rank["resolved"], _doc_label(d), md_cell(d.get("kind") or ""), md_cell(transition_text(d), 200)))
    sup = [(f, metas.get(f.id) or {}) for f in findings_of(r) if (metas.get(f.id) or {}).get("suppressed")]
    out: list[str] = []
    if st or rows or held:
        from nscheck.state.transitions import summary_line

        out += ["## Changes since the last run", ""]
        if st:
            seen = st.get("host_seen_count")
            out.append(f"- Host first seen {md_cell(st.get('host_first_seen') or '?')}"
                       + (f", {seen} runs recorded" if isinstance(seen, int) else "") + ".")
            if st.get("build_changed"):
                out.append(f"- Build changed: {md_cell(st.get('previous_build') or '?')} -> {md_cell(st.get('build') or '?')}.")
            out.append(f"- This run: {md_cell(summary_line(host_transitions(r)))}.")
            out.append("")
        if rows:
            out += ["| finding | kind | change |", "|---|---|---|"]
            out += [f"| {label} | {kind} | {text} |" for _, label, kind, text in sorted(rows, key=lambda x: (x[0], x[1]))]
            out.append("")
        if held:
            out += ["### Still open: not re-checked this run", "",
                    "These findings were open after an earlier run. This run could not check them, so they are NOT "
                    "resolved:", ""]
            for d in held:
                out.append(f"- {_doc_label(d)}: open since {md_cell(d.get('first_seen') or '?')}, last seen "
                           f"{md_cell(d.get('last_seen') or '?')}; held open: **{md_cell(d.get('held_reason') or 'not assessed', 300)}**")
            out.append("")
    if sup:
        out += ["## Suppressed findings", "",
                "Accepted in the suppressions file: reported, but they do not fail the run.", ""]
        for f, m in sup:
            out.append(f"- {_finding_label(f)}: {md_cell(suppression_text(m.get('suppression')) or 'suppressed', 300)}")
        out.append("")
    return out


def _triage_section(r: HostResult) -> list[str]:
    """What the triage looked at and, as prominently, what it could not look at."""
    out = ["## Artefacts examined", ""]
    cov = r.coverage
    if not cov:
        out += ["No coverage information: nscheck cannot say what was looked at. Treat the result as "
                "incomplete, not as clean.", ""]
        return out
    if cov.summary:
        out += [md_cell(cov.summary, 3000), ""]
    src = cov.source or {}
    if src:
        counts = []
        if isinstance(src.get("entries"), int):
            counts.append(f"{src['entries']} entries")
        if isinstance(src.get("files"), int):
            counts.append(f"{src['files']} files")
        if isinstance(src.get("bytes_read"), int):
            counts.append(f"{human_size(src['bytes_read'])} read")
        if src.get("duration_s") is not None:
            counts.append(f"{src['duration_s']} s")
        out.append(f"- Source: {md_cell(src.get('path'), 300)} ({md_cell(src.get('type') or '?')})"
                   + (f": {', '.join(counts)}" if counts else ""))
    sources = list(cov.sources or ())
    if len(sources) > 1:
        for x in sources[:_LIST_CAP]:
            out.append(f"  - {md_cell(x.get('path'), 300)} ({md_cell(x.get('type'))}"
                       + (", support bundle" if x.get("support_bundle") else "") + ")")
    bundles = list(cov.collector_bundles or ())
    if bundles:
        out.append(f"- Collector bundles: {md_cell(', '.join(bundles[:_LIST_CAP]), 500)}")
    if cov.collector_shell_outputs:
        out.append(f"- Collector shell outputs (live commands run on the appliance): {md_cell(cov.collector_shell_outputs)}")
    if cov.has("collected_at"):
        out.append(f"- Collected at: {md_cell(cov.collected_at or 'unknown')}"
                   + (f" (from {md_cell(cov.collected_at_source)})" if cov.collected_at_source else "")
                   + ": the reference time for the recent-change and timestomp checks")
    meta = cov.metadata or {}
    if meta:
        kept = ", ".join(f"{k} {_yes_no(meta.get(k))}" for k in ("mode", "owner", "mtime", "ctime", "birthtime")
                         if k in meta)
        out.append(f"- File metadata in the artefacts: {kept}")
        for n in meta.get("notes") or ():
            out.append(f"  - {md_cell(n, 400)}")
    conf = cov.config or {}
    if conf.get("ns.conf"):
        out.append(f"- Configuration: {md_cell(conf['ns.conf'])}" + (f" ({md_cell(conf['header'])})" if conf.get("header") else ""))
    out.append("")

    fams = {k: v for k, v in (cov.families or {}).items() if isinstance(v, dict)}
    if fams:
        out += ["### What was checked", "",
                "| check family | status | rules | entries examined | hits | notes |", "|---|---|---|---|---|---|"]
        for name in sorted(fams):
            f = fams[name]
            notes = []
            if f.get("reason"):
                notes.append(str(f["reason"]))
            if name == "log" and f.get("files") is not None:
                notes.append(f"{f.get('files')} log files, {f.get('lines', 0)} lines")
            for k, v in f.items():
                if k not in _FAMILY_KEYS and isinstance(v, int) and not isinstance(v, bool) and v:
                    notes.append(f"{k.replace('_', ' ')}: {v}")
            notes += [str(n) for n in (f.get("notes") or ())[:5]]
            status = str(f.get("status") or "?")
            shown = status if status == "checked" else f"**{md_cell(status)}**"
            out.append(f"| {md_cell(name)} | {shown} | {md_cell(f.get('rules', ''))} | "
                       f"{md_cell(f.get('entries_examined', ''))} | {md_cell(f.get('hits', ''))} | "
                       f"{md_cell('; '.join(notes), 400)} |")
        out.append("")

    gaps = _coverage_gaps(cov, fams)
    out += ["### What could NOT be checked", ""]
    out += gaps or ["- Nothing known to be missing: every expected area was present, every file was readable and "
                    "every check family ran."]
    out.append("")

    logs = cov.logs or {}
    listed = [x for x in logs.get("listed") or () if isinstance(x, dict)]
    if listed:
        out += ["### Logs read", "", "| log | lines | first | last |", "|---|---|---|---|"]
        out += [f"| {md_cell(x.get('path'))} | {md_cell(x.get('lines', ''))} | {md_cell(x.get('first') or '')} | "
                f"{md_cell(x.get('last') or '')} |" for x in listed[:_LIST_CAP]]
        if len(listed) > _LIST_CAP or (isinstance(logs.get("files"), int) and logs["files"] > len(listed)):
            out.append(f"| (and {max(len(listed), int(logs.get('files') or 0)) - min(len(listed), _LIST_CAP)} more) | | | |")
        if logs.get("note"):
            out += ["", f"Note: {md_cell(logs['note'], 300)}."]
        out.append("")

    # keys this report has no section for, and values of a saved result it could not read as typed
    untyped = {k for k, _ in cov.other}
    other = {k: v for k, v in cov.to_dict().items() if k not in _KNOWN_COVERAGE or k in untyped}
    if other:
        out += ["### Other coverage facts", ""]
        out += [f"- {md_cell(k)}: {md_cell(_flat(v), 300)}" for k, v in sorted(other.items())]
        out.append("")
    return out


def _flat(v: Any) -> str:
    if isinstance(v, dict):
        return ", ".join(f"{k}: {_flat(x)}" for k, x in v.items())
    if isinstance(v, list | tuple):
        return ", ".join(_flat(x) for x in v)
    return str(v)


def _coverage_gaps(cov: Coverage, fams: dict[str, dict[str, Any]]) -> list[str]:
    out: list[str] = []
    if cov.error:
        out.append(f"- **The artefacts could not be read**: {md_cell(cov.error, 500)}")
    for e in cov.errors or ():
        out.append(f"- **Source error**: {md_cell(e, 500)}")
    for name in sorted(fams):
        f = fams[name]
        status = f.get("status")
        if status in (None, "checked"):
            continue
        why = f.get("reason") or ("no artefact this family examines was present" if status == "nothing to examine" else "")
        out.append(f"- Check family **{md_cell(name)}**: {md_cell(status)}" + (f": {md_cell(why, 400)}" if why else ""))
    for m in cov.missing or ():
        if isinstance(m, dict):
            out.append(f"- Not in the artefacts: **{md_cell(m.get('area'))}**, so unchecked: {md_cell(m.get('unchecked'), 300)}")
        else:
            out.append(f"- Not in the artefacts: {md_cell(m)}")
    meta = cov.metadata or {}
    lost = [k for k in ("mode", "owner", "ctime", "birthtime") if meta.get(k) is False]
    if lost:
        out.append(f"- File metadata missing from this copy: {', '.join(lost)} (timestomp and permission checks "
                   "need them; a stat listing or a disk image keeps them)")
    unreadable = list(cov.unreadable or ())
    n_unr = cov.unreadable_count if cov.unreadable_count is not None else len(unreadable)
    if n_unr:
        out.append(f"- {n_unr} file(s) could not be read:")
        out += [f"  - {md_cell(x.get('path'))}: {md_cell(x.get('reason'), 300)}" for x in unreadable[:_LIST_CAP]]
        if n_unr > min(len(unreadable), _LIST_CAP):
            out.append(f"  - (and {n_unr - min(len(unreadable), _LIST_CAP)} more)")
    refused = list(cov.refused or ())
    n_ref = cov.refused_count if cov.refused_count is not None else len(refused)
    if n_ref:
        out.append(f"- {n_ref} archive member(s) refused (unsafe path, link, device or too large):")
        out += [f"  - {md_cell(x, 300)}" for x in refused[:_LIST_CAP]]
        if n_ref > min(len(refused), _LIST_CAP):
            out.append(f"  - (and {n_ref - min(len(refused), _LIST_CAP)} more)")
    if cov.content_truncated_files:
        out.append(f"- {cov.content_truncated_files} large file(s) were content-checked only in their first part")
    extras = cov.extras or {}
    for name, st in sorted(extras.items()):
        if st != "available":
            out.append(f"- Optional extra **{md_cell(name)}**: {md_cell(st)}")
    if cov.logs is not None and not cov.logs.get("files"):
        out.append("- No log files were found: the log checks had nothing to read")
    return out


def fleet_markdown(results: Iterable[HostResult]) -> str:
    """``nscheck report --format md``: every host's report, one after the other."""
    parts = [host_markdown(r).replace("\n# nscheck: ", "\n## nscheck: ") for r in results]
    return "\n---\n\n".join(parts) if parts else "# nscheck\n\nNo hosts.\n"
