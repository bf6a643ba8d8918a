"""Remote indicator-of-compromise rules as reviewed data: ``signatures/indicators/*.yaml``.

Two kinds of rule:

- **page** rules look at what the login pages (and the first-party scripts they load) contain:
  URL attributes (``<script src>``, ``<form action>``, ...) that point at another origin, and
  bounded regexes over individual script bodies / event-handler values;
- **path** rules ask the appliance for extra resources (webshell names, staged artefacts,
  static files that should have a known magic) and judge the answer against a soft-404
  baseline.

A rule can only ever make nscheck send GET or HEAD: ``method`` accepts nothing else. Every
problem comes back as ``SignatureError`` (``file:line: field: reason``) or an ``ExceptionGroup``
of them; the regexes are compiled here so a bad one never reaches a scan.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nscheck.model import Confidence, Severity
from nscheck.signatures import SignatureError, register_loader
from nscheck.signatures._regex_lint import problems as regex_problems
from nscheck.signatures._yaml import line_of, load_yaml

__all__ = [
    "ALLOWLIST_FILE",
    "JUDGES",
    "PAGE_TARGETS",
    "IndicatorSet",
    "PageRule",
    "PathRule",
    "load",
    "parse_origin_pattern",
]

INDICATOR_SUBDIR = "indicators"
ALLOWLIST_FILE = "allowlist.yaml"

# Where a page rule looks. URL targets are attribute values resolved against the page URL;
# text targets are script bodies (inline, event handlers, first-party script files).
URL_TARGETS = ("script_src", "form_action", "iframe_src", "base_href", "meta_refresh")
TEXT_TARGETS = ("inline_script", "event_handler", "script_file")
PAGE_TARGETS = URL_TARGETS + TEXT_TARGETS

# How a path rule's answer is judged (implemented in nscheck.assess.indicators).
JUDGES = ("webshell", "artefact", "magic")
TIERS = ("default", "full")
METHODS = ("get", "head")
ROLES = ("gateway", "aaa", "management")

_ID_RE = re.compile(r"^[A-Z][A-Z0-9]*(?:-[A-Z0-9]+)+$")
_PATH_RE = re.compile(r"^/[A-Za-z0-9._~@%+/-]*$")
_MAX_PATTERN = 400
_HOST_RE = re.compile(r"^(\*\.)?[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$")


@dataclass(frozen=True, slots=True)
class OriginPattern:
    """An allowed origin: ``cdn.example.com``, ``*.example.com``, ``https://idp.example.com:8443``."""

    host: str  # lower case; a leading "*." means "any subdomain" (not the bare domain)
    scheme: str | None = None
    port: int | None = None
    text: str = ""

    def matches(self, scheme: str, host: str, port: int) -> bool:
        host = host.lower().rstrip(".")
        if self.host.startswith("*."):
            if not host.endswith(self.host[1:]):
                return False
        elif host != self.host:
            return False
        if self.scheme is not None and scheme != self.scheme:
            return False
        return self.port is None or port == self.port


def parse_origin_pattern(text: str) -> OriginPattern:
    """Parse one allow-origin entry; raises ValueError with a plain reason."""
    raw = text.strip()
    t = raw.lower()
    scheme: str | None = None
    m = re.match(r"^([a-z][a-z0-9+.-]*)://", t)
    if m:
        scheme = m.group(1)
        if scheme not in ("http", "https", "ws", "wss"):
            raise ValueError(f"{raw!r}: scheme must be http, https, ws or wss")
        t = t[m.end():]
    t = t.rstrip("/")
    if "/" in t or "?" in t or "#" in t:
        raise ValueError(f"{raw!r}: an origin has no path (give scheme://host[:port] or a host)")
    port: int | None = None
    pm = re.match(r"^(.*):(\d{1,5})$", t)
    if pm and not t.startswith("["):
        t, port = pm.group(1), int(pm.group(2))
        if not 0 < port < 65536:
            raise ValueError(f"{raw!r}: port out of range")
    if not t or not _HOST_RE.match(t):
        raise ValueError(f"{raw!r}: not a host name or *.domain pattern")
    return OriginPattern(t, scheme, port, raw)


