"""OCSF 1.1.0 events (``--ocsf FILE|-``): for AWS Security Hub, Splunk, Sentinel and other OCSF
consumers, one JSON object per line.

- bulletin findings and compromise assessments → **Vulnerability Finding** (class 2002);
- indicators of compromise → **Detection Finding** (class 2004);
- one **Inventory Info** record (class 5001) per host per run: what the appliance is.

Built from the ECS documents (``ecs.EcsWriter``) so that every format agrees on finding ids,
state transitions, suppressions and the cleaning of untrusted strings. ``finding_info.uid`` is
the stable nscheck finding id, so a consumer updates one finding across runs. With ``--state``,
``activity_id`` follows the finding's lifecycle: Create (new), Update (still open, re-opened or
back), Close (resolved) — Security Hub drops findings not updated for 90 days and closed ones after
14, so an open finding is re-sent as Update every run. Without ``--state`` each run is a Create.
Class and attribute names: https://schema.ocsf.io/1.1.0/classes/vulnerability_finding,
.../detection_finding, .../inventory_info (validated in tests against the OCSF 1.1.0 definitions).
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from nscheck.model import HostResult, RunInfo, RunSummary
from nscheck.report.ecs import EcsWriter
from nscheck.report.files import OpenAppend

OCSF_VERSION = "1.1.0"
_SEVERITY_ID = {"info": 1, "low": 2, "medium": 3, "high": 4, "critical": 5}
_SEVERITY_NAME = {0: "Unknown", 1: "Informational", 2: "Low", 3: "Medium", 4: "High", 5: "Critical"}
_ACTIVITY = {"new": (1, "Create"), "unchanged": (2, "Update"), "regressed": (2, "Update"), "reopened": (2, "Update"),
             "resolved": (3, "Close")}
_CONFIDENCE = {"low": (1, "Low"), "medium": (2, "Medium"), "high": (3, "High")}
_CLASSES = {2002: "Vulnerability Finding", 2004: "Detection Finding"}

__all__ = ["OCSF_VERSION", "OcsfSink", "OcsfWriter"]


def _ms(ts: str | None) -> int | None:
    if not ts:
        return None
    try:
        d = dt.datetime.fromisoformat(str(ts).replace("Z", "+00:00"))
    except ValueError:
        return None
    if d.tzinfo is None:
        d = d.replace(tzinfo=dt.UTC)
    return int(d.timestamp() * 1000)


def _severity(doc: dict[str, Any]) -> int:
    vul = doc.get("vulnerability") or {}
    name = vul.get("severity")
    if name in _SEVERITY_ID:
        return _SEVERITY_ID[name]
    num = (doc.get("event") or {}).get("severity")
    return {90: 5, 70: 4, 50: 3, 30: 2, 10: 1}.get(num, 0) if isinstance(num, int) else 0


class OcsfWriter:
    """Turns one host's results into OCSF events (dicts)."""

    def __init__(self, run: RunInfo, *, observer_hostname: str | None = None):
        self.run = run
        self.ecs = EcsWriter(run, observer_hostname=observer_hostname)
        self.stateful = False  # set once any finding carries a transition (a --state run)

    def _metadata(self, uid: str) -> dict[str, Any]:
        return {"version": OCSF_VERSION, "uid": uid, "log_name": "nscheck",
                "product": {"name": "nscheck", "vendor_name": "nscheck", "version": self.run.tool_version},
                **({"correlation_uid": self.run.run_id} if self.run.run_id else {})}

    def host_events(self, r: HostResult) -> list[dict[str, Any]]:
        docs = self.ecs.host_documents(r)
        events = [e for d in docs if d["event"]["dataset"] == "nscheck.finding" for e in [self.finding_event(d)] if e]
        host_doc = next(d for d in docs if d["event"]["dataset"] == "nscheck.host")
        events.append(self.inventory_event(r, host_doc))
        return events

    def _device(self, doc: dict[str, Any], r: HostResult | None = None) -> dict[str, Any]:
        host = doc.get("host") or {}
        dev: dict[str, Any] = {"type_id": 99, "type": "NetScaler ADC/Gateway", "name": host.get("name"),
                               "hostname": host.get("name")}
        if host.get("ip"):
            dev["ip"] = host["ip"][0]
        ns = doc.get("nscheck") or {}
        version = (doc.get("package") or {}).get("version") or (ns.get("coverage") or {}).get("version")
        if version:
            dev["os"] = {"name": "NetScaler", "type_id": 99, "type": "Other", "version": str(version),
                         **({"edition": str(ns["edition"])} if ns.get("edition") else {})}
        return {k: v for k, v in dev.items() if v is not None}

    def finding_event(self, doc: dict[str, Any]) -> dict[str, Any] | None:
        ns = doc.get("nscheck") or {}
        kind = ns.get("kind")
        class_uid = 2004 if kind == "indicator" else 2002
        transition = ns.get("transition")
        if transition:
            self.stateful = True
        activity_id, activity = _ACTIVITY.get(str(transition), (1, "Create"))
        sev = _severity(doc)
        resolved = ns.get("status") == "resolved"
        status_id, status = (4, "Resolved") if resolved else (3, "Suppressed") if ns.get("suppressed") else \
            ((2, "In Progress") if transition in ("unchanged", "regressed", "reopened") else (1, "New"))
        ts = _ms(doc.get("@timestamp")) or 0
        info: dict[str, Any] = {
            "uid": ns.get("finding_id"), "title": (doc.get("rule") or {}).get("name") or ns.get("finding_id"),
            "desc": doc.get("message"), "types": [{"advisory": "Vulnerability", "indicator": "Indicator of compromise",
                                                   "assessment": "Compromise assessment required"}.get(str(kind), str(kind))],
            "product_uid": "nscheck",
        }
        for src, dst in (("first_seen", "first_seen_time"), ("last_seen", "last_seen_time")):
            if _ms(ns.get(src)):
                info[dst] = _ms(ns.get(src))
        if ns.get("first_seen") and _ms(ns["first_seen"]):
            info["created_time"] = _ms(ns["first_seen"])
        ref = (doc.get("rule") or {}).get("reference") or (doc.get("event") or {}).get("reference")
        if ref:
            info["src_url"] = ref
        ev: dict[str, Any] = {
            "class_uid": class_uid, "class_name": _CLASSES[class_uid], "category_uid": 2, "category_name": "Findings",
            "activity_id": activity_id, "activity_name": activity, "type_uid": class_uid * 100 + activity_id,
            "type_name": f"{_CLASSES[class_uid]}: {activity}", "time": ts, "severity_id": sev,
            "severity": _SEVERITY_NAME[sev], "status_id": status_id, "status": status,
            "message": doc.get("message"), "metadata": self._metadata((doc.get("event") or {}).get("id", "")),
            "finding_info": info, "device": self._device(doc),
            "unmapped": {k: ns[k] for k in ("verdict", "host_verdict", "target", "transition", "suppressed", "bulletin",
                                            "fixed_in", "minimum_upgrade", "kev", "exploited", "precondition", "reason",
                                            "check", "evidence", "advice", "line", "exposure_window", "bulletins",
                                            "run_id") if ns.get(k) not in (None, "", [])},
        }
        vul = doc.get("vulnerability")
        if class_uid == 2002:
            cves = (vul or {}).get("id") or []
            score = ((vul or {}).get("score") or {}).get("base")
            items: list[dict[str, Any]] = []
            for cve in cves:
                v: dict[str, Any] = {"title": (vul or {}).get("description") or cve, "severity": _SEVERITY_NAME[sev],
                                     "vendor_name": "Cloud Software Group (Citrix)"}
                if str(cve).startswith("CVE-"):
                    # No cve.cvss: OCSF requires its version, and the bulletin data mixes CVSS 3.1 and
                    # 4.0 without saying which per score. The bulletin's highest score is in unmapped.
                    v["cve"] = {"uid": cve}
                if ns.get("fixed_in"):
                    v["is_fix_available"] = True
                    v["remediation"] = {"desc": f"Upgrade to {ns.get('minimum_upgrade') or ns['fixed_in']} or later."}
                if ns.get("exploited") is not None:
                    v["is_exploit_available"] = bool(ns.get("exploited"))
                if ref:
                    v["references"] = [ref]
                items.append(v)
            if not items:
                items = [{"title": info["title"], "severity": _SEVERITY_NAME[sev]}]
            if score is not None:
                ev["unmapped"]["max_cvss"] = score
            ev["vulnerabilities"] = items
            ev["resource"] = {"uid": ns.get("host_key"), "name": (doc.get("host") or {}).get("name"),
                              "type": "NetScaler ADC/Gateway"}
        else:
            conf = _CONFIDENCE.get(str(ns.get("confidence") or "").lower())
            if conf:
                ev["confidence_id"], ev["confidence"] = conf
            evidence: dict[str, Any] = {}
            f = doc.get("file")
            if f:
                evidence["file"] = {"name": str(f.get("path", "")).rsplit("/", 1)[-1], "path": f.get("path"),
                                    "type_id": 1, "type": "Regular File",
                                    **({"size": f["size"]} if f.get("size") is not None else {}),
                                    **({"hashes": [{"algorithm_id": 3, "algorithm": "SHA-256", "value": f["hash"]["sha256"]}]}
                                       if (f.get("hash") or {}).get("sha256") else {})}
            if ns.get("evidence"):
                evidence["data"] = {"evidence": ns["evidence"], **({"url": doc["url"].get("original")} if doc.get("url") else {})}
            if evidence:
                ev["evidences"] = [evidence]
            if ns.get("advice"):
                ev["remediation"] = {"desc": ns["advice"]}
            ev["resources"] = [{"uid": ns.get("host_key"), "name": (doc.get("host") or {}).get("name"),
                                "type": "NetScaler ADC/Gateway"}]
        return _prune(ev)

    def inventory_event(self, r: HostResult, host_doc: dict[str, Any]) -> dict[str, Any]:
        ns = host_doc.get("nscheck") or {}
        ev: dict[str, Any] = {
            "class_uid": 5001, "class_name": "Device Inventory Info", "category_uid": 5, "category_name": "Discovery",
            "activity_id": 2, "activity_name": "Collect", "type_uid": 500102,
            "type_name": "Device Inventory Info: Collect", "time": _ms(host_doc.get("@timestamp")) or 0,
            "severity_id": 1, "severity": "Informational", "message": host_doc.get("message"),
            "metadata": self._metadata((host_doc.get("event") or {}).get("id", "")),
            "device": self._device(host_doc, r),
            "status_id": 1 if r.verdict.value not in ("unreachable",) else 2,
            "status": "Success" if r.verdict.value != "unreachable" else "Failure",
            "unmapped": {"verdict": ns.get("verdict"), "target": ns.get("target"), "roles": ns.get("roles"),
                         "minimum_upgrade": ns.get("minimum_upgrade"), "run_id": ns.get("run_id"),
                         "coverage": {k: v for k, v in (ns.get("coverage") or {}).items()
                                      if k in ("reachable", "is_netscaler", "fingerprinted", "version", "open_findings",
                                               "unknown_bulletins", "indicators", "error")}},
        }
        return _prune(ev)


