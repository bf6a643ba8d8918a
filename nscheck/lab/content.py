"""What a simulated appliance serves: page bodies, headers, and the build-dependent static files.

Everything that depends on the build comes from the shipped fingerprint tables
(``signatures/fingerprints/*.csv``), read here as plain data, never from a lab-only hint:

* ``rdx_en.json.gz``: gzip header with FNAME and the MTIME of the build (stamp table), or the
  23-byte ``gzip -n`` body of the zeroed builds (zeroed table); fingerprint NOTES §1 V1.
* ``?v=<md5>`` on the classic ``/vpn/index.html`` script URLs when the build has a vhash (V2).
* ``Last-Modified``/``ETag`` that track the build time (V3), Apache-style ETag.
* ``/epa/scripts/linux/nsepa.deb`` with the published sizes, Range-aware, no length on HEAD (V4).
* ``/vpn/pluginlist.xml`` with a year-based EPA version (V5, coarse).

Page markup follows the reference samples (reconstructed RfWebUI/classic pages, the captured
management GUI page and header sets); see fingerprint NOTES §6.
"""

from __future__ import annotations

import csv
import datetime as dt
import email.utils
import hashlib
import struct
import zlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from nscheck.build import Build, Edition, edition_candidates, parse_build
from nscheck.paths import signatures_dir

__all__ = [
    "BuildFacts",
    "build_facts",
    "classic_gateway_page",
    "favicon_ico",
    "http_date",
    "logonpoint_page",
    "management_page",
    "not_found_page",
    "pluginlist_xml",
    "rdx_en_gz",
    "rdx_en_gz_zeroed",
]

_FP = "fingerprints"
# /vpn/index.html "no longer exists" from 13.1-57.26 on (fox-it issue #15); its stamp marks the era.
_CLASSIC_PAGE_GONE_AFTER = 1737799969
# Static files on the appliance carry mtimes about an hour after the rdx stamp (NOTES §1 V3).
_STATIC_MTIME_OFFSET = dt.timedelta(minutes=52, seconds=17)


# --------------------------------------------------------------------------------------- tables
@dataclass(frozen=True)
class _StampRow:
    stamp: int
    build: str
    editions: tuple[str, ...]
    vhash: str
    confidence: str


@dataclass(frozen=True)
class _Tables:
    stamps: tuple[_StampRow, ...]
    zeroed: tuple[tuple[str, str, Build, int], ...]  # release, edition, floor, size
    last_modified: dict[str, str]  # build -> first published Last-Modified value
    epa: tuple[tuple[int, str, Build], ...]  # size, relation, build
    release_dates: dict[tuple[str, str], dt.date]  # (build, edition) -> date


def _rows(directory: Path, name: str) -> list[dict[str, str]]:
    with (directory / _FP / name).open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


@lru_cache(maxsize=4)
def _tables(directory: str) -> _Tables:
    d = Path(directory)
    stamps = tuple(
        _StampRow(
            stamp=int(r["rdx_en_stamp"]),
            build=r["build"].strip(),
            editions=tuple(e for e in r["edition"].split("|") if e),
            vhash=r["vhash"].strip(),
            confidence=r["confidence"].strip(),
        )
        for r in _rows(d, "netscaler_rdx_en_gzip_mtime_to_build.csv")
    )
    zeroed = tuple(
        (r["release"], r["edition"], parse_build(r["floor"]), int(r["body_size"]))
        for r in _rows(d, "netscaler_rdx_en_zeroed.csv")
    )
    last_modified: dict[str, str] = {}
    for r in _rows(d, "netscaler_last_modified_to_build.csv"):
        last_modified.setdefault(r["build"], r["last_modified"])
    epa = tuple(
        (int(r["size_bytes"]), r["relation"], parse_build(r["build"]))
        for r in _rows(d, "netscaler_epa_deb_size_to_build.csv")
    )
    dates: dict[tuple[str, str], dt.date] = {}
    for r in _rows(d, "netscaler_release_dates.csv"):
        day = dt.date.fromisoformat(r["release_date"])
        key = (r["build"], r["edition"])
        if key not in dates or day < dates[key]:
            dates[key] = day
    return _Tables(stamps, zeroed, last_modified, epa, dates)


def tables(signatures: str | Path | None = None) -> _Tables:
    return _tables(str(signatures_dir(signatures)))


