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
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Literal

from nscheck.build import Build, BuildError, parse_build
from nscheck.model import Certificate, Confidence, Evidence, Skipped
from nscheck.probe.types import HttpResponse
from nscheck.signatures.fingerprints import FingerprintTables, LastModifiedRow, Strength, http_date

RDX_PATH = "/vpn/js/rdx/core/lang/rdx_en.json.gz"
EPA_DEB_PATH = "/epa/scripts/linux/nsepa.deb"
PLUGINLIST_PATH = "/vpn/pluginlist.xml"
FAVICON_PATH = "/vpn/images/AccessGateway.ico"
EPA_HTML_PATH = "/epa/epa.html"
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


# What one build claim says: this build, one of these, at least one of these (per release), or
# older than this (same release).
Relation = Literal["exact", "candidates", "floor", "before"]
# When a method runs: product detection, build, extra confirmation of the product, extra build evidence.
Stage = Literal["product", "build", "confirm", "extra"]


@dataclass(frozen=True, slots=True)
class Signal:
    """A product observation: ``strength`` strong | corroborator | title; ``role`` may be ''."""

    marker: str
    strength: Strength
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
    relation: Relation
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

    def pages(self, *, with_random: bool = False) -> list[tuple[str, HttpResponse]]:
        """Answered responses, in order; the random-path answer only when asked for (its headers
        and redirect say something about the host, its body never does)."""
        out = []
        for k, r in self.responses.items():
            if (k == "random" and not with_random) or r.status is None:
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
    stage: Stage
    requests: tuple[Req, ...]
    run: Callable[[Observations, FingerprintTables], Outcome]
    doc: str = ""


# -- product --------------------------------------------------------------------------------


# A proxy (or an HTTP/2 front end) may fold several Set-Cookie lines into one, comma-joined;
# the commas inside "expires=Wednesday, 09-Nov-1999 ..." are followed by a date, not "name=".
_COOKIE_FOLD = re.compile(r",\s*(?=[^;,=\s]+=)")


def _cookie_names(r: HttpResponse) -> list[str]:
    out: list[str] = []
    for v in r.header_all("set-cookie"):
        for part in _COOKIE_FOLD.split(v):
            if "=" in part:
                name = part.split("=", 1)[0].strip()
                if name:
                    out.append(name)
    return out


# The Gateway/AAA login pages an unauthenticated request is sent to (nerva, nuclei, Greenbone).
LOGIN_PATH = re.compile(r"(?i)^/(?:vpn/(?:tm)?index\.html|logon/LogonPoint/(?:(?:tm)?index|custom)\.html|logon/LogonPoint/?$)")


def match_markers(obs: Observations, tables: FingerprintTables) -> Outcome:
    """Every product marker of the tables over every response seen (bodies of catch-all copies
    and honeypot-sized pages excluded)."""
    signals: list[Signal] = []
    seen: set[tuple[str, str]] = set()
    for key, r in obs.pages(with_random=True):
        # A catch-all copy still gets read, but its signals are flagged: they may name a role
        # of a host proven by other means, never prove the product or a build.
        copy = not obs.body_usable(r)
        text = r.text(_BODY_SCAN) if r.body else ""
        for m in tables.markers:
            hit: str | None = None
            if key == "random" and m.location in ("body", "location"):
                # The random path's body is the catch-all test, and a look-alike can send every
                # path to its copied login page: only its cookies and headers count.
                continue
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
    if r.status == 200 and r.redirects and LOGIN_PATH.match(_path_of(r.redirects[-1])):
        # A Gateway/AAA vserver sends every unauthenticated request to its login page: the
        # random path landing there is the appliance's own behaviour, not a catch-all page.
        return Outcome(evidence=(Evidence("catch_all", f"a random path redirects to the login page {r.redirects[-1]} "
                                          "(unauthenticated requests are sent to the logon page)", r.url, Confidence.MEDIUM),))
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


MGMT_CSS_PATH = "/admin_ui/common/css/ns/ui.css"


