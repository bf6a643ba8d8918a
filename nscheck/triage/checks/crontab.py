"""crontab: jobs that run as nobody, from /var/tmp, or name an IP address anywhere in the line.

NCSC and Fox-IT used ``re.match`` (start-anchored), which only caught commands beginning with
the IP or path; here the whole line is searched.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from nscheck.signatures.triage import Rule
from nscheck.triage.checks.base import Family, Hit, escape, register
from nscheck.triage.context import Context
from nscheck.triage.sources import Entry

_ENV = re.compile(r"^\s*[A-Za-z_][A-Za-z0-9_]*\s*=")


@register
@dataclass
class Crontab(Family):
    name: str = "crontab"
    needs_content: bool = True

    def content(self, ctx: Context, rule: Rule, entry: Entry, data: bytes, text: str) -> Iterable[Hit]:
        ctx.stat(self.name, "checked")
        tab_user = entry.path.rsplit("/", 1)[-1] if "/cron/tabs/" in entry.path else None
        system_format = tab_user is None  # /etc/crontab style: minute hour dom month dow user command
        emitted = 0
        for no, raw in enumerate(text.splitlines(), 1):
            line = raw.strip()
            if not line or line.startswith("#") or _ENV.match(line):
                continue
            fields = line.split()
            user = tab_user
            if system_format:
                n = 1 if fields[0].startswith("@") else 5
                user = fields[n] if len(fields) > n else None
            reasons = []
            if user and user.lower() in rule.users:
                reasons.append(f"runs as {user}")
            for rx in rule.regexes:
                for m in rx.finditer(line):
                    if not any(a.search(m.group(0)) for a in rule.allowlist):
                        reasons.append(f"names {m.group(0)}")
                        break
            if reasons:
                yield Hit(rule, entry.path, f"{'; '.join(reasons)}: {escape(line)}", no)
                emitted += 1
                if emitted >= 20:
                    return
        if tab_user and tab_user.lower() in rule.users and not emitted:
            yield Hit(rule, entry.path, f"a crontab exists for user {tab_user}")
