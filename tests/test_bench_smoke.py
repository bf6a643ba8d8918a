"""The fleet benchmark runs from a checkout with one command (tiny fleet, short timeout).

Not a timed test: it proves the harness works end to end (lab fleet in its own process, the
recorded request plan, the nscheck scan, the httpx baseline, the aiohttp-on-uvloop floor and
the raw loader over the same requests, the results file). The figures themselves are only checked for being consistent.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
RUN = ROOT / "bench" / "run.py"

pytestmark = pytest.mark.skipif(not RUN.exists(), reason="bench/ is not part of this tree (installed wheel)")


@pytest.mark.timeout(90)
def test_bench_harness_runs_on_a_tiny_fleet(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    proc = subprocess.run(
        [sys.executable, str(RUN), "--sizes", "20", "--latency-ms", "5", "--timeout", "1",
         "--silent-share", "0.1", "--refused-share", "0.1", "--concurrency", "10",
         "--out", str(out), "--work", str(tmp_path / "work"), "--note", "smoke test"],
        capture_output=True, text=True, timeout=85, cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert doc["schema"] == "nscheck.bench/1"
    assert doc["settings"]["sizes"] == [20]
    (res,) = doc["results"]
    scan, base, aio, raw = res["scan"], res["baseline"], res["aiohttp"], res["raw"]
    assert scan["exit"] == 0 and base["exit"] == 0 and aio["exit"] == 0 and raw["exit"] == 0
    assert scan["hosts"] == 20  # one JSON line per host, every host accounted for
    statuses = scan["statuses"]
    assert statuses.get("unreachable", 0) >= 4  # 2 refused + 2 silent hosts
    assert statuses.get("ok", 0) >= 10
    # The baseline and the raw loader replay exactly what the scan sent.
    assert res["record"]["requests_recorded"] == res["record"]["requests_sent"] > 20
    assert base["requests"] == aio["requests"] == raw["requests"] == res["record"]["requests_recorded"]
    assert base["client_requests"] == base["requests"] == aio["client_requests"]
    # Both floors got the lab's answers (the silent hosts' requests time out, nothing else fails).
    assert aio["client_answered"] > 0 and aio["client_answered"] == base["client_answered"]
    assert scan["requests_per_host"] > 1
    assert scan["peak_rss_mb"] > 10 and base["peak_rss_mb"] > 10
    assert res["overhead"] == pytest.approx(scan["wall_s"] / base["wall_s"], rel=0.01)
    assert res["overhead_aiohttp"] == pytest.approx(scan["wall_s"] / aio["wall_s"], rel=0.01)
    assert "overhead_aiohttp_le_1_3" in doc["targets"]
    assert "scan" in proc.stdout and "baseline" in proc.stdout and "aiohttp" in proc.stdout  # the printed table
