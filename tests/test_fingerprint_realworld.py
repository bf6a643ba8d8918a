"""Real-world appliance variants the fingerprinting must survive.

Every response here is modelled on the reference NOTES (fingerprints) and the samples next to it
(captured appliance headers, the management GUI page, the reconstructed classic and RfWebUI pages),
never on nscheck's own lab: era-specific titles, RfWebUI-only builds, appliances behind proxies
that strip cookies or re-gzip, HTTP listeners that upgrade to https, load-balancing cookies,
customised themes, StoreFront look-alikes, and the odd header/range forms real servers send.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import respx
from scan_fakes import rdx_gz, rdx_zeroed, resp

from nscheck.fingerprint.engine import decide_product
from nscheck.fingerprint.methods import (
    Observations,
    check_catch_all,
    check_epa_deb,
    check_last_modified,
    check_pluginlist,
    check_rdx,
    check_vhash,
    match_markers,
)
from nscheck.model import Confidence
from nscheck.options import ScanOptions
from nscheck.runner import scan_hosts
from nscheck.signatures.fingerprints import load

SIGS = Path(__file__).resolve().parents[1] / "signatures"
T = load(SIGS)
OPTS = ScanOptions(timeout=2.0, host_deadline=10.0, retries=0, indicators=False)
STAMP_13_1_49_15 = 1695277021  # Fox-IT table: 13.1-49.15

# RfWebUI Gateway page (13.1/14.1 era, /logon/LogonPoint/index.html), after the reconstructed
# tmindex sample: relative receiver/ assets, _ctxstxt_ classes, the title class of the era.
RFWEBUI_GATEWAY = (
    b'<!DOCTYPE html>\n<html _manifest="receiver.appcache">\n<head>\n'
    b'    <meta http-equiv="X-UA-Compatible" content="IE=edge" />\n    <meta charset="utf-8" />\n'
    b'    <title class="_ctxstxt_NetscalerGateway">NetScaler Gateway</title>\n'
    b'    <link rel="ICON" href="receiver/images/common/icon_vpn.ico" type="image/vnd.microsoft.icon" />\n'
    b'    <script type="text/html" id="large-ui-styles">\n'
    b'        <link href="/logon/themes/Default/css/theme.css" rel="stylesheet" id="customStyle" />\n'
    b'    </script>\n</head>\n<body>\n'
    b'    <span class="citrixCopyright _ctxstxt_CitrixCopyright"></span>\n'
    b'    <script src="receiver/js/ctxs.core.min.js"></script>\n    <script src="init.js"></script>\n'
    b'</body>\n</html>\n'
)
# Classic /vpn/index.html after the reconstructed classic sample, with the customer's own title
# and theme (customised portal themes replace the title, keep the framework's script paths).
CUSTOM_CLASSIC = (
    b'<html><head><title>ACME Remote Access</title>\n'
    b'<link href="/logon/themes/ACME/css/base.css" rel="stylesheet" type="text/css" media="screen" />\n'
    b'<script type="text/javascript" src="/vpn/js/rdx.js"></script>\n'
    b'<script type="text/javascript" src="/vpn/js/gateway_login_view.js?v=0123456789abcdef0123456789abcdef01234567">'
    b'</script>\n</head><body class="ns_body"></body></html>\n'
)
# StoreFront Receiver for Web: same RfWebUI framework and header, but a Windows/IIS product.
STOREFRONT = (
    b'<!DOCTYPE html><html><head><title>Citrix Receiver</title>'
    b'<link rel="stylesheet" href="receiver/css/ctxs.large-ui.min.css" /></head><body>'
    b'<div class="citrixReceiverLogoAboutBox"></div><span class="_ctxstxt_CitrixCopyright"></span>'
    b'<script src="receiver/js/ctxs.core.min.js"></script></body></html>'
)


def _mgmt_page() -> bytes:
    """Management GUI login page, shape of samples/mgmt_gui_login_page_citrix_adc_13.0 (real, 19 KB)."""
    script = "function checkform(form) { return true; }\n" * 80
    return (
        '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN" "http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd">\n'
        '<html xmlns="http://www.w3.org/1999/xhtml" lang="en" xml:lang="en">\n<head>\n'
        '<meta http-equiv="Content-Type" content="text/html; charset=UTF-8" />\n<title>Citrix Login</title>\n'
        '<link rel="stylesheet" href="admin_ui/common/css/ns/ui.css" type="text/css">\n'
        f'<script type="text/javascript">{script}</script>\n</head>\n<body>\n'
        '<form action="/login/do_login" method="post" name="form1"><input name="username"></form>\n'
        '<div class="logo">Citrix ADC</div></body></html>\n'
    ).encode()


def obs(**responses: object) -> Observations:
    return Observations(responses=dict(responses))  # type: ignore[arg-type]


def _ids(o: Observations) -> set[str]:
    return {s.marker for s in match_markers(o, T).signals}


# -- product and role markers ---------------------------------------------------------------------


def test_title_variants_across_eras() -> None:
    for title in (b'<TITLE>NetScaler Gateway</TITLE>', b"<title>\n  Citrix Gateway\n</title>",
                  b'<title class="_ctxstxt_NetscalerGateway">Citrix Gateway</title>',
                  b"<title>Citrix Access Gateway - Enterprise Edition</title>"):
        o = obs(root=resp("https://h/vpn/index.html", 200, b"<html><head>" + title + b"</head></html>"))
        sig = match_markers(o, T).signals
        assert any(s.strength == "title" and s.role == "gateway" for s in sig), title
    aaa = obs(lp_tmindex=resp("https://h/logon/LogonPoint/tmindex.html", 200,
                              b'<title class="_ctxstxt_NetscalerAAA">NetScaler AAA</title>'))
    assert {"title_class_aaa", "title_plain_aaa"} <= _ids(aaa)


def test_management_gui_titles_and_sample_page() -> None:
    page = _mgmt_page()
    assert len(page) > 2000
    for title in (b"Citrix Login", b"NetScaler ADC - Login", b"NetScaler - Login", b"Citrix ADC Login"):
        body = page.replace(b"Citrix Login", title)
        assert "title_mgmt" in _ids(obs(root=resp("https://nsip/", 200, body))), title
    # the real page sets the NetScaler clearing cookies (samples/mgmt_gui_and_vpn_response_headers)
    cookies = "NSC_TEMP=xyz;Path=/;expires=Wednesday, 09-Nov-1999 23:12:40 GMT;Secure"
    o = obs(root=resp("https://nsip/", 200, page, {"Set-Cookie": cookies, "Server": "Apache"}))
    p = decide_product(match_markers(o, T).signals, True)
    assert p.is_netscaler is True and p.roles == ("management",)


def test_lb_persistence_and_folded_cookies() -> None:
    # NSC_<Caesar-shifted vserver name>: vserver names carry '-' and '.' (NetScalerCookieDecrypter)
    lb = obs(root=resp("https://shop/", 200, b"<html>shop</html>",
                       {"Set-Cookie": "NSC_wt-xfc.tipq_iuuqt=ffffffff09081e1145525d5f4f58455e445a4a423660;expires=Mon, "
                                      "24-Nov-2026 10:00:00 GMT;path=/;secure;httponly"}))
    p = decide_product(match_markers(lb, T).signals, True)
    assert p.is_netscaler is True and p.roles == ()  # ADC in the path, no Gateway role from a cookie
    # a front end that folds Set-Cookie lines into one comma-joined value
    folded = "ASP.NET_SessionId=abc; path=/, NSC_TMAS=0123abcd;Path=/;expires=Wednesday, 09-Nov-1999 23:12:40 GMT;Secure"
    assert "nsc_cookie" in _ids(obs(root=resp("https://h/", 200, b"x", {"Set-Cookie": folded})))


def test_headers_in_other_case_and_forms() -> None:
    hs = {"VIA": "1.1 ns-cache-10.0: 12", "content-security-policy":
          "default-src 'self'; frame-src CITRIXNG: nsgcepa:; report-uri /nscsp_violation/report_uri"}
    o = obs(root=resp("https://h/logon/LogonPoint/index.html", 200, RFWEBUI_GATEWAY, hs))
    ids = _ids(o)
    assert {"via_ns_cache", "csp_citrix"} <= ids
    p = decide_product(match_markers(o, T).signals, True)
    assert p.is_netscaler is True and "gateway" in p.roles


def test_storefront_is_not_a_netscaler() -> None:
    # RfWebUI markup and "X-Citrix-Application: Receiver for Web" are StoreFront's too
    o = obs(root=resp("https://sf/Citrix/StoreWeb/", 200, STOREFRONT,
                      {"X-Citrix-Application": "Receiver for Web", "Server": "Microsoft-IIS/10.0"}))
    p = decide_product(match_markers(o, T).signals, True)
    assert p.is_netscaler is not True


def test_redirect_in_a_200_body() -> None:
    for body in (b'<html><head><meta http-equiv="Refresh" content="0; URL=/vpn/index.html"></head></html>',
                 b"<script>window.location.href = '/logon/LogonPoint/tmindex.html';</script>",
                 b'<script>location.replace("https://gw.example/logon/LogonPoint/index.html")</script>'):
        assert "login_redirect_body" in _ids(obs(root=resp("https://h/", 200, body))), body
    off_host = obs(root=resp("https://10.0.0.5/", 302, b"", {"Location": "https://gw.corp.example/vpn/index.html"},
                             error="redirect off-host to https://gw.corp.example/vpn/index.html not followed"))
    assert "login_redirect" in _ids(off_host)  # scanning the IP of a vserver that redirects to its FQDN


def test_random_path_redirected_to_login_page_is_not_a_catch_all() -> None:
    # Unauthenticated requests to any path of a Gateway vserver are sent to the logon page.
    login = "https://gw/logon/LogonPoint/index.html"
    o = obs(random=resp(login, 200, RFWEBUI_GATEWAY, redirects=(login,)),
            root=resp(login, 200, RFWEBUI_GATEWAY, redirects=(login,)))
    out = check_catch_all(o, T)
    assert o.catch_all_body is None and "redirects to the login page" in out.evidence[0].detail
    sig = match_markers(o, T).signals
    assert not any(s.catch_all for s in sig)
    p = decide_product(sig, True)
    assert p.is_netscaler is True and p.roles == ("gateway",)
    # a host answering 200 with the same page to a random path, without redirecting: still a catch-all
    o2 = obs(random=resp("https://gw/nscheck-x.html", 200, RFWEBUI_GATEWAY), root=resp("https://gw/", 200, RFWEBUI_GATEWAY))
    check_catch_all(o2, T)
    assert o2.catch_all_body is not None


def test_customised_theme_keeps_gateway_role_from_scripts() -> None:
    o = obs(vpn_index=resp("https://h/vpn/index.html", 200, CUSTOM_CLASSIC))
    sig = match_markers(o, T).signals
    assert {"gateway_assets", "gateway_login_assets"} <= {s.marker for s in sig}
    o.responses["rdx"] = resp("https://h/vpn/js/rdx/core/lang/rdx_en.json.gz", 200, rdx_gz(STAMP_13_1_49_15))
    out = check_rdx(o, T)
    p = decide_product([*sig, *out.signals], True)
    assert p.is_netscaler is True and p.roles == ("gateway",)
    assert str(out.claims[0].builds[0]) == "13.1-49.15"
    # a 40-hex script version is not a vhash with its tail cut off
    assert check_vhash(o, T).claims == () and check_vhash(o, T).evidence == ()


# -- build signals ----------------------------------------------------------------------------------


def test_vhash_forms_in_real_markup() -> None:
    h = "26df0e65fba681faaeb333058a8b28bf"  # 12.1-50.28 (Fox-IT)
    for page in (f'<link href="/vpn/js/rdx/core/css/rdx.css?v={h}" rel="stylesheet">',
                 f'<script src="/vpn/resources.js?lang=en&amp;v={h.upper()}"></script>',
                 f"<script>loadScript('/vpn/js/views.js?a=1&v={h}');</script>"):
        [c] = check_vhash(obs(vpn_index=resp("https://h/vpn/index.html", 200, page.encode())), T).claims
        assert str(c.builds[0]) == "12.1-50.28", page


def test_last_modified_reformatted_and_etag_only() -> None:
    # same instant as the published 13.0-91.13 value, written RFC 850 style by a proxy
    r = resp("https://h/vpn/index.html", 200, b"x", {"Last-Modified": "Friday, 07-Jul-23 15:39:40 GMT"})
    [c] = check_last_modified(obs(vpn_index=r), T).claims
    assert str(c.builds[0]) == "13.0-91.13" and c.confidence is Confidence.MEDIUM
    # Last-Modified stripped, Apache ETag kept: 0x5ffe770e2e700 us = 2023-07-07 15:39:40 UTC
    etag = '"1f3a-5ffe770e2e700"'
    r = resp("https://h/vpn/index.html", 200, b"x", {"ETag": etag})
    [c] = check_last_modified(obs(vpn_index=r), T).claims
    assert str(c.builds[0]) == "13.0-91.13" and c.confidence is Confidence.LOW and "ETag" in c.detail


def test_nsepa_deb_size_forms() -> None:
    u = "https://h/epa/scripts/linux/nsepa.deb"
    for status, headers, body in (
        (206, {"Content-Range": "Bytes 0-0/10688726"}, b"!"),
        (206, {"Content-Range": "bytes 0-0 / 10688726 "}, b"!"),
        (416, {"Content-Range": "bytes */10688726"}, b""),
        (200, {"Content-Length": "10688726"}, b"!<arch>\ndebian-binary"),  # Range ignored
    ):
        claims = check_epa_deb(obs(nsepa=resp(u, status, body, headers)), T).claims
        assert len(claims) == 1, (status, headers)
        c = claims[0]
        assert c.relation == "floor" and str(c.builds[0]) == "14.1-73.37"
    # a login page (or catch-all) answering the .deb path is not the plug-in, whatever its length
    html = check_epa_deb(obs(nsepa=resp(u, 200, b"<html><title>NetScaler Gateway", {"Content-Length": "10688726"})), T)
    assert not html.claims and "not a .deb" in html.skipped[0].reason
    gz = check_epa_deb(obs(nsepa=resp(u, 206, b"\x1f", {"Content-Range": "bytes 0-0/10688726", "Content-Encoding": "gzip"})), T)
    assert not gz.claims and gz.skipped


def test_pluginlist_attribute_order_and_quotes() -> None:
    xml = (b"<?xml version='1.0'?><repository><plugin version='24.2.1.9' os='linux' name='Netscaler Gateway EPA plug-in "
           b"for Linux'/><plugin name=\"Other\" version=\"1\"/></repository>")
    out = check_pluginlist(obs(pluginlist=resp("https://h/vpn/pluginlist.xml", 200, xml)), T)
    assert "24.2.1.9" in out.evidence[0].detail and out.signals[0].role == "gateway"


def test_rdx_labelled_or_wrapped_by_the_server() -> None:
    u = "https://h/vpn/js/rdx/core/lang/rdx_en.json.gz"
    # the .gz file served with "Content-Encoding: gzip" as a label only: the raw bytes are the file
    r = resp(u, 200, rdx_gz(STAMP_13_1_49_15), {"Content-Encoding": "gzip", "Content-Type": "application/json"})
    [c] = check_rdx(obs(rdx=r), T).claims
    assert str(c.builds[0]) == "13.1-49.15" and c.relation == "exact"
    # 2026 mainline: 23-byte gzip -n file, MTIME 0, no name
    z = check_rdx(obs(rdx=resp(u, 200, rdx_zeroed())), T)
    assert z.claims[0].relation == "floor" and z.signals


# -- whole-host scans (respx, no sockets) --------------------------------------------------------


def _urls(mock: respx.MockRouter) -> list[str]:
    return [str(req.url) for req, _ in mock.calls]


@respx.mock(assert_all_called=False)
def test_rfwebui_gateway_behind_proxy_without_cookies(respx_mock: respx.MockRouter) -> None:
    """14.1 Gateway behind a reverse proxy that strips cookies and Via: no /vpn/index.html,
    every unauthenticated path redirected to the LogonPoint page, zeroed rdx file."""
    base = "https://gw14.example"
    login = "/logon/LogonPoint/index.html"
    respx_mock.get(f"{base}{login}").respond(200, content=RFWEBUI_GATEWAY, headers={"Server": "nginx"})
    respx_mock.get(f"{base}/vpn/js/rdx/core/lang/rdx_en.json.gz").respond(200, content=rdx_zeroed())
    respx_mock.get(f"{base}/epa/scripts/linux/nsepa.deb").respond(206, content=b"!",
                                                                  headers={"Content-Range": "bytes 0-0/10688726"})
    respx_mock.route(host="gw14.example").respond(302, headers={"Location": login})
    [r] = scan_hosts(["gw14.example"], OPTS)
    assert r.product.is_netscaler is True and r.product.roles == ("gateway",)
    assert r.build is not None and r.build.release == "14.1" and r.build.floor and "14.1-73.37" in r.build.floor
    assert all(a.verdict.value != "vulnerable" for a in r.advisories)


@respx.mock(assert_all_called=False)
def test_http_listener_upgrades_to_https_on_the_same_host(respx_mock: respx.MockRouter) -> None:
    respx_mock.route(scheme="http", host="gw80.example").respond(
        301, headers={"Location": "https://gw80.example:8443/"})
    base = "https://gw80.example:8443"
    respx_mock.get(f"{base}/").respond(302, headers={"Location": "/vpn/index.html"})
    classic = (b'<html><head><title class="_ctxstxt_NetscalerGateway">Citrix Gateway</title>'
               b'<script type="text/javascript" src="/vpn/js/gateway_login_view.js"></script></head></html>')
    respx_mock.get(f"{base}/vpn/index.html").respond(200, content=classic)
    respx_mock.get(f"{base}/vpn/js/rdx/core/lang/rdx_en.json.gz").respond(200, content=rdx_gz(STAMP_13_1_49_15))
    respx_mock.route(host="gw80.example", port=8443).respond(404)
    [r] = scan_hosts(["http://gw80.example"], OPTS)
    assert r.url == "http://gw80.example"
    assert r.product.is_netscaler is True and "gateway" in r.product.roles
    assert r.build is not None and r.build.exact and r.build.release == "13.1" and r.build.build == "49.15"
    urls = _urls(respx_mock)
    # after the first upgrade, requests go to https directly instead of bouncing off port 80 each time
    assert sum(u.startswith("http://") for u in urls) == 1
    assert any(e.method == "probe" and "redirected http" in e.detail for e in r.product.evidence)


@respx.mock(assert_all_called=False)
def test_downgrade_and_other_host_redirects_are_not_followed(respx_mock: respx.MockRouter) -> None:
    respx_mock.get("https://a.example/").respond(302, headers={"Location": "http://a.example/vpn/index.html"})
    respx_mock.get("https://b.example/").respond(302, headers={"Location": "https://idp.example/login"})
    respx_mock.route(host="a.example").respond(404)
    respx_mock.route(host="b.example").respond(404)
    scan_hosts(["a.example", "b.example"], OPTS)
    urls = _urls(respx_mock)
    assert not any(u.startswith("http://a.example") or "idp.example" in u for u in urls)


@respx.mock(assert_all_called=False)
def test_gzip_encoded_pages_are_decoded(respx_mock: respx.MockRouter) -> None:
    base = "https://gz.example"
    page = RFWEBUI_GATEWAY.replace(b"NetScaler Gateway", b"Citrix Gateway")
    respx_mock.get(f"{base}/").respond(200, content=gzip.compress(page),
                                       headers={"Content-Encoding": "gzip", "Set-Cookie": "NSC_TMAS=abc;Path=/;Secure"})
    respx_mock.get(f"{base}/vpn/js/rdx/core/lang/rdx_en.json.gz").respond(
        200, content=gzip.compress(rdx_gz(STAMP_13_1_49_15)), headers={"Content-Encoding": "gzip"})  # proxy re-gzip
    respx_mock.route(host="gz.example").respond(404)
    [r] = scan_hosts(["gz.example"], OPTS)
    assert r.product.is_netscaler is True and r.product.roles == ("gateway",)
    assert r.build is not None and r.build.exact and r.build.build == "49.15"


@respx.mock(assert_all_called=False)
def test_management_gui_only_host(respx_mock: respx.MockRouter) -> None:
    """NSIP with the GUI: product and role from the page + appliance cookies; no build signal
    of the NOTES answers, so the build is honestly unknown."""
    base = "https://nsip.example"
    respx_mock.get(f"{base}/").respond(200, content=_mgmt_page(), headers={
        "Server": "Apache", "Set-Cookie": "NSC_TEMP=xyz;Path=/;expires=Wednesday, 09-Nov-1999 23:12:40 GMT;Secure"})
    respx_mock.route(host="nsip.example").respond(404)
    [r] = scan_hosts(["nsip.example"], OPTS)
    assert r.product.is_netscaler is True and r.product.roles == ("management",)
    assert r.build is None or (not r.build.exact and not r.build.candidates)
    assert all(a.verdict.value != "vulnerable" for a in r.advisories)


@respx.mock(assert_all_called=False)
def test_storefront_host_is_not_called_netscaler(respx_mock: respx.MockRouter) -> None:
    base = "https://sf.example"
    respx_mock.get(f"{base}/").respond(302, headers={"Location": "/Citrix/StoreWeb/"})
    respx_mock.get(f"{base}/Citrix/StoreWeb/").respond(200, content=STOREFRONT, headers={
        "X-Citrix-Application": "Receiver for Web", "Server": "Microsoft-IIS/10.0"})
    respx_mock.route(host="sf.example").respond(404)
    [r] = scan_hosts(["sf.example"], OPTS)
    assert r.product.is_netscaler is not True and r.advisories == ()


def test_legacy_epa_html_nsversion() -> None:
    from nscheck.fingerprint.methods import check_epa_html

    page = b'<script language="javascript">\nvar nsversion="12,0,41,23";\nvar plugin = null;</script>'
    out = check_epa_html(obs(epa_html=resp("https://h/epa/epa.html", 200, page)), T)
    [c] = out.claims
    assert c.relation == "exact" and str(c.builds[0]) == "12.0-41.23" and c.confidence is Confidence.MEDIUM
    assert check_epa_html(obs(epa_html=resp("https://h/epa/epa.html", 200, b"<html>EPA</html>")), T).claims == ()


@respx.mock(assert_all_called=False)
def test_big_rdx_double_gzipped_by_a_proxy_is_unwrapped_under_the_cap(respx_mock: respx.MockRouter) -> None:
    import io
    import random

    buf = io.BytesIO()
    noise = random.Random(7).randbytes(20000)  # incompressible: the outer layer stays > 4 KiB
    with gzip.GzipFile(filename="rdx_en.json", mode="wb", fileobj=buf, mtime=STAMP_13_1_49_15) as g:
        g.write(noise)
    base = "https://big.example"
    respx_mock.get(f"{base}/").respond(302, headers={"Location": "/vpn/index.html"})
    respx_mock.get(f"{base}/vpn/index.html").respond(200, content=CUSTOM_CLASSIC, headers={"Set-Cookie": "NSC_TEMP=x;Path=/"})
    respx_mock.get(f"{base}/vpn/js/rdx/core/lang/rdx_en.json.gz").respond(
        200, content=gzip.compress(buf.getvalue()), headers={"Content-Encoding": "gzip"})
    respx_mock.route(host="big.example").respond(404)
    [r] = scan_hosts(["big.example"], OPTS)
    assert r.build is not None and r.build.exact and r.build.build == "49.15", r.build


def test_mislabelled_gzip_page_is_read_as_sent() -> None:
    import asyncio

    import httpx

    from nscheck.fingerprint.engine import fingerprint_host
    from nscheck.probe.client import ProbeClient
    from nscheck.targets import parse_target

    def handler(req: httpx.Request) -> httpx.Response:
        if req.url.path == "/":  # announced as gzip, sent plain
            return httpx.Response(200, headers={"Content-Encoding": "gzip", "Set-Cookie": "NSC_TMAS=1;Path=/"},
                                  stream=httpx.ByteStream(RFWEBUI_GATEWAY))
        return httpx.Response(404, stream=httpx.ByteStream(b"nope"))

    async def go():  # type: ignore[no-untyped-def]
        async with ProbeClient(OPTS, transport=httpx.MockTransport(handler)) as pc:
            f = pc.fetcher(next(parse_target("lbl.example")))
            fp = await fingerprint_host(f, T)
            return f.responses[0], fp

    root, fp = asyncio.run(go())
    assert root.error is None and "not compressed" in root.notes[0]
    assert fp.product.is_netscaler is True and fp.product.roles == ("gateway",)


def test_rdx_recompressed_by_a_cdn_proves_the_file_not_the_build() -> None:
    u = "https://h/vpn/js/rdx/core/lang/rdx_en.json.gz"
    # a CDN decompressed and re-gzipped the file: no name, its own MTIME
    regz = gzip.compress(b'{"strings": {"Logon": "Log On"}}' * 10, mtime=1767225600)
    out = check_rdx(obs(rdx=resp(u, 200, regz)), T)
    assert out.claims == () and [s.marker for s in out.signals] == ["rdx_regzipped"]
    assert out.signals[0].strength == "corroborator" and "not the build" in out.signals[0].evidence.detail
    # a title plus the recompressed file: NetScaler, still no build
    page = obs(root=resp("https://h/", 200, RFWEBUI_GATEWAY))
    p = decide_product([*match_markers(page, T).signals, *out.signals], True)
    assert p.is_netscaler is True
    # a gzip of something else at that path is nothing
    assert check_rdx(obs(rdx=resp(u, 200, gzip.compress(b"<html>not found</html>" * 5, mtime=5))), T).signals == ()


def test_management_redirect_to_menu_neo() -> None:
    o = obs(root=resp("https://nsip/menu/neo", 200, _mgmt_page(), redirects=("https://nsip/menu/neo",),
                      headers={"Set-Cookie": "NSC_TEMP=xyz;Path=/"}))
    ids = _ids(o)
    assert {"mgmt_redirect", "title_mgmt", "mgmt_assets"} <= ids
    p = decide_product(match_markers(o, T).signals, True)
    assert p.is_netscaler is True and p.roles == ("management",)
    # NetScaler Console (ADM) is another product: its login path names no ADC role
    adm = obs(root=resp("https://adm/admin_ui/mas/ent/login.html", 200, b"<title>NetScaler Console</title>",
                        redirects=("https://adm/admin_ui/mas/ent/login.html",)))
    assert not _ids(adm)


def test_page_date_near_a_compile_stamp_gives_dated_candidates_only_without_rdx() -> None:
    # samples/mgmt_gui_and_vpn_response_headers: ETag "53-5986dd42b0680" = 2019-11-28 20:19:22 UTC,
    # about an hour after the 13.0-47.22 rdx stamp (2019-11-28 19:06:22)
    r = resp("https://h/vpn/index.html", 200, b"x", {"ETag": '"53-5986dd42b0680"'})
    [c] = check_last_modified(obs(vpn_index=r), T).claims
    assert c.relation == "candidates" and c.dated and c.confidence is Confidence.LOW
    assert "13.0-47.22" in map(str, c.builds)
    # once the rdx file has spoken, a page date adds nothing
    rdx = resp("https://h/vpn/js/rdx/core/lang/rdx_en.json.gz", 200, rdx_gz(STAMP_13_1_49_15))
    assert check_last_modified(obs(vpn_index=r, rdx=rdx), T).claims == ()


def test_https_target_on_a_plain_http_port_falls_back_to_http() -> None:
    """host:80 (or an HTTP listener on another port) given without a scheme defaults to https;
    the port answers the ClientHello in plain HTTP: the host is read over http instead."""
    import asyncio
    import socketserver
    import threading

    from nscheck.probe.client import ProbeClient
    from nscheck.targets import parse_target

    seen: list[str] = []

    class H(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            data = self.request.recv(65536)
            if not data.startswith(b"GET "):
                self.request.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                return
            path = data.split(b" ", 2)[1].decode()
            seen.append(path)
            body = RFWEBUI_GATEWAY if path == "/" else b"nope"
            status = b"200 OK" if path == "/" else b"404 Not Found"
            self.request.sendall(b"HTTP/1.1 " + status + b"\r\nContent-Length: " + str(len(body)).encode()
                                 + b"\r\nSet-Cookie: NSC_TEMP=xyz;Path=/\r\nConnection: close\r\n\r\n" + body)

    class S(socketserver.ThreadingTCPServer):
        allow_reuse_address = True
        daemon_threads = True

    srv = S(("127.0.0.1", 0), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        port = srv.server_address[1]

        async def go():  # type: ignore[no-untyped-def]
            async with ProbeClient(OPTS) as pc:
                f = pc.fetcher(next(parse_target(f"127.0.0.1:{port}")))
                r = await f.get("/")
                r2 = await f.get("/vpn/index.html")
                return f, r, r2

        f, r, r2 = asyncio.run(go())
    finally:
        srv.shutdown()
        srv.server_close()
    assert f.plain_http and r.status == 200 and r.url == f"http://127.0.0.1:{port}/"
    assert r2.status == 404 and r2.url.startswith("http://")
    assert seen == ["/", "/vpn/index.html"] and f.requests_sent == 3  # one failed TLS attempt, then plain


@respx.mock(assert_all_called=False)
def test_upgrade_hop_does_not_count_against_max_redirects(respx_mock: respx.MockRouter) -> None:
    respx_mock.route(scheme="http", host="chain.example").respond(301, headers={"Location": "https://chain.example/"})
    base = "https://chain.example"
    respx_mock.get(f"{base}/").respond(302, headers={"Location": "/vpn/index.html"})
    respx_mock.get(f"{base}/vpn/index.html").respond(302, headers={"Location": "/logon/LogonPoint/index.html"})
    respx_mock.get(f"{base}/logon/LogonPoint/index.html").respond(302, headers={"Location": "/logon/LogonPoint/tmindex.html"})
    respx_mock.get(f"{base}/logon/LogonPoint/tmindex.html").respond(
        200, content=RFWEBUI_GATEWAY, headers={"Set-Cookie": "NSC_TMAS=1;Path=/"})
    respx_mock.route(host="chain.example").respond(404)
    [r] = scan_hosts(["http://chain.example"], OPTS.with_(max_redirects=3))
    assert r.status.value == "ok" and r.product.is_netscaler is True, r.error


@respx.mock(assert_all_called=False)
def test_management_gui_without_cookies_is_confirmed_by_its_stylesheet(respx_mock: respx.MockRouter) -> None:
    base = "https://nsip2.example"
    respx_mock.get(f"{base}/").respond(200, content=_mgmt_page(), headers={"Server": "Apache"})
    respx_mock.get(f"{base}/admin_ui/common/css/ns/ui.css").respond(
        200, content=b".ns_body { margin: 0; }\n.login_combo { width: 90%; }\n", headers={"Content-Type": "text/css"})
    respx_mock.route(host="nsip2.example").respond(404)
    [r] = scan_hosts(["nsip2.example"], OPTS)
    assert r.product.is_netscaler is True and r.product.roles == ("management",)
    # a saved copy of the page on an ordinary web server: no stylesheet at the appliance path
    respx_mock.get("https://copy.example/").respond(200, content=_mgmt_page())
    respx_mock.route(host="copy.example").respond(404, content=b"<html>not found</html>")
    [c] = scan_hosts(["copy.example"], OPTS)
    assert c.product.is_netscaler is False


def test_http10_close_delimited_gzip_page_and_chunked_rdx() -> None:
    """An HTTP/1.0-style answer without Content-Length (body ends at close), gzip-encoded, and a
    chunked rdx file: both read whole; the page decoded, the .gz file kept raw."""
    import asyncio
    import socketserver
    import threading

    from nscheck.probe.client import ProbeClient
    from nscheck.targets import parse_target

    gz_page = gzip.compress(RFWEBUI_GATEWAY)
    rdx = rdx_gz(STAMP_13_1_49_15)

    class H(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            data = self.request.recv(65536)
            path = data.split(b" ", 2)[1]
            if path == b"/":
                self.request.sendall(b"HTTP/1.0 200 OK\r\nContent-Encoding: gzip\r\nContent-Type: text/html\r\n\r\n" + gz_page)
            else:
                chunks = b"".join(b"%x\r\n%s\r\n" % (len(rdx[i:i + 7]), rdx[i:i + 7]) for i in range(0, len(rdx), 7))
                self.request.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                                     + chunks + b"0\r\n\r\n")

    class S(socketserver.ThreadingTCPServer):
        allow_reuse_address = True
        daemon_threads = True

    srv = S(("127.0.0.1", 0), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        async def go():  # type: ignore[no-untyped-def]
            async with ProbeClient(OPTS) as pc:
                f = pc.fetcher(next(parse_target(f"http://127.0.0.1:{srv.server_address[1]}")))
                return await f.get("/"), await f.get("/vpn/js/rdx/core/lang/rdx_en.json.gz", raw=True, max_bytes=4096)

        page, gz = asyncio.run(go())
    finally:
        srv.shutdown()
        srv.server_close()
    assert page.status == 200 and page.body == RFWEBUI_GATEWAY and page.error is None
    assert gz.body == rdx and check_rdx(obs(rdx=gz), T).claims[0].relation == "exact"
