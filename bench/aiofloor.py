"""The fast-client floor: the same requests nscheck sent, per host, with aiohttp on uvloop.

Same plan file, concurrency and timeout as ``baseline.py`` (httpx), same shape: one small
session per host (one connection, requests one after another, as recorded), every body read
and dropped. aiohttp's HTTP parser is C and uvloop's transports are libuv: this is about the
least CPU a mature Python HTTP client spends per request, so ``scan / aiohttp`` says how far
nscheck (client plus its own work) is from what a Python scanner could reach on this machine.
Prints one JSON object with what it did. Not part of the package: nscheck never imports aiohttp
(it is in the ``test`` extra only).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import ssl
import sys
import time
from collections.abc import Callable
from typing import Any

import aiohttp
from _plan import iter_plan


def _url(base: str, p: str) -> str:
    return p if p.startswith(("http://", "https://")) else base + (p if p.startswith("/") else "/" + p)


def loop_factory(name: str) -> Callable[[], asyncio.AbstractEventLoop] | None:
    if name == "asyncio":
        return None
    try:
        import uvloop
    except ImportError:
        if name == "uvloop":
            raise
        return None
    return uvloop.new_event_loop


async def main_async(plan: str, concurrency: int, timeout: float) -> dict[str, Any]:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_ciphers("ALL:@SECLEVEL=0")
    stats = {"hosts": 0, "requests": 0, "answered": 0, "failed": 0, "bytes": 0}
    queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue(maxsize=concurrency * 2)
    tmo = aiohttp.ClientTimeout(total=None, connect=timeout, sock_read=timeout)

    async def one_host(host: dict[str, Any]) -> None:
        conn = aiohttp.TCPConnector(limit=1, ssl=ctx, force_close=False, enable_cleanup_closed=False)
        async with aiohttp.ClientSession(connector=conn, timeout=tmo, auto_decompress=True,
                                         cookie_jar=aiohttp.DummyCookieJar()) as s:
            for method, path, headers in host["requests"]:
                stats["requests"] += 1
                try:
                    async with s.request(method, _url(host["base"], path), headers=headers or None,
                                         allow_redirects=False) as r:
                        body = await r.read()
                    stats["answered"] += 1
                    stats["bytes"] += len(body)
                except (aiohttp.ClientError, TimeoutError, OSError, ValueError):
                    stats["failed"] += 1

    async def worker() -> None:
        while (host := await queue.get()) is not None:
            stats["hosts"] += 1
            await one_host(host)

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
    ap.add_argument("--loop", choices=("auto", "uvloop", "asyncio"), default="auto",
                    help="auto: uvloop when installed (the floor as the issue measured it), else asyncio's")
    a = ap.parse_args(argv)
    factory = loop_factory(a.loop)
    t0 = time.perf_counter()
    with asyncio.Runner(loop_factory=factory) as runner:
        stats: dict[str, Any] = runner.run(main_async(a.plan, a.concurrency, a.timeout))
    stats["loop"] = "uvloop" if factory is not None else "asyncio"
    stats["aiohttp"] = aiohttp.__version__
    stats["wall_s"] = round(time.perf_counter() - t0, 3)
    json.dump(stats, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
