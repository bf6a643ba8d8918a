"""suspicious_content: config and portal files holding loader, tampering or exfiltration text.

Covers NCSC's nsconfig (incl. reversed strings), portal_exfil, portal_strings, portal_plugins and
rc_persistence sub-checks, each a rule of its own. Strings are case-insensitive substrings; regexes
are case-insensitive on the original text; allowlisted matches (CDNs, IdPs) are dropped.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from nscheck.signatures.triage import Rule
from nscheck.triage.checks.base import Family, Hit, escape, match_text, register
from nscheck.triage.context import Context
from nscheck.triage.sources import Entry


@register
@dataclass
class SuspiciousContent(Family):
    name: str = "suspicious_content"
    needs_content: bool = True

    def content(self, ctx: Context, rule: Rule, entry: Entry, data: bytes, text: str) -> Iterable[Hit]:
        ctx.stat(self.name, "checked")
        for line_no, line, matched in match_text(rule, text):
            yield Hit(rule, entry.path, f"{escape(matched, 80)} in: {escape(line)}", line_no)
