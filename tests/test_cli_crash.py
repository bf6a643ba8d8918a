"""The last-resort handler: a bug is one stderr line naming a crash report, exit 70, and the
report never holds a secret from the command line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from nscheck.cli import main
from nscheck.cli._crash import MASK, mask_argv, scrub

SECRET_PROXY = "http://proxyuser:Pr0xyPa55@127.0.0.1:3128"
SECRET_HEADER = "Authorization: Bearer tok-3f9a1c2b7e"


def _crash_scan(monkeypatch: pytest.MonkeyPatch) -> None:
    import nscheck.runner as runner

    def broken(opts: object) -> int:
        # an internal error whose message quotes secrets, as a careless one might
        raise RuntimeError(f"boom while using {SECRET_PROXY} with {SECRET_HEADER}")

    monkeypatch.setattr(runner, "run", broken)


def test_a_bug_is_one_line_and_a_crash_report(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("NSCHECK_CRASH_DIR", str(tmp_path / "crash"))
    _crash_scan(monkeypatch)
    with pytest.raises(SystemExit) as e:
        main(["scan", "127.0.0.1", "--proxy", SECRET_PROXY, "-H", SECRET_HEADER, "--user-agent", "ua"])
    assert e.value.code == 70
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert len(lines) == 1 and "Traceback" not in err
    assert lines[0].startswith("nscheck: internal error: RuntimeError: boom")
    assert "Pr0xyPa55" not in err and "tok-3f9a1c2b7e" not in err
    (report,) = (tmp_path / "crash").iterdir()
    assert str(report) in lines[0]
    text = report.read_text()
    assert "Traceback (most recent call last)" in text and "RuntimeError" in text
    assert "nscheck 0." in text and "python 3." in text and "httpx " in text
    assert "Pr0xyPa55" not in text and "proxyuser" not in text and "tok-3f9a1c2b7e" not in text
    assert "Authorization: ***" in text and "http://***@127.0.0.1:3128" in text
    assert (report.stat().st_mode & 0o077) == 0  # private to the user


def test_no_traceback_from_the_console_script(tmp_path: Path) -> None:
    """The installed entry point, in a real process: a bug forced by a module that raises."""
    code = (
        "import sys, nscheck.runner as r\n"
        "def broken(opts): raise ValueError('kaputt')\n"
        "r.run = broken\n"
        "from nscheck.cli import main\n"
        "main(['scan', '127.0.0.1', '--header', 'X-Api-Key: k3y-value-1234'])\n"
    )
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                       env={"NSCHECK_CRASH_DIR": str(tmp_path), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    assert p.returncode == 70, p.stderr
    assert "Traceback" not in p.stderr and len(p.stderr.splitlines()) == 1
    (report,) = tmp_path.glob("nscheck-crash-*.txt")
    assert "k3y-value-1234" not in report.read_text() and "X-Api-Key: ***" in report.read_text()


def test_crash_report_falls_back_when_its_directory_is_unusable(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    monkeypatch.setenv("NSCHECK_CRASH_DIR", str(blocker / "sub"))  # under a regular file: cannot exist
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    _crash_scan(monkeypatch)
    with pytest.raises(SystemExit) as e:
        main(["scan", "127.0.0.1"])
    assert e.value.code == 70
    err = capsys.readouterr().err
    assert "crash report: " + str(tmp_path) in err


@pytest.mark.parametrize("argv,hidden,shown", [
    (["--nitro-password", "hunter2!"], ["hunter2!"], ["--nitro-password", MASK]),
    (["--nitro-password=hunter2!"], ["hunter2!"], [f"--nitro-password={MASK}"]),
    (["--api-token", "abc123xyz"], ["abc123xyz"], [MASK]),
    (["-H", "Cookie: NSC_AAAC=deadbeef"], ["deadbeef"], [f"Cookie: {MASK}"]),
    (["-HX-Auth: zzz-secret"], ["zzz-secret"], [f"-HX-Auth: {MASK}"]),
    (["--header=Authorization: Basic dXNlcjpwYXNz"], ["dXNlcjpwYXNz"], [f"--header=Authorization: {MASK}"]),
    (["https://admin:nsroot@gw.example.org/"], ["nsroot", "admin"], [f"https://{MASK}@gw.example.org/"]),
    (["--no-verify-password"], [], ["--no-verify-password"]),
    (["--timeout", "5", "gw.example.org"], [], ["--timeout", "5", "gw.example.org"]),
])
def test_mask_argv(argv: list[str], hidden: list[str], shown: list[str]) -> None:
    masked, secrets = mask_argv(argv)
    text = " ".join(masked)
    for h in hidden:
        assert h not in text
    for s in shown:
        assert s in masked or s in text
    tb = scrub("ValueError: " + " ".join(argv), secrets)
    for h in hidden:
        assert h not in tb


def test_masking_is_linear_on_long_arguments() -> None:
    # Not timed: the unbounded pattern this replaces was quadratic (minutes at this size), which
    # the suite's per-test timeout turns into a failure.
    masked, _ = mask_argv(["A" * 50_000, "x://" + "B" * 50_000])
    assert masked[0] == "A" * 50_000