@dataclass(frozen=True, slots=True)
class RuleMeta:
    id: str
    title: str
    check: str
    severity: Severity
    confidence: Confidence
    references: tuple[str, ...]
    advice: str
    file: str = ""
    line: int | None = None


@dataclass(frozen=True, slots=True)
class PageRule:
    meta: RuleMeta
    targets: tuple[str, ...]
    # For text targets: a bounded regex, applied case-insensitively. A named group ``url``
    # makes the match a hit only when that URL is on another, non-allowlisted origin.
    pattern: re.Pattern[str] | None = None
    data_urls: bool = False  # URL targets: data:/blob: values count as foreign too

    @property
    def id(self) -> str:
        return self.meta.id


@dataclass(frozen=True, slots=True)
class PathRule:
    meta: RuleMeta
    paths: tuple[str, ...]
    judge: str
    method: str = "get"
    tier: str = "default"
    priority: int = 50  # lower runs first when the request budget is short
    magic: tuple[bytes, ...] = ()
    max_bytes: int = 4096
    byte_range: tuple[int, int] | None = None
    roles: tuple[str, ...] = ()  # empty = every NetScaler role

    @property
    def id(self) -> str:
        return self.meta.id


@dataclass(frozen=True)
class IndicatorSet:
    page_rules: tuple[PageRule, ...] = ()
    path_rules: tuple[PathRule, ...] = ()
    allow_origins: tuple[OriginPattern, ...] = ()
    # role -> login page paths to fetch when the scan handed over none
    login_pages: dict[str, tuple[str, ...]] = field(default_factory=dict)
    max_scripts: int = 5

    def __len__(self) -> int:
        return len(self.page_rules) + len(self.path_rules)


class _Errors:
    def __init__(self) -> None:
        self.items: list[SignatureError] = []

    def add(self, file: Path, obj: Any, key: str, reason: str, fld: str | None = None) -> None:
        self.items.append(SignatureError(file, reason, field=fld or key, line=line_of(obj, key)))


def _str_list(v: Any) -> list[str] | None:
    if isinstance(v, str):
        return [v]
    if isinstance(v, list) and all(isinstance(x, str) for x in v):
        return list(v)
    return None


def _compile(pattern: str) -> re.Pattern[str]:
    if len(pattern) > _MAX_PATTERN:
        raise ValueError(f"longer than {_MAX_PATTERN} characters")
    # Unbounded wildcards invite slow scans over big script bodies; quantify explicitly.
    if re.search(r"(?<!\\)\.[*+]", pattern) or "(?s)" in pattern:
        raise ValueError("unbounded '.*' / '.+' or (?s): use a bounded class like [^;]{0,200}")
    try:
        rx = re.compile(pattern, re.IGNORECASE)
    except re.error as e:
        raise ValueError(f"invalid regex: {e}") from None
    slow = regex_problems(pattern, re.IGNORECASE)
    if slow:  # pages and scripts come from the appliance: linear time on anything (issue 12.6)
        raise ValueError("not linear on long input: " + "; ".join(slow))
    return rx


def _meta(file: Path, r: Any, rid: str, errors: _Errors) -> RuleMeta | None:
    ok = True
    title = r.get("title")
    if not isinstance(title, str) or not title.strip():
        errors.add(file, r, "title", "required text")
        ok = False
    check = r.get("check")
    if not isinstance(check, str) or not re.fullmatch(r"[a-z][a-z0-9_]*", check):
        errors.add(file, r, "check", "required family name in lower_snake_case (e.g. webshell, portal_exfil)")
        ok = False
    try:
        sev = Severity(str(r.get("severity")))
    except ValueError:
        errors.add(file, r, "severity", f"must be one of {', '.join(s.value for s in Severity)}")
        ok = False
    try:
        conf = Confidence(str(r.get("confidence")))
    except ValueError:
        errors.add(file, r, "confidence", f"must be one of {', '.join(c.value for c in Confidence)}")
        ok = False
    refs = _str_list(r.get("references", []))
    if refs is None or not refs:
        errors.add(file, r, "references", "required list of URLs or source keys")
        ok = False
    advice = r.get("advice")
    if not isinstance(advice, str) or not advice.strip():
        errors.add(file, r, "advice", "required text: what the reader should do")
        ok = False
    if not ok:
        return None
    return RuleMeta(rid, title.strip(), check, sev, conf, tuple(refs or ()), " ".join(advice.split()),
                    str(file), line_of(r, "id"))


