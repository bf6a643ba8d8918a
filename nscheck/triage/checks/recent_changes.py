"""recent_changes: web-root files changed in the N days before the collection (not before "now").

Candidates are kept in a bounded heap (newest first) and judged at the end, when the collection
time is known. Files written by a software install (within a day of the kernel image's time under
/flash) are install artefacts, not changes: they are counted in the coverage instead.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from nscheck.signatures.triage import Rule
from nscheck.triage.checks.base import Family, Hit, register
from nscheck.triage.context import Context, iso
from nscheck.triage.sources import Entry

MAX_CANDIDATES = 200
INSTALL_WINDOW_S = 36 * 3600
BULK_WINDOW_S = 3600
BULK_MIN = 5


@register
@dataclass
class RecentChanges(Family):
    name: str = "recent_changes"

    def meta(self, ctx: Context, rule: Rule, entry: Entry) -> Iterable[Hit]:
        ts = max(t for t in (entry.mtime, entry.ctime) if t is not None) if (entry.mtime or entry.ctime) else None
        if ts is None:
            ctx.stat(self.name, "no_time")
            return ()
        ctx.stat(self.name, "checked")
        heap: list[Any] = ctx.state.setdefault(f"recent:{rule.id}", [])
        item = (ts, entry.path, {"mtime": entry.mtime, "ctime": entry.ctime, "size": entry.size})
        if any(c[1] == entry.path for c in heap):
            return ()
        if len(heap) < MAX_CANDIDATES:
            heapq.heappush(heap, item)
        elif ts > heap[0][0]:
            heapq.heapreplace(heap, item)
            ctx.state[f"recent_overflow:{rule.id}"] = True
        else:
            ctx.state[f"recent_overflow:{rule.id}"] = True
        return ()

    def finish(self, ctx: Context, rule: Rule) -> Iterable[Hit]:
        ref, _how = ctx.collected_reference(ctx.state.get("bundle_time"))
        if ref is None:
            ctx.family_note(self.name, "no collection time known: recent changes not judged (give --collected-at)")
            return
        days = ctx.opts.recent_days if ctx.opts.recent_days is not None else (rule.days or 90)
        end = ref.timestamp()
        start = end - days * 86400
        installs = [t for _p, t in ctx.kernels if t is not None]
        heap = ctx.state.get(f"recent:{rule.id}", [])
        recent = sorted((c for c in heap if start <= c[0] <= end + 86400), key=lambda c: (-c[0], c[1]))
        install_like = 0
        bulk: set[str] = set()
        if not installs:
            # No install time known (no kernel image collected): a burst of many web files changed
            # within an hour is an install, upgrade or restore far more often than an intrusion
            # (which drops a handful of files; the content families judge those files anyway).
            times = sorted(c[0] for c in recent)
            for ts, path, _info in recent:
                lo = next(i for i, t in enumerate(times) if t >= ts - BULK_WINDOW_S)
                hi = max(i for i, t in enumerate(times) if t <= ts + BULK_WINDOW_S)
                if hi - lo + 1 >= BULK_MIN:
                    bulk.add(path)
            if bulk:
                ctx.family_note(self.name, f"{len(bulk)} web files changed in bursts of {BULK_MIN}+ within an hour and no "
                                "install time is known (no /flash kernel image): treated as an install or upgrade, not "
                                "listed; review them if no upgrade happened then")
        for ts, path, info in recent:
            if path in bulk:
                continue
            if any(abs(ts - k) <= INSTALL_WINDOW_S for k in installs):
                install_like += 1
                continue
            yield Hit(rule, path, f"changed {iso(ts)}, {(end - ts) / 86400:.1f} days before the collection "
                      f"({iso(end)}); window {days} days", file={"size": info["size"], "mtime": iso(info["mtime"])})
        if install_like:
            ctx.family_note(self.name, f"{install_like} recently changed files match the software install time "
                            "(kernel image under /flash) and were not reported")
        if ctx.state.get(f"recent_overflow:{rule.id}") and len(recent) >= MAX_CANDIDATES:
            ctx.family_note(self.name, f"more than {MAX_CANDIDATES} recently changed web files: only the newest are "
                            "listed; an upgrade or restore is likely, compare with the install time")
