"""tiny_backdoor: small server-side scripts in portal directories that call code-execution functions."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from nscheck.signatures.triage import Rule
from nscheck.triage.checks.base import Family, Hit, escape, match_text, register
from nscheck.triage.context import Context
from nscheck.triage.sources import Entry


@register
@dataclass
class TinyBackdoor(Family):
    name: str = "tiny_backdoor"
    needs_content: bool = True

    def content(self, ctx: Context, rule: Rule, entry: Entry, data: bytes, text: str) -> Iterable[Hit]:
        ctx.stat(self.name, "checked")
        for line_no, line, matched in match_text(rule, text):
            yield Hit(rule, entry.path, f"{entry.size}-byte script calls {escape(matched, 60)}: {escape(line)}", line_no)
