"""known_bad_files: published implant paths and names, and SHA-256 hashes of published samples."""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable
from dataclasses import dataclass

from nscheck.signatures.triage import Rule
from nscheck.triage.checks.base import Family, Hit, aliases, default_select, known, register
from nscheck.triage.context import Context
from nscheck.triage.sources import Entry


@register
@dataclass
class KnownBadFiles(Family):
    name: str = "known_bad_files"
    uses_file_entries_only: bool = False

    def select(self, rule: Rule, entry: Entry) -> bool:
        if rule.hashes:
            return entry.kind == "file"
        if rule.names:
            return default_select(rule, entry)
        return any(known(n, rule.files) for n in aliases(entry.path))

    def meta(self, ctx: Context, rule: Rule, entry: Entry) -> Iterable[Hit]:
        ctx.stat(self.name, "checked")
        if rule.hashes:
            return
        base = entry.path.rsplit("/", 1)[-1].lower()
        if rule.names and not any(fnmatch.fnmatchcase(base, n) for n in rule.names):
            return
        what = {"dir": "directory", "symlink": "symbolic link"}.get(entry.kind, "file")
        yield Hit(rule, entry.path, f"{what} present at a published indicator path ({entry.size} bytes)")

    def hashed(self, ctx: Context, rule: Rule, entry: Entry, sha256: str) -> Iterable[Hit]:
        label = rule.hashes.get(sha256)
        if label is not None:
            yield Hit(rule, entry.path, f"sha256 {sha256} = {label}")
