"""Exit codes from a running tally, so a 5000-host scan never keeps every result in memory.

0 nothing at or above the threshold; 1 findings at or above ``--fail-on`` (vulnerable bulletins,
severity from CVSS, and indicator hits; unknown bulletins only with ``--fail-on-unknown``;
suppressed findings never); 2 with ``--fail-on-unknown`` when a host is unknown or unreachable
or one of its checks could not run (a skip of kind data_error / internal_error), with
``--strict`` on any such skip, and always when ``--proxy`` refused to reach a host (407, refused CONNECT);
69 signature set older than ``--max-signature-age`` days (checked before scanning).
"""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Iterable
from enum import StrEnum
from pathlib import Path
from typing import Any, TextIO

from nscheck.exitcodes import ExitCode
from nscheck.model import FindingKind, HostResult, HostVerdict, Severity, Verdict, findings_of
from nscheck.probe.types import PROXY_ERROR
from nscheck.report.base import RunInfo, RunSummary
from nscheck.report.text import clean, docs_of, finding_severity, suppressed


class FailOn(StrEnum):
    """``--fail-on``: the lowest severity of a finding that makes the run exit 1."""

    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    ANY = "any"
    NONE = "none"


FAIL_ON = tuple(f.value for f in FailOn)
_THRESHOLD = {"critical": 4, "high": 3, "medium": 2, "low": 1, "any": 0}
WARN_AGE_DAYS = 30


MAX_DISTINCT_ERRORS = 50  # distinct check errors kept for stderr (memory stays flat at 5000 hosts)


class ExitTally:
    """A sink that remembers only what the exit code needs: worst severity per finding class,
    whether any host was unknown/unreachable, and the distinct check errors (skips of kind
    data_error / internal_error) with how many hosts each hit."""

    def __init__(self) -> None:
        self.worst_vulnerable = -1  # rank of the worst unsuppressed vulnerable bulletin / indicator hit
        self.worst_unknown = -1  # rank of the worst unsuppressed unknown bulletin
        self.proxy_failures = 0  # hosts --proxy refused to reach (407...): our setup failed, never "clean"
        self.blind_hosts = 0  # unknown or unreachable hosts, or hosts where a check could not run
        self.error_hosts = 0  # hosts with a data_error / internal_error skip
        self.hosts = 0
        # (kind, what, reason) -> [hosts, first target]; at most MAX_DISTINCT_ERRORS, the rest counted
        self.errors: dict[tuple[str, str, str], list[Any]] = {}
        self.more_errors = 0

    def open(self, run: RunInfo) -> None:
        pass

    def host(self, result: HostResult) -> None:
        self.hosts += 1
        errors = [s for s in result.skipped if s.kind.is_error]
        # A check that broke says nothing about the host: for the exit code that host is unknown.
        if errors or result.verdict in (HostVerdict.UNKNOWN, HostVerdict.UNREACHABLE):
            self.blind_hosts += 1
            if result.kind == "scan" and PROXY_ERROR in (result.error or ""):
                self.proxy_failures += 1
        if errors:
            self.error_hosts += 1
        for key in dict.fromkeys((s.kind.value, s.what, s.reason) for s in errors):
            seen = self.errors.get(key)
            if seen is not None:
                seen[0] += 1
            elif len(self.errors) < MAX_DISTINCT_ERRORS:
                self.errors[key] = [1, result.target]
            else:
                self.more_errors += 1
        for f in findings_of(result):
            if f.suppressed or suppressed(result, f.id):
                continue
            if f.kind is FindingKind.INDICATOR:
                self.worst_vulnerable = max(self.worst_vulnerable, f.severity.rank)
            elif f.advisory is not None:
                rank = finding_severity(f.advisory).rank
                # Mitigated is not patched: it fails the run like vulnerable until the fix is in.
                if f.advisory.verdict in (Verdict.VULNERABLE, Verdict.MITIGATED):
                    self.worst_vulnerable = max(self.worst_vulnerable, rank)
                elif f.advisory.verdict is Verdict.UNKNOWN:
                    self.worst_unknown = max(self.worst_unknown, rank)
        # An open compromise-assessment-required finding (state stage) is the NCSC advice "check
        # for abuse even when patched": it fails the run at its severity until triaged/acked.
        for doc in docs_of(result, "assessments"):
            if doc.get("suppressed") or doc.get("transition") == "resolved":
                continue
            try:
                rank = Severity(doc.get("severity") or "high").rank
            except ValueError:
                rank = Severity.HIGH.rank
            self.worst_vulnerable = max(self.worst_vulnerable, rank)

    def close(self, summary: RunSummary) -> None:
        pass

    def error_lines(self) -> list[str]:
        """One line per distinct check error (for stderr), escaped: reasons can quote host data."""
        out = []
        for (kind, what, reason), (n, first) in self.errors.items():
            hosts = f"{n} hosts, first {clean(first, 100)}" if n > 1 else clean(first, 100)
            out.append(f"nscheck: {kind}: {clean(what, 100)}: {clean(reason, 300)} ({hosts})")
        if self.more_errors:
            out.append(f"nscheck: ... and {self.more_errors} more check error(s) (see each host's skipped list)")
        return out

    def code(self, fail_on: str = "high", fail_on_unknown: bool = False, strict: bool = False) -> ExitCode:
        """``strict``: a check that could not run (data_error / internal_error) fails the run
        with exit 2 even without ``fail_on_unknown`` (findings at the threshold still win: 1)."""
        if fail_on not in FAIL_ON:
            raise ValueError(f"--fail-on must be one of {', '.join(FAIL_ON)}")
        if fail_on != "none":
            need = _THRESHOLD[fail_on]
            worst = max(self.worst_vulnerable, self.worst_unknown if fail_on_unknown else -1)
            if worst >= need:
                return ExitCode.FINDINGS
        if (fail_on_unknown and self.blind_hosts) or (strict and self.error_hosts) or self.proxy_failures:
            return ExitCode.UNKNOWN
        return ExitCode.OK


