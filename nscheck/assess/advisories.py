"""Bulletin assessment: which NetScaler security bulletins hit a host, and what closes them.

Input is one or more candidate builds (one when the build is known exactly, several when a
fingerprint is ambiguous) and configuration facts (role -> met / not_met / unknown). Each
candidate is expanded into its possible trains (``edition_candidates``: a bare ``13.1-37.241``
may be FIPS or NDcPP, a bare ``14.1`` build standard or FIPS) and every (build, train) pair is
judged on its own train only. Candidates that disagree give "unknown", never "not vulnerable".

Per CVE: build affected (True/False/None) x precondition (met/not_met/unknown) -> verdict; per
bulletin: vulnerable if any CVE is, else unknown if any is, else not vulnerable.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from nscheck.assess.questions import with_question
from nscheck.build import Build, Edition, Train, edition_candidates
from nscheck.model import (
    AdvisoryResult,
    CveDetail,
    OpenQuestion,
    Precondition,
    QuestionKind,
    Remediation,
    Severity,
    Verdict,
)
from nscheck.signatures.advisories import (
    ROLE_ANY,
    Advisory,
    AdvisorySet,
    CveEntry,
    FixStatus,
    TrainFix,
)

__all__ = ["Assessment", "Judgement", "assess", "edition_mismatch", "expand_candidates", "judge_build", "load_default"]


@dataclass(frozen=True, slots=True)
class Assessment:
    advisories: tuple[AdvisoryResult, ...]
    remediation: Remediation
    candidates: tuple[Build, ...] = ()  # the (build, edition) pairs that were evaluated

    @property
    def vulnerable(self) -> bool:
        return any(a.verdict is Verdict.VULNERABLE for a in self.advisories)


@lru_cache(maxsize=8)
def load_default(signatures_dir: Path | None = None) -> AdvisorySet:
    """The bulletin set from ``--signatures DIR`` / $NSCHECK_SIGNATURES / the shipped copy, loaded once."""
    from nscheck.paths import signatures_dir as _sigdir
    from nscheck.signatures.advisories import load

    return load(_sigdir(signatures_dir))


def expand_candidates(builds: Iterable[Build]) -> tuple[Build, ...]:
    """Every (build, edition) pair to evaluate, each with an explicit edition, without duplicates."""
    out: dict[Build, None] = {}
    for b in builds:
        for ed in edition_candidates(b):
            out[b.with_edition(ed)] = None
    return tuple(out)


# -- one CVE on one (build, train) -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Judgement:
    """Is this exact build on this train affected by one CVE, and why."""

    affected: bool | None
    reason: str
    fixed: Build | None = None  # first build fixed for certain on the train (None: no fix / n.a.)
    recommended: Build | None = None
    eol: bool = False
    unconfirmed: tuple[str, ...] = ()
    via: str = ""  # how the threshold was found when not from the train's own row
    impossible: bool = False  # the build cannot exist on its stated edition: never a definite answer


def edition_mismatch(sigs: AdvisorySet, build: Build) -> str | None:
    """Why ``build`` cannot exist on its stated edition, or None.

    A FIPS/NDcPP train has its own numbering (13.1-FIPS/NDcPP are 13.1-37.x, 12.1-FIPS/NDcPP
    12.1-55.x: ``build_majors`` in lifecycle.yaml) and some editions have no train at all (there
    is no 14.1-NDcPP). Comparing such a number with the train's thresholds would answer a
    question about a box that does not exist, e.g. "13.1-59.22 FIPS is above 13.1-37.282".
    """
    if build.edition is None or build.edition is Edition.STANDARD:
        return None
    train = build.train()
    lc = sigs.lifecycle.get(train)
    if lc is None:
        known = sorted(str(t) for t in sigs.lifecycle if t.edition is build.edition)
        return (f"there is no {train} train ({build.edition.label} trains: {', '.join(known) or 'none'}): "
                f"{build.plain} cannot be {build.edition.label}")
    if lc.build_majors and build.major not in lc.build_majors:
        numbering = " or ".join(f"{build.release}-{m}.x" for m in lc.build_majors)
        return f"{train} builds are numbered {numbering}: {build.plain} is not a {train} build"
    return None


def _only_miss(cve: CveEntry, build: Build) -> str | None:
    """The reason when ``cve`` affects only listed builds and ``build`` is not one of them."""
    if not cve.affected_only:
        return None
    if any((b.release, b.major, b.minor) == (build.release, build.major, build.minor) for b in cve.affected_only):
        return None
    return f"{cve.id} affects only {', '.join(b.plain for b in cve.affected_only)}"


def _row_for(adv: Advisory, cve: CveEntry, train: Train) -> TrainFix | None:
    return cve.train_fix(train) or adv.train_fix(train)


def _judge_row(build: Build, row: TrainFix, cve: CveEntry, label: str, suffix: str) -> Judgement:
    train = row.train
    unconf = (f"{row.train} row of {label}: {row.note or 'unconfirmed'}",) if not row.confirmed else ()
    if row.status is FixStatus.NOT_AFFECTED:
        return Judgement(False, f"{train} is not affected{suffix}", unconfirmed=unconf)
    miss = _only_miss(cve, build)
    if miss is not None and row.status is not FixStatus.FIXED:
        # "Only these builds" wins over "every build of an end-of-life train" and over a gap.
        return Judgement(False, f"{miss}{suffix}", unconfirmed=unconf)
    if row.status is FixStatus.NO_FIX:
        return Judgement(True, f"{train} is end of life: no fixed build{suffix}", eol=True, unconfirmed=unconf)
    if row.status is FixStatus.UNKNOWN:
        return Judgement(None, f"no confirmed fixed build for {train}{suffix} ({row.note})", unconfirmed=unconf)
    assert row.fixed is not None
    fixed = row.fixed.with_edition(build.edition) if build.edition else row.fixed
    if cve.affected_only:
        only = [b for b in cve.affected_only if b.release == build.release]
        hit = any((b.major, b.minor) == (build.major, build.minor) for b in only)
        if hit:
            return Judgement(True, f"affects only {', '.join(b.plain for b in only)}, which this is{suffix}",
                             fixed, row.recommended, unconfirmed=unconf)
        listed = ", ".join(b.plain for b in cve.affected_only)
        return Judgement(False, f"{cve.id} affects only {listed}{suffix}", fixed, row.recommended, unconfirmed=unconf)
    low = row.first_fixed
    assert low is not None
    if build.older_than(low):
        return Judgement(True, f"{build.plain} is below the fixed build {row.fixed} on {train}{suffix}",
                         fixed, row.recommended, unconfirmed=unconf)
    if build.older_than(row.fixed):
        return Judgement(None, f"{build.plain} is between {low.plain} and {row.fixed.plain} on {train}: "
                         f"{row.note}{suffix}", fixed, row.recommended, unconfirmed=unconf or (row.note,))
    return Judgement(False, f"{build.plain} is at or above the fixed build {row.fixed} on {train}{suffix}",
                     fixed, row.recommended, unconfirmed=unconf)


def judge_build(sigs: AdvisorySet, adv: Advisory, cve: CveEntry, build: Build) -> Judgement:
    """One CVE of one bulletin against one build with a known edition, on its own train only."""
    if build.edition is None:
        raise ValueError("judge_build needs a build with an edition; use expand_candidates first")
    train = build.train()
    label = adv.id
    impossible = edition_mismatch(sigs, build)
    if impossible is not None:
        # Never "not vulnerable" for a box that cannot exist: the edition or the number is wrong.
        return Judgement(None, f"cannot assess {label}: {impossible}", impossible=True)
    row = _row_for(adv, cve, train)
    if row is not None:
        return _judge_row(build, row, cve, label, "")
    lc = sigs.lifecycle.get(train)
    if lc is None:
        return Judgement(None, f"train {train} is not in the lifecycle data; cannot assess {label}")
    miss = _only_miss(cve, build)
    if miss is not None:
        # An affected-only list is exhaustive: it wins over the end-of-life rule below.
        return Judgement(False, miss)
    # 14.1-FIPS shares mainline numbering: before its first own row, the mainline threshold applies.
    shared = lc.shares_numbering_with
    if shared is not None:
        first = sigs.first_row_date(train)
        if first is None or adv.published < first:
            mrow = _row_for(adv, cve, shared)
            if mrow is not None:
                mbuild = Build(build.release, build.major, build.minor, shared.edition)
                j = _judge_row(mbuild, mrow, cve, label,
                               f" ({train} shares {shared} mainline numbering; {label} predates the first "
                               f"{train} row, so the {shared} threshold applies)")
                fixed = j.fixed.with_edition(build.edition) if j.fixed is not None else None
                return Judgement(j.affected, j.reason, fixed, j.recommended, j.eol, j.unconfirmed,
                                 via=f"{train} shares {shared} mainline numbering")
    if lc.eol_at(adv.published):
        return Judgement(True, f"{train} was end of life when {label} was published ({adv.published}): no fix",
                         eol=True)
    if lc.existed_at(adv.published) is False:
        return Judgement(False, f"{train} did not exist yet when {label} was published "
                         f"(first release {lc.first_release})")
    if train.edition is not Edition.STANDARD:
        return Judgement(None, f"{label} gives no fixed build for {train} (gap in the bulletin data)",
                         unconfirmed=(f"{label}: {train} fixed build missing",))
    return Judgement(None, f"{label} does not list {train}; cannot tell whether it is affected")


# -- preconditions -----------------------------------------------------------------------------


def _role_state(facts: Mapping[str, Precondition], role: str) -> Precondition:
    if role == ROLE_ANY:
        return Precondition.MET
    return Precondition(facts.get(role, Precondition.UNKNOWN))


def precondition_state(requires: tuple[tuple[str, ...], ...] | None, facts: Mapping[str, Precondition]) -> Precondition:
    """Three-valued CNF: every group must hold, a group holds when any of its roles does."""
    if requires is None:
        return Precondition.UNKNOWN
    states = []
    for group in requires:
        g = [_role_state(facts, r) for r in group]
        if Precondition.MET in g:
            states.append(Precondition.MET)
        elif all(s is Precondition.NOT_MET for s in g):
            states.append(Precondition.NOT_MET)
        else:
            states.append(Precondition.UNKNOWN)
    if Precondition.NOT_MET in states:
        return Precondition.NOT_MET
    if all(s is Precondition.MET for s in states):
        return Precondition.MET
    return Precondition.UNKNOWN


def _requires_text(requires: tuple[tuple[str, ...], ...] | None) -> str:
    if requires is None:
        return "unknown"
    return " and ".join("(" + " or ".join(g) + ")" if len(g) > 1 else g[0] for g in requires)


# -- aggregation -------------------------------------------------------------------------------


def _combine(values: Sequence[bool | None]) -> bool | None:
    """All candidates agree -> that answer; disagreement or any unknown -> None."""
    if values and all(v is True for v in values):
        return True
    if values and all(v is False for v in values):
        return False
    return None


def _fixed_text(fixes: Iterable[Build | None]) -> str | None:
    got = [f for f in fixes if f is not None]
    if not got:
        return None
    texts = list(dict.fromkeys(str(f) for f in got))
    if len(texts) == 1:
        return texts[0]
    plains = {f.plain for f in got}
    if len(plains) == 1:
        return next(iter(plains))
    return " or ".join(texts)


@dataclass(frozen=True, slots=True)
class _CveOutcome:
    cve: CveEntry
    affected: bool | None
    precondition: Precondition
    verdict: Verdict
    reason: str
    per_candidate: tuple[tuple[Build, Judgement], ...]
    requires: tuple[tuple[str, ...], ...] | None = None  # the precondition that applied (all candidates)
    requires_why: str = ""  # "from 14.1-73.37 on" when a build-dependent precondition applied


def requires_on(sigs: AdvisorySet, cve: CveEntry, build: Build) -> tuple[tuple[tuple[str, ...], ...] | None, str]:
    """The precondition of ``cve`` on ``build`` (with an edition): it can change with the build."""
    lc = sigs.lifecycle.get(build.train())
    return cve.requires_for(build, lc.shares_numbering_with if lc is not None else None)


def _candidate_verdict(j: Judgement, pre: Precondition) -> Verdict:
    if j.impossible:
        return Verdict.UNKNOWN  # not even "precondition not met": the stated edition is wrong
    affected = j.affected
    if pre is Precondition.NOT_MET:
        return Verdict.NOT_VULNERABLE
    return {True: Verdict.VULNERABLE, False: Verdict.NOT_VULNERABLE, None: Verdict.UNKNOWN}[affected]


def _assess_cve(sigs: AdvisorySet, adv: Advisory, cve: CveEntry, cands: Sequence[Build],
                facts: Mapping[str, Precondition]) -> _CveOutcome:
    judgements = tuple((b, judge_build(sigs, adv, cve, b)) for b in cands)
    affected = _combine([j.affected for _, j in judgements])
    reqs = [requires_on(sigs, cve, b) for b in cands]
    pres = [precondition_state(r, facts) for r, _why in reqs]
    per_verdict = [_candidate_verdict(j, p) for (_b, j), p in zip(judgements, pres, strict=True)]
    pre = pres[0] if len(set(pres)) == 1 else Precondition.UNKNOWN
    same_req = len({r for r, _w in reqs}) == 1
    requires, why = reqs[0] if same_req else (cve.requires, "")
    if len(judgements) == 1:
        build_reason = judgements[0][1].reason
    elif affected is None and len({j.affected for _, j in judgements}) > 1:
        build_reason = "candidates disagree: " + "; ".join(f"{b}: {j.reason}" for b, j in judgements)
    else:
        first_j = judgements[0][1]
        others = ", ".join(f"{b.train()}" + (f" ({j.via})" if j.via else "") for b, j in judgements[1:])
        build_reason = f"{first_j.reason}; likewise on {others}"
    # Each candidate is judged with its own precondition; they must agree for a definite answer.
    verdict = per_verdict[0] if len(set(per_verdict)) == 1 else Verdict.UNKNOWN
    if all(p is Precondition.NOT_MET for p in pres) and verdict is Verdict.NOT_VULNERABLE:
        if why:
            reason = f"precondition not met ({_requires_text(requires)} {why} up to the fix; {cve.precondition})"
        else:
            reason = f"precondition not met ({cve.precondition or _requires_text(cve.requires)})"
    elif len(set(per_verdict)) > 1 and affected is not None:
        # Same build verdict, but the precondition differs between candidate trains.
        reason = "candidates disagree: " + "; ".join(
            f"{b}: {v.value} ({'precondition not met: ' + _requires_text(r) if p is Precondition.NOT_MET else j.reason})"
            for (b, j), v, p, (r, _w) in zip(judgements, per_verdict, pres, reqs, strict=True))
    else:
        reason = build_reason
    return _CveOutcome(cve, affected, pre, verdict, reason, judgements, requires, why)


def _bulletin_result(sigs: AdvisorySet, adv: Advisory, cands: Sequence[Build],
                     facts: Mapping[str, Precondition]) -> tuple[AdvisoryResult, list[_CveOutcome]]:
    outcomes = [_assess_cve(sigs, adv, c, cands, facts) for c in adv.cves]
    verdicts = [o.verdict for o in outcomes]
    if Verdict.VULNERABLE in verdicts:
        verdict = Verdict.VULNERABLE
    elif Verdict.UNKNOWN in verdicts:
        verdict = Verdict.UNKNOWN
    else:
        verdict = Verdict.NOT_VULNERABLE
    affs = [o.affected for o in outcomes]
    build_affected: bool | None = True if True in affs else (False if all(a is False for a in affs) else None)
    relevant = [o for o in outcomes if o.affected is not False] or outcomes
    pres = [o.precondition for o in relevant]
    if Precondition.MET in pres:
        precondition = Precondition.MET
    elif pres and all(p is Precondition.NOT_MET for p in pres):
        precondition = Precondition.NOT_MET
    else:
        precondition = Precondition.UNKNOWN

    # Fixed build per candidate train: the highest "fixed for certain" over the CVEs.
    per_cand_fix: list[Build | None] = []
    eol = False
    for i, _b in enumerate(cands):
        fixes = [o.per_candidate[i][1].fixed for o in outcomes]
        eol = eol or any(o.per_candidate[i][1].eol for o in outcomes)
        got = [f for f in fixes if f is not None]
        per_cand_fix.append(max(got, key=lambda f: (f.major, f.minor)) if got else None)
    fixed_in = _fixed_text(per_cand_fix)

    lead = next((o for o in outcomes if o.verdict is verdict), outcomes[0])
    cves_word = ", ".join(o.cve.id for o in outcomes if o.verdict is verdict)
    if verdict is Verdict.VULNERABLE:
        pre_txt = {Precondition.MET: "precondition met", Precondition.UNKNOWN: "precondition not checked"}[lead.precondition]
        reason = f"{cves_word}: {lead.reason}; {pre_txt}"
    elif verdict is Verdict.UNKNOWN:
        reason = f"{cves_word}: {lead.reason}"
    else:
        reasons = list(dict.fromkeys(o.reason for o in outcomes))
        reason = reasons[0] if len(reasons) == 1 else "; ".join(f"{o.cve.id}: {o.reason}" for o in outcomes)

    unconfirmed = list(adv.unconfirmed)
    for o in outcomes:
        for _b, j in o.per_candidate:
            unconfirmed.extend(j.unconfirmed)
    details: list[CveDetail] = []
    for o in outcomes:
        c = o.cve
        details.append(CveDetail(
            id=c.id, cvss=c.cvss, cvss_confirmed=c.cvss_confirmed, type=c.type, cwe=c.cwe, kev_added=c.kev_added,
            kev_confirmed=c.kev_confirmed if c.kev_added else None, precondition=c.precondition, requires=o.requires,
            build_affected=o.affected, precondition_state=o.precondition, verdict=o.verdict, reason=o.reason,
            name=c.name or None,  # only when known, so reports of unnamed CVEs stay unchanged
            requires_applies=o.requires_why or None,  # a build-dependent precondition applied (CVE-2026-107406)
        ))
    cvss = adv.max_cvss
    return AdvisoryResult(
        id=adv.id,
        cves=adv.cve_ids,
        verdict=verdict,
        build_affected=build_affected,
        precondition=precondition,
        fixed_in=fixed_in,
        reason=reason,
        title=adv.title,
        eol=eol,
        cvss=cvss,
        severity=Severity.from_cvss(cvss),
        kev=adv.kev,
        exploited=adv.exploited,
        published=adv.published,
        actions=adv.actions,
        unconfirmed=tuple(dict.fromkeys(unconfirmed)),
        cve_details=tuple(details),
    ), outcomes


# -- remediation -------------------------------------------------------------------------------

_ALL_MET: Mapping[str, Precondition] = {}


def _still_affected(sigs: AdvisorySet, target: Build) -> list[tuple[Advisory, Judgement]]:
    """Bulletins that ``target`` (one train) would still be affected by, whatever the config."""
    out = []
    for adv in sigs:
        for cve in adv.cves:
            j = judge_build(sigs, adv, cve, target)
            if j.affected is not False:
                out.append((adv, j))
                break
    return out


def _train_target(sigs: AdvisorySet, cand: Build, open_fixes: list[Build]) -> tuple[Build | None, list[str]]:
    """Lowest build on ``cand``'s train at or above every open fix that is itself clean."""
    notes: list[str] = []
    target = max(open_fixes, key=lambda f: (f.major, f.minor))
    for _ in range(len(sigs) + 2):
        hits = [(a, j) for a, j in _still_affected(sigs, target)]
        bumps = [j.fixed for _a, j in hits if j.fixed is not None and target.older_than(j.fixed)]
        if bumps:
            nxt = max(bumps, key=lambda f: (f.major, f.minor))
            notes.append(f"{target.plain} is still affected by {', '.join(a.id for a, _ in hits)}; "
                         f"using {nxt.plain}")
            target = nxt
            continue
        break
    return target, notes


