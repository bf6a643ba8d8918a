"""Glue for scheduled runs, used by ``nscheck.runner``: lock, state stage, signals, draining,
and the ``--quiet`` output that prints only what changed (so cron mails only then)."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TextIO, TypeVar

from nscheck.exitcodes import ExitCode
from nscheck.model import HostResult, RunInfo, RunSummary, findings_of
from nscheck.state import StateStage, transition_lines
from nscheck.state.lock import LockBusy, RunLock
from nscheck.state.transitions import summary_line

if TYPE_CHECKING:
    from nscheck.options import ScanOptions

T = TypeVar("T")


class SetupError(Exception):
    """A scheduled-run setting that cannot be used; ``code`` is the exit code."""

    def __init__(self, message: str, code: int = ExitCode.USAGE):
        self.code = code
        super().__init__(message)


@contextmanager
def scheduled(opts: ScanOptions) -> Iterator[StateStage | None]:
    """Hold ``--lock`` (exit 75 when busy) and open the state stage (exit 64 when unusable)."""
    from nscheck.signatures import SignatureError
    from nscheck.state.store import StateError
    from nscheck.state.suppress import format_errors

    lock = None
    if opts.lock:
        try:
            lock = RunLock(opts.lock).acquire()
        except LockBusy as e:
            raise SetupError(f"{e}; not starting (exit {ExitCode.LOCKED})", ExitCode.LOCKED) from None
        except OSError as e:
            raise SetupError(f"cannot use lock file {opts.lock}: {e.strerror or e}", ExitCode.CANTCREAT) from None
    try:
        try:
            stage = StateStage.from_options(opts)
        except (SignatureError, ExceptionGroup) as e:
            raise SetupError("suppressions: " + format_errors(e).replace("\n", "\nnscheck: suppressions: ")) from None
        except StateError as e:
            raise SetupError(str(e)) from None
        yield stage
    finally:
        if lock is not None:
            lock.release()


async def drain(running: set[asyncio.Task[Any]], stop: asyncio.Event | None, grace: float) -> bool:
    """Wait for in-flight hosts. Once ``stop`` is set they get ``grace`` seconds, then are
    cancelled (never reported half-done). Returns True when the run was stopped early."""
    pending = set(running)
    if not pending:
        return bool(stop and stop.is_set())
    stop_wait = asyncio.ensure_future(stop.wait()) if stop is not None else None
    try:
        while pending and not (stop is not None and stop.is_set()):
            waiters: set[asyncio.Future[Any]] = set(pending)
            if stop_wait is not None:
                waiters.add(stop_wait)
            done, _ = await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
            pending -= done
        if pending:
            _, late = await asyncio.wait(pending, timeout=max(0.0, grace))
            for t in late:
                t.cancel()
            if late:
                print(f"nscheck: grace period over: {len(late)} host(s) still in flight were not finished",
                      file=sys.stderr, flush=True)
                await asyncio.gather(*late, return_exceptions=True)
    finally:
        if stop_wait is not None and not stop_wait.done():
            stop_wait.cancel()
    return bool(stop and stop.is_set())


class QuietSink:
    """``--quiet``: one line per transition (new, regressed, resolved) of unsuppressed findings,
    nothing when nothing changed. Without ``--state`` there is no history, so every unsuppressed
    finding is printed."""

    def __init__(self, out: TextIO | None = None):
        self.out = out or sys.stdout
        self.changed = 0
        self.stateful = False  # any host carried state: lines are transitions, not all findings

    def open(self, run: RunInfo) -> None:
        pass

    def host(self, result: HostResult) -> None:
        if "state" in result.extra:
            self.stateful = True
            # Accepted risks (suppressed) do not mail; an expired suppression is no longer one.
            lines = transition_lines(result, include_suppressed=False)
        else:
            metas = result.extra.get("findings") or {}
            lines = [f"{'FINDING':9} {f.host} {f.rule_id}: {f.title}"
                     for f in findings_of(result) if not (metas.get(f.id) or {}).get("suppressed")]
        for line in lines:
            self.out.write(line + "\n")
        self.changed += len(lines)
        if lines:
            self.out.flush()

    def close(self, summary: RunSummary) -> None:
        t = summary.extra.get("transitions") or {}
        if self.changed:
            # Without --state every line is a FINDING, not a change: say that, not "no findings".
            line = summary_line(t) if self.stateful else (
                f"{self.changed} finding(s) (without --state every finding is listed, not only changes)")
            self.out.write(f"nscheck: {line}" + (" (partial run)" if summary.partial else "") + "\n")
            self.out.flush()


async def with_signals(scan: Callable[[asyncio.Event], Awaitable[T]]) -> tuple[T, int | None]:
    """Run ``scan(stop)`` (a coroutine function) with SIGTERM/SIGINT handlers installed.

    Returns (its result, the first signal number or None). First signal: ``stop`` is set.
    Second signal: every other task is cancelled (in-flight hosts dropped), the scan still
    closes its sinks and the state run.
    """
    from nscheck.state.signals import install

    stop = asyncio.Event()
    main = asyncio.current_task()

    def hard_stop() -> None:
        for t in asyncio.all_tasks():
            if t is not main:
                t.cancel()

    st = install(stop, on_hard_stop=hard_stop)
    try:
        result = await scan(stop)
    finally:
        st.uninstall()
    return result, st.signum


async def acquire_or_stop(sem: asyncio.Semaphore, stop: asyncio.Event | None) -> bool:
    """Wait for a free host slot, or for ``stop``: a run stopped while every slot is busy with a
    slow host must not wait for a slot to free up. True when a slot was taken."""
    if stop is None:
        await sem.acquire()
        return True
    if stop.is_set():
        return False
    acq = asyncio.ensure_future(sem.acquire())
    stopped = asyncio.ensure_future(stop.wait())
    await asyncio.wait({acq, stopped}, return_when=asyncio.FIRST_COMPLETED)
    stopped.cancel()
    if not acq.done():
        acq.cancel()
    try:
        await acq
    except asyncio.CancelledError:
        return False
    if stop.is_set():
        sem.release()
        return False
    return True
