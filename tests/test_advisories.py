"""Loading and linting the bulletin set: the shipped data is valid, broken files give
file:line: field: reason errors (never a traceback), and the odd cases are in the data."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from nscheck.build import Edition, Train, parse_build
from nscheck.signatures import SignatureError, lint
from nscheck.signatures.advisories import FixStatus, TrainStatus, load, signature_errors

ROOT = Path(__file__).resolve().parent.parent
SIGS = ROOT / "signatures"
S, F, N = Edition.STANDARD, Edition.FIPS, Edition.NDCPP


@pytest.fixture(scope="module")
def sigs():
    return load(SIGS)


@pytest.fixture
def sigdir(tmp_path: Path) -> Path:
    """A private copy of the advisory part of the shipped set, to break."""
    d = tmp_path / "sigs"
    (d / "advisories").mkdir(parents=True)
    for name in ("manifest.yaml", "lifecycle.yaml"):
        shutil.copy(SIGS / name, d / name)
    for p in (SIGS / "advisories").glob("*.yaml"):
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


def _line_of(path: Path, needle: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if needle in line)


# -- the shipped set ---------------------------------------------------------------------------


def test_shipped_set_loads(sigs) -> None:
    assert len(sigs) == 29
    ids = [a.id for a in sigs]
    assert len(set(ids)) == len(ids)
    assert sigs.manifest.version == "2026.11.13"
    assert sigs.manifest.newest_bulletin == "NSB-2026-11-12"
    assert all(a.sources for a in sigs)
    assert "gateway" in sigs.manifest.roles and "any" in sigs.manifest.roles


def test_every_build_has_a_train_and_parses(sigs) -> None:
    for a in sigs:
        for row in a.trains:
            if row.status is FixStatus.FIXED:
                assert row.fixed is not None and row.fixed.release == row.train.release
                assert row.fixed.edition is row.train.edition
            else:
                assert row.fixed is None


def test_lookup_by_ctx_and_cve(sigs) -> None:
    assert sigs.get("ctx693420").id == "CTX693420"
    assert sigs.get("CVE-2025-5777").id == "CTX693420"
    assert sigs.get("CVE-1999-0001") is None


def test_branch_labels_map_to_editions(sigs) -> None:
    a = sigs.get("CTX693420")
    assert a.train_fix(Train("13.1", F)).fixed == parse_build("13.1-37.235", F)
    assert a.train_fix(Train("13.1", N)).fixed == parse_build("13.1-37.235", N)
    assert a.train_fix(Train("12.1", F)).fixed == parse_build("12.1-55.328", F)
    # The research lists 12.1-FIPS only; the NDcPP row is derived and flagged.
    nd = a.train_fix(Train("12.1", N))
    assert nd.fixed == parse_build("12.1-55.328", N) and nd.confirmed is False
    b = sigs.get("CTX474995")
    assert b.train_fix(Train("12.1", F)).confirmed and b.train_fix(Train("12.1", N)).confirmed
    assert b.train_fix(Train("13.1", S)).status is FixStatus.NOT_AFFECTED


def test_ctx267027_mainline_fix_is_not_fips(sigs) -> None:
    a = sigs.get("CTX267027")
    assert a.train_fix(Train("12.1", S)).fixed == parse_build("12.1-55.18", S)
    assert a.train_fix(Train("12.1", F)) is None


def test_odd_cases_hand_checked(sigs) -> None:
    mpx = sigs.get("CTX263807").train_fix(Train("11.1", S))
    assert (mpx.fixed_low.plain, mpx.fixed.plain) == ("11.1-64.11", "11.1-65.10")
    ten5 = sigs.get("CTX249976").train_fix(Train("10.5", S))
    assert ten5.status is FixStatus.UNKNOWN and ten5.confirmed is False
    assert any("10.5" in u for u in sigs.get("CTX249976").unconfirmed)
    c19490 = sigs.get("CVE-2026-19490").cves[0]
    assert c19490.id == "CVE-2026-19490"
    row = c19490.train_fix(Train("14.1", S))
    assert (row.fixed_low.plain, row.fixed.plain, row.confirmed) == ("14.1-73.32", "14.1-73.37", False)
    ga = sigs.get("CTX697096").train_fix(Train("13.1", S))
    assert (ga.fixed.plain, ga.recommended.plain) == ("13.1-64.23", "13.1-64.24")
    assert [b.plain for b in sigs.get("CVE-2026-4368").cves[1].affected_only] == ["14.1-66.54"]
    assert [b.plain for b in sigs.get("CVE-2022-27508").cves[0].affected_only] == ["12.1-64.16"]
    k = next(c for c in sigs.get("CTX697096").cves if c.id == "CVE-2026-88771")
    assert k.kev_added == "2026-09-27" and k.kev_confirmed is False and k.requires == (("any",),)
    assert "kill icaconnection -all" in sigs.get("CTX579459").actions


def test_common_names(sigs) -> None:
    names = {c.id: c.name for a in sigs for c in a.cves if c.name}
    assert names == {"CVE-2019-19781": "Shitrix", "CVE-2023-4966": "CitrixBleed", "CVE-2025-5777": "CitrixBleed 2"}


def test_common_name_reaches_the_assessment(sigs) -> None:
    from nscheck.assess.advisories import assess

    res = assess(sigs, [parse_build("13.1-49.14")])
    bleed = next(r for r in res.advisories if r.id == "CTX579459")
    by_id = {d["id"]: d for d in (c.to_dict() for c in bleed.cve_details)}
    assert by_id["CVE-2023-4966"]["name"] == "CitrixBleed"
    assert "name" not in by_id["CVE-2023-4967"]  # unnamed CVEs carry no empty name


def test_name_must_be_text(sigdir: Path) -> None:
    p = sigdir / "advisories" / "CTX579459.yaml"
    _edit(p, "name: CitrixBleed", "name: [CitrixBleed]")
    (e,) = _errors(sigdir)
    assert e.field == "cves[CVE-2023-4966].name" and e.line == _line_of(p, "name: [CitrixBleed]")


def test_unconfirmed_values_stay_visible(sigs) -> None:
    a = sigs.get("CTX276688")
    assert a.train_fix(Train("12.1", F)).status is FixStatus.UNKNOWN
    assert any("12.1-FIPS" in u for u in a.unconfirmed)
    assert any(not c.cvss_confirmed and c.cvss is None for c in a.cves)


def test_lifecycle(sigs) -> None:
    lc = sigs.lifecycle
    assert lc[Train("13.0", S)].status is TrainStatus.EOL and lc[Train("13.0", S)].eol_at("2024-11-12")
    assert not lc[Train("13.0", S)].eol_at("2024-07-09")
    assert lc[Train("14.1", F)].shares_numbering_with == Train("14.1", S)
    assert lc[Train("14.1", S)].last_fix.plain == "14.1-73.57"
    assert lc[Train("14.1", F)].last_fix == parse_build("14.1-73.58", F)
    assert lc[Train("13.1", F)].build_majors == (37,) and lc[Train("12.1", N)].build_majors == (55,)
    assert sigs.first_row_date(Train("14.1", F)) == "2026-06-30"


def test_importer_output_is_committed() -> None:
    src = ROOT.parent / "shared" / "reference" / "advisories" / "advisories.json"
    if not src.is_file():
        pytest.skip("research input not available")
    r = subprocess.run([sys.executable, str(ROOT / "tools" / "import_advisories.py"), "--check"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr


def test_lint_runs_the_advisory_loader() -> None:
    report = lint(SIGS)
    assert report.counts.get("advisories") == 29
    assert not [e for e in report.errors if "advisories" in e.file or e.file.endswith(("lifecycle.yaml", "manifest.yaml"))]


# -- broken files --------------------------------------------------------------------------------


def test_bad_yaml(sigdir: Path) -> None:
    p = sigdir / "advisories" / "CTX693420.yaml"
    _edit(p, "exploited: true", "exploited: [true")
    errs = _errors(sigdir)
    assert len(errs) == 1
    e = errs[0]
    assert e.file.endswith("CTX693420.yaml") and e.line is not None and "YAML syntax" in e.reason
    assert str(e).startswith(f"{p}:{e.line}: ")


def test_bad_build_string(sigdir: Path) -> None:
    p = sigdir / "advisories" / "CTX693420.yaml"
    _edit(p, "fixed: 14.1-43.56", "fixed: 14.1-43.5x6")
    (e,) = _errors(sigdir)
    assert e.file.endswith("CTX693420.yaml")
    assert e.field == "trains[0][14.1].fixed"
    assert e.line == _line_of(p, "14.1-43.5x6")
    assert "14.1-43.5x6" in e.reason


def test_build_on_the_wrong_train(sigdir: Path) -> None:
    p = sigdir / "advisories" / "CTX693420.yaml"
    _edit(p, "fixed: 14.1-43.56", "fixed: 13.1-43.56")
    (e,) = _errors(sigdir)
    assert e.field.endswith("[14.1].fixed") and "not on train 14.1" in e.reason


def test_missing_sources(sigdir: Path) -> None:
    p = sigdir / "advisories" / "CTX694788.yaml"
    text = p.read_text()
    p.write_text(text[: text.index("sources:")] + text[text.index("unconfirmed:"):])
    (e,) = _errors(sigdir)
    assert e.file.endswith("CTX694788.yaml") and e.field == "sources" and "required" in e.reason
    assert "CTX694788.yaml:1: sources: required field missing" in str(e) or e.line is not None


def test_duplicate_id(sigdir: Path) -> None:
    shutil.copy(sigdir / "advisories" / "CTX694788.yaml", sigdir / "advisories" / "CTX694788.yml")
    (e,) = _errors(sigdir)
    assert e.file.endswith("CTX694788.yml") and e.field == "id" and "duplicate advisory id CTX694788" in e.reason


def test_id_must_match_file_name(sigdir: Path) -> None:
    shutil.copy(sigdir / "advisories" / "CTX694788.yaml", sigdir / "advisories" / "CTX000001.yaml")
    errs = _errors(sigdir)
    assert any(e.file.endswith("CTX000001.yaml") and e.field == "id" and "file name" in e.reason for e in errs)


def test_unknown_field(sigdir: Path) -> None:
    p = sigdir / "advisories" / "CTX694788.yaml"
    _edit(p, "exploited: true", "exploited: true\nseverity: high")
    (e,) = _errors(sigdir)
    assert e.field == "severity" and "unknown field" in e.reason and e.line == _line_of(p, "severity: high")


def test_missing_fixed_row(sigdir: Path) -> None:
    p = sigdir / "advisories" / "CTX694788.yaml"
    _edit(p, "  fixed: 14.1-47.46\n", "")
    (e,) = _errors(sigdir)
    assert e.file.endswith("CTX694788.yaml") and e.field.startswith("trains[0][14.1]")
    assert "fixed build" in e.reason and e.line is not None


def test_unknown_role(sigdir: Path) -> None:
    p = sigdir / "advisories" / "CTX694788.yaml"
    _edit(p, "- [gateway, aaa]", "- [gateway, vpn]")
    (e,) = _errors(sigdir)
    assert e.field == "cves[CVE-2025-6543].requires" and "unknown role 'vpn'" in e.reason


def test_duplicate_key_and_bad_date(sigdir: Path) -> None:
    p = sigdir / "advisories" / "CTX694788.yaml"
    _edit(p, "published: '2025-06-25'", "published: '2025-13-45'")
    (e,) = _errors(sigdir)
    assert e.field == "published" and "not a date" in e.reason
    _edit(p, "published: '2025-13-45'", "published: '2025-06-25'\npublished: '2025-06-26'")
    (e,) = _errors(sigdir)
    assert "duplicate key" in e.reason and e.line == _line_of(p, "2025-06-26")


def test_several_errors_are_all_reported(sigdir: Path) -> None:
    _edit(sigdir / "advisories" / "CTX694788.yaml", "exploited: true", "exploited: maybe")
    _edit(sigdir / "advisories" / "CTX693420.yaml", "fixed: 14.1-43.56", "fixed: nope")
    errs = _errors(sigdir)
    files = {Path(e.file).name for e in errs}
    assert {"CTX694788.yaml", "CTX693420.yaml"} <= files


def test_lifecycle_and_manifest_errors(sigdir: Path) -> None:
    _edit(sigdir / "lifecycle.yaml", "last_fix: 14.1-73.57", "last_fix: 14.1-73")
    _edit(sigdir / "manifest.yaml", "version: 2026.11.13", "version: latest")
    errs = _errors(sigdir)
    assert any(e.file.endswith("lifecycle.yaml") and e.field.endswith("last_fix") for e in errs)
    assert any(e.file.endswith("manifest.yaml") and e.field == "version" for e in errs)


def test_lint_collects_errors_instead_of_raising(sigdir: Path) -> None:
    _edit(sigdir / "advisories" / "CTX694788.yaml", "exploited: true", "exploited: [")
    report = lint(sigdir)
    assert not report.ok
    assert any(e.file.endswith("CTX694788.yaml") for e in report.errors)


def test_published_schemas_are_current() -> None:
    """schemas/advisory*.schema.json are what the loader's models say (regenerate with
    ``python -m nscheck.signatures.advisories schemas``)."""
    import json as _json

    import jsonschema

    from nscheck.signatures.advisories import json_schemas

    for name, text in json_schemas().items():
        path = ROOT / "schemas" / name
        assert path.is_file() and path.read_text(encoding="utf-8") == text, f"{name} is stale"
        jsonschema.Draft202012Validator.check_schema(_json.loads(text))


def test_shipped_bulletins_validate_against_the_published_schema() -> None:
    import json as _json

    import jsonschema
    import yaml

    schema = _json.loads((ROOT / "schemas" / "advisory.schema.json").read_text(encoding="utf-8"))
    for p in sorted((SIGS / "advisories").glob("*.yaml")):
        doc = _json.loads(_json.dumps(yaml.safe_load(p.read_text(encoding="utf-8")), default=str))
        jsonschema.Draft202012Validator(schema).validate(doc)
