"""Issue 12: a hostile appliance attacks the scanner itself (loopback servers only).

Server content is parsed in linear time (one host cannot freeze the event loop for the others),
an https port that answers in plain HTTP never downgrades a --verify / -H scan, redirects never
carry userinfo, a proxy's 407 is an error, and proxy passwords never reach any output."""

from __future__ import annotations

import contextlib
import io
import json
from typing import Any

import pytest

from nscheck.fingerprint.methods import _epa_plugin

lab_mod = pytest.importorskip("nscheck.lab")
from nscheck.lab.profiles import Profile  # noqa: E402

FLOOD = "<plugin " + "a" * 60_000 + ">"  # ~60 KB of attribute-name characters, no "=": the worst case


def _scan(args: list[str]) -> tuple[int, list[dict[str, Any]], str]:
    from nscheck.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), pytest.raises(SystemExit) as ex:
        main(["scan", *args])
    code = ex.value.code if isinstance(ex.value.code, int) else 0
    return code, (json.loads(out.getvalue()) if out.getvalue().strip() else []), err.getvalue()


def test_plugin_parser_keeps_its_answers() -> None:
    xml = ('<repository><plugins/><plugin path="/x" version=\'25.5.1.15\' NAME="NetScaler Gateway EPA plug-in for '
           'Linux"/><plugin name="Netscaler Gateway EPA plug-in for Mac" version="26.1.1.3"></repository>')
    assert _epa_plugin(xml) == ("NetScaler Gateway EPA plug-in for Linux", "25.5.1.15")
    assert _epa_plugin('<PLUGIN version="1" name=\'Netscaler Gateway EPA plug-in\'>') == (
        "Netscaler Gateway EPA plug-in", "1")
    assert _epa_plugin('<plugin name="Other" version="1"><plugin name="x') is None
    # hostile shapes end at once with no answer: no closing quote, no closing bracket, floods
    for text in (FLOOD, "<plugin " * 20_000, '<plugin a="' + "a=\"" * 20_000 + ">", "<plugin a=" * 20_000 + ">"):
        assert _epa_plugin(text) is None


@pytest.mark.lab
def test_plugin_flood_on_one_host_does_not_stall_the_others() -> None:
    """The flood used to cost ~26 s of regex backtracking inside the event loop, so every other
    host of the scan ended with "host deadline reached". The deadline is generous for a loaded
    machine; what is asserted is that the good hosts get their verdicts, not how fast."""
    profiles = [
        Profile("gw-plugin-flood", build="14.1-73.37", roles=("gateway",),
                options={"rdx": "absent", "pluginlist_body": FLOOD}),
        *[Profile(f"gw-good-{i}", build=b, roles=("gateway",)) for i, b in enumerate(("14.1-43.50", "13.1-58.21",
                                                                                     "14.1-73.37"))],
    ]
    with lab_mod.start_lab(profiles, latency_ms=20) as lab:
        code, docs, err = _scan([*lab.target_urls, "--format", "json", "--no-indicators", "--timeout", "5",
                                 "--host-deadline", "20", "--retries", "0", "-c", "8"])
        flood_reqs = lab.requests_for("gw-plugin-flood")
    assert code in (0, 1), err
    assert any(path == "/vpn/pluginlist.xml" for _m, path in flood_reqs), flood_reqs  # the flood was read
    by = {d["target"]: d for d in docs}
    for t in lab.targets:
        d = by[t.url]
        assert d["status"] == "ok", (t.name, d["error"])
        assert d["product"]["is_netscaler"] is True
    assert all("deadline" not in (d.get("error") or "") for d in docs)


# -- loopback servers that misbehave on purpose ------------------------------------------------

