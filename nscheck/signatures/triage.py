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

``load(dir)`` validates every rule and raises ``SignatureError`` (``file:line: field: reason``)
or an ``ExceptionGroup`` of them, never a traceback.
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

__all__ = ["FAMILIES", "LIVE_TESTS", "LOG_TESTS", "Rule", "TriageRules", "load"]

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
LOG_TESTS = ("aaa_nonascii", "tcpconnstat_mismatch", "access_webshell", "access_request", "patterns", "ioc_ips",
             "nitro_login_failed")

_FIELDS = {
    "id", "check", "title", "severity", "confidence", "source", "advice", "references",
    "paths", "known_paths", "names", "extensions", "strings", "regexes", "allowlist", "ignore",
    "require", "max_size_kb", "days", "magic", "hashes", "files", "known", "known_sgid", "mode",
    "yara", "test", "users", "url_paths_file", "ips", "domains", "statuses", "min_size",
}
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{1,80}")
_HEX = re.compile(r"[0-9a-fA-F ]+")
_SHA256 = re.compile(r"[0-9a-f]{64}")


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


def _strs(v: Any, path: Path, fld: str, line: int | None) -> tuple[str, ...]:
    if v is None:
        return ()
    if isinstance(v, str):
        v = [v]
    if not isinstance(v, list) or not all(isinstance(x, str | int) and not isinstance(x, bool) for x in v):
        raise SignatureError(path, "must be a list of strings", field=fld, line=line)
    return tuple(str(x) for x in v)


def _regexes(v: Any, path: Path, fld: str, line: int | None) -> tuple[re.Pattern[str], ...]:
    out = []
    for s in _strs(v, path, fld, line):
        try:
            out.append(re.compile(s, re.IGNORECASE | re.MULTILINE))
        except re.error as e:
            raise SignatureError(path, f"bad regex {s!r}: {e}", field=fld, line=line) from None
        # Rules run over hostile logs and files: a pattern that may be quadratic on a long line
        # is refused (issue 12.6), with the reason and how to write it instead.
        slow = regex_problems(s, re.IGNORECASE | re.MULTILINE)
        if slow:
            raise SignatureError(path, f"regex {s!r} is not linear on long lines: {'; '.join(slow)}",
                                 field=fld, line=line)
    return tuple(out)


def _int(v: Any, path: Path, fld: str, line: int | None) -> int | None:
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, int) or v < 0:
        raise SignatureError(path, "must be a non-negative integer", field=fld, line=line)
    return v


