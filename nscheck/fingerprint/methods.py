"""Fingerprint methods: each is a small declared unit (name, the requests it needs, a pure
function from observed responses to evidence, product signals and build claims).

The engine (``nscheck.fingerprint.engine``) decides which methods run (the ladder, early exit)
and combines their outcomes; nothing here sends a request, so every method is testable with
plain ``HttpResponse`` objects. Sources for each technique: reference NOTES (fingerprints).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from nscheck.build import Build
from nscheck.model import Certificate, Confidence, Evidence, Skipped
from nscheck.probe.types import HttpResponse
from nscheck.signatures.fingerprints import FingerprintTables, http_date

RDX_PATH = "/vpn/js/rdx/core/lang/rdx_en.json.gz"
EPA_DEB_PATH = "/epa/scripts/linux/nsepa.deb"
PLUGINLIST_PATH = "/vpn/pluginlist.xml"
FAVICON_PATH = "/vpn/images/AccessGateway.ico"
_BODY_SCAN = 262_144  # markers only look at the first 256 KiB of a page

_CONF_RANK = {Confidence.HIGH: 3, Confidence.MEDIUM: 2, Confidence.LOW: 1}


@dataclass(frozen=True, slots=True)
class Req:
    key: str  # name the method reads the response by
    path: str
    raw: bool = False
    byte_range: tuple[int, int] | None = None
    max_bytes: int | None = None
    follow: bool = True
    method: str = "GET"


@dataclass(frozen=True, slots=True)
class Signal:
    """A product observation: ``strength`` strong | corroborator | title; ``role`` may be ''."""

    marker: str
    strength: str
    role: str
    evidence: Evidence
    page_only: bool = False  # seen only in page markup, which a clone copies verbatim
    catch_all: bool = False  # on a page identical to the host's answer for a random path


@dataclass(frozen=True, slots=True)
class BuildClaim:
    """What one method says about the build.

    relation: ``exact`` (this build), ``candidates`` (one of these), ``floor`` (at least one
    of these, per release), ``before`` (older than this build, same release).
    """

    method: str
    relation: str
    builds: tuple[Build, ...]
    confidence: Confidence
    detail: str
    url: str | None = None
    dated: bool = False  # candidates guessed from a compile date (the true build may be unlisted)

    @property
    def evidence(self) -> Evidence:
        return Evidence(self.method, self.detail, self.url, self.confidence)


@dataclass(frozen=True)
class Outcome:
    signals: tuple[Signal, ...] = ()
    claims: tuple[BuildClaim, ...] = ()
    evidence: tuple[Evidence, ...] = ()  # neutral observations (dates, versions) worth showing
    skipped: tuple[Skipped, ...] = ()


@dataclass
class Observations:
    """The responses a host gave so far, by request key, plus its certificate."""

    responses: dict[str, HttpResponse] = field(default_factory=dict)
    certificate: Certificate | None = None
    catch_all_body: bytes | None = None  # body of the random-path 200, when the host answers 200 to anything

    def get(self, key: str) -> HttpResponse | None:
        return self.responses.get(key)

    def pages(self) -> list[tuple[str, HttpResponse]]:
        """Responses whose bodies may be read for markers (catch-all copies left out)."""
        out = []
        for k, r in self.responses.items():
            if k == "random" or r.status is None:
                continue
            out.append((k, r))
        return out

    def body_usable(self, r: HttpResponse) -> bool:
        if self.catch_all_body is None:
            return True
        return hashlib.sha256(r.body).digest() != hashlib.sha256(self.catch_all_body).digest()


@dataclass(frozen=True)
class Method:
    name: str
    stage: str  # "product" | "build"
    requests: tuple[Req, ...]
    run: Callable[[Observations, FingerprintTables], Outcome]
    doc: str = ""


# -- product --------------------------------------------------------------------------------


def _cookie_names(r: HttpResponse) -> list[str]:
    return [v.split("=", 1)[0].strip() for v in r.header_all("set-cookie") if "=" in v]


def match_markers(obs: Observations, tables: FingerprintTables) -> Outcome:
    """Every product marker of the tables over every response seen (bodies of catch-all copies
    and honeypot-sized pages excluded)."""
    signals: list[Signal] = []
    seen: set[tuple[str, str]] = set()
    for _key, r in obs.pages():
        # A catch-all copy still gets read, but its signals are flagged: they may name a role
        # of a host proven by other means, never prove the product or a build.
        copy = not obs.body_usable(r)
        text = r.text(_BODY_SCAN) if r.body else ""
        for m in tables.markers:
            hit: str | None = None
            if m.location == "body":
                if text and len(r.body) >= m.min_body:
                    mm = m.pattern.search(text)
                    hit = mm.group(0)[:120] if mm else None
            elif m.location == "cookie":
                hit = next((c for c in _cookie_names(r) if m.pattern.search(c)), None)
            elif m.location == "header_name":
                hit = next((k for k, _ in r.headers if m.pattern.search(k)), None)
            elif m.location == "location":
                locs = [*r.redirects, *(r.header_all("location"))]
                hit = next((u for u in locs if m.pattern.search(_path_of(u))), None)
            else:
                name = m.location.split(":", 1)[1]
                hit = next((v[:120] for v in r.header_all(name) if m.pattern.search(v)), None)
            if hit and (m.id, r.url) not in seen:
                seen.add((m.id, r.url))
                conf = Confidence.HIGH if m.strength == "strong" else Confidence.MEDIUM if m.strength == "corroborator" else Confidence.LOW
                body = m.location == "body"
                note = " (catch-all page: not used as product evidence)" if body and copy else ""
                signals.append(Signal(m.id, m.strength, m.role,
                                      Evidence(f"marker:{m.id}", f"{m.location} matched {hit!r}{note}", r.url, conf),
                                      page_only=body, catch_all=body and copy))
    return Outcome(signals=tuple(signals))


def _path_of(url: str) -> str:
    from urllib.parse import urlsplit

    if url.startswith("/"):
        return url
    p = urlsplit(url)
    return p.path or "/"


def check_catch_all(obs: Observations, tables: FingerprintTables) -> Outcome:
    r = obs.get("random")
    if r is None or r.status is None:
        return Outcome()
    if r.status == 200 and r.body:
        obs.catch_all_body = r.body
        return Outcome(evidence=(Evidence("catch_all", "host answers 200 to a random path: page content is not used as evidence "
                                          "unless it differs from that answer", r.url, Confidence.HIGH),))
    return Outcome()


def check_certificate(obs: Observations, tables: FingerprintTables) -> Outcome:
    c = obs.certificate
    if c is None or not c.default_netscaler:
        return Outcome()
    ev = Evidence("default_certificate", f"default NetScaler certificate: subject {c.subject}; issuer {c.issuer}", None, Confidence.HIGH)
    return Outcome(signals=(Signal("default_cert", "strong", "", ev),))


def check_favicon(obs: Observations, tables: FingerprintTables) -> Outcome:
    r = obs.get("favicon")
    if r is None or r.status != 200 or not r.body or not obs.body_usable(r):
        return Outcome()
    md5 = hashlib.md5(r.body, usedforsecurity=False).hexdigest()
    row = tables.favicons.get(md5)
    if row is None:
        return Outcome(evidence=(Evidence("favicon", f"favicon MD5 {md5} ({len(r.body)} bytes) not in the table", r.url, Confidence.LOW),))
    ev = Evidence("favicon", f"favicon MD5 {md5} = {row.product} ({row.source})", r.url, row.confidence)
    if not row.netscaler:
        return Outcome(evidence=(ev,))
    return Outcome(signals=(Signal("favicon_md5", "corroborator", "", ev),))


# -- build: rdx_en.json.gz gzip MTIME ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RdxInfo:
    kind: str  # "stamp" | "zeroed" | "invalid"
    stamp: int = 0
    reason: str = ""
    md5: str = ""


def parse_rdx(body: bytes) -> RdxInfo:
    """Read the gzip header of rdx_en.json.gz: bytes 4-7 little-endian MTIME after checking
    magic, deflate, and the embedded name ``rdx_en.json`` (Fox-IT, BLS, nerva); or recognise
    the zeroed 23-byte ``gzip -n`` file of 2026 builds (no name, MTIME 0, empty JSON)."""
    if len(body) < 18 or body[:3] != b"\x1f\x8b\x08":
        return RdxInfo("invalid", reason="not a gzip file (no 1f 8b 08 header)")
    flg = body[3]
    mtime = int.from_bytes(body[4:8], "little")
    md5 = hashlib.md5(body, usedforsecurity=False).hexdigest()
    if flg & 0x08:
        pos = 10
        if flg & 0x04:  # FEXTRA
            if len(body) < 12:
                return RdxInfo("invalid", reason="truncated gzip header")
            pos += 2 + int.from_bytes(body[10:12], "little")
        end = body.find(b"\x00", pos, pos + 256)
        name = body[pos:end] if end >= 0 else b""
        if b"rdx_en.json" not in name:
            return RdxInfo("invalid", reason=f"gzip names {name[:40]!r}, not rdx_en.json")
        if mtime == 0:
            return RdxInfo("zeroed", 0, "MTIME 0 with a file name", md5)
        return RdxInfo("stamp", mtime, md5=md5)
    if mtime != 0 or len(body) > 64:
        return RdxInfo("invalid", reason="gzip without the rdx_en.json name")
    try:
        d = zlib.decompressobj(31)
        content = d.decompress(body, 1024)
    except zlib.error:
        return RdxInfo("invalid", reason="zero-MTIME gzip that does not decompress")
    try:
        json.loads(content.decode("utf-8") or "{}")
    except (UnicodeDecodeError, ValueError):
        return RdxInfo("invalid", reason="zero-MTIME gzip whose content is not JSON")
    return RdxInfo("zeroed", 0, "MTIME 0, no file name, empty JSON", md5)


def _stamp_date(stamp: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(stamp, dt.UTC)


def bracket_by_date(when: dt.datetime, tables: FingerprintTables, *, before_days: int = 2, after_days: int = 30,
                    limit: int = 6) -> tuple[Build, ...]:
    """Builds released shortly after a compile time (firmware is compiled days before GA)."""
    lo = when.date() - dt.timedelta(days=before_days)
    hi = when.date() + dt.timedelta(days=after_days)
    rows = [r for r in tables.releases if lo <= r.date <= hi]
    rows.sort(key=lambda r: abs((r.date - when.date()).days))
    out: list[Build] = []
    for r in rows:
        b = Build(r.build.release, r.build.major, r.build.minor)
        if b not in out:
            out.append(b)
        if len(out) >= limit:
            break
    return tuple(out)


def check_rdx(obs: Observations, tables: FingerprintTables) -> Outcome:
    r = obs.get("rdx")
    if r is None:
        return Outcome()
    if r.status is None:
        return Outcome(skipped=(Skipped("rdx_stamp", f"request failed: {r.error}"),))
    if r.status != 200:
        return Outcome(evidence=(Evidence("rdx_stamp", f"HTTP {r.status}: no rdx_en.json.gz served", r.url, Confidence.LOW),))
    info = parse_rdx(r.body)
    note = f" ({'; '.join(r.notes)})" if r.notes else ""
    if info.kind == "invalid":
        return Outcome(evidence=(Evidence("rdx_stamp", f"body is not the NetScaler file: {info.reason}", r.url, Confidence.LOW),))
    if info.kind == "zeroed":
        known = next((z for z in tables.zeroed if z.body_md5 == info.md5), None)
        floors = tuple(z.floor for z in tables.zeroed)
        strength = "strong" if known else "corroborator"
        detail = (f"rdx_en.json.gz has MTIME 0 ({info.reason}, {len(r.body)} bytes){note}: "
                  f"a build of {' or '.join(f'{b} or later' for b in floors)} (timestamp removed by Citrix)")
        ev = Evidence("rdx_stamp", detail, r.url, Confidence.HIGH if known else Confidence.MEDIUM)
        claim = BuildClaim("rdx_stamp", "floor", floors, Confidence.MEDIUM, detail, r.url)
        return Outcome(signals=(Signal("rdx_zeroed", strength, "", ev),), claims=(claim,))
    when = _stamp_date(info.stamp)
    product_ev = Evidence("rdx_stamp", f"rdx_en.json.gz gzip header with MTIME {info.stamp} ({when:%Y-%m-%d %H:%M:%S} UTC){note}",
                          r.url, Confidence.HIGH)
    sig = Signal("rdx_gzip", "strong", "", product_ev)
    rows = tables.stamps.get(info.stamp, ())
    known = [x for x in rows if x.build is not None]
    if known:
        top = max(_CONF_RANK[x.confidence] for x in known)
        best = [x for x in known if _CONF_RANK[x.confidence] == top]
        builds = tuple(dict.fromkeys(Build(x.build.release, x.build.major, x.build.minor) for x in best if x.build))
        src = "; ".join(sorted({x.source for x in best}))
        conf = best[0].confidence
        if len(builds) == 1:
            editions = {e for x in best for e in x.editions}
            ed = f" [{'/'.join(sorted(editions))}]" if editions else ""
            claim = BuildClaim("rdx_stamp", "exact", builds, conf, f"stamp {info.stamp} = {builds[0]}{ed} (table: {src}, {conf.value})", r.url)
        else:
            claim = BuildClaim("rdx_stamp", "candidates", builds, conf,
                               f"stamp {info.stamp} is listed for several builds: {', '.join(map(str, builds))} ({src})", r.url)
        return Outcome(signals=(sig,), claims=(claim,))
    cands = bracket_by_date(when, tables)
    why = "known NetScaler stamp, build never identified" if rows else "stamp not in the table"
    if not cands:
        return Outcome(signals=(sig,), evidence=(Evidence("rdx_stamp", f"{why}; no release within 30 days of {when:%Y-%m-%d}",
                                                          r.url, Confidence.LOW),))
    detail = f"{why}; compiled {when:%Y-%m-%d}: released around then: {', '.join(map(str, cands))}"
    return Outcome(signals=(sig,), claims=(BuildClaim("rdx_stamp", "candidates", cands, Confidence.LOW, detail, r.url, dated=True),))


# -- build: ?v= hashes, Last-Modified / ETag ----------------------------------------------------

_VHASH = re.compile(r"\?v=([0-9a-fA-F]{32})")


def check_vhash(obs: Observations, tables: FingerprintTables) -> Outcome:
    claims: list[BuildClaim] = []
    evidence: list[Evidence] = []
    seen: set[str] = set()
    for _k, r in obs.pages():
        if not r.ok or not obs.body_usable(r):
            continue
        for m in _VHASH.finditer(r.text(_BODY_SCAN)):
            h = m.group(1).lower()
            if h in seen:
                continue
            seen.add(h)
            rows = tables.vhashes.get(h, ())
            known = [x for x in rows if x.build is not None]
            if known:
                b = known[0].build
                assert b is not None
                plain = Build(b.release, b.major, b.minor)
                claims.append(BuildClaim("vhash", "exact", (plain,), known[0].confidence,
                                         f"?v={h} = {plain} ({known[0].source})", r.url))
            elif rows:
                evidence.append(Evidence("vhash", f"?v={h} is a known NetScaler GUI hash, build never identified", r.url, Confidence.MEDIUM))
            elif len(evidence) < 3:
                evidence.append(Evidence("vhash", f"?v={h} not in the table", r.url, Confidence.LOW))
    return Outcome(claims=tuple(claims), evidence=tuple(evidence))


def decode_apache_etag(etag: str) -> dt.datetime | None:
    """Apache's default ETag is "<size hex>-<mtime µs hex>" (optionally with an inode part)."""
    m = re.fullmatch(r'(?:W/)?"(?:[0-9a-f]+-)?[0-9a-f]+-([0-9a-f]{11,14})"', etag.strip())
    if not m:
        return None
    try:
        return dt.datetime.fromtimestamp(int(m.group(1), 16) / 1_000_000, dt.UTC)
    except (OverflowError, OSError, ValueError):
        return None


