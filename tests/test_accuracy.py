"""Issue 11 §1/§2: bulletins whose precondition changes with the build, the 2026-11-12 bulletin,
impossible edition/number pairs, affected-only lists on end-of-life trains, and a property test
that no combination is ever "not vulnerable" where the data makes it affected.

The boundary cases are generated from the data (every ``requires_from`` edge, every role
combination), so a new bulletin with a build-dependent precondition is covered without a new test.
"""

from __future__ import annotations

import itertools
import json
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from nscheck.assess.advisories import assess, edition_mismatch
from nscheck.build import Build, Edition, Train, parse_build
from nscheck.cli import app
from nscheck.exitcodes import ExitCode
from nscheck.model import Precondition, Verdict
from nscheck.signatures import SignatureError
from nscheck.signatures.advisories import Advisory, CveEntry, FixStatus, TrainFix, load, signature_errors

SIGS_DIR = Path(__file__).resolve().parent.parent / "signatures"
SIGS = load(SIGS_DIR)
S, F, N = Edition.STANDARD, Edition.FIPS, Edition.NDCPP
MET, NOT_MET, UNK = Precondition.MET, Precondition.NOT_MET, Precondition.UNKNOWN


def _before(b: Build) -> Build:
    return Build(b.release, b.major, b.minor - 1, b.edition) if b.minor > 0 else Build(b.release, b.major - 1, 9999, b.edition)


def _detail(build: Build, ctx: str, cve: str, facts: dict[str, Precondition]) -> dict:
    res = assess(SIGS, [build], facts)
    adv = next(a for a in res.advisories if a.id == ctx)
    return next(d.to_dict() for d in adv.cve_details if d.id == cve)


# -- an independent reading of the data (the oracle) -------------------------------------------


def _row(adv: Advisory, cve: CveEntry, train: Train) -> TrainFix | None:
    return cve.train_fix(train) or adv.train_fix(train)


def _effective_requires(cve: CveEntry, build: Build) -> tuple[tuple[str, ...], ...] | None:
    req = cve.requires
    for entry in cve.requires_from:
        start = entry.from_builds.get(build.train())
        if start is not None and (build.major, build.minor) >= (start.major, start.minor):
            req = entry.requires
    return req


def _excluded(requires: tuple[tuple[str, ...], ...] | None, facts: dict[str, Precondition]) -> bool:
    """True only when the configuration rules the CVE out: a group whose roles are all absent."""
    if requires is None:
        return False
    return any(all(r != "any" and facts.get(r) is NOT_MET for r in group) for group in requires)


def _data_says_affected(adv: Advisory, cve: CveEntry, build: Build) -> bool:
    """The bulletin rows (or an affected-only list) make this exact build affected."""
    row = _row(adv, cve, build.train())
    if row is None or row.status in (FixStatus.NOT_AFFECTED, FixStatus.UNKNOWN):
        return False
    if cve.affected_only:
        return any((b.release, b.major, b.minor) == (build.release, build.major, build.minor) for b in cve.affected_only)
    if row.status is FixStatus.NO_FIX:
        return True
    assert row.first_fixed is not None
    return (build.major, build.minor) < (row.first_fixed.major, row.first_fixed.minor)


# -- §1/§2: CTX697191, the precondition that changes with the build --------------------------


def test_issue_examples_ctx697191() -> None:
    b = parse_build("14.1-73.41")
    r = next(a for a in assess(SIGS, [b], {"saml_idp": MET}).advisories if a.id == "CTX697191")
    assert r.verdict is Verdict.VULNERABLE and r.fixed_in == "14.1-73.46"
    only = {role: NOT_MET for role in SIGS.manifest.roles if role != "any"} | {"gateway": MET, "saml_sp": MET}
    r2 = next(a for a in assess(SIGS, [b], only).advisories if a.id == "CTX697191")
    assert r2.verdict is Verdict.NOT_VULNERABLE
    assert "saml_idp from 14.1-73.37 on" in r2.reason and r2.build_affected is True
    d = next(x.to_dict() for x in r2.cve_details if x.id == "CVE-2026-107406")
    assert d["requires"] == [["saml_idp"]] and d["requires_applies"] == "from 14.1-73.37 on"
    # Before 14.1-73.37 the SAML SP alone is enough.
    r3 = next(a for a in assess(SIGS, [parse_build("14.1-73.36")], only).advisories if a.id == "CTX697191")
    assert r3.verdict is Verdict.VULNERABLE


