"""Triage one appliance's artefacts: one streaming pass over the source, every family, one result.

Each entry is selected by the rules that care about it; a regular file is read exactly once
(hashing it, keeping at most ``content_cap`` bytes for content checks, streaming log lines, or
spooling a core dump into the private temp dir for YARA). The result is a ``HostResult`` of kind
"triage" with indicators (check=family, path, line, file={size, mtime, sha256}) and a coverage
section that says what was and was not looked at.
"""

from __future__ import annotations

import bz2
import datetime as dt
import gzip
import hashlib
import io
import lzma
import re
import shutil
import tarfile
import tempfile
import time
import zlib
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import IO, Any

from nscheck.build import Build, BuildError, parse_build
from nscheck.model import (
    BuildInfo,
    Confidence,
    Coverage,
    Evidence,
    HostResult,
    HostStatus,
    Indicator,
    Precondition,
    ProductInfo,
    Severity,
    SkipKind,
    Skipped,
)
from nscheck.safetext import escape_undecodable
from nscheck.signatures.triage import Rule, TriageRules
from nscheck.triage import logs as logmod
from nscheck.triage.checks import FAMILY_REGISTRY, Family, Hit
from nscheck.triage.checks.base import aliases
from nscheck.triage.checks.known_bad_files import KnownBadFiles
from nscheck.triage.checks.yara_scan import YaraScan, yara_module
from nscheck.triage.context import Context, TriageOptions, iso
from nscheck.triage.sources import (
    LOOSE_NOTE,
    Entry,
    Opener,
    Source,
    SourceUnavailable,
    ZipSource,
    is_loose,
    open_source,
)

__all__ = ["triage", "triage_path"]

HEAD_BYTES = 64
CHUNK = 1 << 16
MAX_LINE = 1 << 16
# Real compressed logs cost 3+ compressed bytes per line (times and counters differ): under 0.3
# lines per compressed byte. Judged from _BOMB_MIN_LINES lines on, so a short repetitive log is no bomb.
_BOMB_LINES_PER_BYTE = 2
_BOMB_MIN_LINES = 20_000
_NSCONF_HEADER = re.compile(r"^#NS(\d+\.\d+)[ \t]+Build[ \t]+(\d+\.\d+)[^\n]*", re.MULTILINE)
_KERNEL = re.compile(r"^ns-(\d+\.\d+)-(\d+\.\d+)(?:_nc)?(?:_64)?\.gz$")
_STAT_LISTING = re.compile(r"^(stat|timeline|fs_?timeline|stat_listing|file_?stat)[^/]*\.(csv|txt|lst)$", re.IGNORECASE)
_FACTS = {
    "gateway": re.compile(r"^add vpn vserver\s", re.MULTILINE),
    "aaa": re.compile(r"^add authentication vserver\s", re.MULTILINE),
    "saml_sp": re.compile(r"^add authentication samlAction\s", re.MULTILINE | re.IGNORECASE),
    "saml_idp": re.compile(r"^add authentication samlIdPProfile\s", re.MULTILINE | re.IGNORECASE),
}
# What a full collection holds, and what goes unchecked without it (NOTES §5.2).
EXPECTED_AREAS: dict[str, str] = {
    "/var/netscaler/logon": "persistent web root: webshell, portal_exfil, tiny_backdoor, recent_changes",
    "/var/vpn": "portal themes and bookmarks: portal and webshell checks",
    "/netscaler/ns_gui": "RAM-disk web root (lost at reboot): admin_ui and vpn checks",
    "/netscaler/portal": "RAM-disk portal templates and scripts (CVE-2019-19781 injections)",
    "/nsconfig": "saved configuration: ns.conf, rc.netscaler, crontab (build and exposure facts)",
    "/etc": "running httpd.conf, rc scripts, crontab (RAM disk)",
    "/var/log": "logs: ns.log (CVE-2025-5777 guidance), httpaccess, bash/sh history, cron",
    "/var/core": "NSPPE core dumps (YARA)",
    "/var/tmp": "staging directory (implants, setuid shell)",
    "/var/cron/tabs": "user crontabs",
}
_LOG_NEXT = "collect /var/log (ns.log*, httpaccess*, bash.log*, sh.log*, notice.log*, messages*, cron*)"


class _HashingReader(io.RawIOBase):
    """Reads at most ``limit`` bytes of ``raw`` and hashes what passes through; stops early (``cut``)
    when the triage's read or time budget is spent."""

    def __init__(self, raw: IO[bytes], limit: int, ctx: Context | None = None, scratch: bytearray | None = None):
        self.raw = raw
        self.scratch = scratch if scratch is not None else bytearray(CHUNK)
        self.limit = limit
        self.n = 0
        self.h = hashlib.sha256()
        self.more = False
        self.cut = False
        self.ctx = ctx

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        if self.n >= self.limit:
            if not self.cut and self.raw.read(1):
                self.more = True
            return 0
        want = min(len(b), self.limit - self.n)
        ctx = self.ctx
        if ctx is not None:
            if ctx.spent or ctx.out_of_time():
                self.cut = self.more = True
                return 0
            want = min(want, ctx.bytes_left())
        data = self.raw.read(want)
        if not data:
            return 0
        k = len(data)
        b[:k] = data
        self.h.update(data)
        self.n += k
        if ctx is not None:
            ctx.spend(k)
        return k

    def drain(self) -> None:
        while self.readinto(self.scratch):
            pass


