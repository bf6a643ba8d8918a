"""Issue 12 item 5: a planted archive cannot make triage read 100 GiB, run for hours, or emit
200,000 findings. The inputs are the issue's, scaled down, with budgets set small by options
(the defaults are --max-read 32G, --max-time 1800, --max-findings 2000, --group-after 5)."""

from __future__ import annotations

import gzip
import io
import json
import tarfile
import tracemalloc
from pathlib import Path

import pytest
import triage_fixtures as tf
from typer.testing import CliRunner

from nscheck.cli import app
from nscheck.paths import signatures_dir
from nscheck.signatures.triage import load
from nscheck.triage.context import TriageOptions
from nscheck.triage.runner import triage_path

SHELL = "/var/netscaler/logon/LogonPoint/uiareas/linux/adminupevents.php"
MiB = 1024 * 1024


@pytest.fixture(scope="module")
def rules():  # type: ignore[no-untyped-def]
    return load(signatures_dir(None))


def _sparse_member(name: str, realsize: int) -> bytes:
    """An old-GNU sparse member ('S'): ``realsize`` bytes on extraction, 512 stored (one data
    block at the end, holes before it): a few bytes in the archive, gigabytes to read."""
    ti = tarfile.TarInfo(name)
    ti.size, ti.mode, ti.mtime = 512, 0o644, int(tf.OLD)
    hdr = bytearray(ti.tobuf(format=tarfile.GNU_FORMAT))
    hdr[156:157] = tarfile.GNUTYPE_SPARSE
    hdr[386:398] = b"%011o\0" % (realsize - 512)
    hdr[398:410] = b"%011o\0" % 512
    hdr[482:483] = b"\0"
    hdr[483:495] = b"%011o\0" % realsize
    hdr[148:156] = b" " * 8
    hdr[148:156] = b"%06o\0 " % sum(hdr)
    return bytes(hdr) + b"Z" * 512


def _tar_gz(tmp: Path, specs: list[tf.Spec], extra: list[bytes], name: str = "a.tar.gz") -> Path:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as t:
        for s in specs:
            ti = tarfile.TarInfo(s.path.lstrip("/"))
            ti.size, ti.mode, ti.mtime = len(s.data), s.mode, int(s.mtime)
            t.addfile(ti, io.BytesIO(s.data))
    raw = buf.getvalue().rstrip(b"\0")
    raw = raw + b"\0" * (-len(raw) % 512) + b"".join(extra) + b"\0" * 1024
    p = tmp / name
    p.write_bytes(gzip.compress(raw))
    return p


def test_sparse_members_stop_at_the_read_budget(tmp_path: Path, rules) -> None:  # type: ignore[no-untyped-def]
    specs = [*tf.clean_tree(), tf.f(SHELL, tf.WEBSHELL, mtime=tf.RECENT)]
    sparse = [_sparse_member(f"var/tmp/huge{i:02d}.bin", 64 * MiB) for i in range(50)]  # 3.2 GiB to read
    p = _tar_gz(tmp_path, specs, sparse)
    assert p.stat().st_size < 64 * 1024  # the whole archive is tiny
    r = triage_path(str(p), TriageOptions(collected_at=tf.COLLECTED, max_read_bytes=16 * MiB), rules)
    b = r.coverage.budgets
    assert b["read_bytes"] <= 16 * MiB + 64 * 1024
    assert b["files_not_read"] >= 45 and any("read budget" in c for c in b["cut"])
    assert r.status.value == "error" and "cut short" in (r.error or "")  # never a clean triage
    assert r.coverage.summary.startswith("CUT SHORT")
    assert any(i.path == SHELL for i in r.indicators)  # what was read before the cut still counts
    assert r.verdict.value == "compromised"


def test_log_bomb_is_stopped_by_its_ratio(tmp_path: Path, rules) -> None:  # type: ignore[no-untyped-def]
    lines = b"x\n" * 1_000_000  # 1 M lines in a ~2 KB gzip (the 19 KB / 10 M-line ns.log.0.gz, scaled)
    specs = [*tf.clean_tree(), tf.f("/var/log/ns.log.0.gz", gzip.compress(lines, 9))]
    p = tf.write_tar(specs, tmp_path / "bomb.tar.gz")
    r = triage_path(str(p), TriageOptions(collected_at=tf.COLLECTED), rules)
    why = [u["reason"] for u in r.coverage.unreadable if u["path"] == "/var/log/ns.log.0.gz"]
    assert why and "inflates more than" in why[0]
    assert r.coverage.families["log"]["lines"] < 50_000
    # the lines after the flood were not examined: said, and never a clean triage
    assert any("inflates more than" in c for c in r.coverage.budgets["cut"])
    assert r.status.value == "error" and r.verdict.value == "unknown"


