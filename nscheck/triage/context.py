"""Per-appliance state of one triage run: rules, options, the time reference and coverage counters.

Everything here is bounded (counters, capped lists, small heaps), so memory does not grow with the
number of files in the artefacts.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nscheck.signatures.triage import TriageRules

__all__ = ["Context", "TriageOptions", "iso"]

MAX_LISTED = 200


@dataclass(frozen=True)
class TriageOptions:
    paths: tuple[str, ...] = ()
    name: str | None = None
    format: str = "table"
    output_dir: str | None = None
    jsonl: str | None = None
    fail_on: str = "high"
    fail_on_unknown: bool = False
    strict: bool = False  # a check that could not run fails the run: exit 2
    collected_at: dt.datetime | None = None
    recent_days: int | None = None  # overrides the rule's days
    signatures: str | None = None
    content_cap: int = 8 * 1024 * 1024  # bytes of one file handed to content checks
    hash_cap: int = 4 * 1024**3  # files larger than this are not hashed
    max_member_bytes: int = 2 * 1024**3  # archive members above this are not read at all
    max_log_bytes: int = 16 * 1024**3  # decompressed bytes read from one log file (a gzip bomb stops here)
    # Total budgets of one triage (a planted archive must not cost hours, gigabytes of RAM or a
    # 400 MB JSONL). What was cut is said in coverage["budgets"], and a cut triage is never clean.
    max_read_bytes: int = 32 * 1024**3  # bytes read from members plus decompressed log bytes, all files
    max_seconds: float = 1800.0  # wall time of the whole triage
    max_findings: int = 2000  # findings kept (grouped ones count once); the rest are counted
    group_after: int = 5  # files hit by one rule in one directory listed one by one; beyond, one grouped finding
    log_bomb_ratio: int = 250  # a compressed log inflating beyond this ratio (past log_bomb_floor) is a bomb
    log_bomb_floor: int = 1024 * 1024  # decompressed bytes before the ratio is judged (real logs: 10-30:1)
    yara: bool = True  # False: behave as if yara-python were missing (tests, --no-yara)
    quiet: bool = False
    state: str | None = None  # --state: record the result (a clean triage closes compromise assessments)


def iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    try:
        return dt.datetime.fromtimestamp(ts, dt.UTC).isoformat().replace("+00:00", "Z")
    except (OverflowError, OSError, ValueError):
        return None


@dataclass
class Context:
    rules: TriageRules
    opts: TriageOptions
    tmpdir: Path
    source_kind: str = "directory"
    entries: int = 0
    files: int = 0
    bytes_read: int = 0
    newest_mtime: float | None = None
    # family -> counters (files examined, hits, not checkable ...)
    family_stats: dict[str, Counter[str]] = field(default_factory=dict)
    family_notes: dict[str, list[str]] = field(default_factory=dict)
    present: Counter[str] = field(default_factory=Counter)  # top areas seen (e.g. /var/netscaler/logon)
    unreadable: list[dict[str, str]] = field(default_factory=list)
    unreadable_count: int = 0
    truncated_content: int = 0
    logs: list[dict[str, Any]] = field(default_factory=list)
    log_count: int = 0
    nsconf_header: str | None = None
    nsconf_path: str | None = None
    facts: dict[str, bool] = field(default_factory=dict)
    kernels: list[tuple[str, float | None]] = field(default_factory=list)
    state: dict[str, Any] = field(default_factory=dict)  # per-family scratch (bounded by each family)
    stat_listing: list[str] = field(default_factory=list)
    have_birthtime: bool = False
    have_ctime: bool = False
    budget_bytes: int = 0  # what counts against opts.max_read_bytes
    deadline: float = float("inf")  # time.monotonic() value at which opts.max_seconds is spent
    cut: dict[str, str] = field(default_factory=dict)  # budget name -> what was cut (coverage)
    budget_skipped: int = 0  # files whose content was not read because a budget was spent

    @property
    def spent(self) -> bool:
        """The read or time budget is spent: no more content is read."""
        return "bytes" in self.cut or "time" in self.cut

    def bytes_left(self) -> int:
        return max(0, self.opts.max_read_bytes - self.budget_bytes)

    def out_of_time(self) -> bool:
        import time

        if "time" in self.cut:
            return True
        if time.monotonic() >= self.deadline:
            self.cut["time"] = (f"the time budget (--max-time {self.opts.max_seconds:g} s) was spent after {self.entries} "
                                "entries: later entries and the rest of the file being read were not examined")
            return True
        return False

    def spend(self, n: int) -> bool:
        """Count ``n`` bytes; False once the byte budget is spent (the reader stops there)."""
        self.budget_bytes += n
        if self.budget_bytes >= self.opts.max_read_bytes and "bytes" not in self.cut:
            self.cut["bytes"] = (f"the read budget (--max-read {self.opts.max_read_bytes} bytes) was spent after "
                                 f"{self.entries} entries: later files were checked by name and metadata only")
        return "bytes" not in self.cut

    def stat(self, family: str, key: str, n: int = 1) -> None:
        self.family_stats.setdefault(family, Counter())[key] += n

    def family_note(self, family: str, text: str) -> None:
        notes = self.family_notes.setdefault(family, [])
        if text not in notes and len(notes) < 20:
            notes.append(text)

    def unreadable_file(self, path: str, reason: str) -> None:
        self.unreadable_count += 1
        if len(self.unreadable) < MAX_LISTED:
            self.unreadable.append({"path": path, "reason": reason})

    def collected_reference(self, bundle_time: dt.datetime | None) -> tuple[dt.datetime | None, str]:
        if self.opts.collected_at is not None:
            return self.opts.collected_at, "--collected-at"
        if bundle_time is not None:
            return bundle_time, "bundle name"
        if self.newest_mtime is not None:
            return dt.datetime.fromtimestamp(self.newest_mtime, dt.UTC), "newest file modification time"
        return None, "unknown"
