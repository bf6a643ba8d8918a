"""yara: NCSC-NL's core-dump rules over NSPPE cores, and webshell rules over web and staging files.

yara-python is an optional extra. Without it the family is skipped with a coverage note, never
silently. Gzipped cores are decompressed into the run's private temp dir (capped), never next to
the input.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nscheck.signatures.triage import Rule
from nscheck.triage.checks.base import Family, Hit, escape, register
from nscheck.triage.context import Context
from nscheck.triage.sources import Entry

MATCH_TIMEOUT_S = 120


def yara_module() -> Any | None:
    try:
        import yara  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        return None
    return yara


def _compiled(ctx: Context, rule: Rule) -> Any | None:
    key = f"yara:{rule.id}"
    if key not in ctx.state:
        yara = yara_module() if ctx.opts.yara else None
        if yara is None:
            ctx.state[key] = None
        else:
            files = {f"n{i}": str(ctx.rules.yara_dir / f) for i, f in enumerate(rule.yara)}
            ctx.state[key] = yara.compile(filepaths=files)
    return ctx.state[key]


@register
@dataclass
class YaraScan(Family):
    name: str = "yara"
    needs_content: bool = True

    def available(self, ctx: Context, rule: Rule) -> bool:
        return _compiled(ctx, rule) is not None

    def _hits(self, ctx: Context, rule: Rule, entry: Entry, matches: list[Any]) -> Iterable[Hit]:
        for m in matches[:20]:
            strings = []
            for s in getattr(m, "strings", [])[:3]:
                inst = s.instances[0] if getattr(s, "instances", None) else None
                if inst is not None:
                    strings.append(f"{s.identifier}@{inst.offset}={escape(bytes(inst.matched_data).decode('latin-1'), 80)}")
            level = str(m.meta.get("confidence_level", "")).lower()
            if "HUNTING" in m.rule:
                level = "low"
            conf = level if level in ("high", "medium", "low") else None
            yield Hit(rule, entry.path, f"YARA {m.rule}: {', '.join(strings) or 'condition matched'}", confidence=conf)

    def content(self, ctx: Context, rule: Rule, entry: Entry, data: bytes, text: str) -> Iterable[Hit]:
        compiled = _compiled(ctx, rule)
        if compiled is None:
            return
        ctx.stat(self.name, "checked")
        yield from self._hits(ctx, rule, entry, compiled.match(data=data, timeout=MATCH_TIMEOUT_S))

    def scan_file(self, ctx: Context, rule: Rule, entry: Entry, path: Path) -> Iterable[Hit]:
        compiled = _compiled(ctx, rule)
        if compiled is None:
            return
        ctx.stat(self.name, "checked")
        yield from self._hits(ctx, rule, entry, compiled.match(filepath=str(path), timeout=MATCH_TIMEOUT_S))
