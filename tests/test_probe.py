"""The HTTP layer over real loopback sockets: caps, bombs, redirects, TLS certificate, errors."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import socket
import socketserver
import ssl
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator

import pytest
from scan_fakes import rdx_gz

from nscheck.options import ScanOptions
from nscheck.probe.client import HostFetcher, ProbeClient, build_ssl_context, parse_certificate
from nscheck.targets import parse_target

Handler = Callable[[str, dict[str, str], socket.socket], None]


def _reply(sock: socket.socket, status: str, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
    h = {"Content-Length": str(len(body)), "Connection": "close", **(headers or {})}
    head = f"HTTP/1.1 {status}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in h.items()) + "\r\n"
    sock.sendall(head.encode() + body)


class _Server:
    def __init__(self, routes: dict[str, Handler], tls: ssl.SSLContext | None = None):
        self.routes = routes
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        outer = self

        class H(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                sock = self.request
                if tls is not None:
                    try:
                        sock = tls.wrap_socket(sock, server_side=True)
                    except (ssl.SSLError, OSError):
                        return
                data = b""
                while b"\r\n\r\n" not in data and len(data) < 65536:
                    chunk = sock.recv(4096)
                    if not chunk:
                        return
                    data += chunk
                line, *hdr_lines = data.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
                method, path, _ = line.split(" ", 2)
                hdrs = {k.strip().lower(): v.strip() for k, _, v in (x.partition(":") for x in hdr_lines)}
                outer.requests.append((method, path, hdrs))
                fn = outer.routes.get(path.split("?")[0]) or (lambda p, h, s: _reply(s, "404 Not Found", b"nope"))
                with contextlib.suppress(OSError):
                    fn(method, hdrs, sock)

        class S(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True

        self.srv = S(("127.0.0.1", 0), H)
        self.port = self.srv.server_address[1]
        self.thread = threading.Thread(target=self.srv.serve_forever, daemon=True)

    def __enter__(self) -> _Server:
        self.thread.start()
        return self

    def __exit__(self, *a: object) -> None:
        self.srv.shutdown()
        self.srv.server_close()


def _fetch(url: str, opts: ScanOptions, go: Callable[[HostFetcher], object]) -> tuple[object, HostFetcher]:
    async def run() -> tuple[object, HostFetcher]:
        async with ProbeClient(opts, record=True) as pc:
            f = pc.fetcher(next(parse_target(url)))
            return await go(f), f  # type: ignore[misc]

    return asyncio.run(run())


OPTS = ScanOptions(timeout=3.0, host_deadline=10.0, retries=0, max_body_bytes=100_000)


@pytest.fixture()
def server() -> Iterator[Callable[..., _Server]]:
    started: list[_Server] = []

    def make(routes: dict[str, Handler], tls: ssl.SSLContext | None = None) -> _Server:
        s = _Server(routes, tls).__enter__()
        started.append(s)
        return s

    yield make
    for s in started:
        s.__exit__()


def test_tls_default_certificate_and_headers(server: Callable[..., _Server]) -> None:
    from nscheck.lab.certs import appliance_default_cert, server_context

    s = server({"/": lambda m, h, sock: _reply(sock, "200 OK", b"hello")}, tls=server_context(appliance_default_cert()))
    opts = OPTS.with_(headers=("X-Scan-Id: 42",))
    r, f = _fetch(f"https://127.0.0.1:{s.port}", opts, lambda f: f.get("/"))
    assert r.status == 200 and r.body == b"hello"  # type: ignore[attr-defined]
    c = f.certificate
    assert c is not None and c.default_netscaler and "NS Internal" in c.subject and len(c.sha256 or "") == 64
    assert c.not_after and c.issuer == c.subject
    _, _, hdrs = s.requests[0]
    assert hdrs["user-agent"].startswith("nscheck/") and hdrs["x-scan-id"] == "42"


def test_site_certificate_is_not_default() -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    from nscheck.lab.certs import site_cert

    der = x509.load_pem_x509_certificate(site_cert().cert_pem).public_bytes(Encoding.DER)
    c = parse_certificate(der)
    assert c is not None and not c.default_netscaler and "remote.example.com" in c.sans


def test_ssl_context_allows_legacy_servers() -> None:
    ctx = build_ssl_context(False)
    assert ctx.verify_mode == ssl.CERT_NONE and ctx.options & 0x4  # OP_LEGACY_SERVER_CONNECT
    assert build_ssl_context(True).verify_mode == ssl.CERT_REQUIRED


def _big(m: str, h: dict[str, str], sock: socket.socket) -> None:
    size = 5 * 1024 * 1024
    sock.sendall(f"HTTP/1.1 200 OK\r\nContent-Length: {size}\r\nConnection: close\r\n\r\n".encode())
    chunk = b"A" * 65536
    for _ in range(size // len(chunk)):
        sock.sendall(chunk)


_BOMB = gzip.compress(b"\0" * (50 * 1024 * 1024), compresslevel=9)


def _bomb(m: str, h: dict[str, str], sock: socket.socket) -> None:
    _reply(sock, "200 OK", _BOMB, {"Content-Encoding": "gzip", "Content-Type": "text/html"})


def test_5mb_body_and_gzip_bomb_stay_under_memory_cap(server: Callable[..., _Server]) -> None:
    s = server({"/big": _big, "/bomb": _bomb})
    tracemalloc.start()
    try:
        async def go(f: HostFetcher) -> tuple[object, object]:
            return await f.get("/big"), await f.get("/bomb")

        (big, bomb), _ = _fetch(f"http://127.0.0.1:{s.port}", OPTS, go)  # type: ignore[misc]
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert big.truncated and len(big.body) == 100_000
    assert bomb.truncated and len(bomb.body) <= 100_000
    assert bomb.error_kind == "decode" and "decompression bomb" in bomb.error
    assert peak < 4 * 1024 * 1024, f"peak {peak} bytes"


def test_raw_gz_double_gzip_is_unwrapped_once(server: Callable[..., _Server]) -> None:
    inner = rdx_gz(1535167752)
    s = server({
        "/double.gz": lambda m, h, sock: _reply(sock, "200 OK", gzip.compress(inner), {"Content-Encoding": "gzip"}),
        "/labelled.gz": lambda m, h, sock: _reply(sock, "200 OK", inner, {"Content-Encoding": "gzip"}),
    })

    async def go(f: HostFetcher) -> tuple[object, object]:
        return await f.get("/double.gz", raw=True), await f.get("/labelled.gz", raw=True)

    (dbl, lab), _ = _fetch(f"http://127.0.0.1:{s.port}", OPTS, go)  # type: ignore[misc]
    assert dbl.body[:4] == b"\x1f\x8b\x08\x08" and dbl.notes
    assert lab.body == inner and not lab.notes
    assert all(h.get("accept-encoding") == "identity" for _, _, h in s.requests)


def test_redirects_same_host_only_and_loop(server: Callable[..., _Server]) -> None:
    s = server({
        "/": lambda m, h, sock: _reply(sock, "302 Found", b"", {"Location": "/login"}),
        "/login": lambda m, h, sock: _reply(sock, "200 OK", b"login page"),
        "/away": lambda m, h, sock: _reply(sock, "302 Found", b"", {"Location": "https://other.example/x"}),
        "/loop": lambda m, h, sock: _reply(sock, "302 Found", b"", {"Location": "/loop"}),
    })

    async def go(f: HostFetcher) -> list[object]:
        return [await f.get("/"), await f.get("/away"), await f.get("/loop")]

    (ok, away, loop), f = _fetch(f"http://127.0.0.1:{s.port}", OPTS.with_(max_redirects=3), go)  # type: ignore[misc]
    assert ok.status == 200 and ok.body == b"login page" and ok.redirects == (f"http://127.0.0.1:{s.port}/login",)
    assert away.status == 302 and "off-host" in away.error and away.error_kind == "redirect"
    assert loop.error_kind == "redirect" and "too many" in loop.error
    assert f.requests_sent == 2 + 1 + 4
    assert {m for m, _ in f.log} == {"GET"}


def test_head_range_budget_and_log(server: Callable[..., _Server]) -> None:
    def deb(m: str, h: dict[str, str], sock: socket.socket) -> None:
        _reply(sock, "206 Partial Content", b"!", {"Content-Range": "bytes 0-0/10688726"})

    s = server({"/deb": deb, "/": lambda m, h, sock: _reply(sock, "200 OK", b"x")})

    async def go(f: HostFetcher) -> list[object]:
        return [await f.head("/"), await f.get("/deb", byte_range=(0, 0)), await f.get("/"), await f.get("/other")]

    (hd, rng, _, over), f = _fetch(f"http://127.0.0.1:{s.port}", OPTS.with_(request_budget=3), go)  # type: ignore[misc]
    assert hd.status == 200 and hd.body == b""
    assert rng.status == 206 and rng.header("content-range") == "bytes 0-0/10688726"
    assert over.status is None and over.error_kind == "budget"
    assert [m for m, _ in f.log] == ["HEAD", "GET", "GET"]
    assert s.requests[1][2]["range"] == "bytes=0-0"
    with pytest.raises(ValueError):
        asyncio.run(f._fetch("POST", "/", raw=False, byte_range=None, follow=False, max_bytes=None))


def test_reset_mid_body_and_refused_and_deadline(server: Callable[..., _Server]) -> None:
    def reset(m: str, h: dict[str, str], sock: socket.socket) -> None:
        sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + b"x" * 1000)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        sock.close()

    def slow(m: str, h: dict[str, str], sock: socket.socket) -> None:
        time.sleep(3)

    s = server({"/reset": reset, "/slow": slow})
    r, _ = _fetch(f"http://127.0.0.1:{s.port}", OPTS, lambda f: f.get("/reset"))
    assert r.status == 200 and r.error and "cut short" in r.error and r.error_kind == "reset"  # type: ignore[attr-defined]

    free = socket.socket()
    free.bind(("127.0.0.1", 0))
    port = free.getsockname()[1]
    free.close()
    r, _ = _fetch(f"http://127.0.0.1:{port}", OPTS.with_(retries=1), lambda f: f.get("/"))
    assert r.status is None and r.error_kind == "connect" and "refused" in r.error  # type: ignore[attr-defined]

    t0 = time.monotonic()
    r, _ = _fetch(f"http://127.0.0.1:{s.port}", OPTS.with_(timeout=5.0, host_deadline=1.0), lambda f: f.get("/slow"))
    assert time.monotonic() - t0 < 2.5
    assert r.status is None and r.error_kind in ("deadline", "read_timeout")  # type: ignore[attr-defined]


def test_proxy_is_used_and_bad_options_are_refused(server: Callable[..., _Server]) -> None:
    # The test server plays an HTTP proxy: it sees absolute-form request targets.
    proxy = server({})
    proxy.routes["http://appliance.example/"] = lambda m, h, sock: _reply(sock, "200 OK", b"via proxy")
    opts = OPTS.with_(proxy=f"http://127.0.0.1:{proxy.port}")
    r, _ = _fetch("http://appliance.example", opts, lambda f: f.get("/"))
    assert r.status == 200 and r.body == b"via proxy"  # type: ignore[attr-defined]
    assert proxy.requests[0][1] == "http://appliance.example/"
    for bad in (OPTS.with_(proxy="nonsense"), OPTS.with_(ca_file="/nonexistent/ca.pem", verify=True),
                OPTS.with_(headers=("no colon",))):
        with pytest.raises(ValueError):
            ProbeClient.check_options(bad)
    ProbeClient.check_options(opts)
