"""The floor: the same requests nscheck sent, per host, with a plain ``httpx.AsyncClient``.

Reads a request plan (JSON Lines, one host per line: ``{"base": URL, "requests": [[METHOD,
PATH_OR_URL, {headers}], ...]}``), runs ``--concurrency`` hosts at once, each host's requests
one after another on the shared pool (as nscheck does), reads every body and does nothing
with it. Prints one JSON object with what it did. Not part of the package: it may import httpx.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import ssl
import sys
import time
from typing import Any

import httpx
from _plan import iter_plan


def _url(base: str, p: str) -> str:
    return p if p.startswith(("http://", "https://")) else base + (p if p.startswith("/") else "/" + p)


async def main_async(plan: str, concurrency: int, timeout: float, pool: str = "per-host") -> dict[str, Any]:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    limits = httpx.Limits(max_connections=concurrency + 4, max_keepalive_connections=min(concurrency, 100),
                          keepalive_expiry=5.0)
    stats = {"hosts": 0, "requests": 0, "answered": 0, "failed": 0, "bytes": 0}
    queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue(maxsize=concurrency * 2)

    def new_client(lim: httpx.Limits) -> httpx.AsyncClient:
        return httpx.AsyncClient(verify=ctx, timeout=httpx.Timeout(timeout), limits=lim, follow_redirects=False,
                                 trust_env=False)

    async with new_client(limits) as shared:

        async def one_host(client: httpx.AsyncClient, host: dict[str, Any]) -> None:
            for method, path, headers in host["requests"]:
                stats["requests"] += 1
                try:
                    r = await client.request(method, _url(host["base"], path), headers=headers or None)
                    stats["answered"] += 1
                    stats["bytes"] += len(r.content)
                except httpx.HTTPError:
                    stats["failed"] += 1

        async def worker() -> None:
            while (host := await queue.get()) is not None:
                stats["hosts"] += 1
                if pool == "shared":
                    await one_host(shared, host)
                else:
                    async with new_client(httpx.Limits(max_connections=1, max_keepalive_connections=1)) as own:
                        await one_host(own, host)

        workers = [asyncio.create_task(worker()) for _ in range(concurrency)]
        for host in iter_plan(plan):
            await queue.put(host)
        for _ in workers:
            await queue.put(None)
        await asyncio.gather(*workers)
    return stats


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--plan", required=True)
    ap.add_argument("--concurrency", type=int, default=100)
    ap.add_argument("--timeout", type=float, default=5.0)
    ap.add_argument("--pool", choices=("per-host", "shared"), default="per-host",
                    help="per-host: one small client per host (the fastest way to use httpx here); "
                    "shared: one client and pool for the whole run")
    a = ap.parse_args(argv)
    t0 = time.perf_counter()
    stats = asyncio.run(main_async(a.plan, a.concurrency, a.timeout, a.pool))
    stats["pool"] = a.pool
    stats["wall_s"] = round(time.perf_counter() - t0, 3)
    json.dump(stats, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
