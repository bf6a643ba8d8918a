"""Write the request plan for the baseline: every request nscheck sends to each host, in order.

Runs an ordinary scan (same options as the timed one) through ``nscheck.runner.scan_async``
with a ``ProbeClient`` whose fetchers note each attempt on the wire (method, URL, the headers
that change the answer: Range and Accept-Encoding). Retries are attempts too, so they are in the
plan. The plan is one JSON line per host (see ``_plan.py``). Untimed: it is also the warm-up.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from nscheck.options import ScanOptions
from nscheck.probe.client import HostFetcher, ProbeClient
from nscheck.runner import scan_async
from nscheck.targets import Target, iter_targets

_KEEP_HEADERS = ("Range", "Accept-Encoding")


class _RecordingFetcher(HostFetcher):
    def __init__(self, client: _RecordingClient, target: Target, deadline_s: float):
        super().__init__(client, target, deadline_s)
        self.plan: list[tuple[str, str, dict[str, str]]] = client.plans.setdefault(target.url, [])

    async def _send(self, method: str, url: str, *, raw: bool, byte_range: tuple[int, int] | None, cap: int,
                    t0: float) -> Any:
        hdrs = self.client.request_headers(raw=raw, byte_range=byte_range)
        keep = {k: hdrs[k] for k in _KEEP_HEADERS if k in hdrs}
        path = url[len(self.base_url):] if url.startswith(self.base_url) else url
        self.plan.append((method, path, keep))
        return await super()._send(method, url, raw=raw, byte_range=byte_range, cap=cap, t0=t0)


class _RecordingClient(ProbeClient):
    def __init__(self, opts: ScanOptions):
        super().__init__(opts)
        self.plans: dict[str, list[tuple[str, str, dict[str, str]]]] = {}

    def fetcher(self, target: Target, deadline_s: float | None = None) -> HostFetcher:
        return _RecordingFetcher(self, target, deadline_s if deadline_s is not None else self.opts.host_deadline)


class _Count:
    def __init__(self) -> None:
        self.requests = 0
        self.hosts = 0

    def open(self, run: Any) -> None:
        pass

    def host(self, result: Any) -> None:
        self.hosts += 1
        self.requests += result.requests_sent

    def close(self, summary: Any) -> None:
        pass


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--targets", required=True, help="targets file, one per line")
    ap.add_argument("--plan", required=True, help="where to write the plan (JSON Lines)")
    ap.add_argument("--concurrency", type=int, default=100)
    ap.add_argument("--timeout", type=float, default=5.0)
    a = ap.parse_args(argv)
    opts = ScanOptions(input_files=(a.targets,), concurrency=a.concurrency, timeout=a.timeout, quiet=True,
                       no_progress=True)
    targets = list(iter_targets(files=[a.targets]))
    client = _RecordingClient(opts)
    count = _Count()

    async def go() -> None:
        async with client:  # scan_async enters only a client it made itself
            await scan_async(targets, opts, [count], client=client)

    asyncio.run(go())
    with Path(a.plan).open("w", encoding="utf-8") as fh:
        for t in targets:
            fh.write(json.dumps({"base": t.url, "requests": client.plans.get(t.url, [])}) + "\n")
    recorded = sum(len(v) for v in client.plans.values())
    json.dump({"hosts": count.hosts, "requests_sent": count.requests, "requests_recorded": recorded}, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
