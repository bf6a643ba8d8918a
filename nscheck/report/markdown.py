"""The per-host Markdown report: verdict, what the appliance is and how we know, one row per
bulletin, indicators, and what to do (minimum upgrade, vendor post-patch actions, and the
NCSC advice to look for compromise when an exploited-in-the-wild bulletin was open)."""

from __future__ import annotations

from collections.abc import Iterable

from nscheck.model import FindingKind, HostResult, HostVerdict, Verdict, finding_id, host_key
from nscheck.report.text import build_text, clean, finding_meta, finding_severity, md_cell, product_text

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


def _yn(b: bool | None) -> str:
    return {True: "yes", False: "no", None: "?"}[b]


def host_markdown(r: HostResult, *, signatures: str | None = None) -> str:
    v = r.verdict
    out: list[str] = [f"# nscheck: {md_cell(r.target, 200)}", ""]
    out.append(f"**Verdict: {v.value}**. {_VERDICT_TEXT[v]}")
    out.append("")
    facts = [("Target", r.target), ("URL", r.url or ""), ("Status", r.status.value + (f" ({r.error})" if r.error else "")),
             ("Scanned", r.started or ""), ("Requests sent", str(r.requests_sent))]
    if signatures:
        facts.append(("Signature set", signatures))
    out += ["| | |", "|---|---|"] + [f"| {k} | {md_cell(val, 300)} |" for k, val in facts if val]
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
        if r.certificate is not None:
            c = r.certificate
            out.append(f"- Certificate: {md_cell(c.subject)} (issuer {md_cell(c.issuer)}"
                       + (", default NetScaler certificate" if c.default_netscaler else "") + ")")
        ev = list(r.product.evidence) + (list(r.build.methods) if r.build else [])
        if ev:
            out += ["", "How nscheck knows:", "", "| method | evidence | URL | confidence |", "|---|---|---|---|"]
            out += [f"| {md_cell(e.method)} | {md_cell(e.detail)} | {md_cell(e.url or '')} | {e.confidence.value} |"
                    for e in ev]
        out.append("")

    if r.advisories:
        out += ["## Bulletins", "",
                "| bulletin | CVE | CVSS | severity | KEV | exploited | verdict | fixed in | why |",
                "|---|---|---|---|---|---|---|---|---|"]
        order = {Verdict.VULNERABLE: 0, Verdict.UNKNOWN: 1, Verdict.NOT_VULNERABLE: 2}
        ranked = sorted(r.advisories, key=lambda a: (order[a.verdict], a.id))
        applicable = [a for a in ranked if a.verdict is not Verdict.NOT_VULNERABLE]
        if not applicable:
            out.append("| (none vulnerable or undetermined) | | | | | | | | |")
        key = host_key(r)
        for a in applicable:
            cvss = "" if a.cvss is None else f"{a.cvss:.1f}"
            meta = finding_meta(r, finding_id(key, FindingKind.ADVISORY, a.id))
            marks = [str(meta["transition"])] if meta.get("transition") else []
            if meta.get("suppressed"):
                why = (meta.get("suppression") or {}).get("reason") if isinstance(meta.get("suppression"), dict) else None
                marks.append("suppressed" + (f": {why}" if why else ""))
            note = f" ({md_cell(', '.join(marks), 120)})" if marks else ""
            out.append(
                f"| {md_cell(a.id)} | {md_cell(', '.join(a.cves), 120)} | {cvss} | {finding_severity(a).value} | "
                f"{_yn(a.kev)} | {_yn(a.exploited)} | **{a.verdict.value}**{note} | {md_cell(a.fixed_in or '')} | "
                f"{md_cell(a.reason, 200)} |"
            )
        clean_ones = [a for a in ranked if a.verdict is Verdict.NOT_VULNERABLE]
        if clean_ones:
            out += ["", f"Not vulnerable ({len(clean_ones)}):", "", "| bulletin | CVE | why |", "|---|---|---|"]
            out += [f"| {md_cell(a.id)} | {md_cell(', '.join(a.cves), 120)} | {md_cell(a.reason, 200)} |"
                    for a in clean_ones]
        out.append("")

    out += ["## Indicators of compromise", ""]
    if r.indicators:
        out += ["| rule | severity | confidence | where | evidence |", "|---|---|---|---|---|"]
        for i in r.indicators:
            where = i.path or i.url or ""
            if i.path and i.line is not None:
                where += f":{i.line}"
            out.append(f"| {md_cell(i.id)}: {md_cell(i.title)} | {i.severity.value} | {i.confidence.value} | "
                       f"{md_cell(where)} | {md_cell(i.evidence)} |")
    elif r.kind == "scan" and r.verdict in (HostVerdict.UNREACHABLE, HostVerdict.NOT_NETSCALER):
        out.append("Not checked.")
    else:
        out.append("None found by the checks that ran.")
    out.append("")

    out += _remediation(r)
    if r.skipped:
        out += ["## Not checked", ""] + [f"- {md_cell(s.what)}: {md_cell(s.reason)}" for s in r.skipped] + [""]
    return "\n".join(out).rstrip("\n") + "\n"


def _triage_section(r: HostResult) -> list[str]:
    out = ["## Artefacts examined", ""]
    cov = r.coverage or {}
    if not cov:
        out.append("No coverage information: treat the result as incomplete.")
    for k in sorted(cov):
        out.append(f"- {md_cell(k)}: {md_cell(cov[k], 300)}")
    out.append("")
    return out


def _remediation(r: HostResult) -> list[str]:
    rem = r.remediation
    out = ["## What to do", ""]
    if r.indicators:
        out.append("- Indicators of compromise were found: isolate the appliance, preserve evidence and follow "
                   "your incident response; upgrading alone does not remove an attacker.")
        for adv in sorted({clean(i.advice, 400) for i in r.indicators if i.advice}):
            out.append(f"- {md_cell(adv, 400)}")
    if rem is not None:
        if rem.upgrade_to:
            train = " (a supported train: the current one is end of life)" if rem.move_train else ""
            out.append(f"- Upgrade to **{md_cell(rem.upgrade_to)}** or later{train}: the minimum build that closes "
                       "every open bulletin.")
        elif rem.move_train:
            out.append("- The release train is end of life: move to a supported train.")
        if rem.summary and not (rem.upgrade_to and rem.upgrade_to in rem.summary):
            out.append(f"- {md_cell(rem.summary, 500)}")
        for act in rem.actions:
            out.append(f"- After patching: {md_cell(act, 500)}")
    exploited = any(a.verdict is Verdict.VULNERABLE and (a.exploited or a.kev) for a in r.advisories)
    if exploited or (rem is not None and rem.check_compromise):
        out.append(f"- {NCSC_ADVICE}")
    if len(out) == 2:
        v = r.verdict
        if v is HostVerdict.UNKNOWN:
            out.append("- Find the build by other means (`show ns version` on the appliance) and check it "
                       "against the bulletins; nscheck could not.")
        elif v is HostVerdict.UNREACHABLE:
            out.append("- Check that the target is right and reachable from the scanner, then scan again.")
        else:
            out.append("- Nothing to do for the known bulletins.")
    out.append("")
    return out


def fleet_markdown(results: Iterable[HostResult]) -> str:
    """``nscheck report --format md``: every host's report, one after the other."""
    parts = [host_markdown(r).replace("\n# nscheck: ", "\n## nscheck: ") for r in results]
    return "\n---\n\n".join(parts) if parts else "# nscheck\n\nNo hosts.\n"
