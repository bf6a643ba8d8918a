"""log test ``nitro_login_failed``: failed NITRO API / GUI logins from public addresses in ns.log.

CVE-2026-88771 was staged through ``POST /nitro/v1/config/login`` (the NITRO login that the GUI
uses too). ns.log keeps every management command as an audit record, documented as::

    … 0-PPE-0 : default API CMD_EXECUTED 7825 0 :  User admuser - ADM_User NONE - Remote_ip
    10.106.44.21 - Command "show ns license" - Status "Success"

(docs.netscaler.com, "Logs", sample audit log; the debugging FAQ: operations through the API
are flagged "API CMD_EXECUTED"). A login is such a record whose Command starts with ``login``; it
failed when its Status is not ``Success`` (the exact failure text, e.g. ``ERROR: …``, is not in
any public source we found, so any other status counts). The record's ``Remote_ip`` is public when
it is outside RFC 1918, loopback, link-local, CGNAT (100.64/10) and the IPv6 equivalents.

One lead per public address (with a count and the user names tried), not one per line: a brute
force is one event. Every pattern here is linear (issue 12.6).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator
from typing import Any

from nscheck.signatures.triage import Rule
from nscheck.triage import logs
from nscheck.triage.checks.base import Hit, escape
from nscheck.triage.context import Context

__all__ = ["is_public"]

MAX_SOURCES = 2000
MAX_HITS = 50
MAX_USERS = 5

_RECORD = re.compile(r"\b(?P<iface>API|GUI)\s{1,8}CMD_EXECUTED\b")
_LOGIN = re.compile(r'\bCommand\s{1,8}"\s{0,8}login\b', re.IGNORECASE)
_REMOTE = re.compile(r"\bRemote_ip\s{1,8}\[?(?P<ip>[0-9A-Fa-f:.]{2,45})")
_STATUS = re.compile(r'\bStatus\s{1,8}"(?P<status>[^"\n]{0,200})')
_USER = re.compile(r"\bUser\s{1,8}(?P<user>[^\s]{1,128})")
_NOT_PUBLIC = tuple(ipaddress.ip_network(n) for n in (
    "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16",  # RFC 1918
    "127.0.0.0/8", "169.254.0.0/16", "100.64.0.0/10", "0.0.0.0/8",  # loopback, link-local, CGNAT, "this network"
    "::1/128", "::/128", "fe80::/10", "fc00::/7",  # IPv6 loopback, unspecified, link-local, ULA
))


def is_public(text: str) -> bool | None:
    """True for a public address, False for a private/loopback/link-local/CGNAT one, None when
    ``text`` is not an address."""
    try:
        ip = ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not any(ip in n for n in _NOT_PUBLIC if n.version == ip.version)


def _test(ctx: Context, rule: Rule, path: str, no: int, line: str, low: str) -> Iterator[Hit]:
    if "CMD_EXECUTED" not in line:
        return
    rec = _RECORD.search(line)
    if rec is None or not _LOGIN.search(line, rec.end()):
        return
    ctx.stat("log", "nitro_logins")
    status = _STATUS.search(line, rec.end())
    remote = _REMOTE.search(line, rec.end())
    if status is None or remote is None:
        ctx.stat("log", "nitro_logins_unparsed")
        return
    if status.group("status").strip().lower().startswith("success"):
        return
    public = is_public(remote.group("ip"))
    if not public:
        ctx.stat("log", "nitro_logins_failed_internal")
        return
    if rule.ignore and any(rx.search(line) for rx in rule.ignore):
        return
    ip = remote.group("ip").strip("[]").lower()
    user_m = _USER.search(line, rec.end())
    user = user_m.group("user") if user_m else "?"
    seen: dict[str, list[Any]] = ctx.state.setdefault(f"nitro_login:{rule.id}", {})
    if ip in seen:
        seen[ip][0] += 1
        if user not in seen[ip][4] and len(seen[ip][4]) < MAX_USERS:
            seen[ip][4].append(user)
    elif len(seen) < MAX_SOURCES:
        seen[ip] = [1, path, no, escape(line), [user], rec.group("iface")]
    else:
        ctx.state[f"nitro_login_overflow:{rule.id}"] = True
    return
    yield  # pragma: no cover - generator


def _finish(ctx: Context, rule: Rule) -> Iterator[Hit]:
    seen: dict[str, list[Any]] = ctx.state.get(f"nitro_login:{rule.id}", {})
    ranked = sorted(seen.items(), key=lambda kv: (-kv[1][0], kv[0]))
    for i, (ip, (n, path, no, line, users, iface)) in enumerate(ranked):
        if i >= MAX_HITS:
            ctx.family_note("log", f"{len(ranked) - MAX_HITS} more public addresses with failed NITRO logins not listed")
            break
        who = ", ".join(escape(u, 40) for u in users)
        yield Hit(rule, path, f"{n} failed {iface} (NITRO) login(s) from public address {ip} (user(s) {who}); "
                  f"the management interface answers the internet. First: {line}", no)
    if ctx.state.get(f"nitro_login_overflow:{rule.id}"):
        ctx.family_note("log", f"more than {MAX_SOURCES} public addresses with failed NITRO logins: later ones not tracked")


logs.register_test("nitro_login_failed", _test, _finish)
