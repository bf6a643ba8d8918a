"""A progress display on stderr for long scans: hosts done out of the total (``N/total`` when the
target list is known up front; a stdin stream has no total), counts by verdict and, at the end of
the run, the hosts still being waited for (the slow one holding everybody up is named). Off when
stderr is not a TTY, with --quiet or --no-progress. Transient: it is cleared before the table is
printed (the runner closes it first)."""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Sequence
from typing import Any

from nscheck.model import HostResult
from nscheck.report.base import RunInfo, RunSummary
from nscheck.report.text import clean


def wanted(opts: Any, stream: Any = None) -> bool:
    stream = stream or sys.stderr
    if getattr(opts, "quiet", False) or getattr(opts, "no_progress", False):
        return False
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


WAITING_SHOWN = 3  # name the pending hosts once this few are left


class ProgressSink:
    def __init__(self, total: int | None = None, stream: Any = None, *, targets: Sequence[str] | None = None):
        from rich.console import Console

        self.console = Console(file=stream or sys.stderr)
        self.pending: Counter[str] = Counter(targets or ())
        self.total = len(targets) if targets is not None else total
        self.counts: Counter[str] = Counter()
        self.progress: Any = None
        self.task: Any = None

    def description(self) -> str:
        desc = "scanning " + " ".join(f"{k}:{v}" for k, v in sorted(self.counts.items()))
        left = [k for k, n in self.pending.items() if n > 0]
        if left and len(left) <= WAITING_SHOWN and sum(self.counts.values()):
            desc += " | waiting for " + ", ".join(clean(x, 60) for x in left)
        return desc

    def open(self, run: RunInfo) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            SpinnerColumn,
            TextColumn,
            TimeElapsedColumn,
        )

        self.progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TimeElapsedColumn(), console=self.console, transient=True)
        self.progress.start()
        self.task = self.progress.add_task("scanning", total=self.total)

    def host(self, result: HostResult) -> None:
        self.counts[result.verdict.value] += 1
        if self.pending.get(result.target, 0) > 0:
            self.pending[result.target] -= 1
        if self.progress is not None:
            self.progress.update(self.task, advance=1, description=self.description())

    def close(self, summary: RunSummary) -> None:
        if self.progress is not None:
            self.progress.stop()
