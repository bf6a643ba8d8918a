"""``nscheck scan --config FILE``: TOML keys = flags, flags win, unknown keys exit 64."""

from __future__ import annotations

import sys
import types
from pathlib import Path

import pytest

from nscheck.config import ConfigError, load, merge
from nscheck.options import ScanOptions


@pytest.fixture
def captured(monkeypatch: pytest.MonkeyPatch) -> list[ScanOptions]:
    """Replace the runner: the scan command hands its final ScanOptions here."""
    seen: list[ScanOptions] = []
    fake = types.ModuleType("nscheck.runner")

    def run(opts: ScanOptions) -> int:
        seen.append(opts)
        return 0

    fake.run = run  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "nscheck.runner", fake)
    return seen


def scan(argv: list[str]) -> int:
    from nscheck.cli import main

    with pytest.raises(SystemExit) as e:
        main(["scan", *argv])
    return int(e.value.code or 0)


def test_config_fills_and_flags_win(tmp_path: Path, captured: list[ScanOptions]) -> None:
    cfg = tmp_path / "etc" / "scan.toml"
    cfg.parent.mkdir()
    cfg.write_text(
        'targets = ["127.0.0.1:8443"]\n'
        'state = "state.db"\n'
        'lock = "/run/nscheck.lock"\n'
        'fail-on = "critical"\n'
        "concurrency = 7\n"
        "grace_period = 3\n"
        "quiet = true\n"
        "no-indicators = true\n"
        'header = "X-Test: 1"\n'
    )
    assert scan(["--config", str(cfg), "--concurrency", "9", "--fail-on", "high"]) == 0
    (o,) = captured
    assert o.targets == ("127.0.0.1:8443",)
    assert o.state == str(cfg.parent / "state.db")  # relative to the config file
    assert o.lock == "/run/nscheck.lock"
    assert o.concurrency == 9 and o.fail_on == "high"  # flags win, even when equal to the default
    assert o.grace_period == 3.0 and o.quiet is True and o.indicators is False
    assert o.headers == ("X-Test: 1",)


def test_flag_equal_to_default_still_wins(tmp_path: Path, captured: list[ScanOptions]) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text('input = "fleet.txt"\nconcurrency = 5\n[scan]\ntimeout = 2.5\n')
    assert scan(["--config", str(cfg), "--concurrency", "100", "127.0.0.1"]) == 0
    assert captured[0].concurrency == 100 and captured[0].timeout == 2.5
    # Targets on the command line replace the file's target list (no fleet scan by accident).
    assert captured[0].targets == ("127.0.0.1",) and captured[0].input_files == ()
    assert scan(["--config", str(cfg)]) == 0
    assert captured[1].input_files == (str(tmp_path / "fleet.txt"),)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("bogus = 1\n", "bogus: unknown key"),
        ("concurrency = 'many'\n", "concurrency: expected an integer"),
        ("concurrency = 0\n", "concurrency: must be at least 1"),
        ("quiet = 'yes'\n", "quiet: expected true or false"),
        ("format = 'xml'\n", "format: must be one of"),
        ("config = 'other.toml'\n", "config: not allowed here"),
        ("state = [\n", "TOML syntax"),
    ],
)
def test_bad_config_exits_64(tmp_path: Path, captured: list[ScanOptions], capsys: pytest.CaptureFixture[str],
                             text: str, message: str) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text(text)
    assert scan(["--config", str(cfg)]) == 64
    assert message in capsys.readouterr().err
    assert captured == []


def test_missing_file_is_usage_error(tmp_path: Path, captured: list[ScanOptions]) -> None:
    assert scan(["--config", str(tmp_path / "nope.toml")]) == 64


def test_all_errors_reported_at_once(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text("a = 1\nb = 2\ntimeout = 'x'\n")
    with pytest.raises(ConfigError) as e:
        load(cfg)
    assert str(e.value).count("\n") == 2


def test_merge_without_context_and_ca_implies_verify(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text('ca = "ca.pem"\n')
    o = merge(ScanOptions(), load(cfg))
    assert o.ca_file == str(tmp_path / "ca.pem") and o.verify is True


# The example in the README (cron / systemd section), verbatim: it must stay loadable.
README_EXAMPLE = """\
# /etc/nscheck/scan.toml: every key is a `nscheck scan` flag (dashes or underscores)
input = "/etc/nscheck/targets.txt"         # one target per line, '#' comments
state = "/var/lib/nscheck/state.db"        # history: new / unchanged / resolved / regressed
lock = "/var/lib/nscheck/nscheck.lock"     # a second run exits 75 at once
suppressions = "/etc/nscheck/suppressions.yaml"
jsonl = "/var/log/nscheck/findings.jsonl"  # ECS JSON Lines for the SIEM
output-dir = "/var/lib/nscheck/reports"    # <host>.json / <host>.md per appliance
quiet = true                               # print only what changed: cron mails only then
fail-on = "high"
grace-period = 20                          # seconds in-flight hosts get after SIGTERM/SIGINT
concurrency = 50
"""


def test_readme_example_loads(tmp_path: Path) -> None:
    cfg = tmp_path / "scan.toml"
    cfg.write_text(README_EXAMPLE)
    o = merge(ScanOptions(), load(cfg))
    assert o.input_files == ("/etc/nscheck/targets.txt",) and o.state == "/var/lib/nscheck/state.db"
    assert o.lock == "/var/lib/nscheck/nscheck.lock" and o.output_dir == "/var/lib/nscheck/reports"
    assert o.quiet and o.grace_period == 20.0 and o.concurrency == 50 and o.fail_on == "high"
