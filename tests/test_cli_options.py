"""Options people bring from nuclei/httpx/grype/trivy: --no-color and NO_COLOR, -v/--verbose,
--rate-limit (a request cap in the probe layer), shell completion, readable help metavars and a
sensible command order."""

from __future__ import annotations

import asyncio
import dataclasses
import re

import pytest
import respx
from scan_fakes import GATEWAY_PAGE, rdx_gz

from nscheck.cli import main
from nscheck.options import ScanOptions
from nscheck.probe.ratelimit import RateLimiter, parse_rate
from nscheck.runner import scan_hosts

OPTS = ScanOptions(timeout=2.0, host_deadline=10.0, retries=0, indicators=False, no_progress=True)
_SGR = re.compile(r"\x1b\[([0-9;]*)m")


def run_cli(argv: list[str]) -> int:
    with pytest.raises(SystemExit) as e:
        main(argv)
    return int(e.value.code or 0)


def colour_codes(text: str) -> set[str]:
    """SGR parameters that set a colour (30-38, 40-48, 90-107), not bold/reset."""
    out: set[str] = set()
    for params in _SGR.findall(text):
        for p in params.split(";"):
            if p.isdigit() and (30 <= int(p) <= 48 or 90 <= int(p) <= 107):
                out.add(p)
    return out


def gateway(mock: respx.MockRouter, host: str) -> None:
    base = f"https://{host}"
    mock.get(f"{base}/").respond(302, headers={"Location": "/vpn/index.html"})
    mock.get(f"{base}/vpn/index.html").respond(200, content=GATEWAY_PAGE)
    mock.get(f"{base}/vpn/js/rdx/core/lang/rdx_en.json.gz").respond(200, content=rdx_gz(1535167752))
    mock.route(host=host).respond(404, content=b"not found")


# -- colour ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["--no-color first", "--no-color after the command", "NO_COLOR=1"])
def test_no_color(how: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("FORCE_COLOR", "1")  # as on a terminal
    monkeypatch.setenv("NO_COLOR", "")  # (and restored after the test: --no-color sets it)
    assert run_cli(["assess", "14.1-47.46"]) == 1
    assert colour_codes(capsys.readouterr().out), "the table is coloured on a terminal"
    if how == "NO_COLOR=1":
        monkeypatch.setenv("NO_COLOR", "1")
        argv = ["assess", "14.1-47.46"]
    elif how == "--no-color first":
        argv = ["--no-color", "assess", "14.1-47.46"]
    else:
        argv = ["assess", "14.1-47.46", "--no-color"]
    assert run_cli(argv) == 1
    out = capsys.readouterr().out
    assert "vulnerable" in out and not colour_codes(out)


# -- verbose --------------------------------------------------------------------------------------


@respx.mock(assert_all_called=False)
def test_verbose_is_one_line_per_request_without_secrets(respx_mock: respx.MockRouter,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    gateway(respx_mock, "gw.example")
    opts = dataclasses.replace(OPTS, verbose=True, headers=("Authorization: Bearer tok-SECRET-42",))
    [r] = scan_hosts(["gw.example"], opts)
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if re.match(r"nscheck: (GET|HEAD) https://gw\.example/", line)]
    assert len(lines) == r.requests_sent == len(respx_mock.calls) > 3
    assert any(" -> 302 " in line for line in lines) and any(" -> 200 " in line for line in lines)
    assert "tok-SECRET-42" not in err and "Authorization" not in err


def test_verbose_scrubs_a_credentialed_fetchers_error(capsys: pytest.CaptureFixture[str]) -> None:
    from nscheck.probe.client import ProbeClient
    from nscheck.probe.types import HttpResponse

    pc = ProbeClient(dataclasses.replace(OPTS, verbose=True))
    r = HttpResponse("GET", "https://gw.example/nitro/v1/config/nsversion", None, error="auth failed for hunter2-pass",
                     error_kind="protocol")
    pc.trace(r, lambda text: text.replace("hunter2-pass", "***"))
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "hunter2-pass" not in err and "***" in err


@respx.mock(assert_all_called=False)
def test_not_verbose_is_silent(respx_mock: respx.MockRouter, capsys: pytest.CaptureFixture[str]) -> None:
    gateway(respx_mock, "gw.example")
    scan_hosts(["gw.example"], OPTS)
    assert "GET https://" not in capsys.readouterr().err


# -- rate limit -----------------------------------------------------------------------------------


@pytest.mark.parametrize("text,rate", [("20/s", 20.0), ("20", 20.0), ("600/m", 10.0), ("0.5/s", 0.5), ("7200/h", 2.0),
                                       (5, 5.0), (2.5, 2.5)])
def test_parse_rate(text: str | float, rate: float) -> None:
    assert parse_rate(text) == rate


@pytest.mark.parametrize("text", ["0", "0/s", "-1", "fast", "10/fortnight", "/s", "", "1e9999", True])
def test_parse_rate_refuses(text: object) -> None:
    with pytest.raises(ValueError):
        parse_rate(text)  # type: ignore[arg-type]


class FrozenClock:
    """Time stands still; sleeps are recorded, not waited: slots are counted, never timed."""

    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, d: float) -> None:
        self.slept.append(d)