def check_mgmt_css(obs: Observations, tables: FingerprintTables) -> Outcome:
    """The management GUI stylesheet (samples: mgmt GUI page links admin_ui/common/css/ns/ui.css;
    citrixscan/BLS probe it). A stylesheet, not a page: an HTML answer (login page, catch-all,
    soft 404) is not it."""
    r = obs.get("mgmt_css")
    if r is None or r.status != 200 or not r.body or not obs.body_usable(r):
        return Outcome()
    ctype = (r.header("content-type") or "").lower()
    head = r.body[:512].lstrip().lower()
    if "html" in ctype or head.startswith((b"<", b"{\"")) or b"{" not in r.body[:4096]:
        return Outcome()
    ev = Evidence("mgmt_css", f"{MGMT_CSS_PATH} served as a stylesheet ({len(r.body)} bytes, {ctype or 'no type'})",
                  r.url, Confidence.MEDIUM)
    return Outcome(signals=(Signal("mgmt_css", "corroborator", "management", ev),))


# -- build: rdx_en.json.gz gzip MTIME ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RdxInfo:
    kind: str  # "stamp" | "zeroed" | "regzipped" | "invalid"
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
        # No name and either a time or a real body: not Citrix's 23-byte file but a gzip some
        # front end (CDN, proxy) wrote itself. Its MTIME is that front end's, never the build;
        # JSON inside still says the appliance's language file was served from this path.
        try:
            head = zlib.decompressobj(31).decompress(body, 256).lstrip()
        except zlib.error:
            head = b""
        if head[:1] == b"{" and b'"' in head[:64]:
            return RdxInfo("regzipped", 0, "gzip without the rdx_en.json name, JSON inside: recompressed in front of "
                           "the appliance (its MTIME is not the build)", md5)
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
    if info.kind == "regzipped":
        ev = Evidence("rdx_stamp", f"rdx_en.json.gz served, {info.reason}{note}", r.url, Confidence.MEDIUM)
        return Outcome(signals=(Signal("rdx_regzipped", "corroborator", "", ev),), evidence=(ev,))
    if info.kind == "zeroed":
        known = next((z for z in tables.zeroed if z.body_md5 == info.md5), None)
        floors = tuple(z.floor for z in tables.zeroed)
        strength: Strength = "strong" if known else "corroborator"
        detail = (f"rdx_en.json.gz has MTIME 0 ({info.reason}, {len(r.body)} bytes){note}: "
                  f"a build of {' or '.join(f'{b} or later' for b in floors)} (timestamp removed by Citrix)")
        ev = Evidence("rdx_stamp", detail, r.url, Confidence.HIGH if known else Confidence.MEDIUM)
        claim = BuildClaim("rdx_stamp", "floor", floors, Confidence.MEDIUM, detail, r.url)
        return Outcome(signals=(Signal("rdx_zeroed", strength, "", ev),), claims=(claim,))
    when = _stamp_date(info.stamp)
    product_ev = Evidence("rdx_stamp", f"rdx_en.json.gz gzip header with MTIME {info.stamp} ({when:%Y-%m-%d %H:%M:%S} UTC){note}",
                          r.url, Confidence.HIGH)
    sig = Signal("rdx_gzip", "strong", "", product_ev)
    stamp_rows = tables.stamps.get(info.stamp, ())
    identified = [x for x in stamp_rows if x.build is not None]
    if identified:
        top = max(_CONF_RANK[x.confidence] for x in identified)
        best = [x for x in identified if _CONF_RANK[x.confidence] == top]
        builds = tuple(dict.fromkeys(Build(x.build.release, x.build.major, x.build.minor) for x in best if x.build))
        src = "; ".join(sorted({x.source for x in best}))
        conf = best[0].confidence
        if conf is Confidence.LOW:
            # Only low-confidence, single-source rows know this stamp (issue 11 §2: several such
            # rows contradicted firmware extractions and release dates). The row names a
            # candidate, never the build: the stamp's compile date brackets the rest, and the
            # verdict is bounded like any dated build unless another method corroborates it.
            near = bracket_by_date(when, tables)
            cands = tuple(dict.fromkeys((*builds, *near)))
            detail = (f"stamp {info.stamp} is listed only by a low-confidence source ({src}) as "
                      f"{', '.join(map(str, builds))}: a candidate, not an exact build; compiled {when:%Y-%m-%d}"
                      + (f", released around then: {', '.join(map(str, near))}" if near else ""))
            return Outcome(signals=(sig,), claims=(BuildClaim("rdx_stamp", "candidates", cands, Confidence.LOW, detail,
                                                              r.url, dated=True),))
        if len(builds) == 1:
            editions = {e for x in best for e in x.editions}
            ed = f" [{'/'.join(sorted(editions))}]" if editions else ""
            claim = BuildClaim("rdx_stamp", "exact", builds, conf, f"stamp {info.stamp} = {builds[0]}{ed} (table: {src}, {conf.value})", r.url)
        else:
            claim = BuildClaim("rdx_stamp", "candidates", builds, conf,
                               f"stamp {info.stamp} is listed for several builds: {', '.join(map(str, builds))} ({src})", r.url)
        return Outcome(signals=(sig,), claims=(claim,))
    cands = bracket_by_date(when, tables)
    why = "known NetScaler stamp, build never identified" if stamp_rows else "stamp not in the table"
    if not cands:
        # No build to name, but the compile date still bounds the verdicts (issue 11 §3).
        detail = f"{why}; compiled {when:%Y-%m-%d}; no release within 30 days of it"
        return Outcome(signals=(sig,), evidence=(Evidence("rdx_stamp", detail, r.url, Confidence.LOW),),
                       claims=(BuildClaim("rdx_stamp", "candidates", (), Confidence.LOW, detail, r.url, dated=True),))
    detail = f"{why}; compiled {when:%Y-%m-%d}: released around then: {', '.join(map(str, cands))}"
    return Outcome(signals=(sig,), claims=(BuildClaim("rdx_stamp", "candidates", cands, Confidence.LOW, detail, r.url, dated=True),))


