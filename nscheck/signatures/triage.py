"""Offline triage rules (signatures/triage/*.yaml, plus the YARA and list files they name).

One YAML file holds ``rules:``, each a declared check: a family (``check``), which files it
looks at (``paths``, ``names``, ``extensions``, ``known_paths``) and what it looks for
(``strings``, ``regexes``, ``magic``, ``hashes``, ``files``, ``test`` ...). The families and
their fields are documented in signatures/triage/README.md.

Matching conventions (NCSC-NL ``checks.yaml``, with its bugs fixed, see iocs NOTES §7):
``known_paths`` ending in ``/`` are prefix allowlists, others exact; ``paths`` select a file or
everything under a directory; strings are case-insensitive substrings; regexes are compiled
case-insensitively and applied to the original text (NCSC lowercased the text first, which
silently disabled every regex with a capital letter).

``load(dir)`` validates every file against pydantic v2 models (one per family, a union keyed on
``check``, unknown fields refused) and raises ``SignatureError`` (``file:line: field: reason``)
or an ``ExceptionGroup`` of all of them, never a traceback. The models' JSON Schema is published
as schemas/triage-rules.schema.json (``python -m nscheck.signatures.triage schemas/``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    model_validator,
)

from nscheck.model import Confidence, Severity
from nscheck.signatures import SignatureError, register_loader
from nscheck.signatures._regex_lint import problems as regex_problems
from nscheck.signatures._yaml import LinedDict, line_of, load_yaml

__all__ = ["FAMILIES", "LIVE_TESTS", "LOG_TESTS", "Rule", "TriageFileModel", "TriageRules", "json_schema", "load"]

SUBDIR = "triage"
SCHEMA = "nscheck.triage-rules/1"

# family -> fields that must be present (one-of groups as tuples)
FAMILIES: dict[str, tuple[str | tuple[str, ...], ...]] = {
    "timestomp": ("paths",),
    "webshell": ("paths", ("strings", "regexes", "mode")),
    "suspicious_content": ("paths", ("strings", "regexes")),
    "recent_changes": ("paths", "days"),
    "tiny_backdoor": ("paths", "regexes", "max_size_kb"),
    "crontab": ("paths", ("strings", "regexes", "users")),
    "binaries": ("paths", ("known", "magic")),
    "known_bad_files": (("files", "hashes", "names"),),
    "magic_bytes": ("paths", "magic"),
    "ns_conf": ("paths", "regexes"),
    "ns_conf_history": ("names", "regexes"),
    "yara": ("paths", "yara"),
    "live": ("test",),
    "log": ("test", "names"),
}
LIVE_TESTS = ("setuid_file", "root_suid", "content", "httpd_php_handlers", "exists")
_HEX = re.compile(r"[0-9a-fA-F ]+")
_SHA256 = re.compile(r"[0-9a-f]{64}")
LOG_TESTS = ("aaa_nonascii", "tcpconnstat_mismatch", "access_webshell", "access_request", "patterns", "ioc_ips",
             "nitro_login_failed")

@dataclass(frozen=True)
class Rule:
    id: str
    check: str
    title: str
    severity: Severity
    confidence: Confidence
    source: str
    file: str
    line: int | None = None
    advice: str = ""
    references: tuple[str, ...] = ()
    paths: tuple[str, ...] = ()
    known_paths: tuple[str, ...] = ()
    names: tuple[str, ...] = ()  # fnmatch patterns on the base name, case-insensitive
    extensions: tuple[str, ...] = ()
    strings: tuple[str, ...] = ()  # case-insensitive substrings
    regexes: tuple[re.Pattern[str], ...] = ()
    allowlist: tuple[re.Pattern[str], ...] = ()  # a match whose text matches one of these is dropped
    ignore: tuple[re.Pattern[str], ...] = ()  # a line matching one of these is never a hit
    require: tuple[re.Pattern[str], ...] = ()  # the file must also match one of these
    max_size: int | None = None  # bytes
    min_size: int | None = None
    days: int | None = None
    magic: tuple[tuple[str, bytes], ...] = ()  # (name, leading bytes)
    hashes: dict[str, str] = field(default_factory=dict)  # sha256 -> label
    files: tuple[str, ...] = ()
    known: tuple[str, ...] = ()
    known_sgid: tuple[str, ...] = ()
    mode: int | None = None
    yara: tuple[str, ...] = ()  # file names under signatures/triage/yara/
    test: str = ""
    users: tuple[str, ...] = ()
    url_paths: frozenset[str] = frozenset()
    ips: frozenset[str] = frozenset()
    domains: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()


@dataclass(frozen=True)
class TriageRules:
    rules: tuple[Rule, ...]
    directory: Path
    yara_dir: Path

    def __len__(self) -> int:
        return len(self.rules)

    def by_family(self, family: str) -> tuple[Rule, ...]:
        return tuple(r for r in self.rules if r.check == family)


# -- the rule file's schema: pydantic v2 models (issue 14 §5) -------------------------------------
#
# One model per family, a union keyed on ``check``; ``extra="forbid"`` everywhere, so a misspelt
# field is an error with its line. Values are validated here (regexes compiled and proven linear,
# absolute paths, hex magic, sha256 hashes, octal modes, files beside the rules); the loader then
# turns each model into the frozen ``Rule`` the checks use. ``model_json_schema()`` of
# ``TriageFileModel`` is published as schemas/triage-rules.schema.json for rule authors' editors.

def _v_regex(s: str) -> str:
    try:
        re.compile(s, re.IGNORECASE | re.MULTILINE)
    except re.error as e:
        raise ValueError(f"bad regex {s!r}: {e}") from None
    # Rules run over hostile logs and files: a pattern that may be quadratic on a long line is
    # refused (issue 12.6), with the reason and how to write it instead.
    slow = regex_problems(s, re.IGNORECASE | re.MULTILINE)
    if slow:
        raise ValueError(f"regex {s!r} is not linear on long lines: {'; '.join(slow)}")
    return s


def _v_abs(p: str) -> str:
    if not p.startswith("/"):
        raise ValueError(f"path {p!r} must be absolute (inside the appliance)")
    return p


def _v_ext(e: str) -> str:
    if not e.startswith("."):
        raise ValueError(f"extension {e!r} must start with '.'")
    return e


def _v_hex(h: str) -> str:
    if not _HEX.fullmatch(h) or len(h.replace(" ", "")) % 2:
        raise ValueError(f"not hex bytes: {h!r}")
    return h


def _v_ipv4(ip: str) -> str:
    if not re.fullmatch(r"\d{1,3}(\.\d{1,3}){3}", ip):
        raise ValueError(f"not an IPv4 address: {ip!r}")
    return ip


def _v_sha256(h: str) -> str:
    if not _SHA256.fullmatch(h):
        raise ValueError(f"not a lower-case sha256: {h!r}")
    return h


def _one(v: Any) -> Any:
    """A single string where a list is expected is a one-item list (as before)."""
    return [v] if isinstance(v, str) else v


def _stringify(v: Any) -> Any:
    if isinstance(v, list):
        return [str(x) if isinstance(x, int) and not isinstance(x, bool) else x for x in v]
    return v


_Str = Annotated[str, Field(min_length=1)]
StrList = Annotated[list[str], BeforeValidator(_stringify), BeforeValidator(_one)]
PathList = Annotated[list[Annotated[str, AfterValidator(_v_abs)]], BeforeValidator(_one)]
RegexList = Annotated[list[Annotated[str, AfterValidator(_v_regex)]], BeforeValidator(_one)]
ExtList = Annotated[list[Annotated[str, AfterValidator(_v_ext)]], BeforeValidator(_one)]
NonNeg = Annotated[int, Field(ge=0, strict=True)]


class _RuleBase(BaseModel):
    """What every family shares: identity, metadata, which files, and what to look for."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    id: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{1,80}$")]
    title: str = ""
    severity: Severity = Severity.HIGH
    confidence: Confidence = Confidence.MEDIUM
    source: str = ""
    advice: str = ""
    references: StrList = []
    paths: PathList = []
    known_paths: PathList = []
    names: StrList = Field(default=[], description="fnmatch patterns on the lower-cased base name")
    extensions: ExtList = []
    strings: StrList = Field(default=[], description="case-insensitive substrings")
    regexes: RegexList = Field(default=[], description="case-insensitive, multi-line, linear-time regexes")
    allowlist: RegexList = []
    ignore: RegexList = []
    require: RegexList = []
    max_size_kb: NonNeg | None = None
    min_size: NonNeg | None = None

    def _need(self, *groups: tuple[str, ...]) -> None:
        for group in groups:
            if not any(getattr(self, k, None) not in (None, [], {}, "") for k in group):
                raise ValueError(f"@{group[0]}@rule {self.id}: family {self.check} needs {' or '.join(group)}")  # type: ignore[attr-defined]