def _page_rule(file: Path, r: Any, page: Any, meta: RuleMeta, errors: _Errors) -> PageRule | None:
    if not isinstance(page, dict):
        errors.add(file, r, "page", "must be a mapping with 'in' (and 'pattern' for script text)")
        return None
    n = len(errors.items)
    unknown = set(page) - {"in", "pattern", "data_urls"}
    for k in sorted(unknown):
        errors.add(file, page, k, "unknown key", fld=f"page.{k}")
    targets = _str_list(page.get("in"))
    if not targets or any(t not in PAGE_TARGETS for t in targets):
        errors.add(file, page, "in", f"list of: {', '.join(PAGE_TARGETS)}", fld="page.in")
        targets = []
    pattern: re.Pattern[str] | None = None
    if "pattern" in page:
        if not isinstance(page["pattern"], str):
            errors.add(file, page, "pattern", "must be a regex string", fld="page.pattern")
        else:
            try:
                pattern = _compile(page["pattern"])
            except ValueError as e:
                errors.add(file, page, "pattern", str(e), fld="page.pattern")
    if targets and any(t in TEXT_TARGETS for t in targets) and "pattern" not in page:
        errors.add(file, page, "pattern", "required for script text targets", fld="page.pattern")
    if targets and any(t in TEXT_TARGETS for t in targets) and any(t in URL_TARGETS for t in targets):
        errors.add(file, page, "in", "do not mix URL attribute targets and script text targets in one rule", fld="page.in")
    data_urls = page.get("data_urls", False)
    if not isinstance(data_urls, bool):
        errors.add(file, page, "data_urls", "must be true or false", fld="page.data_urls")
    if len(errors.items) != n:
        return None
    return PageRule(meta, tuple(targets or ()), pattern, bool(data_urls))


def _parse_magic(v: str) -> bytes:
    if v.startswith("hex:"):
        return bytes.fromhex(v[4:].replace(" ", ""))
    return v.encode("latin-1")


