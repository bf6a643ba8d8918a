"""Golden tests: every format rendered from the fixed fleet must match tests/golden/ byte for byte.

Regenerate after an intended change with:
    NSCHECK_UPDATE_GOLDEN=1 /work/venv/bin/pytest -q tests/test_report_golden.py
then review the diff of tests/golden/ like code.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from test_report_fixtures import OBSERVER, RUN, fleet, summary

from nscheck.report import render
from nscheck.report.markdown import host_markdown

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("NSCHECK_UPDATE_GOLDEN") == "1"


def check(name: str, text: str) -> None:
    path = GOLDEN / name
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return
    assert path.exists(), f"missing golden file {path}; run with NSCHECK_UPDATE_GOLDEN=1 to create it"
    expected = path.read_text(encoding="utf-8")
    assert text == expected, f"{name} differs from its golden file (NSCHECK_UPDATE_GOLDEN=1 to accept)"


@pytest.mark.parametrize(("fmt", "name"), [("table", "fleet.table.txt"), ("md", "fleet.md"), ("csv", "fleet.csv"),
                                           ("html", "fleet.html"), ("json", "fleet.json"), ("jsonl", "fleet.jsonl")])
def test_format_matches_golden(fmt: str, name: str) -> None:
    results = fleet()
    buf = io.StringIO()
    render(results, fmt, buf, run=RUN, summary=summary(results), observer_hostname=OBSERVER, color=False)
    check(name, buf.getvalue())


@pytest.mark.parametrize("index", range(len(fleet())))
def test_host_markdown_matches_golden(index: int) -> None:
    from nscheck.report.files import safe_name

    r = fleet()[index]
    check(f"hosts/{safe_name(r.target, r.url)}.md", host_markdown(r, signatures="2026.10.04 (2026-10-04)"))
