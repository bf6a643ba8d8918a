"""Hostile-string hygiene shared by every format: anything that came from a server (titles,
headers, error text) is untrusted and must not break a line, a table cell or a page."""

from __future__ import annotations

import re
from typing import Any

from nscheck.model import HostResult, Severity, Verdict
from nscheck.safetext import escape_undecodable

# C0/C1 controls (ANSI escapes start with ESC; U+009B is a one-character CSI), DEL, Unicode
# line/paragraph separators, and bidi overrides and marks, which reorder what a reader sees.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?")


def as_dict(value: object) -> dict[str, Any]:
    """``value`` when it is a mapping, else an empty one: saved results and ``extra`` are JSON
    that a report must read without trusting its shape."""
    return value if isinstance(value, dict) else {}


def clean(value: Any, limit: int = 300) -> str:
    """One printable line, at most ``limit`` characters (an ellipsis marks the cut)."""
    if value is None:
        return ""
    s = _ANSI.sub("", escape_undecodable(str(value)))
    s = _CONTROL.sub(" ", s)
    s = " ".join(s.split())
    if len(s) > limit:
        s = s[: max(0, limit - 1)] + "…"
    return s


def md_cell(value: Any, limit: int = 200) -> str:
    """Safe inside a Markdown table cell: one line, pipes, links and HTML neutralised with
    backslash escapes (no HTML entities: a Markdown file is read as text as often as rendered).
    A value with backticks becomes a code span (escaping a backtick is not portable)."""
    s = clean(value, limit)
    if "`" in s:
        return md_code(s, limit)
    for ch in ("\\", "|", "<", ">", "[", "]", "*", "_"):
        s = s.replace(ch, "\\" + ch)
    return s


def md_code(value: Any, limit: int = 300, *, table: bool = True) -> str:
    """Untrusted text as a Markdown code span: shown verbatim, never rendered as HTML or a link.
    The fence is longer than any run of backticks inside; in a table, pipes are escaped (GFM
    reads ``\\|`` inside a code span in a table cell as a pipe)."""
    s = clean(value, limit)
    if not s:
        return ""
    longest = max((len(m) for m in re.findall(r"`+", s)), default=0)
    fence = "`" * (longest + 1)
    if table:
        s = s.replace("|", "\\|")
    pad = " " if s.startswith("`") or s.endswith("`") or longest else ""
    return f"{fence}{pad}{s}{pad}{fence}"


def md_text(value: Any, limit: int = 500) -> str:
    return md_cell(value, limit)


def build_text(r: HostResult) -> str:
    b = r.build
    if b is None:
        return ""
    if b.exact and b.release and b.build:
        ed = f" {b.edition.upper()}" if b.edition and b.edition != "standard" else ""
        return f"{b.release}-{b.build}{ed}"
    if len(b.candidates) == 1:
        return b.candidates[0]  # one candidate is a build, not "one of"
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


# Bulletins still to fix: vulnerable, or mitigated (an interim mitigation is not the fix).
OPEN_VERDICTS = (Verdict.VULNERABLE, Verdict.MITIGATED)


def open_bulletins(r: HostResult) -> list[Any]:
    return [a for a in r.advisories if a.verdict in OPEN_VERDICTS]


def worst(r: HostResult) -> Severity | None:
    sevs = [finding_severity(a) for a in open_bulletins(r)] + [i.severity for i in r.indicators]
    return max(sevs, key=lambda s: s.rank) if sevs else None


def unique_builds(upgrade_to: str) -> str:
    """"13.1-64.28 or 14.1-73.41 or 14.1-73.41 FIPS" -> "13.1-64.28 or 14.1-73.41": each build
    once (FIPS shares the mainline number on these trains, the edition adds nothing to read)."""
    seen: dict[str, str] = {}
    for part in upgrade_to.split(" or "):
        part = part.strip()
        build = part.split(" ")[0]
        if build and build not in seen:
            seen[build] = part
    return " or ".join(seen.values())


def ranked_indicators(r: HostResult) -> list[Any]:
    """Indicator hits, the most severe and most confident first (what a reader looks at first)."""
    conf = {"high": 0, "medium": 1, "low": 2}
    return sorted(r.indicators, key=lambda i: (-i.severity.rank, conf.get(i.confidence.value, 3)))


def fix_to(r: HostResult) -> str:
    rem = r.remediation
    if rem is None:
        return ""
    if rem.upgrade_to:
        return unique_builds(rem.upgrade_to) + (" (new train)" if rem.move_train else "")
    if rem.move_train:
        return "move to a supported train"
    return ""


