"""Issue 13: the command line as cron sees it. One test (or more) per row of the issue's table:
nothing to scan is a usage error; output paths are checked before the first packet; a missing
input is EX_NOINPUT; an unknown train is one line; ranges are checked; JSONL appends; a killed
run's JSONL still renders; ``-q`` words what it prints."""

from __future__ import annotations

import dataclasses
import io
import os
from pathlib import Path

import pytest
from test_report_fixtures import OBSERVER, RUN, fleet, summary

from nscheck.cli import main
from nscheck.report import render


def run_cli(argv: list[str]) -> int:
    with pytest.raises(SystemExit) as e:
        main(argv)
    return int(e.value.code or 0)


@pytest.fixture
def no_packets(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to scan fails the test: the exit must come before the first packet."""
    import nscheck.probe.client as client
    import nscheck.runner as runner

    def boom(*a: object, **k: object) -> None:
        raise AssertionError("a scan was started")

    monkeypatch.setattr(runner, "scan_async", boom)
    monkeypatch.setattr(client.ProbeClient, "__aenter__", boom)


def readonly_dir(tmp_path: Path) -> Path:
    """A directory nobody can create files in, also for root (a read-only file system)."""
    if os.geteuid() != 0:
        d = tmp_path / "ro"
        d.mkdir()
        d.chmod(0o555)
        return d
    for cand in (Path("/sys"), Path("/proc/self")):
        try:
            (cand / ".nscheck-probe").touch()
        except OSError:
            return cand
        (cand / ".nscheck-probe").unlink()
    pytest.skip("no read-only directory available to root here")


# -- nothing to scan: 64 before any work --------------------------------------------------------


def test_missing_input_file_is_a_usage_error(no_packets: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(["scan", "-i", str(tmp_path / "nonexistent.txt")]) == 64
    err = capsys.readouterr().err
    assert "nonexistent.txt" in err and "cannot read" in err and "Traceback" not in err


def test_cidr_over_max_expand_without_force_is_nothing_to_scan(no_packets: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(["scan", "10.0.0.0/8"]) == 64
    err = capsys.readouterr().err
    assert "--force" in err and "nothing to scan" in err


def test_empty_file_and_empty_stdin(no_packets: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_text("# only a comment\n\n")
    assert run_cli(["scan", "-i", str(empty)]) == 64
    assert "nothing to scan" in capsys.readouterr().err
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    assert run_cli(["scan", "-"]) == 64
    assert "nothing to scan" in capsys.readouterr().err


def test_config_whose_input_is_missing(no_packets: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "scan.toml"
    cfg.write_text('input = "targets-that-are-not-there.txt"\n')
    assert run_cli(["scan", "--config", str(cfg)]) == 64
    assert "targets-that-are-not-there.txt" in capsys.readouterr().err
    # and a config that names no input at all must not fall back to the demo lab
    cfg.write_text('fail-on = "high"\n')
    assert run_cli(["scan", "--config", str(cfg)]) == 64
    assert "nothing to scan" in capsys.readouterr().err


def test_everything_excluded_or_in_another_shard(no_packets: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(["scan", "127.0.0.1", "--exclude", "127.0.0.0/8"]) == 64
    assert "excluded" in capsys.readouterr().err
    # A shard the hash split left empty is not a broken job (the other shards scan the targets):
    # exit 0 with the reason, so an Indexed Job with more pods than targets does not fail.
    from nscheck.targets import parse_target, shard_of

    empty = 2 - shard_of(next(iter(parse_target("127.0.0.1"))), 2)  # the 1-based shard 127.0.0.1 is NOT in
    assert run_cli(["scan", "127.0.0.1", "--shard", f"{empty}/2"]) == 0
    assert f"shard {empty}/2 holds none" in capsys.readouterr().err


def test_unreadable_exclusion_file_is_a_usage_error(no_packets: None, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    # scanning without the exclusion list would contact what must not be contacted
    assert run_cli(["scan", "127.0.0.1", "--exclude-file", str(tmp_path / "nope.txt")]) == 64
    assert "nope.txt" in capsys.readouterr().err


# -- output paths: 73 before the first packet, one line -----------------------------------------


def _one_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, lines
    return lines[0]


def test_dash_o_an_existing_file_is_replaced_not_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # -o FILE means the same in every command: the --format output goes to FILE (atomically).
    out = tmp_path / "results.json"
    out.write_text("old")
    assert run_cli(["assess", "14.1-47.46", "-f", "json", "-o", str(out)]) == 1
    assert out.is_file() and out.read_text().lstrip().startswith("{")
    assert capsys.readouterr().out == ""


def test_scan_dash_o_writes_the_format_to_an_existing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import json
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # refused: a real (loopback) scan that ends quickly
    out = tmp_path / "results.json"
    out.write_text("yesterday's results")
    assert run_cli(["scan", f"127.0.0.1:{port}", "-f", "json", "-o", str(out), "--timeout", "1", "--retries", "0",
                    "--no-progress"]) == 0
    [host] = json.loads(out.read_text())
    assert host["target"] == f"127.0.0.1:{port}" and host["status"] == "unreachable"
    assert capsys.readouterr().out == ""


def test_scan_dash_o_results_json_never_makes_a_directory(no_packets: None, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    d = tmp_path / "results.json"
    d.mkdir()
    assert run_cli(["scan", "127.0.0.1:9", "-o", str(d)]) == 73
    line = _one_line(capsys.readouterr().err)
    assert str(d) in line and "--output-dir" in line


def test_html_on_a_directory(no_packets: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(["scan", "127.0.0.1:9", "--html", str(tmp_path)]) == 73
    line = _one_line(capsys.readouterr().err)
    assert "--html" in line and "is a directory" in line


def test_jsonl_on_a_read_only_path(no_packets: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ro = readonly_dir(tmp_path)
    assert run_cli(["scan", "127.0.0.1:9", "--jsonl", str(ro / "findings.jsonl")]) == 73
    assert "--jsonl" in _one_line(capsys.readouterr().err)


def test_output_dir_read_only_fails_early(no_packets: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ro = readonly_dir(tmp_path)
    assert run_cli(["scan", "127.0.0.1:9", "--output-dir", str(ro / "reports")]) == 73
    assert "--output-dir" in _one_line(capsys.readouterr().err)
    assert run_cli(["scan", "127.0.0.1:9", "--csv", str(ro / "x.csv"), "-o", str(ro / "t.txt")]) == 73


def test_lock_file_that_cannot_be_created(no_packets: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ro = readonly_dir(tmp_path)
    assert run_cli(["scan", "127.0.0.1:9", "--lock", str(ro / "nscheck.lock")]) == 73
    assert "lock" in _one_line(capsys.readouterr().err)


def test_output_dir_that_is_a_file(no_packets: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "reports"
    f.write_text("x")
    assert run_cli(["scan", "127.0.0.1:9", "--output-dir", str(f)]) == 73
    assert "not a directory" in _one_line(capsys.readouterr().err)


def test_triage_and_report_check_outputs_too(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "tree").mkdir()
    assert run_cli(["triage", str(tmp_path / "tree"), "--jsonl", str(tmp_path)]) == 73
    assert "--jsonl" in _one_line(capsys.readouterr().err)
    saved = tmp_path / "f.jsonl"
    buf = io.StringIO()
    render(fleet(), "jsonl", buf, run=RUN, summary=summary(fleet()), observer_hostname=OBSERVER)
    saved.write_text(buf.getvalue())
    assert run_cli(["report", str(saved), "-o", str(tmp_path)]) == 73


# -- missing input: 66 with the path ----------------------------------------------------------


def test_triage_missing_path_is_noinput(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(["triage", "/nope"]) == 66
    assert "/nope" in capsys.readouterr().err


def test_report_missing_input_is_noinput(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(["report", str(tmp_path / "gone.jsonl")]) == 66
    assert "gone.jsonl" in capsys.readouterr().err


# -- assess: unknown train ------------------------------------------------------------------------


def test_assess_unknown_train_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(["assess", "15.0-1.1"]) == 64
    cap = capsys.readouterr()
    assert cap.out == ""
    assert "unknown train 15.0" in _one_line(cap.err)


# -- ranges -------------------------------------------------------------------------------------


@pytest.mark.parametrize("flag,value", [("--max-body", "-5"), ("--grace-period", "-3"), ("--max-expand", "-1"),
                                        ("--max-body", "0"), ("--concurrency", "0"), ("--timeout", "-1"),
                                        ("--rate-limit", "0"), ("--rate-limit", "-2/s"), ("--rate-limit", "fast")])
def test_out_of_range_values_are_usage_errors(no_packets: None, flag: str, value: str,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(["scan", "127.0.0.1", f"{flag}={value}"]) == 64
    assert flag in capsys.readouterr().err


def test_config_values_have_the_same_ranges(no_packets: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text("max-body = -5\n")
    assert run_cli(["scan", "127.0.0.1", "--config", str(cfg)]) == 64
    cfg.write_text('rate-limit = "many"\n')
    assert run_cli(["scan", "127.0.0.1", "--config", str(cfg)]) == 64


# -- JSONL appends; report groups runs and survives a killed run ------------------------------------


def _runs(n: int) -> list[object]:
    return [dataclasses.replace(RUN, run_id=f"run-{i:02d}", started=f"2026-06-0{i + 1}T10:00:00Z") for i in range(n)]


def _append_run(path: Path, run: object) -> None:
    from nscheck.report.ecs import JsonlSink

    sink = JsonlSink(str(path), observer_hostname=OBSERVER)
    sink.open(run)  # type: ignore[arg-type]
    for r in fleet():
        sink.host(r)
    sink.close(dataclasses.replace(summary(fleet()), run=run))


def test_jsonl_appends_complete_lines(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    path = tmp_path / "findings.jsonl"
    writes: list[bytes] = []
    real_write = os.write

    def spy(fd: int, data: bytes | memoryview) -> int:
        writes.append(bytes(data))
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", spy)
    first, second = _runs(2)
    _append_run(path, first)
    size_after_first = path.stat().st_size
    _append_run(path, second)
    assert path.stat().st_size > size_after_first  # appended, never truncated
    assert writes and all(w.endswith(b"\n") for w in writes)  # every write is whole lines
    run_ids = {json.loads(line)["nscheck"]["run_id"] for line in path.read_text().splitlines()}
    assert run_ids == {"run-00", "run-01"}


def test_append_after_a_killed_run_starts_on_a_new_line(tmp_path: Path) -> None:
    path = tmp_path / "findings.jsonl"
    path.write_text('{"event": {"dataset": "nscheck.run"}}\n{"half": ')
    (run,) = _runs(1)
    _append_run(path, run)
    lines = path.read_text().splitlines()
    assert lines[1] == '{"half": '
    assert lines[2].startswith("{") and lines[2].endswith("}")


def test_report_groups_by_run_id(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "findings.jsonl"
    for run in _runs(3):
        _append_run(path, run)
    assert run_cli(["report", str(path)]) == 0
    out = capsys.readouterr().out
    assert [line.split(":")[0] for line in out.splitlines() if line.startswith("== run ")] == [
        "== run run-00", "== run run-01", "== run run-02"]
    assert run_cli(["report", str(path), "--run", "latest", "-f", "json"]) == 0
    import json

    assert len(json.loads(capsys.readouterr().out)) == len(fleet())
    assert run_cli(["report", str(path), "--run", "run-01", "-f", "md"]) == 0
    assert "run-01" not in capsys.readouterr().out.split("\n", 1)[0]  # one run: no section headings
    assert run_cli(["report", str(path), "--run", "nope"]) == 64


def test_report_renders_a_killed_runs_file_and_warns(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    path = tmp_path / "killed.jsonl"
    (run,) = _runs(1)
    _append_run(path, run)
    text = path.read_text()
    n_lines = len(text.splitlines())
    path.write_text(text + text.splitlines()[0][:37])  # the next run was killed mid-line
    assert run_cli(["report", str(path), "-f", "json"]) == 0
    cap = capsys.readouterr()
    assert len(json.loads(cap.out)) == len(fleet())  # every complete line rendered
    assert f"{path}:{n_lines + 1}" in cap.err and "warning" in cap.err


# -- scan -q without --state ------------------------------------------------------------------------


def test_quiet_without_state_says_findings_not_no_findings() -> None:
    from nscheck.state.cron import QuietSink

    out = io.StringIO()
    sink = QuietSink(out)
    sink.open(RUN)
    for r in fleet():
        sink.host(r)
    sink.close(summary(fleet()))
    lines = out.getvalue().splitlines()
    findings = [line for line in lines if line.startswith("FINDING")]
    assert findings
    assert lines[-1].startswith(f"nscheck: {len(findings)} finding(s)")
    assert "no findings" not in out.getvalue()
