"""log: rules over log files, selected by base name (``ns.log*``, ``httpaccess*`` ...) under the log
directories, or anywhere in a "loose" collection (a responder's folder of logs that could not be
placed in the appliance tree: ``logs/ns1/ns.log.3.gz``).

The line tests themselves live in ``nscheck.triage.logs``; the runner streams each selected file
once through all of its rules.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass

from nscheck.signatures.triage import Rule
from nscheck.triage.checks.base import Family, register, under
from nscheck.triage.sources import Entry, is_loose

LOG_ROOTS = ("/var/log", "/var/nslog", "/var/nstmp", "/.collector", "/var/tmp/support")


@register
@dataclass
class Log(Family):
    name: str = "log"

    def select(self, rule: Rule, entry: Entry) -> bool:
        if entry.kind != "file":
            return False
        roots = rule.paths or LOG_ROOTS
        # a loose file (a responder's folder of logs) counts as a log when the rule reads logs
        loose_ok = is_loose(entry.path) and (not rule.paths or "/var/log" in rule.paths)
        if not any(under(entry.path, r) for r in roots) and not loose_ok:
            return False
        base = entry.path.rsplit("/", 1)[-1].lower()
        return any(fnmatch.fnmatchcase(base, n) for n in rule.names)