def _metas(r: HostResult) -> dict[str, Any]:
    m = r.extra.get("findings") if isinstance(r.extra, dict) else None
    return m if isinstance(m, dict) else {}


def suppressed(r: HostResult, fid: str) -> bool:
    return bool(finding_meta(r, fid).get("suppressed"))


def finding_meta(r: HostResult, fid: str) -> dict[str, Any]:
    m = _metas(r).get(fid)
    return dict(m) if isinstance(m, dict) else {}


# -- wording shared by the table, Markdown and HTML ----------------------------------------------

LOW_CONFIDENCE_LABEL = "possible compromise (low confidence)"


def low_confidence_only(r: HostResult) -> bool:
    """Every indicator hit is low confidence. The verdict stays "compromised" (the JSON contract
    does not change); readers are told the hits need confirming before an incident is declared."""
    return bool(r.indicators) and all(i.confidence.value == "low" for i in r.indicators)


def verdict_label(r: HostResult) -> str:
    """The verdict as a reader sees it in text formats."""
    return LOW_CONFIDENCE_LABEL if low_confidence_only(r) else r.verdict.value


def state_of(r: HostResult) -> dict[str, Any]:
    """Host-level facts of the state stage (empty without ``--state``)."""
    s = r.extra.get("state") if isinstance(r.extra, dict) else None
    return s if isinstance(s, dict) else {}


def docs_of(r: HostResult, key: str) -> list[dict[str, Any]]:
    """``extra["resolved"|"assessments"|"held_open"]``: finding documents of the state stage."""
    v = r.extra.get(key) if isinstance(r.extra, dict) else None
    return [d for d in v if isinstance(d, dict)] if isinstance(v, list) else []


def open_assessments(r: HostResult) -> list[dict[str, Any]]:
    return [d for d in docs_of(r, "assessments") if d.get("transition") != "resolved" and d.get("status") != "resolved"]


def host_transitions(r: HostResult) -> dict[str, int]:
    t = state_of(r).get("transitions")
    return {str(k): int(v) for k, v in t.items() if isinstance(v, int)} if isinstance(t, dict) else {}


def transition_text(meta: dict[str, Any]) -> str:
    """One finding's change since the last run, in words ("" when the state stage said nothing)."""
    t = meta.get("transition")
    first, n = meta.get("first_seen"), meta.get("seen_count")
    if t == "new":
        return f"new since {first}" if first else "new"
    if t == "unchanged":
        runs = f", seen in {n} runs" if isinstance(n, int) and n > 1 else ""
        return "unchanged" + (f", first seen {first}" if first else "") + runs
    if t == "regressed":
        return "regressed: resolved before, back again" + (f" (first seen {first})" if first else "")
    if t == "reopened":
        return ("reopened: a triage was recorded, but the host stayed exposed after it"
                + (f" (first seen {first})" if first else ""))
    if t == "resolved":
        at = meta.get("resolved_at")
        return "resolved" + (f" {at}" if at else "") + (f" (first seen {first})" if first else "")
    return ""


def suppression_text(sup: Any) -> str:
    """"reason (who, expires DATE)" of a suppression dict."""
    if not isinstance(sup, dict):
        return ""
    bits = [str(sup["who"])] if sup.get("who") else []
    bits.append(f"expires {sup['expires']}" if sup.get("expires") else "no expiry")
    return f"{sup.get('reason') or 'no reason given'} ({', '.join(bits)})"


def window_text(w: Any) -> str:
    """An exposure window dict (nscheck.state.exposure.Window.to_dict) in one sentence."""
    if not isinstance(w, dict) or not w.get("vulnerable_since"):
        return ""
    until = "still vulnerable at the last scan" if w.get("open") else f"until {w.get('until')}"
    s = f"vulnerable since {w['vulnerable_since']} {until} ({w.get('days', '?')} days)"
    if w.get("exploited_since"):
        s += f"; exploited in the wild since {w['exploited_since']}"
        if w.get("overlaps_exploitation"):
            s += f": {w.get('overlap_days', '?')} days exposed while exploitation was known"
        else:
            s += ": no overlap"
    if w.get("basis"):
        s += f" [start: {w['basis']}]"
    return s


def human_size(n: Any) -> str:
    if not isinstance(n, int) or isinstance(n, bool):
        return "?"
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{n} B" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"