def test_limiter_spaces_concurrent_callers_one_slot_each() -> None:
    fc = FrozenClock()
    lim = RateLimiter(4.0, clock=fc.clock, sleep=fc.sleep)

    async def go() -> list[float]:
        return list(await asyncio.gather(*(lim.acquire() for _ in range(10))))

    waits = asyncio.run(go())
    assert sorted(waits) == [pytest.approx(k * 0.25) for k in range(10)]
    starts = sorted(fc.now + w for w in waits)
    for t in starts:  # any one-second window holds at most 4 starts (+1 at its closed end)
        assert sum(1 for s in starts if t <= s < t + 1.0) <= 4
    # idle time buys no burst: after a long pause the next caller goes at once, the one after waits
    fc.now += 60.0
    assert asyncio.run(lim.acquire()) == 0.0
    assert asyncio.run(lim.acquire()) == pytest.approx(0.25)


@respx.mock(assert_all_called=False)
def test_rate_limit_is_enforced_on_every_request_of_every_host(respx_mock: respx.MockRouter,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    import nscheck.probe.ratelimit as rl

    fc = FrozenClock()
    made: list[RateLimiter] = []

    class Counted(RateLimiter):
        def __init__(self, rate: float) -> None:
            super().__init__(rate, clock=fc.clock, sleep=fc.sleep)
            made.append(self)

    monkeypatch.setattr(rl, "RateLimiter", Counted)
    for host in ("gw1.example", "gw2.example", "gw3.example"):
        gateway(respx_mock, host)
    results = scan_hosts(["gw1.example", "gw2.example", "gw3.example"], dataclasses.replace(OPTS, rate_limit=5.0))
    assert len(made) == 1  # one limiter for the whole run, shared by every host
    sent = sum(r.requests_sent for r in results)
    assert made[0].granted == sent == len(respx_mock.calls)
    # the slots handed out are one every 1/5 s over all hosts together
    assert sorted(fc.slept) == [pytest.approx(k * 0.2) for k in range(1, sent)]
    assert all(r.status.value == "ok" for r in results)  # waiting for a slot did not eat host deadlines


def test_rate_limit_in_config(tmp_path: object) -> None:
    from pathlib import Path

    from nscheck.config import load

    cfg = Path(str(tmp_path)) / "c.toml"
    cfg.write_text('rate-limit = "120/m"\nverbose = true\n')
    assert load(cfg) == {"rate_limit": 2.0, "verbose": True}


# -- completion, help -------------------------------------------------------------------------------


@pytest.fixture
def named_shell(monkeypatch: pytest.MonkeyPatch) -> None:
    # typer otherwise detects the shell from the process tree (none under CI): name it instead
    monkeypatch.setenv("_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION", "1")


def test_show_completion(named_shell: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(["--show-completion", "bash"]) == 0
    assert "_nscheck_completion" in capsys.readouterr().out


def test_completion_protocol_completes_commands_and_flags(monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("_NSCHECK_COMPLETE", "complete_bash")
    monkeypatch.setenv("COMP_WORDS", "nscheck sc")
    monkeypatch.setenv("COMP_CWORD", "1")
    run_cli([])
    assert capsys.readouterr().out.split() == ["scan"]
    monkeypatch.setenv("COMP_WORDS", "nscheck scan --rate")
    monkeypatch.setenv("COMP_CWORD", "2")
    run_cli([])
    assert "--rate-limit" in capsys.readouterr().out.split()


def test_install_completion_writes_to_home(named_shell: None, monkeypatch: pytest.MonkeyPatch, tmp_path: object,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    from pathlib import Path

    home = Path(str(tmp_path))
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("SHELL", "/bin/bash")
    assert run_cli(["--install-completion", "bash"]) == 0
    assert "_nscheck_completion" in (home / ".bash_completions" / "nscheck.sh").read_text()


COMMANDS = [["scan"], ["assess"], ["triage"], ["report"], ["history"], ["ack"], ["lab"], ["demo"],
            ["signatures", "lint"], ["signatures", "list"], ["signatures", "info"], ["signatures", "roles"],
            ["signatures", "update"], ["signatures", "status"], ["signatures", "rollback"]]


@pytest.mark.parametrize("cmd", COMMANDS, ids=[" ".join(c) for c in COMMANDS])
def test_help_metavars_are_readable(cmd: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli([*cmd, "--help"]) == 0
    out = capsys.readouterr().out
    assert not re.search(r"list\[|<(str|int|float|bool|path|text)\b", out, re.I), out


def test_scan_help_names_files_numbers_and_seconds(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(["scan", "--help"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    for piece in ("-i, --input FILE", "--jsonl FILE", "--output-dir DIR", "-o, --output FILE", "-c, --concurrency N",
                  "--timeout SECONDS", "--rate-limit N/s", "--shard K/N", "[TARGET]..."):
        assert piece in out, piece
    assert run_cli(["assess", "--help"]) == 0
    assert "{BUILD}" in capsys.readouterr().out


def test_scan_comes_first_in_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(["--help"]) == 0
    out = capsys.readouterr().out
    commands = re.findall(r"^  (\w+)\s{2,}", out.split("Commands:", 1)[1], re.M)
    assert commands[:4] == ["scan", "assess", "triage", "report"]
    assert set(commands) >= {"history", "ack", "signatures", "lab", "demo"}
