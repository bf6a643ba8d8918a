"""The result model every stage exchanges and every report renders.

Stages pass these frozen dataclasses, never dicts or HTTP responses. ``to_dict`` gives the
documented JSON contract (``nscheck.host/1`` for scans, ``nscheck.triage/1`` for triage); the
report formats and the state store all start from these objects (or from that JSON, via
``HostResult.from_dict``, when re-rendering saved results).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

HOST_SCHEMA = "nscheck.host/1"
TRIAGE_SCHEMA = "nscheck.triage/1"


class Verdict(StrEnum):
    VULNERABLE = "vulnerable"
    NOT_VULNERABLE = "not_vulnerable"
    UNKNOWN = "unknown"
    # The build is affected and the preconditions hold, but an interim mitigation the bulletin
    # names is in place (seen over NITRO). Never "not vulnerable": the fix is still missing and a
    # mitigation can be unbound; it counts like vulnerable for exit codes.
    MITIGATED = "mitigated"


class Precondition(StrEnum):
    MET = "met"
    NOT_MET = "not_met"
    UNKNOWN = "unknown"


class HostStatus(StrEnum):
    OK = "ok"
    UNREACHABLE = "unreachable"
    ERROR = "error"


class Confidence(StrEnum):
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


class Severity(StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    INFO = "info"

    @property
    def rank(self) -> int:
        return {"critical": 4, "high": 3, "medium": 2, "low": 1, "info": 0}[self.value]

    @classmethod
    def from_cvss(cls, score: float | None) -> Severity:
        # CVSS v3/v4 qualitative bands; unknown score is treated as high so it is not hidden.
        if score is None:
            return cls.HIGH
        if score >= 9.0:
            return cls.CRITICAL
        if score >= 7.0:
            return cls.HIGH
        if score >= 4.0:
            return cls.MEDIUM
        if score > 0:
            return cls.LOW
        return cls.INFO


class HostVerdict(StrEnum):
    """The one-word answer per host (Principle 2: these are different answers)."""

    VULNERABLE = "vulnerable"
    NOT_VULNERABLE = "not_vulnerable"
    UNKNOWN = "unknown"
    UNREACHABLE = "unreachable"
    NOT_NETSCALER = "not_netscaler"
    COMPROMISED = "compromised"  # an indicator of compromise was found


class VerdictBasis(StrEnum):
    """What a bulletin verdict rests on (issue 11 §3)."""

    BUILD = "build"  # the build, or every candidate build, judged on its own train
    FLOOR = "floor"  # only a floor is known ("14.1-60.58 or later")
    DATED = "dated"  # only a compile date is known: the bulletin's fix dates decide


class QuestionKind(StrEnum):
    BUILD = "build"  # the exact build would decide it
    EDITION = "edition"  # the edition (FIPS or NDcPP, standard or FIPS) would decide it
    CONFIG = "config"  # a configuration fact (one of ``roles``) would decide it
    DATA = "data"  # a gap in the bulletin data: only a vendor fact decides it


@dataclass(frozen=True, slots=True)
class OpenQuestion:
    """The one thing that would decide an ``unknown`` verdict, for the owner to answer."""

    kind: QuestionKind
    question: str  # "SAML IdP configured?", "exact build?"
    roles: tuple[str, ...] = ()  # config questions: the roles (manifest names) to confirm

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind.value, "question": self.question, "roles": list(self.roles)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> OpenQuestion:
        return cls(QuestionKind(d.get("kind", "build")), d.get("question", ""), tuple(d.get("roles") or ()))


@dataclass(frozen=True, slots=True)
class Evidence:
    """One observation that supports a conclusion: which method, what it saw, where."""

    method: str
    detail: str
    url: str | None = None
    confidence: Confidence = Confidence.MEDIUM

    def to_dict(self) -> dict[str, Any]:
        return {"method": self.method, "detail": self.detail, "url": self.url, "confidence": self.confidence.value}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Evidence:
        return cls(d["method"], d.get("detail", ""), d.get("url"), Confidence(d.get("confidence", "medium")))


@dataclass(frozen=True, slots=True)
class Certificate:
    subject: str
    issuer: str
    sans: tuple[str, ...] = ()
    not_after: str | None = None
    sha256: str | None = None
    default_netscaler: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "subject": self.subject,
            "issuer": self.issuer,
            "sans": list(self.sans),
            "not_after": self.not_after,
            "sha256": self.sha256,
            "default_netscaler": self.default_netscaler,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Certificate:
        return cls(
            d.get("subject", ""), d.get("issuer", ""), tuple(d.get("sans") or ()), d.get("not_after"),
            d.get("sha256"), bool(d.get("default_netscaler")),
        )


@dataclass(frozen=True, slots=True)
class ProductInfo:
    is_netscaler: bool | None
    roles: tuple[str, ...] = ()
    confidence: Confidence = Confidence.LOW
    evidence: tuple[Evidence, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "is_netscaler": self.is_netscaler,
            "roles": list(self.roles),
            "confidence": self.confidence.value,
            "evidence": [e.to_dict() for e in self.evidence],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ProductInfo:
        return cls(
            d.get("is_netscaler"), tuple(d.get("roles") or ()), Confidence(d.get("confidence", "low")),
            tuple(Evidence.from_dict(e) for e in d.get("evidence") or ()),
        )


@dataclass(frozen=True, slots=True)
class BuildInfo:
    """What is known of the running build: exact, or a candidate set."""

    release: str | None
    build: str | None  # exact build number ("43.50") or None when only candidates are known
    edition: str | None  # "standard" | "fips" | "ndcpp" | None (unknown / several)
    exact: bool
    candidates: tuple[str, ...]  # "14.1-43.50" or "13.1-37.241 FIPS"
    methods: tuple[Evidence, ...] = ()
    confidence: Confidence = Confidence.MEDIUM
    conflict: str | None = None  # methods that disagree, said plainly
    floor: str | None = None  # "at least" build when only a floor is known
    compiled: str | None = None  # ISO-8601 UTC compile time when a stamp or file dates bound the build

    def to_dict(self) -> dict[str, Any]:
        return {
            "release": self.release,
            "build": self.build,
            "edition": self.edition,
            "exact": self.exact,
            "candidates": list(self.candidates),
            "methods": [m.to_dict() for m in self.methods],
            "confidence": self.confidence.value,
            "conflict": self.conflict,
            "floor": self.floor,
            "compiled": self.compiled,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> BuildInfo:
        return cls(
            d.get("release"), d.get("build"), d.get("edition"), bool(d.get("exact")),
            tuple(d.get("candidates") or ()), tuple(Evidence.from_dict(e) for e in d.get("methods") or ()),
            Confidence(d.get("confidence", "medium")), d.get("conflict"), d.get("floor"), d.get("compiled"),
        )


# The keys of a CVE detail as the engine writes them, in order; "name" and "requires_applies"
# follow only when they say something.
_CVE_KEYS = ("id", "cvss", "cvss_confirmed", "type", "cwe", "kev_added", "kev_confirmed", "precondition", "requires",
             "build_affected", "precondition_state", "verdict", "reason")
_UNREAD = object()  # a saved value of the wrong JSON type: kept as read, in CveDetail.other


def _opt_str(v: Any) -> Any:
    return v if v is None or isinstance(v, str) else _UNREAD


def _opt_bool(v: Any) -> Any:
    return v if v is None or isinstance(v, bool) else _UNREAD


def _opt_number(v: Any) -> Any:
    # an int stays an int, so a saved 10 is written back as 10, not 10.0
    return v if v is None or (isinstance(v, int | float) and not isinstance(v, bool)) else _UNREAD


def _opt_requires(v: Any) -> Any:
    if v is None:
        return None
    if isinstance(v, list) and all(isinstance(g, list) and all(isinstance(r, str) for r in g) for g in v):
        return tuple(tuple(g) for g in v)
    return _UNREAD


def _opt_enum(kind: type[StrEnum]) -> Any:
    def read(v: Any) -> Any:
        if v is None:
            return None
        try:
            return kind(v)
        except ValueError:
            return _UNREAD
    return read


@dataclass(frozen=True, slots=True)
class CveDetail:
    """How one CVE of a bulletin was judged on this host (``AdvisoryResult.cve_details``).

    The engine fills every field. A detail read back from a saved result keeps exactly the keys
    it had, in their order (``keys``), and whatever this version does not know or cannot type
    (``other``), so a saved result is written back byte for byte."""

    id: str
    cvss: float | None = None
    cvss_confirmed: bool | None = None  # False: the score is not yet confirmed by NVD/Citrix
    type: str | None = None  # the bulletin's vulnerability type ("Memory overflow")
    cwe: str | None = None
    kev_added: str | None = None  # the day CISA added the CVE to KEV
    kev_confirmed: bool | None = None  # None when not on KEV
    precondition: str | None = None  # the bulletin's own words
    requires: tuple[tuple[str, ...], ...] | None = None  # roles that had to be configured (CNF); None: not known
    build_affected: bool | None = None
    precondition_state: Precondition | None = None
    verdict: Verdict | None = None
    reason: str | None = None
    name: str | None = None  # the common name ("CitrixBleed 2"), when there is one
    requires_applies: str | None = None  # a build-dependent precondition applied ("from 14.1-73.37 on")
    other: tuple[tuple[str, Any], ...] = ()
    keys: tuple[str, ...] | None = field(default=None, compare=False)  # None: as the engine writes it

    def other_value(self, key: str) -> Any:
        """A saved key this version does not model (e.g. an exploitation date), or None."""
        return next((v for k, v in self.other if k == key), None)

    def to_dict(self) -> dict[str, Any]:
        keys = self.keys
        if keys is None:
            keys = (*_CVE_KEYS, *(("name",) if self.name else ()), *(("requires_applies",) if self.requires_applies else ()),
                    *(k for k, _ in self.other))
        other = dict(self.other)
        out: dict[str, Any] = {}
        for k in keys:
            if k in other:
                out[k] = other[k]
                continue
            v = getattr(self, k)
            if k == "requires" and v is not None:
                v = [list(g) for g in v]
            elif isinstance(v, StrEnum):
                v = v.value
            out[k] = v
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CveDetail:
        typed: dict[str, Any] = {}
        other: list[tuple[str, Any]] = []
        for k, v in d.items():
            read = _CVE_READ.get(k)
            got = read(v) if read is not None else _UNREAD
            if got is _UNREAD:
                other.append((k, v))
            else:
                typed[k] = got
        return cls(**{"id": "", **typed}, other=tuple(other), keys=tuple(d))


_CVE_READ: dict[str, Any] = {
    "id": lambda v: v if isinstance(v, str) else _UNREAD, "cvss": _opt_number, "cvss_confirmed": _opt_bool,
    "type": _opt_str, "cwe": _opt_str, "kev_added": _opt_str, "kev_confirmed": _opt_bool, "precondition": _opt_str,
    "requires": _opt_requires, "build_affected": _opt_bool, "precondition_state": _opt_enum(Precondition),
    "verdict": _opt_enum(Verdict), "reason": _opt_str, "name": _opt_str, "requires_applies": _opt_str,
}


@dataclass(frozen=True, slots=True)
class AdvisoryResult:
    """The verdict of one bulletin for one host."""

    id: str  # CTX id
    cves: tuple[str, ...]
    verdict: Verdict
    build_affected: bool | None
    precondition: Precondition
    fixed_in: str | None  # first fixed build on this host's train, None when no fix / not applicable
    reason: str
    title: str = ""
    eol: bool = False
    cvss: float | None = None  # highest CVSS of the bulletin's CVEs
    severity: Severity = Severity.HIGH
    kev: bool = False
    exploited: bool = False
    published: str | None = None
    actions: tuple[str, ...] = ()
    unconfirmed: tuple[str, ...] = ()
    cve_details: tuple[CveDetail, ...] = ()  # how each of its CVEs was judged
    method: str = ""  # what decided the verdict when not the remote scan alone: "nitro"
    evidence: tuple[Evidence, ...] = ()  # NITRO resource/field/value behind the verdict
    basis: VerdictBasis = VerdictBasis.BUILD
    open_question: OpenQuestion | None = None  # unknown verdicts: what would decide it

    @property
    def names(self) -> tuple[str, ...]:
        """Common names of the bulletin's CVEs ("CitrixBleed 2"): the per-CVE ``name`` of the
        bulletin data, else a trailing "(Name)" in the title of older saved results."""
        names = [c.name for c in self.cve_details if c.name]
        if not names and self.title.endswith(")") and "(" in self.title:
            tail = self.title[self.title.rindex("(") + 1:-1].strip()
            if tail and "CVE-" not in tail and len(tail) <= 40:
                names = [tail]
        return tuple(dict.fromkeys(names))

    def to_dict(self) -> dict[str, Any]:
        d = self._base_dict()
        if self.method:
            d["method"] = self.method
        if self.evidence:
            d["evidence"] = [e.to_dict() for e in self.evidence]
        return d

    def _base_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "cves": list(self.cves),
            "verdict": self.verdict.value,
            "build_affected": self.build_affected,
            "precondition": self.precondition.value,
            "fixed_in": self.fixed_in,
            "eol": self.eol,
            "reason": self.reason,
            "cvss": self.cvss,
            "severity": self.severity.value,
            "kev": self.kev,
            "exploited": self.exploited,
            "published": self.published,
            "actions": list(self.actions),
            "unconfirmed": list(self.unconfirmed),
            "cve_details": [c.to_dict() for c in self.cve_details],
            "basis": self.basis.value,
            "open_question": self.open_question.to_dict() if self.open_question else None,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> AdvisoryResult:
        return cls(
            id=d["id"], cves=tuple(d.get("cves") or ()), verdict=Verdict(d["verdict"]),
            build_affected=d.get("build_affected"), precondition=Precondition(d.get("precondition", "unknown")),
            fixed_in=d.get("fixed_in"), reason=d.get("reason", ""), title=d.get("title", ""),
            eol=bool(d.get("eol")), cvss=d.get("cvss"), severity=Severity(d.get("severity", "high")),
            kev=bool(d.get("kev")), exploited=bool(d.get("exploited")), published=d.get("published"),
            actions=tuple(d.get("actions") or ()), unconfirmed=tuple(d.get("unconfirmed") or ()),
            cve_details=tuple(CveDetail.from_dict(c) for c in d.get("cve_details") or () if isinstance(c, dict)),
            method=d.get("method") or "",
            evidence=tuple(Evidence.from_dict(e) for e in d.get("evidence") or ()),
            basis=VerdictBasis(d.get("basis", "build")),
            open_question=OpenQuestion.from_dict(d["open_question"]) if d.get("open_question") else None,
        )


@dataclass(frozen=True, slots=True)
class Indicator:
    """An indicator-of-compromise hit, remote (url) or offline (path inside the appliance)."""

    id: str  # rule id
    title: str
    severity: Severity
    confidence: Confidence
    evidence: str  # trimmed, escaped snippet / reason
    check: str = ""  # family, e.g. "webshell", "portal_exfil"
    url: str | None = None
    path: str | None = None
    line: int | None = None
    file: dict[str, Any] | None = None  # {"size", "mtime", "sha256", ...} for triage hits
    references: tuple[str, ...] = ()
    advice: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "check": self.check,
            "severity": self.severity.value,
            "confidence": self.confidence.value,
            "url": self.url,
            "path": self.path,
            "line": self.line,
            "evidence": self.evidence,
            "file": dict(self.file) if self.file is not None else None,
            "references": list(self.references),
            "advice": self.advice,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Indicator:
        return cls(
            id=d["id"], title=d.get("title", ""), severity=Severity(d.get("severity", "high")),
            confidence=Confidence(d.get("confidence", "medium")), evidence=d.get("evidence", ""),
            check=d.get("check", ""), url=d.get("url"), path=d.get("path"), line=d.get("line"),
            file=d.get("file"), references=tuple(d.get("references") or ()), advice=d.get("advice", ""),
        )


@dataclass(frozen=True, slots=True)
class Remediation:
    """What to do: the minimum upgrade that closes every open bulletin on the host's train."""

    upgrade_to: str | None  # e.g. "14.1-47.48"; None when nothing open or no fix on the train
    move_train: bool = False  # EOL train: move to a supported train
    summary: str = ""
    actions: tuple[str, ...] = ()  # vendor post-patch actions of the open bulletins
    check_compromise: bool = False  # vulnerable to a bulletin exploited in the wild

    def to_dict(self) -> dict[str, Any]:
        return {
            "upgrade_to": self.upgrade_to,
            "move_train": self.move_train,
            "summary": self.summary,
            "actions": list(self.actions),
            "check_compromise": self.check_compromise,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Remediation:
        return cls(
            d.get("upgrade_to"), bool(d.get("move_train")), d.get("summary", ""),
            tuple(d.get("actions") or ()), bool(d.get("check_compromise")),
        )


class SkipKind(StrEnum):
    """Why something was not done, for machines. The first four are expected gaps; the last two
    mean a check could not run as designed: they count as unknown for the exit code (and fail a
    ``--strict`` run), since a check that broke says nothing about the host."""

    DISABLED = "disabled"  # switched off by an option (--no-indicators, --indicator-paths none, no YARA)
    NOT_APPLICABLE = "not_applicable"  # nothing to do here (not NetScaler, build already exact, no login page)
    BUDGET = "budget"  # --request-budget or a per-host cap reached
    DEADLINE = "deadline"  # --host-deadline reached
    DATA_ERROR = "data_error"  # input data unusable (rules, an unreadable artefact, a broken answer)
    INTERNAL_ERROR = "internal_error"  # a bug: an exception inside a check

    @property
    def is_error(self) -> bool:
        return self in (SkipKind.DATA_ERROR, SkipKind.INTERNAL_ERROR)


@dataclass(frozen=True, slots=True)
class Skipped:
    """An explicit 'not done, and why' instead of silence (a check, a method, a path)."""

    what: str
    reason: str
    kind: SkipKind = SkipKind.NOT_APPLICABLE

    def to_dict(self) -> dict[str, Any]:
        return {"what": self.what, "reason": self.reason, "kind": self.kind.value}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Skipped:
        reason = d.get("reason", "")
        try:
            kind = SkipKind(d["kind"])
        except (KeyError, ValueError):
            # results saved before skips had a kind: an internal error said so in its reason
            kind = SkipKind.INTERNAL_ERROR if "internal error" in reason else SkipKind.NOT_APPLICABLE
        return cls(d["what"], reason, kind)


def _opt_int(v: Any) -> Any:
    return v if v is None or (isinstance(v, int) and not isinstance(v, bool)) else _UNREAD


def _opt_obj(v: Any) -> Any:
    return v if v is None or isinstance(v, dict) else _UNREAD


def _opt_strs(v: Any) -> Any:
    if v is None:
        return None
    return tuple(v) if isinstance(v, list) and all(isinstance(x, str) for x in v) else _UNREAD


def _opt_notes(v: Any) -> Any:
    # a list of {"area"/"path", ...} objects; older results wrote the same facts as plain strings
    if v is None:
        return None
    return tuple(v) if isinstance(v, list) and all(isinstance(x, dict | str) for x in v) else _UNREAD


def _opt_objs(v: Any) -> Any:
    if v is None:
        return None
    return tuple(v) if isinstance(v, list) and all(isinstance(x, dict) for x in v) else _UNREAD


@dataclass(frozen=True, slots=True)
class Coverage:
    """What a triage looked at and, as prominently, what it could not (``HostResult.coverage``).

    Triage shapes differ (a full run, an unreadable source, a live collection that could not run
    'shell'), so every field is optional and only the keys a record has are written, in the
    order it had them (``keys``); the nested sections stay plain JSON objects, as each check
    family reports its own counters. A key this version does not model (or of the wrong JSON
    type, from a saved result) is kept as read in ``other``: saved results are written back
    byte for byte."""

    summary: str | None = None  # one paragraph: what was triaged, what was not, what was found
    source: dict[str, Any] | None = None  # path, type, entries, files, bytes_read, duration_s
    sources: tuple[dict[str, Any], ...] | None = None  # every input (a bundle plus a /var copy)
    collector_bundles: tuple[str, ...] | None = None
    collector_shell_outputs: int | None = None
    collected_at: str | None = None  # the reference time of the recent-change and timestomp checks
    collected_at_source: str | None = None
    metadata: dict[str, Any] | None = None  # which file metadata the artefacts keep
    families: dict[str, Any] | None = None  # check family -> {status, rules, entries_examined, hits, reason, ...}
    areas_present: dict[str, int] | None = None
    missing: tuple[dict[str, Any] | str, ...] | None = None  # {"area", "unchecked"}: expected areas not collected
    logs: dict[str, Any] | None = None
    refused: tuple[dict[str, Any] | str, ...] | None = None  # members refused: {"what", "path", "reason"} (first 200)
    refused_count: int | None = None
    unreadable: tuple[dict[str, Any], ...] | None = None  # {"path", "reason"}
    unreadable_count: int | None = None
    content_truncated_files: int | None = None
    extras: dict[str, Any] | None = None  # optional extras: "available" / "not installed"
    config: dict[str, Any] | None = None
    next_steps: tuple[str, ...] | None = None
    budgets: dict[str, Any] | None = None  # limits, what was used, what was cut
    errors: tuple[str, ...] | None = None  # sources that failed part-way
    error: str | None = None  # nothing could be read (or the live collection failed)
    live: dict[str, Any] | None = None  # live SSH triage: what ran on the appliance
    other: tuple[tuple[str, Any], ...] = ()
    keys: tuple[str, ...] | None = field(default=None, compare=False)  # None: the set fields, in field order

    def __bool__(self) -> bool:
        # an empty record says nothing was looked at, as the empty object always did
        return bool(self.keys) if self.keys is not None else bool(self.to_dict())

    def has(self, key: str) -> bool:
        """Whether the record carries ``key`` (a null value counts: "collected_at": null)."""
        if self.keys is not None:
            return key in self.keys
        return any(k == key for k, _ in self.other) or (key in _COVERAGE_READ and getattr(self, key) is not None)

    def to_dict(self) -> dict[str, Any]:
        other = dict(self.other)
        keys = self.keys
        if keys is None:
            keys = (*(k for k in _COVERAGE_READ if getattr(self, k) is not None), *other)
        out: dict[str, Any] = {}
        for k in keys:
            if k in other:
                out[k] = other[k]
                continue
            v = getattr(self, k)
            out[k] = list(v) if isinstance(v, tuple) else v
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Coverage:
        typed: dict[str, Any] = {}
        other: list[tuple[str, Any]] = []
        for k, v in d.items():
            read = _COVERAGE_READ.get(k)
            got = read(v) if read is not None else _UNREAD
            if got is _UNREAD:
                other.append((k, v))
            else:
                typed[k] = got
        return cls(**typed, other=tuple(other), keys=tuple(d))


_COVERAGE_READ: dict[str, Any] = {
    "summary": _opt_str, "source": _opt_obj, "sources": _opt_objs, "collector_bundles": _opt_strs,
    "collector_shell_outputs": _opt_int, "collected_at": _opt_str, "collected_at_source": _opt_str,
    "metadata": _opt_obj, "families": _opt_obj, "areas_present": _opt_obj,
    "missing": _opt_notes, "logs": _opt_obj, "refused": _opt_notes, "refused_count": _opt_int,
    "unreadable": _opt_objs, "unreadable_count": _opt_int, "content_truncated_files": _opt_int, "extras": _opt_obj,
    "config": _opt_obj, "next_steps": _opt_strs, "budgets": _opt_obj, "errors": _opt_strs, "error": _opt_str,
    "live": _opt_obj,
}


@dataclass(frozen=True, slots=True)
class HostResult:
    """One target's complete result. ``kind`` is "scan" or "triage"."""

    target: str
    status: HostStatus
    url: str | None = None
    error: str | None = None
    product: ProductInfo = field(default_factory=lambda: ProductInfo(None))
    build: BuildInfo | None = None
    advisories: tuple[AdvisoryResult, ...] = ()
    indicators: tuple[Indicator, ...] = ()
    remediation: Remediation | None = None
    certificate: Certificate | None = None
    requests_sent: int = 0
    duration_ms: int = 0
    skipped: tuple[Skipped, ...] = ()
    kind: str = "scan"
    coverage: Coverage | None = None  # triage: what was and was not looked at
    started: str | None = None  # ISO-8601 UTC
    extra: dict[str, Any] = field(default_factory=dict)  # state transitions, suppression marks, ...

    @property
    def verdict(self) -> HostVerdict:
        if self.indicators:
            return HostVerdict.COMPROMISED
        if self.status is not HostStatus.OK:
            return HostVerdict.UNREACHABLE if self.status is HostStatus.UNREACHABLE else HostVerdict.UNKNOWN
        if self.kind == "scan" and self.product.is_netscaler is False:
            return HostVerdict.NOT_NETSCALER
        if any(a.verdict in (Verdict.VULNERABLE, Verdict.MITIGATED) for a in self.advisories):
            # Mitigated is not patched: the host stays vulnerable; the bulletin row says mitigated.
            return HostVerdict.VULNERABLE
        # A triage with no build found says nothing about bulletins: no hits is not "not vulnerable".
        if not self.advisories or any(a.verdict is Verdict.UNKNOWN for a in self.advisories):
            return HostVerdict.UNKNOWN
        return HostVerdict.NOT_VULNERABLE

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "schema": TRIAGE_SCHEMA if self.kind == "triage" else HOST_SCHEMA,
            "kind": self.kind,
            "target": self.target,
            "url": self.url,
            "status": self.status.value,
            "error": self.error,
            "verdict": self.verdict.value,
            "product": self.product.to_dict(),
            "build": self.build.to_dict() if self.build else None,
            "advisories": [a.to_dict() for a in self.advisories],
            "indicators": [i.to_dict() for i in self.indicators],
            "remediation": self.remediation.to_dict() if self.remediation else None,
            "certificate": self.certificate.to_dict() if self.certificate else None,
            "requests_sent": self.requests_sent,
            "duration_ms": self.duration_ms,
            "skipped": [s.to_dict() for s in self.skipped],
            "started": self.started,
        }
        if self.kind == "triage":
            d["source"] = self.target
            d["coverage"] = self.coverage.to_dict() if self.coverage is not None else {}
        if self.extra:
            d["extra"] = dict(self.extra)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> HostResult:
        return cls(
            target=d.get("target") or d.get("source") or "",
            status=HostStatus(d.get("status", "ok")),
            url=d.get("url"),
            error=d.get("error"),
            product=ProductInfo.from_dict(d["product"]) if d.get("product") else ProductInfo(None),
            build=BuildInfo.from_dict(d["build"]) if d.get("build") else None,
            advisories=tuple(AdvisoryResult.from_dict(a) for a in d.get("advisories") or ()),
            indicators=tuple(Indicator.from_dict(i) for i in d.get("indicators") or ()),
            remediation=Remediation.from_dict(d["remediation"]) if d.get("remediation") else None,
            certificate=Certificate.from_dict(d["certificate"]) if d.get("certificate") else None,
            requests_sent=int(d.get("requests_sent") or 0),
            duration_ms=int(d.get("duration_ms") or 0),
            skipped=tuple(Skipped.from_dict(s) for s in d.get("skipped") or ()),
            kind=d.get("kind", "triage" if d.get("schema") == TRIAGE_SCHEMA else "scan"),
            coverage=Coverage.from_dict(d["coverage"]) if isinstance(d.get("coverage"), dict) else None,
            started=d.get("started"),
            extra=dict(d.get("extra") or {}),
        )


