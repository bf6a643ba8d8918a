"""Per-host parallelism (``--per-host-connections``) and uvloop change nothing but timings.

The lab (every profile of the ``full`` and ``indicators`` presets, without the faults that only
cost time) is scanned twice with full checks: one request at a time per host on the stdlib
event loop, and with the default per-host parallelism on the default loop. Host documents and
ECS lines must be the same, apart from timings, run/event ids and the random path token; so
must the requests sent per host (the same requests, only in flight together). A generous host
deadline keeps time out of the verdicts (a loaded CI machine must not decide which host hits
its deadline first).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import io
import json
import re
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from nscheck.options import ScanOptions

pytestmark = pytest.mark.lab

lab_mod = pytest.importorskip("nscheck.lab")
SLOW_FAULTS = {"silent", "drip", "endless"}  # only time: a timeout is a timeout either way
_TOKEN = re.compile(r"nscheck-[0-9a-f]{12}")
_RUN = re.compile(r"\brun [0-9a-f]{32}\b")  # the run id in the run event's message
_TIMING = {"@timestamp", "created", "duration", "duration_ms", "started", "ended", "start", "end", "run_id", "report_id", "id"}


@pytest.fixture(scope="module")
def lab() -> Iterator[Any]:
    profiles = [p for p in lab_mod.preset("full") if p.fault not in SLOW_FAULTS]
    names = {p.name for p in profiles}
    profiles += [p for p in lab_mod.preset("indicators") if p.name not in names]
    with lab_mod.start_lab(profiles) as running:
        yield running


def _scrub(x: Any) -> Any:
    if isinstance(x, dict):
        return {k: ("*" if k in _TIMING else _scrub(v)) for k, v in x.items()}
    if isinstance(x, list):
        return [_scrub(v) for v in x]
    if isinstance(x, str):
        return _RUN.sub("run *", _TOKEN.sub("nscheck-*", x))
    return x


def _scan(lab: Any, tmp: Path, monkeypatch: pytest.MonkeyPatch, loop: str, *flags: str) -> tuple[list[str], list[str]]:
    from nscheck.cli import main

    monkeypatch.setenv("NSCHECK_LOOP", loop)
    ecs = tmp / f"ecs-{loop}-{'-'.join(flags) or 'default'}.jsonl"
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()), pytest.raises(SystemExit) as ex:
        main(["scan", *lab.target_urls, "--format", "jsonl", "--jsonl", str(ecs), "--no-progress", "--fail-on", "none",
              "-c", "32", "--timeout", "3", "--host-deadline", "60", "--retries", "0", *flags])
    assert ex.value.code == 0
    hosts = sorted(json.dumps(_scrub(json.loads(ln)), sort_keys=True) for ln in out.getvalue().splitlines() if ln.strip())
    events = sorted(json.dumps(_scrub(json.loads(ln)), sort_keys=True) for ln in ecs.read_text().splitlines() if ln.strip())
    return hosts, events


def test_default_parallelism_is_more_than_one() -> None:
    assert 2 <= ScanOptions().per_host_connections <= 4  # polite, and measured (bench/README.md)


def test_parallel_scan_on_uvloop_equals_one_request_at_a_time(lab: Any, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    seq_hosts, seq_events = _scan(lab, tmp_path, monkeypatch, "asyncio", "--per-host-connections", "1")
    par_hosts, par_events = _scan(lab, tmp_path, monkeypatch, "auto")
    assert len(seq_hosts) == len(lab.targets)
    docs = [json.loads(h) for h in seq_hosts]
    # the comparison covers what matters: NetScalers with indicator hits, scripts and paths checked
    assert sum(1 for d in docs if d["indicators"]) >= 1
    assert sum(d["requests_sent"] for d in docs) > 20 * len(docs) // 2
    assert par_hosts == seq_hosts
    assert par_events == seq_events


# -- the per-host fetcher: one request per distinct URL, the budget under parallel callers ----------


class _Handler(BaseHTTPRequestHandler):
    hits: Counter[str]

    def log_message(self, *a: object) -> None:
        pass

    def do_GET(self) -> None:
        self.hits[self.path] += 1
        if self.path == "/r":
            self._send(302, b"", [("Location", "/page")])
        elif self.path == "/cookie" and "check=1" not in (self.headers.get("Cookie") or ""):
            self._send(302, b"", [("Location", "/cookie"), ("Set-Cookie", "check=1; Path=/")])
        else:
            time.sleep(0.1)  # long enough for callers in parallel to overlap
            self._send(200, f"page {self.path}".encode())

    def _send(self, status: int, body: bytes, headers: Sequence[tuple[str, str]] = ()) -> None:
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture()
def site() -> Iterator[tuple[str, Counter[str]]]:
    hits: Counter[str] = Counter()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), type("H", (_Handler,), {"hits": hits}))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", hits
    finally:
        httpd.shutdown()
        httpd.server_close()


def _with_fetcher(url: str, opts: ScanOptions, go: Callable[[Any], Awaitable[Any]]) -> tuple[Any, Any]:
    from nscheck.probe.client import ProbeClient
    from nscheck.targets import parse_target

    async def run() -> tuple[Any, Any]:
        async with ProbeClient(opts) as pc:
            f = pc.fetcher(next(iter(parse_target(url))))
            try:
                return await go(f), f
            finally:
                await f.aclose()

    return asyncio.run(run())


OPTS = ScanOptions(timeout=3.0, host_deadline=10.0, retries=0, per_host_connections=4)


def test_a_url_asked_twice_is_sent_once_even_in_flight(site: tuple[str, Counter[str]]) -> None:
    """A redirect hop to a page that is also asked for directly, at the same time, and a later
    repeat: one request each on the wire, the same answer for every caller."""
    url, hits = site
    from nscheck.probe.parallel import gather

    async def go(f: Any) -> list[Any]:
        first = await gather(f, [lambda: f.get("/r"), lambda: f.get("/page"), lambda: f.get("/page")])
        return [*first, await f.get("/page")]

    (via, direct, twin, later), f = _with_fetcher(url, OPTS, go)
    assert hits["/page"] == 1 and hits["/r"] == 1
    assert f.requests_sent == 2
    assert via.redirects == (f"{url}/page",) and via.body == direct.body == twin.body == later.body == b"page /page"


def test_a_redirect_back_to_the_same_url_is_asked_again(site: tuple[str, Counter[str]]) -> None:
    """A cookie check (set a cookie, redirect to the same URL) still reaches the page."""
    url, hits = site
    r, f = _with_fetcher(url, OPTS, lambda f: f.get("/cookie"))
    assert r.status == 200 and r.body == b"page /cookie"
    assert hits["/cookie"] == 2 and f.requests_sent == 2


def test_parallel_callers_never_exceed_the_request_budget(site: tuple[str, Counter[str]]) -> None:
    url, hits = site
    from nscheck.probe.parallel import gather

    async def go(f: Any) -> list[Any]:
        return await gather(f, [functools.partial(f.get, f"/p{i}") for i in range(7)])

    answers, f = _with_fetcher(url, OPTS.with_(request_budget=3), go)
    assert f.requests_sent == 3 == sum(hits.values())
    assert [a.status for a in answers].count(200) == 3
    assert [a.error_kind for a in answers if a.status is None] == ["budget"] * 4


@pytest.mark.parametrize("budget", [6, 8, 11, 40])
def test_indicator_paths_in_parallel_judge_like_one_at_a_time(budget: int) -> None:
    """Path probing with four in flight stops, skips and finds exactly what one request at a time
    does, and spends no more of the budget (respx: every path answers 200 with its own page, so
    each directory needs its soft-404 baseline)."""
    import httpx
    import respx

    from nscheck.assess.indicators import check_host

    def answer(request: httpx.Request) -> httpx.Response:
        name = request.url.path.rsplit("/", 1)[-1]
        if name.startswith("nscheck-"):
            return httpx.Response(404, text="not found")
        return httpx.Response(200, text=f"<?php {name} ?>")

    def scan(n: int) -> tuple[Any, int]:
        from nscheck.probe.client import ProbeClient
        from nscheck.targets import Target

        opts = ScanOptions(timeout=3.0, host_deadline=10.0, retries=0, per_host_connections=n, request_budget=budget)
        names = iter(f"nscheck-{i:012x}" for i in range(1000))

        async def run() -> tuple[Any, int]:
            with respx.mock(assert_all_called=False) as mock:
                mock.route().mock(side_effect=answer)
                async with ProbeClient(opts) as pc:
                    f = pc.fetcher(Target("gw.example.test", "https", "gw.example.test", 443), 30.0)
                    got = await check_host(f, (), roles=("gateway",), random_name=lambda: next(names))
                    return got, f.requests_sent

        return asyncio.run(run())

    (seq, seq_sent), (par, par_sent) = scan(1), scan(4)
    assert seq_sent <= budget and par_sent <= budget
    assert par == seq
    assert par_sent == seq_sent