# -- build: ?v= hashes, Last-Modified / ETag ----------------------------------------------------

# The cache-buster as it appears in real markup: "x.js?v=<md5>", "x.css?foo=1&v=<md5>",
# HTML-escaped "&amp;v=", or inside a script string; 32 hex digits and not the head of a
# longer hex run (a SHA-1/SHA-256 would otherwise yield a bogus 32-digit prefix).
_VHASH = re.compile(r"[?&](?:amp;)?v=([0-9a-fA-F]{32})(?![0-9a-fA-F])")


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


def _lm_rows(tables: FingerprintTables, when: dt.datetime) -> tuple[LastModifiedRow, ...]:
    """Table rows for an instant (compared as times, so a proxy re-formatting the date or
    writing it in another zone still matches)."""
    out: list[LastModifiedRow] = []
    for value, rows in tables.last_modified.items():
        t = http_date(value)
        if t is not None and abs((t - when).total_seconds()) < 1:
            out.extend(rows)
    return tuple(out)


_FILE_AFTER_STAMP = (dt.timedelta(hours=-2), dt.timedelta(hours=12))


def _dated_by_stamps(when: dt.datetime, tables: FingerprintTables) -> tuple[Build, ...]:
    """Builds whose rdx compile stamp lies just before a page's file time: the appliance's
    static files are written at build time (NOTES V3: an ETag/Last-Modified ~1 h after the
    13.0-47.22 stamp)."""
    lo, hi = _FILE_AFTER_STAMP
    out: list[Build] = []
    for stamp, rows in tables.stamps.items():
        delta = when - _stamp_date(stamp)
        if lo <= delta <= hi:
            for x in rows:
                if x.build is not None:
                    b = Build(x.build.release, x.build.major, x.build.minor)
                    if b not in out:
                        out.append(b)
    return tuple(out)


