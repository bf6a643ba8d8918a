"""Fleet benchmark: nscheck against the raw-client floor, at several fleet sizes.

    python bench/run.py --sizes 500,2000,5000

For each size N: start a lab fleet of N simulated appliances in its own process (per-response
latency, a share of refused ports, a share of accept-and-never-answer hosts), then

1. record:   an untimed scan that writes, per host, every request nscheck sends (the plan);
             it also warms the lab up;
2. scan:     ``python -m nscheck scan`` as a subprocess, full checks, JSONL to files: wall
             time, hosts/s, requests/s, requests per host, peak RSS and CPU of that process;
3. baseline: ``bench/baseline.py``, the same requests per host with a plain httpx.AsyncClient
             at the same concurrency: the floor for this client on this network;
4. aiohttp:  ``bench/aiofloor.py``, the same requests with aiohttp on uvloop: the floor for a
             fast Python client (C parser, libuv loop);
5. raw:      ``bench/rawload.py``, the same requests with hand-written HTTP/1.1 on asyncio
             streams: what the lab itself can serve, so the lab is shown not to be the limit.

The lab's CPU use is read from /proc during each phase. Results go to
``bench/results/<UTC date>.json`` and a table on stdout. Talks to 127.0.0.0/8 only.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import resource
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
PY = sys.executable
CLK = os.sysconf("SC_CLK_TCK")

# The lab command; {n}, {latency}, {silent}, {refused}, {targets}, {python} are filled in.
DEFAULT_LAB_CMD = (
    "{python} -m nscheck lab --hosts {n} --latency-ms {latency} --silent-share {silent} "
    "--refused-share {refused} --write-targets {targets}"
)


# -- processes -----------------------------------------------------------------------------------


def raise_nofile() -> tuple[int, int]:
    """Children inherit it: the lab needs one listening socket per simulated host."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)


def proc_tree_cpu(pid: int) -> float:
    """CPU seconds (user+sys) used so far by ``pid`` and its live descendants."""
    total = 0.0
    children: dict[int, list[int]] = {}
    stats: dict[int, list[str]] = {}
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            raw = (d / "stat").read_text()
        except OSError:
            continue
        fields = raw[raw.rindex(")") + 2:].split()
        p = int(d.name)
        stats[p] = fields
        children.setdefault(int(fields[1]), []).append(p)
    todo = [pid]
    while todo:
        p = todo.pop()
        f = stats.get(p)
        if f is not None:
            total += (int(f[11]) + int(f[12])) / CLK
        todo += children.get(p, [])
    return total


def run_measured(cmd: list[str], *, stdout: Any, stderr: Any, timeout: float, env: dict[str, str] | None = None
                 ) -> dict[str, Any]:
    """Run ``cmd`` to completion: wall time, exit code, peak RSS and CPU of that process alone."""
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=stdout, stderr=stderr, cwd=ROOT, env=env)
    deadline = t0 + timeout
    while True:
        pid, status, ru = os.wait4(p.pid, os.WNOHANG)
        if pid:
            break
        if time.perf_counter() > deadline:
            p.kill()
            pid, status, ru = os.wait4(p.pid, 0)
            break
        time.sleep(0.02)
    wall = time.perf_counter() - t0
    p.returncode = os.waitstatus_to_exitcode(status)
    return {
        "cmd": " ".join(shlex.quote(c) for c in cmd),
        "exit": p.returncode,
        "timed_out": wall >= timeout,
        "wall_s": round(wall, 3),
        "peak_rss_mb": round(ru.ru_maxrss / 1024, 1),
        "cpu_s": round(ru.ru_utime + ru.ru_stime, 2),
    }


class Lab:
    """The fleet in its own process group, started from ``cmd``; ready when the targets file is."""

    def __init__(self, cmd: str, targets: Path, log: Path, expect: int, ready_timeout: float):
        self.targets = targets
        self.log = log.open("wb")
        self.proc = subprocess.Popen(shlex.split(cmd), stdout=self.log, stderr=subprocess.STDOUT, cwd=ROOT,
                                     start_new_session=True)
        deadline = time.monotonic() + ready_timeout
        last = -1
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"lab exited with {self.proc.returncode}; see {log}")
            n = _count_targets(targets)
            if n >= expect and n == last:
                return
            last = n
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"lab not ready after {ready_timeout:g}s ({last} of {expect} targets); see {log}")

    def cpu(self) -> float:
        return proc_tree_cpu(self.proc.pid)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.log.close()


def _count_targets(path: Path) -> int:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return 0
    return sum(1 for ln in text.splitlines() if ln.split("#", 1)[0].strip())


# -- one fleet size ------------------------------------------------------------------------------