def test_issue_examples_cli() -> None:
    runner = CliRunner()
    r = runner.invoke(app, ["assess", "14.1-73.41", "--role", "saml_idp", "--format", "json"])
    assert r.exit_code == ExitCode.FINDINGS, r.output
    a = next(x for x in json.loads(r.stdout)["advisories"] if x["id"] == "CTX697191")
    assert (a["verdict"], a["fixed_in"]) == ("vulnerable", "14.1-73.46")
    r = runner.invoke(app, ["assess", "14.1-73.41", "--only-roles", "--role", "gateway", "--role", "saml_sp",
                            "--format", "json"])
    a = next(x for x in json.loads(r.stdout)["advisories"] if x["id"] == "CTX697191")
    assert a["verdict"] == "not_vulnerable"


def _from_cases():
    for adv in SIGS:
        for cve in adv.cves:
            for j, entry in enumerate(cve.requires_from):
                for train, start in entry.from_builds.items():
                    yield pytest.param(adv, cve, train, start, id=f"{cve.id}-{j}-{train}")


def _roles(cve: CveEntry) -> list[str]:
    groups = list(cve.requires or ()) + [g for e in cve.requires_from for g in (e.requires or ())]
    return sorted({r for g in groups for r in g if r != "any"})


@pytest.mark.parametrize(("adv", "cve", "train", "start"), list(_from_cases()))
def test_requires_from_edges_and_every_role_combination(adv: Advisory, cve: CveEntry, train: Train, start: Build) -> None:
    row = _row(adv, cve, train)
    assert row is not None and row.fixed is not None
    start = start.with_edition(train.edition)
    edges = {
        "below the first narrowed build": _before(start),
        "first narrowed build": start,
        "last affected build": _before(row.first_fixed.with_edition(train.edition)),
        "fixed build": row.fixed.with_edition(train.edition),
    }
    roles = _roles(cve)
    for (label, build), values in itertools.product(edges.items(), itertools.product((MET, NOT_MET, UNK), repeat=len(roles))):
        facts = dict(zip(roles, values, strict=True))
        affected = _data_says_affected(adv, cve, build)
        assert affected is (label != "fixed build")
        want = "vulnerable" if affected and not _excluded(_effective_requires(cve, build), facts) else "not_vulnerable"
        got = _detail(build, adv.id, cve.id, facts)
        assert got["verdict"] == want, (label, str(build), facts, got["reason"])


def test_requires_from_cases_cover_the_data() -> None:
    assert len(list(_from_cases())) >= 5


# -- the 2026-11-12 bulletin -------------------------------------------------------------------


def test_2026_11_12_bulletin_fips_needs_one_more_build() -> None:
    def verdict(build: Build, facts: dict | None = None) -> Verdict:
        return next(a for a in assess(SIGS, [build], facts or {}).advisories if a.id == "NSB-2026-11-12").verdict

    assert verdict(parse_build("14.1-73.57", S)) is Verdict.NOT_VULNERABLE
    assert verdict(parse_build("14.1-73.57", F)) is Verdict.VULNERABLE
    assert verdict(parse_build("14.1-73.58", F)) is Verdict.NOT_VULNERABLE
    assert verdict(parse_build("14.1-73.57")) is Verdict.UNKNOWN  # standard or FIPS: they disagree
    assert verdict(parse_build("13.1-37.292")) is Verdict.VULNERABLE  # FIPS or NDcPP
    assert verdict(parse_build("13.1-37.293")) is Verdict.NOT_VULNERABLE
    assert verdict(parse_build("13.1-64.38", S)) is Verdict.VULNERABLE
    # Preconditions are not confirmed: even "no role at all" leaves an affected build vulnerable.
    nothing = {role: NOT_MET for role in SIGS.manifest.roles if role != "any"}
    assert verdict(parse_build("13.1-64.38", S), nothing) is Verdict.VULNERABLE
    adv = SIGS.get("CVE-2026-111334")
    assert adv.id == "NSB-2026-11-12" and all(c.requires is None for c in adv.cves)
    assert any("CTX id" in u for u in adv.unconfirmed)