class TimestompRule(_RuleBase):
    check: Literal["timestomp"]

    @model_validator(mode="after")
    def _req(self) -> TimestompRule:
        self._need(("paths",))
        return self


class WebshellRule(_RuleBase):
    check: Literal["webshell"]
    mode: Annotated[str, Field(pattern=r"^0?[0-7]{3,4}$", description="octal, like '0444'")] | None = None

    @model_validator(mode="after")
    def _req(self) -> WebshellRule:
        self._need(("paths",), ("strings", "regexes", "mode"))
        return self


class SuspiciousContentRule(_RuleBase):
    check: Literal["suspicious_content"]

    @model_validator(mode="after")
    def _req(self) -> SuspiciousContentRule:
        self._need(("paths",), ("strings", "regexes"))
        return self


class RecentChangesRule(_RuleBase):
    check: Literal["recent_changes"]
    days: NonNeg | None = None

    @model_validator(mode="after")
    def _req(self) -> RecentChangesRule:
        self._need(("paths",), ("days",))
        return self


class TinyBackdoorRule(_RuleBase):
    check: Literal["tiny_backdoor"]

    @model_validator(mode="after")
    def _req(self) -> TinyBackdoorRule:
        self._need(("paths",), ("regexes",), ("max_size_kb",))
        return self