def _path_rule(file: Path, base: Path, r: Any, spec: Any, meta: RuleMeta, errors: _Errors) -> PathRule | None:
    if not isinstance(spec, dict):
        errors.add(file, r, "path", "must be a mapping with 'paths' or 'paths_file', and 'judge'")
        return None
    n = len(errors.items)
    known = {"method", "paths", "paths_file", "judge", "tier", "priority", "magic", "max_bytes", "range", "roles"}
    for k in sorted(set(spec) - known):
        errors.add(file, spec, k, "unknown key", fld=f"path.{k}")
    method = str(spec.get("method", "get")).lower()
    if method not in METHODS:
        # Principle 1: a rule can never make nscheck send anything but GET or HEAD.
        errors.add(file, spec, "method", "only get or head are allowed", fld="path.method")
    paths: list[str] = []
    if ("paths" in spec) == ("paths_file" in spec):
        errors.add(file, spec, "paths", "give exactly one of paths / paths_file", fld="path.paths")
    elif "paths" in spec:
        lst = _str_list(spec["paths"])
        if lst is None or not lst:
            errors.add(file, spec, "paths", "non-empty list of URL paths", fld="path.paths")
        else:
            paths = lst
    else:
        pf = spec["paths_file"]
        if not isinstance(pf, str) or "/" in pf or "\\" in pf or pf.startswith("."):
            errors.add(file, spec, "paths_file", "a file name beside this YAML file", fld="path.paths_file")
        else:
            try:
                lines = (base / pf).read_text(encoding="utf-8").splitlines()
            except (OSError, UnicodeDecodeError) as e:
                errors.add(file, spec, "paths_file", f"cannot read {pf}: {e}", fld="path.paths_file")
                lines = []
            for i, ln in enumerate(lines, 1):
                s = ln.split("#", 1)[0].strip()
                if not s:
                    continue
                if not _PATH_RE.match(s) or "/../" in s or s.endswith("/.."):
                    errors.items.append(SignatureError(base / pf, f"{s!r} is not a plain URL path", field="path", line=i))
                    continue
                paths.append(s)
    for p in paths if "paths" in spec else ():
        if not _PATH_RE.match(p) or "/../" in p:
            errors.add(file, spec, "paths", f"{p!r} is not a plain URL path (no query, no '..')", fld="path.paths")
    if len(set(paths)) != len(paths):
        errors.add(file, spec, "paths", "duplicate paths", fld="path.paths")
    judge = spec.get("judge")
    if judge not in JUDGES:
        errors.add(file, spec, "judge", f"must be one of {', '.join(JUDGES)}", fld="path.judge")
    tier = spec.get("tier", "default")
    if tier not in TIERS:
        errors.add(file, spec, "tier", f"must be one of {', '.join(TIERS)}", fld="path.tier")
    priority = spec.get("priority", 50)
    if not isinstance(priority, int) or isinstance(priority, bool) or not 0 <= priority <= 1000:
        errors.add(file, spec, "priority", "integer 0-1000 (lower runs first)", fld="path.priority")
        priority = 50
    magic: list[bytes] = []
    if judge == "magic":
        mv = _str_list(spec.get("magic"))
        if not mv:
            errors.add(file, spec, "magic", "required for judge magic: list of 'text' or 'hex:..' prefixes", fld="path.magic")
        else:
            try:
                magic = [_parse_magic(m) for m in mv]
            except (ValueError, UnicodeEncodeError) as e:
                errors.add(file, spec, "magic", f"bad magic: {e}", fld="path.magic")
    max_bytes = spec.get("max_bytes", 4096)
    if not isinstance(max_bytes, int) or isinstance(max_bytes, bool) or not 0 < max_bytes <= 1_000_000:
        errors.add(file, spec, "max_bytes", "integer 1-1000000", fld="path.max_bytes")
        max_bytes = 4096
    brange: tuple[int, int] | None = None
    if "range" in spec:
        rv = spec["range"]
        if (not isinstance(rv, list) or len(rv) != 2 or not all(isinstance(x, int) and x >= 0 for x in rv)
                or rv[0] > rv[1]):
            errors.add(file, spec, "range", "[first, last] byte offsets", fld="path.range")
        else:
            brange = (rv[0], rv[1])
    roles = _str_list(spec.get("roles", [])) or []
    if any(x not in ROLES for x in roles):
        errors.add(file, spec, "roles", f"list of: {', '.join(ROLES)}", fld="path.roles")
    if len(errors.items) != n:
        return None
    return PathRule(meta, tuple(paths), str(judge), method, str(tier), int(priority), tuple(magic), int(max_bytes),
                    brange, tuple(roles))


