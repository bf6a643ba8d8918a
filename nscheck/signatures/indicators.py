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

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from nscheck.model import Confidence, Severity
from nscheck.signatures import SignatureError, register_loader
from nscheck.signatures._regex_lint import problems as regex_problems
from nscheck.signatures._yaml import LinedDict, line_of, load_yaml

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


# -- the rule files' schema: pydantic v2 models (issue 14 §5) -------------------------------------
#
# ``extra="forbid"`` everywhere; each validator says what is wrong in the words the loader always
# used, and the loader maps pydantic's error locations back to ``file:line: field`` through the
# line-aware YAML loader. ``model_json_schema()`` of ``IndicatorRulesFileModel`` and
# ``AllowlistModel`` is published in schemas/ for rule authors' editors.

def _parse_magic(v: str) -> bytes:
    if v.startswith("hex:"):
        return bytes.fromhex(v[4:].replace(" ", ""))
    return v.encode("latin-1")


def _text(what: str) -> Any:
    def check(v: Any) -> str:
        if not isinstance(v, str) or not v.strip():
            raise ValueError(what)
        return v
    return BeforeValidator(check)


def _choice(values: tuple[str, ...], lower: bool = False, msg: str | None = None) -> Any:
    def check(v: Any) -> str:
        s = str(v).lower() if lower else v
        if s not in values:
            raise ValueError(msg or f"must be one of {', '.join(values)}")
        return str(s)
    return BeforeValidator(check)


def _str_list_of(msg: str, nonempty: bool = False) -> Any:
    def check(v: Any) -> list[str]:
        lst = _str_list(v)
        if lst is None or (nonempty and not lst):
            raise ValueError(msg)
        return lst
    return BeforeValidator(check)


def _bounded_int(lo: int, hi: int, msg: str) -> Any:
    def check(v: Any) -> int:
        if not isinstance(v, int) or isinstance(v, bool) or not lo <= v <= hi:
            raise ValueError(msg)
        return v
    return BeforeValidator(check)


def _v_pattern(v: Any) -> str:
    if not isinstance(v, str):
        raise ValueError("must be a regex string")
    _compile(v)  # ValueError with the reason (too long, unbounded, invalid, not linear)
    return v


