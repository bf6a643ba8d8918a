"""Remote indicators of compromise for one NetScaler host.

``check_host`` runs two kinds of declared rule (``signatures/indicators/``, loaded by
``nscheck.signatures.indicators``):

- page rules over the login pages the scan already fetched (and up to ``max_scripts``
  first-party scripts they load): scripts, forms, frames, beacons and location rewrites that
  point at another, non-allowlisted origin;
- path rules: extra bare GETs of known webshell / artefact URLs, each judged against the
  host's soft-404 baseline and its login pages, so catch-all hosts give no hit.

Everything goes through the host's ``Fetcher`` (GET/HEAD only, its request budget); what could
not be checked comes back as ``Skipped`` with the reason, never as silence.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import re
import secrets
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path, PurePosixPath
from urllib.parse import urljoin, urlsplit

from nscheck.model import Confidence, Indicator, SkipKind, Skipped
from nscheck.options import PathTier
from nscheck.probe.parallel import gather, slots
from nscheck.probe.types import ErrorKind, Fetcher, HttpResponse
from nscheck.signatures import SignatureError
from nscheck.signatures.indicators import (
    IndicatorSet,
    OriginPattern,
    PageRule,
    PathRule,
    load,
    parse_origin_pattern,
)

__all__ = [
    "PATH_TIERS",
    "check_host",
    "extract_page",
    "load_rules",
    "parse_allow_origins",
    "plan_path_requests",
    "snippet",
]

PATH_TIERS = tuple(t.value for t in PathTier)

# Bounds on untrusted content (the fetcher caps bodies too; these keep CPU time bounded even
# when a caller hands over something bigger).
MAX_PAGE_CHARS = 1_000_000  # = the probe's default body cap
MAX_SCRIPT_CHARS = 1_000_000
FEED_CHUNK = 16_384
PENDING_MAX = 262_144  # an unfinished tag/comment longer than this is junk
PENDING_TAIL_MAX = 8_192
MAX_ITEMS = 2_000  # attributes / scripts collected per page
MAX_MATCHES_PER_RULE = 20  # regex matches looked at per rule per text
MAX_HITS_PER_RULE = 5  # indicators per rule per host (same rule on many pages says the same)
SNIPPET_MAX = 200
SCRIPT_MAX_BYTES = 1_000_000
PATH_MAX_ERRORS = 3  # consecutive failed requests before path probing stops for this host

_JS_TYPES = ("", "text/javascript", "application/javascript", "module", "text/ecmascript",
             "application/ecmascript", "application/x-javascript", "text/jscript")


# -- text helpers -----------------------------------------------------------------------------


def snippet(text: str, start: int = 0, end: int | None = None, *, context: int = 60, limit: int = SNIPPET_MAX) -> str:
    """A trimmed, escaped excerpt: no raw control characters or newlines, at most ``limit`` chars."""
    end = len(text) if end is None else end
    a, b = max(0, start - context), min(len(text), end + context)
    raw = text[a:b]
    out = []
    for ch in raw:
        o = ord(ch)
        if ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append(" ")
        elif o < 0x20 or o == 0x7F or 0x80 <= o < 0xA0 or ch in "\u2028\u2029":
            out.append(f"\\x{o:02x}" if o < 0x100 else f"\\u{o:04x}")
        else:
            out.append(ch)
    s = "".join(out)
    s = re.sub(r" {2,}", " ", s)
    pre = "…" if a > 0 else ""
    post = "…" if b < len(text) else ""
    if len(pre) + len(s) + len(post) > limit:
        s = s[: max(0, limit - len(pre) - 1)]
        post = "…"
    return pre + s + post


def _looks_html(r: HttpResponse) -> bool:
    ct = (r.header("content-type") or "").lower()
    if "html" in ct:
        return True
    head = r.body[:512].lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html", b"<head", b"<body", b"<!--", b"<meta", b"<title"))


def _title(body: bytes) -> str:
    m = re.search(rb"<title[^>]{0,200}>([^<]{0,300})</title", body[:65536], re.IGNORECASE)
    return m.group(1).strip().decode("utf-8", "replace").lower() if m else ""


def _sha(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


# -- origins ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Origin:
    scheme: str
    host: str
    port: int

    def __str__(self) -> str:
        default = {"http": 80, "https": 443, "ws": 80, "wss": 443}.get(self.scheme)
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}" + ("" if self.port == default else f":{self.port}")


def _origin(url: str) -> _Origin | None:
    try:
        p = urlsplit(url)
        scheme = p.scheme.lower()
        if scheme not in ("http", "https", "ws", "wss") or not p.hostname:
            return None
        port = p.port or (443 if scheme in ("https", "wss") else 80)
    except ValueError:
        return None
    return _Origin(scheme, p.hostname.lower().rstrip("."), port)


@dataclass(frozen=True)
class _Judge:
    """Decides whether a URL a page refers to leaves the appliance for a non-allowlisted origin."""

    own_hosts: frozenset[str]
    allow: tuple[OriginPattern, ...]

    def foreign(self, page_url: str, value: str, *, data_urls: bool) -> str | None:
        """The foreign origin as text, or None when the URL is same-host, allowlisted or not a URL."""
        v = value.strip().strip("\x00")
        low = v.lower()
        if low.startswith(("data:", "blob:")):
            return low.split(",", 1)[0][:60] if data_urls else None
        try:
            absu = urljoin(page_url, v)
        except ValueError:
            return None
        o = _origin(absu)
        if o is None:
            return None
        # Same host is first party whatever the scheme or port (http->https pages, :443/:8443).
        if o.host in self.own_hosts:
            return None
        if any(a.matches(o.scheme, o.host, o.port) for a in self.allow):
            return None
        return str(o)


# -- HTML extraction --------------------------------------------------------------------------


@dataclass
class PageParts:
    """What a login page refers to, with everything capped."""

    url_attrs: list[tuple[str, str, str]] = field(default_factory=list)  # (target, value, raw tag)
    texts: list[tuple[str, str]] = field(default_factory=list)  # (target, text)
    script_srcs: list[str] = field(default_factory=list)
    truncated: bool = False  # part of the page was too broken to parse


class _Extractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts = PageParts()
        self._in_script = False
        self._skip_script = False
        self._buf: list[str] = []
        self._buf_len = 0
        self._items = 0

    def _add_url(self, target: str, value: str | None, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if value is None or self._items >= MAX_ITEMS:
            return
        self._items += 1
        raw = "<" + tag + "".join(f' {k}="{v}"' if v is not None else f" {k}" for k, v in attrs[:8]) + ">"
        self.parts.url_attrs.append((target, value, raw))

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k.lower(): v for k, v in attrs}
        if tag == "script":
            src = a.get("src")
            if src:
                self._add_url("script_src", src, tag, attrs)
                if len(self.parts.script_srcs) < MAX_ITEMS:
                    self.parts.script_srcs.append(src)
            typ = (a.get("type") or "").strip().lower()
            self._in_script = True
            # <script type="text/html"> templates are not code; their text is not run.
            self._skip_script = bool(src) or typ not in _JS_TYPES
            self._buf, self._buf_len = [], 0
        elif tag == "form":
            self._add_url("form_action", a.get("action"), tag, attrs)
        elif tag in ("iframe", "frame"):
            self._add_url("iframe_src", a.get("src"), tag, attrs)
        elif tag == "base":
            self._add_url("base_href", a.get("href"), tag, attrs)
        elif tag == "meta" and (a.get("http-equiv") or "").strip().lower() == "refresh":
            m = re.search(r"url\s{0,10}=\s{0,10}['\"]?([^'\";]{1,2000})", a.get("content") or "", re.IGNORECASE)
            if m:
                self._add_url("meta_refresh", m.group(1), tag, attrs)
        # A form's submit button can send elsewhere too.
        if tag in ("button", "input") and a.get("formaction"):
            self._add_url("form_action", a.get("formaction"), tag, attrs)
        for k, v in attrs:
            if not v or self._items >= MAX_ITEMS:
                continue
            kl = k.lower()
            if kl.startswith("on") or (kl in ("href", "action", "src") and v.lstrip().lower().startswith("javascript:")):
                self._items += 1
                self.parts.texts.append(("event_handler", v[:MAX_SCRIPT_CHARS]))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag == "script":
            self.handle_endtag(tag)

    def handle_data(self, data: str) -> None:
        if self._in_script and not self._skip_script and self._buf_len < MAX_SCRIPT_CHARS:
            self._buf.append(data[: MAX_SCRIPT_CHARS - self._buf_len])
            self._buf_len += len(self._buf[-1])

    def handle_endtag(self, tag: str) -> None:
        if tag == "script" and self._in_script:
            if not self._skip_script and self._buf and self._items < MAX_ITEMS:
                self._items += 1
                self.parts.texts.append(("inline_script", "".join(self._buf)))
            self._in_script = False
            self._skip_script = False
            self._buf, self._buf_len = [], 0

    def close(self) -> None:
        super().close()
        self.handle_endtag("script")  # an unterminated <script> at the end still counts


def extract_page(text: str) -> PageParts:
    """Parse one HTML page (capped at MAX_PAGE_CHARS) into the parts page rules look at.

    html.parser rescans its pending buffer for the closing '>' of an unfinished construct on
    every step, which is quadratic on input like '</</</...' or '<?<?<?...' (a hostile host can
    stall a scan with 1 MB of it). So the page is fed in chunks, and a pending buffer that grows
    past PENDING_MAX outside <script> (one tag that long is junk) is dropped; before the final
    close() it is dropped above PENDING_TAIL_MAX.
    """
    p = _Extractor()
    text = text[:MAX_PAGE_CHARS]
    try:
        for i in range(0, len(text), FEED_CHUNK):
            p.feed(text[i:i + FEED_CHUNK])
            if getattr(p, "cdata_elem", None) is None and len(p.rawdata) > PENDING_MAX:
                p.rawdata = ""
                p.parts.truncated = True
        if getattr(p, "cdata_elem", None) is None and len(p.rawdata) > PENDING_TAIL_MAX:
            p.rawdata = ""
            p.parts.truncated = True
        p.close()
    except (AssertionError, ValueError):  # html.parser on very broken markup: keep what we have
        p.parts.truncated = True
    return p.parts


# -- rules, allowlist, cache ------------------------------------------------------------------


@functools.lru_cache(maxsize=8)
def _load_cached(directory: str, _mtime_key: float) -> IndicatorSet:
    return load(Path(directory))


def load_rules(signatures_dir: object | None = None) -> IndicatorSet:
    """The indicator rules of a signature set, loaded once per directory (5000 hosts, one load)."""
    from nscheck.paths import signatures_dir as resolve

    d = Path(str(signatures_dir)) if isinstance(signatures_dir, (str, Path)) else resolve(None)
    ind = d / "indicators"
    try:
        key = max((f.stat().st_mtime for f in ind.iterdir()), default=0.0)
    except OSError:
        key = 0.0
    return _load_cached(str(d), key)


def parse_allow_origins(values: Iterable[str] = (), files: Iterable[str] = ()) -> tuple[OriginPattern, ...]:
    """``--allow-origin`` values and ``--allow-origin-file`` files (one per line, '#' comments).
    Raises ``InputError`` listing every bad entry (``file:line`` for files); the scan then exits
    64 before its first request (``nscheck.inputs``), so no host is checked with a wrong list."""
    from nscheck.inputs import InputError

    out: list[OriginPattern] = []
    problems: list[str] = []
    for v in values:
        for part in v.split("#", 1)[0].split(","):
            if part.strip():
                try:
                    out.append(parse_origin_pattern(part))
                except ValueError as e:
                    problems.append(f"--allow-origin: {e}")
    for f in files:
        try:
            lines = Path(f).read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as e:
            problems.append(f"{f}: cannot read allow-origin file: {getattr(e, 'strerror', None) or e}")
            continue
        for i, ln in enumerate(lines, 1):
            s = ln.split("#", 1)[0].strip()
            if s:
                try:
                    out.append(parse_origin_pattern(s))
                except ValueError as e:
                    problems.append(f"{f}:{i}: {e}")
    if problems:
        raise InputError(problems)
    return tuple(out)


# -- page-content rules -----------------------------------------------------------------------


@dataclass
class _Hits:
    items: list[Indicator] = field(default_factory=list)
    seen: set[tuple[str, str, str]] = field(default_factory=set)
    per_rule: dict[str, int] = field(default_factory=dict)

    def add(self, ind: Indicator, key: tuple[str, str, str]) -> None:
        if key in self.seen or self.per_rule.get(ind.id, 0) >= MAX_HITS_PER_RULE:
            return
        self.seen.add(key)
        self.per_rule[ind.id] = self.per_rule.get(ind.id, 0) + 1
        self.items.append(ind)


def _page_indicator(rule: PageRule, url: str, evidence: str, origin: str | None) -> Indicator:
    m = rule.meta
    ev = evidence if origin is None else f"{evidence} (origin {origin})"
    return Indicator(m.id, m.title, m.severity, m.confidence, ev, check=m.check, url=url,
                     references=m.references, advice=m.advice)


def _run_text_rules(rules: Sequence[PageRule], target: str, text: str, where: str, page_url: str,
                    judge: _Judge, hits: _Hits) -> None:
    text = text[:MAX_SCRIPT_CHARS]
    for rule in rules:
        if target not in rule.targets or rule.pattern is None:
            continue
        has_url = "url" in rule.pattern.groupindex
        for n, m in enumerate(rule.pattern.finditer(text)):
            if n >= MAX_MATCHES_PER_RULE:
                break
            origin: str | None = None
            if has_url:
                origin = judge.foreign(page_url, m.group("url"), data_urls=False)
                if origin is None:
                    continue
            ev = f"{target.replace('_', ' ')} in {where}: {snippet(text, m.start(), m.end())}"
            hits.add(_page_indicator(rule, where, ev, origin), (rule.id, where, origin or m.group(0)[:80].lower()))


def _run_url_rules(rules: Sequence[PageRule], parts: PageParts, page_url: str, judge: _Judge, hits: _Hits) -> None:
    for target, value, raw in parts.url_attrs:
        for rule in rules:
            if target not in rule.targets:
                continue
            origin = judge.foreign(page_url, value, data_urls=rule.data_urls)
            if origin is None:
                continue
            ev = f"{target.replace('_', ' ')}: {snippet(raw, context=0)}"
            hits.add(_page_indicator(rule, page_url, ev, origin), (rule.id, page_url, origin))


def _check_page(page: HttpResponse, url_rules: Sequence[PageRule], text_rules: Sequence[PageRule], judge: _Judge,
                hits: _Hits) -> PageParts:
    parts = extract_page(page.text())
    _run_url_rules(url_rules, parts, page.url, judge, hits)
    for target, text in parts.texts:
        _run_text_rules(text_rules, target, text, page.url, page.url, judge, hits)
    return parts


def _script_priority(path: str) -> int:
    # Skimmers are usually appended to the theme/init/logon scripts a customer can change, not
    # to the vendor's minified libraries: check those first when only a few fit the budget.
    p = path.lower()
    if any(k in p for k in ("/custom", "/themes/", "init.js", "logon.js", "login.js", "plugin")):
        return 0
    if "/external/" in p or ".min.js" in p:
        return 2
    return 1


# -- path rules -------------------------------------------------------------------------------


@dataclass
class _Baselines:
    fetcher: Fetcher
    known: list[HttpResponse]  # login pages and other pages of this host
    cache: dict[tuple[str, str], HttpResponse | None] = field(default_factory=dict)
    make_name: Callable[[], str] = field(default=lambda: "nscheck-" + secrets.token_hex(6))

    @staticmethod
    def key(path: str) -> tuple[str, str]:
        pp = PurePosixPath(path)
        return str(pp.parent), pp.suffix.lower() or "(none)"

    async def get(self, path: str) -> HttpResponse | None:
        k = self.key(path)
        if k not in self.cache:
            d, ext = k
            name = self.make_name() + ("" if ext == "(none)" else ext)
            r = await self.fetcher.get(d.rstrip("/") + "/" + name, max_bytes=65536)
            self.cache[k] = r if r.status is not None else None
        return self.cache[k]


def _similar(a: HttpResponse, b: HttpResponse) -> bool:
    """Would a soft-404 / catch-all answer look like this? Same status and the same page
    (same body, or both HTML of about the same size / same title, or the same redirect end)."""
    if a.status == 206 and b.status in (200, 206) and a.body and b.body.startswith(a.body):
        return True  # a ranged answer (magic checks) is the start of the catch-all page
    if a.status != b.status:
        return False
    if _sha(a.body) == _sha(b.body):
        return True
    if a.redirects and b.redirects and a.url == b.url:
        return True
    if _looks_html(a) and _looks_html(b):
        la, lb = len(a.body), len(b.body)
        if abs(la - lb) <= max(64, max(la, lb) // 10):
            return True
        ta, tb = _title(a.body), _title(b.body)
        if ta and ta == tb:
            return True
    return False


def _describe(r: HttpResponse) -> str:
    ct = r.header("content-type") or "no content-type"
    extra = f", redirected {len(r.redirects)}x" if r.redirects else ""
    body = f"{len(r.body)} bytes" + ("+ (truncated)" if r.truncated else "")
    return f"{r.status}, {body}, {ct}{extra}"


def _body_hint(r: HttpResponse) -> str:
    if not r.body:
        return "empty body"
    return "body starts " + snippet(r.body[:120].decode("latin-1"), context=0, limit=100)


def _webshell_strength(r: HttpResponse) -> tuple[bool, str]:
    """(strong, why): empty/tiny non-HTML bodies and PHP source are what a bare GET to a
    webshell typically returns; a full HTML page of its own is a weaker lead."""
    low = r.body[:65536].lower()
    if b"<?php" in low or b"<?=" in low:
        return True, "PHP source in the answer"
    if not r.body.strip():
        return True, "empty answer"
    if len(r.body) <= 512 and b"<html" not in low and b"<body" not in low and b"<form" not in low:
        return True, "tiny non-HTML answer"
    return False, "a page of its own (not the login page, not the soft-404)"


async def _judge_path(rule: PathRule, path: str, r: HttpResponse, base: _Baselines) -> tuple[str | None, Confidence, Skipped | None]:
    """(evidence or None, confidence, skipped) for one answer."""
    if r.status not in (200, 206):
        return None, rule.meta.confidence, None
    if any(_similar(r, k) for k in base.known):
        return None, rule.meta.confidence, None  # catch-all: the login page for every path
    if rule.judge == "magic" and r.body and any(r.body.startswith(m) for m in rule.magic):
        return None, rule.meta.confidence, None
    b = await base.get(path)
    if b is None:
        return None, rule.meta.confidence, Skipped(f"indicator path {path}", "answered 200 but no soft-404 baseline could be fetched to judge it")
    if _similar(r, b):
        return None, rule.meta.confidence, None
    bdesc = f"soft-404 baseline {urlsplit(b.url).path} -> {_describe(b)}"
    got = f"GET {path} -> {_describe(r)}; {_body_hint(r)}"
    conf = rule.meta.confidence
    if rule.judge == "webshell":
        strong, why = _webshell_strength(r)
        if not strong:
            conf = Confidence.MEDIUM if conf is Confidence.HIGH else Confidence.LOW
        return f"{got} ({why}); {bdesc}", conf, None
    if rule.judge == "magic":
        want = " or ".join(repr(m.decode("latin-1")) for m in rule.magic)
        if not r.body:
            return f"{got} (expected a file starting {want}); {bdesc}", conf, None
        return f"{got} (expected {want}; HTML/PHP/text served instead); {bdesc}", conf, None
    # artefact: the file exists where it never should
    if b"uid=0(root)" in r.body[:65536]:
        conf = Confidence.HIGH
    return f"{got} (file exists; it is not part of NetScaler); {bdesc}", conf, None


def _select_path_rules(rules: Sequence[PathRule], tier: str, roles: Sequence[str]) -> list[tuple[PathRule, str]]:
    tiers = {"default": ("default",), "full": ("default", "full")}.get(tier, ())
    chosen = [r for r in rules if r.tier in tiers and (not r.roles or not roles or set(r.roles) & set(roles))]
    chosen.sort(key=lambda r: r.priority)  # stable: file order within a priority
    out: list[tuple[PathRule, str]] = []
    seen: set[str] = set()
    for r in chosen:
        for p in r.paths:
            if p not in seen:
                seen.add(p)
                out.append((r, p))
    return out


async def _run_path_rules(fetcher: Fetcher, pairs: list[tuple[PathRule, str]], known: list[HttpResponse],
                          make_name: Callable[[], str] | None) -> tuple[list[Indicator], list[Skipped]]:
    base = _Baselines(fetcher, known) if make_name is None else _Baselines(fetcher, known, make_name=make_name)
    found: list[Indicator] = []
    skipped: list[Skipped] = []
    checked = 0
    errors = 0
    stop_reason = ""
    # Up to the host's slots of paths are in flight; answers are judged in list order, so hits,
    # skips and where probing stops are those of one request after another.
    n = slots(fetcher)
    ahead: deque[tuple[PathRule, str, asyncio.Future[HttpResponse]]] = deque()
    nxt = 0

    def affordable(k: int) -> bool:
        # Keep one request back per directory so a 200 can still be judged against its baseline;
        # the paths in flight (and their baselines) are counted as spent.
        dirs = {base.key(p) for _r, p, _f in ahead} | {base.key(pairs[k][1])}
        need = len(ahead) + 1 + sum(1 for d in dirs if d not in base.cache)
        return fetcher.budget_left >= need

    def send(rule: PathRule, path: str) -> asyncio.Future[HttpResponse]:
        if rule.method == "head":
            return asyncio.ensure_future(fetcher.head(path))
        return asyncio.ensure_future(fetcher.get(path, byte_range=rule.byte_range, max_bytes=rule.max_bytes,
                                                 follow_redirects=True))

    try:
        while True:
            while nxt < len(pairs) and len(ahead) < n and affordable(nxt):
                ahead.append((*pairs[nxt], send(*pairs[nxt])))
                nxt += 1
            if not ahead:
                if nxt < len(pairs):
                    stop_reason = "request budget"
                break
            rule, path, fut = ahead.popleft()
            r = await fut
            stop, errors, checked, stop_reason = await _path_answer(fetcher, rule, path, r, base, found, skipped,
                                                                    errors, checked)
            if stop:
                break
    finally:
        for _r, _p, f in ahead:  # sent after the point where probing stopped: not judged
            f.cancel()
        if ahead:
            await asyncio.gather(*(f for _r, _p, f in ahead), return_exceptions=True)
    left = len(pairs) - checked
    if left > 0:
        kind = SkipKind.DEADLINE if stop_reason == "host deadline" else SkipKind.BUDGET if stop_reason in (None, "request budget") \
            else SkipKind.NOT_APPLICABLE  # the host stopped answering
        skipped.append(Skipped("webshell paths", f"{left} of {len(pairs)} paths not checked: {stop_reason or 'request budget'}",
                               kind))
    return found, skipped


async def _path_answer(fetcher: Fetcher, rule: PathRule, path: str, r: HttpResponse, base: _Baselines,
                       found: list[Indicator], skipped: list[Skipped], errors: int, checked: int
                       ) -> tuple[bool, int, int, str]:
    """Judge one path's answer: (stop probing, consecutive errors, paths checked, why stopped)."""
    if r.status is None:
        if r.error_kind in (ErrorKind.BUDGET, ErrorKind.DEADLINE):
            return True, errors, checked, "request budget" if r.error_kind == ErrorKind.BUDGET else "host deadline"
        errors += 1
        checked += 1
        if errors >= PATH_MAX_ERRORS:
            return True, errors, checked, f"host stopped answering ({r.error or r.error_kind})"
        skipped.append(Skipped(f"indicator path {path}", f"no answer: {r.error or r.error_kind or 'error'}"))
        return False, errors, checked, ""
    checked += 1
    evidence, conf, skip = await _judge_path(rule, path, r, base)
    if skip:
        skipped.append(skip)
    if evidence:
        m = rule.meta
        found.append(Indicator(m.id, m.title, m.severity, conf, evidence, check=m.check,
                               url=getattr(fetcher, "base_url", "").rstrip("/") + path,
                               references=m.references, advice=m.advice))
    return False, 0, checked, ""