class _Raw:
    """A threaded TCP server on 127.0.0.1 that records every byte it receives and answers each
    connection with ``answer(first_bytes)`` (plain HTTP whatever was asked)."""

    def __init__(self, answer: Any) -> None:
        import socketserver
        import threading

        self.received: list[bytes] = []
        outer = self

        class H(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                data = self.request.recv(65536)
                outer.received.append(data)
                out = answer(data, outer)
                if out:
                    self.request.sendall(out)

        class S(socketserver.ThreadingTCPServer):
            allow_reuse_address = True
            daemon_threads = True

        self.srv = S(("127.0.0.1", 0), H)
        self.port = self.srv.server_address[1]
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def __enter__(self) -> _Raw:
        return self

    def __exit__(self, *exc: object) -> None:
        self.srv.shutdown()
        self.srv.server_close()


def _http(status: str, body: bytes = b"", headers: str = "") -> bytes:
    return (f"HTTP/1.1 {status}\r\nContent-Length: {len(body)}\r\n{headers}Connection: close\r\n\r\n").encode() + body


PAGE = b"<html><head><title>Citrix Gateway</title></head><body>login</body></html>"


def _plain_http_on_tls_port(data: bytes, _srv: _Raw) -> bytes:
    """Answers a TLS ClientHello (or anything) in plain HTTP, as a port-80 vserver does."""
    return _http("200 OK", PAGE, "Content-Type: text/html\r\n") if data.startswith(b"GET ") else _http("400 Bad Request")


@pytest.mark.parametrize("flags", [["--verify"], ["-H", "Authorization: Bearer S3CRET-TOKEN"],
                                   ["--verify", "-H", "Authorization: Bearer S3CRET-TOKEN"]])
def test_verify_or_headers_never_downgrade_to_plain_http(flags: list[str]) -> None:
    with _Raw(_plain_http_on_tls_port) as srv:
        _code, docs, err = _scan([f"https://127.0.0.1:{srv.port}/", *flags, "--format", "json", "--no-indicators",
                                 "--timeout", "3", "--host-deadline", "10", "--retries", "0"])
        received = b"".join(srv.received)
    (d,) = docs
    assert d["status"] == "error" and "plain HTTP" in d["error"] and "never downgrades" in d["error"], d["error"]
    assert d["url"].startswith("https://")
    assert d["verdict"] != "not_netscaler"
    # nothing but ClientHellos reached the port: no request in clear, so no header either
    assert b"GET " not in received and b"HEAD " not in received and b"S3CRET" not in received
    assert b"S3CRET" not in json.dumps(docs).encode() and "S3CRET" not in err


def test_plain_http_fallback_without_verify_is_stated_and_shows_the_real_scheme() -> None:
    with _Raw(_plain_http_on_tls_port) as srv:
        _code, docs, _err = _scan([f"https://127.0.0.1:{srv.port}/", "--format", "json", "--no-indicators",
                                 "--timeout", "3", "--host-deadline", "10", "--retries", "0"])
        received = b"".join(srv.received)
    (d,) = docs
    assert d["url"] == f"http://127.0.0.1:{srv.port}"  # the scheme really used
    notes = [s for s in d["skipped"] if s["what"] == "tls"]
    assert notes and "plain HTTP" in notes[0]["reason"] and "without TLS" in notes[0]["reason"]
    assert b"GET / HTTP/1.1" in received


def test_user_headers_are_left_out_of_a_plain_http_fallback() -> None:
    from nscheck.options import ScanOptions
    from nscheck.probe.client import ProbeClient

    pc = ProbeClient(ScanOptions(headers=("Authorization: Bearer S3CRET", "X-Team: blue")))
    assert pc.no_downgrade
    assert pc.request_headers()["Authorization"] == "Bearer S3CRET"
    plain = pc.request_headers(user=False)
    assert "Authorization" not in plain and "X-Team" not in plain and plain["User-Agent"]
    assert not ProbeClient(ScanOptions()).no_downgrade
    assert ProbeClient(ScanOptions(nitro_user="nsroot")).no_downgrade and ProbeClient(ScanOptions(verify=True)).no_downgrade


def test_redirect_userinfo_is_stripped_so_no_basic_auth_is_sent() -> None:
    import asyncio

    from nscheck.options import ScanOptions
    from nscheck.probe.client import ProbeClient
    from nscheck.targets import parse_target

    def answer(data: bytes, srv: _Raw) -> bytes:
        if data.startswith(b"GET / "):
            return _http("302 Found", b"", f"Location: http://attacker:pw@127.0.0.1:{srv.port}/next\r\n")
        return _http("200 OK", PAGE)

    with _Raw(answer) as srv:
        async def go():  # type: ignore[no-untyped-def]
            async with ProbeClient(ScanOptions(timeout=3, host_deadline=10)) as pc:
                f = pc.fetcher(next(parse_target(f"http://127.0.0.1:{srv.port}/")))
                return await f.get("/")

        r = asyncio.run(go())
        received = b"".join(srv.received)
    assert r.status == 200 and r.redirects == (f"http://127.0.0.1:{srv.port}/next",)
    assert b"GET /next" in received
    assert b"authorization" not in received.lower() and b"attacker" not in received


def _proxy_407(data: bytes, _srv: _Raw) -> bytes:
    return _http("407 Proxy Authentication Required", b"", 'Proxy-Authenticate: Basic realm="corp"\r\n')


def test_a_proxy_answering_407_is_an_error_for_the_host_and_fails_the_run() -> None:
    with _Raw(_proxy_407) as proxy:
        # the targets are never reached (the proxy refuses); both sit on loopback anyway
        code, docs, err = _scan(["http://127.0.0.1:9/", "https://127.0.0.1:9/", "--proxy",
                                 f"http://alice:S3cretPW@127.0.0.1:{proxy.port}", "--format", "json", "--no-indicators",
                                 "--timeout", "3", "--host-deadline", "10", "--retries", "0"])
    assert code == 2, (code, err)
    assert len(docs) == 2
    for d in docs:
        assert d["status"] == "error" and d["verdict"] == "unknown", d
        assert "proxy error" in d["error"] and "407" in d["error"]
    out = json.dumps(docs) + err
    assert "S3cretPW" not in out


def test_proxy_password_is_masked_in_errors() -> None:
    from nscheck.safetext import mask_userinfo

    code, _docs, err = _scan(["127.0.0.1", "--proxy", "ftp://alice:S3cretPW@127.0.0.1:1", "--format", "json"])
    assert code == 64 and "--proxy" in err and "S3cretPW" not in err and "alice" not in err, err
    assert mask_userinfo("bad http://u:p@h:1/x and socks5://a@b") == "bad http://***@h:1/x and socks5://***@b"
    assert mask_userinfo("mail me@example.org") == "mail me@example.org"


def test_dry_run_never_prints_credential_headers() -> None:
    from nscheck.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), pytest.raises(SystemExit) as ex:
        main(["scan", "127.0.0.1", "--dry-run", "-H", "Authorization: Bearer S3CRET-TOKEN", "-H",
              "Cookie: NSC_AAAC=S3CRET-COOKIE", "-H", "X-Team: blue", "--proxy", "http://alice:S3cretPW@127.0.0.1:3"])
    assert ex.value.code in (0, None), err.getvalue()
    text = out.getvalue() + err.getvalue()
    assert "Authorization: ***" in text and "X-Team: blue" in text
    assert "S3CRET" not in text and "S3cretPW" not in text