class PageSpec(BaseModel):
    """A page rule: where it looks (``in``) and, for script text, a bounded linear regex."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    in_: Annotated[list[str], _str_list_of(f"list of: {', '.join(PAGE_TARGETS)}", nonempty=True)] = Field(alias="in")
    pattern: Annotated[str, BeforeValidator(_v_pattern)] | None = None
    data_urls: Annotated[bool, BeforeValidator(lambda v: v if isinstance(v, bool) else _raise("must be true or false"))] = False

    @model_validator(mode="after")
    def _shape(self) -> PageSpec:
        if any(t not in PAGE_TARGETS for t in self.in_):
            raise ValueError(f"@in@list of: {', '.join(PAGE_TARGETS)}")
        text = any(t in TEXT_TARGETS for t in self.in_)
        if text and self.pattern is None:
            raise ValueError("@pattern@required for script text targets")
        if text and any(t in URL_TARGETS for t in self.in_):
            raise ValueError("@in@do not mix URL attribute targets and script text targets in one rule")
        return self


class PathSpec(BaseModel):
    """A path rule: GET/HEAD requests for extra resources and how their answers are judged."""

    model_config = ConfigDict(extra="forbid")
    # Principle 1: a rule can never make nscheck send anything but GET or HEAD.
    method: Annotated[str, _choice(METHODS, lower=True, msg="only get or head are allowed")] = "get"
    paths: Annotated[list[str], _str_list_of("non-empty list of URL paths", nonempty=True)] | None = None
    paths_file: str | None = None
    judge: Annotated[str, _choice(JUDGES)]
    tier: Annotated[str, _choice(TIERS)] = "default"
    priority: Annotated[int, _bounded_int(0, 1000, "integer 0-1000 (lower runs first)")] = 50
    magic: Annotated[list[str], _str_list_of("list of 'text' or 'hex:..' prefixes")] | None = None
    max_bytes: Annotated[int, _bounded_int(1, 1_000_000, "integer 1-1000000")] = 4096
    range: list[int] | None = None
    roles: Annotated[list[str], _str_list_of(f"list of: {', '.join(ROLES)}")] = []

    @model_validator(mode="after")
    def _shape(self) -> PathSpec:
        if (self.paths is None) == (self.paths_file is None):
            raise ValueError("@paths@give exactly one of paths / paths_file")
        pf = self.paths_file
        if pf is not None and ("/" in pf or "\\\\" in pf or pf.startswith(".")):
            raise ValueError("@paths_file@a file name beside this YAML file")
        for p in self.paths or ():
            if not _PATH_RE.match(p) or "/../" in p:
                raise ValueError(f"@paths@{p!r} is not a plain URL path (no query, no '..')")
        if self.paths is not None and len(set(self.paths)) != len(self.paths):
            raise ValueError("@paths@duplicate paths")
        if self.judge == "magic":
            if not self.magic:
                raise ValueError("@magic@required for judge magic: list of 'text' or 'hex:..' prefixes")
            try:
                for m in self.magic:
                    _parse_magic(m)
            except (ValueError, UnicodeEncodeError) as e:
                raise ValueError(f"@magic@bad magic: {e}") from None
        rv = self.range
        if rv is not None and (len(rv) != 2 or not all(isinstance(x, int) and x >= 0 for x in rv) or rv[0] > rv[1]):
            raise ValueError("@range@[first, last] byte offsets")
        if any(x not in ROLES for x in self.roles):
            raise ValueError(f"@roles@list of: {', '.join(ROLES)}")
        return self


class IndicatorRuleModel(BaseModel):
    """One remote indicator rule (after the file's ``defaults`` are merged in)."""

    model_config = ConfigDict(extra="forbid")
    id: Annotated[str, BeforeValidator(lambda v: v if isinstance(v, str) and _ID_RE.match(v) else
                                       _raise("required, like NSC-IOC-EXFIL-01 (upper case, dash separated)"))]
    title: Annotated[str, _text("required text")]
    check: Annotated[str, BeforeValidator(lambda v: v if isinstance(v, str) and re.fullmatch(r"[a-z][a-z0-9_]*", v) else
                                          _raise("required family name in lower_snake_case (e.g. webshell, portal_exfil)"))]
    severity: Annotated[Severity, BeforeValidator(lambda v: _enum(Severity, v))]
    confidence: Annotated[Confidence, BeforeValidator(lambda v: _enum(Confidence, v))]
    references: Annotated[list[str], _str_list_of("required list of URLs or source keys", nonempty=True)]
    advice: Annotated[str, _text("required text: what the reader should do")]
    page: PageSpec | None = None
    path: PathSpec | None = None
    notes: Any = None

    @model_validator(mode="before")
    @classmethod
    def _one_kind(cls, v: Any) -> Any:
        if isinstance(v, dict) and ("page" in v) == ("path" in v):
            raise ValueError("@page/path@a rule has exactly one of 'page' or 'path'")
        return v


class IndicatorRulesFileModel(BaseModel):
    """A file of signatures/indicators/ (other than allowlist.yaml): ``defaults`` and ``rules``."""

    model_config = ConfigDict(extra="forbid", title="nscheck remote indicator rules (signatures/indicators/*.yaml)")
    defaults: dict[str, Any] = {}
    rules: list[IndicatorRuleModel]


class AllowlistModel(BaseModel):
    """signatures/indicators/allowlist.yaml: allowed origins, login pages per role, script budget."""

    model_config = ConfigDict(extra="forbid", title="nscheck indicator allowlist (signatures/indicators/allowlist.yaml)")
    allow_origins: Annotated[list[str], _str_list_of("list of hosts / origins")] = []
    login_pages: dict[str, list[str]] = {}
    max_scripts: Annotated[int, _bounded_int(0, 20, "integer 0-20")] = 5
    sources: Any = None

    @model_validator(mode="after")
    def _values(self) -> AllowlistModel:
        for o in self.allow_origins:
            try:
                parse_origin_pattern(o)
            except ValueError as e:
                raise ValueError(f"@allow_origins@{e}") from None
        for role, ps in self.login_pages.items():
            if role not in ROLES or not all(_PATH_RE.match(p) for p in ps):
                raise ValueError(f"@login_pages.{role}@role must be one of {', '.join(ROLES)}; value a list of paths")
        return self


def _raise(msg: str) -> Any:
    raise ValueError(msg)


def _enum(cls: Any, v: Any) -> Any:
    try:
        return cls(str(v))
    except ValueError:
        raise ValueError(f"must be one of {', '.join(x.value for x in cls)}") from None



_REQUIRED = {
    "id": "required, like NSC-IOC-EXFIL-01 (upper case, dash separated)",
    "title": "required text",
    "check": "required family name in lower_snake_case (e.g. webshell, portal_exfil)",
    "severity": f"must be one of {', '.join(s.value for s in Severity)}",
    "confidence": f"must be one of {', '.join(c.value for c in Confidence)}",
    "references": "required list of URLs or source keys",
    "advice": "required text: what the reader should do",
    "judge": f"must be one of {', '.join(JUDGES)}",
    "in": f"list of: {', '.join(PAGE_TARGETS)}",
}


def _model_errors(file: Path, doc: Any, exc: ValidationError, errors: _Errors) -> None:
    """pydantic's errors as ``file:line: field: reason``; the line is that of the deepest key of
    the error's location present in the YAML (the line-aware loader keeps them)."""
    for err in exc.errors(include_url=False):
        loc = tuple("in" if k == "in_" else k for k in err["loc"])
        msg = str(err.get("msg", ""))
        ctx_err = (err.get("ctx") or {}).get("error")
        if ctx_err is not None:
            msg = str(ctx_err)
        if msg.startswith("@"):  # a model validator naming its field: "@field@reason"
            rel, _, msg = msg[1:].partition("@")
            loc = (*loc, *rel.split("."))
        elif err["type"] == "extra_forbidden":
            msg = "unknown key" if len(loc) > 1 or not isinstance(doc, dict) or "rules" not in doc else "unknown top-level key"
        elif err["type"] == "missing":
            msg = _REQUIRED.get(str(loc[-1]), "required")
        node: Any = doc
        line = getattr(doc, "start_line", None)
        for key in loc:
            if isinstance(node, dict) and isinstance(key, str) and key in node:
                line = line_of(node, key)
                node = node[key]
            elif isinstance(node, list) and isinstance(key, int) and 0 <= key < len(node):
                node = node[key]
                line = getattr(node, "start_line", line)
            else:
                if isinstance(node, LinedDict) and isinstance(key, str):
                    line = line_of(node, key)
                break
        fld = ".".join(str(k) for k in loc if isinstance(k, str)) or None
        errors.items.append(SignatureError(file, msg, field=fld, line=line))


def _path_list_file(file: Path, base: Path, pf: str, spec: Any, errors: _Errors) -> list[str]:
    try:
        lines = (base / pf).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        errors.add(file, spec, "paths_file", f"cannot read {pf}: {e}", fld="path.paths_file")
        return []
    out: list[str] = []
    for i, ln in enumerate(lines, 1):
        s = ln.split("#", 1)[0].strip()
        if not s:
            continue
        if not _PATH_RE.match(s) or "/../" in s or s.endswith("/.."):
            errors.items.append(SignatureError(base / pf, f"{s!r} is not a plain URL path", field="path", line=i))
            continue
        out.append(s)
    if len(set(out)) != len(out):
        errors.add(file, spec, "paths_file", "duplicate paths", fld="path.paths")
    return out


def _rule_from(file: Path, base: Path, merged: Any, m: IndicatorRuleModel, errors: _Errors) -> PageRule | PathRule | None:
    meta = RuleMeta(m.id, m.title.strip(), m.check, m.severity, m.confidence, tuple(m.references),
                    " ".join(m.advice.split()), str(file), line_of(merged, "id"))
    if m.page is not None:
        pattern = _compile(m.page.pattern) if m.page.pattern is not None else None
        return PageRule(meta, tuple(m.page.in_), pattern, m.page.data_urls)
    spec = m.path
    assert spec is not None
    n = len(errors.items)
    paths = list(spec.paths) if spec.paths is not None else _path_list_file(file, base, str(spec.paths_file), merged["path"], errors)
    if len(errors.items) != n:
        return None
    magic = tuple(_parse_magic(x) for x in spec.magic or ()) if spec.judge == "magic" else ()
    brange = (spec.range[0], spec.range[1]) if spec.range else None
    return PathRule(meta, tuple(paths), spec.judge, spec.method, spec.tier, spec.priority, magic, spec.max_bytes,
                    brange, tuple(spec.roles))


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
            merged.start_line = getattr(r, "start_line", None)
        rid = r.get("id")
        if isinstance(rid, str) and _ID_RE.match(rid):
            if rid in seen:
                errors.add(file, r, "id", f"duplicate rule id (also in {seen[rid]})")
                continue
            seen[rid] = f"{file.name}:{line_of(r, 'id')}"
        try:
            m = IndicatorRuleModel.model_validate(merged)
        except ValidationError as e:
            _model_errors(file, merged, e, errors)
            continue
        rule = _rule_from(file, base, merged, m, errors)
        if isinstance(rule, PageRule):
            pages.append(rule)
        elif isinstance(rule, PathRule):
            paths.append(rule)
    return pages, paths


def _load_allowlist(file: Path, errors: _Errors) -> tuple[list[OriginPattern], dict[str, tuple[str, ...]], int]:
    doc = load_yaml(file)
    if not isinstance(doc, dict):
        errors.items.append(SignatureError(file, "expected a mapping"))
        return [], {}, 5
    try:
        m = AllowlistModel.model_validate(doc)
    except ValidationError as e:
        _model_errors(file, doc, e, errors)
        return [], {}, 5
    return ([parse_origin_pattern(o) for o in m.allow_origins], {k: tuple(v) for k, v in m.login_pages.items()},
            m.max_scripts)


# -- the published JSON Schemas (schemas/indicator-*.schema.json) ------------------------------------

SCHEMA_FILES: dict[str, type[BaseModel]] = {
    "indicator-rules.schema.json": IndicatorRulesFileModel,
    "indicator-allowlist.schema.json": AllowlistModel,
}


def json_schemas() -> dict[str, str]:
    """File name -> the JSON Schema text to publish (deterministic)."""
    out: dict[str, str] = {}
    for name, model in SCHEMA_FILES.items():
        schema = model.model_json_schema(by_alias=True)
        rule = schema.get("$defs", {}).get("IndicatorRuleModel")
        if rule is not None:  # a file's ``defaults`` may supply any field but the id
            rule["required"] = ["id"]
        schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
        schema["$id"] = f"https://nscheck.invalid/schemas/{name}"
        out[name] = json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=True) + "\n"
    return out


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


if __name__ == "__main__":  # python -m nscheck.signatures.indicators DIR: write the schemas there
    import sys

    target = Path(sys.argv[1] if len(sys.argv) > 1 else "schemas")
    for fname, text in json_schemas().items():
        (target / fname).write_text(text, encoding="utf-8")
        print(f"wrote {target / fname}")
