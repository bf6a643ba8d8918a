"""log: rules over log files, selected by base name (``ns.log*``, ``httpaccess*`` ...) under /var.

The line tests themselves live in ``nscheck.triage.logs``; the runner streams each selected file
once through all of its rules.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass

from nscheck.signatures.triage import Rule
from nscheck.triage.checks.base import Family, register, under
from nscheck.triage.sources import Entry

LOG_ROOTS = ("/var/log", "/var/nslog", "/var/nstmp", "/.collector", "/var/tmp/support")


@register
@dataclass
class Log(Family):
    name: str = "log"

    def select(self, rule: Rule, entry: Entry) -> bool:
        if entry.kind != "file":
            return False
        roots = rule.paths or LOG_ROOTS
        if not any(under(entry.path, r) for r in roots):
            return False
        base = entry.path.rsplit("/", 1)[-1].lower()
        return any(fnmatch.fnmatchcase(base, n) for n in rule.names)