def _prune(d: Any) -> Any:
    """Drop None and empty containers: OCSF consumers treat absent and null alike, some reject null."""
    if isinstance(d, dict):
        out = {k: _prune(v) for k, v in d.items()}
        return {k: v for k, v in out.items() if v is not None and v != {} and v != [] and v != ""}
    if isinstance(d, list):
        return [_prune(x) for x in d]
    return d


def dumps(ev: dict[str, Any]) -> str:
    return json.dumps(ev, sort_keys=True, ensure_ascii=True, separators=(",", ":"), default=str)


class OcsfSink:
    """``--ocsf FILE`` (``-`` for stdout): one event per line, flushed per host."""

    def __init__(self, path: str, *, observer_hostname: str | None = None):
        self.path = path
        self.observer_hostname = observer_hostname
        self.out: OpenAppend | None = None
        self.writer: OcsfWriter | None = None

    def open(self, run: RunInfo) -> None:
        self.out = OpenAppend(self.path)
        self.writer = OcsfWriter(run, observer_hostname=self.observer_hostname)

    def host(self, result: HostResult) -> None:
        assert self.out is not None and self.writer is not None
        self.out.write("".join(dumps(e) + "\n" for e in self.writer.host_events(result)))

    def close(self, summary: RunSummary) -> None:
        assert self.out is not None
        self.out.close()
