"""Read one appliance over NITRO: GET-only, per-request authentication, failures per host.

What it reads is declared in ``signatures/nitro.yaml`` (see ``nscheck.nitro.rolemap``). The
answer envelope is NITRO's: ``{"errorcode": 0, "message": "Done", "severity": "NONE",
"<resource>": [...]}`` (an object instead of a list for singletons such as ``nsversion``; no
key at all when a resource has no objects), and on failure ``errorcode`` != 0 with ``message``
and ``severity: "ERROR"`` (NITRO REST reference, "Performing basic operations":
https://citrix-landing-page.readthedocs-hosted.com/projects/netscaler-nitro-api/en/12.0/performing-basic-netscaler-operations).
HTTP 401 means the credentials were rejected: nothing more is sent to that address. HTTP 403
(or an authorization errorcode) on one resource means the account's command policy does not
allow ``show <resource>``: that one resource is unknown, the rest goes on.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from nscheck.build import Build, BuildError, Edition, edition_candidates, parse_build
from nscheck.model import Confidence, Evidence, Indicator, Precondition, Severity
from nscheck.nitro.rolemap import Check, NitroMap, RoleRule, match_items
from nscheck.probe.types import NO_ANSWER, ErrorKind

__all__ = ["NitroRead", "nitro_paths", "read_appliance", "systemfile_path"]

API = "/nitro/v1/config/"


@dataclass
class NitroRead:
    """Everything one NITRO read found, and what it could not do (said per host)."""

    address: str
    status: str = "ok"  # ok | rejected | disabled | unreachable | error | partial
    notes: list[str] = field(default_factory=list)
    version_text: str | None = None
    build: Build | None = None
    edition_evidence: str | None = None
    platform: str | None = None
    facts: dict[str, Precondition] = field(default_factory=dict)
    evidence: list[Evidence] = field(default_factory=list)
    role_evidence: dict[str, Evidence] = field(default_factory=dict)
    forbidden: list[str] = field(default_factory=list)  # resources answered 403
    mitigations: dict[str, Evidence] = field(default_factory=dict)  # advisory id -> evidence
    file_hits: list[Indicator] = field(default_factory=list)
    files_coverage: str | None = None
    requests_sent: int = 0

    @property
    def usable(self) -> bool:
        return self.status in ("ok", "partial")


def systemfile_path(directory: str) -> str:
    # GET (ALL) with args=filelocation:<dir> (systemfile reference, see nitro.yaml header).
    return f"{API}systemfile?args=filelocation:{quote(directory, safe='')}"


def nitro_paths(nmap: NitroMap, directories: Sequence[str] = ()) -> list[str]:
    """Every GET a full read may send, in order (for --dry-run)."""
    return [API + r for r in nmap.resources()] + [systemfile_path(d) for d in directories]


def _envelope(body: bytes) -> dict[str, Any] | None:
    try:
        doc = json.loads(body.decode("utf-8", errors="strict"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    return doc if isinstance(doc, dict) and "errorcode" in doc else None


def _items(doc: Mapping[str, Any], resource: str) -> list[dict[str, Any]]:
    v = doc.get(resource)
    if isinstance(v, dict):
        return [v]
    if isinstance(v, list):
        return [x for x in v if isinstance(x, dict)]
    return []


def _short(v: Any, n: int = 120) -> str:
    s = str(v).replace("\r", " ").replace("\n", " ")
    return s if len(s) <= n else s[: n - 1] + "…"


class _Reader:
    def __init__(self, fetcher: Any, nmap: NitroMap, out: NitroRead):
        self.f = fetcher
        self.nmap = nmap
        self.out = out
        self.cache: dict[str, list[dict[str, Any]] | None] = {}
        self.stopped = False

    def url(self, resource: str) -> str:
        return self.f.url_for(API + resource)

    async def get(self, resource: str, path: str | None = None, *, missing_ok: bool = False) -> list[dict[str, Any]] | None:
        """The resource's objects, or None when they could not be read (reason noted)."""
        key = path or resource
        if key in self.cache:
            return self.cache[key]
        if self.stopped:
            self.cache[key] = None
            return None
        r = await self.f.get(path or API + resource)
        self.out.requests_sent = getattr(self.f, "requests_sent", 0)
        result: list[dict[str, Any]] | None = None
        doc = _envelope(r.body) if r.status is not None else None
        if r.status is None:
            kind = r.error_kind
            if kind in (ErrorKind.DEADLINE, ErrorKind.BUDGET):
                self._stop("partial", f"NITRO read stopped: {r.error}")
            elif kind == ErrorKind.NITRO_LOCKED:
                self._stop("rejected", r.error or "credentials rejected")
            elif kind in NO_ANSWER:  # the same line between silent and broken as the host status
                what = "timed out" if kind in (ErrorKind.CONNECT_TIMEOUT, ErrorKind.READ_TIMEOUT) else "unreachable"
                self._stop("unreachable", f"NITRO at {self.out.address} {what}: {r.error}")
            else:
                self._stop("error", f"NITRO at {self.out.address} failed: {r.error}")
        elif r.status == 401:
            self._stop("rejected", f"NITRO at {self.out.address} rejected the credentials (HTTP 401): nothing more "
                                   "was sent to it with them (failed logins count toward lockout and show in IOC sweeps)")
        elif r.status == 403 or (doc is not None and r.status != 200 and "authoriz" in str(doc.get("message", "")).lower()):
            self.out.forbidden.append(resource)
            self.out.notes.append(f"NITRO: the account may not read {resource} (HTTP 403): its command policy lacks "
                                  f"'show {resource}'" + (f" ({_short(doc.get('message'), 80)})" if doc else ""))
        elif doc is None:
            if resource == self.nmap.version.resource:
                self._stop("disabled", f"NITRO is not served at {self.out.address} (HTTP {r.status}, not a NITRO JSON "
                                       "answer): management access/API may be disabled on this address")
            else:
                self.out.notes.append(f"NITRO: {resource}: HTTP {r.status}, not a NITRO answer")
        elif r.status == 200 and doc.get("errorcode") in (0, "0"):
            result = _items(doc, resource)
        elif missing_ok and r.status == 404:
            result = []  # a directory that does not exist holds no file
        else:
            self.out.notes.append(f"NITRO: {resource}: HTTP {r.status}, errorcode {_short(doc.get('errorcode'), 12)}: "
                                  f"{_short(doc.get('message', ''), 100)}")
        self.cache[key] = result
        return result

    def _stop(self, status: str, note: str) -> None:
        self.stopped = True
        if self.out.status in ("ok", "partial"):
            self.out.status = status
            self.out.notes.append(note)

    async def check(self, c: Check) -> tuple[bool | None, str]:
        items = await self.get(c.resource)
        if items is None:
            return None, f"{c.resource} not readable"
        hits = match_items(items, c.where)
        if hits and c.bound_in is not None:
            bound = await self.get(c.bound_in.resource)
            if bound is None:
                return None, f"{c.bound_in.resource} not readable"
            names = {str(b.get(c.bound_in.field, "")).lower() for b in bound}
            hits = [h for h in hits if str(h.get("name", "")).lower() in names]
        if not hits:
            cond = ", ".join(f"{k}" for k in c.where) or "any object"
            return False, f"{c.resource}: none ({cond})"
        h = hits[0]
        shown = {k: h.get(k) for k in ("name", *c.where) if h.get(k) is not None}
        detail = ", ".join(f"{k}={_short(v, 60)}" for k, v in shown.items())
        more = f" (+{len(hits) - 1} more)" if len(hits) > 1 else ""
        return True, f"{c.resource}: {detail}{more}"

    async def role(self, name: str, rule: RoleRule) -> tuple[Precondition, str]:
        if rule.always == "met":
            return Precondition.MET, "every deployment"
        if rule.not_decidable is not None:
            return Precondition.UNKNOWN, f"not decidable by NITRO: {rule.not_decidable}"
        unknown: list[str] = []
        absent: list[str] = []
        for alt in rule.any_of:
            states = []
            for c in alt:
                v, why = await self.check(c)
                states.append((v, why))
                if v is False:
                    break
            vals = [v for v, _ in states]
            if vals and all(v is True for v in vals) and len(vals) == len(alt):
                return Precondition.MET, "; ".join(w for _, w in states)
            if any(v is False for v in vals):
                absent.append(next(w for v, w in states if v is False))
            else:
                unknown.append(next(w for v, w in states if v is None))
        if unknown:
            return Precondition.UNKNOWN, "; ".join(unknown)
        if rule.absent_means == "unknown":
            return Precondition.UNKNOWN, "not found in " + "; ".join(absent) + " (other places not read)"
        return Precondition.NOT_MET, "; ".join(absent)


