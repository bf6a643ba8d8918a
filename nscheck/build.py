"""The NetScaler build model.

A NetScaler firmware build is ``<release>-<major>.<minor>`` on a *train*: the pair
(release, edition).  FIPS and NDcPP appliances run their own trains whose numbers
overlap with mainline (``13.1-37.241`` is a FIPS build, mainline 13.1 is at 64.x),
so ordering only exists inside one train.  Numbers are integers: ``9.107 > 9.60``.

Appliances never say "FIPS" in their version string, so when the edition is not
stated we infer *candidates* (see ``edition_candidates``) and let the assessment
engine evaluate each one instead of guessing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from packaging.version import Version

__all__ = [
    "Build",
    "BuildError",
    "Edition",
    "Train",
    "edition_candidates",
    "parse_build",
    "parse_edition",
]


class BuildError(ValueError):
    """A build string that cannot be understood; the message is one line for users."""


class Edition(StrEnum):
    STANDARD = "standard"
    FIPS = "fips"
    NDCPP = "ndcpp"

    @property
    def label(self) -> str:
        return {"standard": "", "fips": "FIPS", "ndcpp": "NDcPP"}[self.value]


@dataclass(frozen=True, slots=True)
class Train:
    """A (release, edition) pair: the only scope in which builds can be ordered."""

    release: str
    edition: Edition

    def __str__(self) -> str:
        return self.release if self.edition is Edition.STANDARD else f"{self.release}-{self.edition.label}"


@dataclass(frozen=True, slots=True)
class Build:
    """One firmware build. ``edition`` is None when the source did not say."""

    release: str
    major: int
    minor: int
    edition: Edition | None = None

    # -- identity -----------------------------------------------------------------
    @property
    def number(self) -> str:
        """The build part alone, e.g. ``47.46``."""
        return f"{self.major}.{self.minor}"

    @property
    def plain(self) -> str:
        """Canonical text without edition, e.g. ``14.1-47.46``."""
        return f"{self.release}-{self.major}.{self.minor}"

    def __str__(self) -> str:
        if self.edition in (None, Edition.STANDARD):
            return self.plain
        return f"{self.plain} {self.edition.label}"

    @property
    def version(self) -> Version:
        """PEP 440 form, valid for comparison only against the same train."""
        return Version(f"{self.release}.{self.major}.{self.minor}")

    def with_edition(self, edition: Edition) -> Build:
        return Build(self.release, self.major, self.minor, edition)

    def train(self, edition: Edition | None = None) -> Train:
        ed = edition or self.edition
        if ed is None:
            raise BuildError(f"build {self.plain} has no edition; pick one of its candidates first")
        return Train(self.release, ed)

    # -- ordering inside one train --------------------------------------------------
    def _key(self) -> tuple[int, int]:
        return (self.major, self.minor)

    def same_release(self, other: Build) -> bool:
        return self.release == other.release

    def older_than(self, other: Build) -> bool:
        """True when self < other. Both must be on the same release; editions are the
        caller's business (the engine only pairs builds of one train)."""
        if self.release != other.release:
            raise BuildError(f"cannot compare {self} with {other}: different release trains")
        return self._key() < other._key()


_EDITION_WORDS = [
    (re.compile(r"ndcpp", re.I), Edition.NDCPP),
    (re.compile(r"fips", re.I), Edition.FIPS),
]

# Ordered from most to least specific; each yields release, major, minor.
_PATTERNS: list[re.Pattern[str]] = [
    # "NetScaler NS14.1: Build 47.46.nc, Date: ..." / "NS14.1 Build 47.46.nc" / "#NS14.1 Build 47.46"
    re.compile(r"NS\s*(?P<rel>\d{1,2}\.\d)\s*:?\s*Build\s+(?P<maj>\d{1,3})\.(?P<min>\d{1,4})", re.I),
    # "ns-14.1-47.46.gz" (running kernel file name)
    re.compile(r"\bns-(?P<rel>\d{1,2}\.\d)-(?P<maj>\d{1,3})\.(?P<min>\d{1,4})(?:\.gz|\b)", re.I),
    # "14.1-47.46", "14.1 - 47.46", "14.1 build 47.46"
    re.compile(
        r"(?<![\d.])(?P<rel>\d{1,2}\.\d)\s*(?:-|\s+build\s+|\s*:\s*build\s+)\s*(?P<maj>\d{1,3})\.(?P<min>\d{1,4})(?![\d])",
        re.I,
    ),
    # dotted "14.1.47.46"
    re.compile(r"(?<![\d.])(?P<rel>\d{1,2}\.\d)\.(?P<maj>\d{1,3})\.(?P<min>\d{1,4})(?![\d])"),
]