def plan_path_requests(signatures_dir: object | None = None, path_tier: str = "default",
                       roles: Sequence[str] = (), *,
                       rules: IndicatorSet | None = None) -> list[tuple[str, str, tuple[int, int] | None]]:
    """What path rules would ask for, in order, as (method, path, byte range) (for --dry-run).
    Not listed: up to ``max_scripts`` first-party scripts and a soft-404 baseline per directory,
    which depend on the answers."""
    rs = rules if rules is not None else load_rules(signatures_dir)
    return [(r.method.upper(), p, r.byte_range) for r, p in _select_path_rules(rs.path_rules, path_tier, roles)]


# -- the entry point --------------------------------------------------------------------------


def _same_host(url: str, base_url: str) -> bool:
    a, b = _origin(url), _origin(base_url)
    return a is not None and b is not None and a.host == b.host


def _html_pages(pages: Sequence[HttpResponse], base_url: str) -> list[HttpResponse]:
    out: list[HttpResponse] = []
    seen: set[str] = set()
    for r in pages:
        if r.method != "GET" or r.status != 200 or not r.body or not _looks_html(r):
            continue
        if base_url and not _same_host(r.url, base_url):
            continue
        h = _sha(r.body)
        if h not in seen:
            seen.add(h)
            out.append(r)
    return out