def _file_info(entry: Entry, sha256: str | None) -> dict[str, Any]:
    return {
        "size": entry.size, "mtime": iso(entry.mtime), "sha256": sha256,
        "mode": f"{entry.mode:04o}" if entry.mode is not None else None, "uid": entry.uid, "gid": entry.gid,
    }


class _Run:
    def __init__(self, rules: TriageRules, opts: TriageOptions, source: Source, tmpdir: Path):
        self.rules = rules
        self.opts = opts
        self.source = source
        self.ctx = Context(rules=rules, opts=opts, tmpdir=tmpdir, source_kind=source.kind)
        # one read buffer per triage, reused for every file (allocating one per file dominated big
        # runs); per triage, not per module, so appliances can be triaged in parallel threads
        self.scratch = bytearray(CHUNK)
        self.ctx.state["bundle_time"] = source.bundle_time
        self.families: dict[str, Family] = {name: cls() for name, cls in FAMILY_REGISTRY.items()}
        self.pairs: list[tuple[Family, Rule]] = [(self.families[r.check], r) for r in rules.rules]
        self.indicators: dict[tuple[str, str, int | None], Indicator] = {}
        self.selected: dict[str, int] = {}
        # files listed one by one per (rule, directory); hits in further files become one grouped
        # finding (several lines of one listed file stay listed: the log family caps those itself)
        self.per_dir: dict[tuple[str, str], set[str]] = {}
        self.groups: dict[tuple[str, str], dict[str, Any]] = {}
        self.dropped: dict[str, int] = {}  # severity -> hits not kept (--max-findings)

    # -- hits -> indicators ------------------------------------------------------------------
    def _emit(self, hits: Iterable[Hit], info: dict[str, Any] | None) -> None:
        opts = self.opts
        for h in hits:
            key = (h.rule.id, h.path, h.line)
            if key in self.indicators:
                continue
            r = h.rule
            sev = Severity(h.severity) if h.severity else r.severity
            path = escape_undecodable(h.path) if isinstance(h.path, str) else h.path
            directory = (path or "").rsplit("/", 1)[0] or "/"
            gkey = (r.id, directory)
            listed = self.per_dir.setdefault(gkey, set())
            if path not in listed and len(listed) < opts.group_after:
                listed.add(path or "")
            if path not in listed:
                # 100,000 planted files are one finding per rule and directory, with a count
                g = self.groups.setdefault(gkey, {"rule": r, "hits": 0, "severity": sev, "examples": []})
                g["hits"] += 1
                if sev.rank > g["severity"].rank:
                    g["severity"] = sev
                if len(g["examples"]) < 10:
                    name = (path or "").rsplit("/", 1)[-1]
                    g["examples"].append(f"{name}:{h.line}" if h.line else name)
                self.ctx.stat(r.check, "hits")
                continue
            if len(self.indicators) >= opts.max_findings:
                self.dropped[sev.value] = self.dropped.get(sev.value, 0) + 1
                self.ctx.stat(r.check, "hits")
                continue
            conf = Confidence(h.confidence) if h.confidence else r.confidence
            self.indicators[key] = Indicator(
                id=r.id, title=r.title, severity=Severity(h.severity) if h.severity else r.severity, confidence=conf,
                evidence=escape_undecodable(h.evidence) if isinstance(h.evidence, str) else h.evidence, check=r.check,
                path=path, line=h.line, file=h.file if h.file is not None else info,
                references=(r.source, *r.references) if r.source else r.references, advice=r.advice,
            )
            self.ctx.stat(r.check, "hits")

    # -- one entry ---------------------------------------------------------------------------
    def entry(self, entry: Entry, opener: Opener | None) -> None:
        ctx = self.ctx
        if escape_undecodable(entry.path + (entry.link or "") + entry.origin) != entry.path + (entry.link or "") + entry.origin:
            # a member name that is not UTF-8: keep going with its bytes shown as \xNN (names are data)
            entry = replace(entry, path=escape_undecodable(entry.path), origin=escape_undecodable(entry.origin),
                            link=escape_undecodable(entry.link) if entry.link else entry.link)
        ctx.entries += 1
        if entry.birthtime is not None:
            ctx.have_birthtime = True
        if entry.ctime is not None:
            ctx.have_ctime = True
        for name in aliases(entry.path):
            for area in EXPECTED_AREAS:
                if name == area or name.startswith(area + "/"):
                    ctx.present[area] += 1
        base = entry.path.rsplit("/", 1)[-1]
        if entry.kind == "file" and entry.path.startswith("/.collector/"):
            ctx.present["/.collector/shell"] += 1
        if entry.kind == "file" and base.lower().startswith("newnslog"):
            ctx.stat("log", "newnslog_not_read")
        if entry.kind == "file":
            ctx.files += 1
            if entry.mtime is not None and not entry.path.startswith("/.collector/"):
                ctx.newest_mtime = max(ctx.newest_mtime or entry.mtime, entry.mtime)
            if entry.path.startswith("/flash/") and _KERNEL.match(base) and len(ctx.kernels) < 20:
                ctx.kernels.append((base, entry.mtime))
        selected = [(f, r) for f, r in self.pairs if f.select(r, entry)]
        seen_fams = {f.name for f, _ in selected}
        for name in seen_fams:
            ctx.stat(name, "entries")
        hits: list[Hit] = []
        for f, r in selected:
            hits.extend(f.meta(ctx, r, entry))
        is_nsconf = entry.path in ("/nsconfig/ns.conf", "/flash/nsconfig/ns.conf") or (
            base == "ns.conf" and is_loose(entry.path) and ctx.nsconf_path is None)
        is_listing = entry.kind == "file" and bool(_STAT_LISTING.match(base))
        if entry.kind == "file" and opener is not None and ctx.spent:
            # a budget is spent: name and metadata checks still ran, the content is not read
            ctx.budget_skipped += 1
            self._emit(hits, _file_info(entry, None))
            return
        if entry.kind != "file" or opener is None:
            if entry.kind == "file" and opener is None:
                ctx.unreadable_file(entry.path, "content not available (refused or capped)")
            self._emit(hits, _file_info(entry, None) if entry.kind == "file" else None)
            return
        sha, _more = self._read(entry, opener, selected, hits, is_nsconf, is_listing)
        info = _file_info(entry, sha)
        if sha is not None:
            for f, r in selected:
                if isinstance(f, KnownBadFiles) and r.hashes:
                    hits.extend(f.hashed(ctx, r, entry, sha))
        self._emit(hits, info)

    def _read(self, entry: Entry, opener: Opener, selected: list[tuple[Family, Rule]], hits: list[Hit],
              is_nsconf: bool, is_listing: bool) -> tuple[str | None, bool]:
        ctx, opts = self.ctx, self.opts
        log_rules = [r for f, r in selected if f.name == "log"]
        content = [(f, r) for f, r in selected if f.needs_content and f.name != "log"]
        gz_name = entry.path.endswith(".gz")
        spool_rules = [(f, r) for f, r in content if isinstance(f, YaraScan)
                       and (entry.size > opts.content_cap or gz_name) and f.available(ctx, r)]
        content = [(f, r) for f, r in content if (f, r) not in spool_rules]
        unscanned = [(f, r) for f, r in content if isinstance(f, YaraScan) and not f.available(ctx, r)]
        if unscanned:
            ctx.stat("yara", "not_scanned", len(unscanned))
            content = [p for p in content if p not in unscanned]
        want_full = is_nsconf or any(not f.head_only for f, _ in content)
        cap = opts.content_cap if want_full else (HEAD_BYTES if content else 0)
        try:
            raw = opener()
        except OSError as e:
            ctx.unreadable_file(entry.path, e.strerror or str(e))
            return None, False
        hr = _HashingReader(raw, opts.hash_cap, ctx, self.scratch)
        data = b""
        try:
            with raw:
                if log_rules or is_listing:
                    hits.extend(self._lines(entry, hr, log_rules, is_listing))
                elif spool_rules:
                    data = self._spool(entry, hr, spool_rules, hits, gz_name)
                else:
                    buf = bytearray()
                    chunk = self.scratch
                    while True:
                        k = hr.readinto(chunk)
                        if not k:
                            break
                        if len(buf) < cap:
                            buf += chunk[: min(k, cap - len(buf))]
                    data = bytes(buf)
                hr.drain()
        except (OSError, EOFError, zlib.error, tarfile.TarError, lzma.LZMAError) as e:
            ctx.unreadable_file(entry.path, f"read failed: {type(e).__name__}: {e}")
            return None, False
        ctx.bytes_read += hr.n
        complete = not hr.more and hr.n >= entry.size
        if hr.cut:
            ctx.unreadable_file(entry.path, f"read stopped after {hr.n} of {entry.size} bytes: triage budget spent "
                                "(see coverage budgets)")
        elif hr.n < entry.size and hr.n < opts.hash_cap:
            ctx.unreadable_file(entry.path, f"only {hr.n} of {entry.size} bytes readable (truncated copy or archive)")
        if want_full and entry.size > opts.content_cap:
            ctx.truncated_content += 1
        if content and data:
            text = data.decode("utf-8", "surrogateescape")
            for f, r in content:
                try:
                    hits.extend(f.content(ctx, r, entry, data, text))
                except Exception as e:  # one odd file (e.g. a YARA timeout) never stops the run
                    ctx.family_note(f.name, f"{entry.path}: {type(e).__name__}: {e}")
            if is_nsconf:
                self._nsconf(entry, text)
        elif is_nsconf and data:
            self._nsconf(entry, data.decode("utf-8", "surrogateescape"))
        return (hr.h.hexdigest() if complete else None), hr.more

    def _lines(self, entry: Entry, hr: _HashingReader, log_rules: list[Rule], is_listing: bool) -> list[Hit]:
        br = io.BufferedReader(hr, 1 << 16)
        stream: IO[bytes] = br
        head = br.peek(6)[:6]
        if head[:2] == b"\x1f\x8b":
            stream = gzip.GzipFile(fileobj=br, mode="rb")  # type: ignore[assignment]  # a binary stream
        elif head[:3] == b"BZh":
            stream = bz2.BZ2File(br, "rb")
        elif head == b"\xfd7zXZ\x00":
            stream = lzma.LZMAFile(br, "rb")  # noqa: SIM115 - read to the end below, closed with the member
        lines = self._whole_lines(entry, stream, hr if stream is not br else None)
        if is_listing:
            return self._listing(entry, lines)
        try:
            return logmod.scan_lines(self.ctx, log_rules, entry.path, lines)
        except (EOFError, zlib.error, gzip.BadGzipFile, OSError, lzma.LZMAError) as e:
            self.ctx.unreadable_file(entry.path, f"compressed log damaged, read up to the damage ({e})")
            return []

    def _whole_lines(self, entry: Entry, stream: IO[bytes], packed: _HashingReader | None = None) -> Iterator[bytes]:
        """Lines of at most MAX_LINE bytes, one per real line (an over-long line is cut, not split,
        so line numbers stay those of the decompressed file); stops after ``max_log_bytes``, when
        the triage budgets are spent, or when a compressed log (``packed`` counts its compressed
        bytes) inflates like a bomb (a 19 KB ns.log.0.gz of 10 M lines)."""
        ctx = self.ctx
        total = 0
        cap = self.opts.max_log_bytes
        count = 0
        while True:
            line = stream.readline(MAX_LINE)
            if not line:
                return
            total += len(line)
            if len(line) == MAX_LINE and not line.endswith(b"\n"):
                while True:
                    rest = stream.readline(MAX_LINE)
                    total += len(rest)
                    if not rest or rest.endswith(b"\n"):
                        break
            count += 1
            if packed is not None and not ctx.spend(len(line)):
                ctx.unreadable_file(entry.path, f"log read up to line {count}: triage read budget spent")
                return
            if count % 1024 == 0:
                if ctx.out_of_time():
                    ctx.unreadable_file(entry.path, f"log read up to line {count}: triage time budget spent")
                    return
                ratio = self.opts.log_bomb_ratio
                # Real log lines differ (times, counters): each costs bytes of compressed input. A
                # bomb of identical lines costs almost none: judge bytes and lines per packed byte.
                packed_n = max(packed.n, 1) if packed is not None else 0
                bytes_bomb = packed is not None and total > self.opts.log_bomb_floor and total > ratio * packed_n
                lines_bomb = packed is not None and count >= _BOMB_MIN_LINES and count > _BOMB_LINES_PER_BYTE * packed_n
                if bytes_bomb or lines_bomb:
                    ctx.stat("log", "bombs")
                    why = (f"compressed log inflates more than {ratio}:1 or holds more than {_BOMB_LINES_PER_BYTE} "
                           f"lines per compressed byte ({packed_n} bytes -> {total} bytes, {count} lines so far): a "
                           f"decompression bomb or a flood of identical lines; read up to line {count} only")
                    ctx.unreadable_file(entry.path, why)
                    # what follows the flood was not examined: the triage is not a clean one
                    if len(ctx.cut) < 20:
                        ctx.cut[f"bomb:{entry.path}"] = f"{entry.path}: {why}"
                    return
            yield line
            if total >= cap:
                self.ctx.unreadable_file(entry.path, f"log read up to its first {cap} bytes (decompressed); the rest "
                                         "was not checked (a decompression bomb, or a log to split first)")
                return

    def _spool(self, entry: Entry, hr: _HashingReader, pairs: Sequence[tuple[Family, Rule]], hits: list[Hit],
               gz: bool) -> bytes:
        limit = min(r.max_size or self.opts.content_cap for _f, r in pairs)
        stream: IO[bytes] = io.BufferedReader(hr, CHUNK)
        if gz:
            stream = gzip.GzipFile(fileobj=stream, mode="rb")  # type: ignore[assignment]  # a binary stream
        with tempfile.NamedTemporaryFile(dir=self.ctx.tmpdir, prefix="spool-", delete=True) as tmp:
            written = 0
            try:
                while written < limit:
                    chunk = stream.read(min(CHUNK, limit - written))
                    if not chunk:
                        break
                    tmp.write(chunk)
                    written += len(chunk)
            except (EOFError, zlib.error, gzip.BadGzipFile) as e:
                self.ctx.family_note("yara", f"{entry.path}: decompressed up to the damage ({e})")
            if written >= limit:
                self.ctx.family_note("yara", f"{entry.path}: scanned the first {limit} bytes only")
            tmp.flush()
            for f, r in pairs:
                try:
                    hits.extend(f.scan_file(self.ctx, r, entry, Path(tmp.name)))  # type: ignore[attr-defined]
                except Exception as e:
                    self.ctx.family_note("yara", f"{entry.path}: {type(e).__name__}: {e}")
        return b""

    def _listing(self, entry: Entry, lines: Iterator[bytes]) -> list[Hit]:
        """A stat listing (``stat -f '%N,%z,%u,%g,%p,%i,%l,%9Fa,%9Fm,%9Fc,%9FB'``): each row is the
        appliance's own metadata, with ctime and birth time that a tar copy loses."""
        rows = 0
        meta_fams = ("timestomp", "binaries", "live", "known_bad_files", "recent_changes")
        hits: list[Hit] = []
        for raw in lines:
            parts = raw.decode("utf-8", "surrogateescape").rstrip("\r\n").rsplit(",", 10)
            if len(parts) != 11 or not parts[0].startswith("/"):
                continue
            try:
                mode_full = int(parts[4], 8)
                e = Entry(path=parts[0], kind=_kind(mode_full), size=int(parts[1]), mode=mode_full & 0o7777,
                          uid=int(parts[2]), gid=int(parts[3]), mtime=float(parts[8]), ctime=float(parts[9]),
                          birthtime=float(parts[10]) if float(parts[10]) > 0 else None, origin="stat listing")
            except ValueError:
                continue
            rows += 1
            self.ctx.have_birthtime = self.ctx.have_birthtime or e.birthtime is not None
            self.ctx.have_ctime = True
            for f, r in self.pairs:
                if f.name in meta_fams and not (f.name == "live" and r.test in ("content", "httpd_php_handlers")) \
                        and not (f.name == "known_bad_files" and r.hashes) and f.select(r, e):
                    for h in f.meta(self.ctx, r, e):
                        hits.append(Hit(h.rule, h.path, h.evidence + " [from the stat listing]", h.line,
                                        file=_file_info(e, None), confidence=h.confidence))
        self.ctx.stat_listing.append(f"{entry.path} ({rows} rows)")
        return hits

    def _nsconf(self, entry: Entry, text: str) -> None:
        ctx = self.ctx
        ctx.nsconf_path = entry.path
        m = _NSCONF_HEADER.search(text[:4096])
        if m:
            ctx.nsconf_header = m.group(0).strip()
            ctx.state["nsconf_build"] = f"{m.group(1)}-{m.group(2)}"
        for fact, rx in _FACTS.items():
            ctx.facts[fact] = bool(rx.search(text))

    # -- end ---------------------------------------------------------------------------------
    def finish(self) -> None:
        for f, r in self.pairs:
            self._emit(f.finish(self.ctx, r), None)
        self._emit(logmod.finish_logs(self.ctx, self.rules.by_family("log")), None)
        self._emit_groups()

    def _emit_groups(self) -> None:
        """One finding per (rule, directory) for the hits beyond ``group_after``: the count, the
        worst severity and a few example names (at most ``max_findings`` such findings)."""
        n = self.opts.group_after
        ranked = sorted(self.groups.items(), key=lambda kv: (-kv[1]["severity"].rank, kv[0]))
        for i, ((rid, directory), g) in enumerate(ranked):
            if i >= self.opts.max_findings:
                self.dropped[g["severity"].value] = self.dropped.get(g["severity"].value, 0) + g["hits"]
                continue
            r: Rule = g["rule"]
            ex = ", ".join(g["examples"]) + (", ..." if g["hits"] > len(g["examples"]) else "")
            self.indicators[(rid, directory + "/", None)] = Indicator(
                id=r.id, title=r.title, severity=g["severity"], confidence=r.confidence,
                evidence=f"{g['hits']} more hit(s) of this rule in {directory}/ beyond the {n} listed one by one "
                         f"(grouped; examples: {ex})",
                check=r.check, path=directory + "/", line=None,
                file={"grouped_hits": g["hits"], "examples": list(g["examples"])},
                references=(r.source, *r.references) if r.source else r.references, advice=r.advice,
            )

    def budgets(self, duration: float) -> dict[str, Any]:
        """coverage["budgets"]: limits, what was used, and what was cut (so a cut triage is never
        read as a complete one)."""
        o, ctx = self.opts, self.ctx
        grouped = sum(g["hits"] for g in self.groups.values())
        cut = list(ctx.cut.values())
        if ctx.budget_skipped:
            cut.append(f"{ctx.budget_skipped} file(s) checked by name and metadata only (content not read)")
        if self.dropped:
            worst = max(self.dropped, key=lambda s: Severity(s).rank)
            cut.append(f"{sum(self.dropped.values())} hit(s) not recorded beyond --max-findings {o.max_findings} "
                       f"(worst {worst})")
        return {
            "max_read_bytes": o.max_read_bytes, "read_bytes": ctx.budget_bytes,
            "max_seconds": o.max_seconds, "seconds": round(duration, 3),
            "max_findings": o.max_findings, "findings": len(self.indicators), "findings_dropped": dict(self.dropped),
            "group_after": o.group_after, "grouped_findings": min(len(self.groups), o.max_findings),
            "grouped_hits": grouped, "files_not_read": ctx.budget_skipped,
            "cut": cut,
        }