# -- run records: one per scan / triage run, written by the runner, read by state and report --


@dataclass(frozen=True, slots=True)
class RunInfo:
    run_id: str
    started: str  # ISO-8601 UTC
    kind: str  # "scan" | "triage"
    tool_version: str
    signatures_version: str | None = None
    signatures_date: str | None = None
    command: str = ""
    shard: str | None = None  # "K/N"


@dataclass(frozen=True, slots=True)
class RunSummary:
    run: RunInfo
    ended: str
    duration_ms: int
    hosts: int
    counts: dict[str, int]  # by HostVerdict value
    partial: bool = False  # stopped early (signal): not every target was scanned
    requests_sent: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


# -- findings: the flattened view that SIEM output, CSV and the state store share ------------


class FindingKind(StrEnum):
    ADVISORY = "advisory"  # a bulletin that is vulnerable or unknown on this host
    INDICATOR = "indicator"  # an indicator of compromise hit
    ASSESSMENT = "assessment"  # e.g. compromise-assessment-required (state stage)


def host_key(result: HostResult) -> str:
    """A stable identity for a host across runs: the URL's host:port when known, else the target."""
    from urllib.parse import urlsplit

    if result.url:
        parts = urlsplit(result.url)
        if parts.hostname:
            host = parts.hostname.lower()
            port = parts.port or (443 if parts.scheme == "https" else 80)
            if ":" in host:
                host = f"[{host}]"
            return f"{host}:{port}"
    return result.target.strip().lower()