def exit_code(results_or_tally: Iterable[HostResult] | ExitTally, opts: Any) -> ExitCode:
    """``opts`` needs ``fail_on`` and ``fail_on_unknown`` (a ScanOptions does)."""
    if isinstance(results_or_tally, ExitTally):
        tally = results_or_tally
    else:
        tally = ExitTally()
        for r in results_or_tally:
            tally.host(r)
    return tally.code(getattr(opts, "fail_on", "high") or "high", bool(getattr(opts, "fail_on_unknown", False)),
                      bool(getattr(opts, "strict", False)))


def signatures_date(signatures_dir: str | Path) -> dt.date | None:
    """The ``date`` of signatures/manifest.yaml, or None when absent/unparsable."""
    p = Path(signatures_dir) / "manifest.yaml"
    try:
        import yaml

        data = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
        raw = data.get("date")
        if isinstance(raw, dt.date):
            return raw
        return dt.date.fromisoformat(str(raw)[:10]) if raw else None
    except (OSError, ValueError, TypeError, AttributeError):
        return None
    except Exception:  # yaml.YAMLError: a broken manifest is the signature loader's to report
        return None


def check_signature_age(signatures_dir: str | Path, max_age_days: int | None, *, today: dt.date | None = None,
                        err: TextIO | None = None, quiet: bool = False) -> ExitCode | None:
    """Warn on stderr when the set is older than 30 days (under ``quiet`` only when it is also
    older than ``max_age_days``); return 69 when older than ``max_age_days`` (or undated while a
    maximum is set), else None."""
    err = err or sys.stderr
    today = today or dt.datetime.now(dt.UTC).date()
    date = signatures_date(signatures_dir)
    if date is None:
        if max_age_days is not None:
            err.write(f"nscheck: signature set has no date (manifest.yaml) and --max-signature-age is {max_age_days}\n")
            return ExitCode.SIGNATURES_STALE
        return None
    age = (today - date).days
    over_max = max_age_days is not None and age > max_age_days
    if age > WARN_AGE_DAYS and (not quiet or over_max):
        err.write(f"nscheck: warning: signature set is {age} days old (dated {date.isoformat()}); "
                  "newer bulletins are not checked: run `nscheck signatures update`\n")
    if over_max:
        err.write(f"nscheck: signature set older than --max-signature-age {max_age_days} days: exit 69\n")
        return ExitCode.SIGNATURES_STALE
    return None


__all__ = ["FAIL_ON", "ExitTally", "FailOn", "Severity", "check_signature_age", "exit_code", "signatures_date"]


def signatures_meta(signatures_dir: str | Path) -> dict[str, str | None]:
    """``signatures_version`` / ``signatures_date`` for RunInfo, from manifest.yaml."""
    p = Path(signatures_dir) / "manifest.yaml"
    try:
        import yaml

        data = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
    except Exception:  # absent or broken: the signature loader reports it
        return {}
    ver = data.get("version")
    date = signatures_date(signatures_dir)
    return {"signatures_version": str(ver) if ver is not None else None,
            "signatures_date": date.isoformat() if date else None}