def _rdx_gave_build(obs: Observations) -> bool:
    r = obs.get("rdx")
    return r is not None and r.status == 200 and parse_rdx(r.body).kind in ("stamp", "zeroed")


def check_last_modified(obs: Observations, tables: FingerprintTables) -> Outcome:
    claims: list[BuildClaim] = []
    evidence: list[Evidence] = []
    seen: set[tuple[str, str]] = set()
    dates: list[tuple[dt.datetime, str, str]] = []  # (file time, what, url) for stamp dating
    for key in ("root", "vpn_index", "lp_index", "lp_tmindex"):
        r = obs.get(key)
        if r is None or not r.ok or not obs.body_usable(r) or (r.url, key) in seen:
            continue
        seen.add((r.url, key))
        lm = (r.header("last-modified") or "").strip()
        lm_when = http_date(lm) if lm else None
        if lm_when is not None:
            rows = tables.last_modified.get(lm) or _lm_rows(tables, lm_when)
            if rows:
                b = rows[0].build
                claims.append(BuildClaim("last_modified", "exact", (b,), rows[0].confidence,
                                         f"Last-Modified {lm} = {b} ({rows[0].source})", r.url))
            else:
                evidence.append(Evidence("last_modified", f"Last-Modified {lm} (page date; not in the table)", r.url, Confidence.LOW))
                dates.append((lm_when, f"Last-Modified {lm}", r.url))
        et = r.header("etag")
        when = decode_apache_etag(et) if et else None
        if when is not None:
            rows = _lm_rows(tables, when.replace(microsecond=0)) if lm_when is None else ()
            if rows:
                # Apache's ETag carries the file mtime: the same instant as the published
                # Last-Modified when a proxy stripped that header. One step removed: LOW.
                b = rows[0].build
                claims.append(BuildClaim("last_modified", "exact", (b,), Confidence.LOW,
                                         f"ETag {et} encodes mtime {when:%Y-%m-%d %H:%M:%S} UTC = published Last-Modified of {b} "
                                         f"({rows[0].source})", r.url))
            else:
                evidence.append(Evidence("etag", f"ETag {et} encodes mtime {when:%Y-%m-%d %H:%M:%S} UTC", r.url, Confidence.LOW))
                if lm_when is None:
                    dates.append((when, f"ETag {et}", r.url))
    if not claims and dates and not _rdx_gave_build(obs):
        # Only when the rdx file said nothing: a page date is a weak, dated guess (customised
        # pages and caches carry other times), never a closed candidate set.
        for when, what, url in dates:
            cands = _dated_by_stamps(when, tables)
            if 0 < len(cands) <= 4:
                detail = (f"{what}: file time {when:%Y-%m-%d %H:%M} UTC is within hours after the compile stamp of "
                          f"{', '.join(map(str, cands))} (appliance files are written at build time; customised "
                          "pages and caches break this)")
                claims.append(BuildClaim("last_modified", "candidates", cands, Confidence.LOW, detail, url, dated=True))
                break
    return Outcome(claims=tuple(claims), evidence=tuple(evidence))


# -- build: compile date ------------------------------------------------------------------------

# Files the firmware itself serves (their mtime is the build's); login pages count only as
# corroboration, since customised pages carry the customer's time.
_FIRMWARE_FILES = ("rdx", "nsepa", "pluginlist", "favicon", "epa_html", "mgmt_css")
_FIRMWARE_PAGES = ("vpn_index", "lp_index", "lp_tmindex", "root")
# Files of one firmware image are written within minutes (NOTES V3: ETag ~1 h after the stamp);
# a day covers a slow build and a cache that re-dates nothing.
_CONSISTENT = dt.timedelta(days=1)
_OLDEST = dt.datetime(2009, 1, 1, tzinfo=dt.UTC)  # before any NetScaler build in the tables


@dataclass(frozen=True, slots=True)
class CompileDate:
    when: dt.datetime  # UTC
    source: str  # what gave it, in words
    url: str | None = None


