"""Per-host pipeline and runner, with respx (no sockets)."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
import respx
from scan_fakes import AAA_PAGE, CLONE_PAGE, GATEWAY_PAGE, PLAIN_PAGE, rdx_gz, rdx_zeroed, resp

from nscheck.model import HostStatus
from nscheck.options import ScanOptions
from nscheck.report.base import RunInfo, RunSummary
from nscheck.runner import _host_status, load_signatures, scan_async, scan_host, scan_hosts
from nscheck.targets import parse_target

OPTS = ScanOptions(timeout=2.0, host_deadline=10.0, retries=0, indicators=False)


def gateway_routes(mock: respx.MockRouter, host: str, *, stamp: int | None = 1535167752, zeroed: bool = False,
                   deb_size: int | None = None) -> None:
    base = f"https://{host}"
    mock.get(f"{base}/").respond(302, headers={"Location": "/vpn/index.html"})
    mock.get(f"{base}/vpn/index.html").respond(200, content=GATEWAY_PAGE,
                                               headers={"Set-Cookie": "NSC_TEMP=xyz;Path=/;expires=Wednesday, 09-Nov-1999 23:12:40 GMT"})
    mock.get(f"{base}/logon/LogonPoint/tmindex.html").respond(200, content=AAA_PAGE)
    body = rdx_zeroed() if zeroed else rdx_gz(stamp or 0)
    mock.get(f"{base}/vpn/js/rdx/core/lang/rdx_en.json.gz").respond(200, content=body)
    if deb_size:
        mock.get(f"{base}/epa/scripts/linux/nsepa.deb").respond(
            206, content=b"!", headers={"Content-Range": f"bytes 0-0/{deb_size}"})
    mock.route(host=host).respond(404, content=b"not found")


@respx.mock(assert_all_called=False)
def test_gateway_exact_build_and_roles(respx_mock: respx.MockRouter) -> None:
    gateway_routes(respx_mock, "gw.example")
    [r] = scan_hosts(["gw.example"], OPTS)
    d = r.to_dict()
    assert d["schema"] == "nscheck.host/1" and d["status"] == "ok" and d["url"] == "https://gw.example"
    assert d["product"]["is_netscaler"] is True
    assert set(d["product"]["roles"]) == {"gateway", "aaa"}
    assert d["build"]["exact"] is True and d["build"]["release"] == "12.1" and d["build"]["build"] == "49.23"
    # early exit: no EPA probes once the exact build is known
    methods = [req.method for req, _ in respx_mock.calls]
    urls = [str(req.url) for req, _ in respx_mock.calls]
    assert set(methods) <= {"GET", "HEAD"}
    assert not any("nsepa" in u or "pluginlist" in u for u in urls)
    assert d["requests_sent"] == len(urls)
    assert d["advisories"], "advisories are assessed for a NetScaler with a build"
    json.dumps(d)


@respx.mock(assert_all_called=False)
def test_zeroed_stamp_with_epa_floor(respx_mock: respx.MockRouter) -> None:
    gateway_routes(respx_mock, "new.example", zeroed=True, deb_size=10688726)
    [r] = scan_hosts(["new.example"], OPTS)
    assert r.product.is_netscaler is True
    b = r.build
    assert b is not None and not b.exact and b.build is None
    assert b.release == "14.1" and b.floor and "14.1-73.37" in b.floor
    assert b.candidates and all(c.startswith("14.1-") for c in b.candidates)
    # open-ended candidate set: never claims "vulnerable" from unlisted newer builds
    assert all(a.verdict.value != "vulnerable" for a in r.advisories)


@respx.mock(assert_all_called=False)
def test_not_netscaler_skips_build_probes(respx_mock: respx.MockRouter) -> None:
    respx_mock.get("https://web.example/").respond(200, content=PLAIN_PAGE)
    respx_mock.route(host="web.example").respond(404)
    [r] = scan_hosts(["web.example"], OPTS)
    assert r.status is HostStatus.OK and r.product.is_netscaler is False and r.build is None
    assert r.verdict.value == "not_netscaler"
    assert not any("rdx_en" in str(req.url) for req, _ in respx_mock.calls)
    assert r.requests_sent <= 5


@respx.mock(assert_all_called=False)
def test_phishing_clone_title_alone_is_not_enough(respx_mock: respx.MockRouter) -> None:
    respx_mock.get("https://clone.example/").respond(200, content=CLONE_PAGE)
    respx_mock.get("https://clone.example/vpn/index.html").respond(200, content=CLONE_PAGE + b" ")
    respx_mock.route(host="clone.example").respond(404)
    [r] = scan_hosts(["clone.example"], OPTS)
    # probed the appliance-only resources, nothing confirmed it: a look-alike, not NetScaler
    assert r.product.is_netscaler is False and r.verdict.value == "not_netscaler"
    assert any("phishing clone" in e.detail for e in r.product.evidence)
    assert r.advisories == () and r.build is None
    urls = [str(req.url) for req, _ in respx_mock.calls]
    assert any("rdx_en.json.gz" in u for u in urls) and any("AccessGateway.ico" in u for u in urls)


@respx.mock(assert_all_called=False)
def test_catch_all_host_infers_nothing(respx_mock: respx.MockRouter) -> None:
    respx_mock.route(host="any.example").respond(200, content=GATEWAY_PAGE)
    [r] = scan_hosts(["any.example"], OPTS)
    assert r.product.is_netscaler is not True
    assert any(e.method == "catch_all" for e in r.product.evidence)


@respx.mock(assert_all_called=False)
def test_unreachable_and_error_statuses(respx_mock: respx.MockRouter) -> None:
    respx_mock.route(host="down.example").mock(side_effect=httpx.ConnectError("[Errno 111] Connection refused"))
    respx_mock.route(host="garbage.example").mock(side_effect=httpx.RemoteProtocolError("illegal status line"))
    gateway_routes(respx_mock, "gw.example")
    res = {r.target: r for r in scan_hosts(["down.example", "garbage.example", "gw.example"], OPTS)}
    assert res["down.example"].status is HostStatus.UNREACHABLE and "refused" in (res["down.example"].error or "")
    assert res["down.example"].requests_sent == 1
    assert res["garbage.example"].status is HostStatus.ERROR and "invalid HTTP" in (res["garbage.example"].error or "")
    assert res["gw.example"].status is HostStatus.OK and res["gw.example"].build is not None


@respx.mock(assert_all_called=False)
def test_retries_only_on_connect_errors(respx_mock: respx.MockRouter) -> None:
    respx_mock.route(host="down.example").mock(side_effect=httpx.ConnectError("Connection refused"))
    respx_mock.route(host="slow.example").mock(side_effect=httpx.ReadTimeout("timed out"))
    res = {r.target: r for r in scan_hosts(["down.example", "slow.example"], OPTS.with_(retries=2))}
    assert res["down.example"].requests_sent == 3
    assert res["slow.example"].requests_sent == 1
    assert res["slow.example"].status is HostStatus.UNREACHABLE


def test_host_status_rules() -> None:
    ok = resp("https://h/", 200, b"x")
    assert _host_status([ok])[0] is HostStatus.OK
    assert _host_status([resp("https://h/", None, error="DNS resolution failed", error_kind="dns")])[0] is HostStatus.UNREACHABLE
    st, why = _host_status([resp("https://h/", None, error="TLS handshake failed: x", error_kind="tls")])
    assert st is HostStatus.ERROR and "TLS" in (why or "")
    st, why = _host_status([resp("https://h/", 302, error="too many redirects (more than 3)", error_kind="redirect")])
    assert st is HostStatus.ERROR and "redirect loop" in (why or "")
    st, why = _host_status([ok, resp("https://h/x", None, error="host deadline reached", error_kind="deadline")])
    assert st is HostStatus.ERROR and "deadline" in (why or "")


class _Sink:
    def __init__(self) -> None:
        self.opened = self.closed = 0
        self.hosts: list[str] = []

    def open(self, run: RunInfo) -> None:
        self.opened += 1

    def host(self, result) -> None:  # type: ignore[no-untyped-def]
        self.hosts.append(result.target)

    def close(self, summary: RunSummary) -> None:
        self.closed += 1
        self.summary = summary


@respx.mock(assert_all_called=False)
def test_scan_async_streams_and_stops(respx_mock: respx.MockRouter) -> None:
    respx_mock.route().respond(404)
    sink = _Sink()
    stop = asyncio.Event()
    launched: list[str] = []

    def gen():  # type: ignore[no-untyped-def]
        for i in range(50):
            if i == 5:
                stop.set()
            launched.append(str(i))
            yield from parse_target(f"h{i}.example")

    summary = asyncio.run(scan_async(gen(), OPTS.with_(concurrency=2), [sink], stop))
    assert sink.opened == sink.closed == 1
    assert summary.partial is True
    assert len(sink.hosts) == summary.hosts <= 6
    assert len(launched) <= 7  # lazily pulled: the generator was not drained


@respx.mock(assert_all_called=False)
def test_scan_host_never_raises(respx_mock: respx.MockRouter, monkeypatch: pytest.MonkeyPatch) -> None:
    import nscheck.fingerprint.engine as eng

    async def boom(*a, **k):  # type: ignore[no-untyped-def]
        raise RuntimeError("kaboom")

    monkeypatch.setattr(eng, "fingerprint_host", boom)
    from nscheck.probe.client import ProbeClient

    async def go():  # type: ignore[no-untyped-def]
        async with ProbeClient(OPTS) as pc:
            return await scan_host(next(parse_target("x.example")), pc, OPTS, load_signatures(OPTS))

    r = asyncio.run(go())
    assert r.status is HostStatus.ERROR and "kaboom" in (r.error or "")


def test_cli_json_and_dry_run(capsys: pytest.CaptureFixture[str]) -> None:
    from nscheck.runner import run

    rc = run(ScanOptions(targets=("gw.example:4443", "https://portal.example/base/"), dry_run=True))
    out = capsys.readouterr().out
    assert rc == 0
    assert "GET https://gw.example:4443/vpn/js/rdx/core/lang/rdx_en.json.gz" in out
    assert "Range: bytes=0-0" in out and "User-Agent: nscheck/" in out
    assert "GET https://portal.example/base/" in out
    assert not any(line.startswith(("POST", "PUT", "DELETE")) for line in out.splitlines())


@respx.mock(assert_all_called=False)
def test_run_json_contract(respx_mock: respx.MockRouter, capsys: pytest.CaptureFixture[str]) -> None:
    from nscheck.runner import run

    gateway_routes(respx_mock, "gw.example")
    respx_mock.route(host="down.example").mock(side_effect=httpx.ConnectError("Connection refused"))
    rc = run(OPTS.with_(targets=("gw.example", "down.example", "bad target!"), format="json"))
    cap = capsys.readouterr()
    data = json.loads(cap.out)
    assert [d["target"] for d in sorted(data, key=lambda d: d["target"])] == ["down.example", "gw.example"]
    for d in data:
        for k in ("schema", "target", "url", "status", "error", "product", "build", "advisories", "indicators",
                  "requests_sent", "duration_ms"):
            assert k in d
    assert "bad target!" in cap.err
    assert rc in (0, 1)


@respx.mock(assert_all_called=False)
def test_tasks_stay_bounded_by_concurrency(respx_mock: respx.MockRouter) -> None:
    respx_mock.route().respond(404, content=b"nope")
    peak = 0

    class Watch(_Sink):
        def host(self, result) -> None:  # type: ignore[no-untyped-def]
            nonlocal peak
            peak = max(peak, len(asyncio.all_tasks()))
            super().host(result)

    def gen():  # type: ignore[no-untyped-def]
        for i in range(300):
            yield from parse_target(f"h{i}.bulk.example")

    sink = Watch()
    summary = asyncio.run(scan_async(gen(), OPTS.with_(concurrency=8), [sink]))
    assert summary.hosts == 300 and len(set(sink.hosts)) == 300
    assert peak <= 8 + 2, peak  # host tasks + the main task: never one task per target


def test_broken_fingerprint_tables_are_a_usage_error(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    import shutil
    from pathlib import Path

    from nscheck.runner import run

    src = Path(__file__).resolve().parents[1] / "signatures" / "fingerprints"
    dst = tmp_path / "fingerprints"
    shutil.copytree(src, dst)
    f = dst / "netscaler_release_dates.csv"
    f.chmod(0o644)
    f.write_text(f.read_text() + "14.1-47.46,standard,yesterday,me,high,\n")
    rc = run(OPTS.with_(targets=("gw.example",), signatures=str(tmp_path), format="json"))
    err = capsys.readouterr().err
    assert rc == 64
    assert "netscaler_release_dates.csv:" in err and "release_date" in err and "Traceback" not in err


@respx.mock(assert_all_called=False)
def test_indicators_only_skips_build_and_assessment(respx_mock: respx.MockRouter) -> None:
    gateway_routes(respx_mock, "gw.example")
    [r] = scan_hosts(["gw.example"], OPTS.with_(indicators_only=True))
    assert r.product.is_netscaler is True and r.build is None and r.advisories == ()
    assert not any("rdx_en" in str(req.url) for req, _ in respx_mock.calls)
    assert any(s.what == "build" and "--indicators-only" in s.reason for s in r.skipped)


def test_broken_advisory_data_is_a_usage_error_not_a_silent_gap(tmp_path, capsys) -> None:
    """A scan with unreadable bulletins must not run and call hosts 'unknown' for a data bug."""
    import shutil

    from nscheck.cli import main
    from nscheck.paths import signatures_dir

    sigs = tmp_path / "sigs"
    shutil.copytree(signatures_dir(), sigs)
    (sigs / "advisories" / "CTX693420.yaml").write_text("id: CTX693420\ntrains: [\n", encoding="utf-8")
    with pytest.raises(SystemExit) as e:
        main(["scan", "127.0.0.1:9", "--signatures", str(sigs), "--no-progress"])
    assert e.value.code == 64
    assert "CTX693420.yaml" in capsys.readouterr().err