def _path_of(url: str) -> str:
    p = urlsplit(url)
    return (p.path or "/") + (f"?{p.query}" if p.query else "")


async def check_host(
    fetcher: Fetcher,
    pages: Sequence[HttpResponse],
    *,
    roles: Sequence[str] = (),
    signatures_dir: object | None = None,
    allow_origins: Sequence[OriginPattern] = (),
    path_tier: str = "default",
    rules: IndicatorSet | None = None,
    max_scripts: int | None = None,
    random_name: Callable[[], str] | None = None,
) -> tuple[list[Indicator], list[Skipped]]:
    """Indicators of compromise for one host seen as NetScaler, plus explicit skips.

    ``pages``: responses the scan already has (login pages, root, random path); nothing is
    re-fetched that is there. ``allow_origins``: parsed extra origins (``parse_allow_origins``),
    added to the rule set's allowlist. ``path_tier``: "default" (prioritised ~20 paths), "full" (adds
    the 198 known webshell paths and more) or "none". ``rules``: the set loaded once per run
    (``nscheck.inputs``; loaded here only for direct callers). Never raises for content or network trouble.
    """
    try:
        return await _check_host(fetcher, pages, roles=roles, signatures_dir=signatures_dir,
                                 allow_origins=allow_origins, path_tier=path_tier, rules=rules, max_scripts=max_scripts, random_name=random_name)
    except Exception as e:  # Principle 4: a bug here must not cost the host its advisories
        return [], [Skipped("indicators", f"internal error: {type(e).__name__}: {e}", SkipKind.INTERNAL_ERROR)]


