"""Issue 12 items 7 and 8: output paths never follow planted symlinks, and one permission rule.

Rule: reports (JSONL, CSV, per-host JSON/Markdown, HTML) follow the umask like any file a tool
writes; the state database, the lock file and triage spools are 0600 (they are private to the
operator's account whatever the umask)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from nscheck.report.csvfmt import CsvSink
from nscheck.report.files import OpenAppend, atomic_write, umask_mode
from nscheck.state.lock import RunLock


@pytest.fixture
def victim(tmp_path: Path) -> Path:
    v = tmp_path / "victim.txt"
    v.write_text("precious\n")
    return v


def _plant(link: Path, target: Path) -> None:
    os.symlink(target, link)


def test_jsonl_output_refuses_a_planted_symlink(tmp_path: Path, victim: Path) -> None:
    out = tmp_path / "findings.jsonl"
    _plant(out, victim)
    with pytest.raises(OSError):
        OpenAppend(str(out))
    assert victim.read_text() == "precious\n"


def test_csv_temp_file_is_unpredictable_and_never_follows_a_link(tmp_path: Path, victim: Path) -> None:
    from nscheck.report.base import RunInfo, RunSummary

    target = tmp_path / "fleet.csv"
    _plant(tmp_path / ".fleet.csv.partial", victim)  # the old predictable name
    sink = CsvSink(str(target))
    run = RunInfo(run_id="r", started="2026-01-01T00:00:00Z", kind="scan", tool_version="t")
    sink.open(run)
    sink.close(RunSummary(run=run, ended="2026-01-01T00:00:01Z", duration_ms=1, hosts=0, counts={}))
    assert victim.read_text() == "precious\n"
    assert target.read_text().startswith("target,")
    assert _mode(target) == umask_mode() and not list(tmp_path.glob(".fleet.csv.*.partial"))
    assert not target.is_symlink()


def test_csv_target_symlink_is_replaced_not_followed(tmp_path: Path, victim: Path) -> None:
    target = tmp_path / "x.json"
    _plant(target, victim)
    atomic_write(target, "{}\n")
    assert victim.read_text() == "precious\n" and target.read_text() == "{}\n" and not target.is_symlink()


def test_lock_refuses_a_planted_symlink(tmp_path: Path, victim: Path) -> None:
    lock = tmp_path / "nscheck.lock"
    _plant(lock, victim)
    with pytest.raises(OSError):
        RunLock(lock).acquire()
    assert victim.read_text() == "precious\n"


def _mode(p: Path) -> int:
    return stat.S_IMODE(os.stat(p).st_mode)


def test_permissions_reports_follow_umask_state_and_lock_are_private(tmp_path: Path) -> None:
    from nscheck.state.store import StateStore

    old = os.umask(0o022)
    try:
        atomic_write(tmp_path / "h.json", "{}")
        w = OpenAppend(str(tmp_path / "f.jsonl"))
        w.write("{}\n")
        w.close()
        lock = RunLock(tmp_path / "l.lock").acquire()
        lock.release()
        store = StateStore.open(tmp_path / "state.db")
        side = [tmp_path / f"state.db{x}" for x in ("-wal", "-shm") if (tmp_path / f"state.db{x}").exists()]
        side_modes = [_mode(x) for x in side]
        store.close()
        os.umask(0o077)
        atomic_write(tmp_path / "h2.json", "{}")
    finally:
        os.umask(old)
    assert _mode(tmp_path / "h.json") == 0o644
    assert _mode(tmp_path / "f.jsonl") == 0o644
    assert _mode(tmp_path / "h2.json") == 0o600
    assert _mode(tmp_path / "l.lock") == 0o600
    assert _mode(tmp_path / "state.db") == 0o600
    assert all(m == 0o600 for m in side_modes), side_modes  # SQLite copies the database's mode


def test_triage_spools_are_private(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A core dump is spooled (decompressed) for YARA: the spool and its directory are private
    whatever the umask (cores hold session keys and passwords)."""
    import gzip

    import triage_fixtures as tf

    from nscheck.paths import signatures_dir
    from nscheck.signatures.triage import load
    from nscheck.triage.checks.yara_scan import YaraScan, yara_module
    from nscheck.triage.context import TriageOptions
    from nscheck.triage.runner import triage_path

    if yara_module() is None:
        pytest.skip("yara-python not installed: no spool")
    seen: list[tuple[int, int]] = []

    def spy(self, ctx, rule, entry, path):  # type: ignore[no-untyped-def]
        seen.append((_mode(path), _mode(path.parent)))
        return []

    monkeypatch.setattr(YaraScan, "scan_file", spy)
    core = tf.f("/var/core/1/NSPPE-00-1234-1.gz", gzip.compress(b"\x7fELF" + b"session-key" * 1000))
    p = tf.write_tar([*tf.clean_tree(), core], tmp_path / "c.tar.gz")
    old = os.umask(0)
    try:
        triage_path(str(p), TriageOptions(collected_at=tf.COLLECTED), load(signatures_dir(None)))
    finally:
        os.umask(old)
    assert seen and all(f == 0o600 and d == 0o700 for f, d in seen), seen


def test_cli_refuses_a_symlinked_jsonl_with_73_and_no_traceback(tmp_path: Path, victim: Path) -> None:
    import contextlib
    import io

    from nscheck.cli import main

    link = tmp_path / "f.jsonl"
    _plant(link, victim)
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()), pytest.raises(SystemExit) as ex:
        main(["triage", str(tmp_path), "--jsonl", str(link), "-f", "json"])
    assert ex.value.code == 73 and "symbolic link" in err.getvalue() and "Traceback" not in err.getvalue()
    assert victim.read_text() == "precious\n"
