"""The seam between running (scan / triage) and output: a run emits host results to sinks.

Sinks get each host as soon as it completes (so a killed run keeps every finished host), then a
summary at the end. Every output format (JSONL, per-host files, CSV, HTML, terminal) and the
state store are sinks or feed from the same ``HostResult`` objects.
"""

from __future__ import annotations

from typing import Protocol

# RunInfo / RunSummary are run records every stage shares (state writes them too), so they live in
# the model; re-exported here because every sink names them next to Sink.
from nscheck.model import HostResult, RunInfo, RunSummary

__all__ = ["RunInfo", "RunSummary", "Sink"]


class Sink(Protocol):
    def open(self, run: RunInfo) -> None: ...

    def host(self, result: HostResult) -> None: ...

    def close(self, summary: RunSummary) -> None: ...
