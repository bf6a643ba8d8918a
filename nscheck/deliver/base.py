"""The common part of every collector sink: a worker thread, a bounded queue, the spool, stats."""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from dataclasses import dataclass, field

from nscheck.deliver.spool import Spool
from nscheck.model import HostResult, RunInfo, RunSummary

QUEUE_MAX = 10_000  # events waiting for the worker; past that they go straight to the spool
CLOSE_WAIT_S = 10.0  # how long the end of a run waits for the collector before spooling the rest


@dataclass
class DeliveryStats:
    destination: str
    sent: int = 0
    spooled: int = 0
    resent_from_spool: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return self.spooled > 0

    def line(self) -> str:
        s = f"{self.destination}: {self.sent} event(s) delivered"
        if self.resent_from_spool:
            s += f" (incl. {self.resent_from_spool} from the spool)"
        if self.spooled:
            s += f", {self.spooled} spooled for the next run"
        if self.errors:
            s += f" ({self.errors[-1]})"
        return s


class ThreadedDelivery:
    """Subclasses build event lines (``events_for_host``, ``events_for_run``) and send batches
    (``send``: returns how many of the batch, from the front, were taken; raises nothing)."""

    name = "collector"

    def __init__(self, destination: str, spool: Spool, *, close_wait_s: float = CLOSE_WAIT_S):
        self.stats = DeliveryStats(destination)
        self.spool = spool
        self.close_wait_s = close_wait_s
        self._q: queue.Queue[list[str] | None] = queue.Queue(maxsize=QUEUE_MAX)
        self._worker: threading.Thread | None = None
        self._down = False  # set after a non-retryable refusal: the rest goes to the spool
        self._closed = False  # close() has spooled what was left; the worker stops
        self._inflight: list[str] | None = None  # the batch being sent right now
        self._lock = threading.Lock()  # stats, spool and the two fields above; never held while sending

    # -- to implement ---------------------------------------------------------------------------
    def events_for_host(self, result: HostResult) -> list[str]:
        raise NotImplementedError

    def events_for_run(self, summary: RunSummary) -> list[str]:
        return []

    def send(self, batch: list[str]) -> int:
        raise NotImplementedError

    def begin(self, run: RunInfo) -> None:
        """Set up per-run state (formatters) in the caller's thread."""

    def end(self) -> None:
        """Release connections (worker thread, after the last batch)."""

    # -- the Sink protocol ----------------------------------------------------------------------
    def open(self, run: RunInfo) -> None:
        self.begin(run)
        backlog = self.spool.claim()
        self._worker = threading.Thread(target=self._run, name=f"nscheck-{self.name}", daemon=True)
        self._worker.start()
        if backlog:
            self._enqueue(backlog, from_spool=True)

    def host(self, result: HostResult) -> None:
        self._enqueue(self.events_for_host(result))

    def close(self, summary: RunSummary) -> None:
        self._enqueue(self.events_for_run(summary))
        with contextlib.suppress(queue.Full):
            self._q.put(None, timeout=1)
        if self._worker is not None:
            self._worker.join(self.close_wait_s)
        # Whatever the worker did not get to (collector slow or down, SIGTERM): to the spool,
        # including a batch it is still sending. The process may exit before that send ends, so
        # the batch is spooled too; if it does arrive, the next run sends it again (at-least-once).
        with self._lock:
            self._closed = True
            rest: list[str] = list(self._inflight or [])
            while True:
                try:
                    item = self._q.get_nowait()
                except queue.Empty:
                    break
                if item:
                    rest.extend(item)
            self._spool(rest, "run ended before the collector took them")

    # -- internals ------------------------------------------------------------------------------
    def _enqueue(self, lines: list[str], *, from_spool: bool = False) -> None:
        if not lines:
            return
        if from_spool:
            lines = [f"\x00spool\x00{ln}" for ln in lines]
        try:
            self._q.put_nowait(lines)
        except queue.Full:
            with self._lock:
                self._spool([ln.removeprefix("\x00spool\x00") for ln in lines], "queue full")

    def _spool(self, lines: list[str], why: str) -> None:
        lines = [ln.removeprefix("\x00spool\x00") for ln in lines]
        if not lines:
            return
        try:
            self.spool.append(lines)
            self.stats.spooled += len(lines)
        except OSError as e:
            self.stats.errors.append(f"spool not writable: {e.strerror or e}; {len(lines)} event(s) lost")
            self.stats.spooled += len(lines)
        if why and (not self.stats.errors or self.stats.errors[-1] != why):
            self.stats.errors.append(why)

    def _run(self) -> None:
        try:
            while True:
                item = self._q.get()
                if item is None:
                    return
                with self._lock:
                    if self._closed:
                        return  # close() spooled everything still queued
                    if self._down:
                        self._spool(item, "")
                        continue
                    self._inflight = item
                # Sent without the lock: close() must never wait behind a slow collector.
                from_spool = sum(1 for ln in item if ln.startswith("\x00spool\x00"))
                plain = [ln.removeprefix("\x00spool\x00") for ln in item]
                taken = self.send(plain)
                with self._lock:
                    self._inflight = None
                    if self._closed:
                        return  # close() already spooled this batch
                    self.stats.sent += taken
                    self.stats.resent_from_spool += min(taken, from_spool)
                    if taken < len(plain):
                        self._spool(plain[taken:], "")
        finally:
            try:
                self.end()
            except Exception as e:  # a broken connection on close must not hide delivered stats
                self.stats.errors.append(type(e).__name__)

    def backoff(self, attempt: int) -> None:
        time.sleep(min(0.25 * 2 ** attempt, 4.0))
