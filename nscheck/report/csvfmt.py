"""CSV: one row per host x bulletin, one per indicator hit, and one ``host`` row for a host with
neither, so no host disappears. Cells are one line, and cells a spreadsheet would run as a
formula (= + - @ and tab/CR) are prefixed with an apostrophe."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from pathlib import Path

from nscheck.model import FindingKind, HostResult, finding_id, host_key, indicator_rule_key
from nscheck.report.base import RunInfo, RunSummary
from nscheck.report.files import atomic_write
from nscheck.report.order import DEFAULT_SORT, SortedSpool, key_of
from nscheck.report.text import build_text, clean, finding_meta, finding_severity, fix_to

COLUMNS = (
    "target", "url", "host_verdict", "status", "netscaler", "roles", "build", "edition", "row", "id", "cves",
    "title", "name", "cvss", "severity", "kev", "exploited", "verdict", "fixed_in", "fix_to", "where", "finding_id",
    "transition", "suppressed", "error",
)


def _cell(v: object) -> str:
    s = clean("" if v is None else v, 1000)
    if s[:1] in ("=", "+", "-", "@"):
        s = "'" + s
    return s


def _yn(b: bool | None) -> str:
    return {True: "yes", False: "no", None: ""}[b]


def rows_of(r: HostResult) -> list[list[str]]:
    key = host_key(r)
    base = {
        "target": r.target, "url": r.url or "", "host_verdict": r.verdict.value, "status": r.status.value,
        "netscaler": _yn(r.product.is_netscaler), "roles": " ".join(r.product.roles), "build": build_text(r),
        "edition": (r.build.edition or "") if r.build else "", "fix_to": fix_to(r), "error": r.error or "",
    }
    rows: list[dict[str, object]] = []
    for a in r.advisories:
        fid = finding_id(key, FindingKind.ADVISORY, a.id)
        meta = finding_meta(r, fid)
        rows.append({**base, "row": "bulletin", "id": a.id, "cves": " ".join(a.cves), "title": a.title,
                     "name": ", ".join(a.names), "cvss": "" if a.cvss is None else f"{a.cvss:.1f}", "severity": finding_severity(a).value,
                     "kev": _yn(a.kev), "exploited": _yn(a.exploited), "verdict": a.verdict.value,
                     "fixed_in": a.fixed_in or "", "finding_id": "" if a.verdict.value == "not_vulnerable" else fid,
                     "transition": meta.get("transition") or "", "suppressed": _yn(bool(meta.get("suppressed")))})
    for i in r.indicators:
        rid = indicator_rule_key(i)
        fid = finding_id(key, FindingKind.INDICATOR, rid)
        meta = finding_meta(r, fid)
        where = (i.path or i.url or "") + (f":{i.line}" if i.path and i.line is not None else "")
        rows.append({**base, "row": "indicator", "id": i.id, "title": i.title, "severity": i.severity.value,
                     "verdict": "hit", "where": where, "finding_id": fid, "transition": meta.get("transition") or "",
                     "suppressed": _yn(bool(meta.get("suppressed")))})
    if not rows:
        rows.append({**base, "row": "host"})
    return [[_cell(row.get(c, "")) for c in COLUMNS] for row in rows]


def render_csv(results: Iterable[HostResult]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(COLUMNS)
    for r in results:
        w.writerows(rows_of(r))
    return buf.getvalue()


class CsvSink:
    """Rows go to a temp file next to the target as each host completes (nothing buffered in
    memory); the finished file replaces the target atomically at the end. Sorted (urgency by
    default), each host's rows are spooled to disk and written in order at the end."""

    def __init__(self, path: str, *, sort: str = DEFAULT_SORT):
        self.path = Path(path)
        self.tmp = self.path.with_name(f".{self.path.name}.partial")  # replaced by an unpredictable name in open()
        self.fh: io.TextIOWrapper | None = None
        self.sort = sort
        self.spool: SortedSpool | None = None if sort == "input" else SortedSpool()

    def open(self, run: RunInfo) -> None:
        import os
        import tempfile

        from nscheck.report.files import umask_mode

        self.path.parent.mkdir(parents=True, exist_ok=True)
        # mkstemp: O_EXCL and a random name, so a symlink planted at a predictable temp name
        # cannot redirect the write; the finished file gets the umask's mode like every report
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name[:40]}.", suffix=".partial", dir=self.path.parent)
        os.fchmod(fd, umask_mode())
        self.tmp = Path(tmp)
        self.fh = open(fd, "w", encoding="utf-8", newline="")  # noqa: SIM115 - closed in close()
        self.w = csv.writer(self.fh, lineterminator="\n")
        self.w.writerow(COLUMNS)

    def host(self, result: HostResult) -> None:
        assert self.fh is not None
        if self.spool is not None:
            buf = io.StringIO()
            csv.writer(buf, lineterminator="\n").writerows(rows_of(result))
            self.spool.add(key_of(result, self.sort), buf.getvalue())
            return
        self.w.writerows(rows_of(result))
        self.fh.flush()

    def close(self, summary: RunSummary) -> None:
        assert self.fh is not None
        if self.spool is not None:
            for chunk in self.spool.chunks():
                self.fh.write(chunk)
        self.fh.flush()
        import os

        os.fsync(self.fh.fileno())
        self.fh.close()
        os.replace(self.tmp, self.path)


__all__ = ["COLUMNS", "CsvSink", "atomic_write", "render_csv", "rows_of"]