def _load_rules_file(file: Path, base: Path, errors: _Errors, seen: dict[str, str]) -> tuple[list[PageRule], list[PathRule]]:
    doc = load_yaml(file)
    pages: list[PageRule] = []
    paths: list[PathRule] = []
    if not isinstance(doc, dict) or not isinstance(doc.get("rules"), list):
        errors.items.append(SignatureError(file, "expected a mapping with a 'rules' list", field="rules"))
        return pages, paths
    for k in sorted(set(doc) - {"rules", "defaults"}):
        errors.add(file, doc, k, "unknown top-level key")
    defaults = doc.get("defaults", {})
    if not isinstance(defaults, dict):
        errors.add(file, doc, "defaults", "must be a mapping")
        defaults = {}
    for r in doc["rules"]:
        if not isinstance(r, dict):
            errors.items.append(SignatureError(file, "each rule must be a mapping", field="rules"))
            continue
        merged: Any = type(r)()
        merged.update(defaults)
        merged.update(r)
        if hasattr(r, "lines"):
            merged.lines = {**getattr(defaults, "lines", {}), **r.lines}
            merged.start_line = r.start_line
        rid = r.get("id")
        if not isinstance(rid, str) or not _ID_RE.match(rid):
            errors.add(file, r, "id", "required, like NSC-IOC-EXFIL-01 (upper case, dash separated)")
            continue
        if rid in seen:
            errors.add(file, r, "id", f"duplicate rule id (also in {seen[rid]})")
            continue
        seen[rid] = f"{file.name}:{line_of(r, 'id')}"
        allowed = {"id", "title", "check", "severity", "confidence", "references", "advice", "page", "path", "notes"}
        for k in sorted(set(merged) - allowed):
            errors.add(file, merged, k, "unknown key")
        if ("page" in merged) == ("path" in merged):
            errors.add(file, r, "id", "a rule has exactly one of 'page' or 'path'", fld="page/path")
            continue
        meta = _meta(file, merged, rid, errors)
        if meta is None:
            continue
        if "page" in merged:
            pr = _page_rule(file, merged, merged["page"], meta, errors)
            if pr:
                pages.append(pr)
        else:
            ar = _path_rule(file, base, merged, merged["path"], meta, errors)
            if ar:
                paths.append(ar)
    return pages, paths


def _load_allowlist(file: Path, errors: _Errors) -> tuple[list[OriginPattern], dict[str, tuple[str, ...]], int]:
    doc = load_yaml(file)
    if not isinstance(doc, dict):
        errors.items.append(SignatureError(file, "expected a mapping"))
        return [], {}, 5
    for k in sorted(set(doc) - {"allow_origins", "login_pages", "max_scripts", "sources"}):
        errors.add(file, doc, k, "unknown top-level key")
    out: list[OriginPattern] = []
    lst = _str_list(doc.get("allow_origins", []))
    if lst is None:
        errors.add(file, doc, "allow_origins", "list of hosts / origins")
        lst = []
    for o in lst:
        try:
            out.append(parse_origin_pattern(o))
        except ValueError as e:
            errors.add(file, doc, "allow_origins", str(e))
    pages: dict[str, tuple[str, ...]] = {}
    lp = doc.get("login_pages", {})
    if not isinstance(lp, dict):
        errors.add(file, doc, "login_pages", "mapping of role -> list of paths")
    else:
        for role, v in lp.items():
            ps = _str_list(v)
            if role not in ROLES or ps is None or not all(_PATH_RE.match(p) for p in ps):
                errors.add(file, lp, str(role), f"role must be one of {', '.join(ROLES)}; value a list of paths",
                           fld=f"login_pages.{role}")
                continue
            pages[str(role)] = tuple(ps)
    ms = doc.get("max_scripts", 5)
    if not isinstance(ms, int) or isinstance(ms, bool) or not 0 <= ms <= 20:
        errors.add(file, doc, "max_scripts", "integer 0-20")
        ms = 5
    return out, pages, int(ms)


def load(directory: Path) -> IndicatorSet:
    """Load ``<directory>/indicators/``. Raises SignatureError or an ExceptionGroup of them."""
    d = Path(directory) / INDICATOR_SUBDIR
    if not d.is_dir():
        raise SignatureError(d, "indicator rules directory missing")
    errors = _Errors()
    seen: dict[str, str] = {}
    pages: list[PageRule] = []
    paths: list[PathRule] = []
    allow: list[OriginPattern] = []
    login: dict[str, tuple[str, ...]] = {}
    max_scripts = 5
    for f in sorted(d.glob("*.yaml")):
        try:
            if f.name == ALLOWLIST_FILE:
                allow, login, max_scripts = _load_allowlist(f, errors)
            else:
                p, a = _load_rules_file(f, d, errors, seen)
                pages += p
                paths += a
        except SignatureError as e:
            errors.items.append(e)
    if errors.items:
        if len(errors.items) == 1:
            raise errors.items[0]
        raise ExceptionGroup(f"{len(errors.items)} errors in indicator rules {d}", errors.items)
    return IndicatorSet(tuple(pages), tuple(paths), tuple(allow), login, max_scripts)


register_loader("indicators", load)