def _kind(mode: int) -> str:
    import stat as st

    if st.S_ISREG(mode):
        return "file"
    if st.S_ISDIR(mode):
        return "dir"
    if st.S_ISLNK(mode):
        return "symlink"
    return "other"


# -- build, advisories and coverage -----------------------------------------------------------


def _build(ctx: Context) -> tuple[BuildInfo | None, Build | None]:
    methods: list[Evidence] = []
    candidates: list[Build] = []
    if ctx.state.get("nsconf_build"):
        try:
            b = parse_build(ctx.state["nsconf_build"])
            candidates.append(b)
            methods.append(Evidence("ns.conf header", f"{ctx.nsconf_header} ({ctx.nsconf_path})", confidence=Confidence.HIGH))
        except BuildError:
            pass
    kernel_builds: list[tuple[Build, str, float | None]] = []
    for name, mtime in ctx.kernels:
        m = _KERNEL.match(name)
        if m:
            try:
                kernel_builds.append((parse_build(f"{m.group(1)}-{m.group(2)}"), name, mtime))
            except BuildError:
                continue
    conflict = None
    if kernel_builds:
        newest = max(kernel_builds, key=lambda k: k[2] or 0)
        methods.append(Evidence("kernel image", f"/flash/{newest[1]} (newest of {len(kernel_builds)})",
                                confidence=Confidence.MEDIUM))
        if candidates and newest[0].plain != candidates[0].plain:
            conflict = (f"ns.conf was saved on {candidates[0].plain} but the newest kernel image is {newest[0].plain} "
                        "(upgraded without saving the config, or an old image left behind)")
        if not candidates:
            candidates.append(newest[0])
    if not candidates:
        return None, None
    b = candidates[0]
    info = BuildInfo(release=b.release, build=b.number, edition=b.edition.value if b.edition else None, exact=True,
                     candidates=(b.plain,), methods=tuple(methods),
                     confidence=Confidence.HIGH if ctx.state.get("nsconf_build") else Confidence.MEDIUM, conflict=conflict)
    return info, b


