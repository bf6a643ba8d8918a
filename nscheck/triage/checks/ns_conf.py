"""ns_conf: saved configuration lines that point the portal, responders or rewrites elsewhere.

The same file also feeds the build (``#NS14.1 Build 47.46`` header) and the exposure facts
(Gateway, AAA, SAML) that the advisory assessment needs; the runner reads those.
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
class NsConf(Family):
    name: str = "ns_conf"
    needs_content: bool = True

    def content(self, ctx: Context, rule: Rule, entry: Entry, data: bytes, text: str) -> Iterable[Hit]:
        ctx.stat(self.name, "checked")
        for line_no, line, _matched in match_text(rule, text):
            yield Hit(rule, entry.path, escape(line), line_no)
