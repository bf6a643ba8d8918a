"""Suppressions file: validation with file:line errors, matching, expiry, exit codes."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from test_state_store import XSS, host

from nscheck.model import findings_of
from nscheck.signatures import SignatureError
from nscheck.state.suppress import format_errors, load, match


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "suppressions.yaml"
    p.write_text(text)
    return p


def test_valid_file_and_matching(tmp_path: Path) -> None:
    rules = load(write(tmp_path, (
        "- host: '*.example.test'\n  id: CTX695486\n  reason: accepted\n"
        "- host: other\n  id: CVE-2025-*\n  reason: r\n  expires: 2025-01-01\n  who: bob\n"
    )))
    assert [r.id for r in rules] == ["CTX695486", "CVE-2025-*"]
    assert rules[1].expires == dt.date(2025, 1, 1) and rules[1].line == 4
    (f,) = findings_of(host("14.1-43.50", vulnerable=(XSS,)))
    m = match(rules, f, dt.date(2026, 1, 1))
    assert m.active is rules[0] and m.expired is None
    # Matched by CVE glob, but only on its host.
    assert match(rules[1:], f, dt.date(2024, 1, 1)).active is None


def test_cve_match_and_expiry(tmp_path: Path) -> None:
    rules = load(write(tmp_path, "- host: gw1.example.test\n  id: cve-2025-12101\n  reason: r\n  expires: '2025-06-30'\n"))
    (f,) = findings_of(host("14.1-43.50", vulnerable=(XSS,)))
    assert match(rules, f, dt.date(2025, 6, 30)).active is rules[0]
    m = match(rules, f, dt.date(2025, 7, 1))
    assert m.active is None and m.expired is rules[0]


@pytest.mark.parametrize(("text", "expected"), [
    ("- host: a\n  id: b\n", "suppressions.yaml:1: reason: required"),
    ("- host: a\n  id: b\n  reason: c\n  expire: 2025-01-01\n", "suppressions.yaml:4: expire: unknown key"),
    ("- host: a\n  id: b\n  reason: c\n  expires: next week\n", "suppressions.yaml:4: expires: not a date"),
    ("host: a\n", "expected a list of suppressions"),
    ("- host: a\n  id: b\n  reason: c\n  reason: d\n", "duplicate key"),
    ("- [a, b\n", "YAML syntax"),
])
def test_errors_name_file_line_field(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises((SignatureError, ExceptionGroup)) as e:
        load(write(tmp_path, text))
    assert expected in format_errors(e.value)


def test_every_problem_reported(tmp_path: Path) -> None:
    with pytest.raises(ExceptionGroup) as e:
        load(write(tmp_path, "- host: a\n- id: b\n  reason: c\n"))
    msgs = format_errors(e.value).splitlines()
    assert len(msgs) == 3 and all("suppressions.yaml" in m for m in msgs)


def test_scan_with_bad_suppressions_exits_64(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from nscheck.cli import main

    bad = write(tmp_path, "- host: a\n  id: b\n")
    lock = tmp_path / "l.lock"
    with pytest.raises(SystemExit) as e:
        main(["scan", "127.0.0.1:9", "--suppressions", str(bad), "--lock", str(lock), "--state", str(tmp_path / "s.db")])
    assert e.value.code == 64
    err = capsys.readouterr().err
    assert "suppressions.yaml:1: reason: required" in err
    assert not (tmp_path / "s.db").exists()  # nothing was started