def test_safe_builds_are_the_newest_fixes() -> None:
    lc = SIGS.lifecycle
    assert str(lc[Train("14.1", S)].last_fix) == "14.1-73.57"
    assert str(lc[Train("14.1", F)].last_fix) == "14.1-73.58 FIPS"
    assert str(lc[Train("13.1", S)].last_fix) == "13.1-64.39"
    assert str(lc[Train("13.1", F)].last_fix) == "13.1-37.293 FIPS"
    assert str(lc[Train("13.1", N)].last_fix) == "13.1-37.293 NDcPP"
    for train, t in lc.items():
        if t.status.value == "supported":
            res = assess(SIGS, [t.last_fix], {})
            assert not any(a.verdict is Verdict.VULNERABLE for a in res.advisories), train
            assert res.remediation.upgrade_to is None


# -- §2: impossible edition/number pairs --------------------------------------------------------


@pytest.mark.parametrize(("build", "edition", "says"), [
    ("13.1-59.22", F, "13.1-FIPS builds are numbered 13.1-37.x"),
    ("13.1-64.22", N, "13.1-NDcPP builds are numbered 13.1-37.x"),
    ("12.1-65.35", F, "12.1-FIPS builds are numbered 12.1-55.x"),
    ("14.1-73.41", N, "there is no 14.1-NDcPP train"),
])
def test_impossible_pairs_are_never_clean(build: str, edition: Edition, says: str) -> None:
    b = parse_build(build, edition)
    assert says in (edition_mismatch(SIGS, b) or "")
    res = assess(SIGS, [b], {r: MET for r in SIGS.manifest.roles})
    assert all(a.verdict is Verdict.UNKNOWN for a in res.advisories)
    assert says in res.advisories[-1].reason
    r = CliRunner().invoke(app, ["assess", build, "--edition", edition.value])
    assert r.exit_code == ExitCode.USAGE
    assert r.stdout == "" and r.stderr.count("\n") == 1 and says in r.stderr


def test_possible_pairs_are_assessed() -> None:
    for build, ed in (("13.1-37.241", F), ("12.1-55.330", N), ("14.1-73.41", F), ("13.1-59.22", S)):
        assert edition_mismatch(SIGS, parse_build(build, ed)) is None
    r = CliRunner().invoke(app, ["assess", "13.1-37.293", "--edition", "ndcpp"])
    assert r.exit_code == ExitCode.OK, r.output


# -- §2: affected-only lists win over end of life --------------------------------------------


@pytest.mark.parametrize("build", ["10.5-70.18", "12.0-63.21", "12.0-99.99", "11.1-65.23", "13.0-92.31"])
def test_affected_only_wins_over_eol_ctx457048(build: str) -> None:
    r = next(a for a in assess(SIGS, [parse_build(build)], {"gateway": MET}).advisories if a.id == "CTX457048")
    assert r.verdict is Verdict.NOT_VULNERABLE and r.build_affected is False and not r.eol
    # 11.1 and 13.0 have explicit "not affected" rows; 10.5 and 12.0 (EOL, no row) use the list.
    assert "affects only 12.1-64.16" in r.reason or "is not affected" in r.reason


