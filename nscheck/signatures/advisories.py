"""Security bulletins as reviewed data: ``signatures/advisories/CTX*.yaml``, ``lifecycle.yaml``
and ``manifest.yaml``.

Everything is validated on load and problems come back as ``SignatureError`` (file, line,
field, reason); several problems come back together as an ``ExceptionGroup`` of them. The
format is documented in ``signatures/README.md``.

Fix rows are keyed by *train* (release, edition): a FIPS build like ``13.1-37.241`` is never
compared with mainline ``13.1-59.22``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Any

from nscheck.build import Build, BuildError, Edition, Train, parse_build, parse_edition
from nscheck.signatures import SignatureError, register_loader
from nscheck.signatures._yaml import line_of, load_yaml

__all__ = [
    "ROLE_ANY",
    "Advisory",
    "AdvisorySet",
    "CveEntry",
    "FixStatus",
    "Manifest",
    "TrainFix",
    "TrainLifecycle",
    "load",
    "parse_train",
]

ROLE_ANY = "any"  # "every deployment": a precondition that is always met

ADVISORY_SUBDIR = "advisories"
LIFECYCLE_FILE = "lifecycle.yaml"
MANIFEST_FILE = "manifest.yaml"


class FixStatus(StrEnum):
    FIXED = "fixed"  # builds below ``fixed`` are affected
    NO_FIX = "no_fix"  # train is end of life at bulletin time: every build affected, no fix
    NOT_AFFECTED = "not_affected"  # the bulletin says this train is not affected
    UNKNOWN = "unknown"  # affected, but the fixed build could not be confirmed


class TrainStatus(StrEnum):
    SUPPORTED = "supported"
    EOL = "eol"
    UNCONFIRMED = "unconfirmed"


def parse_train(text: str) -> Train:
    """``"13.1"`` -> 13.1 standard; ``"13.1-fips"`` / ``"13.1-FIPS"`` -> 13.1 FIPS."""
    m = re.fullmatch(r"\s*(\d{1,2}\.\d)(?:[-\s]+([A-Za-z]+))?\s*", text)
    if not m:
        raise BuildError(f"{text!r} is not a train: expected e.g. 13.1, 13.1-fips or 12.1-ndcpp")
    return Train(m.group(1), parse_edition(m.group(2) or "standard"))


@dataclass(frozen=True, slots=True)
class TrainFix:
    """What one bulletin (or one CVE of it) says about one train."""

    train: Train
    status: FixStatus
    # First build that is fixed for certain (on every platform, by every source).
    fixed: Build | None = None
    # Lowest build some source calls fixed (MPX vs SDX, or a disputed fix). Builds in
    # [fixed_low, fixed) are "unknown", with ``note`` as the reason.
    fixed_low: Build | None = None
    # A build to recommend instead of ``fixed`` (13.1-64.23 -> GA 13.1-64.24).
    recommended: Build | None = None
    confirmed: bool = True
    note: str = ""
    source_branch: str = ""  # the branch label in the research data ("13.1-FIPS/NDcPP")

    @property
    def first_fixed(self) -> Build | None:
        return self.fixed_low or self.fixed


@dataclass(frozen=True, slots=True)
class RequiresFrom:
    """A precondition that replaces the CVE's ``requires`` from a build on, per train.

    CVE-2026-107406: before 14.1-73.37 a SAML SP or IdP is enough; from 14.1-73.37 up to the
    fix only a SAML IdP. ``from_builds`` holds one first build per train (inclusive).
    """

    from_builds: Mapping[Train, Build]
    requires: tuple[tuple[str, ...], ...] | None
    note: str = ""


@dataclass(frozen=True, slots=True)
class CveEntry:
    id: str
    type: str
    # Common name responders search for ("CitrixBleed"); optional, display only.
    name: str = ""
    cvss: float | None = None
    cvss_version: str | None = None
    cvss_source: str | None = None
    cvss_confirmed: bool = True
    cwe: str | None = None
    precondition: str = ""  # plain-language text
    # Conjunctive normal form: every group must be met, a group is met when any role in it
    # is. None = the precondition is not known (it can never be "not met").
    requires: tuple[tuple[str, ...], ...] | None = None
    kev_added: str | None = None
    kev_confirmed: bool = True
    kev_note: str = ""
    # Narrower (or wider) preconditions from a build on, in ascending order per train.
    requires_from: tuple[RequiresFrom, ...] = ()
    # Only these exact builds are affected (a regression, e.g. CVE-2026-4368 on 14.1-66.54).
    affected_only: tuple[Build, ...] = ()
    # Per-CVE train rows that override the bulletin's rows (e.g. a disputed fix).
    trains: tuple[TrainFix, ...] = ()
    note: str = ""
    _by_train: Mapping[Train, TrainFix] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_train", {t.train: t for t in self.trains})

    def train_fix(self, train: Train) -> TrainFix | None:
        return self._by_train.get(train)

    def requires_for(self, build: Build, via: Train | None = None) -> tuple[tuple[tuple[str, ...], ...] | None, str]:
        """The precondition that holds on ``build`` (which has an edition), and why.

        ``via``: a train whose numbering the build's train shares (14.1-FIPS -> 14.1), used when
        no entry names the build's own train.
        """
        requires, why = self.requires, ""
        train = build.train()
        for entry in self.requires_from:
            start = entry.from_builds.get(train)
            if start is None and via is not None:
                start = entry.from_builds.get(via)
            if start is not None and not build.older_than(start):
                requires, why = entry.requires, f"from {start} on"
        return requires, why


@dataclass(frozen=True, slots=True)
class Advisory:
    id: str
    title: str
    published: str
    cves: tuple[CveEntry, ...]
    trains: tuple[TrainFix, ...]
    preconditions: str = ""
    exploited: bool = False
    ransomware: str | None = None
    kev_note: str = ""
    actions: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    unconfirmed: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    file: str = ""
    _by_train: Mapping[Train, TrainFix] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_train", {t.train: t for t in self.trains})

    @property
    def kev(self) -> bool:
        return any(c.kev_added for c in self.cves)

    @property
    def max_cvss(self) -> float | None:
        scores = [c.cvss for c in self.cves if c.cvss is not None]
        return max(scores) if scores else None

    @property
    def cve_ids(self) -> tuple[str, ...]:
        return tuple(c.id for c in self.cves)

    def train_fix(self, train: Train) -> TrainFix | None:
        return self._by_train.get(train)

    def rows_for_release(self, release: str) -> tuple[TrainFix, ...]:
        return tuple(t for t in self.trains if t.train.release == release)


@dataclass(frozen=True, slots=True)
class TrainLifecycle:
    train: Train
    status: TrainStatus
    first_release: str | None = None  # earliest known release date of the train
    first_release_confirmed: bool = False
    eol_as_of: str | None = None  # from this date on, bulletins leave the train unfixed
    eol_confirmed: bool = False
    last_fix: Build | None = None
    last_fix_bulletin: str | None = None
    shares_numbering_with: Train | None = None  # 14.1-FIPS uses 14.1 mainline numbers
    # The build-majors a FIPS/NDcPP train uses (13.1-FIPS: 37); empty = not restricted.
    build_majors: tuple[int, ...] = ()
    notes: tuple[str, ...] = ()

    def eol_at(self, day: str) -> bool:
        return self.status is TrainStatus.EOL and self.eol_as_of is not None and self.eol_as_of <= day

    def existed_at(self, day: str) -> bool | None:
        """False when the train was first released after ``day``; None when not known."""
        if self.first_release is None:
            return None
        return self.first_release <= day


@dataclass(frozen=True, slots=True)
class Manifest:
    version: str
    date: str
    newest_bulletin: str
    roles: Mapping[str, str]
    description: str = ""
    sources_as_of: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class AdvisorySet:
    advisories: tuple[Advisory, ...]
    lifecycle: Mapping[Train, TrainLifecycle]
    manifest: Manifest
    directory: Path | None = None
    _first_rows: Mapping[Train, str] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        first: dict[Train, str] = {}
        for a in self.advisories:
            for t in a.trains:
                if t.train not in first or a.published < first[t.train]:
                    first[t.train] = a.published
        object.__setattr__(self, "_first_rows", first)

    def __len__(self) -> int:
        return len(self.advisories)

    def __iter__(self) -> Iterator[Advisory]:
        return iter(self.advisories)

    def get(self, ident: str) -> Advisory | None:
        """By CTX id or by CVE id (case-insensitive)."""
        key = ident.strip().upper()
        for a in self.advisories:
            if a.id.upper() == key or key in a.cve_ids:
                return a
        return None

    def first_row_date(self, train: Train) -> str | None:
        """Publication date of the first bulletin with a row for ``train``."""
        return self._first_rows.get(train)


# -- validation -------------------------------------------------------------------------------

_CTX_RE = re.compile(r"^CTX\d{5,7}$")
# A bulletin whose CTX id is not confirmed yet is keyed by its date (NSB-2026-11-12); such a file
# must say so in ``unconfirmed``.
_ID_RE = re.compile(r"^(CTX\d{5,7}|NSB-\d{4}-\d{2}-\d{2})$")
_CVE_RE = re.compile(r"^CVE-\d{4}-\d{4,7}$")


class _Errors:
    def __init__(self) -> None:
        self.items: list[SignatureError] = []

    def add(self, file: Path | str, reason: str, *, field: str | None = None, obj: Any = None,
            key: str | None = None, line: int | None = None) -> None:
        if line is None and obj is not None:
            line = line_of(obj, key or "") if key else getattr(obj, "start_line", None)
        self.items.append(SignatureError(file, reason, field=field, line=line))


class _Ctx:
    """One file being validated: helpers that record an error and return a safe value."""

    def __init__(self, path: Path, errors: _Errors):
        self.path = path
        self.errors = errors

    def err(self, obj: Any, key: str | None, fld: str, reason: str) -> None:
        self.errors.add(self.path, reason, field=fld, obj=obj, key=key)

    def check_keys(self, obj: Mapping[str, Any], allowed: set[str], required: set[str], where: str) -> None:
        for k in obj:
            if k not in allowed:
                self.err(obj, str(k), f"{where}{k}", f"unknown field (allowed: {', '.join(sorted(allowed))})")
        for k in sorted(required):
            if k not in obj:
                self.err(obj, None, f"{where}{k}", "required field missing")

    def mapping(self, obj: Any, fld: str, parent: Any = None, key: str | None = None) -> Mapping[str, Any] | None:
        if isinstance(obj, dict):
            return obj
        self.err(parent, key, fld, f"expected a mapping, got {type(obj).__name__}")
        return None

    def string(self, obj: Mapping[str, Any], key: str, fld: str, *, required: bool = False,
               pattern: re.Pattern[str] | None = None) -> str | None:
        v = obj.get(key)
        if v is None:
            if required and key in obj:
                self.err(obj, key, fld, "must not be empty")
            return None
        if isinstance(v, bool) or not isinstance(v, str | int | float):
            self.err(obj, key, fld, f"expected text, got {type(v).__name__}")
            return None
        s = str(v).strip()
        if required and not s:
            self.err(obj, key, fld, "must not be empty")
            return None
        if pattern is not None and not pattern.match(s):
            self.err(obj, key, fld, f"{s!r} does not match {pattern.pattern}")
            return None
        return s

    def date(self, obj: Mapping[str, Any], key: str, fld: str) -> str | None:
        s = self.string(obj, key, fld)
        if s is None:
            return None
        try:
            date.fromisoformat(s)
        except ValueError:
            self.err(obj, key, fld, f"{s!r} is not a date (YYYY-MM-DD)")
            return None
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", s):
            self.err(obj, key, fld, f"{s!r} is not a date (YYYY-MM-DD)")
            return None
        return s

    def boolean(self, obj: Mapping[str, Any], key: str, fld: str, default: bool) -> bool:
        v = obj.get(key, default)
        if not isinstance(v, bool):
            self.err(obj, key, fld, f"expected true or false, got {v!r}")
            return default
        return v

    def number(self, obj: Mapping[str, Any], key: str, fld: str) -> float | None:
        v = obj.get(key)
        if v is None:
            return None
        if isinstance(v, bool) or not isinstance(v, int | float) or not 0 <= float(v) <= 10:
            self.err(obj, key, fld, f"expected a CVSS score 0.0-10.0 or null, got {v!r}")
            return None
        return float(v)

    def strings(self, obj: Mapping[str, Any], key: str, fld: str) -> tuple[str, ...]:
        v = obj.get(key)
        if v is None:
            return ()
        if not isinstance(v, list) or not all(isinstance(x, str) and x.strip() for x in v):
            self.err(obj, key, fld, "expected a list of non-empty texts")
            return ()
        return tuple(x.strip() for x in v)

    def build(self, obj: Mapping[str, Any], key: str, fld: str, train: Train | None) -> Build | None:
        v = obj.get(key)
        if v is None:
            return None
        if not isinstance(v, str):
            self.err(obj, key, fld, f"expected a build string like 14.1-47.46, got {v!r}")
            return None
        try:
            b = parse_build(v)
        except BuildError as e:
            self.err(obj, key, fld, str(e))
            return None
        if not re.fullmatch(r"\s*\d{1,2}\.\d-\d{1,3}\.\d{1,4}(\s+(FIPS|NDcPP))?\s*", v, re.I):
            self.err(obj, key, fld, f"{v!r}: write builds canonically, e.g. 14.1-47.46 (optionally ' FIPS')")
            return None
        if train is not None:
            if b.release != train.release:
                self.err(obj, key, fld, f"{v} is not on train {train} (release {b.release} != {train.release})")
                return None
            if b.edition is not None and b.edition is not train.edition:
                self.err(obj, key, fld, f"{v} names edition {b.edition.value} but the row is {train}")
                return None
            b = b.with_edition(train.edition)
        return b


_ROW_KEYS = {"release", "edition", "status", "fixed", "fixed_low", "recommended", "confirmed", "note",
             "source_branch"}


def _train_row(c: _Ctx, raw: Any, where: str, parent: Any, key: str) -> TrainFix | None:
    row = c.mapping(raw, where, parent, key)
    if row is None:
        return None
    c.check_keys(row, _ROW_KEYS, {"release"}, f"{where}.")
    rel = c.string(row, "release", f"{where}.release", required=True, pattern=re.compile(r"^\d{1,2}\.\d$"))
    if rel is None:
        return None
    try:
        edition = parse_edition(str(row.get("edition") or "standard"))
    except BuildError as e:
        c.err(row, "edition", f"{where}.edition", str(e))
        return None
    train = Train(rel, edition)
    where = f"{where}[{train}]"
    fixed = c.build(row, "fixed", f"{where}.fixed", train)
    fixed_low = c.build(row, "fixed_low", f"{where}.fixed_low", train)
    recommended = c.build(row, "recommended", f"{where}.recommended", train)
    default_status = FixStatus.FIXED.value if "fixed" in row else None
    st_raw = row.get("status", default_status)
    try:
        status = FixStatus(st_raw)
    except ValueError:
        c.err(row, "status" if "status" in row else None, f"{where}.status",
              f"missing fixed build: give 'fixed: <build>' or status one of "
              f"{', '.join(s.value for s in FixStatus)} (got {st_raw!r})")
        return None
    if status is FixStatus.FIXED and fixed is None:
        if "fixed" not in row:
            c.err(row, "status", f"{where}.fixed", "status fixed needs a 'fixed' build (or status no_fix)")
        return None
    if status is not FixStatus.FIXED and ("fixed" in row or "fixed_low" in row or "recommended" in row):
        c.err(row, "status", f"{where}.status", f"status {status.value} cannot have fixed/fixed_low/recommended builds")
        return None
    if fixed is not None and fixed_low is not None and not fixed_low.older_than(fixed):
        c.err(row, "fixed_low", f"{where}.fixed_low", f"{fixed_low} must be older than fixed {fixed}")
    if fixed is not None and recommended is not None and recommended.older_than(fixed):
        c.err(row, "recommended", f"{where}.recommended", f"{recommended} is older than fixed {fixed}")
    confirmed = c.boolean(row, "confirmed", f"{where}.confirmed", True)
    note = c.string(row, "note", f"{where}.note") or ""
    if status is FixStatus.UNKNOWN and not note:
        c.err(row, "status", f"{where}.note", "status unknown needs a note saying what is missing")
    if fixed_low is not None and not note:
        c.err(row, "fixed_low", f"{where}.note", "a fixed_low build needs a note explaining the range")
    return TrainFix(
        train, status, fixed, fixed_low, recommended, confirmed, note,
        c.string(row, "source_branch", f"{where}.source_branch") or "",
    )


def _train_rows(c: _Ctx, obj: Mapping[str, Any], key: str, where: str, required: bool) -> tuple[TrainFix, ...]:
    raw = obj.get(key)
    if raw is None:
        if required:
            c.err(obj, None, where, "required field missing: one row per train (fixed build, no_fix, ...)")
        return ()
    if not isinstance(raw, list) or (required and not raw):
        c.err(obj, key, where, "expected a non-empty list of train rows")
        return ()
    rows: list[TrainFix] = []
    seen: set[Train] = set()
    for i, r in enumerate(raw):
        tf = _train_row(c, r, f"{where}[{i}]", obj, key)
        if tf is None:
            continue
        if tf.train in seen:
            c.err(r, "release", f"{where}[{i}]", f"duplicate row for train {tf.train}")
            continue
        seen.add(tf.train)
        rows.append(tf)
    return tuple(rows)


def _requires(c: _Ctx, cve: Mapping[str, Any], where: str, roles: Mapping[str, str]) -> tuple[tuple[str, ...], ...] | None:
    raw = cve.get("requires")
    if raw is None or raw == "unknown":
        return None
    bad = "expected 'unknown' or a list of role groups, e.g. [[gateway, aaa], [saml_sp]]"
    if not isinstance(raw, list) or not raw:
        c.err(cve, "requires", where, bad)
        return None
    groups: list[tuple[str, ...]] = []
    for g in raw:
        if not isinstance(g, list) or not g or not all(isinstance(r, str) for r in g):
            c.err(cve, "requires", where, bad)
            return None
        for r in g:
            if r not in roles:
                c.err(cve, "requires", where, f"unknown role {r!r} (roles are listed in manifest.yaml)")
                return None
        groups.append(tuple(g))
    return tuple(groups)


_FROM_KEYS = {"from", "requires", "note"}


def _requires_from(c: _Ctx, cve: Mapping[str, Any], where: str, roles: Mapping[str, str]) -> tuple[RequiresFrom, ...]:
    raw = cve.get("requires_from")
    if raw is None:
        return ()
    if not isinstance(raw, list) or not raw:
        c.err(cve, "requires_from", where, "expected a non-empty list of {from: [builds], requires: [[roles]]}")
        return ()
    out: list[RequiresFrom] = []
    last: dict[Train, Build] = {}
    for i, item in enumerate(raw):
        w = f"{where}[{i}]"
        entry = c.mapping(item, w, cve, "requires_from")
        if entry is None:
            continue
        c.check_keys(entry, _FROM_KEYS, {"from", "requires"}, f"{w}.")
        builds = entry.get("from")
        if not isinstance(builds, list) or not builds:
            c.err(entry, "from", f"{w}.from", "expected a non-empty list of first builds, one per train "
                  "(e.g. [14.1-73.37, 13.1-37.279 FIPS])")
            continue
        starts: dict[Train, Build] = {}
        for b in builds:
            if not isinstance(b, str):
                c.err(entry, "from", f"{w}.from", f"expected a build string like 14.1-73.37 FIPS, got {b!r}")
                continue
            try:
                pb = parse_build(b)
            except BuildError as e:
                c.err(entry, "from", f"{w}.from", str(e))
                continue
            if not re.fullmatch(r"\s*\d{1,2}\.\d-\d{1,3}\.\d{1,4}(\s+(FIPS|NDcPP))?\s*", b, re.I):
                c.err(entry, "from", f"{w}.from", f"{b!r}: write builds canonically, e.g. 13.1-37.279 FIPS")
                continue
            pb = pb.with_edition(pb.edition or Edition.STANDARD)
            train = pb.train()
            if train in starts:
                c.err(entry, "from", f"{w}.from", f"two first builds for train {train}")
                continue
            if train in last and not last[train].older_than(pb):
                c.err(entry, "from", f"{w}.from", f"{pb} must be newer than the previous entry's {last[train]} "
                      f"(entries are in ascending build order per train)")
                continue
            starts[train] = pb
        last.update(starts)
        requires = None if entry.get("requires") in (None, "unknown") else _requires(c, entry, f"{w}.requires", roles)
        out.append(RequiresFrom(starts, requires, c.string(entry, "note", f"{w}.note") or ""))
    return tuple(out)


_CVE_KEYS = {"id", "name", "type", "cvss", "cvss_version", "cvss_source", "cvss_confirmed", "cwe", "precondition",
             "requires", "requires_from", "kev_added", "kev_confirmed", "kev_note", "affected_only", "trains", "note"}


def _cve(c: _Ctx, raw: Any, where: str, parent: Any, roles: Mapping[str, str]) -> CveEntry | None:
    cve = c.mapping(raw, where, parent, "cves")
    if cve is None:
        return None
    c.check_keys(cve, _CVE_KEYS, {"id", "type", "requires"}, f"{where}.")
    cid = c.string(cve, "id", f"{where}.id", required=True, pattern=_CVE_RE)
    if cid is None:
        return None
    where = f"cves[{cid}]"
    only: list[Build] = []
    raw_only = cve.get("affected_only")
    if raw_only is not None:
        if not isinstance(raw_only, list) or not raw_only:
            c.err(cve, "affected_only", f"{where}.affected_only", "expected a non-empty list of builds")
        else:
            for b in raw_only:
                try:
                    got = parse_build(str(b))
                except BuildError as e:
                    c.err(cve, "affected_only", f"{where}.affected_only", str(e))
                    continue
                only.append(got.with_edition(got.edition or Edition.STANDARD))
    return CveEntry(
        id=cid,
        type=c.string(cve, "type", f"{where}.type", required=True) or "",
        name=c.string(cve, "name", f"{where}.name") or "",
        cvss=c.number(cve, "cvss", f"{where}.cvss"),
        cvss_version=c.string(cve, "cvss_version", f"{where}.cvss_version"),
        cvss_source=c.string(cve, "cvss_source", f"{where}.cvss_source"),
        cvss_confirmed=c.boolean(cve, "cvss_confirmed", f"{where}.cvss_confirmed", True),
        cwe=c.string(cve, "cwe", f"{where}.cwe"),
        precondition=c.string(cve, "precondition", f"{where}.precondition") or "",
        requires=_requires(c, cve, f"{where}.requires", roles),
        requires_from=_requires_from(c, cve, f"{where}.requires_from", roles),
        kev_added=c.date(cve, "kev_added", f"{where}.kev_added"),
        kev_confirmed=c.boolean(cve, "kev_confirmed", f"{where}.kev_confirmed", True),
        kev_note=c.string(cve, "kev_note", f"{where}.kev_note") or "",
        affected_only=tuple(only),
        trains=_train_rows(c, cve, "trains", f"{where}.trains", required=False),
        note=c.string(cve, "note", f"{where}.note") or "",
    )


_ADV_KEYS = {"id", "title", "published", "cves", "preconditions", "trains", "exploited", "ransomware",
             "kev_note", "actions", "sources", "unconfirmed", "notes"}


def _advisory(path: Path, errors: _Errors, roles: Mapping[str, str]) -> Advisory | None:
    c = _Ctx(path, errors)
    try:
        doc = load_yaml(path)
    except SignatureError as e:
        errors.items.append(e)
        return None
    if not isinstance(doc, dict):
        errors.add(path, "expected a mapping at the top level (id, title, published, cves, trains, ...)")
        return None
    n_before = len(errors.items)
    c.check_keys(doc, _ADV_KEYS, {"id", "title", "published", "cves", "trains", "sources"}, "")
    aid = c.string(doc, "id", "id", required=True, pattern=_ID_RE)
    if aid is not None and aid != path.stem:
        c.err(doc, "id", "id", f"id {aid} does not match the file name {path.name}")
    published = c.date(doc, "published", "published")
    cves: list[CveEntry] = []
    raw_cves = doc.get("cves")
    if raw_cves is not None and (not isinstance(raw_cves, list) or not raw_cves):
        c.err(doc, "cves", "cves", "expected a non-empty list of CVEs")
    elif raw_cves:
        seen: set[str] = set()
        for i, rc in enumerate(raw_cves):
            ce = _cve(c, rc, f"cves[{i}]", doc, roles)
            if ce is None:
                continue
            if ce.id in seen:
                c.err(rc, "id", f"cves[{i}].id", f"duplicate CVE {ce.id}")
            seen.add(ce.id)
            cves.append(ce)
    trains = _train_rows(c, doc, "trains", "trains", required=True)
    sources = c.strings(doc, "sources", "sources")
    if "sources" in doc and not sources:
        c.err(doc, "sources", "sources", "at least one source is required")
    exploited = c.boolean(doc, "exploited", "exploited", False)
    if any(ce.kev_added for ce in cves) and not exploited:
        c.err(doc, "exploited", "exploited", "a CVE is in KEV, so exploited must be true")
    # A CVE row that overrides a train must refer to one the bulletin covers.
    for ce in cves:
        for tf in ce.trains:
            if not any(t.train == tf.train for t in trains):
                c.err(doc, "cves", f"cves[{ce.id}].trains[{tf.train}]", "train has no row in the bulletin's trains")
    # A build-dependent precondition must start inside an affected range the bulletin gives:
    # a first build at or above the train's fix would never apply (a typo a reviewer misses).
    for i, ce in enumerate(cves):
        for j, entry in enumerate(ce.requires_from):
            for train, start in entry.from_builds.items():
                row = ce.train_fix(train) or next((t for t in trains if t.train == train), None)
                where = f"cves[{ce.id}].requires_from[{j}].from"
                if row is None:
                    c.err(raw_cves[i], "requires_from", where, f"train {train} has no row in the bulletin's trains")
                elif row.first_fixed is not None and not start.older_than(row.first_fixed):
                    c.err(raw_cves[i], "requires_from", where,
                          f"{start} is not below the fixed build {row.first_fixed}: the precondition would never apply")
    if aid is not None and aid.startswith("NSB-"):
        if aid[4:] != published:
            c.err(doc, "id", "id", f"a placeholder id must be NSB-<published date> (NSB-{published})")
        if not any("ctx id" in u.lower() for u in c.strings(doc, "unconfirmed", "unconfirmed")):
            c.err(doc, "id", "id", "a placeholder id needs an 'unconfirmed' entry saying the CTX id is not confirmed")
    if len(errors.items) > n_before or aid is None or published is None:
        return None
    return Advisory(
        id=aid,
        title=c.string(doc, "title", "title", required=True) or "",
        published=published,
        cves=tuple(cves),
        trains=trains,
        preconditions=c.string(doc, "preconditions", "preconditions") or "",
        exploited=exploited,
        ransomware=c.string(doc, "ransomware", "ransomware"),
        kev_note=c.string(doc, "kev_note", "kev_note") or "",
        actions=c.strings(doc, "actions", "actions"),
        sources=sources,
        unconfirmed=c.strings(doc, "unconfirmed", "unconfirmed"),
        notes=c.strings(doc, "notes", "notes"),
        file=str(path),
    )


_MANIFEST_KEYS = {"name", "version", "date", "newest_bulletin", "description", "sources_as_of", "roles"}


def _manifest(directory: Path, errors: _Errors) -> Manifest | None:
    path = directory / MANIFEST_FILE
    c = _Ctx(path, errors)
    try:
        doc = load_yaml(path)
    except SignatureError as e:
        errors.items.append(e)
        return None
    if not isinstance(doc, dict):
        errors.add(path, "expected a mapping (version, date, newest_bulletin, roles)")
        return None
    n = len(errors.items)
    c.check_keys(doc, _MANIFEST_KEYS, {"version", "date", "newest_bulletin", "roles"}, "")
    version = c.string(doc, "version", "version", required=True, pattern=re.compile(r"^\d{4}\.\d{2}\.\d{2}(\.\d+)?$"))
    day = c.date(doc, "date", "date")
    roles_raw = doc.get("roles")
    roles: dict[str, str] = {}
    if not isinstance(roles_raw, dict) or not roles_raw:
        c.err(doc, "roles", "roles", "expected a mapping of role name -> description")
    else:
        for k, v in roles_raw.items():
            if not isinstance(k, str) or not re.fullmatch(r"[a-z][a-z0-9_]*", k) or not isinstance(v, str):
                c.err(roles_raw, str(k), f"roles.{k}", "role names are lower_snake_case with a text description")
            else:
                roles[k] = v
        if ROLE_ANY not in roles:
            c.err(doc, "roles", "roles", f"the role {ROLE_ANY!r} (every deployment) must be listed")
    sao = doc.get("sources_as_of") or {}
    if not isinstance(sao, dict):
        c.err(doc, "sources_as_of", "sources_as_of", "expected a mapping")
        sao = {}
    if len(errors.items) > n or version is None or day is None:
        return None
    return Manifest(
        version=version, date=day,
        newest_bulletin=c.string(doc, "newest_bulletin", "newest_bulletin", required=True) or "",
        roles=roles, description=c.string(doc, "description", "description") or "",
        sources_as_of={str(k): str(v) for k, v in sao.items()},
    )


_LIFE_KEYS = {"release", "edition", "status", "first_release", "first_release_confirmed", "eol_as_of",
              "eol_confirmed", "last_fix", "last_fix_bulletin", "shares_numbering_with", "build_majors", "notes"}


def _lifecycle(directory: Path, errors: _Errors) -> dict[Train, TrainLifecycle] | None:
    path = directory / LIFECYCLE_FILE
    c = _Ctx(path, errors)
    try:
        doc = load_yaml(path)
    except SignatureError as e:
        errors.items.append(e)
        return None
    if not isinstance(doc, dict) or not isinstance(doc.get("trains"), list):
        errors.add(path, "expected a mapping with a 'trains' list", field="trains")
        return None
    c.check_keys(doc, {"trains"}, {"trains"}, "")
    out: dict[Train, TrainLifecycle] = {}
    n = len(errors.items)
    for i, raw in enumerate(doc["trains"]):
        row = c.mapping(raw, f"trains[{i}]", doc, "trains")
        if row is None:
            continue
        c.check_keys(row, _LIFE_KEYS, {"release", "status"}, f"trains[{i}].")
        rel = c.string(row, "release", f"trains[{i}].release", required=True, pattern=re.compile(r"^\d{1,2}\.\d$"))
        if rel is None:
            continue
        try:
            train = Train(rel, parse_edition(str(row.get("edition") or "standard")))
        except BuildError as e:
            c.err(row, "edition", f"trains[{i}].edition", str(e))
            continue
        where = f"trains[{train}]"
        if train in out:
            c.err(row, "release", where, f"duplicate train {train}")
            continue
        try:
            status = TrainStatus(row.get("status"))
        except ValueError:
            c.err(row, "status", f"{where}.status", f"expected one of {', '.join(s.value for s in TrainStatus)}")
            continue
        eol_as_of = c.date(row, "eol_as_of", f"{where}.eol_as_of")
        if status is TrainStatus.EOL and eol_as_of is None:
            c.err(row, "status", f"{where}.eol_as_of", "an eol train needs eol_as_of (date from which it has no fix)")
        shares: Train | None = None
        if row.get("shares_numbering_with") is not None:
            try:
                shares = parse_train(str(row["shares_numbering_with"]))
            except BuildError as e:
                c.err(row, "shares_numbering_with", f"{where}.shares_numbering_with", str(e))
        majors: tuple[int, ...] = ()
        raw_majors = row.get("build_majors")
        if raw_majors is not None:
            if not isinstance(raw_majors, list) or not raw_majors or not all(
                    isinstance(m, int) and not isinstance(m, bool) and 0 < m < 1000 for m in raw_majors):
                c.err(row, "build_majors", f"{where}.build_majors", "expected a non-empty list of build-majors, e.g. [37]")
            else:
                majors = tuple(raw_majors)
        out[train] = TrainLifecycle(
            train=train, status=status,
            first_release=c.date(row, "first_release", f"{where}.first_release"),
            first_release_confirmed=c.boolean(row, "first_release_confirmed", f"{where}.first_release_confirmed", False),
            eol_as_of=eol_as_of,
            eol_confirmed=c.boolean(row, "eol_confirmed", f"{where}.eol_confirmed", False),
            last_fix=c.build(row, "last_fix", f"{where}.last_fix", train),
            last_fix_bulletin=c.string(row, "last_fix_bulletin", f"{where}.last_fix_bulletin", pattern=_ID_RE),
            shares_numbering_with=shares,
            build_majors=majors,
            notes=c.strings(row, "notes", f"{where}.notes"),
        )
    for t, lc in out.items():
        if lc.shares_numbering_with is not None and lc.shares_numbering_with not in out:
            errors.add(path, f"{lc.shares_numbering_with} is not a train in this file",
                       field=f"trains[{t}].shares_numbering_with")
    return None if len(errors.items) > n else out


def load(directory: Path) -> AdvisorySet:
    """Load and validate the bulletin set. Raises SignatureError, or an ExceptionGroup of them."""
    directory = Path(directory)
    errors = _Errors()
    manifest = _manifest(directory, errors)
    lifecycle = _lifecycle(directory, errors)
    adv_dir = directory / ADVISORY_SUBDIR
    files: list[Path] = []
    if not adv_dir.is_dir():
        errors.add(adv_dir, "advisory directory missing")
    else:
        files = sorted(p for p in adv_dir.iterdir() if p.suffix in (".yaml", ".yml"))
        if not files:
            errors.add(adv_dir, "no advisory files (*.yaml)")
    roles = manifest.roles if manifest is not None else {}
    advisories: list[Advisory] = []
    seen: dict[str, str] = {}
    for p in files:
        a = _advisory(p, errors, roles)
        if a is None:
            continue
        if a.id in seen:
            errors.add(p, f"duplicate advisory id {a.id} (also in {seen[a.id]})", field="id", line=1)
            continue
        seen[a.id] = p.name
        advisories.append(a)
    if lifecycle is not None:
        for a in advisories:
            for tf in a.trains:
                if tf.train not in lifecycle:
                    errors.add(a.file, f"train {tf.train} is not in {LIFECYCLE_FILE}", field=f"trains[{tf.train}]")
        for t, lc in lifecycle.items():
            if lc.last_fix_bulletin and lc.last_fix_bulletin not in seen:
                errors.add(directory / LIFECYCLE_FILE, f"unknown bulletin {lc.last_fix_bulletin}",
                           field=f"trains[{t}].last_fix_bulletin")
    if manifest is not None and advisories:
        newest = max(advisories, key=lambda a: a.published)
        if manifest.newest_bulletin not in seen:
            errors.add(directory / MANIFEST_FILE, f"{manifest.newest_bulletin} is not in the set", field="newest_bulletin")
        elif manifest.date < newest.published:
            errors.add(directory / MANIFEST_FILE, f"date {manifest.date} is older than bulletin {newest.id} "
                       f"({newest.published})", field="date")
    if errors.items:
        if len(errors.items) == 1:
            raise errors.items[0]
        raise ExceptionGroup(f"{len(errors.items)} errors in signature set {directory}", errors.items)
    assert manifest is not None and lifecycle is not None
    advisories.sort(key=lambda a: (a.published, a.id))
    return AdvisorySet(tuple(advisories), lifecycle, manifest, directory)


def signature_errors(exc: BaseException) -> list[SignatureError]:
    """Flatten what ``load`` raised into a list of errors (for printing)."""
    if isinstance(exc, SignatureError):
        return [exc]
    if isinstance(exc, BaseExceptionGroup):
        out: list[SignatureError] = []
        for e in exc.exceptions:
            out.extend(signature_errors(e))
        return out
    return [SignatureError("?", str(exc))]


register_loader("advisories", load)
