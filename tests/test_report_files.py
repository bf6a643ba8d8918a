"""Per-host files: names from targets never escape --output-dir or collide; writes are atomic;
each host's JSON is the complete, schema-valid host object."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import jsonschema
import pytest
from test_report_fixtures import RUN, fleet, summary

from nscheck.model import HostResult, HostStatus
from nscheck.paths import schemas_dir
from nscheck.report.files import OutputDirSink, atomic_write, safe_name

HOSTILE = ["../../etc/x", "/etc/passwd", "[::1]:443", "::1", "a" * 5000, ".hidden", "..", ".", "", "a:b", "a_b",
           "a/b", "a\\b", "C:\\x", "https://h/../../x", "x\x00y", "名前.example", "CON", "a b", "-rf"]


@pytest.mark.parametrize("target", HOSTILE)
def test_safe_name_stays_inside(tmp_path: Path, target: str) -> None:
    name = safe_name(target)
    assert name and len(name) <= 100
    assert "/" not in name and "\\" not in name and "\x00" not in name and not name.startswith(".")
    p = (tmp_path / (name + ".json")).resolve()
    assert p.parent == tmp_path.resolve()


def test_names_do_not_collide() -> None:
    names = [safe_name(t) for t in HOSTILE]
    assert len(set(names)) == len(HOSTILE)
    assert safe_name("a" * 5000) != safe_name("a" * 4999)
    assert safe_name("h", "https://h:443") != safe_name("h:443") and safe_name("gw1.example.test") == "gw1.example.test"


def test_output_dir_sink_writes_every_host(tmp_path: Path) -> None:
    out = tmp_path / "out"
    sink = OutputDirSink(str(out))
    sink.open(RUN)
    results = fleet() + [HostResult(target=t, status=HostStatus.UNREACHABLE, error="x") for t in HOSTILE]
    for r in results:
        sink.host(r)
    sink.close(summary(results))
    files = sorted(os.listdir(out))
    assert len(files) == 3 * len(results)  # .json, .md, .html: nothing overwritten, nothing written elsewhere
    assert not list(tmp_path.glob("*.json")) and not any(f.startswith(".") for f in files)
    schemas = {n: json.loads((schemas_dir() / f"{n}.schema.json").read_text()) for n in ("nscheck.host-1", "nscheck.triage-1")}
    for r in results:
        d = json.loads((out / f"{safe_name(r.target, r.url)}.json").read_text())
        assert d == json.loads(json.dumps(r.to_dict()))
        jsonschema.validate(d, schemas["nscheck.triage-1" if r.kind == "triage" else "nscheck.host-1"])
        md = (out / f"{safe_name(r.target, r.url)}.md").read_text()
        assert md.startswith("# nscheck: ") and "Signature set | 2026.10.04 (2026-10-04)" in md


def test_markdown_sections_for_an_exploited_bulletin(tmp_path: Path) -> None:
    sink = OutputDirSink(str(tmp_path))
    sink.open(RUN)
    r = fleet()[0]
    sink.host(r)
    md = (tmp_path / "gw1.example.test.md").read_text()
    for needle in ("**Verdict: vulnerable**", "rdx_en.json.gz", "| CTX693420 | CVE-2025-5777, CVE-2025-5349 | 9.3 critical |",
                   "Upgrade to **14.1-56.73**", "Run `kill icaconnection -all` after upgrading.",
                   "`nscheck triage ARTEFACTS --name gw1.example.test`"):
        assert needle.replace("_", "\\_") in md or needle in md, needle
    # "What to do" comes right after the verdict: the first screen says what to do first.
    assert md.index("## What to do") < md.index("## Open bulletins") < md.index("## The appliance")
    clean = fleet()[1]
    sink.host(clean)
    md2 = (tmp_path / "gw2.example.test.md").read_text()
    assert "nscheck triage" not in md2 and "Nothing to do" in md2


def test_atomic_write_replaces_whole_file_and_leaves_no_temp(tmp_path: Path) -> None:
    p = tmp_path / "d" / "f.json"
    atomic_write(p, "old")
    atomic_write(p, b"new")
    assert p.read_text() == "new"
    assert os.listdir(p.parent) == ["f.json"]


def test_atomic_write_failure_keeps_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    p = tmp_path / "f"
    atomic_write(p, "old")

    def boom(*a: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError):
        atomic_write(p, "new")
    assert p.read_text() == "old" and os.listdir(tmp_path) == ["f"]


def test_unreachable_host_report_says_so(tmp_path: Path) -> None:
    r = dataclasses.replace(fleet()[4])
    sink = OutputDirSink(str(tmp_path))
    sink.open(RUN)
    sink.host(r)
    md = (tmp_path / "gw9.example.test.md").read_text()
    assert "UNREACHABLE" in md and "connect timeout" in md and "Not checked." in md


def test_markdown_marks_transitions_and_suppressions(tmp_path: Path) -> None:
    from nscheck.model import findings_of
    from nscheck.report.markdown import host_markdown

    r = fleet()[0]
    ids = {f.rule_id: f.id for f in findings_of(r)}
    r = dataclasses.replace(r, extra={"findings": {
        ids["CTX693420"]: {"transition": "new", "first_seen": "2026-11-01T02:00:00Z"},
        ids["CTX695486"]: {"transition": "unchanged", "first_seen": "2026-10-01T02:00:00Z", "seen_count": 5,
                           "suppressed": True, "suppression": {"reason": "not exposed", "expires": "2027-01-31"}}}})
    md = host_markdown(r)
    assert "**vulnerable** (new since 2026-11-01T02:00:00Z)" in md
    assert ("**vulnerable** (unchanged, first seen 2026-10-01T02:00:00Z, seen in 5 runs; suppressed: not exposed "
            "(expires 2027-01-31))") in md
