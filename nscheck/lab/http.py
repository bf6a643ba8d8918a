"""A tiny HTTP/1.1 server core on asyncio streams: keep-alive, HEAD, single byte ranges,
fixed-length, virtual (sized, generated) and chunked streaming bodies.

Small on purpose: the lab must control exactly what goes on the wire (header spelling, missing
Content-Length on HEAD, chunking, drip), which general frameworks make hard.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from urllib.parse import unquote, urlsplit

__all__ = ["Request", "Response", "VirtualBody", "serve_http"]

_MAX_HEAD = 65536
_IDLE_S = 30.0
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


@dataclass(frozen=True)
class Request:
    method: str
    target: str
    path: str
    query: str
    version: str
    headers: dict[str, str]  # lower-cased names; repeated headers joined with ", "

    def header(self, name: str, default: str = "") -> str:
        return self.headers.get(name.lower(), default)


@dataclass(frozen=True)
class VirtualBody:
    """A body of ``size`` bytes produced on demand (large downloads without holding them)."""

    size: int
    read: Callable[[int, int], bytes]  # (start, end_exclusive) -> bytes


@dataclass
class Response:
    status: int = 200
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes | VirtualBody = b""
    stream: Callable[[], AsyncIterator[bytes]] | None = None  # overrides body
    stream_length: int | None = None  # None: chunked
    ranges: bool = False  # honour Range on this response
    head_length: bool = True  # send Content-Length on HEAD (nsepa.deb does not)
    close: bool = False

    def add(self, name: str, value: str) -> Response:
        self.headers.append((name, value))
        return self


Handler = Callable[[Request], Awaitable[Response]]


async def read_request(reader: asyncio.StreamReader) -> Request | None:
    """One request head (bodies of non-GET requests are drained and ignored). None at EOF."""
    try:
        raw = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), _IDLE_S)
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, ConnectionError):
        return None
    lines = raw.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/"):
        return None
    method, target, version = parts
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if not line or ":" not in line:
            continue
        k, v = line.split(":", 1)
        k = k.strip().lower()
        headers[k] = f"{headers[k]}, {v.strip()}" if k in headers else v.strip()
    length = headers.get("content-length", "0")
    if length.isdigit() and 0 < int(length) <= 1_000_000:
        try:
            await reader.readexactly(int(length))
        except (asyncio.IncompleteReadError, ConnectionError):
            return None
    split = urlsplit(target if target.startswith("/") else "/" + target.split("/", 3)[-1])
    return Request(method.upper(), target, unquote(split.path) or "/", split.query, version, headers)


def _parse_range(value: str, size: int) -> tuple[int, int] | bool | None:
    """(start, end_inclusive); None when absent or not understood (serve whole); False when
    unsatisfiable."""
    m = _RANGE.match(value.replace(" ", ""))
    if not m:
        return None
    a, b = m.groups()
    if a == "" and b == "":
        return None
    if a == "":
        n = int(b)
        if n == 0:
            return False
        return (max(0, size - n), size - 1)
    start = int(a)
    end = min(int(b), size - 1) if b else size - 1
    if start >= size or start > end:
        return False
    return (start, end)


def _slice(body: bytes | VirtualBody, start: int, end_excl: int) -> bytes:
    if isinstance(body, VirtualBody):
        return body.read(start, end_excl)
    return body[start:end_excl]


def _size(body: bytes | VirtualBody) -> int:
    return body.size if isinstance(body, VirtualBody) else len(body)


async def write_response(writer: asyncio.StreamWriter, req: Request, resp: Response) -> bool:
    """Write ``resp``; returns False when the connection must close afterwards."""
    status = resp.status
    headers = list(resp.headers)
    headers.insert(0, ("Date", email.utils.formatdate(usegmt=True)))
    keep = not resp.close and req.header("connection").lower() != "close" and req.version == "HTTP/1.1"
    head_only = req.method == "HEAD"
    body = resp.body
    start, end_excl = 0, _size(body)
    if resp.stream is None and resp.ranges and status == 200 and req.header("range"):
        r = _parse_range(req.header("range"), _size(body))
        if r is False:
            status = 416
            headers.append(("Content-Range", f"bytes */{_size(body)}"))
            body, start, end_excl = b"", 0, 0
        elif isinstance(r, tuple):
            status = 206
            headers.append(("Content-Range", f"bytes {r[0]}-{r[1]}/{_size(body)}"))
            start, end_excl = r[0], r[1] + 1
    chunked = False
    if resp.stream is not None:
        if resp.stream_length is not None:
            headers.append(("Content-Length", str(resp.stream_length)))
        elif not head_only:
            chunked = True
            headers.append(("Transfer-Encoding", "chunked"))
    elif not head_only or resp.head_length:
        headers.append(("Content-Length", str(end_excl - start)))
    headers.append(("Connection", "Keep-Alive" if keep else "close"))
    if keep:
        headers.append(("Keep-Alive", "timeout=15, max=100"))
    try:
        reason = HTTPStatus(status).phrase
    except ValueError:
        reason = "Unknown"
    head = f"HTTP/1.1 {status} {reason}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers) + "\r\n"
    writer.write(head.encode("latin-1"))
    if head_only:
        await writer.drain()
        return keep
    if resp.stream is not None:
        async for chunk in resp.stream():
            if not chunk:
                continue
            writer.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n" if chunked else chunk)
            await writer.drain()
        if chunked:
            writer.write(b"0\r\n\r\n")
        await writer.drain()
        return keep
    pos = start
    while pos < end_excl:
        nxt = min(end_excl, pos + 262144)
        writer.write(_slice(body, pos, nxt))
        await writer.drain()
        pos = nxt
    await writer.drain()
    return keep


async def serve_http(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, handler: Handler,
                     on_request: Callable[[Request], None], latency_s: float = 0.0) -> None:
    """Serve requests on one connection until close, EOF or an error."""
    try:
        while True:
            req = await read_request(reader)
            if req is None:
                break
            on_request(req)
            if req.method not in ("GET", "HEAD"):
                resp = Response(405, [("Allow", "GET, HEAD"), ("Content-Type", "text/html; charset=iso-8859-1")],
                                b"<html><body><h1>Method Not Allowed</h1></body></html>\n")
            else:
                resp = await handler(req)
            if latency_s > 0:
                await asyncio.sleep(latency_s)
            if not await write_response(writer, req, resp):
                break
    except (ConnectionError, asyncio.IncompleteReadError, OSError):
        pass
    finally:
        with contextlib.suppress(Exception):  # the transport may already be gone
            writer.close()
