"""``--workers N``: the same outputs as one process, on the lab over loopback; SIGTERM, a worker
killed mid-run, no process left behind. The parent owns every sink; only ``scan_host`` moves."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from nscheck.options import ScanOptions
from nscheck.targets import parse_target
from nscheck.workers import (
    MIN_HOSTS_PER_WORKER,
    WORKER_FLAG,
    _slot,
    resolve_workers,
    usable_cpus,
    worker_pacer,
)

pytestmark = pytest.mark.lab
lab_mod = pytest.importorskip("nscheck.lab")
PY = sys.executable

# What differs between two scans of the same fleet whatever the process layout: clocks, the run
# id, the random names of the soft-404 / catch-all probes, and each run's own output paths.
_VOLATILE_KEYS = {"duration_ms", "started", "ended", "elapsed_ms", "run_id", "created", "@timestamp", "start", "end",
                  "duration"}
_RANDOM = re.compile(r"nscheck-[0-9a-f]{12}")
_CLOCK = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)")
_RUN_DIR = re.compile(r"/w[12]/")  # each run writes its own state file (named in the advice)


def _norm(d: Any) -> Any:
    if isinstance(d, dict):
        return {k: _norm(v) for k, v in d.items() if k not in _VOLATILE_KEYS}
    if isinstance(d, list):
        return [_norm(x) for x in d]
    if isinstance(d, str):
        return _RUN_DIR.sub("/wN/", _CLOCK.sub("TIME", _RANDOM.sub("nscheck-RANDOM", d)))
    return d


def _jsonl_docs(path: Path) -> tuple[Counter[str], int]:
    """Every document of a JSONL file, normalised, as a multiset; and how many are host documents."""
    docs: Counter[str] = Counter()
    hosts = 0
    text = path.read_text()
    for run_id in set(re.findall(r'"run_id": ?"([0-9a-f]{32})"', text)):
        text = text.replace(run_id, "RUN-ID")  # also in vulnerability.report_id
    for line in text.splitlines():
        d = json.loads(line)
        hosts += d["event"]["dataset"] == "nscheck.host"
        d["event"].pop("id")  # derived from the run id
        docs[json.dumps(_norm(d), sort_keys=True)] += 1
    return docs, hosts


def _state_rows(db: Path) -> tuple[Counter[str], list[tuple[Any, ...]]]:
    with sqlite3.connect(db) as c:
        runs = Counter(r[0] for r in c.execute("SELECT status FROM runs"))
        cols = [r[1] for r in c.execute("PRAGMA table_info(findings)")]
        keep = [x for x in cols if x in ("host_key", "finding_id", "status", "rule_id", "kind")]
        rows = sorted(c.execute(f"SELECT {', '.join(keep)} FROM findings").fetchall()) if keep else []
    return runs, rows


@pytest.fixture(scope="module")
def scans(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[int, dict[str, Any]]]:
    """The demo fleet (NITRO hosts read with the lab account included), scanned with 1 and 2
    worker processes, every output on."""
    import contextlib
    import io

    from nscheck.cli import main
    from nscheck.runner import _demo_nitro_credentials

    base = Path(tmp_path_factory.mktemp("workers"))
    out: dict[int, dict[str, Any]] = {}
    with lab_mod.start_lab("demo") as lab:
        creds = _demo_nitro_credentials(base, [t.url for t in lab.targets if t.profile.opt("nitro_demo")])
        for n in (1, 2):
            d = base / f"w{n}"
            d.mkdir()
            args = ["scan", *lab.target_urls, "--workers", str(n), "--format", "json", "--jsonl", str(d / "out.jsonl"),
                    "--output-dir", str(d / "hosts"), "--state", str(d / "state.db"), "--html", str(d / "fleet.html"),
                    "--nitro-credentials", creds, "--timeout", "5", "--host-deadline", "60", "--retries", "0",
                    "-c", "16", "--no-progress"]
            so, se = io.StringIO(), io.StringIO()
            with contextlib.redirect_stdout(so), contextlib.redirect_stderr(se), pytest.raises(SystemExit) as ex:
                main(args)
            out[n] = {"code": ex.value.code, "stdout": so.getvalue(), "stderr": se.getvalue(), "dir": d,
                      "targets": list(lab.target_urls)}
    yield out


def test_same_documents_exit_code_and_state(scans: dict[int, dict[str, Any]]) -> None:
    one, two = scans[1], scans[2]
    assert one["code"] == two["code"] and one["code"] in (0, 1), (one["stderr"], two["stderr"])
    # stdout (--format json): the same host objects, whatever order the workers finished in
    a = {d["target"]: _norm(d) for d in json.loads(one["stdout"])}
    b = {d["target"]: _norm(d) for d in json.loads(two["stdout"])}
    assert set(a) == set(one["targets"]) and a == b
    # NITRO was read in the worker processes, with the credentials they loaded themselves
    assert sum(1 for d in b.values() if (d.get("extra") or {}).get("nitro")) == 2
    # the SIEM file: same host documents, same run document (counts, partial flag, transitions)
    docs_a, hosts_a = _jsonl_docs(one["dir"] / "out.jsonl")
    docs_b, hosts_b = _jsonl_docs(two["dir"] / "out.jsonl")
    assert hosts_a == hosts_b == len(one["targets"])
    assert docs_a == docs_b
    # state: the same run status and the same findings recorded
    assert _state_rows(one["dir"] / "state.db") == _state_rows(two["dir"] / "state.db")
    line = [x for x in one["stderr"].splitlines() if "since the last run" in x]
    assert line and line == [x for x in two["stderr"].splitlines() if "since the last run" in x]


def test_same_per_host_files(scans: dict[int, dict[str, Any]]) -> None:
    da, db = scans[1]["dir"] / "hosts", scans[2]["dir"] / "hosts"
    names = sorted(p.name for p in da.iterdir())
    assert names and names == sorted(p.name for p in db.iterdir())
    for name in names:
        if name.endswith(".json"):
            assert _norm(json.loads((da / name).read_text())) == _norm(json.loads((db / name).read_text())), name
    fleet_a, fleet_b = (scans[n]["dir"] / "fleet.html" for n in (1, 2))
    assert fleet_a.stat().st_size > 0 and fleet_b.stat().st_size > 0


def test_workers_default_and_options(tmp_path: Path) -> None:
    o = ScanOptions()
    free = str(tmp_path / "no-cgroup")  # no container limits
    cpus = usable_cpus(free)
    assert resolve_workers(o.with_(workers=3), 1, free) == 3  # as given
    assert resolve_workers(o.with_(dry_run=True), 100_000, free) == 1
    assert resolve_workers(o, MIN_HOSTS_PER_WORKER - 1, free) == 1  # a short list: not worth a process
    assert resolve_workers(o, 100_000, free) == cpus
    assert resolve_workers(o, None, free) == cpus  # stdin: length unknown


@pytest.mark.parametrize(("files", "cpus", "workers"), [
    ({"cpu.max": "150000 100000\n"}, 2, None),  # cgroup v2: 1.5 CPUs of quota -> 2
    ({"cpu.max": "max 100000\n"}, None, None),  # no quota
    ({"cpu/cpu.cfs_quota_us": "100000\n", "cpu/cpu.cfs_period_us": "100000\n"}, 1, None),  # v1: 1 CPU
    ({"cpu/cpu.cfs_quota_us": "-1\n", "cpu/cpu.cfs_period_us": "100000\n"}, None, None),
    ({"memory.max": str(512 << 20)}, None, 3),  # a 512 MiB pod: 3 workers next to the main process
    ({"memory/memory.limit_in_bytes": "9223372036854771712"}, None, None),  # v1 "unlimited"
    ({"memory.max": str(100 << 20)}, None, 1),
])
def test_container_limits_cap_the_default(tmp_path: Path, files: dict[str, str], cpus: int | None,
                                         workers: int | None) -> None:
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    machine = usable_cpus(str(tmp_path / "none"))
    assert usable_cpus(str(tmp_path)) == (min(machine, cpus) if cpus else machine)
    want = min(machine, cpus or machine, workers or machine)
    assert resolve_workers(ScanOptions(), 100_000, str(tmp_path)) == want


def test_rate_limit_split_stays_one_cap() -> None:
    """--rate-limit 10/s over 3 workers: each worker paces at 10/3 per second, and their slots
    interleave, so the run as a whole starts one request every 0.1 s, never more."""
    import asyncio

    now = [50.0]
    starts: list[float] = []

    async def sleep(d: float) -> None:
        pass

    pacers = [worker_pacer(10.0, 3, i, 50.0, clock=lambda: now[0], sleep=sleep) for i in range(3)]

    async def go() -> None:
        for p in pacers:  # every worker asks for 5 slots at once
            for _ in range(5):
                starts.append(now[0] + await p.acquire())

    asyncio.run(go())
    assert sorted(starts) == [pytest.approx(50.0 + k * 0.1) for k in range(15)]


def test_config_key(tmp_path: Path) -> None:
    from nscheck.config import ConfigError, load

    p = tmp_path / "scan.toml"
    p.write_text("workers = 4\n")
    assert load(p) == {"workers": 4}
    p.write_text("workers = 0\n")
    with pytest.raises(ConfigError, match="workers: must be at least 1"):
        load(p)


def test_help_documents_workers(run_cli: Any) -> None:
    code, out, _ = run_cli(["scan", "--help"])
    assert code == 0 and "--workers" in out


# -- real processes: SIGTERM, a worker killed, nothing left behind ---------------------------------


def _nscheck(*args: str, stdout: Any = subprocess.PIPE) -> subprocess.Popen[str]:
    env = dict(os.environ, NO_COLOR="1", COLUMNS="200")
    return subprocess.Popen([PY, "-m", "nscheck", *args], stdout=stdout, stderr=subprocess.PIPE, text=True, env=env)


def _workers_of(pid: int) -> dict[int, str]:
    """{pid: worker index} of the worker processes of ``pid``."""
    found = {}
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            stat = (d / "stat").read_text()
            cmd = (d / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        ppid = int(stat[stat.rindex(")") + 2:].split()[1])
        if ppid == pid and WORKER_FLAG.encode() in cmd:
            found[int(d.name)] = cmd[cmd.index(WORKER_FLAG.encode()) + 1].decode()
    return found


def _gone(pid: int) -> bool:
    """Neither running nor a zombie: the parent reaped it before it exited."""
    return not Path(f"/proc/{pid}").exists()


@pytest.fixture
def silent_sockets() -> Iterator[list[socket.socket]]:
    """Loopback ports that accept connections (backlog) and never answer."""
    socks = []
    for _ in range(8):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        s.listen(16)
        socks.append(s)
    yield socks
    for s in socks:
        s.close()


def _target_in_slot(urls: list[str], slot: int) -> str:
    for u in urls:
        if _slot(next(iter(parse_target(u))), 2, None) == slot:
            return u
    pytest.skip("no target hashed to that worker")  # 8 ports, p = 1/256


def test_killed_worker_costs_only_its_hosts(tmp_path: Path, silent_sockets: list[socket.socket]) -> None:
    fast = [lab_mod.Profile(f"fast-{i}", build="14.1-43.50", roles=("gateway",)) for i in range(4)]
    jsonl = tmp_path / "out.jsonl"
    with lab_mod.start_lab(fast) as lab:
        silent = _target_in_slot([f"http://127.0.0.1:{s.getsockname()[1]}" for s in silent_sockets], 0)
        late = _target_in_slot(lab.target_urls, 0)  # launched after the kill: a new worker scans it
        others = [u for u in lab.target_urls if u != late]
        # -c 1: the silent host holds the only slot until its worker is killed
        proc = _nscheck("scan", silent, late, *others, "--workers", "2", "-c", "1", "--timeout", "30",
                        "--host-deadline", "60", "--retries", "0", "--no-indicators", "--no-progress",
                        "--jsonl", str(jsonl), "--format", "json")
        seen: dict[int, str] = {}
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and "0" not in seen.values():
                seen.update(_workers_of(proc.pid))
                time.sleep(0.1)
            victim = next(p for p, i in seen.items() if i == "0")
            time.sleep(0.5)
            os.kill(victim, signal.SIGKILL)
            out, err = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert proc.returncode in (0, 1), err
    docs = {d["target"]: d for d in json.loads(out)}
    assert set(docs) == {silent, late, *others}  # the run went on and reported every host
    lost = docs[silent]
    assert lost["status"] == "error" and lost["verdict"] == "unknown"
    assert "worker process 1 was killed by SIGKILL" in lost["error"]
    assert [s["kind"] for s in lost["skipped"]] == ["internal_error"]
    for u in (late, *others):
        assert docs[u]["status"] == "ok" and docs[u]["product"]["is_netscaler"] is True, docs[u]
    assert "worker process 1 was killed by SIGKILL with 1 host(s) in flight" in err and "Traceback" not in err
    lines = [json.loads(line) for line in jsonl.read_text().splitlines()]
    assert sum(d["event"]["dataset"] == "nscheck.host" for d in lines) == len(docs)
    assert lines[-1]["event"]["dataset"] == "nscheck.run"
    assert all(_gone(p) for p in [*seen, *_workers_of(proc.pid)])


def test_sigterm_with_workers_keeps_finished_hosts_and_leaves_no_process(tmp_path: Path) -> None:
    fast = [lab_mod.Profile(f"fast-{i}", build="14.1-43.50", roles=("gateway",)) for i in range(3)]
    slow = [lab_mod.Profile(f"slow-{i}", build="14.1-47.48", roles=("gateway",)) for i in range(4)]
    state, jsonl = tmp_path / "state.db", tmp_path / "out.jsonl"
    with lab_mod.start_lab(fast) as fast_lab, lab_mod.start_lab(slow, latency_ms=4000) as slow_lab:
        fast_keys = {u.split("://")[1] for u in fast_lab.target_urls}
        stdout = (tmp_path / "stdout.jsonl").open("w")
        proc = _nscheck("scan", *fast_lab.target_urls, *slow_lab.target_urls, "--workers", "2", "--state", str(state),
                        "--jsonl", str(jsonl), "--concurrency", "7", "--grace-period", "1", "--host-deadline", "60",
                        "--timeout", "30", "--no-progress", "--format", "jsonl", stdout=stdout)
        seen: dict[int, str] = {}
        try:
            deadline = time.monotonic() + 60
            done: set[str] = set()
            while time.monotonic() < deadline and not fast_keys <= done:
                seen.update(_workers_of(proc.pid))
                with __import__("contextlib").suppress(sqlite3.Error):
                    if state.exists():
                        with sqlite3.connect(state) as c:
                            done = {r[0] for r in c.execute("SELECT host_key FROM observations")}
                time.sleep(0.2)
            assert fast_keys <= done, "fast hosts never finished"
            assert len(seen) == 2
            proc.send_signal(signal.SIGTERM)
            _, err = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            stdout.close()
    assert proc.returncode == 143, err
    assert "Traceback" not in err
    assert all(_gone(p) for p in seen)  # every worker was stopped and reaped
    docs = [json.loads(line) for line in (tmp_path / "stdout.jsonl").read_text().splitlines() if line.strip()]
    assert {d["url"].split("://")[1] for d in docs} == fast_keys
    lines = [json.loads(line) for line in jsonl.read_text().splitlines()]
    hosts = [d for d in lines if d["event"]["dataset"] == "nscheck.host"]
    runs = [d for d in lines if d["event"]["dataset"] == "nscheck.run"]
    assert len(hosts) == len(fast_keys) and runs and '"partial": true' in json.dumps(runs[-1])
    with sqlite3.connect(state) as c:
        assert c.execute("SELECT status FROM runs").fetchall() == [("partial",)]