def check_last_modified(obs: Observations, tables: FingerprintTables) -> Outcome:
    claims: list[BuildClaim] = []
    evidence: list[Evidence] = []
    for key in ("root", "vpn_index", "lp_index", "lp_tmindex"):
        r = obs.get(key)
        if r is None or not r.ok or not obs.body_usable(r):
            continue
        lm = r.header("last-modified")
        if lm:
            rows = tables.last_modified.get(lm.strip(), ())
            if rows:
                b = rows[0].build
                claims.append(BuildClaim("last_modified", "exact", (b,), rows[0].confidence,
                                         f"Last-Modified {lm} = {b} ({rows[0].source})", r.url))
            elif http_date(lm) is not None:
                evidence.append(Evidence("last_modified", f"Last-Modified {lm} (page date; not in the table)", r.url, Confidence.LOW))
        et = r.header("etag")
        when = decode_apache_etag(et) if et else None
        if when is not None:
            evidence.append(Evidence("etag", f"ETag {et} encodes mtime {when:%Y-%m-%d %H:%M:%S} UTC", r.url, Confidence.LOW))
    return Outcome(claims=tuple(claims), evidence=tuple(evidence))


# -- build: EPA plug-ins ------------------------------------------------------------------------

_PLUGIN = re.compile(r'<plugin\s+name="(Netscaler Gateway EPA plug-in[^"]*)"[^>]*version="([^"]+)"', re.I)