@pytest.mark.parametrize("build", ["13.0-92.31", "12.1-65.35", "11.1-65.23", "14.1-66.53", "13.1-62.22"])
def test_cve_2026_4368_is_not_affected_off_14_1_66_54(build: str) -> None:
    d = _detail(parse_build(build), "CTX696300", "CVE-2026-4368", {"gateway": MET})
    assert d["build_affected"] is False and d["verdict"] == "not_vulnerable", d["reason"]
    assert _detail(parse_build("14.1-66.54", S), "CTX696300", "CVE-2026-4368", {"gateway": MET})["verdict"] == "vulnerable"


def test_eol_rule_still_applies_without_an_affected_only_list() -> None:
    d = _detail(parse_build("13.0-92.31"), "CTX696300", "CVE-2026-3055", {"saml_idp": MET})
    assert d["verdict"] == "vulnerable" and "end of life" in d["reason"]


# -- the property --------------------------------------------------------------------------------


def _interesting() -> list[Build]:
    out: set[Build] = set()
    for adv in SIGS:
        for cve in adv.cves:
            pts = [b for row in (*adv.trains, *cve.trains) for b in (row.fixed, row.fixed_low) if b is not None]
            pts += list(cve.affected_only)
            pts += [b for e in cve.requires_from for b in e.from_builds.values()]
            for b in pts:
                for x in (b, _before(b), Build(b.release, b.major, b.minor + 1, b.edition),
                          Build(b.release, b.major + 1, 0, b.edition)):
                    out.add(Build(x.release, x.major, x.minor))
    for t in SIGS.lifecycle.values():
        if t.last_fix is not None:
            out.add(Build(t.last_fix.release, t.last_fix.major, t.last_fix.minor))
    return sorted(out, key=lambda b: (b.release, b.major, b.minor))


_RELEASES = sorted({t.release for t in SIGS.lifecycle})
_ROLES = sorted(SIGS.manifest.roles)
builds = st.one_of(
    st.sampled_from(_interesting()),
    st.builds(Build, st.sampled_from(_RELEASES), st.integers(1, 99), st.integers(0, 400)),
)
editions = st.sampled_from([None, S, F, N])
facts_st = st.dictionaries(st.sampled_from(_ROLES), st.sampled_from([MET, NOT_MET, UNK]), max_size=len(_ROLES))


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(build=builds, edition=editions, facts=facts_st,
       others=st.lists(st.tuples(builds, editions), max_size=2))
def test_property_never_clean_where_the_data_says_affected(build: Build, edition: Edition | None,
                                                           facts: dict[str, Precondition],
                                                           others: list[tuple[Build, Edition | None]]) -> None:
    """Any build/edition/role combination, alone or among the candidates of an ambiguous
    fingerprint: where the rows or an affected-only list make a candidate affected and the
    configuration does not rule the CVE out, neither the CVE nor the bulletin is not_vulnerable."""
    b = Build(build.release, build.major, build.minor, edition)
    given_builds = [b, *(Build(o.release, o.major, o.minor, e) for o, e in others)]
    res = assess(SIGS, given_builds, facts)
    by_id = {a.id: a for a in res.advisories}
    if any(x.edition is not None and edition_mismatch(SIGS, x) is not None for x in given_builds):
        # A box that cannot exist is never judged "not vulnerable", not even by its configuration.
        assert all(a.verdict is not Verdict.NOT_VULNERABLE for a in res.advisories)
        if len(given_builds) == 1:
            assert all(a.verdict is Verdict.UNKNOWN for a in res.advisories)
        return
    for adv in SIGS:
        got = by_id[adv.id]
        for cve in adv.cves:
            for cand in res.candidates:
                if not _data_says_affected(adv, cve, cand):
                    continue
                if _excluded(_effective_requires(cve, cand), facts):
                    continue
                d = next(x.to_dict() for x in got.cve_details if x.id == cve.id)
                assert d["verdict"] != "not_vulnerable", (adv.id, cve.id, str(cand), facts, d["reason"])
                assert got.verdict is not Verdict.NOT_VULNERABLE, (adv.id, str(cand), got.reason)


# -- the loader checks the new format ------------------------------------------------------------


