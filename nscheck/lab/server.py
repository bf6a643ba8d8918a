"""Running the lab: one loopback port per profile, served from a background event loop.

``start_lab`` returns a ``RunningLab`` once every port is listening; tests and the CLI use it
synchronously (``with start_lab("demo") as lab: ...``). The loop lives in its own thread, so a
scanner running its own asyncio loop in the caller's thread can talk to it.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import itertools
import socket
import ssl
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from nscheck.lab.certs import appliance_default_cert, server_context, site_cert
from nscheck.lab.faults import CONNECTION_FAULTS, connection_fault_handler
from nscheck.lab.http import Request, serve_http
from nscheck.lab.profiles import Profile, expected, preset
from nscheck.lab.sites import PlainSite, Site, make_site

__all__ = ["LabError", "LabTarget", "RunningLab", "check_loopback", "start_lab"]


_SEQ = itertools.count(1)


class LabError(RuntimeError):
    """The lab could not start (bad bind address, port exhaustion...); one line for users."""


@dataclass(frozen=True)
class LabTarget:
    name: str
    url: str
    profile: Profile
    expected: dict[str, Any] = field(compare=False)

    def __str__(self) -> str:
        # Lets a LabTarget stand wherever a target string is expected.
        return self.url

    @property
    def host(self) -> str:
        return self.url.split("://", 1)[1].rsplit(":", 1)[0].strip("[]")

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1].rstrip("/"))


def check_loopback(host: str) -> str:
    """Return ``host`` if it is a loopback address (127.0.0.0/8 or ::1); raise LabError otherwise.
    The lab serves deliberately vulnerable-looking content and must never be reachable."""
    try:
        ip = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        raise LabError(f"lab bind address {host!r} is not an IP address; use 127.0.0.1 or ::1") from None
    if not ip.is_loopback:
        raise LabError(f"lab bind address {host} is not loopback; the lab only binds 127.0.0.0/8 or ::1")
    return str(ip)


def _url(scheme: str, host: str, port: int) -> str:
    h = f"[{host}]" if ":" in host else host
    return f"{scheme}://{h}:{port}"


class RunningLab:
    def __init__(self, profiles: Sequence[Profile], *, host: str, latency_ms: float, tls: bool):
        self._profiles = list(profiles)
        names = [p.name for p in self._profiles]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise LabError(f"duplicate lab profile names: {', '.join(sorted(dup))}")
        self._host = check_loopback(host)
        for p in self._profiles:
            if p.opt("host"):
                check_loopback(str(p.opt("host")))
        self._latency = max(0.0, float(latency_ms)) / 1000.0
        self._tls = tls
        self._scheme = "https" if tls else "http"
        self.request_log: list[tuple[str, str, str]] = []
        self.targets: list[LabTarget] = []
        self._servers: list[asyncio.AbstractServer] = []
        self._refusing: list[socket.socket] = []
        self._conns: set[asyncio.Task[Any]] = set()
        self._urls: dict[str, str] = {}
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name=f"nscheck-lab-{next(_SEQ)}", daemon=True)

    # -- public -------------------------------------------------------------------------
    @property
    def target_urls(self) -> list[str]:
        return [t.url for t in self.targets]

    @property
    def thread_name(self) -> str:
        """Name of the thread serving this lab (tests check it is gone after ``stop()``)."""
        return self._thread.name

    def target(self, name: str) -> LabTarget:
        for t in self.targets:
            if t.name == name:
                return t
        raise KeyError(name)

    def requests_for(self, name: str) -> list[tuple[str, str]]:
        return [(m, p) for m, p, n in list(self.request_log) if n == name]

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        if self._loop.is_running():
            fut = asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop)
            with contextlib.suppress(Exception):
                fut.result(timeout=10)
            self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        for s in self._refusing:
            s.close()
        self._refusing.clear()

    def __enter__(self) -> RunningLab:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- lifecycle ----------------------------------------------------------------------
    def _start(self) -> RunningLab:
        self._thread.start()
        self._ready.wait(timeout=60)
        if self._error is not None or not self._ready.is_set():
            self.stop()
            err = self._error
            if isinstance(err, LabError):
                raise err
            raise LabError(f"lab failed to start: {err or 'timed out'}") from err
        return self

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        # Handshake failures and dropped clients are routine in a fault lab; keep them quiet.
        self._loop.set_exception_handler(lambda loop, ctx: None)
        try:
            self._loop.run_until_complete(self._start_all())
        except BaseException as e:  # reported to the caller of start_lab
            self._error = e
            self._ready.set()
            with contextlib.suppress(Exception):
                self._loop.run_until_complete(self._shutdown())
            self._loop.close()
            return
        self._ready.set()
        try:
            self._loop.run_forever()
        finally:
            with contextlib.suppress(Exception):
                self._loop.run_until_complete(self._shutdown())
            self._loop.close()

    async def _shutdown(self) -> None:
        for srv in self._servers:
            srv.close()
        for t in list(self._conns):
            t.cancel()
        if self._conns:
            await asyncio.wait(list(self._conns), timeout=5)
        for srv in self._servers:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(srv.wait_closed(), 2)
        self._servers.clear()

    # -- serving ------------------------------------------------------------------------
    def _track(self, handler):
        async def wrapped(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            task = asyncio.current_task()
            assert task is not None
            self._conns.add(task)
            try:
                await handler(reader, writer)
            except asyncio.CancelledError:
                writer.transport.abort()
            except Exception:  # one broken connection must not stop the host
                writer.transport.abort()
            finally:
                self._conns.discard(task)

        return wrapped

    def _http_handler(self, site: Site, name: str):
        def log(req: Request) -> None:
            self.request_log.append((req.method, req.path, name))

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await serve_http(reader, writer, site.respond, log, self._latency)

        return self._track(handle)

    async def _listen(self, handler, host: str, ctx: ssl.SSLContext | None) -> int:
        srv = await asyncio.start_server(handler, host=host, port=0, ssl=ctx, limit=65536, backlog=512,
                                         ssl_handshake_timeout=10 if ctx else None)
        self._servers.append(srv)
        return int(srv.sockets[0].getsockname()[1])

    def _refused_port(self, host: str) -> int:
        # Bound but never listening: the kernel answers SYNs with RST (connection refused),
        # and holding the socket keeps the port from being reused while the lab runs.
        fam = socket.AF_INET6 if ":" in host else socket.AF_INET
        s = socket.socket(fam, socket.SOCK_STREAM)
        s.bind((host, 0))
        self._refusing.append(s)
        return int(s.getsockname()[1])

    async def _start_all(self) -> None:
        ns_ctx = site_ctx = None
        if self._tls:
            ns_ctx = server_context(appliance_default_cert())
            site_ctx = server_context(site_cert())
        sites: list[tuple[Profile, Site]] = []
        for p in self._profiles:
            host = check_loopback(str(p.opt("host", self._host)))
            if p.kind == "fault" and p.fault == "refused":
                port = self._refused_port(host)
            elif p.kind == "fault" and p.fault in CONNECTION_FAULTS:
                port = await self._listen(self._track(connection_fault_handler(p.fault)), host, None)
            else:
                site = make_site(p)
                site.resolve_url = self._resolver(p)
                sites.append((p, site))
                # Only simulated appliances present the appliance's default certificate.
                appliance = p.kind == "netscaler" or (p.kind == "catchall" and p.opt("netscaler", True))
                ctx = ns_ctx if appliance else site_ctx
                port = await self._listen(self._http_handler(site, p.name), host, ctx)
            url = _url(self._scheme, host, port)
            self._urls[p.name] = url
            self.targets.append(LabTarget(p.name, url, p, expected(p)))
        # Redirect hosts without an explicit target get their own landing host elsewhere.
        for p, _site in sites:
            if p.kind == "fault" and p.fault == "redirect" and not p.opt("redirect_to"):
                self._urls[f"{p.name}/elsewhere"] = await self._elsewhere(p, site_ctx)

    async def _elsewhere(self, p: Profile, ctx: ssl.SSLContext | None) -> str:
        own = check_loopback(str(p.opt("host", self._host)))
        other = "127.0.0.2" if own == "127.0.0.1" else own
        helper = PlainSite(Profile(name=f"{p.name}/elsewhere", kind="plain"))
        handler = self._http_handler(helper, f"{p.name}/elsewhere")
        try:
            port = await self._listen(handler, other, ctx)
        except OSError:  # no 127.0.0.2 on this system: another port on the same address
            other = own
            port = await self._listen(handler, other, ctx)
        return _url(self._scheme, other, port)

    def _resolver(self, p: Profile):
        def resolve(name: str) -> str:
            if name and name in self._urls:
                return self._urls[name]
            return self._urls.get(f"{p.name}/elsewhere", "")

        return resolve


def start_lab(preset_or_profiles: str | Sequence[Profile], *, host: str = "127.0.0.1", latency_ms: float = 0,
              tls: bool = True) -> RunningLab:
    """Start the lab and return once every host listens. Use as a context manager or call
    ``stop()``. ``preset_or_profiles``: a preset name (demo, full, indicators) or profiles."""
    profiles = preset(preset_or_profiles) if isinstance(preset_or_profiles, str) else list(preset_or_profiles)
    if not profiles:
        raise LabError("no lab profiles given")
    return RunningLab(profiles, host=host, latency_ms=latency_ms, tls=tls)._start()
