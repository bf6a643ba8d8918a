"""What every check family shares: the registry, path selection, hits and text matching."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from nscheck.signatures.triage import Rule
from nscheck.triage.sources import Entry

if TYPE_CHECKING:
    from nscheck.triage.context import Context

__all__ = [
    "FAMILY_REGISTRY",
    "Family",
    "Hit",
    "aliases",
    "escape",
    "match_text",
    "register",
    "under",
]

MAX_HITS_PER_FILE = 20
EVIDENCE_CHARS = 240


@dataclass(frozen=True, slots=True)
class Hit:
    rule: Rule
    path: str
    evidence: str
    line: int | None = None
    file: dict[str, Any] | None = None  # set when the hit is made after the file was read
    confidence: str | None = None  # overrides the rule's (YARA meta, for example)
    severity: str | None = None  # overrides the rule's (a benign-looking variant of a log hit, for example)


@dataclass
class Family:
    """A check family: declared rules + these small functions. Subclasses override what they need."""

    name: str = ""
    needs_content: bool = False  # wants the file's (capped) bytes
    head_only: bool = False  # only the first bytes (magic numbers)
    uses_file_entries_only: bool = True
    state: dict[str, Any] = field(default_factory=dict)

    def select(self, rule: Rule, entry: Entry) -> bool:
        if self.uses_file_entries_only and entry.kind != "file":
            return False
        return default_select(rule, entry)

    def meta(self, ctx: Context, rule: Rule, entry: Entry) -> Iterable[Hit]:
        return ()

    def content(self, ctx: Context, rule: Rule, entry: Entry, data: bytes, text: str) -> Iterable[Hit]:
        return ()

    def finish(self, ctx: Context, rule: Rule) -> Iterable[Hit]:
        return ()


FAMILY_REGISTRY: dict[str, type[Family]] = {}


def register(cls: type[Family]) -> type[Family]:
    FAMILY_REGISTRY[cls.name] = cls
    return cls


@lru_cache(maxsize=4096)
def aliases(path: str) -> tuple[str, ...]:
    """/nsconfig is /flash/nsconfig on the appliance; rules may name either."""
    if path.startswith("/flash/nsconfig/") or path == "/flash/nsconfig":
        return (path, path[len("/flash"):])
    if path.startswith("/nsconfig/") or path == "/nsconfig":
        return (path, "/flash" + path)
    return (path,)


def under(path: str, prefix: str) -> bool:
    """``prefix`` names this path or a directory above it."""
    if prefix == "/":
        return True
    p = prefix.rstrip("/")
    return path == p or path.startswith(p + "/")


def known(path: str, known_paths: tuple[str, ...]) -> bool:
    """NCSC convention: a known path ending in '/' is a prefix, otherwise an exact path."""
    for k in known_paths:
        if k.endswith("/"):
            if path.startswith(k) or path == k.rstrip("/"):
                return True
        elif path == k:
            return True
    return False


@lru_cache(maxsize=1024)
def _paths_rx(paths: tuple[str, ...]) -> re.Pattern[str] | None:
    """One regex for "this path or under it" over all of a rule's paths (None: everything)."""
    if not paths or "/" in paths:
        return None
    alts = "|".join(re.escape(p.rstrip("/")) for p in paths)
    return re.compile(f"(?:{alts})(?:/|$)")


@lru_cache(maxsize=1024)
def _known_rx(known_paths: tuple[str, ...]) -> re.Pattern[str] | None:
    if not known_paths:
        return None
    alts = [re.escape(k) + ".*" if k.endswith("/") else re.escape(k) for k in known_paths]
    alts += [re.escape(k.rstrip("/")) for k in known_paths if k.endswith("/")]
    return re.compile("(?:" + "|".join(alts) + ")$", re.DOTALL)


def default_select(rule: Rule, entry: Entry) -> bool:
    if rule.max_size is not None and entry.kind == "file" and entry.size > rule.max_size:
        return False
    if rule.min_size is not None and entry.size < rule.min_size:
        return False
    base = entry.path.rsplit("/", 1)[-1].lower()
    if rule.extensions and not base.endswith(rule.extensions):
        return False
    if rule.names and not any(fnmatch.fnmatchcase(base, n) for n in rule.names):
        return False
    names = aliases(entry.path)
    prx = _paths_rx(rule.paths)
    if prx is not None and not any(prx.match(n) for n in names):
        return False
    krx = _known_rx(rule.known_paths)
    return not (krx is not None and any(krx.match(n) for n in names))


_ESC = re.compile(r"[^\x20-\x7e]")


def escape(s: str, limit: int = EVIDENCE_CHARS) -> str:
    """Printable, single-line, trimmed: control and non-ASCII characters become \\xNN / \\uNNNN."""

    def rep(m: re.Match[str]) -> str:
        c = m.group(0)
        o = ord(c)
        if 0xDC80 <= o <= 0xDCFF:  # surrogateescape'd byte
            return f"\\x{o - 0xDC00:02x}"
        if o < 0x100:
            return {"\t": "\\t", "\n": "\\n", "\r": "\\r"}.get(c, f"\\x{o:02x}")
        return f"\\u{o:04x}"

    out = _ESC.sub(rep, s.strip())
    return out if len(out) <= limit else out[: limit - 1] + "…"


def _line_bounds(text: str, start: int, end: int) -> tuple[int, str]:
    ls = text.rfind("\n", 0, start) + 1
    le = text.find("\n", end)
    if le < 0:
        le = len(text)
    line_no = text.count("\n", 0, start) + 1
    line = text[ls:le]
    if len(line) > EVIDENCE_CHARS:
        # centre the snippet on the match so long minified lines still show it
        off = max(0, start - ls - 80)
        line = ("…" if off else "") + line[off : off + EVIDENCE_CHARS - 2]
    return line_no, line


def match_text(rule: Rule, text: str, lowered: str | None = None) -> Iterator[tuple[int, str, str]]:
    """(line number, line snippet, matched text) for every string / regex hit of ``rule`` in ``text``,
    minus allowlisted matches and ignored lines; at most one hit per line, MAX_HITS_PER_FILE in all."""
    if rule.require and not any(rx.search(text) for rx in rule.require):
        return
    low = lowered if lowered is not None else text.lower()
    seen_lines: set[int] = set()
    found: list[tuple[int, int, str]] = []
    for s in rule.strings:
        pos = low.find(s)
        while pos >= 0 and len(found) < MAX_HITS_PER_FILE * 4:
            found.append((pos, pos + len(s), text[pos : pos + len(s)]))
            pos = low.find(s, pos + len(s))
    for rx in rule.regexes:
        hit = "hit" in rx.groupindex  # a line-anchored rule marks what to show with (?P<hit>…)
        for m in rx.finditer(text):
            g = "hit" if hit and m.start("hit") >= 0 else 0
            if any(a.search(m.group(g)) for a in rule.allowlist):
                continue
            found.append((m.start(g), m.end(g), m.group(g)))
            if len(found) >= MAX_HITS_PER_FILE * 8:
                break
    found.sort()
    emitted = 0
    for start, end, matched in found:
        line_no, line = _line_bounds(text, start, end)
        if line_no in seen_lines:
            continue
        if rule.ignore and any(ig.search(line) for ig in rule.ignore):
            continue
        seen_lines.add(line_no)
        yield line_no, line, matched
        emitted += 1
        if emitted >= MAX_HITS_PER_FILE:
            return