async def read_appliance(fetcher: Any, nmap: NitroMap, *, file_dirs: Sequence[tuple[str, Mapping[str, str]]] = (),
                         roles: Sequence[str] | None = None) -> NitroRead:
    """Read version, hardware, roles, mitigations and (with ``file_dirs``) directory listings.

    ``file_dirs``: (directory, {file name: indicator path}) pairs to list with systemfile.
    Never raises for network or answer problems; they are notes and a status."""
    out = NitroRead(address=fetcher.base_url)
    rd = _Reader(fetcher, nmap, out)
    url = rd.url(nmap.version.resource)
    vers = await rd.get(nmap.version.resource)
    if out.status in ("rejected", "disabled", "unreachable", "error"):
        return out
    if vers:
        text = str(vers[0].get(nmap.version.field, "")).strip()
        out.version_text = _short(text, 200) or None
        if text:
            try:
                out.build = parse_build(text)
            except BuildError as e:
                out.notes.append(f"NITRO: {nmap.version.resource}.{nmap.version.field} is not a build: {e}")
        if out.build is not None:
            out.evidence.append(Evidence("nitro", f"{nmap.version.resource}.{nmap.version.field} = {out.version_text!r}",
                                         url, Confidence.HIGH))
    hw = await rd.get(nmap.hardware.resource)
    if hw:
        out.platform = _short(hw[0].get(nmap.hardware.field, ""), 80) or None
        if out.platform:
            out.evidence.append(Evidence("nitro", f"{nmap.hardware.resource}.{nmap.hardware.field} = {out.platform!r}",
                                         rd.url(nmap.hardware.resource), Confidence.HIGH))
    # Edition: what the appliance calls itself; else, when it answered, the build's natural train.
    if out.build is not None:
        ed: Edition | None = None
        for erule in nmap.editions:
            items = await rd.get(erule.resource)
            if items is None:
                continue
            val = str(items[0].get(erule.field, "")) if items else ""
            if val and re.search(erule.regex, val):
                ed = Edition(erule.edition)
                out.edition_evidence = f"{erule.resource}.{erule.field} = {_short(val, 80)!r} names {ed.label or ed.value}"
                break
        if ed is None and hw is not None and Edition.STANDARD in edition_candidates(out.build):
            ed = Edition.STANDARD
            out.edition_evidence = (f"{nmap.hardware.resource}.{nmap.hardware.field} and the version string name no "
                                    "FIPS/NDcPP edition")
        if ed is not None:
            out.build = out.build.with_edition(ed)
            out.evidence.append(Evidence("nitro", f"edition {ed.value}: {out.edition_evidence}",
                                         rd.url(nmap.hardware.resource), Confidence.HIGH))
    for name, rule in nmap.roles.items():
        if roles is not None and name not in roles:
            continue
        state, why = await rd.role(name, rule)
        out.facts[name] = state
        out.role_evidence[name] = Evidence("nitro", f"role {name} {state.value}: {why}", None,
                                           Confidence.HIGH if state is not Precondition.UNKNOWN else Confidence.LOW)
    for m in nmap.mitigations:
        v, why = await rd.check(m.check)
        if v:
            out.mitigations[m.advisory] = Evidence("nitro", f"mitigation {m.id} in place ({m.title}): {why}",
                                                   rd.url(m.check.resource), Confidence.HIGH)
        elif v is None and not rd.stopped:
            out.notes.append(f"NITRO: could not check mitigation {m.id} for {m.advisory}: {why}")
    if file_dirs and not rd.stopped:
        await _files(rd, file_dirs)
    elif file_dirs:
        out.files_coverage = "systemfile listing not done: the NITRO read stopped early"
    if out.forbidden and out.status == "ok":
        out.status = "partial"
    return out


