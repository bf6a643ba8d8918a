"""Fingerprint tables (signatures/fingerprints/*.csv): build stamps, hashes, dates, markers.

``load(dir)`` validates every row with a pydantic v2 model per table (``ROW_MODELS``,
``extra="forbid"``: builds parse with ``parse_build``, stamps and sizes are integers, hashes
are hex, regexes compile, dates are ISO) and raises ``SignatureError`` (``file:line: field:
reason``), or an ``ExceptionGroup`` of every error in every file, never a traceback. The row
models' JSON Schema is published as schemas/fingerprint-rows.schema.json
(``python -m nscheck.signatures.fingerprints schemas`` rewrites it).
The formats are documented in signatures/fingerprints/README.md.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)

from nscheck.build import Build, BuildError, Edition, parse_build
from nscheck.model import Confidence
from nscheck.signatures import SignatureError, register_loader

__all__ = [
    "ROW_MODELS",
    "EpaRow",
    "FaviconRow",
    "FingerprintTables",
    "LastModifiedRow",
    "Marker",
    "ReleaseRow",
    "StampRow",
    "VhashRow",
    "ZeroedRow",
    "json_schemas",
    "load",
    "load_cached",
    "row_json_schema",
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


# Closed vocabularies of the tables (validated on load; the fingerprint engine matches on them).
Strength = Literal["strong", "corroborator", "title"]  # how much one product marker proves
EpaRelation = Literal["exact", "floor", "before"]  # what an nsepa.deb size says about the build


@dataclass(frozen=True, slots=True)
class EpaRow:
    path: str
    size: int
    relation: EpaRelation
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
    strength: Strength
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


# -- row models (pydantic v2): one per CSV, extra columns forbidden ------------------------------


def _check_build(text: str, *, optional: bool = False) -> str:
    if not text and optional:
        return text
    if not _PLAIN_BUILD.fullmatch(text):
        raise ValueError(f"{text!r} is not a build like 14.1-47.46")
    try:
        parse_build(text)
    except BuildError as e:
        raise ValueError(str(e)) from None
    return text


def _check_editions(text: str) -> str:
    for part in filter(None, text.split("|")):
        if part not in {e.value for e in Edition}:
            raise ValueError(f"{part!r}: expected standard, fips, ndcpp (or several joined by |)")
    return text


def _check_hex(text: str) -> str:
    t = text.lower()
    if not _HEX32.fullmatch(t):
        raise ValueError(f"{text!r} is not a 32-digit hex MD5")
    return t


def _check_uint(text: str, *, optional: bool = False) -> str:
    if not text and optional:
        return text
    if not text.isdigit():
        raise ValueError(f"{text!r} is not a non-negative integer")
    return text


_BUILD_PATTERN = r"^\d{1,2}\.\d-\d{1,3}\.\d{1,4}$"
_Text = Annotated[str, StringConstraints(strip_whitespace=True)]


class _Row(BaseModel):
    """Common columns. Every value arrives as CSV text; validators check and normalise it and
    ``load`` turns rows into the frozen dataclasses the scanner uses."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    source: _Text = Field(description="where the row comes from; a+b = several independent sources")
    notes: _Text = ""

    @field_validator("source")
    @classmethod
    def check_source(cls, v: str) -> str:
        if not v:
            raise ValueError("empty: every row must say where it comes from")
        return v


class _Rated(_Row):
    confidence: _Text = Field(description="high (Fox-IT/BLS firmware extraction), medium, low (one unverified source)",
                              json_schema_extra={"enum": ["high", "medium", "low"]})

    @field_validator("confidence")
    @classmethod
    def check_confidence(cls, v: str) -> str:
        if v not in {c.value for c in Confidence}:
            raise ValueError(f"{v!r}: expected high, medium or low")
        return v


class StampCsvRow(_Rated):
    rdx_en_stamp: _Text = Field(pattern=r"^[0-9]+$", description="gzip MTIME (Unix seconds), never 0")
    rdx_en_date_utc: _Text = ""
    build: _Text = Field("", description="empty: a NetScaler stamp whose build nobody identified")
    edition: _Text = ""
    vhash: _Text = ""

    @field_validator("rdx_en_stamp", mode="before")
    @classmethod
    def check_stamp(cls, v: str) -> str:
        v = _check_uint(str(v).strip())
        if int(v) == 0:
            raise ValueError(f"0 is the zeroed stamp of newer builds; list it in {ZEROED_FILE}")
        return v

    check_build = field_validator("build")(lambda v: _check_build(v, optional=True))
    check_editions = field_validator("edition")(_check_editions)