def host_records(path: Path) -> dict[str, Any]:
    """Hosts, requests and verdicts from the scan's per-host JSON lines."""
    hosts = reqs = 0
    verdicts: dict[str, int] = {}
    statuses: dict[str, int] = {}
    timeouts: list[tuple[int, int]] = []  # (requests, ms) of hosts that never answered in time
    if path.exists():
        with path.open(encoding="utf-8") as fh:
            for line in fh:
                try:
                    d = json.loads(line)
                except ValueError:
                    continue
                if not isinstance(d, dict) or "requests_sent" not in d:
                    continue
                hosts += 1
                reqs += int(d["requests_sent"])
                if d.get("status") == "unreachable" and "timeout" in str(d.get("error") or "").lower():
                    timeouts.append((int(d["requests_sent"]), int(d.get("duration_ms") or 0)))
                verdicts[d.get("verdict", "?")] = verdicts.get(d.get("verdict", "?"), 0) + 1
                statuses[d.get("status", "?")] = statuses.get(d.get("status", "?"), 0) + 1
    silent = {"hosts": len(timeouts), "requests_max": max((r for r, _ in timeouts), default=0),
              "duration_ms_max": max((ms for _, ms in timeouts), default=0)}
    return {"hosts": hosts, "requests": reqs, "verdicts": verdicts, "statuses": statuses, "silent": silent}


def _rates(m: dict[str, Any], hosts: int, requests: int) -> None:
    w = max(m["wall_s"], 1e-9)
    m["hosts"] = hosts
    m["requests"] = requests
    m["hosts_per_s"] = round(hosts / w, 1)
    m["requests_per_s"] = round(requests / w, 1)
    m["requests_per_host"] = round(requests / hosts, 2) if hosts else 0.0
    m["cpu_util"] = round(m["cpu_s"] / w, 2)


# Timed phases, in the order they run and are shown.
PHASES = ("scan", "baseline", "aiohttp", "raw")


def bench_size(n: int, a: argparse.Namespace, work: Path) -> dict[str, Any]:
    d = work / f"n{n}"
    d.mkdir(parents=True, exist_ok=True)
    targets = d / "targets.txt"
    targets.unlink(missing_ok=True)
    lab_cmd = a.lab_cmd.format(python=shlex.quote(PY), n=n, latency=a.latency_ms, silent=a.silent_share,
                               refused=a.refused_share, targets=shlex.quote(str(targets)))
    out: dict[str, Any] = {"hosts": n, "lab_cmd": lab_cmd}
    t0 = time.perf_counter()
    lab = Lab(lab_cmd, targets, d / "lab.log", n, a.lab_ready_timeout)
    out["lab_start_s"] = round(time.perf_counter() - t0, 2)
    common = ["--concurrency", str(a.concurrency), "--timeout", str(a.timeout)]
    limit = a.phase_timeout
    try:
        plan = d / "plan.jsonl"
        if "record" not in a.skip:
            with (d / "record.out").open("wb") as so, (d / "record.err").open("wb") as se:
                rec = run_measured([PY, str(BENCH / "record.py"), "--targets", str(targets), "--plan", str(plan),
                                    *common], stdout=so, stderr=se, timeout=limit)
            rec.update(_last_json(d / "record.out"))
            out["record"] = rec
            if rec["exit"] != 0:
                raise RuntimeError(f"record pass failed (exit {rec['exit']}); see {d / 'record.err'}")

        # The timed scan: the command a user runs, output streamed to files.
        scan_cmd = [PY, "-m", "nscheck", "scan", "-i", str(targets), "--jsonl", str(d / "ecs.jsonl"),
                    "--format", "jsonl", "--no-progress", "--fail-on", "none",
                    "-c", str(a.concurrency), "--timeout", str(a.timeout), *shlex.split(a.scan_args)]
        c0 = lab.cpu()
        with (d / "hosts.jsonl").open("wb") as so, (d / "scan.err").open("wb") as se:
            scan = run_measured(scan_cmd, stdout=so, stderr=se, timeout=limit)
        scan["lab_cpu_s"] = round(lab.cpu() - c0, 2)
        rec_hosts = host_records(d / "hosts.jsonl")
        _rates(scan, rec_hosts["hosts"], rec_hosts["requests"])
        scan["verdicts"] = rec_hosts["verdicts"]
        scan["statuses"] = rec_hosts["statuses"]
        scan["silent_hosts"] = rec_hosts["silent"]
        scan["ecs_lines"] = _lines(d / "ecs.jsonl")
        out["scan"] = scan

        plan_hosts, plan_reqs = _plan_totals(plan) if plan.exists() else (0, 0)
        for name, script in (("baseline", "baseline.py"), ("aiohttp", "aiofloor.py"), ("raw", "rawload.py")):
            if name in a.skip or not plan.exists():
                continue
            c0 = lab.cpu()
            extra = ["--pool", a.baseline_pool] if name == "baseline" else []
            with (d / f"{name}.out").open("wb") as so, (d / f"{name}.err").open("wb") as se:
                m = run_measured([PY, str(BENCH / script), "--plan", str(plan), *common, *extra], stdout=so,
                                 stderr=se, timeout=limit)
            m["lab_cpu_s"] = round(lab.cpu() - c0, 2)
            m.update({f"client_{k}": v for k, v in _last_json(d / f"{name}.out").items() if k != "wall_s"})
            _rates(m, plan_hosts, plan_reqs)
            out[name] = m
        for name in PHASES:
            if name in out:
                out[name]["lab_cpu_util"] = round(out[name]["lab_cpu_s"] / max(out[name]["wall_s"], 1e-9), 2)
        if "baseline" in out:
            out["overhead"] = round(scan["wall_s"] / max(out["baseline"]["wall_s"], 1e-9), 3)
        if "aiohttp" in out:
            out["overhead_aiohttp"] = round(scan["wall_s"] / max(out["aiohttp"]["wall_s"], 1e-9), 3)
    finally:
        lab.stop()
    if not a.keep:
        for f in ("plan.jsonl", "hosts.jsonl", "ecs.jsonl"):
            (d / f).unlink(missing_ok=True)
    return out