def _file_time(r: HttpResponse) -> dt.datetime | None:
    lm = (r.header("last-modified") or "").strip()
    t = http_date(lm) if lm else None
    if t is None:
        et = r.header("etag")
        t = decode_apache_etag(et) if et else None
    return t


def compile_date(obs: Observations) -> tuple[CompileDate | None, Evidence | None]:
    """When the running build was compiled: the rdx gzip MTIME when there is one, else the
    Last-Modified (or Apache ETag) that firmware-served static files agree on (issue 11 §3).
    Files that disagree by more than a day give no date (a proxy, cache or customisation
    rewrites them), and neither do login pages alone."""
    r = obs.get("rdx")
    if r is not None and r.status == 200:
        info = parse_rdx(r.body)
        if info.kind == "stamp":
            return CompileDate(_stamp_date(info.stamp), "rdx_en.json.gz gzip MTIME", r.url), None
    now = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
    files: list[tuple[str, dt.datetime, str]] = []
    pages: list[tuple[str, dt.datetime, str]] = []
    for key in (*_FIRMWARE_FILES, *_FIRMWARE_PAGES):
        x = obs.get(key)
        if x is None or x.status not in (200, 206) or not obs.body_usable(x):
            continue
        t = _file_time(x)
        if t is None or not _OLDEST <= t <= now:
            continue
        path = _path_of(x.url)
        (files if key in _FIRMWARE_FILES else pages).append((path, t, x.url))
    files = list({p: (p, t, u) for p, t, u in files}.values())
    if not files:
        return None, None
    lo, hi = min(t for _p, t, _u in files), max(t for _p, t, _u in files)
    if hi - lo > _CONSISTENT:
        listed = ", ".join(f"{p} {t:%Y-%m-%d}" for p, t, _u in files)
        return None, Evidence("compile_date", f"firmware files disagree on their date ({listed}): no compile date",
                              None, Confidence.LOW)
    agree = [(p, t, u) for p, t, u in pages if abs(t - hi) <= _CONSISTENT and p not in {f[0] for f in files}]
    paths = [p for p, _t, _u in files] + list(dict.fromkeys(p for p, _t, _u in agree))
    if len(paths) < 2:
        return None, None
    when = max(hi, *(t for _p, t, _u in agree)) if agree else hi
    return CompileDate(when, f"Last-Modified of {len(paths)} firmware files agree: {', '.join(paths[:5])}",
                       files[0][2]), None


# -- build: EPA plug-ins ------------------------------------------------------------------------

# Hand-written scanners, not regexes: the server chooses this text, and an attribute regex over
# "<plugin " + 64 KiB of name characters backtracks quadratically (it ran for seconds inside the
# event loop and every other host of the scan hit its deadline). Each character is looked at a
# bounded number of times.
_NAME = re.compile(r"[A-Za-z_:][\w:.-]*")


def _plugin_tags(text: str) -> Iterator[str]:
    """The ``<plugin ...>`` tags of ``text``, in order (case-insensitive, like ``<plugin\\b[^>]*>``)."""
    low = text.lower()
    pos = 0
    while True:
        start = low.find("<plugin", pos)
        if start < 0:
            return
        after = start + 7
        if after < len(low) and (low[after].isalnum() or low[after] == "_"):
            pos = after  # "<plugins>" is another tag
            continue
        end = low.find(">", after)
        if end < 0:
            return  # no tag closes after this point: nothing more to find
        yield text[start:end + 1]
        pos = end + 1


