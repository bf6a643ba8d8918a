"""A progress display on stderr for long scans: hosts done, by verdict. Off when stderr is not
a TTY, with --quiet or --no-progress. The total is not known up front (targets stream lazily),
so it shows counts and a spinner rather than a percentage."""

from __future__ import annotations

import sys
from collections import Counter
from typing import Any

from nscheck.model import HostResult
from nscheck.report.base import RunInfo, RunSummary


def wanted(opts: Any, stream: Any = None) -> bool:
    stream = stream or sys.stderr
    if getattr(opts, "quiet", False) or getattr(opts, "no_progress", False):
        return False
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


class ProgressSink:
    def __init__(self, total: int | None = None, stream: Any = None):
        from rich.console import Console

        self.console = Console(file=stream or sys.stderr)
        self.total = total
        self.counts: Counter[str] = Counter()
        self.progress: Any = None
        self.task: Any = None

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
        desc = "scanning " + " ".join(f"{k}:{v}" for k, v in sorted(self.counts.items()))
        self.progress.update(self.task, advance=1, description=desc)

    def close(self, summary: RunSummary) -> None:
        if self.progress is not None:
            self.progress.stop()