# ----------------------------------------------------------------------------------- build facts
@dataclass(frozen=True)
class BuildFacts:
    """What the simulated firmware build implies for the files it serves."""

    build: Build  # with its true edition
    rdx: str  # "stamp" | "zeroed" | "absent"
    stamp: int | None
    stamp_known: bool  # the stamp is in the table (False: synthesised compile time)
    stamp_unique: bool  # the stamp names this build only (ignoring low-confidence rows)
    stamp_trusted: bool  # a row above low confidence names it (low rows alone give candidates only)
    vhash: str | None
    build_time: dt.datetime
    last_modified: str
    epa_size: int | None
    epa_relation: str | None  # "floor" | "before" (the table's relation) or None
    epa_anchor: str | None  # the table's build for that size
    classic_page: bool  # /vpn/index.html still exists on this build

    @property
    def edition(self) -> Edition:
        return self.build.edition or Edition.STANDARD


def _edition_of(build: Build, edition: str | None) -> Edition:
    if edition:
        return Edition(edition)
    cands = edition_candidates(build)
    return Edition.STANDARD if Edition.STANDARD in cands else cands[0]


def _row_matches(row: _StampRow, build: Build) -> bool:
    if row.build != build.plain:
        return False
    if not row.editions:
        return True
    return (build.edition or Edition.STANDARD).value in row.editions


def _zeroed_floor(t: _Tables, build: Build) -> Build | None:
    ed = (build.edition or Edition.STANDARD).value
    for release, edition, floor, _size in t.zeroed:
        if release == build.release and edition == ed and not build.older_than(floor):
            return floor
    return None


def _synth_stamp(t: _Tables, build: Build) -> int:
    """A plausible compile time for a build the table does not know: a week before its release
    date when one is published, else a few days per build step after its nearest known sibling."""
    ed = (build.edition or Edition.STANDARD).value
    day = t.release_dates.get((build.plain, ed)) or t.release_dates.get((build.plain, "standard"))
    known = {r.stamp for r in t.stamps}
    if day is not None:
        when = dt.datetime.combine(day - dt.timedelta(days=7), dt.time(3, 12, 41), dt.UTC)
        stamp = int(when.timestamp())
    else:
        siblings: list[tuple[Build, int]] = []
        for r in t.stamps:
            if not r.build or r.confidence == "low":
                continue
            b = parse_build(r.build)
            if b.release == build.release and b.major == build.major and b.minor < build.minor:
                siblings.append((b, r.stamp))
        if siblings:
            b, s = max(siblings, key=lambda x: (x[0].minor, x[1]))
            stamp = s + (build.minor - b.minor) * 5 * 86400
        else:
            same = [r.stamp for r in t.stamps if r.build.startswith(build.release + "-")]
            stamp = (max(same) if same else 1_600_000_000) + 45 * 86400
    while stamp in known:
        stamp += 1
    return stamp


def http_date(when: dt.datetime) -> str:
    return email.utils.format_datetime(when.astimezone(dt.UTC), usegmt=True)


