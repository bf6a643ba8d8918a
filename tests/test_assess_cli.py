"""``nscheck assess BUILD``: JSON contract, table output, roles, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nscheck.cli import app
from nscheck.exitcodes import ExitCode

SIGS = str(Path(__file__).resolve().parent.parent / "signatures")
SHOW_NS_VERSION = "NetScaler NS14.1: Build 43.50.nc, Date: Jun 7 2025, 10:22:30 (64-bit)"


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def _json(runner: CliRunner, *args: str) -> tuple[int, dict]:
    r = runner.invoke(app, ["assess", *args, "--format", "json", "--signatures", SIGS])
    return r.exit_code, json.loads(r.stdout)


def test_done_when_show_ns_version_json(runner: CliRunner) -> None:
    r = runner.invoke(app, ["assess", SHOW_NS_VERSION, "--format", "json"])
    assert r.exit_code == ExitCode.FINDINGS, r.output
    doc = json.loads(r.stdout)
    assert doc["input"] == SHOW_NS_VERSION
    assert [(c["build"], c["edition"]) for c in doc["candidates"]] == [("14.1-43.50", "standard"), ("14.1-43.50", "fips")]
    by_id = {a["id"]: a for a in doc["advisories"]}
    a = by_id["CTX693420"]
    assert a["verdict"] == "vulnerable" and a["fixed_in"] == "14.1-43.56"
    assert a["cves"] == ["CVE-2025-5777", "CVE-2025-5349"]
    later = [x for x in doc["advisories"] if x["published"] > a["published"]]
    assert {x["id"] for x in later} == {"CTX694788", "CTX694938", "CTX695486", "CTX696300", "CTX696604",
                                         "CTX696939", "CTX697096", "CTX697174", "CTX697191", "NSB-2026-11-12"}
    for x in later:
        assert x["verdict"] in ("vulnerable", "unknown", "not_vulnerable") and x["cves"]
        # CTX697191 needs a SAML SP or IdP: unknown roles never make it "not vulnerable".
        assert x["verdict"] == "vulnerable", (x["id"], x["reason"])
        assert x["fixed_in"].startswith("14.1-")
    # 14.1-FIPS needs one build more than mainline for the 2026-11-12 bulletin.
    assert doc["remediation"]["upgrade_to"] == "14.1-73.57 or 14.1-73.58 FIPS"
    assert doc["remediation"]["check_compromise"] is True
    assert doc["verdict"] == "vulnerable"


def test_clean_build_exits_0(runner: CliRunner) -> None:
    code, doc = _json(runner, "14.1-73.57", "--edition", "standard")
    assert code == ExitCode.OK
    assert all(a["verdict"] == "not_vulnerable" for a in doc["advisories"])
    assert doc["remediation"]["upgrade_to"] is None


def test_edition_option(runner: CliRunner) -> None:
    code, doc = _json(runner, "13.1-37.241", "--edition", "fips")
    assert [c["train"] for c in doc["candidates"]] == ["13.1-FIPS"]
    a = next(x for x in doc["advisories"] if x["id"] == "CTX694938")
    assert a["verdict"] == "not_vulnerable" and a["fixed_in"] == "13.1-37.241 FIPS"
    assert code == ExitCode.FINDINGS  # later bulletins still hit 37.241


@pytest.mark.parametrize("bad", ["garbage", "14.1", "99.9-1.1"])
def test_unparseable_build_exits_64_with_one_line(runner: CliRunner, bad: str) -> None:
    r = runner.invoke(app, ["assess", bad, "--signatures", SIGS])
    assert r.exit_code == ExitCode.USAGE
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("nscheck assess: ")
    assert "Traceback" not in r.output


def test_bad_edition_and_format_exit_64(runner: CliRunner) -> None:
    assert runner.invoke(app, ["assess", "14.1-47.46", "--edition", "gold"]).exit_code == ExitCode.USAGE
    assert runner.invoke(app, ["assess", "14.1-47.46", "--format", "xml"]).exit_code == ExitCode.USAGE
    r = runner.invoke(app, ["assess", "14.1-47.46", "--role", "vpn"])
    assert r.exit_code == ExitCode.USAGE and "unknown role 'vpn'" in r.stderr


def test_roles(runner: CliRunner) -> None:
    # Gateway/AAA absent: the Gateway-only bulletin is not vulnerable, with the reason.
    code, doc = _json(runner, "14.1-47.40", "--no-role", "gateway", "--no-role", "aaa")
    assert code == ExitCode.FINDINGS  # other bulletins still apply
    a = next(x for x in doc["advisories"] if x["id"] == "CTX694788")
    assert a["verdict"] == "not_vulnerable" and a["precondition"] == "not_met" and "precondition" in a["reason"]
    assert doc["facts"] == {"aaa": "not_met", "gateway": "not_met"}
    # --only-roles: only the listed roles are present.
    code, doc = _json(runner, "14.1-47.40", "--role", "management", "--only-roles")
    assert code == ExitCode.FINDINGS
    by = {x["id"]: x for x in doc["advisories"]}
    assert by["CTX694788"]["verdict"] == "not_vulnerable"
    assert by["CTX694938"]["verdict"] == "vulnerable"  # CVE-2025-8424: management access
    assert by["CTX697096"]["verdict"] == "vulnerable"  # CVE-2026-88771: every deployment
    assert doc["facts"]["management"] == "met" and doc["facts"]["gateway"] == "not_met"
    r = runner.invoke(app, ["assess", "14.1-47.40", "--role", "aaa", "--no-role", "aaa"])
    assert r.exit_code == ExitCode.USAGE


def test_stdin(runner: CliRunner) -> None:
    r = runner.invoke(app, ["assess", "-", "--format", "json"], input=SHOW_NS_VERSION + "\n")
    assert r.exit_code == ExitCode.FINDINGS and json.loads(r.stdout)["candidates"][0]["build"] == "14.1-43.50"


def test_table_output_without_tty(runner: CliRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    r = runner.invoke(app, ["assess", SHOW_NS_VERSION, "--signatures", SIGS])
    assert r.exit_code == ExitCode.FINDINGS
    out = r.stdout
    assert "\x1b[" not in out
    assert "CTX693420" in out and "14.1-43.56" in out and "vulnerable" in out
    assert "Remediation: upgrade to 14.1-73.57" in out
    assert "CTX579459" not in out  # not vulnerable: hidden without --all
    r2 = runner.invoke(app, ["assess", SHOW_NS_VERSION, "--all", "--signatures", SIGS])
    assert "CTX579459" in r2.stdout


def test_broken_signatures_exit_64_without_traceback(runner: CliRunner, tmp_path: Path) -> None:
    (tmp_path / "advisories").mkdir()
    (tmp_path / "manifest.yaml").write_text("version: [\n")
    r = runner.invoke(app, ["assess", "14.1-47.46", "--signatures", str(tmp_path)])
    assert r.exit_code == ExitCode.USAGE
    assert "manifest.yaml" in r.stderr and "Traceback" not in r.output