_KNOWN_MAJOR_RELEASES = range(9, 20)


def parse_edition(text: str) -> Edition:
    t = text.strip().lower()
    for e in Edition:
        if t == e.value:
            return e
    if t in ("mainline", "std", "normal", ""):
        return Edition.STANDARD
    raise BuildError(f"unknown edition {text!r}: expected standard, fips or ndcpp")


def parse_build(text: str, edition: Edition | str | None = None) -> Build:
    """Parse any form appliances and people produce.

    Accepts surrounding text (a pasted ``show ns version``, an ns.conf header line, a
    kernel file name). An explicit ``edition`` argument wins over words in the text.
    """
    if not isinstance(text, str):
        raise BuildError(f"build must be text, got {type(text).__name__}")
    s = text.strip()
    if not s:
        raise BuildError("empty build string")
    if len(s) > 4096:
        raise BuildError("build string too long (over 4096 characters)")
    for pat in _PATTERNS:
        m = pat.search(s)
        if not m:
            continue
        rel = m.group("rel")
        if int(rel.split(".")[0]) not in _KNOWN_MAJOR_RELEASES:
            raise BuildError(f"{s[:80]!r}: release {rel} is not a NetScaler release (expected e.g. 13.1 or 14.1)")
        b = Build(rel, int(m.group("maj")), int(m.group("min")))
        ed: Edition | None
        if isinstance(edition, Edition):
            ed = edition
        elif isinstance(edition, str) and edition:
            ed = parse_edition(edition)
        else:
            # "FIPS and NDcPP" (as CNA records write it) names both: leave it to the candidates.
            around = s[: m.start()] + " " + s[m.end():]
            named = [e for rx, e in _EDITION_WORDS if rx.search(around)]
            ed = named[0] if len(named) == 1 else None
        return Build(b.release, b.major, b.minor, ed)
    raise BuildError(
        f"{s[:80]!r} is not a NetScaler build: expected forms like 14.1-47.46, 14.1.47.46, "
        "'NS14.1 Build 47.46.nc' or 'ns-14.1-47.46.gz'"
    )


# Early mainline builds that share a build-major with a FIPS/NDcPP train (NOTES §1.2).
_MAINLINE_EXCEPTIONS: dict[tuple[str, int], frozenset[int]] = {
    ("12.1", 55): frozenset({13, 18, 24}),
    ("13.1", 37): frozenset({38}),
}
_FIPS_TRAIN_MAJORS: frozenset[tuple[str, int]] = frozenset({("12.1", 55), ("13.1", 37)})
# 14.1-FIPS uses mainline numbers, so a bare 14.1 build may be either.
_SHARED_NUMBERING_RELEASES: frozenset[str] = frozenset({"14.1"})


def edition_candidates(build: Build) -> tuple[Edition, ...]:
    """The editions a build may be on. An explicit edition is the only candidate."""
    if build.edition is not None:
        return (build.edition,)
    key = (build.release, build.major)
    if key in _FIPS_TRAIN_MAJORS:
        if build.minor in _MAINLINE_EXCEPTIONS.get(key, frozenset()):
            return (Edition.STANDARD,)
        return (Edition.FIPS, Edition.NDCPP)
    if build.release in _SHARED_NUMBERING_RELEASES:
        return (Edition.STANDARD, Edition.FIPS)
    return (Edition.STANDARD,)
