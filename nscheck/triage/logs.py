"""Log checks, streamed line by line (gzip rotations included), with bounded state.

Tests (``test:`` of a ``check: log`` rule):
- ``aaa_nonascii``: NetScaler's CVE-2025-5777 guidance: an ``AAA Message`` line with
  ``Authentication is rejected for`` whose user part holds a byte 0x80-0xFF.
- ``tcpconnstat_mismatch``: ``SSLVPN TCPCONNSTAT`` records whose ``Client_ip`` differs from the
  ``Source`` address; aggregated per (user, client, source) so one roaming user is one lead.
- ``access_webshell``: an answered (2xx) request for a known webshell path in an access log;
  unanswered probes (scanners, including nscheck scan) are only counted.
- ``access_request``: an answered request whose URL-decoded, normalised path matches the rule's
  regexes (server-side scripts where the portal has none). For both access tests, one status and
  byte count answering many different script paths is a catch-all page and is not reported.
- ``patterns``: strings / regexes per line, minus matches inside a command that is someone
  searching the logs (``ignore`` is applied to the matched command, not to the whole line).
- ``ioc_ips``: published attacker IPv4 addresses and domains.

Lines are bytes decoded as Latin-1, so every byte keeps its value (0x80-0xFF stay visible).
"""

from __future__ import annotations

import posixpath
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from typing import Any
from urllib.parse import unquote

try:  # the regex parser: re._parser since 3.11
    import re._parser as _sre_parse
    from re._constants import ATOMIC_GROUP as _ATOMIC
    from re._constants import BRANCH as _BRANCH
    from re._constants import LITERAL as _LITERAL
    from re._constants import SUBPATTERN as _SUBPATTERN
except ImportError:  # pragma: no cover
    import sre_parse as _sre_parse
    from sre_constants import BRANCH as _BRANCH
    from sre_constants import LITERAL as _LITERAL
    from sre_constants import SUBPATTERN as _SUBPATTERN
    _ATOMIC = None  # no atomic groups before 3.11

from nscheck.signatures.triage import Rule
from nscheck.triage.checks.base import MAX_HITS_PER_FILE, Hit, escape
from nscheck.triage.context import Context

__all__ = ["LOG_TESTS", "finish_logs", "scan_lines"]

_AAA_SPLIT = "Authentication is rejected for "
_HIGH = re.compile(r"[\x80-\xff]")
# How the bytes look once something escaped them: FreeBSD syslogd writes 0x80-0x9f as "M-^X" and
# control bytes as "^X"; log viewers and SIEM exports write "\x8e"; rsyslog writes "#216".
_ESCAPED = re.compile(r"M-\^[@-_?]|(?<![A-Za-z0-9])\^[@A-Z\[\]_?]|\\x(?:[89a-fA-F][0-9a-fA-F]|[01][0-9a-fA-F])|(?:#[0-3][0-7]{2}.*){2}")
_CTRL = re.compile(r"[\x00-\x1f\x7f]")
# The user field runs from "User " to the first " - <next field>". Found in two linear searches: one
# lazy regex ("User\s+(.+?)\s+-\s+...") rescanned the rest of the line from every "User " (issue 12.6);
# the end pattern only starts at the first blank of a run, so runs of blanks are not rescanned either.
_TC_USER_START = re.compile(r"\bUser\s{1,8}")
_TC_USER_END = re.compile(r"(?<!\s)\s{1,8}-\s{1,8}(?:Client_ip|Nat_ip|Vserver|Source|Destination|Context)\b")
_TC_CLIENT = re.compile(r"\bClient_ip\s+\[?(?P<ip>[0-9a-fA-F:.]+?)\]?(?=[\s,;]|$)")
# "Source 198.51.100.7:51000", "Source [2001:db8::7]:443" or unbracketed "2001:db8::7:443" (the
# port is after the LAST colon, hence the greedy address)
_TC_SOURCE = re.compile(r"\bSource\s+(?:\[(?P<ip6>[0-9a-fA-F:.]+)\]|(?P<ip>[0-9a-fA-F:.]+)):(?P<port>\d+)\b")
_TC_SESSION = re.compile(r"\bSessionId:\s*(?P<sid>\d+)")
_REQ = re.compile(r'"(?P<method>[A-Z]{3,12})\s+(?P<path>\S+)(?:\s+HTTP/[0-9.]+)?"\s+(?P<status>\d{3})(?:\s+(?P<size>\d+|-))?')
_IPV4 = re.compile(r"(?<![0-9.])(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})(?![0-9]|\.[0-9])")
_TS = re.compile(r"^(?:<\d+>\s*)?(\w{3}\s+\d{1,2}\s+\d\d:\d\d:\d\d|\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d|"
                 r"\d\d/\d\d/\d{4}:\d\d:\d\d:\d\d)")
