"""The exit-code table (README, --help, nscheck/cli/__init__.py), from a running tally."""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
from pathlib import Path

import pytest
from test_report_fixtures import BLEED2, MEDIUM, OLD, UNK, fleet

from nscheck.exitcodes import ExitCode
from nscheck.model import HostResult, findings_of
from nscheck.options import ScanOptions
from nscheck.report import ExitTally, check_signature_age, exit_code

F = fleet()
VULN, CLEAN, FIPS, UNKNOWN, UNREACH, NOT_NS, COMPROMISED, TRIAGE = F


def code(results: list[HostResult], fail_on: str = "high", unknown: bool = False) -> int:
    return exit_code(results, ScanOptions(fail_on=fail_on, fail_on_unknown=unknown))


def only(r: HostResult, *advs) -> HostResult:
    return dataclasses.replace(r, advisories=tuple(advs), indicators=())


MED_ONLY = only(VULN, MEDIUM, OLD)  # one open bulletin, CVSS 5.9 = medium


@pytest.mark.parametrize(("results", "fail_on", "unknown", "expected"), [
    ([CLEAN], "high", False, ExitCode.OK),
    ([CLEAN], "any", True, ExitCode.OK),
    ([VULN], "high", False, ExitCode.FINDINGS),
    ([VULN], "critical", False, ExitCode.FINDINGS),
    ([VULN], "none", False, ExitCode.OK),
    ([MED_ONLY], "high", False, ExitCode.OK),
    ([MED_ONLY], "medium", False, ExitCode.FINDINGS),
    ([MED_ONLY], "low", False, ExitCode.FINDINGS),
    ([MED_ONLY], "any", False, ExitCode.FINDINGS),
    ([MED_ONLY], "critical", False, ExitCode.OK),
    ([COMPROMISED], "critical", False, ExitCode.FINDINGS),  # the indicator hit (critical)
    ([TRIAGE], "high", False, ExitCode.FINDINGS),  # triage hit, severity high
    ([TRIAGE], "critical", False, ExitCode.OK),
    ([UNKNOWN], "high", False, ExitCode.OK),  # unknown bulletins count only with --fail-on-unknown
    ([UNKNOWN], "high", True, ExitCode.FINDINGS),  # ... and then as findings (CVSS 9.3)
    ([UNKNOWN], "none", True, ExitCode.UNKNOWN),  # never fails on findings, but the host is unknown
    ([UNREACH], "high", False, ExitCode.OK),
    ([UNREACH], "high", True, ExitCode.UNKNOWN),
    ([NOT_NS], "any", True, ExitCode.OK),  # "not NetScaler" is an answer, not a blind spot
    ([CLEAN, UNREACH], "high", True, ExitCode.UNKNOWN),
    ([VULN, UNREACH], "high", True, ExitCode.FINDINGS),  # findings win over blind spots
    (F, "high", False, ExitCode.FINDINGS),
    (F, "none", False, ExitCode.OK),
    (F, "none", True, ExitCode.UNKNOWN),
])
def test_exit_code_matrix(results: list[HostResult], fail_on: str, unknown: bool, expected: int) -> None:
    assert code(results, fail_on, unknown) == expected


def suppress_all(r: HostResult) -> HostResult:
    return dataclasses.replace(r, extra={"findings": {f.id: {"suppressed": True} for f in findings_of(r)}})


def test_suppressed_findings_never_count() -> None:
    assert code([suppress_all(VULN)], "any", True) == ExitCode.OK
    assert code([suppress_all(COMPROMISED)], "any") == ExitCode.OK
    # Suppress only the critical bulletin: the medium one still fails --fail-on medium.
    fid = next(f.id for f in findings_of(VULN) if f.rule_id == BLEED2.id)
    part = dataclasses.replace(VULN, extra={"findings": {fid: {"suppressed": True}}})
    assert code([part], "high") == ExitCode.OK and code([part], "medium") == ExitCode.FINDINGS


