"""Security bulletins as reviewed data: ``signatures/advisories/CTX*.yaml``, ``lifecycle.yaml``
and ``manifest.yaml``.

Everything is validated on load by pydantic models of the file format (``AdvisoryModel``,
``LifecycleModel``, ``ManifestModel``; their JSON Schemas are published in ``schemas/``) and
problems come back as ``SignatureError`` (file, line, field, reason); several problems come back
together as an ``ExceptionGroup`` of them. The format is documented in ``signatures/README.md``.

Fix rows are keyed by *train* (release, edition): a FIPS build like ``13.1-37.241`` is never
compared with mainline ``13.1-59.22``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from nscheck.build import Build, BuildError, Edition, Train, parse_build, parse_edition
from nscheck.signatures import SignatureError, register_loader
from nscheck.signatures._yaml import LinedDict, line_of, load_yaml

__all__ = [
    "ROLE_ANY",
    "Advisory",
    "AdvisoryModel",
    "AdvisorySet",
    "CveEntry",
    "FixStatus",
    "LifecycleModel",
    "Manifest",
    "ManifestModel",
    "RequiresFrom",
    "TrainFix",
    "TrainLifecycle",
    "json_schemas",
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


# -- validation: pydantic models of the file format -------------------------------------------
#
# The models describe the YAML as written (extra="forbid", strict booleans, canonical builds);
# they are converted into the frozen dataclasses above, which the engine uses. Every error keeps
# ``file:line``: pydantic's error location is walked through the line-tracking YAML
# (``LinedDict``). Rules that involve several fields raise ``_at(path, reason)`` so the error
# points at the field that is wrong, not at the whole row.

_CTX_RE = re.compile(r"^CTX\d{5,7}$")
# A bulletin whose CTX id is not confirmed yet is keyed by its date (NSB-2026-11-12); such a file
# must say so in ``unconfirmed``.
_ID_PATTERN = r"^(CTX\d{5,7}|NSB-\d{4}-\d{2}-\d{2})$"
_CVE_PATTERN = r"^CVE-\d{4}-\d{4,7}$"
_RELEASE_PATTERN = r"^\d{1,2}\.\d$"
_CANONICAL_BUILD = re.compile(r"\s*\d{1,2}\.\d-\d{1,3}\.\d{1,4}(\s+(FIPS|NDcPP))?\s*", re.I)


def _at(path: str, reason: str) -> ValueError:
    """A model-level error aimed at a field: ``path`` is relative to the model ("fixed_low",
    "requires_from.1.from")."""
    return ValueError(f"@{path}@{reason}")


def _text(v: Any) -> Any:
    # YAML reads 4.0 or 2026 as numbers; the old loader accepted them as text, and so do we.
    if isinstance(v, int | float) and not isinstance(v, bool):
        return str(v)
    return v


def _strip(v: str) -> str:
    return v.strip()


Text = Annotated[str, BeforeValidator(_text), AfterValidator(_strip)]


def _nonempty(v: str) -> str:
    if not v:
        raise ValueError("must not be empty")
    return v


Required = Annotated[Text, AfterValidator(_nonempty)]


def _date(v: str) -> str:
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", v):
        raise ValueError(f"{v!r} is not a date (YYYY-MM-DD)")
    try:
        date.fromisoformat(v)
    except ValueError:
        raise ValueError(f"{v!r} is not a date (YYYY-MM-DD)") from None
    return v


Day = Annotated[str, AfterValidator(_date), Field(pattern=r"^\d{4}-\d{2}-\d{2}$")]


def _build(v: Any) -> str:
    if not isinstance(v, str):
        raise ValueError(f"expected a build string like 14.1-47.46, got {v!r}")
    try:
        parse_build(v)
    except BuildError as e:
        raise ValueError(str(e)) from None
    if not _CANONICAL_BUILD.fullmatch(v):
        raise ValueError(f"{v!r}: write builds canonically, e.g. 14.1-47.46 (optionally ' FIPS')")
    return v.strip()


# The pattern is for editors (JSON Schema); validation is _build (edition words in any case).
BuildText = Annotated[str, BeforeValidator(_build),
                      Field(description="a build, e.g. 14.1-47.46 or 13.1-37.241 FIPS",
                            json_schema_extra={"pattern": r"^\d{1,2}\.\d-\d{1,3}\.\d{1,4}( (FIPS|NDcPP|fips|ndcpp))?$"})]


def _parsed(v: str) -> Build:
    b = parse_build(v)
    return b.with_edition(b.edition or Edition.STANDARD)


def _edition(v: Any) -> Any:
    if v is None:
        return "standard"
    if isinstance(v, str):
        try:
            return parse_edition(v).value
        except BuildError as e:
            raise ValueError(str(e)) from None
    return v


EditionText = Annotated[Literal["standard", "fips", "ndcpp"], BeforeValidator(_edition)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=False)


def _roles_ok(requires: Any, info: ValidationInfo) -> Any:
    roles = (info.context or {}).get("roles")
    if isinstance(requires, list) and roles is not None:
        for group in requires:
            for r in group:
                if r not in roles:
                    raise ValueError(f"unknown role {r!r} (roles are listed in manifest.yaml)")
    return requires


def _requires_shape(v: Any) -> Any:
    if v is None or v == "unknown":
        return "unknown"
    bad = "expected 'unknown' or a list of role groups, e.g. [[gateway, aaa], [saml_sp]]"
    if not isinstance(v, list) or not v or not all(
            isinstance(g, list) and g and all(isinstance(r, str) for r in g) for g in v):
        raise ValueError(bad)
    return v


Requires = Annotated[Literal["unknown"] | list[list[str]], BeforeValidator(_requires_shape)]


class TrainRowModel(_Model):
    """One row of a bulletin (or of one CVE): what it says about one train."""

    release: Annotated[Text, Field(pattern=_RELEASE_PATTERN)]
    edition: EditionText = "standard"
    status: FixStatus | None = Field(None, description="fixed (default when 'fixed' is given) | no_fix | "
                                     "not_affected | unknown")
    fixed: BuildText | None = None
    fixed_low: BuildText | None = Field(None, description="lowest build some source calls fixed; "
                                        "[fixed_low, fixed) assesses as unknown")
    recommended: BuildText | None = None
    confirmed: StrictBool = True
    note: Text = ""
    source_branch: Text = ""

    @property
    def train(self) -> Train:
        return Train(self.release, Edition(self.edition))

    @model_validator(mode="after")
    def _rules(self) -> TrainRowModel:
        train = self.train
        for key in ("fixed", "fixed_low", "recommended"):
            v = getattr(self, key)
            if v is None:
                continue
            b = parse_build(v)
            if b.release != train.release:
                raise _at(key, f"{v} is not on train {train} (release {b.release} != {train.release})")
            if b.edition is not None and b.edition is not train.edition:
                raise _at(key, f"{v} names edition {b.edition.value} but the row is {train}")
        status = self.status or (FixStatus.FIXED if self.fixed is not None else None)
        if status is None:
            raise _at("status", "missing fixed build: give 'fixed: <build>' or status one of "
                      f"{', '.join(s.value for s in FixStatus)}")
        if status is FixStatus.FIXED and self.fixed is None:
            raise _at("fixed", "status fixed needs a 'fixed' build (or status no_fix)")
        if status is not FixStatus.FIXED and (self.fixed or self.fixed_low or self.recommended):
            raise _at("status", f"status {status.value} cannot have fixed/fixed_low/recommended builds")
        fixed = _parsed(self.fixed) if self.fixed else None
        if fixed is not None and self.fixed_low is not None and not _parsed(self.fixed_low).older_than(fixed):
            raise _at("fixed_low", f"{self.fixed_low} must be older than fixed {fixed}")
        if fixed is not None and self.recommended is not None and _parsed(self.recommended).older_than(fixed):
            raise _at("recommended", f"{self.recommended} is older than fixed {fixed}")
        if status is FixStatus.UNKNOWN and not self.note:
            raise _at("note", "status unknown needs a note saying what is missing")
        if self.fixed_low is not None and not self.note:
            raise _at("note", "a fixed_low build needs a note explaining the range")
        return self

    def to_fix(self) -> TrainFix:
        train = self.train

        def on(v: str | None) -> Build | None:
            return parse_build(v).with_edition(train.edition) if v else None

        status = self.status or FixStatus.FIXED
        return TrainFix(train, status, on(self.fixed), on(self.fixed_low), on(self.recommended),
                        self.confirmed, self.note, self.source_branch)


def _unique_trains_at(rows: list[TrainRowModel], where: str) -> None:
    seen: set[Train] = set()
    for i, r in enumerate(rows):
        if r.train in seen:
            raise _at(f"{where}.{i}.release", f"duplicate row for train {r.train}")
        seen.add(r.train)


class RequiresFromModel(_Model):
    """From these builds on (one per train, inclusive) up to the fix, ``requires`` holds."""

    from_: list[BuildText] = Field(alias="from", min_length=1,
                                   description="first build per train, e.g. [14.1-73.37, 13.1-37.279 FIPS]")
    requires: Requires
    note: Text = ""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @field_validator("requires")
    @classmethod
    def _known_roles(cls, v: Any, info: ValidationInfo) -> Any:
        return _roles_ok(v, info)

    @model_validator(mode="after")
    def _one_per_train(self) -> RequiresFromModel:
        seen: set[Train] = set()
        for i, b in enumerate(self.from_):
            t = _parsed(b).train()
            if t in seen:
                raise _at(f"from.{i}", f"two first builds for train {t}")
            seen.add(t)
        return self

    def starts(self) -> dict[Train, Build]:
        return {(b := _parsed(x)).train(): b for x in self.from_}


class CveModel(_Model):
    id: Annotated[Text, Field(pattern=_CVE_PATTERN)]
    name: Text = Field("", description="common name, e.g. CitrixBleed (display only)")
    type: Required
    cvss: Annotated[float, Field(ge=0, le=10)] | None = None
    cvss_version: Text | None = None
    cvss_source: Text | None = None
    cvss_confirmed: StrictBool = True
    cwe: Text | None = None
    precondition: Text = ""
    requires: Requires = Field(description="roles in CNF: every group must hold, a group holds when any "
                               "of its roles does; 'unknown' when not confirmed")
    requires_from: list[RequiresFromModel] = Field(default_factory=list)
    kev_added: Day | None = None
    kev_confirmed: StrictBool = True
    kev_note: Text = ""
    affected_only: list[BuildText] = Field(default_factory=list)
    trains: list[TrainRowModel] = Field(default_factory=list)
    note: Text = ""

    @field_validator("requires")
    @classmethod
    def _known_roles(cls, v: Any, info: ValidationInfo) -> Any:
        return _roles_ok(v, info)

    @field_validator("cvss", mode="before")
    @classmethod
    def _score(cls, v: Any) -> Any:
        if isinstance(v, bool) or (v is not None and not isinstance(v, int | float)):
            raise ValueError(f"expected a CVSS score 0.0-10.0 or null, got {v!r}")
        return v

    @model_validator(mode="after")
    def _rules(self) -> CveModel:
        _unique_trains_at(self.trains, "trains")
        last: dict[Train, Build] = {}
        for j, entry in enumerate(self.requires_from):
            starts = entry.starts()
            for i, (t, b) in enumerate(starts.items()):
                if t in last and not last[t].older_than(b):
                    raise _at(f"requires_from.{j}.from.{i}", f"{b} must be newer than the previous entry's "
                              f"{last[t]} (entries are in ascending build order per train)")
            last.update(starts)
        return self

    def to_entry(self) -> CveEntry:
        return CveEntry(
            id=self.id, type=self.type, name=self.name, cvss=self.cvss, cvss_version=self.cvss_version,
            cvss_source=self.cvss_source, cvss_confirmed=self.cvss_confirmed, cwe=self.cwe,
            precondition=self.precondition, requires=_cnf(self.requires),
            requires_from=tuple(RequiresFrom(e.starts(), _cnf(e.requires), e.note) for e in self.requires_from),
            kev_added=self.kev_added, kev_confirmed=self.kev_confirmed, kev_note=self.kev_note,
            affected_only=tuple(_parsed(b) for b in self.affected_only),
            trains=tuple(r.to_fix() for r in self.trains), note=self.note,
        )


def _cnf(requires: Literal["unknown"] | list[list[str]]) -> tuple[tuple[str, ...], ...] | None:
    return None if requires == "unknown" else tuple(tuple(g) for g in requires)


class AdvisoryModel(_Model):
    """One bulletin file, ``signatures/advisories/<id>.yaml``."""

    id: Annotated[Text, Field(pattern=_ID_PATTERN, description="CTX id; NSB-<published> while unconfirmed")]
    title: Required
    published: Day
    preconditions: Text = ""
    exploited: StrictBool = False
    ransomware: Text | None = None
    kev_note: Text = ""
    cves: list[CveModel] = Field(min_length=1)
    trains: list[TrainRowModel] = Field(min_length=1, description="one row per train the bulletin speaks about")
    actions: list[Required] = Field(default_factory=list)
    sources: list[Required] = Field(min_length=1)
    unconfirmed: list[Required] = Field(default_factory=list)
    notes: list[Required] = Field(default_factory=list)

    @model_validator(mode="after")
    def _rules(self) -> AdvisoryModel:
        _unique_trains_at(self.trains, "trains")
        seen: set[str] = set()
        for i, c in enumerate(self.cves):
            if c.id in seen:
                raise _at(f"cves.{i}.id", f"duplicate CVE {c.id}")
            seen.add(c.id)
        if any(c.kev_added for c in self.cves) and not self.exploited:
            raise _at("exploited", "a CVE is in KEV, so exploited must be true")
        rows = {r.train: r for r in self.trains}
        for i, c in enumerate(self.cves):
            for j, r in enumerate(c.trains):
                if r.train not in rows:
                    raise _at(f"cves.{i}.trains.{j}", f"train {r.train} has no row in the bulletin's trains")
            own = {r.train: r for r in c.trains}
            # A build-dependent precondition must start inside an affected range: a first build at
            # or above the train's fix would never apply (a typo a reviewer misses).
            for j, entry in enumerate(c.requires_from):
                for k, (t, start) in enumerate(entry.starts().items()):
                    row = own.get(t) or rows.get(t)
                    where = f"cves.{i}.requires_from.{j}.from.{k}"
                    if row is None:
                        raise _at(where, f"train {t} has no row in the bulletin's trains")
                    fix = row.to_fix().first_fixed
                    if fix is not None and not start.older_than(fix):
                        raise _at(where, f"{start} is not below the fixed build {fix}: the precondition would "
                                  "never apply")
        if self.id.startswith("NSB-"):
            if self.id[4:] != self.published:
                raise _at("id", f"a placeholder id must be NSB-<published date> (NSB-{self.published})")
            if not any("ctx id" in u.lower() for u in self.unconfirmed):
                raise _at("id", "a placeholder id needs an 'unconfirmed' entry saying the CTX id is not confirmed")
        return self

    def to_advisory(self, file: str) -> Advisory:
        return Advisory(
            id=self.id, title=self.title, published=self.published, cves=tuple(c.to_entry() for c in self.cves),
            trains=tuple(r.to_fix() for r in self.trains), preconditions=self.preconditions,
            exploited=self.exploited, ransomware=self.ransomware, kev_note=self.kev_note,
            actions=tuple(self.actions), sources=tuple(self.sources), unconfirmed=tuple(self.unconfirmed),
            notes=tuple(self.notes), file=file,
        )


class LifecycleTrainModel(_Model):
    release: Annotated[Text, Field(pattern=_RELEASE_PATTERN)]
    edition: EditionText = "standard"
    status: TrainStatus
    first_release: Day | None = None
    first_release_confirmed: StrictBool = False
    eol_as_of: Day | None = Field(None, description="from this date on, bulletins leave the train unfixed")
    eol_confirmed: StrictBool = False
    last_fix: BuildText | None = None
    last_fix_bulletin: Annotated[Text, Field(pattern=_ID_PATTERN)] | None = None
    shares_numbering_with: Text | None = None
    build_majors: list[Annotated[StrictInt, Field(gt=0, lt=1000)]] | None = Field(
        None, min_length=1, description="the build-majors a FIPS/NDcPP train uses (13.1-FIPS: [37])")
    notes: list[Required] = Field(default_factory=list)

    @property
    def train(self) -> Train:
        return Train(self.release, Edition(self.edition))

    @model_validator(mode="after")
    def _rules(self) -> LifecycleTrainModel:
        if self.status is TrainStatus.EOL and self.eol_as_of is None:
            raise _at("eol_as_of", "an eol train needs eol_as_of (date from which it has no fix)")
        if self.last_fix is not None:
            b = parse_build(self.last_fix)
            if b.release != self.release or (b.edition is not None and b.edition is not self.train.edition):
                raise _at("last_fix", f"{self.last_fix} is not on train {self.train}")
        if self.shares_numbering_with is not None:
            try:
                parse_train(self.shares_numbering_with)
            except BuildError as e:
                raise _at("shares_numbering_with", str(e)) from None
        return self

    def to_lifecycle(self) -> TrainLifecycle:
        t = self.train
        return TrainLifecycle(
            train=t, status=self.status, first_release=self.first_release,
            first_release_confirmed=self.first_release_confirmed, eol_as_of=self.eol_as_of,
            eol_confirmed=self.eol_confirmed,
            last_fix=parse_build(self.last_fix).with_edition(t.edition) if self.last_fix else None,
            last_fix_bulletin=self.last_fix_bulletin,
            shares_numbering_with=parse_train(self.shares_numbering_with) if self.shares_numbering_with else None,
            build_majors=tuple(self.build_majors or ()), notes=tuple(self.notes),
        )


class LifecycleModel(_Model):
    """``lifecycle.yaml``: the release trains."""

    trains: list[LifecycleTrainModel] = Field(min_length=1)

    @model_validator(mode="after")
    def _rules(self) -> LifecycleModel:
        seen: set[Train] = set()
        for i, t in enumerate(self.trains):
            if t.train in seen:
                raise _at(f"trains.{i}.release", f"duplicate train {t.train}")
            seen.add(t.train)
        for i, t in enumerate(self.trains):
            if t.shares_numbering_with is not None and parse_train(t.shares_numbering_with) not in seen:
                raise _at(f"trains.{i}.shares_numbering_with", f"{t.shares_numbering_with} is not a train in this file")
        return self


RoleName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]


class ManifestModel(_Model):
    """``manifest.yaml``: set version and date, the role vocabulary."""

    name: Text = ""
    version: Annotated[Text, Field(pattern=r"^\d{4}\.\d{2}\.\d{2}(\.\d+)?$")]
    date: Day
    newest_bulletin: Required
    description: Text = ""
    sources_as_of: dict[str, Text] = Field(default_factory=dict)
    roles: dict[RoleName, Required] = Field(min_length=1, description="role -> description with its ns.conf test")

    @model_validator(mode="after")
    def _rules(self) -> ManifestModel:
        if ROLE_ANY not in self.roles:
            raise _at("roles", f"the role {ROLE_ANY!r} (every deployment) must be listed")
        return self


# -- from pydantic errors to file:line -----------------------------------------------------------

_MESSAGES = {
    "missing": "required field missing",
    "bool_type": "expected true or false",
    "string_type": "expected text",
    "list_type": "expected a list",
    "dict_type": "expected a mapping",
    "model_type": "expected a mapping",
    "too_short": "must not be empty",
}


def _label(doc: Any, loc: tuple[Any, ...], lifecycle: bool) -> str:
    """A field path readers know: ``trains[0][14.1].fixed``, ``cves[CVE-2025-5777].requires``."""
    out = ""
    node: Any = doc
    i = 0
    while i < len(loc):
        key = loc[i]
        if isinstance(key, int):
            out += f"[{key}]"
            node = node[key] if isinstance(node, list) and 0 <= key < len(node) else None
            i += 1
            continue
        nxt = loc[i + 1] if i + 1 < len(loc) else None
        child = node.get(key) if isinstance(node, dict) else None
        if isinstance(nxt, int) and isinstance(child, list) and 0 <= nxt < len(child) and isinstance(child[nxt], dict):
            item = child[nxt]
            out += ("." if out else "") + str(key)
            if key == "cves" and isinstance(item.get("id"), str) and re.fullmatch(_CVE_PATTERN, item["id"].strip()):
                out += f"[{item['id'].strip()}]"
            elif key == "trains":
                try:
                    train = str(Train(str(item.get("release")), parse_edition(str(item.get("edition") or "standard"))))
                except BuildError:
                    train = ""
                ok = re.fullmatch(_RELEASE_PATTERN, str(item.get("release", "")))
                if lifecycle and not out.startswith("cves") and ok:
                    out += f"[{train}]"
                else:
                    out += f"[{nxt}]" + (f"[{train}]" if ok else "")
            else:
                out += f"[{nxt}]"
            node = item
            i += 2
            continue
        out += ("." if out else "") + ("from" if key == "from_" else str(key))
        node = child
        i += 1
    return out


def _line(doc: Any, loc: tuple[Any, ...]) -> int | None:
    """The line of the deepest key on ``loc`` that exists in the YAML."""
    node: Any = doc
    line = getattr(doc, "start_line", None)
    for key in loc:
        key = "from" if key == "from_" else key
        if isinstance(node, LinedDict) and isinstance(key, str):
            line = line_of(node, key)
            if key not in node:
                break
            node = node[key]
        elif isinstance(node, list) and isinstance(key, int) and 0 <= key < len(node):
            node = node[key]
            line = getattr(node, "start_line", line)
        else:
            break
    return line


def _validation_errors(path: Path, doc: Any, exc: ValidationError, lifecycle: bool = False) -> list[SignatureError]:
    out: list[SignatureError] = []
    for err in exc.errors(include_url=False):
        loc = tuple(err["loc"])
        msg = str(err.get("msg", ""))
        ctx_err = (err.get("ctx") or {}).get("error")
        if ctx_err is not None:
            msg = str(ctx_err)
        if msg.startswith("@"):
            rel, _, msg = msg[1:].partition("@")
            loc = loc + tuple(int(p) if p.isdigit() else p for p in rel.split(".") if p)
        elif err["type"] == "extra_forbidden":
            model_fields = _allowed_at(doc, loc[:-1], lifecycle)
            msg = f"unknown field (allowed: {', '.join(model_fields)})" if model_fields else "unknown field"
        elif err["type"] in _MESSAGES:
            base = _MESSAGES[err["type"]]
            msg = base if err["type"] in ("missing", "too_short") else f"{base}, got {err.get('input')!r}"
        elif err["type"] == "string_pattern_mismatch":
            msg = f"{err.get('input')!r} does not match {(err.get('ctx') or {}).get('pattern')}"
        out.append(SignatureError(path, msg, field=_label(doc, loc, lifecycle) or None, line=_line(doc, loc)))
    return out


def _allowed_at(doc: Any, loc: tuple[Any, ...], lifecycle: bool) -> list[str]:
    """The field names the model at ``loc`` accepts (for "unknown field" messages)."""
    model: type[BaseModel] = LifecycleModel if lifecycle else AdvisoryModel
    for key in loc:
        if isinstance(key, int):
            continue
        field = model.model_fields.get(key)
        if field is None:
            return []
        ann = field.annotation
        inner = [a for a in getattr(ann, "__args__", ()) if isinstance(a, type) and issubclass(a, BaseModel)]
        if not inner:
            return []
        model = inner[0]
    return sorted((f.alias or n) for n, f in model.model_fields.items())


_M = TypeVar("_M", bound=BaseModel)


def _validate(model: type[_M], path: Path, doc: Any, errors: _Errors, context: dict[str, Any] | None = None,
              lifecycle: bool = False) -> _M | None:
    try:
        return model.model_validate(doc, context=context or {})
    except ValidationError as e:
        errors.items.extend(_validation_errors(path, doc, e, lifecycle))
        return None


class _Errors:
    def __init__(self) -> None:
        self.items: list[SignatureError] = []

    def add(self, file: Path | str, reason: str, *, field: str | None = None, line: int | None = None) -> None:
        self.items.append(SignatureError(file, reason, field=field, line=line))


def _read(path: Path, errors: _Errors, what: str) -> LinedDict | None:
    try:
        doc = load_yaml(path)
    except SignatureError as e:
        errors.items.append(e)
        return None
    if not isinstance(doc, LinedDict):
        errors.add(path, f"expected a mapping at the top level ({what})")
        return None
    return doc


def _manifest(directory: Path, errors: _Errors) -> Manifest | None:
    path = directory / MANIFEST_FILE
    doc = _read(path, errors, "version, date, newest_bulletin, roles")
    m = _validate(ManifestModel, path, doc, errors) if doc is not None else None
    if m is None:
        return None
    return Manifest(version=m.version, date=m.date, newest_bulletin=m.newest_bulletin, roles=dict(m.roles),
                    description=m.description, sources_as_of=dict(m.sources_as_of))


def _lifecycle(directory: Path, errors: _Errors) -> dict[Train, TrainLifecycle] | None:
    path = directory / LIFECYCLE_FILE
    doc = _read(path, errors, "a 'trains' list")
    m = _validate(LifecycleModel, path, doc, errors, lifecycle=True) if doc is not None else None
    if m is None:
        return None
    return {t.train: t.to_lifecycle() for t in m.trains}


def _advisory(path: Path, errors: _Errors, roles: Mapping[str, str]) -> Advisory | None:
    doc = _read(path, errors, "id, title, published, cves, trains, ...")
    if doc is None:
        return None
    m = _validate(AdvisoryModel, path, doc, errors, context={"roles": roles})
    if m is None:
        return None
    if m.id != path.stem:
        errors.add(path, f"id {m.id} does not match the file name {path.name}", field="id", line=line_of(doc, "id"))
        return None
    return m.to_advisory(str(path))


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
    roles = manifest.roles if manifest is not None else None
    advisories: list[Advisory] = []
    seen: dict[str, str] = {}
    for p in files:
        a = _advisory(p, errors, roles if roles is not None else {})
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


# -- JSON Schemas for rule authors' editors (published in schemas/) ------------------------------

SCHEMA_FILES: dict[str, type[BaseModel]] = {
    "advisory.schema.json": AdvisoryModel,
    "advisory-lifecycle.schema.json": LifecycleModel,
    "advisory-manifest.schema.json": ManifestModel,
}


def json_schemas() -> dict[str, str]:
    """File name -> the JSON Schema text to publish (deterministic)."""
    out: dict[str, str] = {}
    for name, model in SCHEMA_FILES.items():
        schema = model.model_json_schema()
        schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
        schema["$id"] = f"https://nscheck.invalid/schemas/{name}"
        out[name] = json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=True) + "\n"
    return out


register_loader("advisories", load)


if __name__ == "__main__":  # python -m nscheck.signatures.advisories DIR: write the schemas there
    import sys

    target = Path(sys.argv[1] if len(sys.argv) > 1 else "schemas")
    for fname, text in json_schemas().items():
        (target / fname).write_text(text, encoding="utf-8")
        print(f"wrote {target / fname}")
