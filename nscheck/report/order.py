"""Which host comes first: the urgency order every output shares (table, Markdown, HTML, CSV,
``nscheck report``), and the other orders ``--sort`` offers.

A reader scanning a fleet asks "what do I do first?", so the default order is by what the answer
demands of them, not by verdict name or input order:

0. compromised (an indicator of compromise was seen)
1. an open compromise assessment (was vulnerable while a bulletin was exploited in the wild)
2. vulnerable to a bulletin that is exploited in the wild or in CISA KEV
3. vulnerable
4. unknown (never clean: it needs a decision)
5. unreachable or error
6. not vulnerable
7. not NetScaler

Within a group: worst CVSS of the open bulletins first, then the host name.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from enum import StrEnum
from typing import Any, TypeVar

from nscheck.model import HostResult, HostStatus, HostVerdict, Verdict
from nscheck.report.text import OPEN_VERDICTS, open_assessments


class Sort(StrEnum):
    """``--sort``: host order in the table, Markdown, CSV and HTML."""

    URGENCY = "urgency"
    NAME = "name"
    VERDICT = "verdict"
    CVSS = "cvss"
    INPUT = "input"


SORTS = tuple(s.value for s in Sort)
DEFAULT_SORT = "urgency"

URGENCY_LABELS = (
    "compromised", "compromise assessment open", "vulnerable (exploited)", "vulnerable", "unknown",
    "unreachable / error", "not vulnerable", "not NetScaler",
)

T = TypeVar("T")


def exploited_open(r: HostResult) -> list[Any]:
    """Open bulletins that are exploited in the wild or listed in CISA KEV (a bulletin whose
    interim mitigation is in place, "mitigated", is less urgent: it ranks as plain vulnerable)."""
    return [a for a in r.advisories if a.verdict is Verdict.VULNERABLE and (a.exploited or a.kev)]


def urgency_group(r: HostResult) -> int:
    v = r.verdict
    if v is HostVerdict.COMPROMISED:
        return 0
    if open_assessments(r):
        return 1
    if r.status is not HostStatus.OK:
        return 5  # unreachable, or an error that ended the host (verdict unknown)
    if v is HostVerdict.VULNERABLE:
        return 2 if exploited_open(r) else 3
    if v is HostVerdict.UNKNOWN:
        return 4
    if v is HostVerdict.NOT_VULNERABLE:
        return 6
    return 7


def worst_cvss(r: HostResult) -> float:
    """Highest CVSS among open bulletins (vulnerable first, else unknown); -1 when none."""
    scores = [a.cvss for a in r.advisories if a.verdict in OPEN_VERDICTS and a.cvss is not None]
    if not scores:
        scores = [a.cvss for a in r.advisories if a.verdict is Verdict.UNKNOWN and a.cvss is not None]
    return max(scores) if scores else -1.0


def urgency_key(r: HostResult) -> tuple[int, float, str]:
    return (urgency_group(r), -worst_cvss(r), r.target.lower())


_VERDICT_RANK = {v: n for n, v in enumerate(("compromised", "vulnerable", "unknown", "unreachable",
                                              "not_vulnerable", "not_netscaler"))}


def sort_key(how: str) -> Callable[[HostResult], Any] | None:
    """The key for one ``--sort`` choice; None for ``input`` (keep the order results came in)."""
    if how not in SORTS:
        raise ValueError(f"unknown sort {how!r} (one of {', '.join(SORTS)})")
    if how == "urgency":
        return urgency_key
    if how == "name":
        return lambda r: r.target.lower()
    if how == "verdict":
        return lambda r: (_VERDICT_RANK.get(r.verdict.value, 9), r.target.lower())
    if how == "cvss":
        return lambda r: (-worst_cvss(r), urgency_group(r), r.target.lower())
    return None


def sort_results(results: Iterable[HostResult], how: str = DEFAULT_SORT) -> list[HostResult]:
    key = sort_key(how)
    out = list(results)
    return sorted(out, key=key) if key is not None else out


def sort_keyed(items: Sequence[tuple[Any, T]]) -> list[T]:
    """Items buffered with a precomputed key (sinks keep compact rows, not results); a None key
    keeps arrival order."""
    indexed = list(enumerate(items))
    indexed.sort(key=lambda x: (x[1][0], x[0]) if x[1][0] is not None else ((), x[0]))
    return [item for _, (_, item) in indexed]


def key_of(r: HostResult, how: str = DEFAULT_SORT) -> Any:
    key = sort_key(how)
    return key(r) if key is not None else None


class SortedSpool:
    """Text chunks (one host's Markdown or CSV rows) kept on disk, not in memory, and written back
    in sort order at the end: a 5000-host run stays small while the output starts with the most
    urgent host."""

    def __init__(self) -> None:
        import tempfile

        self._fh = tempfile.TemporaryFile(mode="w+b")  # noqa: SIM115 - closed in write_to()
        self._items: list[tuple[Any, tuple[int, int]]] = []

    def add(self, key: Any, text: str) -> None:
        data = text.encode("utf-8")
        self._fh.seek(0, 2)
        self._items.append((key, (self._fh.tell(), len(data))))
        self._fh.write(data)

    def __len__(self) -> int:
        return len(self._items)

    def chunks(self) -> Iterable[str]:
        """Every chunk in order (then the spool is closed)."""
        try:
            for offset, size in sort_keyed(self._items):
                self._fh.seek(offset)
                yield self._fh.read(size).decode("utf-8")
        finally:
            self._fh.close()
