"""Hostile-string hygiene shared by every format: anything that came from a server (titles,
headers, error text) is untrusted and must not break a line, a table cell or a page."""

from __future__ import annotations

import re
from typing import Any

from nscheck.model import HostResult, Severity, Verdict

# C0/C1 controls (ANSI escapes start with ESC), DEL, and Unicode line/paragraph separators and
# bidi overrides, which reorder what a reader sees.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?")


def clean(value: Any, limit: int = 300) -> str:
    """One printable line, at most ``limit`` characters (an ellipsis marks the cut)."""
    if value is None:
        return ""
    s = _ANSI.sub("", str(value))
    s = _CONTROL.sub(" ", s)
    s = " ".join(s.split())
    if len(s) > limit:
        s = s[: max(0, limit - 1)] + "…"
    return s


def md_cell(value: Any, limit: int = 200) -> str:
    """Safe inside a Markdown table cell: one line, pipes and HTML neutralised."""
    s = clean(value, limit)
    for ch, rep in (("\\", "\\\\"), ("|", "\\|"), ("<", "&lt;"), (">", "&gt;"), ("`", "\\`"),
                    ("[", "\\["), ("]", "\\]"), ("*", "\\*"), ("_", "\\_")):
        s = s.replace(ch, rep)
    return s


def md_text(value: Any, limit: int = 500) -> str:
    return md_cell(value, limit)


def build_text(r: HostResult) -> str:
    b = r.build
    if b is None:
        return ""
    if b.exact and b.release and b.build:
        ed = f" {b.edition.upper()}" if b.edition and b.edition != "standard" else ""
        return f"{b.release}-{b.build}{ed}"
    if b.candidates:
        more = f" (+{len(b.candidates) - 3})" if len(b.candidates) > 3 else ""
        return "one of " + ", ".join(b.candidates[:3]) + more
    if b.floor:
        return f">= {b.floor}"
    if b.release:
        return f"{b.release}-?"
    return ""


def product_text(r: HostResult) -> str:
    p = r.product
    if r.kind == "triage":
        return "artefacts (triage)"
    if p.is_netscaler is None:
        return "?"
    if p.is_netscaler is False:
        return "not NetScaler"
    return "NetScaler" + (f" ({', '.join(p.roles)})" if p.roles else "")


def finding_severity(a_or_sev: Any) -> Severity:
    """A bulletin's severity comes from its CVSS when known, else the severity it carries."""
    cvss = getattr(a_or_sev, "cvss", None)
    if cvss is not None:
        return Severity.from_cvss(cvss)
    return getattr(a_or_sev, "severity", Severity.HIGH)


def open_bulletins(r: HostResult) -> list[Any]:
    return [a for a in r.advisories if a.verdict is Verdict.VULNERABLE]


def worst(r: HostResult) -> Severity | None:
    sevs = [finding_severity(a) for a in open_bulletins(r)] + [i.severity for i in r.indicators]
    return max(sevs, key=lambda s: s.rank) if sevs else None


def fix_to(r: HostResult) -> str:
    rem = r.remediation
    if rem is None:
        return ""
    if rem.upgrade_to:
        return rem.upgrade_to + (" (new train)" if rem.move_train else "")
    if rem.move_train:
        return "move to a supported train"
    return ""


def suppressed(r: HostResult, fid: str) -> bool:
    return bool(((r.extra.get("findings") or {}).get(fid) or {}).get("suppressed"))


def finding_meta(r: HostResult, fid: str) -> dict[str, Any]:
    return dict((r.extra.get("findings") or {}).get(fid) or {})