def _plan_totals(path: Path) -> tuple[int, int]:
    sys.path.insert(0, str(BENCH))
    from _plan import plan_totals

    return plan_totals(str(path))


def _last_json(path: Path) -> dict[str, Any]:
    try:
        lines = [ln for ln in path.read_text(encoding="utf-8").splitlines() if ln.startswith("{")]
        return dict(json.loads(lines[-1])) if lines else {}
    except (OSError, ValueError):
        return {}


def _lines(path: Path) -> int:
    if not path.exists():
        return 0
    with path.open("rb") as fh:
        return sum(1 for _ in fh)


# -- report --------------------------------------------------------------------------------------


def verdict(results: list[dict[str, Any]], a: argparse.Namespace) -> dict[str, Any]:
    """Each target of the performance issue, measured (None when not measured)."""
    scans = [r["scan"] for r in results if "scan" in r]
    overheads = [r["overhead"] for r in results if "overhead" in r]
    over_aio = [r["overhead_aiohttp"] for r in results if "overhead_aiohttp" in r]
    rss = [s["peak_rss_mb"] for s in scans]
    big = [r for r in results if r["hosts"] >= 5000 and "scan" in r]
    return {
        # Issue 19: nscheck at most as slow as the httpx replay, at most 1.3x the aiohttp+uvloop one.
        "overhead_max": max(overheads) if overheads else None,
        "overhead_le_1_0": all(o <= 1.0 for o in overheads) if overheads else None,
        "overhead_aiohttp_max": max(over_aio) if over_aio else None,
        "overhead_aiohttp_le_1_3": all(o <= 1.3 for o in over_aio) if over_aio else None,
        "wall_5000_s": big[0]["scan"]["wall_s"] if big else None,
        "wall_5000_lt_60s": (big[0]["scan"]["wall_s"] < 60) if big else None,
        "peak_rss_max_mb": max(rss) if rss else None,
        "peak_rss_lt_250mb": all(x < 250 for x in rss) if rss else None,
        "peak_rss_growth_mb": round(rss[-1] - rss[0], 1) if len(rss) > 1 else None,
        # A host that never answers costs one request and one timeout (plus the host's setup).
        "silent_host_one_timeout": all(
            s["silent_hosts"]["requests_max"] <= 1 and s["silent_hosts"]["duration_ms_max"] < a.timeout * 1000 * 1.5
            for s in scans) if scans else None,
        "lab_cpu_util_max": max((r[p]["lab_cpu_util"] for r in results for p in PHASES if p in r), default=None),
    }