@pytest.fixture
def sigdir(tmp_path: Path) -> Path:
    d = tmp_path / "sigs"
    (d / "advisories").mkdir(parents=True)
    for name in ("manifest.yaml", "lifecycle.yaml"):
        shutil.copy(SIGS_DIR / name, d / name)
    for p in (SIGS_DIR / "advisories").glob("*.yaml"):
        shutil.copy(p, d / "advisories" / p.name)
    return d


def _errors(d: Path) -> list[SignatureError]:
    try:
        load(d)
    except (SignatureError, ExceptionGroup) as e:
        return signature_errors(e)
    pytest.fail("expected the set to be rejected")


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path.name}"
    path.write_text(text.replace(old, new, 1))


def _line(path: Path, needle: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if needle in line)


@pytest.mark.parametrize(("old", "new", "says"), [
    ("from: [14.1-73.37,", "from: [14.1-73.46,", "not below the fixed build 14.1-73.46"),
    ("from: [14.1-73.37,", "from: [12.1-55.1 FIPS, 14.1-73.37,", "train 12.1-FIPS has no row"),
    ("from: [14.1-73.37,", "from: [14.1-73.37, 14.1-73.38,", "two first builds for train 14.1"),
    ("from: [14.1-73.37,", "from: [14.1-73.x,", "14.1-73.x"),
    ("    - [saml_idp]\n    note:", "    - [saml_idpx]\n    note:", "unknown role 'saml_idpx'"),
])
def test_requires_from_errors_have_file_and_line(sigdir: Path, old: str, new: str, says: str) -> None:
    p = sigdir / "advisories" / "CTX697191.yaml"
    _edit(p, old, new)
    errs = _errors(sigdir)
    assert len(errs) == 1 and says in errs[0].reason, [str(e) for e in errs]
    assert errs[0].file.endswith("CTX697191.yaml") and errs[0].line is not None
    assert "requires_from" in (errs[0].field or "")


def test_requires_from_entries_ascend_per_train(sigdir: Path) -> None:
    p = sigdir / "advisories" / "CTX697191.yaml"
    _edit(p, "trains:\n- release: '14.1'", "- from: [14.1-73.30]\n    requires: [[saml_sp]]\ntrains:\n- release: '14.1'")
    text = p.read_text()
    # move the new entry under requires_from (after the existing one)
    text = text.replace("      'applicable only when configured as a SAML IdP'\n- from: [14.1-73.30]\n    requires: [[saml_sp]]",
                        "      'applicable only when configured as a SAML IdP'\n  - from: [14.1-73.30]\n    requires: [[saml_sp]]")
    p.write_text(text)
    (e,) = _errors(sigdir)
    assert "ascending" in e.reason and e.line == _line(p, "from: [14.1-73.30]")


def test_placeholder_id_rules(sigdir: Path) -> None:
    p = sigdir / "advisories" / "NSB-2026-11-12.yaml"
    _edit(p, "- CTX id of the bulletin", "- id of the bulletin")
    errs = _errors(sigdir)  # the rejected bulletin is then also missing for lifecycle/manifest
    assert any(e.file.endswith("NSB-2026-11-12.yaml") and e.field == "id" and "CTX id" in e.reason for e in errs)
    _edit(p, "- id of the bulletin", "- CTX id of the bulletin")
    shutil.copy(sigdir / "advisories" / "NSB-2026-11-12.yaml", sigdir / "advisories" / "NSB-2026-11-13.yaml")
    _edit(sigdir / "advisories" / "NSB-2026-11-13.yaml", "id: NSB-2026-11-12", "id: NSB-2026-11-13")
    errs = _errors(sigdir)
    assert any(x.file.endswith("NSB-2026-11-13.yaml") and "NSB-2026-11-12" in x.reason for x in errs)


def test_build_majors_must_be_numbers(sigdir: Path) -> None:
    p = sigdir / "lifecycle.yaml"
    _edit(p, "build_majors:\n  - 37", "build_majors:\n  - x37")
    (e,) = _errors(sigdir)
    assert "build_majors" in (e.field or "") and e.line == _line(p, "- x37") - 1
