"""Cron safety with real processes: the lock, SIGTERM in the middle of a scan."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from nscheck.state.lock import LockBusy, RunLock

PY = sys.executable


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A loopback port that accepts connections (backlog) and never answers."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(64)
    yield s.getsockname()[1]
    s.close()


def nscheck(*args: str, stdout: object = subprocess.PIPE) -> subprocess.Popen[str]:
    env = dict(os.environ, NO_COLOR="1", COLUMNS="200")
    return subprocess.Popen([PY, "-m", "nscheck", *args], stdout=stdout, stderr=subprocess.PIPE,  # type: ignore[call-overload]
                            text=True, env=env)


def test_lock_is_exclusive_across_processes(tmp_path: Path) -> None:
    lock = tmp_path / "run.lock"
    holder = subprocess.Popen([PY, "-c", f"from nscheck.state.lock import RunLock; import time; "
                               f"RunLock({str(lock)!r}).acquire(); print('locked', flush=True); time.sleep(30)"],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        with pytest.raises(LockBusy, match=f"pid {holder.pid}"):
            RunLock(lock).acquire()
    finally:
        holder.kill()
        holder.wait()
    # The kernel drops the lock with the process: no stale lock.
    with RunLock(lock):
        pass


def test_second_run_exits_75_and_sigterm_marks_partial(tmp_path: Path, silent_port: int) -> None:
    lock, state = tmp_path / "nscheck.lock", tmp_path / "state.db"
    common = ["--lock", str(lock), "--state", str(state), "--timeout", "20", "--host-deadline", "25",
              "--grace-period", "1", "--no-progress"]
    first = nscheck("scan", f"127.0.0.1:{silent_port}", *common)
    try:
        # Wait until the first run holds the lock and has started its run record.
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if state.exists():
                try:
                    with sqlite3.connect(state) as c:
                        if c.execute("SELECT count(*) FROM runs WHERE status='running'").fetchone()[0]:
                            break
                except sqlite3.Error:
                    pass
            time.sleep(0.1)
        else:
            pytest.fail("first run never started")
        t0 = time.monotonic()
        second = nscheck("scan", f"127.0.0.1:{silent_port}", *common)
        out, err = second.communicate(timeout=20)
        assert second.returncode == 75, err
        assert out == ""  # a locked-out run writes nothing
        assert time.monotonic() - t0 < 10
        assert "another nscheck run holds the lock" in err and f"pid {first.pid}" in err
        # SIGTERM: the in-flight host gets the 1 s grace period, then the run ends partial, 143.
        t1 = time.monotonic()
        first.send_signal(signal.SIGTERM)
        _, err = first.communicate(timeout=20)
        assert first.returncode == 143, err
        assert time.monotonic() - t1 < 8
        assert "SIGTERM received" in err
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    with sqlite3.connect(state) as c:
        runs = c.execute("SELECT status FROM runs").fetchall()
    assert runs == [("partial",)]


def _finished_hosts(state: Path) -> list[str]:
    try:
        with sqlite3.connect(state) as c:
            return [r[0] for r in c.execute("SELECT host_key FROM observations")]
    except sqlite3.Error:
        return []


def test_sigterm_mid_scan_keeps_finished_hosts(tmp_path: Path) -> None:
    from nscheck.lab import Profile, start_lab

    fast = [Profile(f"fast-{i}", build="14.1-43.50", roles=("gateway",)) for i in range(3)]
    slow = [Profile(f"slow-{i}", build="14.1-47.48", roles=("gateway",)) for i in range(6)]
    state, jsonl = tmp_path / "state.db", tmp_path / "out.jsonl"
    with start_lab(fast) as fast_lab, start_lab(slow, latency_ms=4000) as slow_lab:
        fast_keys = {u.split("://")[1] for u in fast_lab.target_urls}
        targets = fast_lab.target_urls + slow_lab.target_urls
        # stdout to a file, not a pipe: host documents are large and an unread pipe would block.
        stdout = (tmp_path / "stdout.jsonl").open("w")
        proc = nscheck("scan", *targets, "--state", str(state), "--jsonl", str(jsonl), "--concurrency", "4",
                       "--grace-period", "1", "--host-deadline", "60", "--timeout", "30", "--no-progress",
                       "--format", "jsonl", stdout=stdout)
        try:
            deadline = time.monotonic() + 40
            while time.monotonic() < deadline and not fast_keys <= set(_finished_hosts(state)):
                time.sleep(0.2)
            assert fast_keys <= set(_finished_hosts(state)), "fast hosts never finished"
            t0 = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            _, err = proc.communicate(timeout=30)
            assert time.monotonic() - t0 < 10  # grace period 1 s, not the slow hosts' minutes
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            stdout.close()
    out = (tmp_path / "stdout.jsonl").read_text()
    assert proc.returncode == 143, err
    finished = _finished_hosts(state)
    assert set(finished) == fast_keys  # slow hosts were in flight: dropped after the grace period
    with sqlite3.connect(state) as c:
        assert c.execute("SELECT status FROM runs").fetchall() == [("partial",)]
        assert c.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert c.execute("SELECT count(*) FROM findings WHERE status='open'").fetchone()[0] > 0
    # stdout JSON lines: one complete document per finished host, nothing torn.
    docs = [json.loads(line) for line in out.splitlines() if line.strip()]
    assert {d["url"].split("://")[1] for d in docs} == fast_keys
    # The SIEM file: every line whole, finished hosts present, the run record says partial.
    text = jsonl.read_text()
    assert text.endswith("\n")
    lines = [json.loads(line) for line in text.splitlines()]
    run_docs = [d for d in lines if (d.get("event") or {}).get("dataset") == "nscheck.run"]
    assert run_docs and '"partial": true' in json.dumps(run_docs[-1])
    host_docs = [d for d in lines if (d.get("event") or {}).get("dataset") == "nscheck.host"]
    assert len(host_docs) == len(fast_keys)


def _wait_running(state: Path) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if state.exists():
            try:
                with sqlite3.connect(state) as c:
                    if c.execute("SELECT count(*) FROM runs WHERE status='running'").fetchone()[0]:
                        return
            except sqlite3.Error:
                pass
        time.sleep(0.1)
    pytest.fail("run never started")


@pytest.mark.parametrize(("signals", "code"), [((signal.SIGINT,), 130), ((signal.SIGTERM, signal.SIGTERM), 143)])
def test_signal_exit_codes_and_hard_stop(tmp_path: Path, silent_port: int, signals: tuple[int, ...], code: int) -> None:
    state = tmp_path / "state.db"
    # A long grace period: only the second signal (hard stop) ends the two-signal case quickly.
    grace = "1" if len(signals) == 1 else "60"
    proc = nscheck("scan", f"127.0.0.1:{silent_port}", "--state", str(state), "--timeout", "30",
                   "--host-deadline", "60", "--grace-period", grace, "--no-progress")
    try:
        _wait_running(state)
        time.sleep(1.5)  # the host is in flight by now (it never answers)
        t0 = time.monotonic()
        for s in signals:
            proc.send_signal(s)
            time.sleep(0.5)
        _, err = proc.communicate(timeout=20)
        assert proc.returncode == code, err
        assert time.monotonic() - t0 < 8
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if len(signals) > 1:
        assert "second signal" in err
    with sqlite3.connect(state) as c:
        assert c.execute("SELECT status FROM runs").fetchall() == [("partial",)]