def table(results: list[dict[str, Any]]) -> str:
    cols = ("hosts", "run", "wall s", "hosts/s", "req/s", "req/host", "RSS MB", "CPU s", "lab CPU", "x httpx",
            "x aiohttp")
    rows = []
    for r in results:
        for name in PHASES:
            m = r.get(name)
            if not m:
                continue
            rows.append((str(r["hosts"]), name, f"{m['wall_s']:.1f}", f"{m['hosts_per_s']:.0f}",
                         f"{m['requests_per_s']:.0f}", f"{m['requests_per_host']:.1f}", f"{m['peak_rss_mb']:.0f}",
                         f"{m['cpu_s']:.1f}", f"{m.get('lab_cpu_util', 0):.0%}",
                         f"{r['overhead']:.2f}" if name == "scan" and "overhead" in r else "",
                         f"{r['overhead_aiohttp']:.2f}" if name == "scan" and "overhead_aiohttp" in r else ""))
    widths = [max(len(c), *(len(row[i]) for row in rows)) if rows else len(c) for i, c in enumerate(cols)]
    fmt = "  ".join(f"{{:>{w}}}" for w in widths)
    return "\n".join([fmt.format(*cols), *(fmt.format(*row) for row in rows)])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="nscheck fleet benchmark (loopback only)")
    ap.add_argument("--sizes", default="500,2000,5000", help="comma-separated fleet sizes")
    ap.add_argument("--latency-ms", type=int, default=50, help="lab per-response latency")
    ap.add_argument("--silent-share", type=float, default=0.10, help="share of accept-and-never-answer hosts")
    ap.add_argument("--refused-share", type=float, default=0.05, help="share of refused ports")
    ap.add_argument("--concurrency", type=int, default=100, help="same for nscheck and the baseline")
    ap.add_argument("--timeout", type=float, default=5.0, help="per-request timeout (nscheck default 5)")
    ap.add_argument("--scan-args", default="", help="extra arguments for nscheck scan")
    ap.add_argument("--baseline-pool", choices=("per-host", "shared"), default="per-host",
                    help="baseline.py: one small httpx client per host (default, the faster) or one shared pool")
    ap.add_argument("--lab-cmd", default=DEFAULT_LAB_CMD, help="command that starts the fleet")
    ap.add_argument("--lab-ready-timeout", type=float, default=120.0)
    ap.add_argument("--phase-timeout", type=float, default=600.0, help="kill a phase after this many seconds")
    ap.add_argument("--skip", default="", help="comma-separated phases to skip: record,baseline,aiohttp,raw "
                    "(without record there is no plan, so no replay: scan only)")
    ap.add_argument("--out", default=None, help="results file (default bench/results/<UTC date>.json)")
    ap.add_argument("--work", default=None, help="working directory (default: a temporary one, removed)")
    ap.add_argument("--keep", action="store_true", help="keep plans and scan output in the working directory")
    ap.add_argument("--note", default="", help="free text stored with the results (e.g. machine load)")
    a = ap.parse_args(argv)
    a.skip = {s.strip() for s in a.skip.split(",") if s.strip()}
    sizes = [int(s) for s in a.sizes.split(",") if s.strip()]
    nofile = raise_nofile()
    work = Path(a.work) if a.work else Path(tempfile.mkdtemp(prefix="nscheck-bench-"))
    started = dt.datetime.now(dt.UTC)
    load0 = os.getloadavg()
    results: list[dict[str, Any]] = []
    out = Path(a.out) if a.out else BENCH / "results" / f"{started.date().isoformat()}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        for n in sizes:
            print(f"bench: {n} hosts ...", file=sys.stderr, flush=True)
            results.append(bench_size(n, a, work))
            print(table(results[-1:]), file=sys.stderr, flush=True)
            # Written after every size, so a long run that is stopped keeps what it measured.
            write_results(out, started, load0, nofile, sizes, a, results)
    finally:
        if not a.work and not a.keep:
            shutil.rmtree(work, ignore_errors=True)
    doc = write_results(out, started, load0, nofile, sizes, a, results)
    print(table(results))
    print(json.dumps(doc["targets"]))
    print(f"results: {out}")
    return 0


def write_results(out: Path, started: dt.datetime, load0: tuple[float, float, float], nofile: tuple[int, int],
                  sizes: list[int], a: argparse.Namespace, results: list[dict[str, Any]]) -> dict[str, Any]:
    doc = {
        "schema": "nscheck.bench/1",
        "started": started.isoformat(timespec="seconds").replace("+00:00", "Z"),
        "ended": dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "complete": len(results) == len(sizes),
        "machine": {
            "cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(),
            "loadavg_start": [round(x, 2) for x in load0], "loadavg_end": [round(x, 2) for x in os.getloadavg()],
            "nofile_limit": list(nofile),
        },
        "settings": {
            "sizes": sizes, "latency_ms": a.latency_ms, "silent_share": a.silent_share,
            "refused_share": a.refused_share, "concurrency": a.concurrency, "timeout_s": a.timeout,
            "scan_args": a.scan_args, "baseline_pool": a.baseline_pool,
        },
        "note": a.note,
        "results": results,
        "targets": verdict(results, a),
    }
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    tmp.replace(out)
    return doc


if __name__ == "__main__":
    sys.exit(main())
