"""Finding lifecycle between runs, as pure functions (no database, no clock).

A finding is *open* or *resolved* in the store. Each run classifies every finding of every host it
looked at:

- ``new``        seen now, never seen before
- ``unchanged``  seen now, open before
- ``regressed``  seen now, resolved before (a downgrade, a re-appearing indicator)
- ``reopened``   a compromise assessment closed by a triage record (``nscheck ack`` or a clean
                 triage) that is required again: the host was still exposed after the triage
- ``resolved``   open before, gone now, and the host was assessed well enough to say it is gone

"Gone" only counts when the run could have seen the finding (Principle 2: unknown is never
clean). A host that was unreachable, not fingerprinted, or whose indicator checks were skipped
keeps its findings open, and the reason is recorded (``HELD``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from nscheck.model import FindingKind, HostResult, HostStatus


class Transition(StrEnum):
    NEW = "new"
    UNCHANGED = "unchanged"
    RESOLVED = "resolved"
    REGRESSED = "regressed"
    REOPENED = "reopened"  # compromise assessments only: a triage record overtaken by events


# ECS event.action per transition (peers.md §c); assessments get their own wording.
ACTIONS: dict[Transition, str] = {
    Transition.NEW: "vulnerability-detected",
    Transition.UNCHANGED: "vulnerability-still-present",
    Transition.RESOLVED: "vulnerability-resolved",
    Transition.REGRESSED: "vulnerability-regressed",
    Transition.REOPENED: "compromise-assessment-reopened",
}

OPEN = "open"
RESOLVED = "resolved"
MERGED = "merged"  # a pre-v4 per-bulletin assessment, folded into the host's one assessment


def classify(previous: str | None, present: bool, can_resolve: bool) -> Transition | None:
    """The transition of one finding this run, or None when nothing is said about it.

    ``previous`` is the stored status (None, "open", "resolved"); ``present`` whether this run
    found it; ``can_resolve`` whether this run could have seen it (see ``Coverage``).
    """
    if present:
        if previous is None:
            return Transition.NEW
        if previous == RESOLVED:
            return Transition.REGRESSED
        return Transition.UNCHANGED
    if previous == OPEN and can_resolve:
        return Transition.RESOLVED
    return None


@dataclass(frozen=True, slots=True)
class Coverage:
    """What this run could see on one host, per finding kind, and why not when it could not."""

    reached: bool
    fingerprinted: bool
    advisories_reason: str | None  # None: absent advisories may be resolved; else why not
    indicators_reason: str | None

    def can_resolve(self, kind: FindingKind | str) -> bool:
        return self.reason(kind) is None

    def reason(self, kind: FindingKind | str) -> str | None:
        kind = FindingKind(kind)
        if kind is FindingKind.ADVISORY:
            return self.advisories_reason
        if kind is FindingKind.INDICATOR:
            return self.indicators_reason
        # Assessments are closed by a triage record, never by a scan not seeing them.
        return "closed only by a triage record (nscheck ack / a clean nscheck triage)"


def coverage_of(result: HostResult) -> Coverage:
    """Decide from one HostResult what its absent findings mean."""
    reached = result.status is HostStatus.OK
    if not reached:
        why = f"host {result.status.value}" + (f": {result.error}" if result.error else "")
        return Coverage(False, False, why, why)
    if result.kind == "triage":
        # Offline triage says nothing about the running build; its indicators were looked for
        # only if it produced coverage.
        ind = None if result.coverage is not None else "triage produced no coverage record"
        return Coverage(True, False, "triage does not fingerprint the build", ind)
    if result.product.is_netscaler is not True:
        why = "not identified as NetScaler this run" if result.product.is_netscaler is None else "host does not look like NetScaler this run"
        return Coverage(True, False, why, why)
    build = result.build
    fingerprinted = build is not None and bool(build.exact or build.candidates)
    adv_reason = None if fingerprinted and result.advisories else (
        "build not fingerprinted this run" if not fingerprinted else "no bulletin was assessed this run"
    )
    ind_reason = None
    for s in result.skipped:
        if s.what == "indicators" or s.what.startswith("indicators"):
            ind_reason = f"indicator checks skipped: {s.reason}"
            break
    return Coverage(True, fingerprinted, adv_reason, ind_reason)


def summary_line(counts: dict[str, int]) -> str:
    """'3 new, 1 resolved, 12 unchanged' (zero counts left out; 'no changes' when all zero)."""
    order = (Transition.NEW, Transition.REGRESSED, Transition.REOPENED, Transition.RESOLVED, Transition.UNCHANGED)
    parts = [f"{counts.get(t.value, 0)} {t.value}" for t in order if counts.get(t.value, 0)]
    held = counts.get("held", 0)
    if held:
        parts.append(f"{held} held open (host not assessed)")
    return ", ".join(parts) if parts else "no findings"