def finding_id(key: str, kind: FindingKind | str, rule_id: str) -> str:
    """Stable across runs: no time, no build, no verdict in it (only who, what kind, which rule)."""
    import hashlib

    # surrogatepass: a name decoded with surrogateescape (non-UTF-8 bytes) is data, never a crash
    raw = f"{key}|{FindingKind(kind).value}|{rule_id}".encode("utf-8", "surrogatepass")
    return "nsf-" + hashlib.sha256(raw).hexdigest()[:24]


@dataclass(frozen=True, slots=True)
class Finding:
    id: str  # finding_id(...)
    kind: FindingKind
    rule_id: str  # CTX id, indicator rule id, or assessment id
    host: str  # host_key
    target: str
    title: str
    severity: Severity
    status: str  # advisory verdict ("vulnerable"/"unknown") or "hit" for indicators
    cves: tuple[str, ...] = ()
    confidence: Confidence | None = None
    advisory: AdvisoryResult | None = None
    indicator: Indicator | None = None
    suppressed: bool = False
    transition: str | None = None  # new / unchanged / resolved / regressed (state stage)
    extra: dict[str, Any] = field(default_factory=dict)


def indicator_rule_key(i: Indicator) -> str:
    """What makes one indicator hit a distinct finding: the rule, where it was seen and, for a
    file, the line (one rule can hit several lines of one file, e.g. rc.netscaler)."""
    where = i.path or i.url
    if not where:
        return i.id
    return f"{i.id}@{where}" + (f":{i.line}" if i.line is not None else "")


def findings_of(result: HostResult) -> list[Finding]:
    """Every finding of one host: bulletins that are vulnerable or unknown, and indicator hits."""
    key = host_key(result)
    out: list[Finding] = []
    for a in result.advisories:
        if a.verdict is Verdict.NOT_VULNERABLE:
            continue
        out.append(
            Finding(
                id=finding_id(key, FindingKind.ADVISORY, a.id), kind=FindingKind.ADVISORY, rule_id=a.id,
                host=key, target=result.target, title=a.title or a.id, severity=a.severity,
                status=a.verdict.value, cves=a.cves, advisory=a,
            )
        )
    seen: set[str] = set()
    for i in result.indicators:
        rid = indicator_rule_key(i)
        if rid in seen:
            continue  # the same rule at the same place twice is one finding (first evidence kept)
        seen.add(rid)
        out.append(
            Finding(
                id=finding_id(key, FindingKind.INDICATOR, rid), kind=FindingKind.INDICATOR, rule_id=i.id,
                host=key, target=result.target, title=i.title, severity=i.severity, status="hit",
                confidence=i.confidence, indicator=i,
            )
        )
    return out
