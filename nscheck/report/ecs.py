"""ECS JSON Lines for a SIEM (design: shared/reference/peers.md §c).

Three document types, told apart by ``event.dataset``:

- ``nscheck.finding``: one per host x bulletin that is vulnerable or unknown, one per indicator
  hit (``event.kind: alert``; triage hits carry ``file.*``), plus resolved findings and
  compromise assessments when the state stage added them to ``HostResult.extra``.
- ``nscheck.host``: one per target, with ``nscheck.coverage`` so blind spots are visible, and
  the complete host object under ``nscheck.result`` (map it as ``flattened`` or
  ``enabled: false`` in the index template) so ``nscheck report`` can rebuild every format.
- ``nscheck.run``: one per run: counts, signature set, duration, partial flag.

Every line is written and flushed as its host completes, so a killed run keeps every finished host.
Nothing here depends on the wall clock except the timestamps that come from the results.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import socket
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from nscheck.model import Finding, FindingKind, HostResult, HostVerdict, Verdict, findings_of
from nscheck.report.base import RunInfo, RunSummary
from nscheck.report.files import OpenAppend
from nscheck.report.text import (
    LOW_CONFIDENCE_LABEL,
    as_dict,
    build_text,
    clean,
    docs_of,
    finding_meta,
    finding_severity,
    host_transitions,
    low_confidence_only,
    open_assessments,
    state_of,
)

ECS_VERSION = "8.17.0"
SCHEMA_VERSION = "1.0"
CTX_URL = "https://support.citrix.com/support-home/kbsearch/article?articleNumber={}"
_SEV_NUM = {"critical": 90, "high": 70, "medium": 50, "low": 30, "info": 10}
_ACTIONS = {"new": "vulnerability-detected", "unchanged": "vulnerability-still-present",
            "resolved": "vulnerability-resolved", "regressed": "vulnerability-regressed"}
# An indicator hit is evidence of an intrusion, not a vulnerability: a SIEM rule must be able to
# tell the two apart by event.action alone.
_INDICATOR_ACTIONS = {"new": "indicator-detected", "unchanged": "indicator-still-present",
                      "resolved": "indicator-resolved", "regressed": "indicator-regressed"}
_ASSESSMENT_ACTIONS = {"new": "compromise-assessment-required", "unchanged": "compromise-assessment-still-required",
                       "regressed": "compromise-assessment-reopened", "reopened": "compromise-assessment-reopened",
                       "resolved": "compromise-assessment-resolved"}


def _event_id(run_id: str, *parts: str) -> str:
    return hashlib.sha256("|".join((run_id, *parts)).encode()).hexdigest()[:32]


def _url_fields(url: str | None) -> dict[str, Any] | None:
    if not url:
        return None
    try:
        p = urlsplit(url)
        port = p.port
    except ValueError:
        return {"original": clean(url, 2000)}
    d: dict[str, Any] = {"original": clean(url, 2000), "scheme": p.scheme}
    if p.hostname:
        d["domain"] = p.hostname
    if port or p.scheme in ("http", "https"):
        d["port"] = port or (443 if p.scheme == "https" else 80)
    if p.path:
        d["path"] = p.path
    return d


def _host_fields(r: HostResult) -> dict[str, Any]:
    name = r.target
    ip: list[str] = []
    if r.url:
        try:
            h = urlsplit(r.url).hostname
        except ValueError:
            h = None
        if h:
            name = h
            import ipaddress

            with contextlib.suppress(ValueError):
                ip = [str(ipaddress.ip_address(h))]
    d: dict[str, Any] = {"name": clean(name, 255)}
    if ip:
        d["ip"] = ip
    return d


def _tls_fields(r: HostResult) -> dict[str, Any] | None:
    c = r.certificate
    if c is None:
        return None
    x509: dict[str, Any] = {"subject": {"distinguished_name": clean(c.subject, 1000)},
                            "issuer": {"distinguished_name": clean(c.issuer, 1000)}}
    if c.sans:
        x509["alternative_names"] = [clean(n, 255) for n in c.sans[:50]]
    if c.not_after:
        x509["not_after"] = c.not_after
    d: dict[str, Any] = {"server": {"x509": x509}}
    if c.sha256:
        d["server"]["hash"] = {"sha256": c.sha256.upper()}
    return d


def _state_findings(r: HostResult) -> list[Finding]:
    """Resolved findings and compromise assessments of the state stage, as Findings. Documents
    that are not well formed (a hand-edited or foreign results file) are left out, not fatal."""
    import dataclasses

    from nscheck.state import extra_findings

    kinds = {k.value for k in FindingKind}
    severities = {"critical", "high", "medium", "low", "info", None, ""}

    def ok(d: dict[str, Any]) -> bool:
        return all(isinstance(d.get(k), str) for k in ("id", "kind", "rule_id", "host")) and d["kind"] in kinds \
            and d.get("severity") in severities

    docs = {k: [d for d in docs_of(r, k) if ok(d)] for k in ("assessments", "resolved")}
    if not any(docs.values()):
        return []
    return extra_findings(dataclasses.replace(r, extra={**r.extra, **docs}))


class EcsWriter:
    """Turns results into ECS documents (dicts). ``observer_hostname`` is fixed in tests."""

    def __init__(self, run: RunInfo, *, observer_hostname: str | None = None):
        self.run = run
        self.observer = {
            "vendor": "nscheck", "product": "nscheck", "type": "vulnerability-scanner",
            "version": run.tool_version, "hostname": observer_hostname or socket.gethostname(),
        }

    def _base(self, ts: str | None, dataset: str, eid: str) -> dict[str, Any]:
        return {
            "@timestamp": ts or self.run.started,
            "ecs": {"version": ECS_VERSION},
            "event": {"dataset": dataset, "module": "nscheck", "provider": "nscheck", "id": eid,
                      "created": ts or self.run.started},
            "observer": dict(self.observer),
        }

    def _nscheck_common(self) -> dict[str, Any]:
        d: dict[str, Any] = {"schema_version": SCHEMA_VERSION, "run_id": self.run.run_id, "run_kind": self.run.kind}
        if self.run.signatures_version or self.run.signatures_date:
            d["signature_set"] = {"version": self.run.signatures_version, "date": self.run.signatures_date}
        if self.run.shard:
            d["shard"] = self.run.shard
        return d

    # -- per host -----------------------------------------------------------------------------

    def host_documents(self, r: HostResult) -> list[dict[str, Any]]:
        docs = [self.finding_document(r, f) for f in findings_of(r)]
        docs += [self.finding_document(r, f) for f in _state_findings(r)]
        docs.append(self.host_document(r))
        return docs

    def finding_document(self, r: HostResult, f: Finding) -> dict[str, Any]:
        meta = {**finding_meta(r, f.id)}
        if f.kind is not FindingKind.ADVISORY and f.kind is not FindingKind.INDICATOR:
            meta = {**f.extra, **meta}
        transition = meta.get("transition") or f.transition
        sup = bool(meta.get("suppressed") or f.suppressed)
        doc = self._base(r.started, "nscheck.finding", _event_id(self.run.run_id, "finding", f.id))
        ev = doc["event"]
        sev = finding_severity(f.advisory) if f.advisory is not None else f.severity
        ev["severity"] = _SEV_NUM[sev.value]
        ev["type"] = ["info"]
        build = build_text(r)
        host = clean(r.target, 200)
        ns: dict[str, Any] = {
            **self._nscheck_common(), "finding_id": f.id, "kind": f.kind.value, "target": clean(r.target, 2000),
            "host_key": f.host, "host_verdict": r.verdict.value, "status": "resolved" if transition == "resolved" else "open",
            "suppressed": sup,
        }
        tags: list[str] = []
        for key in ("transition", "first_seen", "last_seen", "seen_count"):
            val = transition if key == "transition" else meta.get(key)
            if val is not None:
                ns[key] = val
        if meta.get("suppression"):
            ns["suppression"] = meta["suppression"]
        if isinstance(meta.get("suppression_expired"), dict):
            # The rule that hid this finding ran out: it is open again and counts (said loudly).
            ns["suppression_expired"] = meta["suppression_expired"]
            tags.append("suppression-expired")
        if isinstance(meta.get("exposure"), dict):
            ns["exposure_window"] = meta["exposure"]
        if meta.get("resolved_at"):
            ns["resolved_at"] = meta["resolved_at"]
        if transition:
            table = _INDICATOR_ACTIONS if f.kind is FindingKind.INDICATOR else _ACTIONS
            ev["action"] = table.get(str(transition), str(transition))
        doc["host"] = _host_fields(r)
        doc["rule"] = {"id": f"nscheck.{f.kind.value}.{f.rule_id}", "name": clean(f.title, 500)}
        if f.kind is FindingKind.ADVISORY and f.advisory is not None:
            a = f.advisory
            ev.update(kind="state", category=["vulnerability"])
            ev.setdefault("action", "vulnerability-" + {Verdict.VULNERABLE: "present", Verdict.MITIGATED: "mitigated"}.get(
                a.verdict, "undetermined"))
            ev["reference"] = CTX_URL.format(a.id)
            doc["message"] = clean(f"{host} runs NetScaler {build or '(build unknown)'}: {a.verdict.value} for {a.id} "
                                   f"({', '.join(a.cves[:4])})" + (f", fixed in {a.fixed_in}" if a.fixed_in else ""), 1000)
            vul: dict[str, Any] = {
                "id": list(a.cves) or [a.id], "enumeration": "CVE", "description": clean(a.title or a.id, 1000),
                "severity": sev.value, "reference": CTX_URL.format(a.id), "report_id": self.run.run_id,
                "scanner": {"vendor": "nscheck"}, "classification": "CVSS",
            }
            if a.cvss is not None:
                vul["score"] = {"base": a.cvss}
            doc["vulnerability"] = vul
            doc["rule"].update(ruleset="advisories", category="version-match", reference=CTX_URL.format(a.id))
            if self.run.signatures_version:
                doc["rule"]["version"] = self.run.signatures_version
            if r.build is not None:
                doc["package"] = {"name": "NetScaler ADC/Gateway", "version": build, "type": "firmware"}
            ns.update(verdict=a.verdict.value, bulletin=a.id, cves=list(a.cves), kev=a.kev, exploited=a.exploited,
                      fixed_in=a.fixed_in, eol=a.eol, precondition=a.precondition.value, reason=clean(a.reason, 1000),
                      basis=a.basis.value)
            if a.method:  # decided with authenticated evidence (NITRO): say which resource/field/value
                ns["method"] = a.method
                ns["evidence"] = [{"method": e.method, "detail": clean(e.detail, 500), "url": clean(e.url or "", 500)}
                                  for e in a.evidence[:8]]
            if isinstance(meta.get("decided"), dict):
                ns["decided"] = meta["decided"]  # unknown -> definite: a decision, not a new finding
            if a.open_question is not None:
                ns["open_question"] = {"kind": a.open_question.kind.value, "question": clean(a.open_question.question, 300),
                                       "roles": list(a.open_question.roles)}
            if r.build is not None:
                ns["edition"] = r.build.edition
                ns["release"] = r.build.release
            if r.remediation is not None:
                ns["minimum_upgrade"] = r.remediation.upgrade_to
                if a.actions:
                    ns["post_patch_actions"] = [clean(x, 1000) for x in a.actions]
            tags += ["kev"] if a.kev else []
            tags += ["exploited-in-the-wild"] if a.exploited else []
            if r.build is not None and r.build.edition:
                tags.append(f"edition:{r.build.edition}")
            doc["url"] = _url_fields(r.url)
        elif f.kind is FindingKind.INDICATOR and f.indicator is not None:
            i = f.indicator
            ev.update(kind="alert", category=["intrusion_detection"] + (["file"] if i.path else []))
            ev.setdefault("action", "indicator-detected")
            where = i.path or i.url or ""
            doc["message"] = clean(f"{host}: indicator of compromise {i.id}: {i.title}" + (f" at {where}" if where else ""), 1000)
            doc["rule"].update(ruleset="triage" if r.kind == "triage" else "indicators", category=i.check or "indicator")
            if i.references:
                doc["rule"]["reference"] = clean(i.references[0], 2000)
            if i.path:
                fd: dict[str, Any] = {"path": clean(i.path, 4096)}
                info = i.file or {}
                if info.get("sha256"):
                    fd["hash"] = {"sha256": str(info["sha256"])}
                if info.get("size") is not None:
                    fd["size"] = info["size"]
                if info.get("mtime"):
                    fd["mtime"] = info["mtime"]
                if info.get("owner"):
                    fd["owner"] = str(info["owner"])
                doc["file"] = fd
            doc["url"] = _url_fields(i.url or r.url)
            ns.update(verdict="hit", check=i.check, confidence=i.confidence.value, evidence=clean(i.evidence, 2000),
                      artefact_source="remote" if r.kind == "scan" else "artefacts")
            if i.line is not None:
                ns["line"] = i.line
            if i.advice:
                ns["advice"] = clean(i.advice, 1000)
            tags.append("indicator")
        else:  # assessments and resolved findings from the state stage
            ev.update(kind="state", category=["vulnerability"] if f.cves else ["host"])
            doc["message"] = clean(f"{host}: {f.rule_id}: {f.title} ({transition or f.status})", 1000)
            doc["rule"].update(ruleset="state")
            if f.cves:
                doc["vulnerability"] = {"id": list(f.cves), "enumeration": "CVE", "severity": sev.value,
                                        "scanner": {"vendor": "nscheck"}, "report_id": self.run.run_id}
            ns.update(verdict=f.status, rule_id=f.rule_id)
            if f.kind is FindingKind.ASSESSMENT:
                # NCSC: check for abuse even when patched. Its own wording, and what to do about it.
                resolved = transition == "resolved" or meta.get("status") == "resolved"
                ev["action"] = _ASSESSMENT_ACTIONS.get(str(transition), "compromise-assessment-required")
                ev["type"] = ["info"]
                ns["verdict"] = "resolved" if resolved else "required"
                if meta.get("bulletins"):
                    ns["bulletins"] = [clean(b, 40) for b in meta["bulletins"]]
                if isinstance(meta.get("windows"), dict):
                    # One assessment per host: every exploited bulletin's exposure window that opened it.
                    ns["exposure_windows"] = {clean(b, 40): {k: v for k, v in w.items() if k != "exploitation"}
                                              for b, w in meta["windows"].items() if isinstance(w, dict)}
                if meta.get("advice"):
                    ns["advice"] = clean(meta["advice"], 1000)
                if isinstance(meta.get("resolution"), dict):
                    ns["resolution"] = {k: (clean(v, 1000) if isinstance(v, str) else v)
                                        for k, v in meta["resolution"].items()}
                facts = as_dict(meta.get("exploitation"))
                if facts.get("exploited_since"):
                    ns["exploited_since"] = facts["exploited_since"]
                tags.append("compromise-assessment")
            doc["url"] = _url_fields(r.url)
        if doc.get("url") is None:
            doc.pop("url", None)
        if sup:
            tags.append("suppressed")
        if tags:
            doc["tags"] = tags
        doc["nscheck"] = ns
        return doc

    def host_document(self, r: HostResult) -> dict[str, Any]:
        doc = self._base(r.started, "nscheck.host", _event_id(self.run.run_id, "host", r.target, r.url or ""))
        v = r.verdict
        doc["event"].update(kind="state", category=["host"], type=["info"], action=f"host-{v.value}".replace("_", "-"),
                            duration=r.duration_ms * 1_000_000)
        doc["message"] = clean(f"{r.target}: {v.value}" + (f" ({r.error})" if r.error else ""), 1000)
        doc["host"] = _host_fields(r)
        u = _url_fields(r.url)
        if u:
            doc["url"] = u
        tls = _tls_fields(r)
        if tls:
            doc["tls"] = tls
        opened = [f for f in findings_of(r) if f.status in ("vulnerable", "hit")]
        cov: dict[str, Any] = {
            "reachable": r.verdict is not HostVerdict.UNREACHABLE,
            "is_netscaler": r.product.is_netscaler,
            "fingerprinted": bool(r.build is not None and (r.build.exact or r.build.candidates)),
            "method": sorted({m.method for m in (r.build.methods if r.build else ())}),
            "version": build_text(r) or None,
            "error": clean(r.error, 2000) if r.error else None,
            "open_findings": len(opened),
            "unknown_bulletins": sum(1 for a in r.advisories if a.verdict is Verdict.UNKNOWN),
            "indicators": len(r.indicators),
            "requests_sent": r.requests_sent,
            "duration_ms": r.duration_ms,
            "skipped": [{"what": clean(s.what, 200), "reason": clean(s.reason, 500), "kind": s.kind.value}
                        for s in r.skipped],
        }
        if r.kind == "triage":
            cov["artefacts"] = r.coverage.to_dict() if r.coverage is not None else {}
        held = docs_of(r, "held_open")
        st = state_of(r)
        if st or held:
            # Open findings from earlier runs this run could not re-check (state stage): still
            # open, and why nothing of that kind could be resolved.
            cov["held_open"] = len(held)
            reasons = sorted({clean(d.get("held_reason") or "not assessed", 500) for d in held})
            if reasons:
                cov["held_reasons"] = reasons
            cov["not_resolvable"] = {"advisories": st.get("advisories_not_resolvable"),
                                     "indicators": st.get("indicators_not_resolvable")}
        if st:
            cov["transitions"] = host_transitions(r)
            cov["assessments_open"] = len(open_assessments(r))
        ns = {**self._nscheck_common(), "target": clean(r.target, 2000), "verdict": v.value, "status": r.status.value,
              "coverage": cov, "result": r.to_dict()}
        if low_confidence_only(r):
            # The verdict stays "compromised"; this says every hit still needs confirming by hand.
            ns["verdict_note"] = LOW_CONFIDENCE_LABEL
        if r.product.roles:
            ns["roles"] = list(r.product.roles)
        if r.remediation is not None and r.remediation.upgrade_to:
            ns["minimum_upgrade"] = r.remediation.upgrade_to
        doc["nscheck"] = ns
        return doc

    def run_document(self, s: RunSummary) -> dict[str, Any]:
        doc = self._base(s.ended, "nscheck.run", _event_id(self.run.run_id, "run"))
        doc["event"].update(kind="event", category=["host"], type=["info"], action="scan-completed" if not s.partial
                            else "scan-partial", start=s.run.started, end=s.ended, duration=s.duration_ms * 1_000_000)
        doc["message"] = clean(f"nscheck {s.run.kind} run {s.run.run_id}: {s.hosts} host(s)"
                               + (" (partial)" if s.partial else ""), 1000)
        ns = {**self._nscheck_common(), "hosts": s.hosts, "counts": dict(sorted(s.counts.items())), "partial": s.partial,
              "duration_ms": s.duration_ms, "requests_sent": s.requests_sent}
        trans = s.extra.get("transitions") if isinstance(s.extra, dict) else None
        if trans:
            ns["transitions"] = dict(trans)
        doc["nscheck"] = ns
        return doc


def dumps(doc: dict[str, Any]) -> str:
    # ensure_ascii keeps U+2028 and friends escaped: one physical line per document, always.
    return json.dumps(doc, sort_keys=True, ensure_ascii=True, separators=(",", ":"), default=str)


class JsonlSink:
    """``--jsonl FILE`` (``-`` for stdout): lines flushed per host."""

    def __init__(self, path: str, *, observer_hostname: str | None = None):
        self.path = path
        self.observer_hostname = observer_hostname
        self.out: OpenAppend | None = None
        self.writer: EcsWriter | None = None

    def open(self, run: RunInfo) -> None:
        self.out = OpenAppend(self.path)
        self.writer = EcsWriter(run, observer_hostname=self.observer_hostname)

    def host(self, result: HostResult) -> None:
        assert self.out is not None and self.writer is not None
        self.out.write("".join(dumps(d) + "\n" for d in self.writer.host_documents(result)))

    def close(self, summary: RunSummary) -> None:
        assert self.out is not None and self.writer is not None
        self.out.write(dumps(self.writer.run_document(summary)) + "\n")
        self.out.close()


def render_jsonl(results: Iterable[HostResult], run: RunInfo, summary: RunSummary | None = None, *,
                 observer_hostname: str | None = None) -> str:
    w = EcsWriter(run, observer_hostname=observer_hostname)
    lines = [dumps(d) for r in results for d in w.host_documents(r)]
    if summary is not None:
        lines.append(dumps(w.run_document(summary)))
    return "".join(line + "\n" for line in lines)
