"""The only module that talks HTTP (and the only importer of httpx).

``ProbeClient`` owns one ``httpx.AsyncClient`` for the whole run (one connection pool, sized
with the runner's semaphore so tasks never wait on the pool). ``HostFetcher`` is the per-host
``Fetcher``: GET/HEAD only, at most ``--per-host-connections`` requests in flight (callers use
``nscheck.probe.parallel``), each distinct request sent once, within the host's request budget and deadline, bodies
read as raw streams under a byte cap and decoded by a bounded decompressor (a gzip bomb costs
at most the cap), redirects followed only on the same scheme+host+port, or from http to https
on the same host name (any port), after which the host's later requests go to https directly.
An https target whose port answers the TLS ClientHello in plain HTTP is read over http instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import hashlib
import ssl
import sys
import warnings
import zlib
from typing import Any
from urllib.parse import urljoin, urlsplit, urlunsplit

import httpx

from nscheck.model import Certificate
from nscheck.options import ScanOptions
from nscheck.probe.types import PROXY_ERROR, ErrorKind, HttpResponse
from nscheck.safetext import mask_userinfo
from nscheck.targets import Target

__all__ = ["CollectorClient", "CollectorError", "DownloadError", "HostFetcher", "NitroFetcher", "ProbeClient",
           "build_ssl_context", "download",
           "parse_certificate"]

ALLOWED_METHODS = frozenset({"GET", "HEAD"})
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
# Only fast failures (refused, unreachable) are retried: retrying a connect timeout would make a
# host that accepts and never answers (or drops SYNs) cost two full timeouts instead of one.
_RETRY_KINDS = frozenset({ErrorKind.CONNECT})
_BOMB_RATIO = 50  # compression ratio above which a capped body counts as a bomb
# What OpenSSL says when the peer answers a ClientHello in plain HTTP.
_PLAIN_HTTP_SIGNS = ("wrong version number", "wrong_version_number", "http request", "packet length too long",
                     "record layer failure")


def build_ssl_context(verify: bool, ca_file: str | None = None) -> ssl.SSLContext:
    """Old appliances (11.x/12.x) need legacy renegotiation and weak ciphers to answer at all
    on OpenSSL 3; verification stays off unless asked for (they are almost all self-signed)."""
    if verify:
        ctx = ssl.create_default_context(cafile=ca_file)
        ciphers = "DEFAULT:@SECLEVEL=1"
    else:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        ciphers = "ALL:@SECLEVEL=0"
    ctx.options |= getattr(ssl, "OP_LEGACY_SERVER_CONNECT", 0x4)
    try:
        ctx.set_ciphers(ciphers)
    except ssl.SSLError:  # a crypto policy may forbid SECLEVEL=0; fall back to what it allows
        ctx.set_ciphers("DEFAULT")
    with contextlib.suppress(ValueError, ssl.SSLError), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # TLS 1.0 is what 11.x boxes speak
        ctx.minimum_version = ssl.TLSVersion.TLSv1
    return ctx


def parse_certificate(der: bytes) -> Certificate | None:
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    try:
        cert = x509.load_der_x509_certificate(der)
    except ValueError:
        return None
    sans: list[str] = []
    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        sans = [str(v) for v in ext.get_values_for_type(x509.DNSName)]
        sans += [str(v) for v in ext.get_values_for_type(x509.IPAddress)]
    except (x509.ExtensionNotFound, ValueError):
        pass

    def attr(name: x509.Name, oid: x509.ObjectIdentifier) -> str:
        vals = name.get_attributes_for_oid(oid)
        return str(vals[0].value) if vals else ""

    default = any(
        _is_default_netscaler(attr(n, NameOID.COMMON_NAME), attr(n, NameOID.ORGANIZATIONAL_UNIT_NAME),
                              attr(n, NameOID.ORGANIZATION_NAME))
        for n in (cert.subject, cert.issuer)
    )
    try:
        not_after = cert.not_valid_after_utc.isoformat()
    except AttributeError:  # cryptography < 42
        not_after = cert.not_valid_after.isoformat() + "+00:00"
    return Certificate(
        subject=cert.subject.rfc4514_string(),
        issuer=cert.issuer.rfc4514_string(),
        sans=tuple(sans),
        not_after=not_after,
        sha256=hashlib.sha256(der).hexdigest(),
        default_netscaler=default,
    )


def _is_default_netscaler(cn: str, ou: str, org: str) -> bool:
    # recog x509: CN=default( XXXXXX)?,OU=NS Internal,O=Citrix ANG,... ; NetScaler-branded variants too.
    import re

    if not re.fullmatch(r"(?i)default(?: [A-Z0-9]+)?", cn.strip()):
        return False
    return ou.strip().lower() == "ns internal" or bool(re.search(r"(?i)citrix ang|netscaler", org))


def _classify(exc: BaseException) -> tuple[ErrorKind, str]:
    """(error_kind, reason) for a failed request, said plainly (URL passwords masked)."""
    kind, reason = _classify_raw(exc)
    return kind, mask_userinfo(reason)


def _without_userinfo(url: str) -> str:
    """A redirect to ``http://user@host/`` would make httpx send Basic auth built from the
    server's own userinfo: requests never carry userinfo."""
    p = urlsplit(url)
    if "@" not in p.netloc:
        return url
    return urlunsplit(p._replace(netloc=p.netloc.rsplit("@", 1)[1]))


