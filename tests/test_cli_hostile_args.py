"""Every command with hostile arguments: no traceback ever reaches stderr, and no case is an
internal error (exit 70 would mean a bug the last-resort handler merely hid).

Runs in-process through ``nscheck.cli.main`` (the console script's entry point) with the scan
engine replaced by a tripwire, so nothing is ever sent; the lab is only given arguments it
refuses before binding."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from nscheck.cli import main

LONG = "A" * 20_000
WEIRD = ["", " ", "-", "\x1b[31mred\x1b[0m", "\u202eevil", "☃.example", "%s%n%x", "../../../../etc/passwd", LONG,
         "$(id)", "'; DROP TABLE hosts; --", "\ud800".encode("utf-8", "surrogatepass").decode("utf-8", "replace")]
NUMBERS = ["-1", "0", "nan", "inf", "-inf", "1e309", "99999999999999999999999", "0x10", "1/0", ""]


def _cases(tmp: Path) -> list[list[str]]:
    garbage = tmp / "garbage.bin"
    garbage.write_bytes(bytes(range(256)) * 64)
    deep = tmp / "deep.json"
    deep.write_text("[" * 200_000 + "]" * 200_000)
    not_host = tmp / "nothost.jsonl"
    not_host.write_text('{"schema": "nscheck.host/1"}\n')
    empty = tmp / "empty"
    empty.write_text("")
    sqlite_not = tmp / "state.db"
    sqlite_not.write_text("this is not a database")
    cfg_bad = tmp / "bad.toml"
    cfg_bad.write_text("input = [1, 2, {x = 3}]\nconcurrency = 'many'\n[scan\n")
    cases: list[list[str]] = [
        [], ["--bogus"], ["nosuchcommand"], ["--no-color"], ["-h"], ["--version"],
        ["scan", "--bogus"], ["scan", "-i"], ["scan", "-i", "/"], ["scan", "-i", str(garbage)],
        ["scan", "-i", str(empty)], ["scan", "--config", str(cfg_bad)], ["scan", "--config", "/"],
        ["scan", "--config", str(garbage)], ["scan", "--shard", "0/0", "127.0.0.1"], ["scan", "--shard", "x", "127.0.0.1"],
        ["scan", "--proxy", "http://[bad", "127.0.0.1"], ["scan", "--ca", "/", "127.0.0.1"],
        ["scan", "-H", "no-colon", "127.0.0.1"], ["scan", "--format", "pdf", "127.0.0.1"],
        ["scan", "--fail-on", "everything", "127.0.0.1"], ["scan", "--indicator-paths", "all", "127.0.0.1"],
        ["scan", "--state", str(sqlite_not), "127.0.0.1"], ["scan", "--suppressions", str(garbage), "127.0.0.1"],
        ["scan", "--lock", "/", "127.0.0.1"], ["scan", "--signatures", "/nonexistent", "127.0.0.1"],
        ["scan", "--signatures", str(garbage), "127.0.0.1"], ["scan", "--allow-origin", "http://[bad", "127.0.0.1", "--dry-run"],
        ["scan", "--exclude", "999.1.1.1/99", "127.0.0.2", "--dry-run"], ["scan", "--jsonl", "/", "127.0.0.1"],
        ["scan", "--html", str(garbage / "x.html"), "127.0.0.1"], ["scan", "-o", "/", "127.0.0.1"],
        ["scan", "http://user:pw@127.0.0.1/", "--dry-run"], ["scan", "127.0.0.1:0"], ["scan", "127.0.0.1:99999"],
        ["scan", "[::1", "--dry-run"], ["scan", "0.0.0.0/0"], ["scan", "::/0", "--max-expand", "1", "--dry-run"],
        ["assess"], ["assess", "14.1-47.46", "--edition", "weird"], ["assess", "14.1-47.46", "--role", LONG],
        ["assess", "14.1-47.46", "--format", "pdf"], ["assess", "14.1-47.46", "-o", "/"],
        ["assess", "14.1-47.46", "--signatures", str(garbage)], ["assess", "14.1-47.46", "--role", "gateway", "--no-role", "gateway"],
        ["triage"], ["triage", "/nope"], ["triage", str(garbage)], ["triage", str(empty)], ["triage", "/dev/null"],
        ["triage", str(garbage), "--collected-at", "yesterday"], ["triage", str(garbage), "--recent-days", "0"],
        ["triage", str(garbage), "--format", "pdf"], ["triage", str(garbage), "--state", str(sqlite_not), "--name", "x"],
        ["triage", str(garbage), "--signatures", "/nonexistent"],
        ["report"], ["report", "/"], ["report", str(garbage)], ["report", str(deep)], ["report", str(not_host)],
        ["report", str(empty)], ["report", "/dev/null"], ["report", str(empty), "-f", "pdf"], ["report", str(empty), "--run", "x"],
        ["history", "--state", str(sqlite_not)], ["history", "--state", "/nonexistent"], ["history", "--state", "/"],
        ["history", "--state", str(garbage), "--format", "pdf"],
        ["ack", "host", "--state", str(sqlite_not), "--triaged", ""], ["ack", LONG, "--state", "/nonexistent", "--triaged", "x"],
        ["signatures", "lint", "/nonexistent"], ["signatures", "lint", str(garbage)], ["signatures", "info", LONG],
        ["signatures", "info", "CTX0", "--signatures", "/"], ["signatures", "list", "--signatures", str(garbage)],
        ["signatures", "roles", "--signatures", "/dev/null"], ["signatures", "update"],
        ["signatures", "update", "--from", str(garbage)], ["signatures", "update", "--from", "/"],
        ["signatures", "update", "--from", str(empty), "--trusted-key", str(garbage)],
        ["signatures", "update", "--from", "ftp://127.0.0.1/x"], ["signatures", "update", "--config", str(cfg_bad)],
        ["signatures", "status"], ["signatures", "rollback"], ["signatures", "rollback", "--bogus"],
        ["lab", "--preset", "bogus"], ["lab", "--bind", "192.0.2.1"], ["lab", "--hosts", "0"],
        ["lab", "--refused-share", "2"], ["demo", "--format", "pdf"], ["demo", "--latency-ms", "-1"],
    ]
    for w in WEIRD:
        cases += [["scan", w, "--dry-run"], ["scan", "-i", w], ["assess", w], ["triage", w], ["report", w],
                  ["signatures", "info", w], ["history", w, "--state", w], ["scan", "127.0.0.1", "--jsonl", w],
                  ["scan", "127.0.0.1", "--exclude", w, "--dry-run"], ["scan", "127.0.0.1", "-H", w, "--dry-run"]]
    for n in NUMBERS:
        cases += [["scan", "127.0.0.1", flag, n] for flag in ("--timeout", "--host-deadline", "--grace-period", "--max-body",
                                                              "--concurrency", "--retries", "--request-budget",
                                                              "--max-redirects", "--max-expand", "--max-signature-age",
                                                              "--rate-limit")]
        cases += [["triage", "/dev/null", "--recent-days", n], ["lab", "--hosts", n, "--bind", "192.0.2.1"]]
    return cases


@pytest.fixture
def tripwire(monkeypatch: pytest.MonkeyPatch) -> None:
    import nscheck.probe.client as client
    import nscheck.runner as runner

    def boom(*a: object, **k: object) -> None:
        # Valid arguments reach the scan: stop there (exit 99), nothing is ever sent.
        raise SystemExit(99)

    monkeypatch.setattr(runner, "scan_async", boom)
    monkeypatch.setattr(client.ProbeClient, "__aenter__", boom)
    monkeypatch.setattr("sys.stdin", io.StringIO(""))


def test_no_traceback_and_no_internal_error(tripwire: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("NSCHECK_CRASH_DIR", str(tmp_path / "crash"))
    monkeypatch.setenv("NSCHECK_DATA_DIR", str(tmp_path / "data"))  # signatures update: never the real store
    monkeypatch.delenv("NSCHECK_SIGNATURES_URL", raising=False)  # and never a download
    monkeypatch.setenv("NO_COLOR", "")  # restored after the test ("--no-color" sets it)
    monkeypatch.chdir(tmp_path)
    failures: list[str] = []
    for argv in _cases(tmp_path):
        with pytest.raises(SystemExit) as e:
            main(list(argv))
        code = e.value.code if isinstance(e.value.code, int) else (0 if e.value.code is None else -1)
        cap = capsys.readouterr()
        shown = " ".join(a if len(a) < 60 else a[:20] + "…" for a in argv)
        if "Traceback" in cap.err or "Traceback" in cap.out:
            failures.append(f"traceback: nscheck {shown}")
        elif code == 70:
            failures.append(f"internal error: nscheck {shown}: {cap.err.strip()[:300]}")
        elif code not in (0, 1, 2, 64, 65, 66, 69, 73, 75, 99):
            failures.append(f"exit {code}: nscheck {shown}: {cap.err.strip()[:300]}")
    assert not failures, "\n".join(failures)