async def _check_host(
    fetcher: Fetcher,
    pages: Sequence[HttpResponse],
    *,
    roles: Sequence[str],
    signatures_dir: object | None,
    allow_origins: Sequence[OriginPattern],
    path_tier: str,
    rules: IndicatorSet | None,
    max_scripts: int | None,
    random_name: Callable[[], str] | None,
) -> tuple[list[Indicator], list[Skipped]]:
    skipped: list[Skipped] = []
    if path_tier not in PATH_TIERS:
        skipped.append(Skipped("webshell paths", f"unknown path tier {path_tier!r}: using 'default'", SkipKind.DATA_ERROR))
        path_tier = "default"
    try:
        rs = rules if rules is not None else load_rules(signatures_dir)
    except (SignatureError, ExceptionGroup) as e:
        return [], [Skipped("indicators", f"indicator rules not loaded: {e}", SkipKind.DATA_ERROR)]
    allow = (*rs.allow_origins, *allow_origins)
    base_url = getattr(fetcher, "base_url", "") or ""
    own = {o.host for o in (_origin(base_url),) if o}
    judge = _Judge(frozenset(own), tuple(allow))
    hits = _Hits()

    # 1. login-page integrity
    html = _html_pages(pages, base_url)
    if not html:
        wanted = [p for role in (roles or ("gateway", "aaa")) for p in rs.login_pages.get(role, ())]
        for p in dict.fromkeys(wanted):
            if fetcher.budget_left <= 0:
                skipped.append(Skipped("login pages", "not fetched: request budget", SkipKind.BUDGET))
                break
            r = await fetcher.get(p)
            html += _html_pages([r], base_url)
        html = _html_pages(html, base_url)
    if not html:
        skipped.append(Skipped("login page integrity", "no login page (HTML, 200) to check"))
    url_rules = [r for r in rs.page_rules if r.pattern is None]
    text_rules = [r for r in rs.page_rules if r.pattern is not None]
    scripts: dict[str, str] = {}
    for page in html:
        # Parsing and matching are CPU work on untrusted input: off the event loop, so one
        # hostile page does not stall the other hosts' requests.
        parts = await asyncio.to_thread(_check_page, page, url_rules, text_rules, judge, hits)
        if parts.truncated:
            # the parser's bounds on hostile markup were reached
            skipped.append(Skipped(f"login page {_path_of(page.url)}", "part of the page was too broken to parse",
                                   SkipKind.BUDGET))
        for src in parts.script_srcs:
            try:
                absu = urljoin(page.url, src.strip())
            except ValueError:
                continue
            if _same_host(absu, page.url) and absu not in scripts:
                scripts[absu] = page.url

    # 2. first-party scripts, bounded
    limit = rs.max_scripts if max_scripts is None else max_scripts
    pairs = _select_path_rules(rs.path_rules, path_tier, roles)
    top = sum(1 for r, _ in pairs if r.priority <= 20)  # keep the highest-value paths affordable
    order = sorted(scripts, key=lambda u: _script_priority(urlsplit(u).path))
    budget_for_scripts = max(0, min(limit, fetcher.budget_left - top - 1))
    chosen = order[:budget_for_scripts]
    # The scripts are independent reads: fetched together (up to the host's slots), read in order.
    answers = await gather(fetcher, [functools.partial(fetcher.get, _path_of(u), max_bytes=SCRIPT_MAX_BYTES)
                                     for u in chosen])
    fetched = len(chosen)
    for u, r in zip(chosen, answers, strict=True):
        head = r.body[:512].lstrip().lower()
        if r.status != 200 or not r.body or head.startswith((b"<!doctype", b"<html", b"<head", b"<body")):
            continue  # catch-all hosts answer scripts with the login page: nothing to read
        await asyncio.to_thread(_run_text_rules, text_rules, "script_file", r.text(), r.url or u, r.url or u, judge, hits)
    if len(order) > fetched:
        reason = "request budget" if fetched >= budget_for_scripts and fetched < limit else f"at most {limit} per host"
        skipped.append(Skipped("login page scripts", f"{len(order) - fetched} of {len(order)} first-party scripts not checked: {reason}",
                               SkipKind.BUDGET))

    # 3. known webshell / artefact paths
    found: list[Indicator] = []
    if pairs:
        # Only HTML pages count as "the catch-all answer": an empty 200 elsewhere must not hide
        # an empty webshell answer (the per-directory baseline handles empty catch-alls).
        found, sk = await _run_path_rules(fetcher, pairs, html, random_name)
        skipped += sk
    elif path_tier == "none":
        skipped.append(Skipped("webshell paths", "not checked: path probing switched off", SkipKind.DISABLED))
    return hits.items + found, skipped