def check_pluginlist(obs: Observations, tables: FingerprintTables) -> Outcome:
    r = obs.get("pluginlist")
    if r is None or r.status != 200 or not obs.body_usable(r):
        return Outcome()
    m = _PLUGIN.search(r.text(_BODY_SCAN))
    if not m:
        return Outcome()
    ev = Evidence("epa_pluginlist", f"{m.group(1)} version {m.group(2)} (year-based: bounds the period, not the build)",
                  r.url, Confidence.LOW)
    return Outcome(signals=(Signal("epa_pluginlist", "corroborator", "gateway", ev),), evidence=(ev,))


def check_epa_deb(obs: Observations, tables: FingerprintTables) -> Outcome:
    r = obs.get("nsepa")
    if r is None:
        return Outcome()
    if r.status not in (200, 206):
        why = r.error or f"HTTP {r.status}"
        return Outcome(skipped=(Skipped("epa_deb_size", f"nsepa.deb not served ({why}); absence is not evidence of patching"),))
    size: int | None = None
    cr = r.header("content-range") or ""
    m = re.search(r"/(\d+)\s*$", cr)
    if r.status == 206 and m:
        size = int(m.group(1))
    elif r.status == 200 and (r.header("content-length") or "").isdigit():
        size = int(r.header("content-length") or "0")
    if size is None:
        return Outcome(skipped=(Skipped("epa_deb_size", "no total size in Content-Range/Content-Length"),))
    row = tables.epa.get(size)
    if row is None:
        return Outcome(evidence=(Evidence("epa_deb_size", f"nsepa.deb is {size} bytes (not in the table)", r.url, Confidence.LOW),))
    word = {"floor": "or later", "before": "older than", "exact": "="}[row.relation]
    detail = (f"nsepa.deb is {size} bytes: {row.build} {word}" if row.relation == "floor" else f"nsepa.deb is {size} bytes: {word} {row.build}")
    return Outcome(claims=(BuildClaim("epa_deb_size", row.relation, (row.build,), row.confidence, detail + f" ({row.source})", r.url),))


