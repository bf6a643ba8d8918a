"""magic_bytes: files whose first bytes say pcap (sniffed traffic) or archive (disguised exfiltration)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from nscheck.signatures.triage import Rule
from nscheck.triage.checks.base import Family, Hit, register
from nscheck.triage.context import Context
from nscheck.triage.sources import Entry


@register
@dataclass
class MagicBytes(Family):
    name: str = "magic_bytes"
    needs_content: bool = True
    head_only: bool = True

    def content(self, ctx: Context, rule: Rule, entry: Entry, data: bytes, text: str) -> Iterable[Hit]:
        ctx.stat(self.name, "checked")
        for label, magic in rule.magic:
            if data.startswith(magic):
                yield Hit(rule, entry.path, f"starts with {magic.hex(' ')} ({label}), {entry.size} bytes")
                return
