"""binaries: SUID/SGID files not on the appliance's known lists, and ELF files where none belong."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from nscheck.signatures.triage import Rule
from nscheck.triage.checks.base import Family, Hit, aliases, register
from nscheck.triage.context import Context
from nscheck.triage.sources import Entry


@register
@dataclass
class Binaries(Family):
    name: str = "binaries"
    needs_content: bool = True
    head_only: bool = True

    def meta(self, ctx: Context, rule: Rule, entry: Entry) -> Iterable[Hit]:
        if not rule.known and not rule.known_sgid:
            return
        if entry.mode is None:
            ctx.stat(self.name, "mode_unknown")
            return
        ctx.stat(self.name, "checked")
        names = aliases(entry.path)
        if entry.mode & 0o4000 and not any(n in rule.known for n in names):
            yield Hit(rule, entry.path, f"setuid file (mode {entry.mode:04o}, uid {entry.uid}) not in the known SUID list")
        elif entry.mode & 0o2000 and not any(n in rule.known_sgid or n in rule.known for n in names):
            yield Hit(rule, entry.path, f"setgid file (mode {entry.mode:04o}, gid {entry.gid}) not in the known SGID list")

    def content(self, ctx: Context, rule: Rule, entry: Entry, data: bytes, text: str) -> Iterable[Hit]:
        for label, magic in rule.magic:
            if data.startswith(magic):
                yield Hit(rule, entry.path, f"{label.upper()} executable ({entry.size} bytes, mode "
                          f"{(entry.mode or 0):04o}) in a directory that holds no executables on a stock appliance")
                return