def _advisories(ctx: Context, build: Build | None, sigdir: Path | None) -> tuple[tuple[Any, ...], Any, list[Skipped]]:
    if build is None:
        return (), None, [Skipped("advisories", "the build is not known from the artefacts (no ns.conf header, no "
                                  "/flash/ns-*.gz kernel image)")]
    facts: dict[str, Precondition] | None = None
    if ctx.nsconf_path:
        facts = {k: (Precondition.MET if v else Precondition.NOT_MET) for k, v in ctx.facts.items()}
    try:
        from nscheck.assess.advisories import assess, load_default

        a = assess(load_default(sigdir), [build], facts)
        return tuple(a.advisories), a.remediation, []
    except Exception as e:  # signatures broken or engine error: say so, keep the triage
        return (), None, [Skipped("advisories", f"not assessed: {type(e).__name__}: {e}", SkipKind.INTERNAL_ERROR)]


def _coverage(run: _Run, sources: Sequence[Source], collected: dt.datetime | None, how: str,
              duration: float) -> dict[str, Any]:
    ctx = run.ctx
    kinds = {s.kind for s in sources}
    fams: dict[str, Any] = {}
    yara_ok = yara_module() is not None and ctx.opts.yara
    for name in FAMILY_REGISTRY:
        rules = run.rules.by_family(name)
        if not rules:
            continue
        st = ctx.family_stats.get(name) or Counter()
        entry: dict[str, Any] = {"rules": len(rules), "entries_examined": int(st.get("entries", 0)),
                                 "hits": int(st.get("hits", 0))}
        status = "checked" if st.get("entries") else "nothing to examine"
        if name == "timestomp":
            entry["with_birthtime"] = int(st.get("checked", 0))
            entry["without_birthtime"] = int(st.get("not_checkable", 0))
            if not st.get("checked"):
                status = "not checked"
                entry["reason"] = ("no birth times in this source (tar archives and copies drop ctime and birth time); "
                                   "a stat listing with %B or a disk image is needed")
            elif st.get("not_checkable"):
                status = "partial"
                entry["reason"] = "only entries with a birth time (stat listing or image) could be checked"
        if name == "yara" and not yara_ok:
            status = "skipped"
            entry["reason"] = "yara-python is not installed (pip install 'nscheck[yara]')"
        if name in ("webshell", "binaries", "live") and st.get("mode_unknown"):
            entry["mode_unknown"] = int(st["mode_unknown"])
        if name == "log":
            entry["lines"] = int(st.get("lines", 0))
            entry["files"] = int(st.get("files", 0))
            for k in ("webshell_probes_unanswered", "script_requests_unanswered", "aaa_utf8_names", "tcpconnstat_records",
                      "tcpconnstat_unparsed", "hits_over_cap", "newnslog_not_read"):
                if st.get(k):
                    entry[k] = int(st[k])
            if st.get("newnslog_not_read"):
                entry.setdefault("notes", []).append(
                    f"{int(st['newnslog_not_read'])} newnslog file(s) (binary counters and events) not read: decode them "
                    "with nsconmsg -K <file> -d event on an appliance if the ns.log range is too short")
        if ctx.family_notes.get(name):
            entry["notes"] = [*entry.get("notes", []), *ctx.family_notes[name]]
        entry["status"] = status
        fams[name] = entry
    # logs read from /var/nslog or a loose folder of logs count for the log area
    missing = [{"area": a, "unchecked": why} for a, why in EXPECTED_AREAS.items()
               if not ctx.present.get(a) and not (a == "/var/log" and ctx.log_count)]
    next_steps: list[str] = []
    if missing:
        next_steps.append("collect the missing areas (" + ", ".join(m["area"] for m in missing) + ") and run triage again")
    if not ctx.have_birthtime:
        next_steps.append("collect a stat listing with birth times (stat -f '%N,%z,%u,%g,%p,%i,%l,%9Fa,%9Fm,%9Fc,%9FB') "
                          "or image the disks (NCSC-NL dd recipe) for timestomp checks")
    if not yara_ok:
        next_steps.append("install yara-python (pip install 'nscheck[yara]') to scan cores and web files with YARA")
    if not ctx.logs:
        next_steps.append(_LOG_NEXT)
    if run.indicators:
        next_steps.append("treat the appliance as compromised until the hits are explained: preserve evidence and follow "
                          "Citrix CTX694799 (core dump, bundle, disk images), then rebuild rather than clean; share with "
                          "your CSIRT")
    meta_note = []
    if kinds & {"tar", "support_bundle"}:
        meta_note.append("tar keeps mode, owner and mtime but not ctime or birth time")
    if any(isinstance(s, ZipSource) for s in sources):
        meta_note.append("zip keeps no owners, no ctime or birth time, and file modes only when made on Unix")
    if "directory" in kinds and not ctx.have_birthtime:
        meta_note.append("this directory copy exposes no birth times; ctime reflects the copy, not the appliance")
    if ctx.stat_listing:
        meta_note.append("stat listing used for ctime and birth time: " + "; ".join(ctx.stat_listing[:5]))
    loose = sum(s.loose_files for s in sources)
    if loose:
        meta_note.append(f"{loose} file(s) {LOOSE_NOTE}")
    bundles = [b for s in sources for b in s.bundle_dirs]
    shell_outputs = int(ctx.present.get("/.collector/shell", 0))
    summary = _summary(ctx, fams, missing, loose, shell_outputs, bool(run.indicators))
    return {
        "summary": summary,
        "source": {"path": ", ".join(s.label for s in sources), "type": "+".join(sorted(kinds)),
                   "entries": ctx.entries, "files": ctx.files, "bytes_read": ctx.bytes_read,
                   "duration_s": round(duration, 3)},
        "sources": [{"path": s.label, "type": s.kind, "support_bundle": s.bundle, "bundles": list(s.bundle_dirs),
                     "loose_files": s.loose_files} for s in sources],
        "collector_bundles": bundles,
        "collector_shell_outputs": shell_outputs,
        "collected_at": iso(collected.timestamp()) if collected else None,
        "collected_at_source": how,
        "metadata": {"mode": all(s.has_mode for s in sources), "owner": all(s.has_owner for s in sources), "mtime": True,
                     "ctime": ctx.have_ctime, "birthtime": ctx.have_birthtime, "notes": meta_note},
        "families": fams,
        "areas_present": {a: int(ctx.present.get(a, 0)) for a in EXPECTED_AREAS},
        "missing": missing,
        "logs": {"files": ctx.log_count, "listed": ctx.logs,
                 "note": "a clean result over a few days of logs means little: check the first/last times"},
        "refused": [n for s in sources for n in s.notes][:200], "refused_count": sum(s.note_count for s in sources),
        "unreadable": ctx.unreadable, "unreadable_count": ctx.unreadable_count,
        "content_truncated_files": ctx.truncated_content,
        "extras": {"yara": "available" if yara_ok else "not installed",
                   "dissect.target": "available" if _has_dissect() else "not installed"},
        "config": {"ns.conf": ctx.nsconf_path, "header": ctx.nsconf_header, "facts": dict(ctx.facts)},
        "next_steps": next_steps,
    }