@lru_cache(maxsize=512)
def build_facts(build_text: str, edition: str | None = None, rdx: str = "auto",
                signatures: str | None = None, stamp_override: int | None = None) -> BuildFacts:
    """Resolve a profile's build into the facts the lab serves.

    ``rdx``: ``auto`` (table stamp; zeroed body from the zeroed-table floor on; a synthesised
    stamp for builds nobody published), ``zeroed`` (force the 23-byte body), ``stamp`` (force a
    stamp: for the zeroed builds that is the conflicting third-party stamp, NOTES §1 V1),
    ``absent`` (the file is not served). ``stamp_override``: serve exactly this MTIME.
    """
    t = tables(signatures)
    b = parse_build(build_text)
    b = b.with_edition(_edition_of(b, edition))
    rows = [r for r in t.stamps if _row_matches(r, b)]
    trusted = [r for r in rows if r.confidence != "low"]
    floor = _zeroed_floor(t, b)

    def unique(row: _StampRow) -> bool:
        return all(o.build == row.build for o in t.stamps if o.stamp == row.stamp and o.confidence != "low")

    mode = rdx
    chosen: _StampRow | None = None
    if mode == "auto":
        if trusted:
            mode = "stamp"
        elif floor is not None:
            mode = "zeroed"
        else:
            mode = "stamp"
    if mode == "stamp":
        pool = trusted or rows
        # Prefer a stamp that names this build alone (some stamps are shared or disputed).
        pool = sorted(pool, key=lambda r: (not unique(r), r.confidence != "high", r.stamp))
        chosen = pool[0] if pool else None
    stamp: int | None = None
    if stamp_override is not None:
        # A stamp seen in the wild for this build that no table row vouches for (the
        # citrixscan stamps of the zeroed builds, dropped in the 2026-12 audit).
        mode = "stamp"
        chosen = next((r for r in t.stamps if r.stamp == stamp_override), None)
        stamp = stamp_override
    elif mode == "stamp":
        stamp = chosen.stamp if chosen else _synth_stamp(t, b)
    if stamp is not None:
        build_time = dt.datetime.fromtimestamp(stamp, dt.UTC)
    else:
        build_time = dt.datetime.fromtimestamp(_synth_stamp(t, b), dt.UTC)

    lm = t.last_modified.get(b.plain) or http_date(build_time + _STATIC_MTIME_OFFSET)

    epa_size: int | None = None
    epa_rel: str | None = None
    epa_anchor: str | None = None
    for size, relation, anchor in t.epa:
        if anchor.release != b.release:
            continue
        if relation == "floor" and not b.older_than(anchor):
            epa_size, epa_rel, epa_anchor = size, relation, anchor.plain
        elif relation == "before" and b.major == anchor.major and b.older_than(anchor) and epa_size is None:
            # The "before" size was measured on the builds of that line just before the fix.
            epa_size, epa_rel, epa_anchor = size, relation, anchor.plain

    vhash = chosen.vhash if chosen and chosen.vhash else None
    return BuildFacts(
        build=b,
        rdx=mode,
        stamp=stamp,
        stamp_known=chosen is not None,
        stamp_unique=bool(chosen and unique(chosen)),
        stamp_trusted=bool(chosen and chosen.confidence != "low"),
        vhash=vhash,
        build_time=build_time,
        last_modified=lm,
        epa_size=epa_size,
        epa_relation=epa_rel,
        epa_anchor=epa_anchor,
        classic_page=int(build_time.timestamp()) < _CLASSIC_PAGE_GONE_AFTER,
    )


# ----------------------------------------------------------------------------- binary resources
# A short excerpt of the English strings the RfWebUI bundle ships; only its gzip header matters.
_RDX_JSON = (
    b'{"LogonPoint":{"Logon":"Log On","UserName":"User name","Password":"Password",'
    b'"Password2":"Password 2","Submit":"Submit","LogOff":"Log Off","Cancel":"Cancel",'
    b'"Continue":"Continue","Error":"Error","IncorrectCredentials":"Incorrect user name or password.",'
    b'"SessionExpired":"Your session has expired.","ClientDetection":"Detecting Citrix Workspace app..."}}\n'
)


def gzip_member(payload: bytes, *, mtime: int, fname: bytes | None, level: int = 9) -> bytes:
    flags = 0x08 if fname else 0x00
    xfl = 2 if level == 9 else 0
    header = b"\x1f\x8b\x08" + bytes([flags]) + struct.pack("<I", mtime) + bytes([xfl, 3])
    if fname:
        header += fname + b"\x00"
    co = zlib.compressobj(level, zlib.DEFLATED, -15)
    body = co.compress(payload) + co.flush()
    return header + body + struct.pack("<II", zlib.crc32(payload) & 0xFFFFFFFF, len(payload) & 0xFFFFFFFF)


def rdx_en_gz(stamp: int, *, empty: bool = False) -> bytes:
    """``gzip`` of the strings file as packaged by the firmware: FNAME set, MTIME = compile time.
    From 13.1-57.26 on the file "still exists but just contains an empty json file" (fox-it #15)."""
    return gzip_member(b"{}\n" if empty else _RDX_JSON, mtime=stamp, fname=b"rdx_en.json")


def rdx_en_gz_zeroed() -> bytes:
    """The 23-byte ``gzip -n`` of an empty JSON object served by the zeroed builds."""
    return gzip_member(b"{}\n", mtime=0, fname=None, level=6)


