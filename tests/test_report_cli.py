"""``nscheck report``: re-render saved results (JSONL shards, --output-dir) without rescanning."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pytest
from test_report_fixtures import OBSERVER, RUN, fleet, summary

from nscheck.cli import main
from nscheck.options import ScanOptions
from nscheck.report import build_sinks, render
from nscheck.report.files import safe_name


def run_cli(argv: list[str]) -> int:
    with pytest.raises(SystemExit) as e:
        main(argv)
    return int(e.value.code or 0)


@pytest.fixture
def saved(tmp_path: Path) -> Path:
    results = fleet()
    for n, part in enumerate((results[:4], results[4:]), 1):
        buf = io.StringIO()
        render(part, "jsonl", buf, run=RUN, summary=summary(part), observer_hostname=OBSERVER)
        (tmp_path / f"shard{n}.jsonl").write_text(buf.getvalue())
    opts = ScanOptions(output_dir=str(tmp_path / "out"), no_progress=True)
    sinks = build_sinks(opts)
    for s in sinks:
        s.open(RUN)
        for r in results:
            s.host(r)
        s.close(summary(results))
    return tmp_path


@pytest.mark.parametrize("fmt", ["table", "md", "csv", "html", "json", "jsonl"])
def test_every_format_from_shards(saved: Path, fmt: str, capsys: pytest.CaptureFixture[str]) -> None:
    out = saved / f"r.{fmt}"
    assert run_cli(["report", str(saved / "shard1.jsonl"), str(saved / "shard2.jsonl"), "-f", fmt, "-o", str(out)]) == 0
    text = out.read_text()
    for r in fleet():
        if r.target.replace(".", "").replace("-", "").isalnum():  # names no format escapes
            assert r.target in text, (fmt, r.target)


def test_json_roundtrip_from_jsonl_and_from_output_dir(saved: Path, capsys: pytest.CaptureFixture[str]) -> None:
    want = [r.to_dict() for r in fleet()]
    assert run_cli(["report", str(saved / "shard1.jsonl"), str(saved / "shard2.jsonl"), "-f", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == want
    assert run_cli(["report", str(saved / "out"), "-f", "json"]) == 0
    by_target = {d["target"]: d for d in json.loads(capsys.readouterr().out)}
    assert by_target == {d["target"]: d for d in want}


def test_csv_keeps_every_host(saved: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(["report", str(saved / "out"), "-f", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert {r["target"] for r in rows} == {r.target for r in fleet()}
    assert {r["row"] for r in rows} == {"bulletin", "indicator", "host"}


def test_bad_input_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"event": {"dataset": "nscheck.run"}}\nnot json\n')
    assert run_cli(["report", str(bad)]) == 64
    assert f"{bad}:2: not JSON" in capsys.readouterr().err
    assert run_cli(["report", str(tmp_path / "missing.jsonl")]) == 66  # EX_NOINPUT
    assert run_cli(["report", str(bad), "-f", "pdf"]) == 64


def test_html_from_output_dir_links_to_the_reports(saved: Path) -> None:
    page = saved / "site" / "fleet.html"
    assert run_cli(["report", str(saved / "out"), "-f", "html", "-o", str(page)]) == 0
    text = page.read_text()
    # Every host row: its page (the host name), page, md and json; urgent hosts again in "Act now".
    for r in fleet():
        stem = "../out/" + safe_name(r.target, r.url)
        assert all(f'href="{stem}{ext}"' in text for ext in (".html", ".md", ".json")), r.target
    assert all((page.parent / h).resolve().is_file() for h in re.findall(r'href="([^"]+)"', text))
    assert (page.parent / "../out/gw1.example.test.md").resolve().is_file() and 'href="../out/gw1.example.test.md"' in text
