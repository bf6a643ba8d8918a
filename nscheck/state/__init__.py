"""State between scheduled runs: the stage between the runner and the sinks.

``StateStage(opts)`` bundles what a run needs from ``--state``, ``--suppressions`` and the
transitions: ``open(run)``, ``annotate(result) -> result`` (applied to every host before any
sink sees it), ``close(summary) -> summary``. Annotations go into ``HostResult.extra``:

- ``extra["findings"][finding_id]`` = {"transition", "status", "first_seen", "last_seen",
  "seen_count", "suppressed", "suppression", ["suppression_expired"], ["exposure"]} for every
  finding of ``findings_of(result)`` and every assessment;
- ``extra["resolved"]``: finding documents (dicts) closed this run (emit them with
  event.action "vulnerability-resolved");
- ``extra["assessments"]``: compromise-assessment findings (FindingKind.ASSESSMENT) of the host;
- ``extra["held_open"]``: open findings this run could not re-check, each with ``held_reason``;
- ``extra["state"]``: host-level facts (first seen, previous build, why findings were held).

``extra_findings(result)`` turns resolved and assessment documents into ``Finding`` objects, so
a report writer can iterate ``findings_of(result) + extra_findings(result)``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import sys
from collections import Counter
from typing import Any

from nscheck.model import Finding, FindingKind, HostResult, RunInfo, RunSummary, Severity, findings_of
from nscheck.state.transitions import ACTIONS, Transition, summary_line

__all__ = [
    "ACTIONS",
    "StateStage",
    "Transition",
    "extra_findings",
    "is_suppressed",
    "record_triage",
    "summary_line",
    "transition_lines",
]


def is_suppressed(result: HostResult, fid: str) -> bool:
    """For exit codes: a suppressed finding never fails the run."""
    meta = (result.extra.get("findings") or {}).get(fid) or {}
    return bool(meta.get("suppressed"))


def extra_findings(result: HostResult) -> list[Finding]:
    """Resolved findings and compromise assessments of one annotated host, as Findings."""
    out: list[Finding] = []
    for doc in [*result.extra.get("assessments", ()), *result.extra.get("resolved", ())]:
        out.append(
            Finding(
                id=doc["id"], kind=FindingKind(doc["kind"]), rule_id=doc["rule_id"], host=doc["host"],
                target=doc.get("target") or result.target, title=doc.get("title") or doc["rule_id"],
                severity=Severity(doc.get("severity") or "high"),
                status="resolved" if doc.get("transition") == Transition.RESOLVED.value else (doc.get("verdict") or "open"),
                cves=tuple(doc.get("cves") or ()), suppressed=bool(doc.get("suppressed")),
                transition=doc.get("transition"), extra=dict(doc),
            )
        )
    return out


def transition_lines(result: HostResult, *, include_suppressed: bool = True) -> list[str]:
    """One line per finding that changed in this run (what ``--quiet`` prints, for cron mail)."""
    metas = result.extra.get("findings") or {}
    name = (result.extra.get("state") or {}).get("host_key") or result.target
    lines = []
    for f in findings_of(result) + [f for f in extra_findings(result) if f.kind is FindingKind.ASSESSMENT]:
        m = metas.get(f.id) or {}
        t = m.get("transition") or f.transition
        if m.get("suppressed") and not include_suppressed:
            continue
        if t and t != Transition.UNCHANGED.value:
            cves = f" ({', '.join(f.cves[:3])})" if f.cves else ""
            sup = " [suppressed]" if m.get("suppressed") else ""
            why = ""
            if f.kind is FindingKind.ASSESSMENT and t == Transition.RESOLVED.value:
                why = f" (triaged: {(f.extra.get('resolution') or {}).get('reason') or 'yes'})"
            lines.append(f"{t.upper():9} {name} {f.rule_id}{cves}: {f.title}{why}{sup}")
    for doc in result.extra.get("resolved", ()):
        if doc.get("suppressed") and not include_suppressed:
            continue
        lines.append(f"{'RESOLVED':9} {name} {doc['rule_id']}: {doc.get('title') or ''}".rstrip())
    return lines


class StateStage:
    """The state processor of one run. Without ``--state`` it still applies suppressions."""

    def __init__(self, state_path: str | None, suppressions_path: str | None = None, *,
                 warn: Any = None) -> None:
        from nscheck.state.store import StateStore
        from nscheck.state.suppress import load as load_suppressions

        self.rules = load_suppressions(suppressions_path) if suppressions_path else []
        self.store = StateStore.open(state_path, suppressions=self.rules) if state_path else None
        self.counts: Counter[str] = Counter()
        self._warn = warn or (lambda msg: print(msg, file=sys.stderr, flush=True))
        self._today = dt.date.today()

    @classmethod
    def from_options(cls, opts: Any) -> StateStage | None:
        if not getattr(opts, "state", None) and not getattr(opts, "suppressions", None):
            return None
        return cls(opts.state, opts.suppressions)

    def open(self, run: RunInfo) -> None:
        from nscheck.state.exposure import parse_day

        self._today = parse_day(run.started) or dt.date.today()
        if self.store is not None:
            self.store.begin_run(run)

    def annotate(self, result: HostResult) -> HostResult:
        if self.store is not None:
            out = self.store.record_host(result)
            for w in self.store.warnings:
                self._warn(w)
            self.store.warnings.clear()
        else:
            out = self._suppress_only(result)
        for k, v in ((out.extra.get("state") or {}).get("transitions") or {}).items():
            self.counts[k] += v
        return out

    def _suppress_only(self, result: HostResult) -> HostResult:
        from nscheck.state.suppress import match

        metas: dict[str, Any] = dict(result.extra.get("findings") or {})
        for f in findings_of(result):
            m = match(self.rules, f, self._today)
            meta = dict(metas.get(f.id) or {})
            meta["suppressed"] = m.active is not None
            meta["suppression"] = m.active.to_dict() if m.active else None
            if m.expired is not None:
                exp = m.expired.to_dict()
                meta["suppression_expired"] = exp
                self._warn(f"nscheck: suppression expired on {exp['expires']} for {f.host} {f.rule_id}"
                           f" ({exp['reason']}): finding re-opened")
            metas[f.id] = meta
        return dataclasses.replace(result, extra={**result.extra, "findings": metas})

    def close(self, summary: RunSummary) -> RunSummary:
        if self.store is not None:
            summary = self.store.end_run(summary)
            self.store.close()
            self.store = None
        return summary

    def summary_line(self) -> str:
        return summary_line(dict(self.counts))


def record_triage(state_path: str, result: HostResult, *, name: str | None = None,
                  run: RunInfo | None = None) -> HostResult:
    """For ``nscheck triage --state PATH [--name HOST]``: record one triage result.

    Indicator hits become findings of that host (new / unchanged / resolved like scan findings);
    a clean triage (verdict not_vulnerable: coverage and no hits) closes the host's open
    compromise assessments, which the next scan reports as resolved. Returns the annotated result.
    """
    import uuid

    from nscheck import __version__

    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    info = run or RunInfo(run_id=uuid.uuid4().hex, started=now, kind="triage", tool_version=__version__)
    if name:
        result = dataclasses.replace(result, extra={**result.extra, "host_name": name})
    stage = StateStage(state_path)
    stage.open(info)
    try:
        out = stage.annotate(result)
    finally:
        stage.close(RunSummary(run=info, ended=now, duration_ms=0, hosts=1, counts={result.verdict.value: 1}))
    return out