def _tag_attrs(tag: str) -> dict[str, str]:
    """Quoted attributes of one tag (names lower-cased; the last of a repeated name wins)."""
    attrs: dict[str, str] = {}
    i, n = 0, len(tag)
    while i < n:
        m = _NAME.match(tag, i)  # anchored, greedy, never fails after consuming: no backtracking
        if m is None:
            i += 1
            continue
        name, i = m.group().lower(), m.end()
        while i < n and tag[i].isspace():
            i += 1
        if i >= n or tag[i] != "=":
            continue
        i += 1
        while i < n and tag[i].isspace():
            i += 1
        if i < n and tag[i] in "\"'":
            close = tag.find(tag[i], i + 1)
            if close < 0:
                break  # an unterminated quote runs to the end of the tag
            attrs[name] = tag[i + 1:close]
            i = close + 1
    return attrs


def _epa_plugin(text: str) -> tuple[str, str] | None:
    """(name, version) of the first "NetScaler Gateway EPA plug-in" entry; attributes in any
    order and either quote (BLS and securekomodo read the same <plugin name= version=> tags)."""
    for tag in _plugin_tags(text):
        attrs = _tag_attrs(tag)
        name, version = attrs.get("name", ""), attrs.get("version", "")
        if name.lower().startswith("netscaler gateway epa plug-in") and version:
            return name, version
    return None


def check_pluginlist(obs: Observations, tables: FingerprintTables) -> Outcome:
    r = obs.get("pluginlist")
    if r is None or r.status != 200 or not obs.body_usable(r):
        return Outcome()
    found = _epa_plugin(r.text(_BODY_SCAN))
    if not found:
        return Outcome()
    ev = Evidence("epa_pluginlist", f"{found[0]} version {found[1]} (year-based: bounds the period, not the build)",
                  r.url, Confidence.LOW)
    return Outcome(signals=(Signal("epa_pluginlist", "corroborator", "gateway", ev),), evidence=(ev,))


def check_epa_deb(obs: Observations, tables: FingerprintTables) -> Outcome:
    r = obs.get("nsepa")
    if r is None:
        return Outcome()
    if r.status not in (200, 206, 416):
        why = r.error or f"HTTP {r.status}"
        return Outcome(skipped=(Skipped("epa_deb_size", f"nsepa.deb not served ({why}); absence is not evidence of patching"),))
    size: int | None = None
    # "bytes 0-0/11230664", "bytes 0-0/11230664 " or, on a 416, "bytes */11230664"; unit in any case.
    m = re.fullmatch(r"(?i)\s*bytes\s+(?:\d+\s*-\s*\d+|\*)\s*/\s*(\d+)\s*", r.header("content-range") or "")
    enc = (r.header("content-encoding") or "identity").strip().lower()
    if enc not in ("", "identity"):
        return Outcome(skipped=(Skipped("epa_deb_size", f"nsepa.deb sent with Content-Encoding {enc}: sizes are of the "
                                        "encoded file, not comparable"),))
    if r.status in (206, 416) and m:
        size = int(m.group(1))
    elif r.status == 200 and (r.header("content-length") or "").strip().isdigit():
        # Range ignored: the full-file Content-Length is the same total (technion's fallback).
        if r.body and not r.body.startswith(b"!<arch>"[: len(r.body)]):
            return Outcome(skipped=(Skipped("epa_deb_size", "the answer for nsepa.deb is not a .deb archive (no !<arch> "
                                            "header): a login page or catch-all, not the plug-in"),))
        size = int((r.header("content-length") or "0").strip())
    if r.status == 206 and r.body and r.body[:1] != b"!":
        return Outcome(skipped=(Skipped("epa_deb_size", "the first byte of nsepa.deb is not '!' (.deb archives start "
                                        "with !<arch>): not the plug-in"),))
    if size is None:
        return Outcome(skipped=(Skipped("epa_deb_size", "no total size in Content-Range/Content-Length"),))
    row = tables.epa.get(size)
    if row is None:
        return Outcome(evidence=(Evidence("epa_deb_size", f"nsepa.deb is {size} bytes (not in the table)", r.url, Confidence.LOW),))
    word = {"floor": "or later", "before": "older than", "exact": "="}[row.relation]
    detail = (f"nsepa.deb is {size} bytes: {row.build} {word}" if row.relation == "floor" else f"nsepa.deb is {size} bytes: {word} {row.build}")
    return Outcome(claims=(BuildClaim("epa_deb_size", row.relation, (row.build,), row.confidence, detail + f" ({row.source})", r.url),))


