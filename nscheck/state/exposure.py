"""Exposure windows and the compromise assessment they call for.

NCSC advice for NetScaler bulletins exploited in the wild: patching closes the hole, not the
intrusion; check for abuse even when patched. From the run history we know when a host was
seen vulnerable to a bulletin; from the signature data we know when exploitation was known
(explicit exploitation dates, KEV ``dateAdded``). When the time a host was vulnerable overlaps
known exploitation, the host needs a compromise assessment (``nscheck triage``), and that is
a finding of its own (``FindingKind.ASSESSMENT``) until a triage result is recorded.

Everything here is pure: dates in, window out.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from nscheck.model import AdvisoryResult

ASSESSMENT_RULE = "compromise-assessment-required"

_DATE = re.compile(r"(\d{4}-\d{2}-\d{2})")
# Keys under which the advisory data may carry an exploitation date, per CVE or per bulletin.
_EXPLOIT_KEYS = ("exploited_since", "exploitation_date", "exploited_date", "first_exploited", "itw_since")


def parse_day(value: Any) -> dt.date | None:
    """The first YYYY-MM-DD in a value ('2026-08-26 (third-party)' -> 2026-08-26)."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    m = _DATE.search(str(value))
    if not m:
        return None
    try:
        return dt.date.fromisoformat(m.group(1))
    except ValueError:
        return None


def exploitation_facts(a: AdvisoryResult) -> dict[str, Any]:
    """What the signature data says about exploitation of one bulletin, as plain JSON."""
    dates: list[tuple[dt.date, str]] = []
    kev_dates: list[dt.date] = []
    for c in a.cve_details:
        for key in _EXPLOIT_KEYS:  # not written by the engine: a saved or hand-edited result may carry them
            d = parse_day(c.other_value(key))
            if d:
                dates.append((d, f"{c.id or a.id} exploited since {d}"))
        k = parse_day(c.kev_added if c.kev_added is not None else c.other_value("kev_added"))
        if k:
            kev_dates.append(k)
            dates.append((k, f"{c.id or a.id} added to CISA KEV {k}"))
    published = parse_day(a.published)
    if (a.exploited or a.kev) and not dates and published:
        # Exploited, but no date in the data: count from disclosure (the most that can be said).
        dates.append((published, f"{a.id} exploited in the wild (no date in the data; bulletin published {published})"))
    since, why = min(dates) if dates else (None, None)
    return {
        "bulletin": a.id,
        "title": a.title,
        "names": list(a.names),
        "cves": list(a.cves),
        "published": published.isoformat() if published else None,
        "exploited": bool(a.exploited or a.kev or dates),
        "kev": bool(a.kev or kev_dates),
        "kev_added": min(kev_dates).isoformat() if kev_dates else None,
        "exploited_since": since.isoformat() if since else None,
        "exploited_basis": why,
        "fixed_in": a.fixed_in,
    }


@dataclass(frozen=True, slots=True)
class Window:
    vulnerable_since: dt.date
    until: dt.date
    open: bool  # still vulnerable at the last observation
    exploited_since: dt.date | None
    basis: str  # how vulnerable_since was chosen

    @property
    def days(self) -> int:
        return max(0, (self.until - self.vulnerable_since).days)

    @property
    def overlaps(self) -> bool:
        return self.exploited_since is not None and self.exploited_since <= self.until

    @property
    def overlap_days(self) -> int:
        if not self.overlaps or self.exploited_since is None:
            return 0
        return max(0, (self.until - max(self.vulnerable_since, self.exploited_since)).days)

    def to_dict(self) -> dict[str, Any]:
        return {
            "vulnerable_since": self.vulnerable_since.isoformat(),
            "until": self.until.isoformat(),
            "open": self.open,
            "days": self.days,
            "exploited_since": self.exploited_since.isoformat() if self.exploited_since else None,
            "overlaps_exploitation": self.overlaps,
            "overlap_days": self.overlap_days,
            "basis": self.basis,
        }


def window(
    facts: dict[str, Any],
    *,
    episode_start: str,
    last_seen_vulnerable: str,
    resolved_at: str | None,
    predates_observation: bool,
) -> Window:
    """The exposure window of one bulletin finding.

    ``predates_observation``: the vulnerable build was already running when the finding was
    first recorded (first sight of the host, or a new bulletin against an unchanged build), so
    it was exposed at least since the bulletin was published (earlier, for a zero-day).
    Otherwise it appeared between two runs (a downgrade) and we count from the run that saw it.
    """
    start = parse_day(episode_start) or dt.date.today()
    basis = "first seen vulnerable by nscheck"
    published = parse_day(facts.get("published"))
    if predates_observation and published and published < start:
        start, basis = published, "bulletin publication (vulnerable build was already running when first scanned)"
    end = parse_day(resolved_at) or parse_day(last_seen_vulnerable) or start
    return Window(start, end, resolved_at is None, parse_day(facts.get("exploited_since")), basis)
