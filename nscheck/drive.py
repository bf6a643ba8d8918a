"""The one run loop: host results -> state stage -> every sink -> a RunSummary.

``nscheck scan`` (an async stream of hosts as they finish) and ``nscheck triage`` (appliances one
after another, offline or collected over SSH) both end here, so what a run promises holds for
both: every sink sees every host as soon as it is done (a killed run keeps its finished hosts),
one failing sink never costs the others a host, a state failure never loses a host, and the
summary counts exactly the hosts the sinks were given.

What the hosts are and how they are produced (lazy launching, concurrency, signals and the
grace period) is the producer's business; it tells ``drive`` only whether it stopped early.
"""

from __future__ import annotations

import datetime as dt
import sys
import time
from collections import Counter
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Sequence
from typing import Protocol

from nscheck.model import HostResult, RunInfo, RunSummary

__all__ = ["RunStage", "Sink", "drive", "now"]


class Sink(Protocol):
    """An output of a run (see ``nscheck.report.base``; repeated here so this module stays a leaf)."""

    def open(self, run: RunInfo) -> None: ...

    def host(self, result: HostResult) -> None: ...

    def close(self, summary: RunSummary) -> None: ...


class RunStage(Protocol):
    """The processor between producer and sinks (``nscheck.state.StateStage``): history,
    transitions and suppressions. ``annotate`` returns the host as the sinks should see it."""

    def open(self, run: RunInfo) -> None: ...

    def annotate(self, result: HostResult) -> HostResult: ...

    def close(self, summary: RunSummary) -> RunSummary: ...


def now() -> str:
    """A run timestamp: ISO-8601 UTC to the second, with Z."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


async def drive(results: AsyncIterable[HostResult] | Iterable[HostResult], sinks: Sequence[Sink], *,
                run_info: RunInfo, stage: RunStage | None = None,
                partial: Callable[[], bool] | None = None) -> RunSummary:
    """Open the sinks and the stage, give every host to every sink, close the stage, then the
    sinks (in their order: a progress bar listed first is gone before a table prints).

    ``results``: an async iterator (scan: hosts in the order they finish) or a plain iterable
    (triage). ``partial``: asked once the results end; True marks the run as stopped early.
    An exception from the producer propagates (the run is not summarised); an exception from a
    sink's ``host`` is printed on stderr, once per host and sink, and the run goes on."""
    t0 = time.monotonic()
    for s in sinks:
        s.open(run_info)
    if stage is not None:
        stage.open(run_info)
    counts: Counter[str] = Counter()
    hosts = requests = 0

    def feed(result: HostResult) -> None:
        nonlocal hosts, requests
        if stage is not None:
            result = _annotate(stage, result)
        hosts += 1
        counts[result.verdict.value] += 1
        requests += result.requests_sent
        for s in sinks:
            try:
                s.host(result)
            except Exception as e:  # one output failing must not cost the others this host, or the run
                print(f"nscheck: output error for {result.target}: {e}", file=sys.stderr)

    if isinstance(results, AsyncIterable):
        stream: AsyncIterator[HostResult] = aiter(results)
        try:
            async for result in stream:
                feed(result)
        finally:
            # A producer that is an async generator finishes its own clean-up (its client, its
            # tasks) here, before the summary, also when the stage or a sink's open raised.
            aclose = getattr(stream, "aclose", None)
            if aclose is not None:
                await aclose()
    else:
        for result in results:
            feed(result)
    summary = RunSummary(run=run_info, ended=now(), duration_ms=int((time.monotonic() - t0) * 1000), hosts=hosts,
                         counts=dict(counts), partial=bool(partial and partial()), requests_sent=requests)
    if stage is not None:
        summary = stage.close(summary)
    for s in sinks:
        s.close(summary)
    return summary


def _annotate(stage: RunStage, result: HostResult) -> HostResult:
    # A state failure (a locked or full database) never loses a host: it goes out unannotated.
    try:
        return stage.annotate(result)
    except Exception as e:
        print(f"nscheck: state: could not record {result.target}: {type(e).__name__}: {e}", file=sys.stderr)
        return result
