"""Issue 12 item 5 at (near) full scale: the hostile triage inputs, with the default budgets.

    python bench/hostile_triage.py [--php N] [--log-lines N] [--sparse N --sparse-size BYTES]

Generates, in a temp dir: a tar.gz of N tiny PHP webshell look-alikes (100,000 in the issue), an
ns.log.0.gz of N identical lines (10 M in a 19 KB file in the issue) and a tar.gz of N sparse
members (50 x 2 GiB in a 704-byte file in the issue); triages each with the default budgets and
prints one JSON line per case: seconds, peak RSS (ru_maxrss), findings, grouped hits, what was cut.
Speed lives here, never in a timed test. Not part of the package."""

from __future__ import annotations

import argparse
import gzip
import json
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

import triage_fixtures as tf  # noqa: E402
from test_triage_budgets import _sparse_member, _tar_gz  # noqa: E402


def _case(name: str, path: Path) -> dict[str, object]:
    code = (
        "import json,resource,sys,time;"
        "from nscheck.paths import signatures_dir;from nscheck.signatures.triage import load;"
        "from nscheck.triage.context import TriageOptions;from nscheck.triage.runner import triage_path;"
        "import datetime as dt;t=time.monotonic();"
        f"r=triage_path({str(path)!r},TriageOptions(collected_at=dt.datetime(2026,11,20,tzinfo=dt.UTC)),load(signatures_dir(None)));"
        "b=r.coverage.budgets or {};"
        "print(json.dumps({'seconds':round(time.monotonic()-t,1),'rss_mb':resource.getrusage(resource.RUSAGE_SELF).ru_maxrss//1024,"
        "'findings':len(r.indicators),'grouped_hits':b.get('grouped_hits'),'read_bytes':b.get('read_bytes'),"
        "'log_lines':(r.coverage.families or {}).get('log',{}).get('lines'),'cut':b.get('cut'),'status':r.status.value}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return {"case": name, "input_bytes": path.stat().st_size, **json.loads(out)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--php", type=int, default=100_000)
    ap.add_argument("--log-lines", type=int, default=10_000_000)
    ap.add_argument("--sparse", type=int, default=50)
    ap.add_argument("--sparse-size", type=int, default=2 * 1024**3)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        if a.log_lines:
            log = gzip.compress(b"x\n" * a.log_lines, 9)
            p = tf.write_tar([*tf.clean_tree(), tf.f("/var/log/ns.log.0.gz", log)], tmp / "log.tar.gz")
            print(json.dumps(_case(f"ns.log.0.gz of {a.log_lines} lines ({len(log)} bytes)", p)), flush=True)
        if a.sparse:
            p = _tar_gz(tmp, tf.clean_tree(), [_sparse_member(f"var/tmp/s{i}.bin", a.sparse_size) for i in range(a.sparse)])
            print(json.dumps(_case(f"{a.sparse} sparse members of {a.sparse_size} bytes", p)), flush=True)
        if a.php:
            dirs = ("/var/netscaler/logon/LogonPoint/uiareas", "/var/vpn/themes/x")
            specs = [*tf.clean_tree(), *[tf.f(f"{dirs[i % 2]}/s{i:06d}.php", tf.WEBSHELL) for i in range(a.php)]]
            p = tf.write_tar(specs, tmp / "php.tar.gz")
            print(json.dumps(_case(f"{a.php} tiny PHP files", p)), flush=True)


if __name__ == "__main__":
    main()