@lru_cache(maxsize=1)
def favicon_ico() -> bytes:
    """A believable 16x16 32-bit icon, 1150 bytes like the appliance's (its MD5 will differ:
    the real file is Citrix's)."""
    w = h = 16
    header = struct.pack("<HHH", 0, 1, 1)
    bih = struct.pack("<IiiHHIIiiII", 40, w, h * 2, 1, 32, 0, 0, 0, 0, 0, 0)
    pixels = bytearray()
    for y in range(h):
        for x in range(w):
            ring = max(abs(2 * x - 15), abs(2 * y - 15))
            if ring <= 9:
                pixels += bytes((0xB5, 0x6A, 0x1F, 0xFF))  # BGRA: appliance-ish blue
            elif ring <= 13:
                pixels += bytes((0xFF, 0xFF, 0xFF, 0xFF))
            else:
                pixels += bytes((0, 0, 0, 0))
    mask = b"\x00" * (4 * h)  # 1-bit AND mask, rows padded to 32 bits
    image = bih + bytes(pixels) + mask
    entry = struct.pack("<BBBBHHII", w, h, 0, 0, 1, 32, len(image), 6 + 16)
    data = header + entry + image
    assert len(data) == 1150
    return data


def deb_prefix(size: int) -> bytes:
    """The first bytes of a Debian package (ar archive) of ``size`` bytes."""
    return b"!<arch>\ndebian-binary   1700000000  0     0     100644  4         `\n2.0\n"


def etag(size: int, mtime: dt.datetime) -> str:
    """Apache's default ETag: ``"<size hex>-<mtime in microseconds hex>"``."""
    return f'"{size:x}-{int(mtime.timestamp() * 1_000_000):x}"'


def lm_datetime(value: str) -> dt.datetime:
    return email.utils.parsedate_to_datetime(value)


def epa_version(facts: BuildFacts) -> str:
    """EPA plug-in versions are year-based (25.5.1.15 shipped with 13.1-61.26 era firmware)."""
    t = facts.build_time
    return f"{t.year % 100}.{max(1, (t.month + 1) // 2)}.1.{(t.day * 3) % 40 + 3}"


def pluginlist_xml(facts: BuildFacts) -> bytes:
    v = epa_version(facts)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        "<repository>\n"
        f'<plugin name="Netscaler Gateway EPA plug-in for Windows (32 bit)" version="{v}" '
        'path="/epa/scripts/win/nsepa_setup.exe" />\n'
        f'<plugin name="Netscaler Gateway EPA plug-in for Windows (64 bit)" version="{v}" '
        'path="/epa/scripts/win/nsepa_setup64.exe" />\n'
        f'<plugin name="Netscaler Gateway EPA plug-in for Mac" version="{v}" '
        'path="/epa/scripts/mac/nsepa_mac.dmg" />\n'
        f'<plugin name="Netscaler Gateway EPA plug-in for Linux" version="{v}" '
        'path="/epa/scripts/linux/nsepa.deb" />\n'
        "</repository>\n"
    ).encode()