def _classify_raw(exc: BaseException) -> tuple[ErrorKind, str]:
    chain: list[BaseException] = []
    e: BaseException | None = exc
    while e is not None and len(chain) < 8:
        chain.append(e)
        e = e.__cause__ or e.__context__
    text = " | ".join(dict.fromkeys(str(x) for x in chain if str(x)))
    low = text.lower()
    if isinstance(exc, TimeoutError):
        return ErrorKind.DEADLINE, "host deadline reached"
    if isinstance(exc, httpx.ConnectTimeout):
        return ErrorKind.CONNECT_TIMEOUT, "connect timeout"
    if isinstance(exc, httpx.ProxyError):
        # the proxy refused (407, 403, 502 to CONNECT): our own setup failed, not the host
        return ErrorKind.PROXY, f"{PROXY_ERROR}: {text[:200]}"
    if isinstance(exc, httpx.ConnectError) or (isinstance(exc, OSError) and not isinstance(exc, ssl.SSLError)):
        if any(isinstance(x, ssl.SSLError) for x in chain) or "ssl" in low or "tls" in low or "handshake" in low:
            return ErrorKind.TLS, f"TLS handshake failed: {text[:200]}"
        if any(s in low for s in ("name or service not known", "nodename nor servname", "getaddrinfo",
                                  "temporary failure in name resolution", "no address associated")):
            return ErrorKind.DNS, "DNS resolution failed"
        if "refused" in low or any(isinstance(x, ConnectionRefusedError) or getattr(x, "errno", None) == errno.ECONNREFUSED
                                   for x in chain) or f"[errno {errno.ECONNREFUSED}]" in low:
            return ErrorKind.CONNECT, "connection refused"
        if "unreachable" in low:
            return ErrorKind.CONNECT, "network unreachable"
        return ErrorKind.CONNECT, f"connect failed: {text[:200]}"
    if isinstance(exc, ssl.SSLError):
        return ErrorKind.TLS, f"TLS error: {text[:200]}"
    if isinstance(exc, httpx.TimeoutException):
        return ErrorKind.READ_TIMEOUT, "read timeout"
    if isinstance(exc, httpx.RemoteProtocolError):
        if "disconnected" in low or "without sending" in low:
            return ErrorKind.RESET, "server closed the connection without an answer"
        return ErrorKind.PROTOCOL, f"invalid HTTP response: {text[:200]}"
    if isinstance(exc, httpx.ReadError | httpx.WriteError):
        return ErrorKind.RESET, f"connection reset: {text[:200]}"
    if isinstance(exc, httpx.HTTPError):
        return ErrorKind.PROTOCOL, f"{type(exc).__name__}: {text[:200]}"
    return ErrorKind.ERROR, f"{type(exc).__name__}: {text[:200]}"


def _bounded_inflate(data: bytes, cap: int, encoding: str) -> tuple[bytes, bool, str | None, int]:
    """Decompress at most ``cap`` bytes: (output, capped, error, compressed bytes consumed)."""
    wbits = {"gzip": 31, "x-gzip": 31, "deflate": 15}.get(encoding, 31)
    tries = (wbits, -15) if encoding == "deflate" else (wbits,)  # some servers send raw deflate
    err = ""
    for wb in tries:
        d = zlib.decompressobj(wb)
        try:
            out = d.decompress(data, cap)
        except zlib.error as e:
            err = str(e)
            continue
        capped = bool(d.unconsumed_tail) or len(out) >= cap
        return out, capped, None, len(data) - len(d.unconsumed_tail)
    return b"", False, f"undecodable {encoding} body: {err}", 0


