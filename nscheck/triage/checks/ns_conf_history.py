"""ns_conf_history: system users in the saved ns.conf that none of its older rotations hold.

``save config`` keeps the previous configurations beside ``ns.conf`` as ``ns.conf.0``,
``ns.conf.1`` … A ``add system user NAME`` line in the current file whose NAME appears in none of
those older files is an administrator created since the oldest rotation kept: the 2026 campaign
added rogue admins (``sec_monitor``, ``gw_health``, ``support1``) this way. Only the user NAME is
ever reported, never the rest of the line (it carries the password hash).

The rule's ``regexes`` hold one pattern with a named group ``user`` that reads the name; ``names``
select the current file and its rotations (``ns.conf``, ``ns.conf.[0-9]*``); ``users`` lists names
of published rogue accounts, reported at critical severity. Without any rotation nothing can be
compared: the coverage says so, and no hit is made.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from nscheck.signatures.triage import Rule
from nscheck.triage.checks.base import Family, Hit, aliases, default_select, escape, register
from nscheck.triage.context import Context
from nscheck.triage.sources import Entry

MAX_USERS = 500  # per file; a config with more accounts than this is cut (and said so)
_ROTATION = re.compile(r"^ns\.conf\.(\d{1,4})$")
_MODIFIED = re.compile(r"^#\s*Last modified[^\n]{0,40}?,\s*([^\n]{1,64})$", re.MULTILINE)


def _unquote(name: str) -> str:
    return name[1:-1] if len(name) >= 2 and name[0] == name[-1] == '"' else name


@register
@dataclass
class NsConfHistory(Family):
    name: str = "ns_conf_history"
    needs_content: bool = True

    def select(self, rule: Rule, entry: Entry) -> bool:
        if entry.kind != "file" or not default_select(rule, entry):
            return False
        base = entry.path.rsplit("/", 1)[-1]
        return base == "ns.conf" or bool(_ROTATION.match(base))

    def content(self, ctx: Context, rule: Rule, entry: Entry, data: bytes, text: str) -> Iterable[Hit]:
        ctx.stat(self.name, "files")
        # one comparison per configuration directory (/nsconfig and /flash/nsconfig are one)
        path = aliases(entry.path)[-1] if entry.path.startswith("/flash/") else entry.path
        directory, base = path.rsplit("/", 1)
        users: dict[str, int] = {}
        for rx in rule.regexes:
            for m in rx.finditer(text):
                if len(users) >= MAX_USERS:
                    ctx.family_note(self.name, f"{entry.path}: more than {MAX_USERS} system users; later ones not compared")
                    break
                user = _unquote(m.group("user"))
                users.setdefault(user, text.count("\n", 0, m.start()) + 1)
        mod = _MODIFIED.search(text[:4096])
        dirs: dict[str, dict[str, Any]] = ctx.state.setdefault(f"{self.name}:{rule.id}", {})
        d = dirs.setdefault(directory, {"current": None, "rotations": {}})
        record = {"path": entry.path, "users": users, "modified": mod.group(1).strip() if mod else None}
        if base == "ns.conf":
            d["current"] = record
        else:
            d["rotations"][base] = record
        return ()

    def finish(self, ctx: Context, rule: Rule) -> Iterable[Hit]:
        dirs: dict[str, dict[str, Any]] = ctx.state.get(f"{self.name}:{rule.id}", {})
        rogue = {u.lower() for u in rule.users}
        for directory, d in sorted(dirs.items()):
            cur = d["current"]
            rots: dict[str, dict[str, Any]] = d["rotations"]
            if cur is None:
                continue
            if not rots:
                ctx.family_note(self.name, f"{cur['path']}: no older rotation (ns.conf.0, ns.conf.1 …) in {directory}; "
                                "new system users could not be told from old ones")
                continue
            older: set[str] = set().union(*(r["users"] for r in rots.values()))
            oldest = max(rots, key=lambda b: int(b.rsplit(".", 1)[1]))
            since = rots[oldest]["modified"]
            span = f"{len(rots)} older rotation(s), the oldest {oldest}" + (f" (last modified {since})" if since else "")
            ctx.stat(self.name, "compared")
            for user, line in sorted(cur["users"].items(), key=lambda kv: kv[1]):
                if user in older:
                    continue
                known_bad = user.lower() in rogue
                yield Hit(rule, cur["path"],
                          f"system user {escape(user, 80)!r} is in {cur['path'].rsplit('/', 1)[1]} but in none of {span}"
                          + ("; the name is a published rogue account of the 2026 campaign" if known_bad else ""),
                          line, severity="critical" if known_bad else None)
