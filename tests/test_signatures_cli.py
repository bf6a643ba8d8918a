"""``nscheck signatures lint|list|info|roles``."""

from __future__ import annotations

import shutil
from pathlib import Path

from typer.testing import CliRunner

from nscheck.cli import app
from nscheck.exitcodes import ExitCode

SIGS = Path(__file__).resolve().parent.parent / "signatures"
runner = CliRunner()


def test_lint_shipped_set() -> None:
    r = runner.invoke(app, ["signatures", "lint", str(SIGS)])
    own = [ln for ln in r.stderr.splitlines()
           if "/advisories/" in ln or "lifecycle.yaml" in ln or "manifest.yaml" in ln]
    assert own == []
    # Other rule kinds (fingerprints, indicators, triage) are linted by the same command.
    if r.exit_code == ExitCode.OK:
        assert "advisories: 29" in r.stdout
    else:
        assert r.exit_code == ExitCode.FINDINGS and "error(s)" in r.stderr


def test_lint_broken_set_prints_file_line_field_reason(tmp_path: Path) -> None:
    d = tmp_path / "s"
    shutil.copytree(SIGS, d)
    p = d / "advisories" / "CTX694788.yaml"
    p.write_text(p.read_text().replace("fixed: 14.1-47.46", "fixed: 14.1-47.x"))
    r = runner.invoke(app, ["signatures", "lint", str(d)])
    assert r.exit_code == ExitCode.FINDINGS
    line = next(ln for ln in r.stderr.splitlines() if "CTX694788.yaml" in ln)
    lineno = next(i for i, t in enumerate(p.read_text().splitlines(), 1) if "14.1-47.x" in t)
    assert line.startswith(f"{p}:{lineno}: trains[0][14.1].fixed: ")
    assert "Traceback" not in r.output


def test_lint_signatures_option_and_missing_dir(tmp_path: Path) -> None:
    r = runner.invoke(app, ["signatures", "lint", "--signatures", str(tmp_path / "nope")])
    assert r.exit_code == ExitCode.FINDINGS and "not a directory" in r.stderr


def test_list() -> None:
    r = runner.invoke(app, ["signatures", "list", "--signatures", str(SIGS)])
    assert r.exit_code == ExitCode.OK
    out = r.stdout
    for ctx in ("CTX249976", "CTX693420", "CTX697174", "CTX697191", "NSB-2026-11-12"):
        assert ctx in out
    assert "29 bulletins" in out and "2026.11.13" in out


def test_info_by_ctx_and_cve() -> None:
    r = runner.invoke(app, ["signatures", "info", "CTX693420", "--signatures", str(SIGS)])
    assert r.exit_code == ExitCode.OK
    out = r.stdout
    assert "CVE-2025-5777" in out and "9.3" in out and "KEV added: 2025-07-10" in out
    assert "13.1-FIPS" in out and "13.1-37.235 FIPS" in out and "kill icaconnection -all" in out
    r2 = runner.invoke(app, ["signatures", "info", "cve-2026-19490", "--signatures", str(SIGS)])
    assert r2.exit_code == ExitCode.OK and "CTX696939" in r2.stdout and "safe floor" in r2.stdout
    r4 = runner.invoke(app, ["signatures", "info", "CVE-2026-107406", "--signatures", str(SIGS)])
    assert r4.exit_code == ExitCode.OK and "CTX697191" in r4.stdout
    assert "from 14.1-73.37, 14.1-73.37 FIPS, 13.1-64.23, 13.1-37.279 FIPS, 13.1-37.279 NDcPP on" in r4.stdout
    assert "[roles: (saml_idp)]" in r4.stdout and "[roles: (saml_sp or saml_idp)]" in r4.stdout
    r3 = runner.invoke(app, ["signatures", "info", "CTX1", "--signatures", str(SIGS)])
    assert r3.exit_code == ExitCode.USAGE


def test_roles() -> None:
    r = runner.invoke(app, ["signatures", "roles", "--signatures", str(SIGS)])
    assert r.exit_code == ExitCode.OK and "gateway" in r.stdout and "saml_idp" in r.stdout