def _remediation(sigs: AdvisorySet, cands: Sequence[Build], results: Sequence[AdvisoryResult],
                 outcomes: Sequence[list[_CveOutcome]]) -> Remediation:
    open_idx = [i for i, r in enumerate(results) if r.verdict is not Verdict.NOT_VULNERABLE]
    if not cands:
        return Remediation(None, summary="build unknown: cannot say which upgrade closes the bulletins")
    if not open_idx:
        return Remediation(None, summary="no open bulletins on this build")
    actions = tuple(dict.fromkeys(a for i in open_idx for a in results[i].actions))
    check = any(results[i].exploited for i in open_idx)
    per_train: dict[Build, Build | None] = {}
    move = False
    gaps: list[tuple[str, str]] = []
    notes: list[str] = []
    for ci, cand in enumerate(cands):
        fixes: list[Build] = []
        no_fix = False
        for i in open_idx:
            for o in outcomes[i]:
                if o.verdict is Verdict.NOT_VULNERABLE:
                    continue
                j = o.per_candidate[ci][1]
                if j.affected is False:
                    continue
                if j.eol:
                    no_fix = True
                elif j.fixed is not None:
                    fixes.append(j.fixed)
                else:
                    gaps.append((results[i].id, str(cand.train())))
        if no_fix:
            move = True
            per_train[cand] = None
            continue
        if not fixes:
            per_train[cand] = None
            continue
        target, n = _train_target(sigs, cand, fixes)
        notes.extend(n)
        if target is not None:
            # A bulletin build with a better GA build (13.1-64.23 -> 64.24).
            for adv in sigs:
                row = adv.train_fix(cand.train())
                if row and row.recommended and row.fixed is not None and \
                        row.fixed == target.with_edition(row.fixed.edition or Edition.STANDARD):
                    notes.append(f"{target} is the bulletin build; the GA build is {row.recommended.plain}")
                    target = row.recommended.with_edition(cand.edition or Edition.STANDARD)
                    break
                for cve in adv.cves:
                    crow = cve.train_fix(cand.train())
                    if crow and crow.recommended and crow.fixed is not None and \
                            (crow.fixed.major, crow.fixed.minor) == (target.major, target.minor):
                        notes.append(f"{target} is the bulletin build; the GA build is {crow.recommended.plain}")
                        target = crow.recommended.with_edition(cand.edition or Edition.STANDARD)
                        break
        per_train[cand] = target
    targets = [t for t in per_train.values() if t is not None]
    upgrade_to = _fixed_text(targets) if targets else None
    parts: list[str] = []
    if move:
        eol_cands = [c for c, t in per_train.items() if t is None]
        eol_trains = ", ".join(dict.fromkeys(str(c.train()) for c in eol_cands))
        editions = {c.edition for c in eol_cands}
        supported = [str(t) for t, lc in sigs.lifecycle.items() if lc.status.value == "supported"]
        same_kind = [str(t) for t, lc in sigs.lifecycle.items()
                     if lc.status.value == "supported" and t.edition in editions]
        supported = same_kind or supported
        parts.append(f"{eol_trains} is end of life: move to a supported train ({', '.join(supported)})")
    if upgrade_to:
        parts.append(f"upgrade to {upgrade_to} or later on the same train")
    if gaps:
        by_train: dict[str, list[str]] = {}
        for adv_id, train in dict.fromkeys(gaps):
            by_train.setdefault(train, []).append(adv_id)
        parts.append("no confirmed fixed build on " + "; ".join(
            f"{t} for {len(ids)} bulletin(s) ({', '.join(ids)})" for t, ids in by_train.items()))
    parts.extend(dict.fromkeys(notes))
    if check:
        parts.append("open bulletins are exploited in the wild: check for compromise before and after patching")
    return Remediation(
        upgrade_to=upgrade_to,
        move_train=move,
        summary="; ".join(parts),
        actions=actions,
        check_compromise=check,
    )