def _summary(ctx: Context, fams: dict[str, Any], missing: list[dict[str, str]], loose: int, shell_outputs: int,
             found: bool) -> str:
    """One paragraph a reader cannot misread: what was looked at, what was not, what a clean result means."""
    looked = [n for n, st in fams.items() if st.get("status") == "checked"]
    idle = [n for n, st in fams.items() if st.get("status") != "checked"]
    parts = ["Indicators found (see the list)." if found else
             "No indicator found in what was examined; this says nothing about what is absent."]
    if missing:
        parts.append("Absent from the input: " + ", ".join(m["area"] for m in missing) + ".")
    if ctx.logs:
        # only stamps with a year compare (syslog's "Nov 20 09:00:00" has none)
        firsts = sorted(x["first"] for x in ctx.logs if (x.get("first") or "")[:1].isdigit())
        lasts = sorted(x["last"] for x in ctx.logs if (x.get("last") or "")[:1].isdigit())
        span = f", earliest record {firsts[0]}, latest {lasts[-1]}" if firsts and lasts else ""
        parts.append(f"Logs: {ctx.log_count} file(s), {int((ctx.family_stats.get('log') or Counter())['lines'])} lines{span}.")
    else:
        parts.append("Logs: NONE examined.")
    if idle:
        parts.append("Checks with NOTHING to examine in this input (no result either way): " + ", ".join(idle) + ".")
    parts.append(f"Examined {ctx.files} file(s); checks that had something to examine: " + (", ".join(looked) or "none")
                 + ".")
    if loose:
        parts.append(f"{loose} file(s) could not be placed in the appliance tree (only name-based checks ran on them).")
    if shell_outputs:
        parts.append(f"{shell_outputs} collector command output(s) (shell/) present; only process and socket listings "
                     "are checked.")
    return " ".join(parts)