# -- the declared ladder ------------------------------------------------------------------------

PRODUCT_PAGES: tuple[Req, ...] = (
    Req("root", "/"),
    Req("random", "/{random}"),
    Req("vpn_index", "/vpn/index.html"),
    Req("lp_index", "/logon/LogonPoint/index.html"),
    Req("lp_tmindex", "/logon/LogonPoint/tmindex.html"),
)

METHODS: tuple[Method, ...] = (
    Method("catch_all", "product", (PRODUCT_PAGES[1],), check_catch_all,
           "a random path answered 200: nothing is inferred from that page"),
    Method("markers", "product", tuple(r for r in PRODUCT_PAGES if r.key != "random"), match_markers,
           "login pages, redirect from /, titles, NSC_/pwcount cookies, Via NS-CACHE, CSP, management GUI"),
    Method("default_certificate", "product", (), check_certificate, "the default NS Internal certificate"),
    Method("rdx_stamp", "build", (Req("rdx", RDX_PATH, raw=True, max_bytes=4096),), check_rdx,
           "gzip MTIME of rdx_en.json.gz -> build table, date bracketing, zeroed-file floor"),
    Method("vhash", "build", (), check_vhash, "?v=<md5> cache-busters in the login pages"),
    Method("last_modified", "build", (), check_last_modified, "Last-Modified / ETag of the login pages"),
    Method("favicon", "confirm", (Req("favicon", FAVICON_PATH, max_bytes=65536),), check_favicon,
           "favicon MD5, only when a title needs corroboration"),
    Method("epa_pluginlist", "extra", (Req("pluginlist", PLUGINLIST_PATH, max_bytes=65536),), check_pluginlist,
           "EPA plug-in version (coarse)"),
    Method("epa_deb_size", "extra", (Req("nsepa", EPA_DEB_PATH, byte_range=(0, 0), max_bytes=16),), check_epa_deb,
           "nsepa.deb total size via a 1-byte Range request (floor)"),
)

METHODS_BY_NAME: Mapping[str, Method] = {m.name: m for m in METHODS}