# -- entry point -------------------------------------------------------------------------------


def assess(
    sigs: AdvisorySet,
    builds: Sequence[Build],
    facts: Mapping[str, Precondition] | None = None,
) -> Assessment:
    """Judge every bulletin in ``sigs`` for a host whose build is one of ``builds``.

    ``facts`` maps a role (see manifest.yaml, e.g. "gateway") to met / not_met / unknown;
    a missing role is unknown. Builds without an edition are expanded into their candidates.
    """
    facts = {k: Precondition(v) for k, v in (facts or {}).items()}
    cands = expand_candidates(builds)
    # Fleets share a handful of builds: the same question gets the same (immutable) answer.
    key = (id(sigs), cands, tuple(sorted(facts.items())))
    hit = _CACHE.get(key)
    if hit is not None and hit[0] is sigs:
        return hit[1]
    result = _assess(sigs, cands, facts)
    if len(_CACHE) >= _CACHE_SIZE:
        _CACHE.clear()
    _CACHE[key] = (sigs, result)
    return result


_CACHE_SIZE = 512
_CACHE: dict[tuple[Any, ...], tuple[AdvisorySet, Assessment]] = {}


def _assess(sigs: AdvisorySet, cands: tuple[Build, ...], facts: Mapping[str, Precondition]) -> Assessment:
    results: list[AdvisoryResult] = []
    outcomes: list[list[_CveOutcome]] = []
    if not cands:
        for adv in sigs:
            cvss = adv.max_cvss
            results.append(AdvisoryResult(
                id=adv.id, cves=adv.cve_ids, verdict=Verdict.UNKNOWN, build_affected=None,
                precondition=Precondition.UNKNOWN, fixed_in=None, reason="build unknown", title=adv.title,
                cvss=cvss, severity=Severity.from_cvss(cvss), kev=adv.kev, exploited=adv.exploited,
                published=adv.published, actions=adv.actions, unconfirmed=adv.unconfirmed,
                open_question=OpenQuestion(QuestionKind.BUILD, "exact build?"),
            ))
            outcomes.append([])
        return Assessment(tuple(results), _remediation(sigs, cands, results, outcomes), cands)
    for adv in sigs:
        r, o = _bulletin_result(sigs, adv, cands, facts)
        results.append(with_question(r, cands))
        outcomes.append(o)
    return Assessment(tuple(results), _remediation(sigs, cands, results, outcomes), cands)