def _rule(raw: Any, path: Path, sigdir: Path, file_source: str) -> Rule:
    if not isinstance(raw, dict):
        raise SignatureError(path, "each rule must be a mapping", field="rules")
    start = getattr(raw, "start_line", None)

    def ln(k: str) -> int | None:
        return line_of(raw, k) or start

    unknown = sorted(set(map(str, raw)) - _FIELDS)
    if unknown:
        raise SignatureError(path, f"unknown field(s) {', '.join(unknown)}", field=unknown[0], line=ln(unknown[0]))
    rid = raw.get("id")
    if not isinstance(rid, str) or not _ID.fullmatch(rid):
        raise SignatureError(path, "missing or malformed rule id", field="id", line=ln("id"))
    check = raw.get("check")
    if check not in FAMILIES:
        raise SignatureError(path, f"unknown check family {check!r} (one of {', '.join(FAMILIES)})",
                             field="check", line=ln("check"))
    for req in FAMILIES[check]:
        group = req if isinstance(req, tuple) else (req,)
        if not any(raw.get(k) not in (None, [], "") for k in group):
            raise SignatureError(path, f"rule {rid}: family {check} needs {' or '.join(group)}",
                                 field=group[0], line=start)
    try:
        sev = Severity(raw.get("severity", "high"))
    except ValueError:
        raise SignatureError(path, f"bad severity {raw.get('severity')!r}", field="severity", line=ln("severity")) from None
    try:
        conf = Confidence(raw.get("confidence", "medium"))
    except ValueError:
        raise SignatureError(path, f"bad confidence {raw.get('confidence')!r}", field="confidence",
                             line=ln("confidence")) from None
    test = raw.get("test", "") or ""
    if check == "live" and test not in LIVE_TESTS:
        raise SignatureError(path, f"unknown live test {test!r} (one of {', '.join(LIVE_TESTS)})", field="test", line=ln("test"))
    if check == "log" and test not in LOG_TESTS:
        raise SignatureError(path, f"unknown log test {test!r} (one of {', '.join(LOG_TESTS)})", field="test", line=ln("test"))
    for k in ("paths", "known_paths", "files", "known", "known_sgid"):
        for p in _strs(raw.get(k), path, k, ln(k)):
            if not p.startswith("/"):
                raise SignatureError(path, f"path {p!r} must be absolute (inside the appliance)", field=k, line=ln(k))
    magic: list[tuple[str, bytes]] = []
    mv = raw.get("magic")
    if mv is not None:
        if not isinstance(mv, dict) or not mv:
            raise SignatureError(path, "must be a mapping name: hex bytes", field="magic", line=ln("magic"))
        for name, hx in mv.items():
            if not isinstance(hx, str) or not _HEX.fullmatch(hx) or len(hx.replace(" ", "")) % 2:
                raise SignatureError(path, f"magic {name}: not hex bytes: {hx!r}", field="magic", line=ln("magic"))
            magic.append((str(name), bytes.fromhex(hx.replace(" ", ""))))
    hashes: dict[str, str] = {}
    hv = raw.get("hashes")
    if hv is not None:
        if not isinstance(hv, dict):
            raise SignatureError(path, "must be a mapping sha256: label", field="hashes", line=ln("hashes"))
        for h, label in hv.items():
            if not isinstance(h, str) or not _SHA256.fullmatch(h):
                raise SignatureError(path, f"not a lower-case sha256: {h!r}", field="hashes", line=ln("hashes"))
            hashes[h] = str(label or "")
    mode = raw.get("mode")
    if mode is not None:
        if not isinstance(mode, str) or not re.fullmatch(r"0?[0-7]{3,4}", mode):
            raise SignatureError(path, "mode must be an octal string like '0444'", field="mode", line=ln("mode"))
        mode_i: int | None = int(mode, 8)
    else:
        mode_i = None
    yara_files = _strs(raw.get("yara"), path, "yara", ln("yara"))
    for y in yara_files:
        if "/" in y or not (sigdir / "yara" / y).is_file():
            raise SignatureError(path, f"YARA file {y!r} not found in {sigdir / 'yara'}", field="yara", line=ln("yara"))
    url_paths: frozenset[str] = frozenset()
    upf = raw.get("url_paths_file")
    if upf is not None:
        if not isinstance(upf, str) or "/" in upf or not (sigdir / upf).is_file():
            raise SignatureError(path, f"list file {upf!r} not found beside the rules", field="url_paths_file",
                                 line=ln("url_paths_file"))
        url_paths = frozenset(
            s.strip() for s in (sigdir / upf).read_text(encoding="utf-8").splitlines()
            if s.strip() and not s.lstrip().startswith("#")
        )
    ips = _strs(raw.get("ips"), path, "ips", ln("ips"))
    for ip in ips:
        if not re.fullmatch(r"\d{1,3}(\.\d{1,3}){3}", ip):
            raise SignatureError(path, f"not an IPv4 address: {ip!r}", field="ips", line=ln("ips"))
    exts = _strs(raw.get("extensions"), path, "extensions", ln("extensions"))
    for e in exts:
        if not e.startswith("."):
            raise SignatureError(path, f"extension {e!r} must start with '.'", field="extensions", line=ln("extensions"))
    mk = _int(raw.get("max_size_kb"), path, "max_size_kb", ln("max_size_kb"))
    return Rule(
        id=rid, check=check, title=str(raw.get("title") or rid), severity=sev, confidence=conf,
        source=str(raw.get("source") or file_source), file=path.name, line=start,
        advice=str(raw.get("advice") or ""), references=_strs(raw.get("references"), path, "references", ln("references")),
        paths=_strs(raw.get("paths"), path, "paths", ln("paths")),
        known_paths=_strs(raw.get("known_paths"), path, "known_paths", ln("known_paths")),
        names=tuple(n.lower() for n in _strs(raw.get("names"), path, "names", ln("names"))),
        extensions=tuple(e.lower() for e in exts),
        strings=tuple(s.lower() for s in _strs(raw.get("strings"), path, "strings", ln("strings"))),
        regexes=_regexes(raw.get("regexes"), path, "regexes", ln("regexes")),
        allowlist=_regexes(raw.get("allowlist"), path, "allowlist", ln("allowlist")),
        ignore=_regexes(raw.get("ignore"), path, "ignore", ln("ignore")),
        require=_regexes(raw.get("require"), path, "require", ln("require")),
        max_size=mk * 1024 if mk is not None else None,
        min_size=_int(raw.get("min_size"), path, "min_size", ln("min_size")),
        days=_int(raw.get("days"), path, "days", ln("days")),
        magic=tuple(magic), hashes=hashes,
        files=_strs(raw.get("files"), path, "files", ln("files")),
        known=_strs(raw.get("known"), path, "known", ln("known")),
        known_sgid=_strs(raw.get("known_sgid"), path, "known_sgid", ln("known_sgid")),
        mode=mode_i, yara=yara_files, test=test,
        users=_strs(raw.get("users"), path, "users", ln("users")),
        url_paths=url_paths, ips=frozenset(ips),
        domains=tuple(d.lower() for d in _strs(raw.get("domains"), path, "domains", ln("domains"))),
        statuses=_strs(raw.get("statuses"), path, "statuses", ln("statuses")),
    )


def load(directory: Path) -> TriageRules:
    """Load and validate signatures/triage/ under ``directory`` (the signatures root)."""
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
            if not isinstance(doc, dict) or not isinstance(doc.get("rules"), list):
                raise SignatureError(path, "top level must be a mapping with a 'rules' list", field="rules")
            if doc.get("schema") != SCHEMA:
                raise SignatureError(path, f"schema must be {SCHEMA!r}", field="schema", line=line_of(doc, "schema"))
            file_source = str(doc.get("source") or "")
            for raw in doc["rules"]:
                try:
                    r = _rule(raw, path, sigdir, file_source)
                except SignatureError as e:
                    errors.append(e)
                    continue
                if r.id in seen:
                    errors.append(SignatureError(path, f"duplicate rule id {r.id} (also in {seen[r.id]})",
                                                 field="id", line=r.line))
                    continue
                seen[r.id] = path.name
                rules.append(r)
        except SignatureError as e:
            errors.append(e)
    if errors:
        if len(errors) == 1:
            raise errors[0]
        raise ExceptionGroup("triage signature errors", errors)
    if not rules:
        raise SignatureError(sigdir, "no triage rules found (*.yaml)")
    _check_yara(sigdir / "yara", {y for r in rules for y in r.yara})
    return TriageRules(tuple(rules), sigdir, sigdir / "yara")


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