class CrontabRule(_RuleBase):
    check: Literal["crontab"]
    users: StrList = []

    @model_validator(mode="after")
    def _req(self) -> CrontabRule:
        self._need(("paths",), ("strings", "regexes", "users"))
        return self


class BinariesRule(_RuleBase):
    check: Literal["binaries"]
    known: PathList = []
    known_sgid: PathList = []
    magic: dict[str, Annotated[str, AfterValidator(_v_hex)]] | None = None

    @model_validator(mode="after")
    def _req(self) -> BinariesRule:
        self._need(("paths",), ("known", "magic"))
        return self


class KnownBadFilesRule(_RuleBase):
    check: Literal["known_bad_files"]
    files: PathList = []
    hashes: dict[Annotated[str, AfterValidator(_v_sha256)], str | None] | None = None

    @model_validator(mode="after")
    def _req(self) -> KnownBadFilesRule:
        self._need(("files", "hashes", "names"))
        return self


class MagicBytesRule(_RuleBase):
    check: Literal["magic_bytes"]
    magic: dict[str, Annotated[str, AfterValidator(_v_hex)]] | None = None

    @model_validator(mode="after")
    def _req(self) -> MagicBytesRule:
        self._need(("paths",), ("magic",))
        return self


class NsConfRule(_RuleBase):
    check: Literal["ns_conf"]

    @model_validator(mode="after")
    def _req(self) -> NsConfRule:
        self._need(("paths",), ("regexes",))
        return self


class NsConfHistoryRule(_RuleBase):
    check: Literal["ns_conf_history"]
    users: StrList = Field(default=[], description="published rogue account names (reported as critical)")

    @model_validator(mode="after")
    def _req(self) -> NsConfHistoryRule:
        self._need(("names",), ("regexes",))
        for i, rx in enumerate(self.regexes):
            if "user" not in re.compile(rx).groupindex:
                raise ValueError(f"@regexes.{i}@needs a named group (?P<user>…) that reads the user name")
        return self


class YaraRule(_RuleBase):
    check: Literal["yara"]
    yara: StrList = []

    @model_validator(mode="after")
    def _req(self, info: ValidationInfo) -> YaraRule:
        self._need(("paths",), ("yara",))
        sigdir = (info.context or {}).get("sigdir")
        for i, y in enumerate(self.yara):
            if sigdir is not None and ("/" in y or not (sigdir / "yara" / y).is_file()):
                raise ValueError(f"@yara.{i}@YARA file {y!r} not found in {sigdir / 'yara'}")
        return self


class LiveRule(_RuleBase):
    check: Literal["live"]
    test: Literal["setuid_file", "root_suid", "content", "httpd_php_handlers", "exists"]


class LogRule(_RuleBase):
    check: Literal["log"]
    test: Literal["aaa_nonascii", "tcpconnstat_mismatch", "access_webshell", "access_request", "patterns", "ioc_ips",
                  "nitro_login_failed"]
    url_paths_file: str | None = None
    ips: Annotated[list[Annotated[str, AfterValidator(_v_ipv4)]], BeforeValidator(_one)] = []
    domains: StrList = []
    statuses: StrList = []

    @model_validator(mode="after")
    def _req(self, info: ValidationInfo) -> LogRule:
        self._need(("names",))
        sigdir = (info.context or {}).get("sigdir")
        upf = self.url_paths_file
        if upf is not None and sigdir is not None and ("/" in upf or not (sigdir / upf).is_file()):
            raise ValueError(f"@url_paths_file@list file {upf!r} not found beside the rules")
        return self