class ZeroedCsvRow(_Rated):
    release: _Text = Field(pattern=r"^\d{1,2}\.\d$")
    edition: _Text
    floor: _Text = Field(description="first build that serves the zeroed file", json_schema_extra={"pattern": _BUILD_PATTERN})
    body_md5: _Text
    body_size: _Text = Field(pattern=r"^[0-9]+$")

    check_floor = field_validator("floor")(_check_build)
    check_md5 = field_validator("body_md5")(_check_hex)
    check_size = field_validator("body_size", mode="before")(lambda v: _check_uint(str(v).strip()))

    @field_validator("edition")
    @classmethod
    def check_one_edition(cls, v: str) -> str:
        _check_editions(v)
        if len([p for p in v.split("|") if p]) != 1:
            raise ValueError("exactly one edition expected")
        return v

    @model_validator(mode="after")
    def check_floor_on_release(self) -> ZeroedCsvRow:
        if parse_build(self.floor).release != self.release:
            raise ValueError(f"floor {self.floor} is not on release {self.release}")
        return self


class VhashCsvRow(_Rated):
    vhash: _Text = Field(description="the ?v=<md5> cache-buster in login pages", json_schema_extra={"pattern": "^[0-9a-fA-F]{32}$"})
    build: _Text = ""
    rdx_en_stamp: _Text = ""

    check_hash = field_validator("vhash")(_check_hex)
    check_build = field_validator("build")(lambda v: _check_build(v, optional=True))
    check_stamp = field_validator("rdx_en_stamp", mode="before")(lambda v: _check_uint(str(v).strip(), optional=True))


class LastModifiedCsvRow(_Rated):
    last_modified: _Text = Field(description="exact HTTP Last-Modified value")
    build: _Text = Field(json_schema_extra={"pattern": _BUILD_PATTERN})

    check_build = field_validator("build")(_check_build)

    @field_validator("last_modified")
    @classmethod
    def check_date(cls, v: str) -> str:
        if _http_date(v) is None:
            raise ValueError(f"{v!r} is not an HTTP date")
        return v


class EpaCsvRow(_Rated):
    path: _Text
    size_bytes: _Text = Field(pattern=r"^[0-9]+$", description="total size from Content-Range of a 1-byte Range GET")
    relation: _Text = Field(description="exact, floor (this build or later), before (older than this build)",
                            json_schema_extra={"enum": ["exact", "floor", "before"]})
    build: _Text = Field(json_schema_extra={"pattern": _BUILD_PATTERN})

    check_size = field_validator("size_bytes", mode="before")(lambda v: _check_uint(str(v).strip()))
    check_build = field_validator("build")(_check_build)

    @field_validator("relation")
    @classmethod
    def check_relation(cls, v: str) -> str:
        if v not in ("exact", "floor", "before"):
            raise ValueError(f"{v!r}: expected exact, floor or before")
        return v


class FaviconCsvRow(_Rated):
    md5: _Text
    size_bytes: _Text = ""
    typical_path: _Text = ""
    product: _Text = ""
    netscaler: _Text = Field(json_schema_extra={"enum": ["true", "false"]})

    check_md5 = field_validator("md5")(_check_hex)
    check_size = field_validator("size_bytes", mode="before")(lambda v: _check_uint(str(v).strip(), optional=True))

    @field_validator("netscaler")
    @classmethod
    def check_bool(cls, v: str) -> str:
        if v not in ("true", "false"):
            raise ValueError("expected true or false")
        return v