def test_time_budget_cuts_and_says_so(tmp_path: Path, rules) -> None:  # type: ignore[no-untyped-def]
    specs = [*tf.clean_tree(), *tf.clean_logs(), tf.f("/var/log/ns.log", b"Nov 20 09:00:00 <local0.info> x\n" * 50_000)]
    p = tf.write_tar(specs, tmp_path / "slow.tar.gz")
    r = triage_path(str(p), TriageOptions(collected_at=tf.COLLECTED, max_seconds=0.001), rules)
    b = r.coverage.budgets
    assert any("time budget" in c for c in b["cut"]), b
    assert r.status.value == "error" and r.verdict.value == "unknown"


def _php_flood(n: int) -> list[tf.Spec]:
    dirs = ("/var/netscaler/logon/LogonPoint/uiareas", "/var/vpn/themes/x")
    return [*tf.clean_tree(), *[tf.f(f"{dirs[i % 2]}/s{i:06d}.php", tf.WEBSHELL, mtime=tf.RECENT) for i in range(n)]]


def test_many_tiny_php_files_become_grouped_bounded_findings(tmp_path: Path, rules) -> None:  # type: ignore[no-untyped-def]
    n = 400  # the 100,000-file case, scaled down
    p = tf.write_tar(_php_flood(n), tmp_path / "flood.tar.gz")
    r = triage_path(str(p), TriageOptions(collected_at=tf.COLLECTED, group_after=3), rules)
    per_rule: dict[str, int] = {}
    for i in r.indicators:
        per_rule[i.id] = per_rule.get(i.id, 0) + (i.file or {}).get("grouped_hits", 1) if i.path and (
            i.path.startswith(("/var/netscaler/logon/LogonPoint/uiareas/", "/var/vpn/themes/x/"))) else 0
    grouped = [i for i in r.indicators if (i.file or {}).get("grouped_hits")]
    assert grouped and all(i.path and i.path.endswith("/") and "more hit(s)" in i.evidence for i in grouped)
    # every planted file is still counted: listed one by one (3 per directory) plus the group's count
    assert per_rule.get("NL-IMG-webshell-strings") == n
    assert len(r.indicators) < 100
    assert r.coverage.budgets["grouped_hits"] > 0 and not r.coverage.budgets["cut"]


def test_findings_budget_and_jsonl_stay_bounded(tmp_path: Path) -> None:
    p = tf.write_tar(_php_flood(120), tmp_path / "flood.tar.gz")
    out = tmp_path / "t.jsonl"
    res = CliRunner().invoke(app, ["triage", str(p), "-f", "json", "--collected-at", "2026-11-20T12:00:00Z",
                                   "--group-after", "1000", "--max-findings", "25", "--jsonl", str(out)])
    assert res.exit_code == 1, res.output
    doc = json.loads(res.stdout)
    assert len(doc["indicators"]) <= 25
    b = doc["coverage"]["budgets"]
    assert sum(b["findings_dropped"].values()) > 0 and any("--max-findings" in c for c in b["cut"])
    assert doc["status"] == "ok"  # hits were found and counted: a findings cap is not an unread input
    docs = [json.loads(ln) for ln in out.read_text().splitlines()]
    assert sum(1 for d in docs if d.get("rule", {}).get("ruleset") == "triage") <= 25


def test_memory_does_not_grow_with_the_number_of_hits(tmp_path: Path, rules) -> None:  # type: ignore[no-untyped-def]
    small = tf.write_tar(_php_flood(100), tmp_path / "s.tar.gz")
    big = tf.write_tar(_php_flood(400), tmp_path / "b.tar.gz")
    peaks = []
    for p in (small, big):
        tracemalloc.start()
        r = triage_path(str(p), TriageOptions(collected_at=tf.COLLECTED), rules)
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
        assert len(r.indicators) < 150
    assert peaks[1] < peaks[0] * 2 + 2_000_000, peaks


def test_budget_flags_reach_the_options(tmp_path: Path) -> None:
    p = tf.write_tar(tf.clean_tree(), tmp_path / "c.tar.gz")
    res = CliRunner().invoke(app, ["triage", str(p), "-f", "json", "--max-read", "1K", "--max-time", "600",
                                   "--collected-at", "2026-11-20T12:00:00Z"])
    doc = json.loads(res.stdout)
    assert doc["coverage"]["budgets"]["max_read_bytes"] == 1024 and doc["coverage"]["budgets"]["max_seconds"] == 600
    assert doc["status"] == "error"
    bad = CliRunner().invoke(app, ["triage", str(p), "--max-read", "lots"])
    assert bad.exit_code != 0 and "--max-read" in bad.output



def test_table_says_what_was_cut(tmp_path: Path) -> None:
    p = tf.write_tar(tf.clean_tree(), tmp_path / "c.tar.gz")
    res = CliRunner().invoke(app, ["triage", str(p), "--max-read", "1K", "--collected-at", "2026-11-20T12:00:00Z"])
    assert "CUT SHORT: the read budget" in res.stdout, res.stdout