RuleModel = Annotated[
    TimestompRule | WebshellRule | SuspiciousContentRule | RecentChangesRule | TinyBackdoorRule | CrontabRule
    | BinariesRule | KnownBadFilesRule | MagicBytesRule | NsConfRule | NsConfHistoryRule | YaraRule | LiveRule | LogRule,
    Field(discriminator="check"),
]


class TriageFileModel(BaseModel):
    """One file of signatures/triage/: ``schema``, a default ``source`` and the ``rules``."""

    model_config = ConfigDict(extra="forbid", title="nscheck triage rules (signatures/triage/*.yaml)")
    schema_: Literal["nscheck.triage-rules/1"] = Field(alias="schema")
    source: str = ""
    rules: list[RuleModel]


# -- loading: models -> Rule, errors -> file:line --------------------------------------------------

_FAMILY_MODELS: dict[str, type[_RuleBase]] = {
    m.model_fields["check"].annotation.__args__[0]: m  # type: ignore[union-attr]
    for m in (TimestompRule, WebshellRule, SuspiciousContentRule, RecentChangesRule, TinyBackdoorRule, CrontabRule,
              BinariesRule, KnownBadFilesRule, MagicBytesRule, NsConfRule, NsConfHistoryRule, YaraRule, LiveRule, LogRule)
}


def _compile(patterns: list[str]) -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(p, re.IGNORECASE | re.MULTILINE) for p in patterns)


def _to_rule(m: _RuleBase, path: Path, line: int | None, file_source: str, sigdir: Path) -> Rule:
    url_paths: frozenset[str] = frozenset()
    upf = getattr(m, "url_paths_file", None)
    if upf:
        url_paths = frozenset(
            s.strip() for s in (sigdir / upf).read_text(encoding="utf-8").splitlines()
            if s.strip() and not s.lstrip().startswith("#")
        )
    magic = getattr(m, "magic", None) or {}
    mode = getattr(m, "mode", None)
    return Rule(
        id=m.id, check=m.check, title=m.title or m.id, severity=m.severity,  # type: ignore[attr-defined]
        confidence=m.confidence, source=m.source or file_source, file=path.name, line=line, advice=m.advice,
        references=tuple(m.references), paths=tuple(m.paths), known_paths=tuple(m.known_paths),
        names=tuple(n.lower() for n in m.names), extensions=tuple(e.lower() for e in m.extensions),
        strings=tuple(s.lower() for s in m.strings), regexes=_compile(m.regexes), allowlist=_compile(m.allowlist),
        ignore=_compile(m.ignore), require=_compile(m.require),
        max_size=m.max_size_kb * 1024 if m.max_size_kb is not None else None, min_size=m.min_size,
        days=getattr(m, "days", None),
        magic=tuple((str(k), bytes.fromhex(v.replace(" ", ""))) for k, v in magic.items()),
        hashes={h: str(label or "") for h, label in (getattr(m, "hashes", None) or {}).items()},
        files=tuple(getattr(m, "files", ())), known=tuple(getattr(m, "known", ())),
        known_sgid=tuple(getattr(m, "known_sgid", ())), mode=int(mode, 8) if mode else None,
        yara=tuple(getattr(m, "yara", ())), test=getattr(m, "test", ""), users=tuple(getattr(m, "users", ())),
        url_paths=url_paths, ips=frozenset(getattr(m, "ips", ())),
        domains=tuple(d.lower() for d in getattr(m, "domains", ())), statuses=tuple(getattr(m, "statuses", ())),
    )


def _walk(doc: Any, loc: tuple[Any, ...]) -> tuple[int | None, list[str]]:
    """The line of the deepest key on ``loc`` present in the YAML, and the field path to show.
    The union's tag (the family name pydantic puts in ``loc``) is not a key of the YAML: skipped."""
    node: Any = doc
    line = getattr(doc, "start_line", None)
    names: list[str] = []
    for key in loc:
        key = "schema" if key == "schema_" else key
        if isinstance(node, dict) and isinstance(key, str):
            if key not in node:
                if key == node.get("check"):
                    continue  # the discriminator's tag
                line = line_of(node, key) if isinstance(node, LinedDict) else line
                names.append(key)
                break
            line = line_of(node, key) if isinstance(node, LinedDict) else line
            names.append(key)
            node = node[key]
        elif isinstance(node, list) and isinstance(key, int) and 0 <= key < len(node):
            node = node[key]
            line = getattr(node, "start_line", line)
        else:
            break
    return line, names


