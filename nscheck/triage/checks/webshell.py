"""webshell: PHP files under /var with webshell strings, or not read-only (mode != 0444)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from nscheck.signatures.triage import Rule
from nscheck.triage.checks.base import Family, Hit, escape, match_text, register
from nscheck.triage.context import Context
from nscheck.triage.sources import Entry


@register
@dataclass
class Webshell(Family):
    name: str = "webshell"
    needs_content: bool = True

    def meta(self, ctx: Context, rule: Rule, entry: Entry) -> Iterable[Hit]:
        if rule.mode is None:
            return
        if entry.mode is None:
            ctx.stat(self.name, "mode_unknown")
            return
        ctx.stat(self.name, "checked")
        if entry.mode & 0o777 != rule.mode:
            yield Hit(rule, entry.path, f"mode {entry.mode & 0o7777:04o}, expected {rule.mode:04o} (stock PHP is read-only)")

    def content(self, ctx: Context, rule: Rule, entry: Entry, data: bytes, text: str) -> Iterable[Hit]:
        if rule.mode is not None and not (rule.strings or rule.regexes):
            return
        ctx.stat(self.name, "checked")
        for line_no, line, matched in match_text(rule, text):
            yield Hit(rule, entry.path, f"{escape(matched, 60)!s} in: {escape(line)}", line_no)
