"""Load the lab with the cheapest client there is, to show the lab is not the bottleneck.

Same plan file and concurrency as ``baseline.py``, but HTTP/1.1 written by hand on asyncio
streams: one keep-alive connection per host, no header objects, no URL parsing beyond the
minimum. Whatever this reaches is (close to) what the lab itself can serve on this machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import ssl
import sys
import time
from typing import Any
from urllib.parse import urlsplit

from _plan import iter_plan


async def _read_response(reader: asyncio.StreamReader, head_only: bool) -> tuple[int, bool]:
    """(body bytes, connection reusable)."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    hdrs = {}
    for ln in lines[1:]:
        k, _, v = ln.partition(":")
        hdrs[k.strip().lower()] = v.strip()
    keep = hdrs.get("connection", "").lower() != "close"
    if head_only or status in (204, 304) or 100 <= status < 200:
        return 0, keep
    if "content-length" in hdrs:
        n = int(hdrs["content-length"])
        await reader.readexactly(n)
        return n, keep
    if "chunked" in hdrs.get("transfer-encoding", "").lower():
        total = 0
        while True:
            size = int((await reader.readline()).split(b";")[0].strip() or b"0", 16)
            if size == 0:
                await reader.readuntil(b"\r\n")
                return total, keep
            await reader.readexactly(size + 2)
            total += size
    data = await reader.read()
    return len(data), False


async def main_async(plan: str, concurrency: int, timeout: float) -> dict[str, Any]:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_ciphers("ALL:@SECLEVEL=0")
    stats = {"hosts": 0, "requests": 0, "answered": 0, "failed": 0, "bytes": 0}
    queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue(maxsize=concurrency * 2)

    async def one_host(host: dict[str, Any]) -> None:
        base = urlsplit(host["base"])
        tls = base.scheme == "https"
        port = base.port or (443 if tls else 80)
        conn: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        try:
            for method, path, headers in host["requests"]:
                stats["requests"] += 1
                if path.startswith(("http://", "https://")):
                    p = urlsplit(path)
                    path = p.path + ("?" + p.query if p.query else "")
                req = f"{method} {path or '/'} HTTP/1.1\r\nHost: {base.netloc}\r\nAccept: */*\r\n"
                for k, v in (headers or {}).items():
                    req += f"{k}: {v}\r\n"
                try:
                    async with asyncio.timeout(timeout):
                        if conn is None:
                            conn = await asyncio.open_connection(base.hostname, port, ssl=ctx if tls else None)
                        conn[1].write((req + "\r\n").encode("latin-1"))
                        n, keep = await _read_response(conn[0], method == "HEAD")
                    stats["answered"] += 1
                    stats["bytes"] += n
                    if not keep:
                        conn[1].close()
                        conn = None
                except (OSError, TimeoutError, asyncio.IncompleteReadError, ValueError, IndexError, ssl.SSLError):
                    stats["failed"] += 1
                    if conn is not None:
                        conn[1].close()
                        conn = None
        finally:
            if conn is not None:
                conn[1].close()

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
    a = ap.parse_args(argv)
    t0 = time.perf_counter()
    stats = asyncio.run(main_async(a.plan, a.concurrency, a.timeout))
    stats["wall_s"] = round(time.perf_counter() - t0, 3)
    json.dump(stats, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
