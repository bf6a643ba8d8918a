"""The seam between running (scan / triage) and output: a run emits host results to sinks.

Sinks get each host as soon as it completes (so a killed run keeps every finished host), then a
summary at the end. Every output format (JSONL, per-host files, CSV, HTML, terminal) and the
state store are sinks or feed from the same ``HostResult`` objects.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from nscheck.model import HostResult


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


class Sink(Protocol):
    def open(self, run: RunInfo) -> None: ...

    def host(self, result: HostResult) -> None: ...

    def close(self, summary: RunSummary) -> None: ...