class ProbeClient:
    """One per run. ``fetcher(target)`` hands out the per-host ``Fetcher``."""

    def __init__(self, opts: ScanOptions, *, transport: Any = None, record: bool = False):
        self.opts = opts
        self._transport = transport
        self.record = record
        self.request_log: list[tuple[str, str]] = []  # (method, url) of every request, when record=True
        self._client: httpx.AsyncClient | None = None
        self._ssl: ssl.SSLContext | None = None
        self._host_clients: set[httpx.AsyncClient] = set()
        self.base_headers = self._headers(opts)
        # -H lines are the user's (often credentials): never sent over a plain-http fallback
        self.user_header_names = frozenset(h.partition(":")[0].strip().lower() for h in opts.headers)
        # With --verify/--ca (the user relies on TLS), any -H header (possibly a credential) or NITRO
        # credentials, an https target that answers in plain HTTP is an error, never re-read over http.
        self.no_downgrade = bool(opts.verify or opts.ca_file or opts.headers or opts.nitro_user
                                 or opts.nitro_credentials)
        # IP/CIDR exclusions also apply to what a host *name* resolves to (checked before the
        # first connection to that host; bad entries were already reported by the runner).
        from nscheck.targets import load_exclusions

        ex = load_exclusions(opts.exclude, opts.exclude_files, lambda _e: None)
        self.excluded_networks = tuple(ex.networks)
        from nscheck.probe.ratelimit import RateLimiter

        # --rate-limit: one limiter for the whole run, shared by every host's fetcher.
        rate = getattr(opts, "rate_limit", None)
        self.pacer = RateLimiter(rate) if rate else None

    def trace(self, r: HttpResponse, scrub: Any = None) -> None:
        """-v: one stderr line per request sent. Method, URL (targets never carry userinfo),
        status or error, time and size; never a header, so never a credential."""
        if not getattr(self.opts, "verbose", False):
            return
        from nscheck.report.text import clean

        err = scrub(r.error or "") if scrub is not None else (r.error or "")
        what = f"{r.status}" if r.status is not None else f"error {r.error_kind}: {clean(err, 200)}"
        size = f", {len(r.body)} bytes" if r.body else ""
        print(f"nscheck: {r.method} {clean(r.url, 300)} -> {what} ({r.elapsed_ms} ms{size})", file=sys.stderr, flush=True)

    @staticmethod
    def _headers(opts: ScanOptions) -> dict[str, str]:
        h = {"User-Agent": opts.user_agent, "Accept": "*/*", "Accept-Encoding": "gzip, deflate", "Connection": "keep-alive"}
        for line in opts.headers:
            name, sep, value = line.partition(":")
            if not sep or not name.strip():
                raise ValueError(f"bad header {line!r}: expected 'Name: value'")
            h[name.strip()] = value.strip()
        return h

    @staticmethod
    def check_options(opts: ScanOptions) -> None:
        """Raise ValueError (one line for users) for options the client cannot use:
        bad -H lines, an unusable --proxy, an unreadable --ca. Sends nothing."""
        ProbeClient._headers(opts)
        try:
            ctx = build_ssl_context(opts.verify, opts.ca_file)
        except (OSError, ssl.SSLError) as e:
            raise ValueError(f"cannot use --ca {opts.ca_file}: {getattr(e, 'strerror', None) or e}") from None
        if opts.proxy:
            try:
                c = httpx.AsyncClient(proxy=opts.proxy, verify=ctx, trust_env=False)
            except (ValueError, ImportError, httpx.InvalidURL) as e:
                raise ValueError(mask_userinfo(f"cannot use --proxy {opts.proxy}: {e}")) from None
            del c  # never opened a connection; nothing to close

    def request_headers(self, *, raw: bool = False, byte_range: tuple[int, int] | None = None,
                        user: bool = True) -> dict[str, str]:
        h = dict(self.base_headers)
        if not user:
            h = {k: v for k, v in h.items() if k.lower() not in self.user_header_names}
        if raw:
            h["Accept-Encoding"] = "identity"  # keep the .gz header bytes as served
        if byte_range is not None:
            h["Range"] = f"bytes={byte_range[0]}-{byte_range[1]}"
        return h

    async def __aenter__(self) -> ProbeClient:
        o = self.opts
        t = httpx.Timeout(o.timeout, pool=max(o.host_deadline, o.timeout))
        limits = httpx.Limits(max_connections=o.concurrency + 4, max_keepalive_connections=min(o.concurrency, 100),
                              keepalive_expiry=5.0)
        kwargs: dict[str, Any] = {
            "timeout": t, "limits": limits, "follow_redirects": False, "trust_env": False,
            "verify": self._ssl_context(), "headers": {},
        }
        if o.proxy:
            kwargs["proxy"] = o.proxy
        if self._transport is not None:
            kwargs["transport"] = self._transport
        self._client = httpx.AsyncClient(**kwargs)
        return self

    async def __aexit__(self, *exc: object) -> None:
        for c in list(self._host_clients):
            await self.close_host_client(c)
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    @property
    def http(self) -> httpx.AsyncClient:
        if self._client is None:
            raise RuntimeError("ProbeClient used outside 'async with'")
        return self._client

    def _ssl_context(self) -> ssl.SSLContext:
        if self._ssl is None:  # built once: a context costs milliseconds, a handshake reuses it
            self._ssl = build_ssl_context(self.opts.verify, self.opts.ca_file)
        return self._ssl

    @property
    def per_host_pools(self) -> bool:
        """Each host gets a small pool of its own. One run-wide pool keeps idle connections to
        hosts that are finished (a host is never asked again), scans all of them on every request
        (httpcore's pool bookkeeping is quadratic in its size), closes live ones of running hosts
        when it is full, and shares one cookie jar between hosts. A proxy or an injected
        transport (tests) keeps the shared client."""
        return self._transport is None and not self.opts.proxy

    def open_host_client(self) -> httpx.AsyncClient:
        # --per-host-connections requests may be in flight together; at least 2 so an http -> https
        # upgrade does not wait for the http connection to be dropped.
        n = max(2, self.opts.per_host_connections)
        limits = httpx.Limits(max_connections=n, max_keepalive_connections=n, keepalive_expiry=5.0)
        c = httpx.AsyncClient(transport=httpx.AsyncHTTPTransport(verify=self._ssl_context(), limits=limits),
                              timeout=self.http.timeout, follow_redirects=False, trust_env=False)
        self._host_clients.add(c)
        return c

    async def close_host_client(self, c: httpx.AsyncClient) -> None:
        self._host_clients.discard(c)
        with contextlib.suppress(Exception):  # closing a dead connection is not an error
            await c.aclose()

    def fetcher(self, target: Target, deadline_s: float | None = None) -> HostFetcher:
        return HostFetcher(self, target, deadline_s if deadline_s is not None else self.opts.host_deadline)

    def nitro_fetcher(self, nitro_url: str, user: str, password: Any, deadline_s: float, budget: int) -> NitroFetcher:
        """A fetcher for one NITRO address that adds X-NITRO-USER / X-NITRO-PASS to its GETs.
        ``password`` is a ``nscheck.nitro.secret.Secret``; it is revealed only while a request to
        that exact origin is built."""
        from nscheck.targets import parse_target

        target = next(iter(parse_target(nitro_url)))
        return NitroFetcher(self, target, deadline_s, user=user, password=password, budget=budget)