async def _files(rd: _Reader, file_dirs: Sequence[tuple[str, Mapping[str, str]]]) -> None:
    out = rd.out
    listed = 0
    for directory, names in file_dirs:
        path = systemfile_path(directory)
        before = len(out.forbidden)
        items = await rd.get("systemfile", path, missing_ok=True)
        if len(out.forbidden) > before:
            out.files_coverage = ("systemfile not permitted for this account: webshell file names were not "
                                  "looked for on disk (needs a command policy allowing 'show system file')")
            return
        if rd.stopped:
            break
        if items is None:
            continue
        listed += 1
        present = {str(i.get("filename", "")): i for i in items if "DIRECTORY" not in str(i.get("filemode", ""))}
        for fname, ioc_path in names.items():
            it = present.get(fname)
            if it is None:
                continue
            full = directory + fname
            out.file_hits.append(Indicator(
                id="NSC-IOC-NITRO-FILE", title=f"webshell/artefact file name on disk: {full}", check="nitro_file",
                severity=Severity.CRITICAL, confidence=Confidence.HIGH,
                evidence=(f"systemfile lists {full} (size {_short(it.get('filesize', '?'), 20)}, modified "
                          f"{_short(it.get('filemodifiedtime', '?'), 40)}); published indicator path {ioc_path}"),
                path=full, file={"size": it.get("filesize"), "mtime": it.get("filemodifiedtime")},
                advice=("Treat the appliance as compromised: isolate it, preserve evidence (nscheck triage on a "
                        "support bundle), rebuild from a clean image, rotate credentials, report to your CSIRT."),
            ))
    if out.files_coverage is None:
        out.files_coverage = f"systemfile: listed {listed} of {len(file_dirs)} directories for webshell file names"
