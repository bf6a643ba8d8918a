"""The NITRO fetcher's safety envelope, with an in-memory transport (no network)."""

from __future__ import annotations

import asyncio
import json
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from nscheck.nitro.secret import Secret
from nscheck.options import ScanOptions
from nscheck.probe.client import ProbeClient

PW = "Pw-for-unit-tests-91"


def _run(handler: Any, paths: list[str], base: str = "https://nsip.example:8443") -> tuple[list[Any], list[httpx.Request], Any]:
    seen: list[httpx.Request] = []

    def h(req: httpx.Request) -> httpx.Response:
        seen.append(req)
        return handler(req)

    async def go() -> tuple[list[Any], Any]:
        async with ProbeClient(ScanOptions(retries=0), transport=httpx.MockTransport(h)) as pc:
            f = pc.nitro_fetcher(base, "ro", Secret(PW), 10.0, 20)
            out = [await f.get(p) for p in paths]
            return out, f

    out, f = asyncio.run(go())
    return out, seen, f


def _ok(doc: dict[str, Any], status: int = 200, **headers: str) -> httpx.Response:
    return httpx.Response(status, json=doc, headers=headers)


def test_headers_go_only_to_their_origin_and_redirects_are_answers() -> None:
    def handler(req: httpx.Request) -> httpx.Response:
        if req.url.path.endswith("/nsversion"):
            return httpx.Response(302, headers={"Location": "https://evil.example/nitro/v1/config/nsversion"})
        return _ok({"errorcode": 0, "message": "Done", "severity": "NONE"})

    out, seen, _ = _run(handler, ["/nitro/v1/config/nsversion", "https://evil.example/nitro/v1/config/lbvserver"])
    assert out[0].status == 302  # not followed
    assert [r.url.host for r in seen] == ["nsip.example"]  # the off-origin URL was refused, not sent
    assert out[1].status is None and "refused" in (out[1].error or "")
    r0 = seen[0]
    assert r0.method == "GET" and r0.headers["X-NITRO-USER"] == "ro" and r0.headers["X-NITRO-PASS"] == PW
    assert "cookie" not in {k.lower() for k in r0.headers}


def test_a_401_stops_all_further_requests() -> None:
    def handler(req: httpx.Request) -> httpx.Response:
        return _ok({"errorcode": 354, "message": "Invalid username or password", "severity": "ERROR"}, 401)

    out, seen, f = _run(handler, ["/nitro/v1/config/nsversion", "/nitro/v1/config/nshardware",
                                  "/nitro/v1/config/vpnvserver"])
    assert len(seen) == 1 and out[0].status == 401
    assert all(o.status is None and o.error_kind == "nitro_locked" for o in out[1:])
    assert f.locked


def test_head_and_other_methods_are_refused() -> None:
    async def go() -> None:
        async with ProbeClient(ScanOptions(), transport=httpx.MockTransport(lambda r: httpx.Response(200))) as pc:
            f = pc.nitro_fetcher("https://nsip.example", "ro", Secret(PW), 5.0, 5)
            with pytest.raises(ValueError):
                await f.head("/nitro/v1/config/nsversion")
            with pytest.raises(ValueError):
                await f._fetch("POST", "/nitro/v1/config/login", raw=False, byte_range=None, follow=False,
                               max_bytes=None)

    asyncio.run(go())


def test_errors_never_carry_the_password() -> None:
    def handler(req: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"boom with header {req.headers['X-NITRO-PASS']}")

    out, _, _ = _run(handler, ["/nitro/v1/config/nsversion"])
    assert out[0].status is None and PW not in (out[0].error or "") and "***" in (out[0].error or "")


def test_global_credentials_never_go_over_a_plain_http_fallback() -> None:
    from nscheck.nitro import _address
    from nscheck.nitro.credentials import NitroAccess
    from nscheck.targets import parse_target

    acc = NitroAccess("ro", Secret(PW), "--nitro-user")
    t = next(iter(parse_target("https://gw.example")))
    base, why = _address(t, SimpleNamespace(plain_http=True, base_url="http://gw.example"), acc)
    assert base is None and why and "plain http" in why
    base, _ = _address(t, SimpleNamespace(plain_http=False, base_url="https://gw.example:4443"), acc)
    assert base == "https://gw.example:4443"
    t_http = next(iter(parse_target("http://gw.example:8080")))  # the user wrote http: allowed
    base, _ = _address(t_http, SimpleNamespace(plain_http=False, base_url="http://gw.example:8080"), acc)
    assert base == "http://gw.example:8080"


def test_answers_are_parsed_as_nitro_envelopes() -> None:
    from nscheck.nitro.probe import _envelope, _items

    doc = _envelope(json.dumps({"errorcode": 0, "message": "Done", "severity": "NONE",
                                "nsversion": {"version": "NetScaler NS14.1: Build 47.46.nc"}}).encode())
    assert doc is not None and _items(doc, "nsversion") == [{"version": "NetScaler NS14.1: Build 47.46.nc"}]
    assert _items({"errorcode": 0}, "vpnvserver") == []  # no objects: no key at all
    assert _envelope(b"<html>login</html>") is None and _envelope(b"[1,2]") is None
    assert _envelope(b"[" * 100_000) is None  # deep nesting is refused, not a crash