class ReleaseCsvRow(_Rated):
    build: _Text = Field(json_schema_extra={"pattern": _BUILD_PATTERN})
    edition: _Text
    release_date: _Text = Field(description="YYYY-MM-DD", json_schema_extra={"format": "date"})

    check_build = field_validator("build")(_check_build)

    @field_validator("edition")
    @classmethod
    def check_one_edition(cls, v: str) -> str:
        _check_editions(v)
        if len([p for p in v.split("|") if p]) != 1:
            raise ValueError("exactly one edition expected")
        return v

    @field_validator("release_date")
    @classmethod
    def check_date(cls, v: str) -> str:
        try:
            dt.date.fromisoformat(v)
        except ValueError:
            raise ValueError(f"{v!r} is not a YYYY-MM-DD date") from None
        return v


class MarkerCsvRow(_Row):
    id: _Text
    location: _Text = Field(description="body, cookie, header_name, location or header:<lower-case name>")
    pattern: _Text = Field(description="Python regex")
    strength: _Text = Field(json_schema_extra={"enum": list(_STRENGTHS)})
    role: _Text = Field("", json_schema_extra={"enum": list(_ROLES)})
    min_body: _Text = ""

    check_min_body = field_validator("min_body", mode="before")(lambda v: _check_uint(str(v).strip(), optional=True))

    @field_validator("pattern")
    @classmethod
    def check_regex(cls, v: str) -> str:
        try:
            re.compile(v)
        except re.error as e:
            raise ValueError(f"bad regex: {e}") from None
        return v

    @field_validator("location")
    @classmethod
    def check_location(cls, v: str) -> str:
        if v not in ("body", "cookie", "header_name", "location") and not re.fullmatch(r"header:[a-z0-9-]+", v):
            raise ValueError(f"{v!r}: expected body, cookie, header_name, location or header:<lower-case name>")
        return v

    @field_validator("strength")
    @classmethod
    def check_strength(cls, v: str) -> str:
        if v not in _STRENGTHS:
            raise ValueError(f"{v!r}: expected one of {', '.join(_STRENGTHS)}")
        return v

    @field_validator("role")
    @classmethod
    def check_role(cls, v: str) -> str:
        if v not in _ROLES:
            raise ValueError(f"{v!r}: expected empty or gateway, aaa, management")
        return v


ROW_MODELS: dict[str, type[_Row]] = {
    RDX_FILE: StampCsvRow,
    ZEROED_FILE: ZeroedCsvRow,
    VHASH_FILE: VhashCsvRow,
    LAST_MODIFIED_FILE: LastModifiedCsvRow,
    EPA_FILE: EpaCsvRow,
    FAVICON_FILE: FaviconCsvRow,
    RELEASES_FILE: ReleaseCsvRow,
    MARKERS_FILE: MarkerCsvRow,
}


SCHEMA_FILE = "fingerprint-rows.schema.json"