# Legacy EPA page: `var nsversion="12,0,41,23";` (Greenbone gb_citrix_netscaler_http_detect;
# a 2013 Citrix blog shows epa.html comparing the plug-in version with it). Seen on 10.x-12.0;
# not confirmed on 13.1/14.1, where Citrix stripped unauthenticated version markers (nerva).
_NSVERSION = re.compile(r"""var\s+nsversion\s*=\s*["']\s*(\d{1,2})\s*[,.]\s*(\d)\s*[,.]\s*(\d{1,3})\s*[,.]\s*(\d{1,4})\s*["']""")


def check_epa_html(obs: Observations, tables: FingerprintTables) -> Outcome:
    r = obs.get("epa_html")
    if r is None or r.status != 200 or not obs.body_usable(r):
        return Outcome()
    m = _NSVERSION.search(r.text(_BODY_SCAN))
    if not m:
        return Outcome()
    text = f"{m.group(1)}.{m.group(2)}-{m.group(3)}.{m.group(4)}"
    try:
        b = parse_build(text)
    except BuildError as e:
        return Outcome(evidence=(Evidence("epa_nsversion", f"epa.html nsversion {m.group(0)!r} is not a build: {e}",
                                          r.url, Confidence.LOW),))
    plain = Build(b.release, b.major, b.minor)
    detail = f"epa.html declares nsversion {m.group(0).split('=', 1)[1].strip()} = {plain} (legacy EPA page; Greenbone)"
    ev = Evidence("epa_nsversion", detail, r.url, Confidence.MEDIUM)
    return Outcome(signals=(Signal("epa_nsversion", "corroborator", "gateway", ev),),
                   claims=(BuildClaim("epa_nsversion", "exact", (plain,), Confidence.MEDIUM, detail, r.url),))


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
           "a random path: a host that answers 200 to anything is a catch-all, and nothing is inferred from that page"),
    Method("markers", "product", tuple(r for r in PRODUCT_PAGES if r.key != "random"), match_markers,
           "login pages, redirect from /, titles, NSC_/pwcount cookies, Via NS-CACHE, CSP, management GUI"),
    Method("default_certificate", "product", (), check_certificate, "the default NS Internal certificate"),
    Method("rdx_stamp", "build", (Req("rdx", RDX_PATH, raw=True, max_bytes=4096),), check_rdx,
           "gzip MTIME of rdx_en.json.gz -> build table, date bracketing, zeroed-file floor"),
    Method("vhash", "build", (), check_vhash, "?v=<md5> cache-busters in the login pages"),
    Method("last_modified", "build", (), check_last_modified, "Last-Modified / ETag of the login pages"),
    Method("favicon", "confirm", (Req("favicon", FAVICON_PATH, max_bytes=65536),), check_favicon,
           "favicon MD5, only when a title needs corroboration"),
    Method("mgmt_css", "confirm", (Req("mgmt_css", MGMT_CSS_PATH, max_bytes=65536),), check_mgmt_css,
           "management GUI stylesheet, only when a management login page needs corroboration"),
    Method("epa_nsversion", "extra", (Req("epa_html", EPA_HTML_PATH, max_bytes=65536),), check_epa_html,
           "legacy /epa/epa.html nsversion (old builds only)"),
    Method("epa_pluginlist", "extra", (Req("pluginlist", PLUGINLIST_PATH, max_bytes=65536),), check_pluginlist,
           "EPA plug-in version (coarse)"),
    Method("epa_deb_size", "extra", (Req("nsepa", EPA_DEB_PATH, raw=True, byte_range=(0, 0), max_bytes=16),), check_epa_deb,
           "nsepa.deb total size via a 1-byte Range request (floor)"),
)

METHODS_BY_NAME: Mapping[str, Method] = {m.name: m for m in METHODS}
