"""Verdicts for a build known only by a date or a floor (issue 11 §3).

A compile time T (an rdx stamp no table names, or the Last-Modified that firmware-served static
files agree on) bounds the build even when no table lists it:

* **vulnerable**: no build at or above any train's fixed build existed before T (on any train,
  by the release-date and stamp tables) -> the build compiled at T is below its train's fix.
  "Existed" is measured conservatively: the compile stamp of a fixed-or-later build (trusted
  rows only) minus ``SLACK``, or its release date minus ``GA_LEAD``, whichever is earlier.
* **not vulnerable**: the possible trains are known (zeroed rdx file: 13.1 / 14.1 mainline) and,
  on each, the build is at or above the fix: its floor is, or T lies more than ``TRAIN_MARGIN``
  after the train's first fixed-or-later build shipped.
* anything else is **unknown**, with the candidates' answer in the reason.

The margins come from the tables themselves (``tests/test_dated_builds.py`` re-measures them):

* ``SLACK`` = 3 days: re-spins of one build are compiled within days of each other
  (12.1-55.330: 2025-08-20 and 08-26 is the widest trusted pair near a fix); a stamp or file
  time is the build's own clock.
* ``GA_LEAD`` = 60 days: security fixes are compiled weeks before the coordinated release
  (13.0-82.41 was compiled 49 days before its release, 13.1-51.15 and 14.1-29.72 32 days), so a
  release date alone says the fix may have existed up to two months earlier.
* ``TRAIN_MARGIN`` = 183 days: maintenance lines get builds below the newest fix long after it
  shipped (13.0-47.24, released 128 days after 13.0-58.30 fixed CTX263807): only a compile time
  half a year after a train's fix shipped says "at or above the fix" without a build number.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from nscheck.build import Build, Edition, Train, edition_candidates
from nscheck.model import (
    AdvisoryResult,
    BuildInfo,
    OpenQuestion,
    Precondition,
    QuestionKind,
    Verdict,
    VerdictBasis,
)
from nscheck.signatures.advisories import Advisory, AdvisorySet, CveEntry, FixStatus, TrainFix
from nscheck.signatures.fingerprints import FingerprintTables

__all__ = ["GA_LEAD", "SLACK", "TRAIN_MARGIN", "DatedBuild", "FirstFix", "bound_by_fingerprint", "bounded_verdicts", "first_fix"]

SLACK = dt.timedelta(days=3)
GA_LEAD = dt.timedelta(days=60)
TRAIN_MARGIN = dt.timedelta(days=183)


@dataclass(frozen=True, slots=True)
class DatedBuild:
    """What the fingerprint knows beyond its candidate list."""

    compiled: dt.datetime | None  # compile time (UTC), None when nothing dates the build
    source: str = ""  # what gave the date, in words
    trains: tuple[Train, ...] | None = None  # the trains the build can be on; None = any train of its time
    floors: Mapping[Train, Build] | None = None  # at least this build on that train


@dataclass(frozen=True, slots=True)
class FirstFix:
    """The earliest evidence that a fixed build existed, over every train."""

    existed: dt.date  # no fixed-or-later build can have been compiled before this day
    shipped: dt.date  # first release (or bulletin) date of a fixed-or-later build
    build: Build  # the build that shipped first
    how: str  # "compiled" | "released": which evidence set ``existed``


# -- date index over the tables -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Seen:
    build: Build
    compiled: dt.date | None
    released: dt.date | None


def _trains_of(b: Build, editions: Iterable[Edition]) -> list[Train]:
    eds = list(editions) or list(edition_candidates(Build(b.release, b.major, b.minor)))
    return [Train(b.release, e) for e in eds]


def _index(tables: FingerprintTables) -> dict[Train, tuple[_Seen, ...]]:
    hit = _INDEX.get(id(tables))
    if hit is not None and hit[0] is tables:
        return hit[1]
    if len(_INDEX) >= 4:
        _INDEX.clear()
    idx = _build_index(tables)
    _INDEX[id(tables)] = (tables, idx)
    return idx


_INDEX: dict[int, tuple[FingerprintTables, dict[Train, tuple[_Seen, ...]]]] = {}


def _build_index(tables: FingerprintTables) -> dict[Train, tuple[_Seen, ...]]:
    compiled: dict[tuple[Train, int, int], dt.date] = {}
    released: dict[tuple[Train, int, int], dt.date] = {}
    for rows in tables.stamps.values():
        for x in rows:
            # Low rows are exactly the ones the 2026-12 audit found wrong: never a date source.
            if x.build is None or x.confidence.value == "low":
                continue
            day = dt.datetime.fromtimestamp(x.stamp, dt.UTC).date()
            for t in _trains_of(x.build, x.editions):
                k = (t, x.build.major, x.build.minor)
                compiled[k] = min(compiled.get(k, day), day)
    for r in tables.releases:
        k = (Train(r.build.release, r.edition), r.build.major, r.build.minor)
        released[k] = min(released.get(k, r.date), r.date)
    out: dict[Train, list[_Seen]] = {}
    for k in {*compiled, *released}:
        t, ma, mi = k
        out.setdefault(t, []).append(_Seen(Build(t.release, ma, mi, t.edition), compiled.get(k), released.get(k)))
    return {t: tuple(v) for t, v in out.items()}


def _at_or_above(b: Build, floor: Build) -> bool:
    return (b.major, b.minor) >= (floor.major, floor.minor)


def _rows(adv: Advisory, cve: CveEntry) -> list[TrainFix]:
    trains = list(dict.fromkeys([*(r.train for r in adv.trains), *(r.train for r in cve.trains)]))
    return [r for r in (cve.train_fix(t) or adv.train_fix(t) for t in trains) if r is not None]


def _shipped_on(tables: FingerprintTables, train: Train, fixed: Build, published: dt.date) -> FirstFix:
    """The first fixed-or-later build on one train. The bulletin's date caps "shipped" (the
    fixed build was out when the bulletin named it) and, less ``GA_LEAD``, bounds "existed"."""
    existed, how = published - GA_LEAD, "released"
    shipped, first = published, fixed
    for s in _index(tables).get(train, ()):
        if not _at_or_above(s.build, fixed):
            continue
        if s.compiled is not None and s.compiled - SLACK < existed:
            existed, how = s.compiled - SLACK, "compiled"
        if s.released is not None:
            if s.released - GA_LEAD < existed:
                existed, how = s.released - GA_LEAD, "released"
            # Hotfix builds (minor >= 100) count for "existed" (conservative) but are not named
            # as the fix: their numbers do not follow the line's order.
            if s.released < shipped and s.build.minor < 100:
                shipped, first = s.released, s.build
    return FirstFix(existed, shipped, first, how)


def first_fix(sigs: AdvisorySet, tables: FingerprintTables, adv: Advisory, cve: CveEntry) -> FirstFix | None:
    """When a fix for ``cve`` first existed on any train; None when no train has a fixed build."""
    key = (id(sigs), id(tables), adv.id, cve.id)
    if key in _FIRST:
        return _FIRST[key]
    published = dt.date.fromisoformat(adv.published)
    found = [_shipped_on(tables, row.train, row.first_fixed, published) for row in _rows(adv, cve)
             if row.status is FixStatus.FIXED and row.first_fixed is not None]
    best: FirstFix | None = None
    if found:
        early = min(found, key=lambda f: f.existed)
        first = min(found, key=lambda f: f.shipped)
        best = FirstFix(early.existed, first.shipped, first.build, early.how)
    if len(_FIRST) > 4096:
        _FIRST.clear()
    _FIRST[key] = best
    return best


_FIRST: dict[tuple[int, int, str, str], FirstFix | None] = {}


# -- per CVE, per train -------------------------------------------------------------------------


def _possible_trains(sigs: AdvisorySet, when: dt.datetime) -> tuple[Train, ...]:
    """Trains a build compiled at ``when`` can be on: first released by then (a FIPS/NDcPP train
    of a release cannot predate that release's mainline)."""
    day = (when + SLACK).date().isoformat()
    out = []
    for t, lc in sigs.lifecycle.items():
        main = sigs.lifecycle.get(Train(t.release, Edition.STANDARD))
        if lc.existed_at(day) is False or (main is not None and main.existed_at(day) is False):
            continue
        out.append(t)
    return tuple(out)


def _oldest(sigs: AdvisorySet, adv: Advisory, cve: CveEntry, train: Train) -> tuple[bool | None, str]:
    """How the train's oldest builds fare: affected (below every fix), not, or unknown."""
    from nscheck.assess.advisories import judge_build

    lc = sigs.lifecycle.get(train)
    majors = getattr(lc, "build_majors", None) or (0,)  # FIPS/NDcPP trains have their own numbering
    j = judge_build(sigs, adv, cve, Build(train.release, min(majors), 0, train.edition))
    return j.affected, j.reason


def _train_state(sigs: AdvisorySet, tables: FingerprintTables, adv: Advisory, cve: CveEntry, train: Train,
                 dated: DatedBuild, fix: FirstFix | None, trains_known: bool) -> tuple[bool | None, str]:
    """Is a build of ``train`` compiled at ``dated.compiled`` (and at or above its floor)
    affected by ``cve``? (answer, why)."""
    from nscheck.assess.advisories import judge_build

    when = dated.compiled
    floor = (dated.floors or {}).get(train)
    if cve.affected_only:
        only = [b for b in cve.affected_only if b.release == train.release]
        if not only:
            return False, f"{cve.id} affects only {', '.join(b.plain for b in cve.affected_only)}"
        if when is not None:
            # The affected build did not exist yet when this build was compiled.
            born = min(_shipped_on(tables, train, b, dt.date.fromisoformat(adv.published)).existed for b in only)
            idx = [s for s in _index(tables).get(train, ()) if any(s.build.plain == b.plain for b in only)]
            for s in idx:
                if s.compiled is not None:
                    born = min(born, s.compiled - SLACK)
            if when.date() < born:
                return False, f"{cve.id} affects only {', '.join(b.plain for b in only)}, which did not exist yet"
        return None, ""
    old, old_why = _oldest(sigs, adv, cve, train)
    if old is False:
        return False, old_why
    before_fix = when is not None and fix is not None and old is True and when.date() < fix.existed
    if floor is not None:
        j = judge_build(sigs, adv, cve, floor.with_edition(train.edition))
        if j.affected is False:
            # A floor at or above the fix and a compile date before any fix existed contradict
            # each other (a cache, a re-dated file): neither is trusted.
            return (None, "") if before_fix else (False, f"at least {floor.plain} on {train}: {j.reason}")
    if before_fix:
        return True, ""
    if trains_known:
        row = cve.train_fix(train) or adv.train_fix(train)
        if when is not None and row is not None and row.status is FixStatus.FIXED and row.fixed is not None:
            ff = _shipped_on(tables, train, row.fixed, dt.date.fromisoformat(adv.published))
            if when.date() >= ff.shipped + TRAIN_MARGIN:
                return False, (f"compiled {when:%Y-%m-%d}, more than six months after {ff.build.plain} (fixed for "
                               f"{cve.id} on {train}) shipped {ff.shipped}")
    if old is True and fix is None and when is not None:
        return True, ""  # every train is end of life for this bulletin: no fix anywhere
    return None, ""


def _cve_verdict(sigs: AdvisorySet, tables: FingerprintTables, adv: Advisory, cve: CveEntry, dated: DatedBuild,
                 facts: Mapping[str, Precondition]) -> tuple[Verdict, bool | None, str]:
    from nscheck.assess.advisories import precondition_state

    fix = first_fix(sigs, tables, adv, cve)
    known = dated.trains is not None
    trains = dated.trains if dated.trains is not None else (_possible_trains(sigs, dated.compiled) if dated.compiled else ())
    states = [(t, *_train_state(sigs, tables, adv, cve, t, dated, fix, known)) for t in trains]
    answers = [s for _t, s, _w in states]
    affected: bool | None = None
    if answers and all(a is True for a in answers):
        affected = True
    elif answers and all(a is False for a in answers):
        affected = False
    pre = precondition_state(cve.requires, facts)
    when = dated.compiled
    if affected is True and pre is not Precondition.NOT_MET:
        assert when is not None
        if fix is None:
            why = f"compiled {when:%Y-%m-%d} ({dated.source}); no train had a fix for {cve.id}"
        else:
            why = (f"compiled {when:%Y-%m-%d} ({dated.source}); the first fix for {cve.id} shipped {fix.shipped} "
                   f"({fix.build})")
            if fix.how == "compiled":
                why += f" and no fixed build was compiled before {fix.existed + SLACK}"
        pre_txt = "precondition met" if pre is Precondition.MET else "precondition not checked"
        return Verdict.VULNERABLE, True, f"{why}; {pre_txt}"
    if pre is Precondition.NOT_MET:
        return Verdict.NOT_VULNERABLE, affected, f"precondition not met ({cve.precondition or 'see bulletin'})"
    if affected is False:
        whys = list(dict.fromkeys(w for _t, _s, w in states if w))
        return Verdict.NOT_VULNERABLE, False, "; ".join(whys[:3]) + ("; …" if len(whys) > 3 else "")
    return Verdict.UNKNOWN, None, ""


def bounded_verdicts(sigs: AdvisorySet, tables: FingerprintTables, advs: Sequence[AdvisoryResult],
                     build: BuildInfo, bound: str, dated: DatedBuild,
                     facts: Mapping[str, Precondition]) -> tuple[AdvisoryResult, ...]:
    """Verdicts the candidate set cannot carry become unknown (Principle 2), unless the compile
    date or the floor decides them.

    floor: newer builds than any listed candidate are possible, so "vulnerable" cannot come
    from the listed ones. dated: the candidates are builds released around the compile date;
    the true build may be on another train or unlisted, so neither answer comes from them.
    """
    if not bound:
        return tuple(advs)
    by_id = {a.id: a for a in sigs}
    basis = VerdictBasis.DATED if bound == "dated" or dated.compiled is not None else VerdictBasis.FLOOR
    out = []
    for a in advs:
        adv = by_id.get(a.id)
        decided: tuple[Verdict, str] | None = None
        if adv is not None and (dated.compiled is not None or dated.floors):
            per_cve = [(c, *_cve_verdict(sigs, tables, adv, c, dated, facts)) for c in adv.cves]
            vs = [v for _c, v, _a, _w in per_cve]
            if Verdict.VULNERABLE in vs:
                c, _v, _a, why = next(x for x in per_cve if x[1] is Verdict.VULNERABLE)
                decided = (Verdict.VULNERABLE, f"{c.id}: {why}")
            elif vs and all(v is Verdict.NOT_VULNERABLE for v in vs):
                whys = list(dict.fromkeys(w for _c, _v, _a, w in per_cve))
                decided = (Verdict.NOT_VULNERABLE, whys[0] if len(whys) == 1 else
                           f"{per_cve[0][0].id}: {per_cve[0][3]}; likewise for {', '.join(c.id for c, *_r in per_cve[1:])}")
        if decided is not None and bound == "floor" and a.verdict is not Verdict.UNKNOWN and decided[0] is not a.verdict:
            # The floor's known builds and the compile date disagree: trust neither.
            out.append(replace(a, verdict=Verdict.UNKNOWN, basis=basis,
                               reason=f"the floor's builds say {a.verdict.value} ({a.reason}) but the compile date says "
                                      f"{decided[0].value} ({decided[1]})",
                               open_question=OpenQuestion(QuestionKind.BUILD, "exact build?")))
            continue
        if decided is not None:
            v, why = decided
            out.append(replace(a, verdict=v, reason=why, basis=basis, open_question=None,
                               build_affected=True if v is Verdict.VULNERABLE else a.build_affected))
            continue
        if a.verdict is Verdict.VULNERABLE or (bound == "dated" and a.verdict is Verdict.NOT_VULNERABLE):
            if bound == "floor":
                why = f"build only known as {build.floor}; a newer build may be fixed"
            else:
                when = f"compiled {dated.compiled:%Y-%m-%d}; " if dated.compiled else ""
                why = (f"build only dated ({when}candidates {', '.join(build.candidates[:4])}); "
                       f"the candidates say {a.verdict.value}")
            a = replace(a, verdict=Verdict.UNKNOWN, reason=f"{why} ({a.reason})")
        if a.verdict is Verdict.UNKNOWN:
            a = replace(a, basis=basis, open_question=OpenQuestion(QuestionKind.BUILD, "exact build?"))
        elif bound == "floor":
            a = replace(a, basis=VerdictBasis.FLOOR)
        out.append(a)
    return tuple(out)


def bound_by_fingerprint(sigs: AdvisorySet, tables: FingerprintTables, advs: Sequence[AdvisoryResult], fp: Any,
                         facts: Mapping[str, Precondition]) -> tuple[AdvisoryResult, ...]:
    """``bounded_verdicts`` for a ``nscheck.fingerprint.engine.Fingerprint`` (scan and NITRO
    stages alike): its bound, compile date, trains and floors."""
    if not fp.bound or fp.build is None:
        return tuple(advs)
    cd = fp.compiled
    dated = DatedBuild(cd.when if cd else None, cd.source if cd else "", fp.trains, fp.floors)
    return bounded_verdicts(sigs, tables, advs, fp.build, fp.bound, dated, facts)