def row_json_schema() -> dict[str, Any]:
    """JSON Schema of one row per table: CSV rows as objects of strings, as a rule author's
    editor or a CSV linter sees them (``$defs`` keyed by file name)."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"https://nscheck.invalid/schemas/{SCHEMA_FILE}",
        "title": "nscheck fingerprint table rows (signatures/fingerprints/*.csv)",
        "description": "One object per CSV row, keyed by column; every value is CSV text. Validated on load by "
                       "nscheck.signatures.fingerprints (file:line errors).",
        "$defs": {name: model.model_json_schema() for name, model in ROW_MODELS.items()},
    }


def json_schemas() -> dict[str, str]:
    """File name -> the JSON Schema text to publish in schemas/ (deterministic)."""
    return {SCHEMA_FILE: json.dumps(row_json_schema(), indent=2, sort_keys=True, ensure_ascii=True) + "\n"}


def _read(path: Path, model: type[_Row], errors: list[SignatureError]) -> Iterator[tuple[int, Any]]:
    """Validated rows with their line numbers; every problem goes to ``errors`` (all of them,
    not just the first) as ``file:line: field: reason``."""
    try:
        fh = path.open(newline="", encoding="utf-8")
    except OSError as e:
        errors.append(SignatureError(path, f"cannot read: {e.strerror or e}"))
        return
    fields = model.model_fields
    required = [n for n, f in fields.items() if f.is_required()]
    with fh:
        reader = csv.DictReader(fh)
        header = reader.fieldnames or []
        missing = [c for c in required if c not in header]
        unknown = [c for c in header if c not in fields]
        if missing or unknown:
            parts = ([f"missing column(s) {', '.join(missing)}"] if missing else []) + \
                    ([f"unknown column(s) {', '.join(unknown)}"] if unknown else [])
            errors.append(SignatureError(path, "; ".join(parts), line=1))
            return
        for raw in reader:
            if None in raw or any(v is None for v in raw.values()):
                errors.append(SignatureError(path, "wrong number of fields", line=reader.line_num))
                continue
            try:
                yield reader.line_num, model.model_validate({k: v or "" for k, v in raw.items()})
            except ValidationError as e:
                for err in e.errors(include_url=False):
                    fld = str(err["loc"][0]) if err.get("loc") else None
                    msg = str(err.get("msg", "invalid"))
                    msg = msg.removeprefix("Value error, ")
                    errors.append(SignatureError(path, msg, field=fld, line=reader.line_num))


def _eds(text: str) -> tuple[Edition, ...]:
    return tuple(Edition(p) for p in text.split("|") if p)


def load(directory: Path | str) -> FingerprintTables:
    d = Path(directory) / "fingerprints"
    if not d.is_dir():
        d = Path(directory)  # allow pointing at the fingerprints folder itself
    errors: list[SignatureError] = []

    stamps: dict[int, list[StampRow]] = {}
    for ln, s in _read(d / RDX_FILE, StampCsvRow, errors):
        b = parse_build(s.build) if s.build else None
        stamps.setdefault(int(s.rdx_en_stamp), []).append(
            StampRow(int(s.rdx_en_stamp), b, _eds(s.edition), s.source, Confidence(s.confidence), ln))

    zeroed: list[ZeroedRow] = []
    for _ln, z in _read(d / ZEROED_FILE, ZeroedCsvRow, errors):
        zeroed.append(ZeroedRow(z.release, _eds(z.edition)[0], parse_build(z.floor), z.body_md5, int(z.body_size),
                                z.source, Confidence(z.confidence)))

    vh: dict[str, list[VhashRow]] = {}
    for _ln, v in _read(d / VHASH_FILE, VhashCsvRow, errors):
        vh.setdefault(v.vhash, []).append(VhashRow(v.vhash, parse_build(v.build) if v.build else None, v.source,
                                                   Confidence(v.confidence)))

    lm: dict[str, list[LastModifiedRow]] = {}
    for _ln, m in _read(d / LAST_MODIFIED_FILE, LastModifiedCsvRow, errors):
        lm.setdefault(m.last_modified, []).append(
            LastModifiedRow(m.last_modified, parse_build(m.build), m.source, Confidence(m.confidence)))

    epa: dict[int, EpaRow] = {}
    for _ln, e in _read(d / EPA_FILE, EpaCsvRow, errors):
        epa[int(e.size_bytes)] = EpaRow(e.path, int(e.size_bytes), e.relation, parse_build(e.build), e.source,
                                        Confidence(e.confidence))

    fav: dict[str, FaviconRow] = {}
    for _ln, f in _read(d / FAVICON_FILE, FaviconCsvRow, errors):
        fav[f.md5] = FaviconRow(f.md5, int(f.size_bytes) if f.size_bytes else None, f.typical_path, f.product,
                                f.netscaler == "true", f.source, Confidence(f.confidence))

    rel: dict[tuple[Build, Edition], ReleaseRow] = {}
    for _ln, r in _read(d / RELEASES_FILE, ReleaseCsvRow, errors):
        b, ed, day = parse_build(r.build), _eds(r.edition)[0], dt.date.fromisoformat(r.release_date)
        if (b, ed) not in rel or day < rel[(b, ed)].date:
            rel[(b, ed)] = ReleaseRow(b, ed, day, r.source)

    markers: list[Marker] = []
    for _ln, mk in _read(d / MARKERS_FILE, MarkerCsvRow, errors):
        markers.append(Marker(mk.id, mk.location, re.compile(mk.pattern), mk.strength, mk.role,
                              int(mk.min_body) if mk.min_body else 0, mk.source))

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


if __name__ == "__main__":  # python -m nscheck.signatures.fingerprints DIR: write the row schema there
    import sys

    target = Path(sys.argv[1] if len(sys.argv) > 1 else "schemas")
    for fname, text in json_schemas().items():
        (target / fname).write_text(text, encoding="utf-8")
        print(f"wrote {target / fname}")
