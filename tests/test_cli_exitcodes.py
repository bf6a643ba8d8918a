"""Exit codes: README's table, the root --help and the ExitCode enum say the same, and every
code is produced by a real case (issue 13: "a table test that runs each case")."""

from __future__ import annotations

import re
import socket
from collections.abc import Callable
from pathlib import Path

import pytest

from nscheck.cli import main
from nscheck.exitcodes import ExitCode

README = Path(__file__).resolve().parent.parent / "README.md"


def run_cli(argv: list[str]) -> int:
    with pytest.raises(SystemExit) as e:
        main(argv)
    return int(e.value.code or 0)


def readme_codes() -> set[int]:
    text = README.read_text(encoding="utf-8")
    section = text.split("### Exit codes", 1)[1].split("\n### ", 1)[0]
    codes: set[int] = set()
    for row in re.findall(r"^\| *([0-9][0-9 /]*?) *\|", section, re.M):
        codes.update(int(c) for c in re.findall(r"\d+", row))
    return codes


def test_readme_lists_every_code_and_nothing_else() -> None:
    assert readme_codes() == {int(c) for c in ExitCode}


def test_root_help_lists_every_code(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(["--help"]) == 0
    tail = capsys.readouterr().out.split("Exit codes:", 1)[1]
    rows = dict(re.findall(r"^ +(\d+(?:/\d+)?) +(\S.*?)\s*$", tail, re.M))
    assert {int(n) for key in rows for n in key.split("/")} == {int(c) for c in ExitCode}
    for code in ExitCode:
        if code not in (ExitCode.SIGINT, ExitCode.SIGTERM):
            assert rows[str(int(code))] == code.meaning


def _closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now: connection refused, on loopback only
    return port


def _case(code: ExitCode, tmp: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    quick = ["--timeout", "1", "--host-deadline", "3", "--retries", "0", "--no-progress", "-q"]
    target = f"127.0.0.1:{_closed_port()}"
    if code is ExitCode.OK:
        return ["scan", target, *quick]  # unreachable, and unknown does not fail without --fail-on-unknown
    if code is ExitCode.FINDINGS:
        return ["assess", "14.1-47.46"]
    if code is ExitCode.UNKNOWN:
        return ["scan", target, *quick, "--fail-on-unknown"]
    if code is ExitCode.USAGE:
        return ["scan", "--no-such-flag"]
    if code is ExitCode.DATAERR:
        bundle = tmp / "bundle.tar.gz"
        bundle.write_bytes(b"not a signed bundle")
        monkeypatch.setenv("NSCHECK_DATA_DIR", str(tmp / "data"))  # never the real signature store
        return ["signatures", "update", "--from", str(bundle)]
    if code is ExitCode.NOINPUT:
        return ["triage", str(tmp / "nope")]
    if code is ExitCode.SIGNATURES_STALE:
        # the shipped set, as if it had been dated long ago (a real old manifest would also
        # fail the loader's check that no bulletin is newer than the set)
        import datetime as dt

        monkeypatch.setattr("nscheck.report.exitcodes.signatures_date", lambda _d: dt.date(2001, 1, 1))
        return ["scan", target, *quick, "--max-signature-age", "30"]
    if code is ExitCode.SOFTWARE:
        import nscheck.runner as runner

        def broken(opts: object) -> int:
            raise RuntimeError("a bug")

        monkeypatch.setattr(runner, "run", broken)
        monkeypatch.setenv("NSCHECK_CRASH_DIR", str(tmp / "crash"))
        return ["scan", target]
    if code is ExitCode.CANTCREAT:
        return ["scan", target, "--html", str(tmp)]
    if code is ExitCode.DELIVERY:
        # the SIEM collector is down (nothing listens on that loopback port): spooled, exit 74
        return ["scan", target, *quick, "--syslog", f"tcp://127.0.0.1:{_closed_port()}", "--spool-dir", str(tmp / "spool")]
    if code is ExitCode.LOCKED:
        from nscheck.state.lock import RunLock

        lock = RunLock(tmp / "run.lock").acquire()  # another run holds it (flock: per open file)
        monkeypatch.setattr("nscheck.state.lock._held_for_test", lock, raising=False)
        return ["scan", target, *quick, "--lock", str(tmp / "run.lock")]
    # SIGINT / SIGTERM: the runner's answer to a stop signal. Real signals against a real
    # process are in tests/test_state_cron.py; here the signal arrives as the scan starts.
    import signal

    import nscheck.state.cron as cron

    signum = signal.SIGINT if code is ExitCode.SIGINT else signal.SIGTERM
    real: Callable[..., object] = cron.with_signals

    async def signalled(scan: Callable[..., object]) -> tuple[object, int]:
        async def stopped(stop: object) -> object:
            stop.set()  # type: ignore[attr-defined]
            return await scan(stop)  # type: ignore[operator,misc]

        result, _ = await real(stopped)  # type: ignore[operator,misc]
        return result, int(signum)

    monkeypatch.setattr(cron, "with_signals", signalled)
    return ["scan", target, *quick]


@pytest.mark.parametrize("code", list(ExitCode), ids=[c.name for c in ExitCode])
def test_each_code_has_a_case(code: ExitCode, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                              capsys: pytest.CaptureFixture[str]) -> None:
    argv = _case(code, tmp_path, monkeypatch)
    got = run_cli(argv)
    cap = capsys.readouterr()
    assert got == code, (argv, cap.err[-500:])
    assert "Traceback" not in cap.err
