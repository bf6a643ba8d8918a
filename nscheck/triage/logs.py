"""Log checks, streamed line by line (gzip rotations included), with bounded state.

Tests (``test:`` of a ``check: log`` rule):
- ``aaa_nonascii``: NetScaler's CVE-2025-5777 guidance: an ``AAA Message`` line with
  ``Authentication is rejected for`` whose user part holds a byte 0x80-0xFF.
- ``tcpconnstat_mismatch``: ``SSLVPN TCPCONNSTAT`` records whose ``Client_ip`` differs from the
  ``Source`` address; aggregated per (user, client, source) so one roaming user is one lead.
- ``access_webshell``: an answered (2xx) request for a known webshell path in an access log;
  unanswered probes (scanners, including nscheck scan) are only counted.
- ``patterns``: strings / regexes per line, minus lines that are someone searching the logs.
- ``ioc_ips``: published attacker IPv4 addresses and domains.

Lines are bytes decoded as Latin-1, so every byte keeps its value (0x80-0xFF stay visible).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import unquote

try:  # the regex parser: re._parser since 3.11
    import re._parser as _sre_parse
    from re._constants import BRANCH as _BRANCH
    from re._constants import LITERAL as _LITERAL
    from re._constants import SUBPATTERN as _SUBPATTERN
except ImportError:  # pragma: no cover
    import sre_parse as _sre_parse  # type: ignore[no-redef]
    from sre_constants import BRANCH as _BRANCH  # type: ignore[no-redef]
    from sre_constants import LITERAL as _LITERAL  # type: ignore[no-redef]
    from sre_constants import SUBPATTERN as _SUBPATTERN  # type: ignore[no-redef]

from nscheck.signatures.triage import Rule
from nscheck.triage.checks.base import MAX_HITS_PER_FILE, Hit, escape
from nscheck.triage.context import Context

__all__ = ["LOG_TESTS", "finish_logs", "scan_lines"]

_AAA_SPLIT = "Authentication is rejected for "
_HIGH = re.compile(r"[\x80-\xff]")
_TCPCONN = re.compile(
    r"SSLVPN TCPCONNSTAT.*?User\s+(?P<user>\S+)\s+-\s+Client_ip\s+(?P<client>[0-9a-fA-F:.]+).*?"
    r"-\s+Source\s+\[?(?P<source>[0-9a-fA-F:.]+?)\]?:(?P<port>\d+)"
)
_REQ = re.compile(r'"(?:GET|POST|HEAD|PUT|OPTIONS)\s+(?P<path>\S+)\s+HTTP/[0-9.]+"\s+(?P<status>\d{3})')
_IPV4 = re.compile(r"(?<![0-9.])(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})(?![0-9])")
_TS = re.compile(r"^(?:<\d+>\s*)?(\w{3}\s+\d{1,2}\s+\d\d:\d\d:\d\d|\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d|"
                 r"\d\d/\d\d/\d{4}:\d\d:\d\d:\d\d)")
_ACCESS_TS = re.compile(r"\[(\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d[^\]]*)\]")
MAX_SESSIONS = 2000
MAX_MISMATCH_HITS = 50

LOG_TESTS = ("aaa_nonascii", "tcpconnstat_mismatch", "access_webshell", "patterns", "ioc_ips")


def _timestamp(line: str) -> str | None:
    m = _TS.match(line) or _ACCESS_TS.search(line[:120])
    return m.group(1) if m else None


def _ignored(rule: Rule, line: str) -> bool:
    return bool(rule.ignore) and any(rx.search(line) for rx in rule.ignore)


def _test_aaa(ctx: Context, rule: Rule, path: str, no: int, line: str, low: str) -> Iterator[Hit]:
    if "AAA Message" not in line or _AAA_SPLIT not in line:
        return
    user_part = line.split(_AAA_SPLIT, 1)[1]
    user_part = user_part.split(" (client ip", 1)[0]
    if _HIGH.search(user_part):
        yield Hit(rule, path, f"non-ASCII bytes in the rejected user name: {escape(line)}", no)


def _test_tcpconn(ctx: Context, rule: Rule, path: str, no: int, line: str, low: str) -> Iterator[Hit]:
    if "TCPCONNSTAT" not in line:
        return
    m = _TCPCONN.search(line)
    if not m:
        return
    client, source = m.group("client"), m.group("source")
    if client == source:
        return
    seen: dict[tuple[str, str, str], list[Any]] = ctx.state.setdefault(f"tcpconn:{rule.id}", {})
    key = (m.group("user"), client, source)
    if key in seen:
        seen[key][0] += 1
    elif len(seen) < MAX_SESSIONS:
        seen[key] = [1, path, no, escape(line)]
    else:
        ctx.state[f"tcpconn_overflow:{rule.id}"] = True
    return
    yield  # pragma: no cover - generator


def _test_access(ctx: Context, rule: Rule, path: str, no: int, line: str, low: str) -> Iterator[Hit]:
    m = _REQ.search(line)
    if not m:
        return
    url = unquote(m.group("path").split("?", 1)[0])
    while "//" in url:
        url = url.replace("//", "/")
    if url not in rule.url_paths:
        return
    status = m.group("status")
    if rule.statuses and not status.startswith(tuple(rule.statuses)):
        ctx.stat("log", "webshell_probes_unanswered")
        return
    yield Hit(rule, path, f"{url} answered {status}: {escape(line)}", no)


def _literal_runs(items: Any) -> list[str]:
    runs, cur = [], []
    for op, arg in items:
        if op is _LITERAL:
            cur.append(chr(arg))
        else:
            if cur:
                runs.append("".join(cur))
            cur = []
    if cur:
        runs.append("".join(cur))
    return runs


def anchors(pattern: str) -> tuple[str, ...] | None:
    """Lower-case literals one of which every match must contain, or None when that is unclear.

    Case-insensitive regexes starting with a letter are slow in ``re`` (no literal-prefix scan);
    a substring test on the lower-cased line first is ~10x cheaper, and most lines fail it."""
    try:
        parsed = list(_sre_parse.parse(pattern))
    except Exception:
        return None
    best = max(_literal_runs(parsed), key=len, default="")
    if len(best) >= 3:
        return (best.lower(),)
    if len(parsed) == 1 and parsed[0][0] is _SUBPATTERN:
        inner = list(parsed[0][1][-1])
        if len(inner) == 1 and inner[0][0] is _BRANCH:
            alts = []
            for branch in inner[0][1][1]:
                run = max(_literal_runs(list(branch)), key=len, default="")
                if len(run) < 3:
                    return None
                alts.append(run.lower())
            return tuple(alts)
    return None


_PREPARED: dict[int, tuple[tuple[tuple[re.Pattern[str], tuple[str, ...] | None], ...], tuple[str, ...]]] = {}


def _prepared(rule: Rule) -> tuple[tuple[tuple[re.Pattern[str], tuple[str, ...] | None], ...], tuple[str, ...]]:
    key = id(rule)
    if key not in _PREPARED:
        _PREPARED[key] = (tuple((rx, anchors(rx.pattern)) for rx in rule.regexes), tuple(rule.domains))
    return _PREPARED[key]


def _test_patterns(ctx: Context, rule: Rule, path: str, no: int, line: str, low: str) -> Iterator[Hit]:
    matched = next((s for s in rule.strings if s in low), None)
    if matched is None:
        for rx, anc in _prepared(rule)[0]:
            if anc is not None and not any(a in low for a in anc):
                continue
            m = rx.search(line)
            if m:
                matched = m.group(0)
                break
    if matched is None or _ignored(rule, line):
        return
    yield Hit(rule, path, f"{escape(matched, 80)} in: {escape(line)}", no)


def _test_ips(ctx: Context, rule: Rule, path: str, no: int, line: str, low: str) -> Iterator[Hit]:
    found = None
    if rule.ips:
        for ip in _IPV4.findall(line):
            if ip in rule.ips:
                found = ip
                break
    if found is None and rule.domains:
        found = next((d for d in _prepared(rule)[1] if d in low), None)
    if found is None or _ignored(rule, line):
        return
    yield Hit(rule, path, f"indicator {found}: {escape(line)}", no)


_TESTS = {
    "aaa_nonascii": _test_aaa,
    "tcpconnstat_mismatch": _test_tcpconn,
    "access_webshell": _test_access,
    "patterns": _test_patterns,
    "ioc_ips": _test_ips,
}


def scan_lines(ctx: Context, rules: list[Rule], path: str, lines: Iterable[bytes]) -> list[Hit]:
    """Run every log rule over one log file's lines; returns the hits (capped per rule)."""
    hits: list[Hit] = []
    per_rule: dict[str, int] = {}
    first = None
    last_line = ""
    count = 0
    for no, raw in enumerate(lines, 1):
        line = raw.rstrip(b"\r\n").decode("latin-1")
        low = line.lower()
        count = no
        if no == 1:
            first = _timestamp(line)
        last_line = line
        for rule in rules:
            n = per_rule.get(rule.id, 0)
            if n >= MAX_HITS_PER_FILE:
                ctx.stat("log", "hits_over_cap")
                continue
            for h in _TESTS[rule.test](ctx, rule, path, no, line, low):
                hits.append(h)
                per_rule[rule.id] = n = n + 1
    last = _timestamp(last_line) if count else None
    ctx.log_count += 1
    ctx.stat("log", "lines", count)
    ctx.stat("log", "files")
    if len(ctx.logs) < 200:
        ctx.logs.append({"path": path, "lines": count, "first": first, "last": last})
    return hits


def finish_logs(ctx: Context, rules: Iterable[Rule]) -> Iterator[Hit]:
    for rule in rules:
        if rule.test != "tcpconnstat_mismatch":
            continue
        seen = ctx.state.get(f"tcpconn:{rule.id}", {})
        for i, ((user, client, source), (n, path, no, line)) in enumerate(sorted(seen.items(), key=lambda kv: -kv[1][0])):
            if i >= MAX_MISMATCH_HITS:
                ctx.family_note("log", f"{len(seen) - MAX_MISMATCH_HITS} more Client_ip/Source mismatches not listed")
                break
            yield Hit(rule, path, f"user {user}: Client_ip {client} but Source {source} ({n} record(s)); first: {line}", no)
