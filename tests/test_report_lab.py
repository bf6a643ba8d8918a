"""End to end on the built-in lab: one scan writes every artefact, the JSONL validates, the page
renders in Chromium (when installed), and exit codes follow the table."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import jsonschema
import pytest

from nscheck.cli import main
from nscheck.lab import preset, start_lab
from nscheck.lab.profiles import Profile
from nscheck.paths import schemas_dir
from nscheck.report.files import safe_name

pytestmark = pytest.mark.lab


@pytest.fixture(scope="module")
def lab() -> Iterator[dict[str, str]]:
    # The demo's own compromised host is left out: this fixture's one is the only source of alerts.
    profiles = [*(p for p in preset("demo") if not p.options.get("compromised")), Profile(name="gw-compromised", kind="netscaler", build="14.1-43.50",
                                         roles=("gateway",), options={"compromised": True})]
    with start_lab(profiles) as running:
        yield {t.name: t.url for t in running.targets}


def scan(argv: list[str]) -> int:
    with pytest.raises(SystemExit) as e:
        main(["scan", "--no-progress", "--timeout", "5", *argv])
    return int(e.value.code or 0)


def test_every_artefact(lab: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out, jsonl, csv_path, html = tmp_path / "hosts", tmp_path / "scan.jsonl", tmp_path / "scan.csv", tmp_path / "fleet.html"
    urls = list(lab.values())
    rc = scan([*urls, "--output-dir", str(out), "--jsonl", str(jsonl), "--csv", str(csv_path), "--html", str(html)])
    assert rc == 1  # critical bulletins open, and an indicator hit
    table = capsys.readouterr().out
    assert "vulnerable" in table and "compromised" in table

    schemas = {p.name.removesuffix(".schema.json"): json.loads(p.read_text()) for p in schemas_dir().glob("*.json")}
    docs = [json.loads(line) for line in jsonl.read_text().splitlines()]
    for d in docs:
        jsonschema.validate(d, schemas[d["event"]["dataset"]])
    hosts = [d for d in docs if d["event"]["dataset"] == "nscheck.host"]
    assert len(hosts) == len(urls) and docs[-1]["event"]["dataset"] == "nscheck.run"
    assert docs[-1]["nscheck"]["signature_set"]["version"]
    alerts = [d for d in docs if d["event"]["dataset"] == "nscheck.finding" and d["event"]["kind"] == "alert"]
    # Only the profiles planted with indicators raise alerts (the demo preset has one of its own).
    planted = {url for name, url in lab.items() if "compromised" in name}
    assert alerts and {d["nscheck"]["target"] for d in alerts} <= planted and lab["gw-compromised"] in planted

    for u in urls:
        d = json.loads((out / f"{safe_name(u, u)}.json").read_text())
        jsonschema.validate(d, schemas["nscheck.host-1"])
        assert (out / f"{safe_name(u, u)}.md").read_text().startswith("# nscheck: ")
    with csv_path.open() as fh:
        assert {r["target"] for r in csv.DictReader(fh)} == set(urls)
    page = html.read_text()
    assert page.count('<tr data-verdict=') == len(urls) and "../" not in page and 'href="hosts/' in page

    chromium = shutil.which("chromium")
    if chromium:
        dom = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                              "--disable-component-update", "--disable-sync", "--no-first-run",
                              f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom", html.as_uri()],
                             capture_output=True, text=True, timeout=60)
        assert dom.returncode == 0 and dom.stdout.count("<tr data-verdict=") == len(urls)


def test_exit_codes_on_the_lab(lab: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    assert scan([lab["plain-nginx"], "--fail-on-unknown"]) == 0
    assert scan([lab["unreachable"], "--fail-on", "none", "--fail-on-unknown"]) == 2
    assert scan([lab["gw-14.1-43.50"], "--fail-on", "none"]) == 0
    assert scan([lab["gw-14.1-43.50"], "--max-signature-age", "1"]) == 69
    assert "older than --max-signature-age" in capsys.readouterr().err
    assert scan([lab["gw-14.1-43.50"], "--fail-on", "severe"]) == 64


def test_jsonl_on_stdout_is_pure(lab: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    assert scan([lab["gw-13.1-58.21"], lab["plain-nginx"], "--jsonl", "-"]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert [json.loads(x)["event"]["dataset"] for x in lines][-1] == "nscheck.run"


def test_state_transitions_reach_the_jsonl(lab: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    schemas = {p.name.removesuffix(".schema.json"): json.loads(p.read_text()) for p in schemas_dir().glob("*.json")}
    state = tmp_path / "state.db"
    actions = []
    for n in (1, 2):
        out = tmp_path / f"run{n}.jsonl"
        assert scan([lab["gw-14.1-43.50"], "--state", str(state), "--jsonl", str(out), "--quiet"]) == 1
        docs = [json.loads(x) for x in out.read_text().splitlines()]
        for d in docs:
            jsonschema.validate(d, schemas[d["event"]["dataset"]])
        adv = [d for d in docs if d["event"]["dataset"] == "nscheck.finding" and d["nscheck"]["kind"] == "advisory"]
        assert adv and all(d["nscheck"].get("first_seen") for d in adv)
        actions.append({d["event"]["action"] for d in adv})
    assert actions == [{"vulnerability-detected"}, {"vulnerability-still-present"}]


def test_state_summary_line_in_table_mode(lab: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`scan --state` in table mode: the table gets a "since last run" column and the run's
    transitions are printed once, on stderr, in the words of nscheck.state.summary_line."""
    state, out = tmp_path / "state.db", tmp_path / "hosts"
    target = lab["gw-14.1-43.50"]
    assert scan([target, "--state", str(state)]) == 1
    first = capsys.readouterr()
    assert "since last run" in first.out and "new" in first.out
    (line,) = [x for x in first.err.splitlines() if "since the last run" in x]
    assert line.startswith("nscheck: since the last run: ") and " new" in line and "unchanged" not in line
    assert scan([target, "--state", str(state), "--output-dir", str(out)]) == 1
    second = capsys.readouterr()
    (line,) = [x for x in second.err.splitlines() if "since the last run" in x]
    assert " unchanged" in line and " new" not in line
    assert "since the last run:" not in second.out  # once, not twice
    md = (out / f"{safe_name(target, target)}.md").read_text()
    assert "## Changes since the last run" in md and "unchanged, first seen" in md