def _errors(path: Path, doc: Any, exc: ValidationError) -> list[SignatureError]:
    out: list[SignatureError] = []
    for err in exc.errors(include_url=False):
        loc = tuple(err["loc"])
        msg = str(err.get("msg", ""))
        ctx_err = (err.get("ctx") or {}).get("error")
        if ctx_err is not None:
            msg = str(ctx_err)
        if msg.startswith("@"):  # a model validator naming the field it is about: "@field.index@reason"
            rel, _, msg = msg[1:].partition("@")
            loc = loc + tuple(int(p) if p.isdigit() else p for p in rel.split(".") if p)
        elif err["type"] == "union_tag_invalid":
            loc = (*loc, "check")
            msg = f"unknown check family {(err.get('ctx') or {}).get('tag')!r} (one of {', '.join(_FAMILY_MODELS)})"
        elif err["type"] == "union_tag_not_found":
            loc = (*loc, "check")
            msg = f"missing check family (one of {', '.join(_FAMILY_MODELS)})"
        elif err["type"] == "extra_forbidden":
            msg = f"unknown field(s) {loc[-1]}"
        elif err["type"] == "literal_error" and loc and loc[-1] == "test":
            fam = loc[-2] if len(loc) >= 2 else "?"
            msg = f"unknown {fam} test {err.get('input')!r} ({(err.get('ctx') or {}).get('expected')})"
        elif err["type"] == "literal_error" and loc and loc[-1] == "schema":
            msg = f"schema must be {SCHEMA!r}"
        elif err["type"] == "missing":
            msg = "required"
        line, names = _walk(doc, loc)
        fld = names[-1] if names else None
        out.append(SignatureError(path, msg, field=fld, line=line))
    return out


def load(directory: Path) -> TriageRules:
    """Load and validate signatures/triage/ under ``directory`` (the signatures root): every error
    in every file is collected (``file:line: field: reason``), then raised together."""
    directory = Path(directory)
    sigdir = directory / SUBDIR
    if not sigdir.is_dir():
        raise SignatureError(sigdir, "triage rules directory missing")
    rules: list[Rule] = []
    errors: list[SignatureError] = []
    seen: dict[str, str] = {}
    for path in sorted(sigdir.glob("*.yaml")):
        try:
            doc = load_yaml(path)
        except SignatureError as e:
            errors.append(e)
            continue
        if not isinstance(doc, dict) or not isinstance(doc.get("rules"), list):
            errors.append(SignatureError(path, "top level must be a mapping with a 'rules' list", field="rules"))
            continue
        try:
            model = TriageFileModel.model_validate(doc, context={"sigdir": sigdir})
        except ValidationError as e:
            errors.extend(_errors(path, doc, e))
            continue
        for raw, m in zip(doc["rules"], model.rules, strict=True):
            line = getattr(raw, "start_line", None)
            if m.id in seen:
                errors.append(SignatureError(path, f"duplicate rule id {m.id} (also in {seen[m.id]})", field="id",
                                             line=line_of(raw, "id") or line))
                continue
            seen[m.id] = path.name
            rules.append(_to_rule(m, path, line, model.source, sigdir))
    if errors:
        if len(errors) == 1:
            raise errors[0]
        raise ExceptionGroup("triage signature errors", errors)
    if not rules:
        raise SignatureError(sigdir, "no triage rules found (*.yaml)")
    _check_yara(sigdir / "yara", {y for r in rules for y in r.yara})
    return TriageRules(tuple(rules), sigdir, sigdir / "yara")


# -- the published JSON Schema (schemas/triage-rules.schema.json) ----------------------------------

SCHEMA_FILE = "triage-rules.schema.json"


def json_schema() -> str:
    """The JSON Schema text for signatures/triage/*.yaml (deterministic)."""
    schema = TriageFileModel.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = f"https://nscheck.invalid/schemas/{SCHEMA_FILE}"
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=True) + "\n"


def _check_yara(yara_dir: Path, files: set[str]) -> None:
    """Compile every referenced YARA file when yara-python is installed (an optional extra):
    a rule typo is then a load error, not a silent gap at triage time."""
    try:
        import yara  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        return
    for name in sorted(files):
        try:
            yara.compile(filepath=str(yara_dir / name))
        except yara.SyntaxError as e:
            m = re.search(r"\((\d+)\)", str(e))
            raise SignatureError(yara_dir / name, f"YARA syntax: {e}", line=int(m.group(1)) if m else None) from None


register_loader("triage", load)


if __name__ == "__main__":  # python -m nscheck.signatures.triage DIR: write the schema there
    import sys

    target = Path(sys.argv[1] if len(sys.argv) > 1 else "schemas")
    (target / SCHEMA_FILE).write_text(json_schema(), encoding="utf-8")
    print(f"wrote {target / SCHEMA_FILE}")
