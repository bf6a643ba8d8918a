"""Fingerprint tables (signatures/fingerprints/*.csv): build stamps, hashes, dates, markers.

``load(dir)`` validates every row (builds parse with ``parse_build``, stamps and sizes are
integers, hashes are hex, regexes compile, dates are ISO) and raises ``SignatureError``
(``file:line: field: reason``), or an ``ExceptionGroup`` of them, never a traceback.
The formats are documented in signatures/fingerprints/README.md.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from nscheck.build import Build, BuildError, Edition, parse_build
from nscheck.model import Confidence
from nscheck.signatures import SignatureError, register_loader

__all__ = [
    "EpaRow",
    "FaviconRow",
    "FingerprintTables",
    "LastModifiedRow",
    "Marker",
    "ReleaseRow",
    "StampRow",
    "VhashRow",
    "ZeroedRow",
    "load",
    "load_cached",
]

RDX_FILE = "netscaler_rdx_en_gzip_mtime_to_build.csv"
ZEROED_FILE = "netscaler_rdx_en_zeroed.csv"
VHASH_FILE = "netscaler_vhash_to_build.csv"
LAST_MODIFIED_FILE = "netscaler_last_modified_to_build.csv"
EPA_FILE = "netscaler_epa_deb_size_to_build.csv"
FAVICON_FILE = "netscaler_favicon_md5.csv"
RELEASES_FILE = "netscaler_release_dates.csv"
MARKERS_FILE = "netscaler_product_markers.csv"

_PLAIN_BUILD = re.compile(r"\d{1,2}\.\d-\d{1,3}\.\d{1,4}")
_HEX32 = re.compile(r"[0-9a-f]{32}")
_STRENGTHS = ("strong", "corroborator", "title")
_ROLES = ("", "gateway", "aaa", "management")


@dataclass(frozen=True, slots=True)
class StampRow:
    stamp: int
    build: Build | None  # None: the stamp is a known NetScaler stamp whose build nobody identified
    editions: tuple[Edition, ...]  # () = infer from the build number
    source: str
    confidence: Confidence
    line: int


@dataclass(frozen=True, slots=True)
class ZeroedRow:
    release: str
    edition: Edition
    floor: Build
    body_md5: str
    body_size: int
    source: str
    confidence: Confidence


@dataclass(frozen=True, slots=True)
class VhashRow:
    vhash: str
    build: Build | None
    source: str
    confidence: Confidence


@dataclass(frozen=True, slots=True)
class LastModifiedRow:
    value: str
    build: Build
    source: str
    confidence: Confidence


@dataclass(frozen=True, slots=True)
class EpaRow:
    path: str
    size: int
    relation: str  # "exact" | "floor" | "before"
    build: Build
    source: str
    confidence: Confidence


@dataclass(frozen=True, slots=True)
class FaviconRow:
    md5: str
    size: int | None
    path: str
    product: str
    netscaler: bool
    source: str
    confidence: Confidence


@dataclass(frozen=True, slots=True)
class ReleaseRow:
    build: Build
    edition: Edition
    date: dt.date
    source: str


@dataclass(frozen=True, slots=True)
class Marker:
    id: str
    location: str  # body | cookie | header_name | location | header:<name>
    pattern: re.Pattern[str]
    strength: str  # strong | corroborator | title
    role: str  # "" | gateway | aaa | management
    min_body: int
    source: str


@dataclass(frozen=True)
class FingerprintTables:
    stamps: dict[int, tuple[StampRow, ...]] = field(default_factory=dict)
    zeroed: tuple[ZeroedRow, ...] = ()
    vhashes: dict[str, tuple[VhashRow, ...]] = field(default_factory=dict)
    last_modified: dict[str, tuple[LastModifiedRow, ...]] = field(default_factory=dict)
    epa: dict[int, EpaRow] = field(default_factory=dict)
    favicons: dict[str, FaviconRow] = field(default_factory=dict)
    releases: tuple[ReleaseRow, ...] = ()  # sorted by date; one row per (build, edition), earliest date
    markers: tuple[Marker, ...] = ()
    directory: str = ""

    def __len__(self) -> int:
        return (
            sum(len(v) for v in self.stamps.values()) + len(self.zeroed) + sum(len(v) for v in self.vhashes.values())
            + sum(len(v) for v in self.last_modified.values()) + len(self.epa) + len(self.favicons)
            + len(self.releases) + len(self.markers)
        )


class _Rows:
    """Iterate a CSV with line numbers and collect errors instead of stopping at the first."""

    def __init__(self, path: Path, required: tuple[str, ...], errors: list[SignatureError]):
        self.path = path
        self.required = required
        self.errors = errors

    def __iter__(self) -> Iterator[tuple[int, dict[str, str]]]:
        try:
            fh = self.path.open(newline="", encoding="utf-8")
        except OSError as e:
            self.errors.append(SignatureError(self.path, f"cannot read: {e.strerror or e}"))
            return
        with fh:
            reader = csv.DictReader(fh)
            missing = [c for c in self.required if c not in (reader.fieldnames or [])]
            if missing:
                self.errors.append(SignatureError(self.path, f"missing column(s) {', '.join(missing)}", line=1))
                return
            for row in reader:
                if None in row or any(v is None for v in row.values()):
                    self.errors.append(SignatureError(self.path, "wrong number of fields", line=reader.line_num))
                    continue
                yield reader.line_num, {k: (v or "").strip() for k, v in row.items()}

    def fail(self, line: int, fld: str, reason: str) -> None:
        self.errors.append(SignatureError(self.path, reason, field=fld, line=line))


def _build(rows: _Rows, line: int, fld: str, text: str, *, optional: bool = False) -> Build | None:
    if not text and optional:
        return None
    if not _PLAIN_BUILD.fullmatch(text):
        rows.fail(line, fld, f"{text!r} is not a build like 14.1-47.46")
        return None
    try:
        return parse_build(text)
    except BuildError as e:
        rows.fail(line, fld, str(e))
        return None


def _int(rows: _Rows, line: int, fld: str, text: str, *, optional: bool = False) -> int | None:
    if not text and optional:
        return None
    if not text.isdigit():
        rows.fail(line, fld, f"{text!r} is not a non-negative integer")
        return None
    return int(text)


def _conf(rows: _Rows, line: int, text: str) -> Confidence:
    try:
        return Confidence(text)
    except ValueError:
        rows.fail(line, "confidence", f"{text!r}: expected high, medium or low")
        return Confidence.LOW


def _editions(rows: _Rows, line: int, text: str) -> tuple[Edition, ...]:
    out: list[Edition] = []
    for part in filter(None, text.split("|")):
        try:
            out.append(Edition(part))
        except ValueError:
            rows.fail(line, "edition", f"{part!r}: expected standard, fips, ndcpp (or several joined by |)")
    return tuple(out)


def _hex(rows: _Rows, line: int, fld: str, text: str) -> str | None:
    t = text.lower()
    if not _HEX32.fullmatch(t):
        rows.fail(line, fld, f"{text!r} is not a 32-digit hex MD5")
        return None
    return t


def _source(rows: _Rows, line: int, text: str) -> str:
    if not text:
        rows.fail(line, "source", "empty: every row must say where it comes from")
    return text


def load(directory: Path | str) -> FingerprintTables:
    d = Path(directory) / "fingerprints"
    if not d.is_dir():
        d = Path(directory)  # allow pointing at the fingerprints folder itself
    errors: list[SignatureError] = []

    def rows(name: str, *cols: str) -> _Rows:
        return _Rows(d / name, (*cols, "source", "confidence"), errors)

    stamps: dict[int, list[StampRow]] = {}
    r = rows(RDX_FILE, "rdx_en_stamp", "build", "edition")
    for ln, row in r:
        stamp = _int(r, ln, "rdx_en_stamp", row["rdx_en_stamp"])
        b = _build(r, ln, "build", row["build"], optional=True)
        if stamp == 0:
            r.fail(ln, "rdx_en_stamp", f"0 is the zeroed stamp of newer builds; list it in {ZEROED_FILE}")
            continue
        if stamp is not None:
            stamps.setdefault(stamp, []).append(
                StampRow(stamp, b, _editions(r, ln, row["edition"]), _source(r, ln, row["source"]),
                         _conf(r, ln, row["confidence"]), ln)
            )

    zeroed: list[ZeroedRow] = []
    r = rows(ZEROED_FILE, "release", "edition", "floor", "body_md5", "body_size")
    for ln, row in r:
        fl = _build(r, ln, "floor", row["floor"])
        eds = _editions(r, ln, row["edition"])
        md5 = _hex(r, ln, "body_md5", row["body_md5"])
        size = _int(r, ln, "body_size", row["body_size"])
        if fl and fl.release != row["release"]:
            r.fail(ln, "floor", f"floor {fl} is not on release {row['release']}")
        if fl and md5 and size is not None and len(eds) == 1:
            zeroed.append(ZeroedRow(row["release"], eds[0], fl, md5, size, _source(r, ln, row["source"]),
                                    _conf(r, ln, row["confidence"])))
        elif len(eds) != 1:
            r.fail(ln, "edition", "exactly one edition expected")

    vh: dict[str, list[VhashRow]] = {}
    r = rows(VHASH_FILE, "vhash", "build")
    for ln, row in r:
        h = _hex(r, ln, "vhash", row["vhash"])
        b = _build(r, ln, "build", row["build"], optional=True)
        if h:
            vh.setdefault(h, []).append(VhashRow(h, b, _source(r, ln, row["source"]), _conf(r, ln, row["confidence"])))

    lm: dict[str, list[LastModifiedRow]] = {}
    r = rows(LAST_MODIFIED_FILE, "last_modified", "build")
    for ln, row in r:
        b = _build(r, ln, "build", row["build"])
        if _http_date(row["last_modified"]) is None:
            r.fail(ln, "last_modified", f"{row['last_modified']!r} is not an HTTP date")
        elif b:
            lm.setdefault(row["last_modified"], []).append(
                LastModifiedRow(row["last_modified"], b, _source(r, ln, row["source"]), _conf(r, ln, row["confidence"]))
            )

    epa: dict[int, EpaRow] = {}
    r = rows(EPA_FILE, "path", "size_bytes", "relation", "build")
    for ln, row in r:
        size = _int(r, ln, "size_bytes", row["size_bytes"])
        b = _build(r, ln, "build", row["build"])
        if row["relation"] not in ("exact", "floor", "before"):
            r.fail(ln, "relation", f"{row['relation']!r}: expected exact, floor or before")
        elif size is not None and b:
            epa[size] = EpaRow(row["path"], size, row["relation"], b, _source(r, ln, row["source"]),
                               _conf(r, ln, row["confidence"]))

    fav: dict[str, FaviconRow] = {}
    r = rows(FAVICON_FILE, "md5", "size_bytes", "typical_path", "product", "netscaler")
    for ln, row in r:
        h = _hex(r, ln, "md5", row["md5"])
        size = _int(r, ln, "size_bytes", row["size_bytes"], optional=True)
        if row["netscaler"] not in ("true", "false"):
            r.fail(ln, "netscaler", "expected true or false")
        elif h:
            fav[h] = FaviconRow(h, size, row["typical_path"], row["product"], row["netscaler"] == "true",
                                _source(r, ln, row["source"]), _conf(r, ln, row["confidence"]))

    rel: dict[tuple[Build, Edition], ReleaseRow] = {}
    r = rows(RELEASES_FILE, "build", "edition", "release_date")
    for ln, row in r:
        b = _build(r, ln, "build", row["build"])
        eds = _editions(r, ln, row["edition"])
        try:
            day = dt.date.fromisoformat(row["release_date"])
        except ValueError:
            r.fail(ln, "release_date", f"{row['release_date']!r} is not a YYYY-MM-DD date")
            continue
        if b and len(eds) == 1:
            key = (b, eds[0])
            if key not in rel or day < rel[key].date:
                rel[key] = ReleaseRow(b, eds[0], day, _source(r, ln, row["source"]))
        elif b:
            r.fail(ln, "edition", "exactly one edition expected")

    markers: list[Marker] = []
    r = _Rows(d / MARKERS_FILE, ("id", "location", "pattern", "strength", "role", "min_body", "source"), errors)
    for ln, row in r:
        try:
            rx = re.compile(row["pattern"])
        except re.error as e:
            r.fail(ln, "pattern", f"bad regex: {e}")
            continue
        loc = row["location"]
        if loc not in ("body", "cookie", "header_name", "location") and not re.fullmatch(r"header:[a-z0-9-]+", loc):
            r.fail(ln, "location", f"{loc!r}: expected body, cookie, header_name, location or header:<lower-case name>")
            continue
        if row["strength"] not in _STRENGTHS:
            r.fail(ln, "strength", f"{row['strength']!r}: expected one of {', '.join(_STRENGTHS)}")
            continue
        if row["role"] not in _ROLES:
            r.fail(ln, "role", f"{row['role']!r}: expected empty or gateway, aaa, management")
            continue
        mb = _int(r, ln, "min_body", row["min_body"], optional=True) or 0
        markers.append(Marker(row["id"], loc, rx, row["strength"], row["role"], mb, _source(r, ln, row["source"])))

    if errors:
        if len(errors) == 1:
            raise errors[0]
        raise ExceptionGroup(f"{len(errors)} errors in {d}", errors)
    return FingerprintTables(
        stamps={k: tuple(v) for k, v in stamps.items()},
        zeroed=tuple(zeroed),
        vhashes={k: tuple(v) for k, v in vh.items()},
        last_modified={k: tuple(v) for k, v in lm.items()},
        epa=epa,
        favicons=fav,
        releases=tuple(sorted(rel.values(), key=lambda x: (x.date, x.build.release, x.build.major, x.build.minor))),
        markers=tuple(markers),
        directory=str(d),
    )


def _http_date(text: str) -> dt.datetime | None:
    from email.utils import parsedate_to_datetime

    try:
        v = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    return v if v.tzinfo else v.replace(tzinfo=dt.UTC)


http_date: Callable[[str], dt.datetime | None] = _http_date


@lru_cache(maxsize=4)
def load_cached(directory: str) -> FingerprintTables:
    return load(Path(directory))


register_loader("fingerprints", load)