def test_tally_equals_list_and_keeps_no_results() -> None:
    tally = ExitTally()
    for r in F:
        tally.host(r)
    assert not any(isinstance(v, (list, tuple, HostResult)) for v in vars(tally).values())
    for fail_on in ("critical", "high", "medium", "low", "any", "none"):
        for unknown in (False, True):
            assert exit_code(tally, ScanOptions(fail_on=fail_on, fail_on_unknown=unknown)) == code(F, fail_on, unknown)


def test_unknown_bulletin_severity_is_from_cvss() -> None:
    low_unknown = only(UNKNOWN, dataclasses.replace(UNK, cvss=3.1))
    assert code([low_unknown], "medium", True) == ExitCode.UNKNOWN  # host is unknown, the finding is below medium
    assert code([low_unknown], "low", True) == ExitCode.FINDINGS


def _sigs(tmp_path: Path, date: str | None) -> Path:
    d = tmp_path / "sigs"
    d.mkdir(exist_ok=True)
    (d / "manifest.yaml").write_text("version: x\n" + (f"date: '{date}'\n" if date else ""))
    return d


def test_signature_age(tmp_path: Path) -> None:
    today = dt.date(2026, 11, 23)
    err = io.StringIO()
    assert check_signature_age(_sigs(tmp_path, "2026-11-20"), None, today=today, err=err) is None
    assert err.getvalue() == ""
    assert check_signature_age(_sigs(tmp_path, "2026-10-04"), None, today=today, err=err) is None
    assert "50 days old" in err.getvalue()  # warning always past 30 days
    err = io.StringIO()
    assert check_signature_age(_sigs(tmp_path, "2026-10-04"), 60, today=today, err=err) is None
    assert check_signature_age(_sigs(tmp_path, "2026-10-04"), 49, today=today, err=err) == ExitCode.SIGNATURES_STALE
    assert "--max-signature-age 49" in err.getvalue()
    assert check_signature_age(_sigs(tmp_path, None), 10, today=today, err=io.StringIO()) == ExitCode.SIGNATURES_STALE
    assert check_signature_age(_sigs(tmp_path, None), None, today=today, err=io.StringIO()) is None


def test_bad_fail_on_is_a_usage_error() -> None:
    with pytest.raises(ValueError):
        ExitTally().code("severe")


def test_codes_documented_in_help() -> None:
    from typer.testing import CliRunner

    from nscheck.cli import app

    out = CliRunner().invoke(app, ["scan", "--help"], env={"COLUMNS": "200"}).output
    for n in ("0", "1", "2", "64", "69"):
        assert f"{n} " in out
    assert "--fail-on" in out and "--max-signature-age" in out


def test_open_compromise_assessment_fails_the_run_until_resolved() -> None:
    from nscheck.model import HostResult, HostStatus, ProductInfo
    from nscheck.report.exitcodes import ExitTally

    open_doc = {"id": "x", "kind": "assessment", "rule_id": "compromise-assessment-required:CTX693420",
                "severity": "critical", "transition": "new"}
    t = ExitTally()
    t.host(HostResult(target="gw", status=HostStatus.OK, url="https://gw:443", product=ProductInfo(True),
                      extra={"assessments": [open_doc]}))
    assert t.code("high") == 1
    done = ExitTally()
    done.host(HostResult(target="gw", status=HostStatus.OK, url="https://gw:443", product=ProductInfo(True),
                         extra={"assessments": [{**open_doc, "transition": "resolved"}]}))
    assert done.code("high") == 0


def test_exit_codes_are_one_enum_with_a_meaning_each():
    # The cron contract: these numbers never change meaning (sysexits.h where one fits).
    assert {c.name: int(c) for c in ExitCode} == {
        "OK": 0, "FINDINGS": 1, "UNKNOWN": 2, "USAGE": 64, "DATAERR": 65, "NOINPUT": 66, "SIGNATURES_STALE": 69,
        "SOFTWARE": 70, "CANTCREAT": 73, "DELIVERY": 74, "LOCKED": 75, "SIGINT": 130, "SIGTERM": 143}
    assert all(c.meaning for c in ExitCode)
    assert f"exit {ExitCode.LOCKED}" == "exit 75"  # IntEnum formats as its number in messages
