"""timestomp: modification time earlier than birth time (UFS2), compared in whole seconds.

Fox-IT's version compared ``timedelta.seconds`` and never fired; NCSC's uses mtime < birthtime.
Sources without birth times (tar, copies on Linux) cannot be checked: the coverage says so.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from nscheck.signatures.triage import Rule
from nscheck.triage.checks.base import Family, Hit, register
from nscheck.triage.context import Context, iso
from nscheck.triage.sources import Entry

TOLERANCE_S = 1.0  # file systems round differently; a real timestomp is days or years


@register
@dataclass
class Timestomp(Family):
    name: str = "timestomp"

    def meta(self, ctx: Context, rule: Rule, entry: Entry) -> Iterable[Hit]:
        if entry.birthtime is None or entry.mtime is None:
            ctx.stat(self.name, "not_checkable")
            return
        ctx.stat(self.name, "checked")
        delta = entry.birthtime - entry.mtime
        win = (ctx.state.get("source_facts") or {}).get("install_window")
        if delta > TOLERANCE_S and win is not None and win[0] <= entry.birthtime < win[1]:
            # Stock firmware files are extracted at install time: born then, with their older build
            # mtime. Only a file born outside the install window with an older mtime is suspect.
            ctx.stat(self.name, "stock_install")
            ctx.family_note(self.name, f"judged against the install time {iso(win[0])}..{iso(win[1])} ({win[2]} "
                            "firmware files born then with older mtimes are stock, not timestomped)")
            return
        if delta > TOLERANCE_S:
            yield Hit(rule, entry.path, f"mtime {iso(entry.mtime)} is {delta / 86400:.1f} days before birth time "
                      f"{iso(entry.birthtime)} (set back with touch -t or similar)")
