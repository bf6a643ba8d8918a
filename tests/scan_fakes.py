"""Shared fakes for the scan-engine tests: appliance pages and gzip bodies built in code."""

from __future__ import annotations

import gzip
import io

from nscheck.probe.types import HttpResponse

GATEWAY_PAGE = (
    b'<!DOCTYPE html><html><head><title class="_ctxstxt_NetscalerGateway">Citrix Gateway</title>'
    b'<link rel="SHORTCUT ICON" href="/vpn/images/AccessGateway.ico" type="image/vnd.microsoft.icon">'
    b'<script type="text/javascript" src="/vpn/js/rdx.js"></script>'
    b'<script type="text/javascript" src="/vpn/login.js"></script></head><body></body></html>'
)
AAA_PAGE = (
    b'<!DOCTYPE html><html><head><title class="_ctxstxt_NetscalerAAA">NetScaler AAA</title>'
    b'<link rel="ICON" href="receiver/images/common/icon_vpn.ico" /></head><body>'
    b'<span class="citrixCopyright _ctxstxt_CitrixCopyright"></span>'
    b'<script src="receiver/js/ctxs.core.min.js"></script></body></html>'
)
CLONE_PAGE = b"<html><head><title>Citrix Gateway</title></head><body>please log in</body></html>"
PLAIN_PAGE = b"<html><head><title>Welcome to nginx!</title></head><body>hello</body></html>"


def rdx_gz(stamp: int) -> bytes:
    buf = io.BytesIO()
    with gzip.GzipFile(filename="rdx_en.json.gz", mode="wb", fileobj=buf, mtime=stamp) as g:
        g.write(b'{"hello": "world"}' * 20)
    return buf.getvalue()


def rdx_zeroed() -> bytes:
    # gzip -n of an empty JSON object: no FNAME, MTIME 0 (about 23 bytes)
    return gzip.compress(b"{}", mtime=0)


def resp(key_url: str, status: int | None = 200, body: bytes = b"", headers: dict[str, str] | None = None,
         **kw: object) -> HttpResponse:
    hs = tuple((k.lower(), v) for k, v in (headers or {}).items())
    return HttpResponse("GET", key_url, status, hs, body, **kw)  # type: ignore[arg-type]
