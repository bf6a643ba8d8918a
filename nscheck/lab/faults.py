"""Misbehaving hosts, for testing that one bad host never hurts a scan.

Connection-level faults (``refused``, ``silent``, ``reset``, ``broken_tls``) are raw TCP
handlers that never speak HTTP; HTTP-level faults (``drip``, ``endless``, ``gzip_bomb``,
``redirect``) are sites served over the normal TLS/HTTP stack.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import zlib
from collections.abc import AsyncIterator
from functools import lru_cache

from nscheck.lab.http import Request, Response
from nscheck.lab.profiles import Profile
from nscheck.lab.sites import Site

__all__ = ["CONNECTION_FAULTS", "connection_fault_handler", "fault_site", "gzip_bomb_body"]

CONNECTION_FAULTS = ("refused", "silent", "reset", "broken_tls")
# TLS alert record: level fatal (2), description handshake_failure (40).
_TLS_HANDSHAKE_FAILURE = b"\x15\x03\x01\x00\x02\x02\x28"
BOMB_INFLATED = 128 * 1024 * 1024


@lru_cache(maxsize=1)
def gzip_bomb_body() -> bytes:
    """A gzip member of ``BOMB_INFLATED`` zero bytes (about 128 KiB on the wire).

    One MiB of zeros is compressed once and ended with a full flush, which makes its blocks
    byte-aligned and free of back-references, so the same bytes can simply be repeated."""
    block = bytes(1 << 20)
    co = zlib.compressobj(9, zlib.DEFLATED, -15)
    unit = co.compress(block) + co.flush(zlib.Z_FULL_FLUSH)
    count = BOMB_INFLATED // len(block)
    crc = 0
    for _ in range(count):
        crc = zlib.crc32(block, crc)
    final_empty_block = b"\x03\x00"
    return (b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\x03" + unit * count + final_empty_block
            + struct.pack("<II", crc & 0xFFFFFFFF, BOMB_INFLATED & 0xFFFFFFFF))


async def _silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    # Read and discard whatever arrives; never answer. Ends at EOF or when the lab stops.
    try:
        while await reader.read(65536):
            pass
    except (ConnectionError, OSError):
        pass
    finally:
        writer.close()


async def _reset(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(TimeoutError, ConnectionError, OSError):
        await asyncio.wait_for(reader.read(65536), 2.0)
    sock = writer.get_extra_info("socket")
    if sock is not None:
        # SO_LINGER with a zero timeout turns close() into a RST.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


async def _broken_tls(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        await asyncio.wait_for(reader.read(65536), 2.0)
        writer.write(_TLS_HANDSHAKE_FAILURE)
        await writer.drain()
    except (TimeoutError, ConnectionError, OSError):
        pass
    finally:
        writer.close()


def connection_fault_handler(fault: str):
    return {"silent": _silent, "reset": _reset, "broken_tls": _broken_tls}[fault]


class DripSite(Site):
    """Headers at once, then the body one byte every ``drip_ms`` (default 100 ms)."""

    async def respond(self, req: Request) -> Response:
        delay = float(self.profile.opt("drip_ms", 100)) / 1000.0
        body = (b"<html><head><title>Loading</title></head><body>" + b"." * 4000 + b"</body></html>\n")

        async def drip() -> AsyncIterator[bytes]:
            for i in range(len(body)):
                await asyncio.sleep(delay)
                yield body[i : i + 1]

        return Response(200, [("Content-Type", "text/html")], stream=drip, stream_length=len(body))


class EndlessSite(Site):
    async def respond(self, req: Request) -> Response:
        chunk = b"<p>" + b"x" * 16377 + b"</p>\n"

        async def forever() -> AsyncIterator[bytes]:
            while True:
                yield chunk
                await asyncio.sleep(0)

        return Response(200, [("Content-Type", "text/html")], stream=forever)


class GzipBombSite(Site):
    async def respond(self, req: Request) -> Response:
        loop = asyncio.get_running_loop()
        body = await loop.run_in_executor(None, gzip_bomb_body)
        return Response(200, [("Content-Type", "text/html"), ("Content-Encoding", "gzip")], body)


class RedirectSite(Site):
    """Every path redirects to the same path on another host (``redirect_to``: a lab target
    name; default: a sibling picked by the lab)."""

    async def respond(self, req: Request) -> Response:
        base = self.resolve_url(str(self.profile.opt("redirect_to", ""))).rstrip("/")
        loc = base + req.target if req.target.startswith("/") else base + "/"
        body = f'<html><body>Moved <a href="{loc}">here</a></body></html>\n'.encode()
        return Response(302, [("Location", loc), ("Content-Type", "text/html")], body)


def fault_site(profile: Profile) -> Site:
    cls = {"drip": DripSite, "endless": EndlessSite, "gzip_bomb": GzipBombSite, "redirect": RedirectSite}.get(
        profile.fault or "")
    if cls is None:
        raise ValueError(f"profile {profile.name}: fault {profile.fault!r} is not served over HTTP")
    return cls(profile)