def md5_hex(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


# ------------------------------------------------------------------------------------------ pages
def gateway_title(build: Build) -> str:
    """Title text by era (fingerprint NOTES §2): 'NetScaler Gateway' up to 12.0 and again from
    13.1; 'Citrix Gateway' with the class on 12.1/13.0."""
    if build.release in ("12.1", "13.0"):
        return '<title class="_ctxstxt_NetscalerGateway">Citrix Gateway</title>'
    if build.release in ("10.5", "11.0", "11.1", "12.0"):
        return "<title>NetScaler Gateway</title>"
    return '<title class="_ctxstxt_NetscalerGateway">NetScaler Gateway</title>'


def classic_gateway_page(title: str, vhash: str | None, *, extra_head: str = "", extra_body: str = "") -> str:
    """``/vpn/index.html``, classic/X1 theme (reconstructed sample)."""
    q = f"?v={vhash}" if vhash else ""
    return f"""<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN" "http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd">
<html xmlns="http://www.w3.org/1999/xhtml">
<head>
<meta http-equiv="X-UA-Compatible" content="IE=edge">
{title}
<link rel="SHORTCUT ICON" href="/vpn/images/AccessGateway.ico" type="image/vnd.microsoft.icon">
<META http-equiv="Content-Type" content="text/html; charset=UTF-8">
<META content=noindex,nofollow,noarchive name=robots>
<link href="/vpn/js/rdx/core/css/rdx.css{q}" rel="stylesheet" type="text/css"/>
<link href="/logon/themes/Default/css/base.css{q}" rel="stylesheet" type="text/css" media="screen" />
<link rel="stylesheet" href="/logon/fonts/citrix-fonts.css{q}" type="text/css">
<link href="/logon/themes/Default/css/custom.css{q}" rel="stylesheet" type="text/css"/>
<script type="text/javascript" src="/vpn/js/rdx.js{q}"></script>
<script type="text/javascript" src="/vpn/login.js{q}"></script>
<script type="text/javascript" src="/vpn/js/views.js{q}"></script>
<script type="text/javascript" src="/vpn/js/gateway_login_view.js{q}"></script>
<script type="text/javascript" src="/vpn/js/gateway_login_form_view.js{q}"></script>
<style type="text/css">
body
{{
  display : none;
  visibility: hidden;
}}
</style>
<SCRIPT language=JavaScript>
// frame-busting script
function changePage()
{{
	if( self == top ) {{
		document.getElementsByTagName("body")[0].style.display = 'block' ;
		document.getElementsByTagName("body")[0].style.visibility = 'visible' ;
		ns_fillName();
	}} else {{
		top.location = self.location ;
	}}
}}
//-->
</SCRIPT>
<script type="text/javascript" src="/vpn/resources.js{q}"></script>
<script type="text/javascript" language="javascript">
var Resources = new ResourceManager("/logon/themes/Default/resources/{{lang}}", "logon");
var eula = new ResourceManager("/logon/themes/EULA/resources/{{lang}}","custom_strings");
</script>
<script type="text/javascript" src="/vpn/nsshare.js{q}"></script>
{extra_head}</head>
<body class="ns_body" id=bodyTag>
<!-- Copyright 2001-2005 Citrix Systems, Inc. All Rights Reserved -->
<NOSCRIPT>
JavaScript is either disabled in or not supported by the Web browser.
To continue logon, use a Web browser that supports JavaScript or enable JavaScript in your current browser.
</NOSCRIPT>
<script>
rdx.FRAMEWORK_BASE = "/vpn/js";
rdx.page.add_event_handler(rdx.events.PAGE_LOADED, new rdx.callback(login, login.do_action_on_load));
</script>
{extra_body}</body>
</html>
"""


def logonpoint_page(title: str, *, theme: str = "Default", extra_head: str = "", extra_body: str = "") -> str:
    """``/logon/LogonPoint/index.html`` / ``tmindex.html`` (RfWebUI; reconstructed sample)."""
    return f"""<!DOCTYPE html>
<html _manifest="receiver.appcache">
<head>
    <meta http-equiv="X-UA-Compatible" content="IE=edge" />
    <meta charset="utf-8" />
    {title}
    <link rel="ICON" href="receiver/images/common/icon_vpn.ico" sizes="16x16 32x32 48x48 64x64" type="image/vnd.microsoft.icon" />
    <link rel="SHORTCUT ICON" href="receiver/images/common/icon_vpn.ico" sizes="16x16 32x32 48x48 64x64" type="image/vnd.microsoft.icon" />
    <meta name="viewport" content="width=device-width, initial-scale=1.0, maximum-scale=1.0, user-scalable=no" />
    <noscript>
        <link href="receiver/css/ctxs.no-js-ui.min.css" rel="stylesheet" />
    </noscript>
    <script type="text/html" id="large-ui-styles">
        <link href="receiver/css/ctxs.large-ui.min.css" rel="stylesheet" />
        <link href="/logon/themes/{theme}/css/theme.css" rel="stylesheet" id="customStyle" />
    </script>
{extra_head}</head>
<body>
    <section id="loading-screen" class="loading-screen fullscreen-pane show-on-page-load">
        <div class="loading-message" style="display:none">
            <div class="loading-logo"></div>
            <img class="loading-spinner" src="receiver/images/common/wspinner@2x.gif"/>
        </div>
    </section>
    <section id="about-screen-phone" class="about-view fullscreen-pane phone-only">
        <div class="citrixReceiverLogoAboutBox"></div>
        <div class="copyrightContainer">
            <span class="citrixCopyright _ctxstxt_CitrixCopyright"></span><br />
            <span class="_ctxstxt_AllRightsReserved"></span><br />
        </div>
    </section>
    <script src="receiver/js/external/jquery.min.js"></script>
    <script src="receiver/js/ctxs.core.min.js"></script>
    <script src="receiver/js/ctxs.webui.min.js"></script>
    <script src="init.js"></script>
{extra_body}</body>
</html>
"""


def customised_page(org: str) -> str:
    """A login page the customer rewrote wholesale: own title and look, no vhash, still built on
    the appliance's receiver assets (what a custom portal theme usually keeps)."""
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8" />
<title>{org} Secure Access</title>
<link rel="SHORTCUT ICON" href="/logon/themes/{org}/images/favicon.ico" />
<link href="/logon/themes/{org}/css/theme.css" rel="stylesheet" />
<link href="/logon/LogonPoint/receiver/css/ctxs.large-ui.min.css" rel="stylesheet" />
</head>
<body class="{org.lower()}-portal">
<header class="brand"><img src="/logon/themes/{org}/images/logo.png" alt="{org}" /></header>
<main id="logonbox">
  <h1>Welcome to {org} remote access</h1>
  <p>Use your corporate account. Contact the {org} service desk if you cannot log on.</p>
  <div id="authentication"></div>
</main>
<script src="/logon/LogonPoint/receiver/js/external/jquery.min.js"></script>
<script src="/logon/LogonPoint/receiver/js/ctxs.core.min.js"></script>
<script src="/logon/LogonPoint/receiver/js/ctxs.webui.min.js"></script>
<script src="/logon/LogonPoint/init.js"></script>
</body>
</html>
"""


def management_page() -> str:
    """The NSIP management GUI login page (captured 12.1/13.0 page, trimmed; the form posts to
    /login/do_login as on the appliance)."""
    return """
<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN" "http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd">
<html xmlns="http://www.w3.org/1999/xhtml" lang="en" xml:lang="en">

<head>
<meta http-equiv="Content-Type" content="text/html; charset=UTF-8" />
<meta http-equiv="X-UA-Compatible" content="IE=edge">
<meta http-equiv="Pragma" content="no-cache" />
<title>Citrix Login</title>

<link rel="stylesheet" href="admin_ui/common/css/ns/ui.css" type="text/css">
<script type="text/javascript" src="admin_ui/common/js/jquery/jquery.min.js"></script>
<script type="text/javascript" src="admin_ui/common/js/jquery/jquery-migrate.js"></script>
<script type="text/javascript" src="admin_ui/common/js/jquery/jquery.keyfilter.min.js"></script>
<style type="text/css">
.ns_alert_text a:hover
{
    color: #0000FF !important;
}
</style>
<script language="JavaScript" type="text/javascript">
var display_flag = "block";
var admin_gui_https_port = "443";
if(!document.all)
    display_flag = "table-row";

function checkform ( form )
{
    //getTimezoneOffset() will return (GMT - client) minutes. We need (client - GMT) seconds
    document.form1.timezone_offset.value = new Date().getTimezoneOffset() * -60;

    if (form.username.value === "") {
      show_error("Please enter user name", form.username);
      return false;
    }
    if (form.password.value === "") {
      show_error("Please enter password", form.password);
      return false;
    }
    form.username.value = encodeURIComponent(form.username.value);
    form.password.value = encodeURIComponent(form.password.value);
    loggingInText();
    var intervalId = setInterval(loggingInText, 200);
    $(".login_button").prop("disabled", true);
    return true ;
}

function checkHTTP()
{
    if (location.protocol == "http:")
    {
        var login_link_anchor = $("<a>").attr("tabindex", "0").addClass("ns_login_link").append("Use https");
        login_link_anchor.click(function() {
            redirectToHTTPS();
        });
        $(".ns_login_secure").append(login_link_anchor);
    }
    else
    {
        $('.ns_login_secure').hide();
        return "";
    }
}

function redirectToHTTPS()
{
    var url_suffix = (admin_gui_https_port != "443" && admin_gui_https_port != 443) ? (":" + admin_gui_https_port): "";
    var url = "https://" + location.host + url_suffix;
    window.location.href = url;
}

var dots = 0;

function loggingInText() {
    $("#logintext").text("Logging On");
    if (dots < 3) {
        $('#loadingdots').append('.');
        dots++;
    } else {
        $('#loadingdots').html('');
        dots = 0;
    }
}

function show_error(message, element)
{
    if(element)
    {
        setTimeout(function(){ element.focus();}, 500);
    }
    if(message)
    {
        $("#login_error").text(message);
        $("#login_error").css('visibility', 'visible');
    }
}
</script>

</head>
<body class="ns_login_body">
<noscript>
    <div class="center_panel ns_alert_text">
        JavaScript is either disabled in or not supported by the Web browser. To continue logon, use a Web browser that supports JavaScript or enable JavaScript in your current browser.
    </div>
</noscript>

<form name="form1" action="/login/do_login" method="post" autocomplete="off" autocapitalize="off" onsubmit="return checkform(this);">
    <div class="ns_login_wrapper">
        <div class="ns_login_inner_wrapper">
            <div class="ns_login_top" style="display: none;"></div>
            <div class="ns_login_center">
                <div class="ns_login_center_content">
                    <div  class="ns_login_inner_div">
                        <div  class="ns_login_form" >
                            <div id="login_error" class="login_error">
                            </div>
                            <div id="ns_user_pass_section">
                                <div class="ns_grid_text user_name">
                                    <span>User Name</span>
                                    <label for="username" style="display: none;">User Name</label>
                                    <input type="text" id="username" name="username" class="login_input" onfocus=1>
                                </div>
                                <div class="ns_grid_text login_password">
                                    <span>Password</span>
                                    <label for="password" style="display: none;">Password</label>
                                    <input type="password" name="password" id="password" class="login_input">
                                </div>
                                    <div class="login_button_cell">
                                        <input type="hidden" name="url" id="url" value="">
                                        <input type="hidden" name="timezone_offset" id="timezone_offset" value="">
                                        <button type="submit" class="login_button rdx_blue_button"><span id="logintext">Log On</span><span id="loadingdots"></span></button>
                                    </div>
                            </div>
                            <div class="ns_login_logo ns_logo_placement">
                                <div class="login_title_and_lable" style="font-weight: bold;">Citrix</div>
                                <div class="login_title_and_lable">ADC</div>
                                <div class="ns_login_secure"></div>
                            </div>
                        </div>
                    </div>
            </div>
            </div>
            </div>
        </div>
    </div>
</form>

<script language="JavaScript" type="text/javascript">
//Don't allow this page to be embedded inside a frame
if(self != top)
{
    document.getElementsByTagName("body")[0].style.display = "none";
    top.location = self.location;
}
else
{
    $('form[name="form1"] #username').focus();
}
$(document).ready(function(){
    document.form1.username.value = "";
    document.form1.password.value = "";
    checkHTTP();
   });
</script>
</body>
</html>
"""


def not_found_page() -> str:
    """Apache's stock 404 body, which the appliance's web server sends for unknown paths."""
    return (
        '<!DOCTYPE HTML PUBLIC "-//IETF//DTD HTML 2.0//EN">\n<html><head>\n<title>404 Not Found</title>\n'
        "</head><body>\n<h1>Not Found</h1>\n<p>The requested URL was not found on this server.</p>\n"
        "</body></html>\n"
    )


def nginx_welcome() -> str:
    return (
        "<!DOCTYPE html>\n<html>\n<head>\n<title>Welcome to nginx!</title>\n<style>\nhtml { color-scheme: light dark; }\n"
        "body { width: 35em; margin: 0 auto;\nfont-family: Tahoma, Verdana, Arial, sans-serif; }\n</style>\n"
        "</head>\n<body>\n<h1>Welcome to nginx!</h1>\n<p>If you see this page, the nginx web server is successfully "
        "installed and\nworking. Further configuration is required.</p>\n\n<p>For online documentation and support "
        'please refer to\n<a href="http://nginx.org/">nginx.org</a>.<br/>\nCommercial support is available at\n'
        '<a href="http://nginx.com/">nginx.com</a>.</p>\n\n<p><em>Thank you for using nginx.</em></p>\n</body>\n</html>\n'
    )


def nginx_404() -> str:
    return (
        "<html>\r\n<head><title>404 Not Found</title></head>\r\n<body>\r\n<center><h1>404 Not Found</h1></center>\r\n"
        "<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
    )


# Small stand-ins for the appliance's static assets; scanners look at paths and headers, not code.
def asset_body(path: str) -> tuple[bytes, str]:
    if path.endswith(".css"):
        return (b"/* " + path.encode() + b" */\nbody{margin:0;font-family:'Segoe UI',Arial,sans-serif}\n", "text/css")
    if path.endswith(".js"):
        return (b"/* " + path.encode() + b" */\n(function(){\"use strict\";})();\n", "application/x-javascript")
    if path.endswith((".ico",)):
        return (favicon_ico(), "image/vnd.microsoft.icon")
    if path.endswith(".gif"):
        return (b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00,"
                b"\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;", "image/gif")
    return (b"", "application/octet-stream")