def _has_dissect() -> bool:
    import importlib.util

    try:
        return importlib.util.find_spec("dissect.target") is not None
    except (ImportError, ValueError):
        return False


def triage_path(path: str, opts: TriageOptions, rules: TriageRules, sigdir: Path | None = None) -> HostResult:
    """Triage one artefact collection (see ``triage``)."""
    return triage([path], opts, rules, sigdir)


def triage(paths: Sequence[str | Source], opts: TriageOptions, rules: TriageRules,
           sigdir: Path | None = None) -> HostResult:
    """Triage the artefacts of ONE appliance (one or several collections, e.g. a bundle plus a /var
    copy, or an already opened Source such as a live SSH collection); never raises for a bad input:
    status error plus coverage instead."""
    started = dt.datetime.now(dt.UTC)
    t0 = time.monotonic()
    label = ", ".join(p.label if isinstance(p, Source) else p for p in paths)
    target = opts.name or label
    sources: list[Source] = []
    errors: list[str] = []
    for path in paths:
        if isinstance(path, Source):
            sources.append(path)
            continue
        try:
            sources.append(open_source(path, max_member_bytes=opts.max_member_bytes))
        except SourceUnavailable as e:
            errors.append(str(e))
    if not sources:
        msg = "; ".join(errors)
        return HostResult(target=target, status=HostStatus.ERROR, error=msg, kind="triage",
                          skipped=tuple(Skipped("triage", e, SkipKind.DATA_ERROR) for e in errors), started=iso(started.timestamp()),
                          coverage=Coverage.from_dict({"source": {"path": label, "type": "unavailable"}, "error": msg,
                                                       "next_steps": ["check the path, or install the extra named in the error"]}),
                          extra={"source": label})
    tmpdir = Path(tempfile.mkdtemp(prefix="nscheck-triage-"))
    run = _Run(rules, opts, sources[0], tmpdir)
    run.ctx.deadline = t0 + opts.max_seconds
    run.ctx.state["bundle_time"] = next((s.bundle_time for s in sources if s.bundle_time), None)
    run.ctx.state["source_facts"] = sources[0].facts  # filled while the source is read
    try:
        for source in sources:
            try:
                for entry, opener in source.entries():
                    if run.ctx.out_of_time():
                        break
                    run.entry(entry, opener)
            except SourceUnavailable as e:
                errors.append(str(e))
            finally:
                source.close()
        # a renamed archive reveals its collector directory (and so its time) only while being read
        run.ctx.state["bundle_time"] = next((s.bundle_time for s in sources if s.bundle_time), None)
        run.finish()
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)
    collected, how = run.ctx.collected_reference(run.ctx.state["bundle_time"])
    build_info, build = _build(run.ctx)
    advisories, remediation, skipped = _advisories(run.ctx, build, sigdir)
    if yara_module() is None or not opts.yara:
        skipped.append(Skipped("yara", "yara-python is not installed (pip install 'nscheck[yara]')", SkipKind.DISABLED))
    if not run.ctx.have_birthtime:
        skipped.append(Skipped("timestomp", "no birth times in this source; needs a stat listing or a disk image"))
    skipped.extend(Skipped("source", e, SkipKind.DATA_ERROR) for e in errors)
    # every hit carries the collection's own time reference (recent / timestomp judgements use it)
    ref = iso(collected.timestamp()) if collected else None
    stamped = (replace(i, file={**(i.file or {}), "collected_at": ref}) for i in run.indicators.values())
    indicators = tuple(sorted(stamped, key=lambda i: (-i.severity.rank, i.check, i.path or "", i.line or 0, i.id)))
    duration = time.monotonic() - t0
    coverage = _coverage(run, sources, collected, how, duration)
    coverage["budgets"] = budgets = run.budgets(duration)
    if budgets["cut"]:
        coverage["summary"] = "CUT SHORT: " + "; ".join(budgets["cut"]) + ". " + coverage["summary"]
        coverage.setdefault("next_steps", []).insert(
            0, "raise --max-read / --max-time / --max-findings (or split the input) and run triage again")
    if errors:
        coverage["errors"] = errors
    # only a source that could not be read at all makes the result an error; damage is in coverage
    error = "; ".join(errors) if errors else None
    if run.ctx.cut:
        # a triage cut short by its read or time budget is never a clean one (it must not close a
        # compromise assessment): the result is an error that says what was not examined
        cut_msg = "triage cut short: " + "; ".join(run.ctx.cut.values())
        error = f"{error}; {cut_msg}" if error else cut_msg
        skipped.append(Skipped("triage", cut_msg, SkipKind.BUDGET))
    # An input with no appliance area, no log and no ns.conf (a wrong folder, an empty archive) was
    # not triaged at all: that is "unknown", never a clean result.
    ctx = run.ctx
    if not error and not run.indicators and not ctx.log_count and not ctx.nsconf_path \
            and not any(ctx.present.get(a) for a in EXPECTED_AREAS):
        error = ("nothing to triage: the input holds no NetScaler artefacts (no appliance directories, logs or ns.conf "
                 "were recognised); see coverage for what was found")
        skipped.append(Skipped("triage", error, SkipKind.DATA_ERROR))
        coverage["summary"] = "NOT TRIAGED: " + error + ". " + coverage["summary"]
    is_ns = bool(run.ctx.nsconf_path or run.ctx.present.get("/netscaler/ns_gui") or run.ctx.kernels)
    product = ProductInfo(is_netscaler=True if is_ns else None, confidence=Confidence.HIGH if is_ns else Confidence.LOW,
                          evidence=(Evidence("artefacts", f"ns.conf at {run.ctx.nsconf_path}"),) if run.ctx.nsconf_path else ())
    return HostResult(
        target=target, status=HostStatus.ERROR if error else HostStatus.OK, error=error, product=product,
        build=build_info, advisories=advisories, indicators=indicators, remediation=remediation,
        duration_ms=int(duration * 1000), skipped=tuple(skipped), kind="triage", coverage=Coverage.from_dict(coverage),
        started=iso(started.timestamp()), extra={"source": label, "collected_at": coverage["collected_at"]},
    )
