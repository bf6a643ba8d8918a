"""Suppressions: accepted risks, with a reason, an owner and an expiry date.

File format (YAML, a list)::

    - host: "gw*.example.org"     # glob on host name, host:port or target
      id: CVE-2025-5777           # bulletin (CTX…), CVE, indicator rule id, or finding id; globs ok
      reason: Gateway vServer not exposed; compensating WAF rule 1234
      expires: 2026-12-31         # optional; after this date the finding re-opens loudly
      who: alice@example.org      # optional owner

A suppressed finding is still recorded and exported (``suppressed: true``) but does not count
for the exit code. An expired entry does not suppress; the finding carries
``suppression_expired`` and a warning line goes to stderr.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nscheck.model import Finding
from nscheck.signatures import SignatureError

_KEYS = {"host", "id", "reason", "expires", "who"}
_REQUIRED = ("host", "id", "reason")


class SuppressionError(SignatureError):
    """A problem in a suppressions file (file:line: field: reason)."""


@dataclass(frozen=True, slots=True)
class Suppression:
    host: str
    id: str
    reason: str
    expires: dt.date | None = None
    who: str | None = None
    line: int | None = None

    def expired(self, today: dt.date) -> bool:
        # The expiry date itself is still covered: "expires 2026-12-31" means through that day.
        return self.expires is not None and today > self.expires

    def matches(self, f: Finding) -> bool:
        host = f.host.lower()
        hostname = host.rsplit(":", 1)[0].strip("[]") if ":" in host else host
        names = {host, hostname, f.target.lower()}
        pattern = self.host.lower()
        if not any(fnmatch.fnmatchcase(n, pattern) for n in names):
            return False
        ids = {f.rule_id, f.id, *f.cves}
        if f.indicator is not None:
            ids.add(f.indicator.id)
        pid = self.id.upper()
        return any(fnmatch.fnmatchcase(i.upper(), pid) for i in ids)

    def to_dict(self) -> dict[str, Any]:
        return {
            "host": self.host, "id": self.id, "reason": self.reason,
            "expires": self.expires.isoformat() if self.expires else None, "who": self.who,
        }


def _parse_date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        return dt.date.fromisoformat(value.strip())
    raise ValueError(f"not a date: {value!r}")


def load(path: str | Path) -> list[Suppression]:
    """Read and validate a suppressions file; every problem is reported at once."""
    from nscheck.signatures._yaml import line_of, load_yaml

    p = Path(path)
    data = load_yaml(p)
    if data is None:
        return []
    if isinstance(data, dict) and set(data) == {"suppressions"}:
        data = data["suppressions"]
    if not isinstance(data, list):
        raise SuppressionError(p, "expected a list of suppressions ({host, id, reason, expires, who})", line=1)
    out: list[Suppression] = []
    errors: list[SuppressionError] = []
    for n, entry in enumerate(data, 1):
        if not isinstance(entry, dict):
            errors.append(SuppressionError(p, f"entry {n} is not a mapping"))
            continue
        line = line_of(entry, next(iter(entry), "")) if entry else None
        unknown = sorted(set(entry) - _KEYS)
        for key in unknown:
            errors.append(SuppressionError(p, f"unknown key (allowed: {', '.join(sorted(_KEYS))})", field=str(key), line=line_of(entry, key)))
        missing = [k for k in _REQUIRED if not (isinstance(v := entry.get(k), str) and v.strip())]
        for key in missing:
            errors.append(SuppressionError(p, "required, a non-empty string", field=key, line=line))
        expires = None
        if entry.get("expires") is not None:
            try:
                expires = _parse_date(entry["expires"])
            except ValueError:
                errors.append(SuppressionError(p, f"not a date (YYYY-MM-DD): {entry['expires']!r}", field="expires", line=line_of(entry, "expires")))
        who = entry.get("who")
        if who is not None and not isinstance(who, str):
            errors.append(SuppressionError(p, "must be a string", field="who", line=line_of(entry, "who")))
        if unknown or missing:
            continue
        out.append(Suppression(entry["host"].strip(), entry["id"].strip(), entry["reason"].strip(), expires, who, line))
    if errors:
        if len(errors) == 1:
            raise errors[0]
        raise ExceptionGroup(f"{p}: {len(errors)} problems", errors)
    return out


@dataclass(frozen=True, slots=True)
class Match:
    active: Suppression | None  # the entry that suppresses the finding now
    expired: Suppression | None  # an entry that matched but has expired (re-opened loudly)


def match(rules: list[Suppression], f: Finding, today: dt.date) -> Match:
    active = expired = None
    for rule in rules:
        if not rule.matches(f):
            continue
        if rule.expired(today):
            expired = expired or rule
        elif active is None:
            active = rule
    return Match(active, expired if active is None else None)


def format_errors(e: BaseException) -> str:
    """One line per problem, for the CLI (exit 64)."""
    if isinstance(e, ExceptionGroup):
        return "\n".join(str(x) for x in e.exceptions)
    return str(e)