class HostFetcher:
    """Per-host ``Fetcher`` (nscheck.probe.types). Never raises for network trouble: a failed
    request is an ``HttpResponse`` with ``status=None`` and ``error``/``error_kind`` set."""

    def __init__(self, client: ProbeClient, target: Target, deadline_s: float):
        self.client = client
        self.target = target
        self.base_url = target.url
        self.log: list[tuple[str, str]] = []
        self.certificate: Certificate | None = None
        self.responses: list[HttpResponse] = []
        self._sent = 0
        self._http: httpx.AsyncClient | None = None
        loop = asyncio.get_running_loop()
        self._deadline_at = loop.time() + deadline_s
        self._origin = self._origin_of(self.base_url)
        # Origins requests may go to: the target's, plus its https twin once the host has sent us
        # there (port-80 vservers and HTTP listeners of real appliances answer every path with a
        # redirect to https on the same name, often on a non-default port).
        self._origins = {self._origin}
        self._exclusion: str | None = None if client.excluded_networks and not target.is_ip else ""
        self.upgraded_to: str | None = None  # https base URL after an http -> https redirect
        self.plain_http = False  # an https target whose port answered in plain HTTP
        self._plain_tried = False
        # How many requests callers may have in flight to this host (nscheck.probe.parallel).
        self.parallel = max(1, client.opts.per_host_connections)
        # One answer per distinct request: a URL asked for twice (a redirect hop to a page also
        # asked for directly, in flight at the same time or later) is sent once. Keyed by
        # everything that changes the answer; failures are answers too, refusals (budget,
        # deadline) are not.
        self._cache: dict[tuple[str, str, bool, tuple[int, int] | None, int], asyncio.Future[HttpResponse]] = {}

    async def _excluded_by_address(self) -> str:
        """'' when the host name resolves only outside the excluded networks, else the reason."""
        import ipaddress
        import socket

        try:
            infos = await asyncio.get_running_loop().getaddrinfo(self.target.host, self.target.port,
                                                                 type=socket.SOCK_STREAM)
        except OSError:
            return ""  # the connection attempt will report the DNS failure itself
        for info in infos:
            try:
                ip = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
            except ValueError:
                continue
            for net in self.client.excluded_networks:
                if ip.version == net.version and ip in net:
                    return f"excluded: {self.target.host} resolves to {ip}, inside --exclude {net}; nothing sent"
        return ""

    @staticmethod
    def _origin_of(url: str) -> tuple[str, str, int]:
        p = urlsplit(url)
        scheme = p.scheme.lower()
        return scheme, (p.hostname or "").lower(), p.port or (443 if scheme == "https" else 80)

    @property
    def requests_sent(self) -> int:
        return self._sent

    def _http_client(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = self.client.open_host_client() if self.client.per_host_pools else self.client.http
        return self._http

    async def aclose(self) -> None:
        """Close this host's connections; the runner calls it when the host is done."""
        http, self._http = self._http, None
        if http is not None and http is not self.client._client:
            await self.client.close_host_client(http)

    @property
    def budget_left(self) -> int:
        return max(0, self.client.opts.request_budget - self._sent)

    @property
    def _trace_scrub(self) -> Any:
        # NitroFetcher holds a password (nscheck.nitro.secret.Secret): -v never prints it.
        return getattr(getattr(self, "_password", None), "scrub", None)

    @property
    def time_left(self) -> float:
        return self._deadline_at - asyncio.get_running_loop().time()

    def url_for(self, path: str) -> str:
        if path.startswith(("http://", "https://")):
            return path
        return self.base_url + (path if path.startswith("/") else "/" + path)

    def _may_follow(self, nxt: str) -> bool:
        """Same scheme+host+port, or an upgrade of this host from http to https (any port).

        A downgrade, another host name (even another name of the same box) or another port on the
        same scheme is not followed: it may be another service, and the scope was the target."""
        o = self._origin_of(nxt)
        if o in self._origins:
            return True
        scheme, host, _port = o
        return scheme == "https" and host == self._origin[1] and any(x[0] == "http" for x in self._origins)

    def _answered_plain(self, r: HttpResponse, url: str, followed: list[str]) -> bool:
        """The first request of an https target failed because the port speaks plain HTTP."""
        if self._plain_tried or self.responses or followed or r.status is not None or r.error_kind != ErrorKind.TLS:
            return False
        return url.startswith("https://") and any(s in (r.error or "").lower() for s in _PLAIN_HTTP_SIGNS)

    def _plain_http_instead(self, r: HttpResponse, url: str, followed: list[str]) -> bool:
        """The first request of an https target failed because the port speaks plain HTTP (a
        port-80 vserver given as host:80, an HTTP service on 8080): retry it, and the host's
        later requests, over http on the same host and port. Only once, only on that error, and
        never with --verify/--ca/-H (see ``ProbeClient.no_downgrade``); user headers are never
        sent over it."""
        if not self._answered_plain(r, url, followed) or self.client.no_downgrade:
            return False
        self._plain_tried = True
        p = urlsplit(url)
        self.base_url = f"http://{p.netloc}{urlsplit(self.base_url).path}".rstrip("/")
        self._origins.add(self._origin_of(self.base_url))
        self.plain_http = True
        return True

    def _upgraded(self, nxt: str) -> None:
        """Later relative requests go straight to the https origin the host upgraded us to."""
        o = self._origin_of(nxt)
        if o in self._origins:
            return
        self._origins.add(o)
        p = urlsplit(nxt)
        self.base_url = f"https://{p.netloc}{urlsplit(self.base_url).path}".rstrip("/")
        self.upgraded_to = self.base_url

    async def get(
        self,
        path: str,
        *,
        raw: bool = False,
        byte_range: tuple[int, int] | None = None,
        follow_redirects: bool = True,
        max_bytes: int | None = None,
    ) -> HttpResponse:
        return await self._fetch("GET", path, raw=raw, byte_range=byte_range, follow=follow_redirects, max_bytes=max_bytes)

    async def head(self, path: str) -> HttpResponse:
        return await self._fetch("HEAD", path, raw=True, byte_range=None, follow=False, max_bytes=0)

    async def _fetch(
        self, method: str, path: str, *, raw: bool, byte_range: tuple[int, int] | None, follow: bool, max_bytes: int | None
    ) -> HttpResponse:
        if method not in ALLOWED_METHODS:  # Principle 1: nothing but GET and HEAD, ever
            raise ValueError(f"method {method} is not allowed")
        url = _without_userinfo(self.url_for(path))
        if self._origin_of(url) not in self._origins:
            return HttpResponse(method, url, None, error=f"refused: {url} is not on {self.base_url}", error_kind=ErrorKind.REDIRECT)
        if self._exclusion is None:
            self._exclusion = await self._excluded_by_address()
        if self._exclusion:
            r = HttpResponse(method, url, None, error=self._exclusion, error_kind=ErrorKind.EXCLUDED)
            self.responses.append(r)
            return r
        cap = self.client.opts.max_body_bytes if max_bytes is None else min(max_bytes, self.client.opts.max_body_bytes)
        followed: list[str] = []
        upgrades: set[str] = set()
        visited: set[str] = set()
        while True:
            # A redirect back to a URL of this same chain is asked again, not answered from the
            # cache: hosts set a cookie and send the client round once more (a cookie check).
            again = url in visited
            visited.add(url)
            r = await self._one(method, url, raw=raw, byte_range=byte_range, cap=cap, shared=not again)
            if self.client.no_downgrade and self._answered_plain(r, url, followed):
                self._plain_tried = True
                r = _replace(r, error="the https port answered the TLS ClientHello in plain HTTP; not read over http "
                             "(with --verify, --ca, -H or NITRO credentials nscheck never downgrades to plain HTTP)")
            elif self._plain_http_instead(r, url, followed):
                url = "http://" + url.split("://", 1)[1]
                continue
            loc = r.header("location")
            if not (follow and r.status in _REDIRECTS and loc):
                break
            nxt = _without_userinfo(urljoin(url, loc.strip()))
            if not self._may_follow(nxt):
                r = _replace(r, error=f"redirect off-host to {mask_userinfo(nxt[:200])} not followed", error_kind=ErrorKind.REDIRECT)
                break
            # The http -> https hop of the same path is a transport change, not a page redirect:
            # it does not count against --max-redirects (http://gw/ -> https://gw/ -> /vpn/index.html
            # -> /logon/LogonPoint/index.html is an ordinary 13.1 chain).
            upgrade = url.startswith("http://") and nxt.startswith("https://") and urlsplit(url).path == urlsplit(nxt).path
            hops = len(followed) - sum(1 for u in followed if u in upgrades)
            if not upgrade and hops >= self.client.opts.max_redirects:
                r = _replace(r, error=f"too many redirects (more than {self.client.opts.max_redirects})", error_kind=ErrorKind.REDIRECT)
                break
            if upgrade:
                if upgrades:  # an https -> http -> https loop is still a loop
                    r = _replace(r, error="redirect loop between http and https", error_kind=ErrorKind.REDIRECT)
                    break
                upgrades.add(nxt)
            followed.append(nxt)
            self._upgraded(nxt)
            url = nxt
        if followed:
            r = _replace(r, redirects=tuple(followed))
        self.responses.append(r)
        return r

    async def _one(self, method: str, url: str, *, raw: bool, byte_range: tuple[int, int] | None, cap: int,
                   shared: bool = True) -> HttpResponse:
        if not shared:
            return await self._attempts(method, url, raw=raw, byte_range=byte_range, cap=cap)
        key = (method, url, raw, byte_range, cap)
        while (fut := self._cache.get(key)) is not None:
            try:
                return await asyncio.shield(fut)
            except asyncio.CancelledError:
                if not fut.cancelled():
                    raise  # this caller was cancelled, not the one sending
                # the request it waited for was cancelled before an answer: send it itself
        fut = asyncio.get_running_loop().create_future()
        self._cache[key] = fut
        try:
            r = await self._attempts(method, url, raw=raw, byte_range=byte_range, cap=cap)
        except BaseException:
            self._cache.pop(key, None)
            fut.cancel()
            raise
        if r.error_kind in (ErrorKind.BUDGET, ErrorKind.DEADLINE):
            self._cache.pop(key, None)  # not sent: a later request may still go out
        fut.set_result(r)
        return r

    async def _attempts(self, method: str, url: str, *, raw: bool, byte_range: tuple[int, int] | None,
                        cap: int) -> HttpResponse:
        opts = self.client.opts
        attempt = 0
        while True:
            if self.budget_left <= 0:
                return HttpResponse(method, url, None, error="request budget for this host exhausted", error_kind=ErrorKind.BUDGET)
            left = self.time_left
            if left <= 0.05:
                return HttpResponse(method, url, None, error="host deadline reached", error_kind=ErrorKind.DEADLINE)
            if self.client.pacer is not None:
                # Waiting for a --rate-limit slot is not the host's fault: it does not eat its deadline.
                self._deadline_at += await self.client.pacer.acquire()
            self._sent += 1
            self.log.append((method, url))
            if self.client.record:
                self.client.request_log.append((method, url))
            loop = asyncio.get_running_loop()
            t0 = loop.time()
            try:
                async with asyncio.timeout(left):
                    r = await self._send(method, url, raw=raw, byte_range=byte_range, cap=cap, t0=t0)
                self.client.trace(r, self._trace_scrub)
                return r
            except Exception as e:
                kind, reason = _classify(e)
                self.client.trace(HttpResponse(method, url, None, error=reason, error_kind=kind,
                                               elapsed_ms=int((loop.time() - t0) * 1000)), self._trace_scrub)
                if kind in _RETRY_KINDS and attempt < opts.retries:
                    attempt += 1
                    pause = min(0.25 * 2 ** (attempt - 1), max(0.0, self.time_left - 0.1))
                    if pause > 0:
                        await asyncio.sleep(pause)
                    continue
                return HttpResponse(method, url, None, error=reason, error_kind=kind,
                                    elapsed_ms=int((loop.time() - t0) * 1000))

    def _headers_for(self, url: str, raw: bool, byte_range: tuple[int, int] | None) -> dict[str, str]:
        # -H headers never go over a plain-http fallback (which -H forbids anyway)
        return self.client.request_headers(raw=raw, byte_range=byte_range, user=not self.plain_http)

    async def _send(self, method: str, url: str, *, raw: bool, byte_range: tuple[int, int] | None, cap: int, t0: float) -> HttpResponse:
        http = self._http_client()
        opts = self.client.opts
        t = min(opts.timeout, max(0.1, self.time_left))
        # The request is built directly rather than by build_request, which copies the client's
        # default headers, query parameters and cookie jar for every request (about a tenth of
        # the scan's CPU, bench/README.md); what it would add is added here: the host's cookies.
        req = httpx.Request(method, url, headers=self._headers_for(url, raw, byte_range),
                            extensions={"timeout": {"connect": t, "read": t, "write": t, "pool": t}})
        if http.cookies:
            http.cookies.set_cookie_header(req)
        resp = await http.send(req, stream=True)
        if resp.status_code == 407 and opts.proxy:
            # our proxy wants credentials: the host was never reached (not an answer from it)
            await resp.aclose()
            return HttpResponse(method, url, None, error=f"{PROXY_ERROR}: 407 Proxy Authentication Required (check "
                                "--proxy and its credentials)", error_kind=ErrorKind.PROXY,
                                elapsed_ms=int((asyncio.get_running_loop().time() - t0) * 1000))
        try:
            self._grab_certificate(resp)
            headers = tuple((k.lower(), v) for k, v in resp.headers.multi_items())
            body = bytearray()
            truncated = False
            error = kind = None
            if method != "HEAD" and cap > 0:
                try:
                    async for chunk in resp.aiter_raw():
                        room = cap - len(body)
                        if len(chunk) > room:
                            body += chunk[:room]
                            truncated = True
                            break
                        body += chunk
                except (httpx.TransportError, httpx.StreamError, ssl.SSLError, OSError) as e:
                    kind, reason = _classify(e)
                    kind = ErrorKind.RESET if kind in (ErrorKind.PROTOCOL, ErrorKind.RESET) else kind
                    error = f"body cut short after {len(body)} bytes: {reason}"
            elapsed = int((asyncio.get_running_loop().time() - t0) * 1000)
        finally:
            await resp.aclose()
        out = bytes(body)
        notes: list[str] = []
        enc = (resp.headers.get("content-encoding") or "").strip().lower()
        if raw and enc in ("gzip", "x-gzip", "deflate") and out:
            # A proxy may gzip an already-gzipped .gz; strip that one outer layer, but only when
            # what is inside is itself gzip (else the server merely labelled the .gz file). A
            # capped body is fine: only the first bytes of the inner file (its header) are read.
            inner, capped, err, _ = _bounded_inflate(out, cap, enc)
            if err is None and inner[:2] == b"\x1f\x8b":
                out = inner
                truncated = truncated or capped
                notes.append(f"stripped outer Content-Encoding: {enc}")
        elif enc in ("gzip", "x-gzip", "deflate") and out and not truncated and not raw:
            dec, capped, err, used = _bounded_inflate(out, cap, enc)
            if err is not None and out.lstrip()[:1] in (b"<", b"{"):
                # Mislabelled: some servers and proxies announce gzip on a page they send plain.
                notes.append(f"body labelled Content-Encoding: {enc} is not compressed; read as sent")
            elif err is not None:
                error = error or err
                kind = kind or ErrorKind.DECODE
            else:
                if capped:
                    truncated = True
                    notes.append(f"decompressed body capped at {cap} bytes")
                    if used * _BOMB_RATIO <= cap:
                        # A few bytes that inflate past the cap are a decompression bomb, not a page.
                        error = error or (f"decompression bomb: {used} compressed bytes inflate past the "
                                          f"{cap}-byte cap (stopped there)")
                        kind = kind or ErrorKind.DECODE
                out = dec
        elif enc in ("gzip", "x-gzip", "deflate") and truncated and not raw:
            dec, _, err, _ = _bounded_inflate(out, cap, enc)
            out = dec if err is None else out
            notes.append("compressed body hit the byte cap")
        return HttpResponse(
            method=method, url=url, status=resp.status_code, headers=headers, body=out, truncated=truncated,
            error=error, elapsed_ms=elapsed, error_kind=kind, notes=tuple(notes),
        )

    def _grab_certificate(self, resp: httpx.Response) -> None:
        if self.certificate is not None or not str(resp.url).startswith("https"):
            return
        try:
            stream = resp.extensions.get("network_stream")
            ssl_obj = stream.get_extra_info("ssl_object") if stream is not None else None
            der = ssl_obj.getpeercert(binary_form=True) if ssl_obj is not None else None
        except Exception:  # the cert is evidence, never a reason to fail the request
            der = None
        if der:
            self.certificate = parse_certificate(der)


class NitroFetcher(HostFetcher):
    """GETs to one NITRO address with per-request authentication (no login POST, no session).

    Credentials go only to the exact origin (scheme, host, port) they were configured for: no
    redirect is ever followed (a 3xx is an answer, not a hop), there is no plain-http fallback
    for an https address, and no cookie is kept. After a 401 the fetcher refuses to send the
    credentials again (``locked``): failed logins count toward lockout and show up in IOC
    sweeps. Error text is scrubbed of the password before it is stored anywhere."""

    def __init__(self, client: ProbeClient, target: Target, deadline_s: float, *, user: str, password: Any,
                 budget: int):
        super().__init__(client, target, deadline_s)
        self.parallel = 1  # credentialed reads stay one at a time (a 401 must stop the next one)
        self._user = user
        self._password = password
        self._budget = budget
        self.locked: str | None = None  # why credentials are no longer sent

    @property
    def budget_left(self) -> int:
        return max(0, self._budget - self._sent)

    def _plain_http_instead(self, r: HttpResponse, url: str, followed: list[str]) -> bool:
        return False  # never downgrade a credentialed request to http

    async def _one(self, method: str, url: str, *, raw: bool, byte_range: tuple[int, int] | None, cap: int,
                   shared: bool = True) -> HttpResponse:
        # No shared answers for credentialed reads: each GET is its own authenticated request.
        return await self._attempts(method, url, raw=raw, byte_range=byte_range, cap=cap)

    def _headers_for(self, url: str, raw: bool, byte_range: tuple[int, int] | None) -> dict[str, str]:
        if self._origin_of(url) != self._origin:  # belt and braces: _fetch already refused it
            raise ValueError("NITRO credentials are only sent to their own address")
        h = {k: v for k, v in self.client.request_headers().items() if k.lower() not in ("cookie", "authorization")}
        h["Accept"] = "application/json"
        h["X-NITRO-USER"] = self._user
        h["X-NITRO-PASS"] = self._password.reveal()
        return h

    async def get(self, path: str, *, raw: bool = False, byte_range: tuple[int, int] | None = None,
                  follow_redirects: bool = True, max_bytes: int | None = None) -> HttpResponse:
        url = self.url_for(path)
        if self.locked:
            return HttpResponse("GET", url, None, error=f"not sent: {self.locked}", error_kind=ErrorKind.NITRO_LOCKED)
        r = await self._fetch("GET", path, raw=False, byte_range=None, follow=False, max_bytes=max_bytes)
        if r.error:
            r = _replace(r, error=self._password.scrub(r.error))
        if r.status == 401:
            self.locked = "credentials rejected (401) earlier in this scan; not sent again"
        return r

    async def head(self, path: str) -> HttpResponse:
        raise ValueError("NITRO reads are GETs only")

    def _http_client(self) -> httpx.AsyncClient:
        # Own small pool, no cookie jar shared with the remote probes (NITRO may set a session
        # cookie; it is never sent back).
        if self._http is None:
            if self.client.per_host_pools:
                self._http = self.client.open_host_client()
            else:
                self._http = self.client.http
        return self._http


def _replace(r: HttpResponse, **changes: Any) -> HttpResponse:
    from dataclasses import replace

    return replace(r, **changes)


class DownloadError(Exception):
    """A download that did not bring a whole file: ``kind`` is ``refused`` (not https, a
    redirect off https), ``unavailable`` (network, TLS, HTTP status), ``oversized`` or
    ``truncated`` (the connection ended before the announced or complete body)."""

    def __init__(self, kind: str, message: str):
        self.kind = kind
        super().__init__(message)


def download(url: str, *, max_bytes: int, timeout: float = 30.0, ca_file: str | None = None,
             max_redirects: int = 5) -> bytes:
    """GET ``url`` (https only, certificate verified, redirects only to https) into memory, at
    most ``max_bytes``. For the signature feed: unlike the appliance probes this is a server the
    user trusts, so TLS is verified against the system store (or ``ca_file``)."""
    ctx = ssl.create_default_context(cafile=ca_file)
    with httpx.Client(verify=ctx, timeout=timeout, follow_redirects=False) as client:
        for _ in range(max_redirects + 1):
            if urlsplit(url).scheme != "https":
                raise DownloadError("refused", f"{_mask(url)}: only https:// URLs are fetched")
            try:
                with client.stream("GET", url, headers={"Accept-Encoding": "identity"}) as r:
                    if r.status_code in _REDIRECTS and "location" in r.headers:
                        url = urljoin(url, r.headers["location"])
                        continue
                    if r.status_code != 200:
                        raise DownloadError("unavailable", f"{_mask(url)}: HTTP {r.status_code}")
                    declared = r.headers.get("content-length")
                    if declared and declared.isdigit() and int(declared) > max_bytes:
                        raise DownloadError("oversized", f"{_mask(url)}: {declared} bytes announced (limit {max_bytes})")
                    buf = bytearray()
                    for chunk in r.iter_raw():
                        buf += chunk
                        if len(buf) > max_bytes:
                            raise DownloadError("oversized", f"{_mask(url)}: more than {max_bytes} bytes")
                    if declared and declared.isdigit() and len(buf) != int(declared):
                        raise DownloadError("truncated", f"{_mask(url)}: {len(buf)} of {declared} bytes")
                    return bytes(buf)
            except httpx.RemoteProtocolError as e:
                raise DownloadError("truncated", f"{_mask(url)}: connection ended early ({e})") from None
            except httpx.HTTPError as e:
                raise DownloadError("unavailable", f"{_mask(url)}: {type(e).__name__}: {e}") from None
    raise DownloadError("refused", f"{_mask(url)}: more than {max_redirects} redirects")


def _mask(url: str) -> str:
    """The URL without userinfo, for messages."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    return parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]).geturl()


class CollectorError(Exception):
    """A collector (Splunk HEC) did not take a batch: ``status`` is the HTTP status (0 for no
    answer), ``retry`` whether trying again later may help."""

    def __init__(self, status: int, message: str, *, retry: bool):
        self.status, self.retry = status, retry
        super().__init__(message)


class CollectorClient:
    """POSTs to the user's own log collector (Splunk HEC). Never used for appliances: the appliance
    probes stay GET/HEAD-only (``HostFetcher``). TLS is verified unless ``verify`` is False."""

    def __init__(self, *, timeout: float = 10.0, verify: bool = True, ca_file: str | None = None):
        ctx: ssl.SSLContext | bool = ssl.create_default_context(cafile=ca_file) if verify else False
        self._client = httpx.Client(verify=ctx, timeout=timeout, follow_redirects=False)

    def post_json(self, url: str, body: bytes, headers: dict[str, str]) -> Any:
        try:
            r = self._client.post(url, content=body, headers={"Content-Type": "application/json", **headers})
        except httpx.HTTPError as e:
            raise CollectorError(0, f"{_mask(url)}: {type(e).__name__}", retry=True) from None
        if r.status_code >= 300:
            retry = r.status_code in (429, 500, 502, 503, 504)
            raise CollectorError(r.status_code, f"{_mask(url)}: HTTP {r.status_code}", retry=retry)
        try:
            return r.json()
        except ValueError:
            return None

    def close(self) -> None:
        self._client.close()