_ACCESS_TS = re.compile(r"\[(\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d[^\]]*)\]")
MAX_SESSIONS = 2000
MAX_MISMATCH_HITS = 50
MAX_SOURCES = 10
PROXY_MIN_USERS = 10
PROXY_SHARE = 0.8
MAX_ANSWERED = 500
# The same status and byte count for this many different script URLs is a catch-all page (the portal
# answering every path), not several webshells that happen to print the same number of bytes.
CATCH_ALL_MIN = 3

LOG_TESTS = ("aaa_nonascii", "tcpconnstat_mismatch", "access_webshell", "access_request", "patterns", "ioc_ips",
             "nitro_login_failed")


_NS_TS = re.compile(r"\b(\d\d)/(\d\d)/(\d{4}):(\d\d:\d\d:\d\d)(?:\s+GMT)?")
_ACCESS_PARTS = re.compile(r"\[(\d\d)/(\w{3})/(\d{4}):(\d\d:\d\d:\d\d)\s*([+-]\d{4})?\]")
_MON = {m: i for i, m in enumerate(("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1)}


def _timestamp(line: str) -> str | None:
    """The record's time, as ISO 8601 when the line carries a year (ns.log's own
    ``MM/DD/YYYY:hh:mm:ss GMT`` stamp, access logs), else as written (syslog has no year)."""
    head = line[:160]
    m = _NS_TS.search(head)
    if m:
        return f"{m.group(3)}-{m.group(1)}-{m.group(2)}T{m.group(4)}" + ("Z" if "GMT" in m.group(0) else "")
    a = _ACCESS_PARTS.search(head)
    if a and a.group(2).lower() in _MON:
        zone = a.group(5)
        tz = "Z" if zone in (None, "+0000", "-0000") else f"{zone[:3]}:{zone[3:]}"
        return f"{a.group(3)}-{_MON[a.group(2).lower()]:02d}-{a.group(1)}T{a.group(4)}{tz}"
    t = _TS.match(line) or _ACCESS_TS.search(line[:120])
    return t.group(1) if t else None


def _ignored(rule: Rule, line: str) -> bool:
    return bool(rule.ignore) and any(rx.search(line) for rx in rule.ignore)


def _test_aaa(ctx: Context, rule: Rule, path: str, no: int, line: str, low: str) -> Iterator[Hit]:
    if "AAA Message" not in line or _AAA_SPLIT not in line:
        return
    user = line.split(_AAA_SPLIT, 1)[1].split(" (client ip", 1)[0]
    if _HIGH.search(user):
        try:
            decoded = user.encode("latin-1").decode("utf-8")
        except UnicodeDecodeError:
            decoded = None
        if decoded is not None and decoded.isprintable():
            # "jürgen" in UTF-8 is an international user name, not leaked memory (random bytes are
            # almost never valid UTF-8): counted in the coverage, not an indicator.
            ctx.stat("log", "aaa_utf8_names")
            if ctx.family_stats["log"]["aaa_utf8_names"] == 1:
                    ctx.family_note("log", f"rejected logins with valid UTF-8 non-ASCII user names (international names, "
                                f"e.g. {escape(decoded, 40)!r} in {path}:{no}) are counted, not flagged")
            return
        yield Hit(rule, path, f"non-ASCII bytes in the rejected user name: {escape(line)}", no)
    elif _CTRL.search(user) or _ESCAPED.search(user):
        yield Hit(rule, path, f"control or high bytes (escaped by syslogd or a log viewer) in the rejected user name: "
                  f"{escape(line)}", no)


def _tc_user(line: str) -> str | None:
    m = _TC_USER_START.search(line)
    if not m:
        return None
    e = _TC_USER_END.search(line, m.end() + 1)
    return line[m.end():e.start()] if e else None


def _plain_ip(ip: str) -> str:
    ip = ip.lower()
    return ip[7:] if ip.startswith("::ffff:") else ip


def _test_tcpconn(ctx: Context, rule: Rule, path: str, no: int, line: str, low: str) -> Iterator[Hit]:
    if "TCPCONNSTAT" not in line:
        return
    mc, ms = _TC_CLIENT.search(line), _TC_SOURCE.search(line)
    if not mc or not ms:
        ctx.stat("log", "tcpconnstat_unparsed")
        return
    client, source = _plain_ip(mc.group("ip")), _plain_ip(ms.group("ip6") or ms.group("ip"))
    ctx.stat("log", "tcpconnstat_records")
    if client == source or source.startswith("127.") or source == "::1":
        return
    msid = _TC_SESSION.search(line)
    user = _tc_user(line) or "?"
    sid = msid.group("sid") if msid else ""
    # one lead per session (SessionId when logged, else user + client address), however many records
    seen: dict[tuple[str, str, str], list[Any]] = ctx.state.setdefault(f"tcpconn:{rule.id}", {})
    key = (sid, user, client)
    if key in seen:
        seen[key][0] += 1
        if source not in seen[key][4] and len(seen[key][4]) < MAX_SOURCES:
            seen[key][4].append(source)
    elif len(seen) < MAX_SESSIONS:
        seen[key] = [1, path, no, escape(line), [source]]
    else:
        ctx.state[f"tcpconn_overflow:{rule.id}"] = True
    return
    yield  # pragma: no cover - generator


def _request(line: str) -> tuple[str, str, str, str, str] | None:
    """(method, raw target, normalised path, status, size) of an access-log line."""
    m = _REQ.search(line)
    if not m:
        return None
    raw = m.group("path")
    url = unquote(raw.split("?", 1)[0].split("#", 1)[0])
    if not url.startswith("/"):
        url = "/" + url.split("://", 1)[-1].split("/", 1)[-1] if "://" in url else "/" + url
    url = posixpath.normpath(url)
    if url.startswith("//"):
        url = "/" + url.lstrip("/")
    return m.group("method"), raw, url, m.group("status"), m.group("size") or "-"


def _answered(ctx: Context, rule: Rule, path: str, no: int, line: str, req: tuple[str, str, str, str, str],
              what: str) -> None:
    """Answered requests are judged at the end, one lead per (rule, URL) with a count: a webshell
    used a thousand times is one finding, and a catch-all page answers every path alike."""
    method, _raw, url, status, size = req
    cands: dict[tuple[str, str], list[Any]] = ctx.state.setdefault("answered", {})
    key = (rule.id, url)
    if key in cands:
        cands[key][6] += 1
    elif len(cands) < MAX_ANSWERED:
        cands[key] = [rule, status, size, path, no,
                      f"{method} {url} answered {status} ({size} bytes){what}: {escape(line)}", 1]
    else:
        ctx.family_note("log", f"more than {MAX_ANSWERED} different script URLs answered; later ones not listed")


def _test_access(ctx: Context, rule: Rule, path: str, no: int, line: str, low: str) -> Iterator[Hit]:
    req = _request(line)
    if req is None:
        return
    url, status = req[2], req[3]
    if url not in rule.url_paths:
        return
    if (rule.statuses and not status.startswith(tuple(rule.statuses))) or req[0] == "HEAD":
        # a HEAD gets the same 200 from a catch-all portal and runs nothing: a probe, not a use
        ctx.stat("log", "webshell_probes_unanswered")
        return
    _answered(ctx, rule, path, no, line, req, "")
    return
    yield  # pragma: no cover - generator


def _webshell_paths(ctx: Context) -> frozenset[str]:
    key = "webshell_url_paths"
    if key not in ctx.state:
        ctx.state[key] = frozenset().union(*(r.url_paths for r in ctx.rules.rules if r.test == "access_webshell"))
    return ctx.state[key]


def _test_request(ctx: Context, rule: Rule, path: str, no: int, line: str, low: str) -> Iterator[Hit]:
    req = _request(line)
    if req is None:
        return
    url, status = req[2], req[3]
    if not any(rx.search(url) for rx in rule.regexes) or any(a.search(url) for a in rule.allowlist):
        return
    if url in _webshell_paths(ctx):
        return  # already judged by the known-webshell rule
    if (rule.statuses and not status.startswith(tuple(rule.statuses))) or req[0] == "HEAD":
        ctx.stat("log", "script_requests_unanswered")
        return
    if _ignored(rule, line):
        return
    traversal = " via a '..' path" if "/.." in req[1] or "%2e%2e" in req[1].lower() else ""
    _answered(ctx, rule, path, no, line, req, traversal)
    return
    yield  # pragma: no cover - generator


def _literal_runs(items: Any) -> list[str]:
    """Runs of literals every match contains: top level, and inside atomic groups (the
    line-anchored rule shape ``^(?>[^\\n]*?word)…``, issue 12.6)."""
    runs, cur = [], []
    for op, arg in items:
        if op is _LITERAL:
            cur.append(chr(arg))
        else:
            if cur:
                runs.append("".join(cur))
            cur = []
            if op is _ATOMIC:
                runs.extend(_literal_runs(list(arg)))
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


_Prepared = tuple[tuple[tuple[re.Pattern[str], tuple[str, ...] | None], ...], re.Pattern[str] | None]
# id(rule) -> (rule, prepared); the rule is kept so its id cannot be reused by another rule object
_PREPARED: dict[int, tuple[Rule, _Prepared]] = {}


def _prepared(rule: Rule) -> _Prepared:
    got = _PREPARED.get(id(rule))
    if got is None or got[0] is not rule:
        domains = re.compile("|".join(re.escape(d) for d in rule.domains)) if rule.domains else None
        got = (rule, (tuple((rx, anchors(rx.pattern)) for rx in rule.regexes), domains))
        _PREPARED[id(rule)] = got
    return got[1]


def _segment(line: str, start: int, end: int) -> str:
    """The command the match belongs to: between the ``|``, ``;`` or ``&`` (outside single quotes)
    around the match. Ignore rules (someone grepping the logs) apply to that command only: in
    "curl ... | sh; ps | grep x" the download piped to a shell still counts, and an appended
    "; #grep" does not hide a line."""
    cuts = [-1]
    quoted = False
    for i, c in enumerate(line):
        if c == "'":
            quoted = not quoted
        elif not quoted and (c in "|;&" or (c == "#" and line[i - 1:i].isspace())) and not (start <= i < end):
            cuts.append(i)  # command separators, and a shell comment
    cuts.append(len(line))
    lo = max(c for c in cuts if c < start)
    hi = min(c for c in cuts if c >= end)
    return line[lo + 1:hi]


def _ignored_at(rule: Rule, line: str, start: int, end: int) -> bool:
    if not rule.ignore:
        return False
    seg = _segment(line, start, end)
    return any(rx.search(seg) for rx in rule.ignore)


def _test_patterns(ctx: Context, rule: Rule, path: str, no: int, line: str, low: str) -> Iterator[Hit]:
    span: tuple[int, int] | None = None
    for st in rule.strings:
        pos = low.find(st)
        if pos >= 0:
            span = (pos, pos + len(st))
            break
    if span is None:
        for rx, anc in _prepared(rule)[0]:
            if anc is not None and not any(a in low for a in anc):
                continue
            m = rx.search(line)
            if m:
                # a line-anchored rule marks what to show (and where the command is) with (?P<hit>…)
                span = m.span("hit") if "hit" in rx.groupindex and m.start("hit") >= 0 else m.span()
                break
    if span is None or _ignored_at(rule, line, *span):
        return
    yield Hit(rule, path, f"{escape(line[span[0]:span[1]], 80)} in: {escape(line)}", no)


def _test_ips(ctx: Context, rule: Rule, path: str, no: int, line: str, low: str) -> Iterator[Hit]:
    found: tuple[str, int] | None = None
    if rule.ips:
        # a loop over the line's addresses beats one alternation of the list (measured: 6x)
        for m in _IPV4.finditer(line):
            if m.group(1) in rule.ips:
                found = (m.group(1), m.start())
                break
    drx = _prepared(rule)[1]
    if found is None and drx is not None:
        dm = drx.search(low)
        if dm is not None:
            found = (dm.group(0), dm.start())
    if found is None or _ignored_at(rule, line, found[1], found[1] + len(found[0])):
        return
    yield Hit(rule, path, f"indicator {found[0]}: {escape(line)}", no)


_TESTS: dict[str, Callable[[Context, Rule, str, int, str, str], Iterator[Hit]]] = {
    "aaa_nonascii": _test_aaa,
    "tcpconnstat_mismatch": _test_tcpconn,
    "access_webshell": _test_access,
    "access_request": _test_request,
    "patterns": _test_patterns,
    "ioc_ips": _test_ips,
}


_FINISHERS: dict[str, Callable[[Context, Rule], Iterator[Hit]]] = {}


def register_test(name: str, test: Callable[[Context, Rule, str, int, str, str], Iterator[Hit]],
                  finish: Callable[[Context, Rule], Iterator[Hit]] | None = None) -> None:
    """A line test declared in its own module (nscheck/triage/checks/): the per-line function and,
    when it aggregates, what it reports after the last file."""
    _TESTS[name] = test
    if finish is not None:
        _FINISHERS[name] = finish


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
                if n == MAX_HITS_PER_FILE:
                    ctx.family_note("log", f"{rule.id}: more than {MAX_HITS_PER_FILE} matching lines in {path}; only the "
                                    "first are listed (hits_over_cap counts the rest)")
                    per_rule[rule.id] = n + 1
                ctx.stat("log", "hits_over_cap")
                continue
            for h in _TESTS[rule.test](ctx, rule, path, no, line, low):
                hits.append(h)
                per_rule[rule.id] = n = n + 1
    last = _timestamp(last_line) if count else None
    ctx.log_count += 1
    ctx.stat("log", "files")
    doc: dict[str, Any] = {"path": path, "lines": count, "first": first, "last": last}
    if not path.rsplit("/", 1)[-1].lower().startswith("newnslog"):
        ctx.stat("log", "lines", count)
    else:
        # newnslog is the packet engine's binary event log: only searched for embedded strings
        # (staged commands); its "lines" are not records and it has no readable time range.
        doc.update(first=None, last=None, binary=True)
        ctx.family_note("log", "newnslog files are binary: searched for embedded command strings only; decode them "
                        "with nsconmsg on an appliance for a full review")
    if len(ctx.logs) < 200:
        ctx.logs.append(doc)
    return hits


def finish_logs(ctx: Context, rules: Iterable[Rule]) -> Iterator[Hit]:
    for rule in rules:
        if rule.test == "tcpconnstat_mismatch":
            yield from _finish_tcpconn(ctx, rule)
        elif rule.test in _FINISHERS:
            yield from _FINISHERS[rule.test](ctx, rule)
    yield from _finish_answered(ctx)


def _finish_tcpconn(ctx: Context, rule: Rule) -> Iterator[Hit]:
    seen: dict[tuple[str, str, str], list[Any]] = ctx.state.get(f"tcpconn:{rule.id}", {})
    total = int((ctx.family_stats.get("log") or Counter())["tcpconnstat_records"])
    # One Source behind most of ALL TCPCONNSTAT records and many users is the path through an
    # SNAT'ing proxy or load balancer (every session "mismatches"), or one host replaying many
    # stolen sessions. Either way it is one lead to check, not one per session.
    by_source: dict[str, list[tuple[tuple[str, str, str], list[Any]]]] = {}
    for key, val in seen.items():
        for src in val[4]:
            by_source.setdefault(src, []).append((key, val))
    bulk: set[str] = set()
    for src, sessions in by_source.items():
        records = sum(v[0] for _k, v in sessions)
        users = {k[1] for k, _v in sessions}
        if len(users) >= PROXY_MIN_USERS and total and records >= PROXY_SHARE * total:
            bulk.add(src)
            _key, first = min(sessions, key=lambda kv: (kv[1][1], kv[1][2]))
            yield Hit(rule, first[1], f"Source {src} carries {records} of {total} TCPCONNSTAT records for {len(users)} users "
                      "whose Client_ip differs: an upstream proxy or load balancer that hides client addresses (then "
                      "this check cannot work here), or one host replaying many sessions; find out which. First: "
                      f"{first[3]}", first[2], severity="low")
    ranked = sorted(((k, v) for k, v in seen.items() if not set(v[4]) <= bulk), key=lambda kv: (-kv[1][0], kv[0]))
    for i, ((sid, user, client), (n, path, no, line, sources)) in enumerate(ranked):
        if i >= MAX_MISMATCH_HITS:
            ctx.family_note("log", f"{len(ranked) - MAX_MISMATCH_HITS} more Client_ip/Source mismatches not listed")
            break
        session = f" session {sid}" if sid else ""
        yield Hit(rule, path, f"user {escape(user, 60)}{session}: Client_ip {client} but Source {', '.join(sources)} "
                  f"({n} record(s)); first: {line}", no)
    if ctx.state.get(f"tcpconn_overflow:{rule.id}"):
        ctx.family_note("log", f"more than {MAX_SESSIONS} sessions with Client_ip/Source mismatches: later ones not tracked")


def _finish_answered(ctx: Context) -> Iterator[Hit]:
    """Answered script requests of every access rule together: one status and size for many
    different script paths is the portal's catch-all page, not that many webshells."""
    cands: dict[tuple[str, str], list[Any]] = ctx.state.get("answered", {})
    groups: dict[tuple[str, str], set[str]] = {}
    for (_rid, url), (_rule, status, size, *_rest) in cands.items():
        groups.setdefault((status, size), set()).add(url)
    catch_all = {k for k, urls in groups.items() if len(urls) >= CATCH_ALL_MIN and k[1] not in ("-", "0")}
    skipped = 0
    for (_rid, _url), (rule, status, size, path, no, evidence, n) in cands.items():
        if (status, size) in catch_all:
            skipped += n
            continue
        more = f" [{n} answered requests for this URL in all; first shown]" if n > 1 else ""
        yield Hit(rule, path, evidence + more, no)
    if skipped:
        ctx.family_note("log", f"{skipped} answered request(s) for {sum(len(groups[k]) for k in catch_all)} different "
                        "script paths all got the same status and size: a catch-all page (the portal answering every "
                        "path), not listed as hits; check one of them by hand")


# Line tests declared in their own modules register themselves here (imported last: they use
# register_test above).
from nscheck.triage.checks import nitro_login as _nitro_login  # noqa: E402, F401
