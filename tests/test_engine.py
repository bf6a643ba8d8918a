"""The assessment engine, checked against every row of the shipped data and the known traps."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from nscheck.assess.advisories import Assessment, assess, expand_candidates, load_default, precondition_state
from nscheck.build import Build, Edition, Train, parse_build
from nscheck.model import AdvisoryResult, Precondition, Verdict
from nscheck.signatures.advisories import AdvisorySet, FixStatus, TrainStatus, load

SIGS_DIR = Path(__file__).resolve().parent.parent / "signatures"
SIGS = load(SIGS_DIR)
ALL_MET = {r: Precondition.MET for r in SIGS.manifest.roles}
S, F, N = Edition.STANDARD, Edition.FIPS, Edition.NDCPP
MET, NOT_MET, UNK = Precondition.MET, Precondition.NOT_MET, Precondition.UNKNOWN


def _before(b: Build) -> Build:
    if b.minor > 0:
        return Build(b.release, b.major, b.minor - 1, b.edition)
    return Build(b.release, b.major - 1, 9999, b.edition)


def _one(result: Assessment, ctx: str) -> AdvisoryResult:
    return next(a for a in result.advisories if a.id == ctx)


def _run(build: str | Build, ctx: str, facts=None, sigs: AdvisorySet = SIGS) -> AdvisoryResult:
    b = parse_build(build) if isinstance(build, str) else build
    return _one(assess(sigs, [b], facts if facts is not None else ALL_MET), ctx)


def _fix_cases():
    """(bulletin, train, fixed-for-certain build, last build below every fix) from the data."""
    for adv in SIGS:
        for row in adv.trains:
            if row.status is not FixStatus.FIXED:
                continue
            rows = [c.train_fix(row.train) or row for c in adv.cves]
            safe = max((r.fixed for r in rows if r.fixed), key=lambda b: (b.major, b.minor))
            low = min((r.first_fixed for r in rows if r.first_fixed), key=lambda b: (b.major, b.minor))
            yield pytest.param(adv.id, row.train, safe, _before(low), id=f"{adv.id}-{row.train}")


def _eol_cases():
    for adv in SIGS:
        for row in adv.trains:
            if row.status is FixStatus.NO_FIX:
                yield pytest.param(adv.id, row.train, id=f"{adv.id}-{row.train}-row")
        if all(c.affected_only for c in adv.cves):
            continue  # "only these builds" wins over end of life (test_affected_only_wins_over_eol)
        for train, lc in SIGS.lifecycle.items():
            if adv.train_fix(train) is None and lc.eol_at(adv.published):
                yield pytest.param(adv.id, train, id=f"{adv.id}-{train}-lifecycle")


@pytest.mark.parametrize(("ctx", "train", "fixed", "before"), list(_fix_cases()))
def test_fixed_build_is_fixed_and_the_one_before_is_vulnerable(ctx: str, train: Train, fixed: Build, before: Build) -> None:
    fixed = fixed.with_edition(train.edition)
    at = _run(fixed, ctx)
    assert at.verdict is Verdict.NOT_VULNERABLE, at.reason
    assert at.build_affected is False
    below = _run(before.with_edition(train.edition), ctx)
    assert below.verdict is Verdict.VULNERABLE, below.reason
    assert below.build_affected is True
    assert below.fixed_in is not None and below.fixed_in.split()[0] == fixed.plain


@pytest.mark.parametrize(("ctx", "train"), list(_eol_cases()))
def test_eol_trains_are_vulnerable_with_no_fix(ctx: str, train: Train) -> None:
    lc = SIGS.lifecycle[train]
    for build in (lc.last_fix, Build(train.release, 99, 99)):
        if build is None:
            continue
        r = _run(build.with_edition(train.edition), ctx)
        assert r.verdict is Verdict.VULNERABLE, r.reason
        assert r.eol is True and r.fixed_in is None and r.build_affected is True


def test_generated_cases_cover_the_data() -> None:
    assert len(list(_fix_cases())) > 80
    assert len(list(_eol_cases())) > 20


# -- the traps ---------------------------------------------------------------------------------


def test_fips_13_1_37_241_is_fixed_for_ctx694938_and_not_compared_with_mainline() -> None:
    r = _run("13.1-37.241 FIPS", "CTX694938")
    assert r.verdict is Verdict.NOT_VULNERABLE and r.fixed_in == "13.1-37.241 FIPS"
    bare = _run("13.1-37.241", "CTX694938")  # FIPS or NDcPP: both fixed
    assert bare.verdict is Verdict.NOT_VULNERABLE and bare.fixed_in == "13.1-37.241"
    # Only when someone states it is mainline does the mainline threshold apply.
    std = _run(parse_build("13.1-37.241", S), "CTX694938")
    assert std.verdict is Verdict.VULNERABLE and std.fixed_in == "13.1-59.22"


def test_12_1_55_18_is_the_mainline_fix_of_cve_2019_19781() -> None:
    b = parse_build("12.1-55.18")
    assert expand_candidates([b]) == (b.with_edition(S),)
    r = _run(b, "CTX267027")
    assert r.verdict is Verdict.NOT_VULNERABLE and r.fixed_in == "12.1-55.18"
    assert _run(parse_build("12.1-55.17", S), "CTX267027").verdict is Verdict.VULNERABLE


def test_build_numbers_are_integers() -> None:
    adv = SIGS.get("CTX457836")
    for fixed, fixed_b, vuln_b in (("13.1-9.60", "13.1-9.107", "13.1-9.59"), ("13.1-9.107", "13.1-9.107", "13.1-9.60")):
        rows = tuple(dataclasses.replace(r, fixed=parse_build(fixed, S)) if r.train == Train("13.1", S) else r
                     for r in adv.trains)
        one = dataclasses.replace(SIGS, advisories=(dataclasses.replace(adv, trains=rows),))
        assert _run(fixed_b, "CTX457836", sigs=one).verdict is Verdict.NOT_VULNERABLE
        assert _run(vuln_b, "CTX457836", sigs=one).verdict is Verdict.VULNERABLE


def test_bare_14_1_is_assessed_as_standard_and_fips() -> None:
    res = assess(SIGS, [parse_build("14.1-72.61")], ALL_MET)
    assert [c.edition for c in res.candidates] == [S, F]
    assert _one(res, "CTX696604").verdict is Verdict.NOT_VULNERABLE
    assert _one(res, "CTX696604").fixed_in == "14.1-72.61"
    assert _one(res, "CTX696939").verdict is Verdict.VULNERABLE
    assert "14.1-FIPS" in _one(res, "CTX696939").reason


def test_14_1_fips_uses_the_mainline_threshold_before_its_first_row() -> None:
    r = _run("14.1-43.50 FIPS", "CTX693420")
    assert r.verdict is Verdict.VULNERABLE and r.fixed_in == "14.1-43.56 FIPS"
    assert "shares 14.1 mainline numbering" in r.reason
    assert _run("14.1-43.56 FIPS", "CTX693420").verdict is Verdict.NOT_VULNERABLE


def test_cve_2026_4368_only_on_14_1_66_54() -> None:
    def detail(build: str) -> dict:
        r = _run(build, "CTX696300")
        return next(d.to_dict() for d in r.cve_details if d.id == "CVE-2026-4368")

    assert detail("14.1-66.54")["build_affected"] is True
    assert detail("14.1-66.53")["build_affected"] is False
    assert detail("14.1-66.59")["build_affected"] is False
    assert detail("13.1-62.22")["build_affected"] is False
    # 66.53 is still vulnerable to CVE-2026-3055 of the same bulletin.
    assert _run("14.1-66.53", "CTX696300").verdict is Verdict.VULNERABLE


def test_cve_2022_27508_only_on_12_1_64_16() -> None:
    assert _run("12.1-64.16", "CTX457048").verdict is Verdict.VULNERABLE
    assert _run("12.1-64.15", "CTX457048").verdict is Verdict.NOT_VULNERABLE
    assert _run("12.1-63.22", "CTX457048").verdict is Verdict.NOT_VULNERABLE
    assert _run("13.0-82.45", "CTX457048").verdict is Verdict.NOT_VULNERABLE


def test_mixed_candidates_are_unknown_never_clean() -> None:
    res = assess(SIGS, [parse_build("14.1-43.50", S), parse_build("14.1-47.50", S)], ALL_MET)
    r = _one(res, "CTX694788")  # fixed in 47.46: one candidate affected, one not
    assert r.verdict is Verdict.UNKNOWN and r.build_affected is None
    assert "disagree" in r.reason
    assert _one(res, "CTX695486").verdict is Verdict.VULNERABLE  # both below 56.73
    assert _one(res, "CTX579459").verdict is Verdict.NOT_VULNERABLE


def test_precondition_not_met_is_not_vulnerable_with_reason() -> None:
    facts = {"gateway": NOT_MET, "aaa": NOT_MET}
    r = _run("14.1-43.50", "CTX694788", facts)
    assert r.verdict is Verdict.NOT_VULNERABLE and r.build_affected is True
    assert r.precondition is NOT_MET and "precondition not met" in r.reason
    # CTX693420 also has a management-interface CVE: unknown management keeps it vulnerable.
    assert _run("14.1-43.50", "CTX693420", facts).verdict is Verdict.VULNERABLE
    facts2 = {**facts, "management": NOT_MET}
    assert _run("14.1-43.50", "CTX693420", facts2).verdict is Verdict.NOT_VULNERABLE
    # Unknown and met preconditions leave an affected build vulnerable.
    assert _run("14.1-43.50", "CTX694788", {}).verdict is Verdict.VULNERABLE
    assert _run("14.1-43.50", "CTX694788", {}).precondition is UNK
    # "every deployment" can never be not met.
    assert _run("14.1-73.30", "CTX697096", {r: NOT_MET for r in SIGS.manifest.roles}).verdict is Verdict.VULNERABLE


def test_precondition_logic() -> None:
    req = (("gateway", "aaa"), ("saml_sp", "saml_idp"))
    assert precondition_state(req, {"aaa": MET, "saml_idp": MET}) is MET
    assert precondition_state(req, {"aaa": MET}) is UNK
    assert precondition_state(req, {"aaa": MET, "saml_sp": NOT_MET, "saml_idp": NOT_MET}) is NOT_MET
    assert precondition_state(req, {"gateway": NOT_MET, "aaa": NOT_MET}) is NOT_MET
    assert precondition_state(None, {r: NOT_MET for r in SIGS.manifest.roles}) is UNK
    assert precondition_state((("any",),), {}) is MET


def test_train_that_did_not_exist_yet_is_not_affected() -> None:
    r = _run("14.1-4.42", "CTX561482")
    assert r.verdict is Verdict.NOT_VULNERABLE and "did not exist" in r.reason
    assert _run("13.1-37.150 FIPS", "CTX463706").verdict is Verdict.NOT_VULNERABLE


def test_fips_gap_is_unknown_and_named() -> None:
    r = _run("12.1-55.330 FIPS", "CTX696604")
    assert r.verdict is Verdict.UNKNOWN and "12.1-FIPS" in r.reason
    r2 = _run("12.1-55.330 FIPS", "CTX276688")  # row exists, fix unconfirmed
    assert r2.verdict is Verdict.UNKNOWN and "no confirmed fixed build" in r2.reason


def test_mpx_sdx_range_is_unknown() -> None:
    assert _run("11.1-64.10", "CTX263807").verdict is Verdict.VULNERABLE
    r = _run("11.1-64.20", "CTX263807")
    assert r.verdict is Verdict.UNKNOWN and "SDX" in r.reason
    assert _run("11.1-65.10", "CTX263807").verdict is Verdict.NOT_VULNERABLE
    assert _run("11.1-64.10", "CTX263807", {"hardware_mpx_sdx": NOT_MET}).verdict is Verdict.NOT_VULNERABLE


def test_cve_2026_19490_disputed_fix_is_unknown_between_bulletin_and_safe_floor() -> None:
    r = _run("14.1-73.32", "CTX696939")
    assert r.verdict is Verdict.UNKNOWN and r.fixed_in == "14.1-73.37"
    assert any("19490" in u for u in r.unconfirmed)
    assert _run("14.1-73.37", "CTX696939").verdict is Verdict.NOT_VULNERABLE
    assert _run("13.1-37.277 FIPS", "CTX696939").verdict is Verdict.NOT_VULNERABLE


def test_result_fields() -> None:
    r = _run("NetScaler NS14.1: Build 43.50.nc, Date: Jun 7 2025, 10:22:30 (64-bit)", "CTX693420")
    assert r.cves == ("CVE-2025-5777", "CVE-2025-5349")
    assert (r.cvss, r.severity.value, r.kev, r.exploited, r.published) == (9.3, "critical", True, True, "2025-06-17")
    assert r.actions == ("kill icaconnection -all", "kill pcoipConnection -all")
    d = next(x.to_dict() for x in r.cve_details if x.id == "CVE-2025-5777")
    assert d["kev_added"] == "2025-07-10" and d["requires"] == [["gateway", "aaa"]]
    assert d["build_affected"] is True and d["precondition_state"] == "met" and d["cvss"] == 9.3
    assert AdvisoryResult.from_dict(r.to_dict()) == r


# -- remediation -------------------------------------------------------------------------------


def test_remediation_minimum_upgrade_and_actions() -> None:
    rem = assess(SIGS, [parse_build("14.1-43.50")]).remediation
    assert rem.upgrade_to == "14.1-73.57 or 14.1-73.58 FIPS" and not rem.move_train
    assert rem.check_compromise is True
    assert "kill icaconnection -all" in rem.actions


def test_remediation_eol_train_moves() -> None:
    rem = assess(SIGS, [parse_build("13.0-92.31")]).remediation
    assert rem.move_train is True and rem.upgrade_to is None and "supported train" in rem.summary


def test_remediation_clean_host() -> None:
    res = assess(SIGS, [parse_build("14.1-73.57", S), parse_build("14.1-73.58", F)])
    assert not res.vulnerable and res.remediation.upgrade_to is None and not res.remediation.check_compromise
    assert all(a.verdict is Verdict.NOT_VULNERABLE for a in res.advisories)


def test_remediation_recommends_ga_13_1_64_24() -> None:
    upto = dataclasses.replace(SIGS, advisories=tuple(a for a in SIGS if a.published <= "2026-09-27"))
    rem = assess(upto, [parse_build("13.1-60.10")]).remediation
    assert rem.upgrade_to == "13.1-64.24" and "GA" in rem.summary


def test_remediation_never_lands_on_14_1_66_54() -> None:
    adv = SIGS.get("CTX695486")
    rows = tuple(dataclasses.replace(r, fixed=parse_build("14.1-66.54", S)) if r.train == Train("14.1", S) else r
                 for r in adv.trains)
    x = dataclasses.replace(adv, trains=rows)
    regress = SIGS.get("CTX696300")
    regress = dataclasses.replace(regress, cves=tuple(c for c in regress.cves if c.id == "CVE-2026-4368"))
    sub = dataclasses.replace(SIGS, advisories=(x, regress))
    rem = assess(sub, [parse_build("14.1-66.50", S)]).remediation
    assert rem.upgrade_to == "14.1-66.59"


def test_no_build_gives_unknown_everywhere() -> None:
    res = assess(SIGS, [])
    assert res.candidates == ()
    assert all(a.verdict is Verdict.UNKNOWN for a in res.advisories)
    assert res.remediation.upgrade_to is None


def test_load_default_is_cached() -> None:
    a = load_default(SIGS_DIR)
    assert a is load_default(SIGS_DIR) and len(a) == len(SIGS)


def test_lifecycle_statuses_used() -> None:
    assert SIGS.lifecycle[Train("12.1", F)].status is TrainStatus.UNCONFIRMED
    assert SIGS.lifecycle[Train("13.1", N)].status is TrainStatus.SUPPORTED
