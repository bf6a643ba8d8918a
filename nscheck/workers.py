"""``nscheck scan --workers N``: scan hosts in N worker processes, report from one.

A scan is bound by CPU per request (TLS, HTTP parsing, fingerprinting) in one process on one
core. Worker processes lift that bound without changing anything the user sees: the parent
keeps the whole run (target stream, semaphore, state, every sink, progress, signals, partial
results, exit code) and only the call that scans one host is sent to a worker. So every output
is built exactly as with one process; only the scanning runs elsewhere.

- Each worker is a long-lived ``python -c ... --nscheck-worker I`` child with its own event loop and
  ``ProbeClient``, started with a fresh interpreter (never a fork of a process whose event loop
  and threads are running). Parent and worker talk over the child's stdin/stdout with
  length-prefixed pickles: the parent sends the options and the validated signatures once, then
  targets; the worker answers each with the frozen ``HostResult`` ``scan_host`` built. The worker
  moves its stdout out of the way first, so nothing printed there can corrupt the stream.
- A target goes to the worker picked by a stable hash (``nscheck.targets.shard_of``); with NITRO
  credentials, by the NITRO address (or host) instead, so every host sharing a NITRO address is
  read by one process and "credentials rejected: never sent again" still holds run-wide.
- Signatures are loaded and validated once, in the parent, before the first request, and sent
  pickled. NITRO credentials never cross the pipe (``Secret`` refuses to be pickled): each worker
  loads them itself from the same options (file or environment), and never logs them.
- ``--rate-limit`` stays a cap on the whole run: each of N workers paces at rate/N, their slots
  interleaved (worker i starts i/rate later), so together they send at most the rate, evenly.
- Workers ignore SIGINT/SIGTERM and sit in their own session: the parent decides what a signal
  means (stop launching, grace period, partial run). A worker exits when its stdin closes, so
  even a parent killed with SIGKILL leaves no process behind for long.
- A worker that dies (crash, OOM kill) costs only the hosts it held: each gets an error result
  saying so (an ``internal_error``), the worker is started again for the next hosts, and after
  repeated deaths its hosts are scanned in the parent. One bad host never hurts the scan.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import pickle
import signal
import struct
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nscheck.model import HostResult, HostStatus, SkipKind, Skipped
from nscheck.options import ScanOptions
from nscheck.probe.types import HostProber
from nscheck.targets import Target, shard_of

if TYPE_CHECKING:
    from nscheck.inputs import ScanInputs

__all__ = ["HostScan", "WorkerPool", "host_scanner", "resolve_workers", "usable_cpus"]

HostScan = Callable[[Target], Awaitable[HostResult]]

_HEADER = struct.Struct("!I")
_MAX_FRAME = 1 << 30  # a result is bounded by the per-host byte caps; this only stops garbage
# Below this many targets per extra worker, starting a process (about half a second of CPU:
# the imports and the signatures) costs more than it saves.
MIN_HOSTS_PER_WORKER = 50
WORKER_FLAG = "--nscheck-worker"  # in a worker's command line: `ps` shows what it is
_BOOT = ("import json, os, sys; sys.path[:] = json.loads(os.environ.pop('NSCHECK_WORKER_PATH')); "
         "from nscheck.workers import main; sys.exit(main())")
# What a worker may use at its peak (about 70 MB measured at 300 hosts, -c 100), with headroom.
WORKER_MEMORY = 128 << 20
_RESPAWNS = 3  # deaths of one worker slot after which its hosts are scanned in the parent
_CLOSE_WAIT = 5.0  # seconds a worker gets to exit after its stdin closes, before SIGKILL


def usable_cpus(cgroup_root: str = "/sys/fs/cgroup") -> int:
    """CPUs this process may use: its affinity (cpusets), capped by a cgroup CPU quota (a
    container's CPU limit, which affinity does not show), never the machine's count."""
    count = getattr(os, "process_cpu_count", None)  # Python 3.13+
    if count is not None:
        n = max(1, count() or 1)
    else:
        try:
            n = max(1, len(os.sched_getaffinity(0)))
        except (AttributeError, OSError):
            n = max(1, os.cpu_count() or 1)
    quota = _cgroup_cpu_quota(Path(cgroup_root))
    if quota is not None:
        n = min(n, max(1, math.ceil(quota)))
    return n


def _read(p: Path) -> str | None:
    try:
        return p.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None


def _cgroup_cpu_quota(root: Path) -> float | None:
    """CPUs allowed by the cgroup's CFS quota (v2 ``cpu.max``, v1 ``cpu.cfs_quota_us``), or None."""
    v2 = _read(root / "cpu.max")
    try:
        if v2 is not None:
            quota, _, period = v2.partition(" ")
            return None if quota == "max" else int(quota) / int(period or "100000")
        for d in ("cpu", "cpu,cpuacct"):
            q, per = _read(root / d / "cpu.cfs_quota_us"), _read(root / d / "cpu.cfs_period_us")
            if q is not None and per is not None:
                return None if int(q) <= 0 else int(q) / int(per)
    except (ValueError, ZeroDivisionError):
        return None
    return None


def _cgroup_memory_limit(root: Path) -> int | None:
    """The cgroup's memory limit in bytes (v2 ``memory.max``, v1 ``memory.limit_in_bytes``), or None."""
    for f in (root / "memory.max", root / "memory" / "memory.limit_in_bytes"):
        text = _read(f)
        if text is None:
            continue
        if text == "max":
            return None
        try:
            n = int(text)
        except ValueError:
            return None
        return n if n < 1 << 60 else None  # v1 says "unlimited" with a huge number
    return None


def resolve_workers(opts: ScanOptions, n_targets: int | None, cgroup_root: str = "/sys/fs/cgroup") -> int:
    """The number of worker processes for this run; 1 means in-process, as before ``--workers``.

    ``--workers N`` is taken as given. Otherwise: 1 for a dry run (sends nothing), else the
    usable CPUs (affinity and a container's CPU quota), no more than fit in a container's memory
    limit (``WORKER_MEMORY`` each, the main process counted as one) and no more than one worker
    per ``MIN_HOSTS_PER_WORKER`` targets (a handful of hosts is done before a worker has
    started). A target stream of unknown length (stdin) is not capped by its length."""
    if opts.workers is not None:
        return max(1, opts.workers)
    if opts.dry_run:
        return 1
    n = min(usable_cpus(cgroup_root), _fit_in_memory(cgroup_root))
    if n_targets is not None:
        n = min(n, n_targets // MIN_HOSTS_PER_WORKER)
    return max(1, n)


def _fit_in_memory(cgroup_root: str) -> int:
    """Workers that fit under a container's memory limit next to the main process (a pod with
    512 MiB on a 64-CPU node must not start 64 interpreters)."""
    limit = _cgroup_memory_limit(Path(cgroup_root))
    if limit is None:
        return 1 << 16
    return max(1, limit // WORKER_MEMORY - 1)


def route_key(t: Target, nitro: Any) -> str | None:
    """What picks a target's worker when NITRO is in use (else None: the target's own hash).

    NITRO remembers, per address and user, credentials that were rejected, and never sends them
    again in the run; that memory is per process. Hosts that share a NITRO address must therefore
    share a worker: the address from the credentials file when it names one, else the host, whose
    address NITRO reads are sent to (the scheme and port may change on a redirect, the host not)."""
    if nitro is None:
        return None
    try:
        access = nitro.creds.lookup(t.raw, t.host, t.port)
    except Exception:
        access = None
    url = getattr(access, "nitro_url", None) if access is not None else None
    return str(url) if url else t.host


def _slot(t: Target, n: int, nitro: Any) -> int:
    key = route_key(t, nitro)
    if key is None:
        return shard_of(t, n)
    import hashlib

    return int.from_bytes(hashlib.sha256(key.lower().encode()).digest()[:8], "big") % n


def _frame(obj: Any) -> bytes:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    return _HEADER.pack(len(data)) + data


async def _read_frame(reader: asyncio.StreamReader) -> Any:
    """The next message, or None at end of stream."""
    try:
        head = await reader.readexactly(_HEADER.size)
        (size,) = _HEADER.unpack(head)
        if size > _MAX_FRAME:
            raise ValueError(f"frame of {size} bytes")
        return pickle.loads(await reader.readexactly(size))
    except asyncio.IncompleteReadError:
        return None


def failed_result(t: Target, why: str) -> HostResult:
    """A host whose scan was lost with its worker: an error, never a silent gap or a clean host."""
    return HostResult(target=t.raw, status=HostStatus.ERROR, url=t.url, error=f"internal error: {why}",
                      skipped=(Skipped("scan", why, SkipKind.INTERNAL_ERROR),))


def _exit_text(code: int | None) -> str:
    if code is None:
        return "closed its pipe"
    if code < 0:
        try:
            return f"was killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"exited with code {code}"


# -- parent side ---------------------------------------------------------------------------------


@dataclass
class _Worker:
    index: int
    proc: asyncio.subprocess.Process
    reader: asyncio.Task[None] | None = None
    pending: dict[int, tuple[Target, asyncio.Future[HostResult]]] = field(default_factory=dict)
    alive: bool = True
    answered: int = 0


class WorkerPool:
    """N worker processes; ``await pool.scan(target)`` is ``scan_host`` run in one of them."""

    def __init__(self, opts: ScanOptions, sigs: Any, n: int):
        if n < 2:
            raise ValueError("a worker pool needs at least 2 workers (1 is the in-process scan)")
        self.opts = opts
        self.sigs = sigs
        self.n = n
        self._workers: list[_Worker | None] = [None] * n
        self._deaths = [0] * n
        self._ids = 0
        self._starting: dict[int, asyncio.Future[_Worker]] = {}
        self._phase = time.monotonic()
        self._init = self._init_payload()
        self._fallback: Any = None  # ProbeClient for slots whose worker keeps dying
        self._closed = False
        self._procs: list[asyncio.subprocess.Process] = []  # every child ever started, to reap

    def _init_payload(self) -> bytes:
        # NITRO credentials (a Secret) cannot be pickled, by design: the worker loads its own.
        nitro = self.sigs.nitro is not None
        sigs = replace(self.sigs, nitro=None) if nitro else self.sigs
        return _frame(("init", 0, {"opts": self.opts, "sigs": sigs, "nitro": nitro, "n": self.n,
                                   "phase": self._phase}))

    async def start(self) -> None:
        """Start every worker now (in parallel), so the first hosts do not wait for a spawn."""
        await asyncio.gather(*(self._worker(i) for i in range(self.n)))

    async def _spawn(self, i: int) -> _Worker:
        # The child imports exactly the code this process runs (a checkout run with `python -m`,
        # an installed package, a zipapp): it starts with this process's sys.path, as
        # multiprocessing's spawn does, rather than with whatever `python -m` would find.
        env = dict(os.environ, NSCHECK_WORKER_PATH=json.dumps(sys.path))
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", _BOOT, WORKER_FLAG, str(i),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=None,
            env=env, start_new_session=True, limit=1 << 20)
        w = _Worker(i, proc)
        self._procs.append(proc)
        assert proc.stdin is not None
        proc.stdin.write(self._init)
        w.reader = asyncio.create_task(self._read(w), name=f"nscheck-worker-{i}")
        return w

    async def _worker(self, i: int) -> _Worker | None:
        w = self._workers[i]
        if w is not None and w.alive:
            return w
        if self._deaths[i] >= _RESPAWNS or self._closed:
            return None
        fut = self._starting.get(i)
        if fut is None:
            fut = asyncio.ensure_future(self._spawn(i))
            self._starting[i] = fut
            try:
                w = await asyncio.shield(fut)
            except Exception as e:  # no usable interpreter, out of processes or descriptors
                self._deaths[i] = _RESPAWNS  # cannot start a process at all: scan in the parent
                print(f"nscheck: cannot start worker process {i + 1}: {e}; its hosts are scanned in the "
                      "main process", file=sys.stderr, flush=True)
                return None
            finally:
                self._starting.pop(i, None)
            self._workers[i] = w
            return w
        try:
            return await asyncio.shield(fut)
        except Exception:
            return None

    async def _read(self, w: _Worker) -> None:
        assert w.proc.stdout is not None
        why = "closed its pipe"
        try:
            while True:
                msg = await _read_frame(w.proc.stdout)
                if msg is None:
                    break
                kind, ident, payload = msg
                t_fut = w.pending.pop(ident, None)
                if t_fut is None:
                    continue  # a host the parent stopped waiting for (grace period over)
                t, fut = t_fut
                if kind == "result" and isinstance(payload, HostResult):
                    w.answered += 1
                    if not fut.done():
                        fut.set_result(payload)
                elif not fut.done():
                    fut.set_result(failed_result(t, f"worker process {w.index + 1}: {payload}"))
        except asyncio.CancelledError:
            w.alive = False  # the run is closing (or was hard-stopped): nothing to report
            raise
        except Exception as e:
            why = f"sent an unreadable answer ({type(e).__name__})"
        w.alive = False
        if w.pending:
            code = None
            with contextlib.suppress(Exception):
                # The pipe closed: the process is gone or going; give it a moment to be reaped.
                code = await asyncio.wait_for(w.proc.wait(), 2.0)
            if code is not None:
                why = _exit_text(code)
            self._lost(w, why)

    def _lost(self, w: _Worker, why: str) -> None:
        if self._closed:
            return
        self._deaths[w.index] += 1
        n = len(w.pending)
        for t, fut in w.pending.values():
            if not fut.done():
                fut.set_result(failed_result(t, f"worker process {w.index + 1} {why} while this host was being "
                                                "scanned; the host was not finished"))
        w.pending.clear()
        more = ("it is started again for the next hosts" if self._deaths[w.index] < _RESPAWNS
                else "its next hosts are scanned in the main process")
        print(f"nscheck: worker process {w.index + 1} {why} with {n} host(s) in flight (reported as errors); {more}",
              file=sys.stderr, flush=True)
        with contextlib.suppress(ProcessLookupError):
            w.proc.kill()

    async def scan(self, t: Target) -> HostResult:
        i = _slot(t, self.n, self.sigs.nitro)
        w = await self._worker(i)
        if w is None:
            return await self._in_parent(t)
        self._ids += 1
        ident = self._ids
        fut: asyncio.Future[HostResult] = asyncio.get_running_loop().create_future()
        w.pending[ident] = (t, fut)
        try:
            assert w.proc.stdin is not None
            w.proc.stdin.write(_frame(("scan", ident, t)))
            await w.proc.stdin.drain()
        except (ConnectionError, RuntimeError, OSError):
            pass  # the worker is gone: its reader reports every pending host, this one included
        try:
            # The worker enforces the host deadline; this only guards against a worker that hangs.
            return await asyncio.wait_for(asyncio.shield(fut), self._patience())
        except TimeoutError:
            w.pending.pop(ident, None)
            self._cancel(w, ident)
            return failed_result(t, f"worker process {w.index + 1} gave no answer within {self._patience():g}s")
        except asyncio.CancelledError:
            # Grace period over (or a second signal): the worker stops this host too.
            w.pending.pop(ident, None)
            self._cancel(w, ident)
            raise

    def _patience(self) -> float:
        # scan_host: the remote part and the NITRO part each stop at host_deadline + 2 s.
        return 2 * (self.opts.host_deadline + 2.0) + 30.0

    def _cancel(self, w: _Worker, ident: int) -> None:
        if w.alive and w.proc.stdin is not None and not w.proc.stdin.is_closing():
            with contextlib.suppress(Exception):
                w.proc.stdin.write(_frame(("cancel", ident, None)))

    async def _in_parent(self, t: Target) -> HostResult:
        from nscheck.runner import scan_host

        if self._fallback is None:
            from nscheck.probe.client import ProbeClient

            rate = self.opts.rate_limit
            # The slot's share of --rate-limit, as its worker had: the run stays under the cap.
            self._fallback = ProbeClient(self.opts.with_(rate_limit=rate / self.n) if rate else self.opts)
            await self._fallback.__aenter__()
        return await scan_host(t, self._fallback, self.opts, self.sigs)

    async def close(self) -> None:
        """Stop every worker: close its stdin (it cancels what it still holds and exits), wait a
        little, then kill. Every child is reaped: no orphan, no zombie."""
        self._closed = True
        for starting in list(self._starting.values()):
            with contextlib.suppress(BaseException):
                await starting
        for proc in self._procs:
            if proc.stdin is not None:
                with contextlib.suppress(Exception):
                    proc.stdin.close()
        await asyncio.gather(*(self._reap(p) for p in self._procs))
        for w in self._workers:
            if w is None:
                continue
            if w.reader is not None and not w.reader.done():
                w.reader.cancel()
                with contextlib.suppress(BaseException):
                    await w.reader
            for t, fut in w.pending.values():  # never reached in a normal run: all answered
                if not fut.done():
                    fut.set_result(failed_result(t, "the run ended before the worker process answered"))
        if self._fallback is not None:
            await self._fallback.__aexit__(None, None, None)
            self._fallback = None

    @staticmethod
    async def _reap(proc: asyncio.subprocess.Process) -> None:
        try:
            await asyncio.wait_for(proc.wait(), _CLOSE_WAIT)
        except (TimeoutError, asyncio.CancelledError):
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            with contextlib.suppress(Exception):
                await proc.wait()

    @property
    def pids(self) -> Sequence[int]:
        return [w.proc.pid for w in self._workers if w is not None]


@contextlib.asynccontextmanager
async def host_scanner(opts: ScanOptions, sigs: ScanInputs, client: HostProber | None = None) -> AsyncIterator[HostScan]:
    """``scan(target) -> HostResult`` for the runner: in this process (``--workers 1``, or a
    client given by the caller, as tests and ``nscheck demo`` do) or in a ``WorkerPool``."""
    from nscheck.runner import scan_host

    n = opts.workers or 1
    if client is not None or n < 2:
        if client is not None:
            yield lambda t: scan_host(t, client, opts, sigs)
            return
        from nscheck.probe.client import ProbeClient

        async with ProbeClient(opts) as pc:
            yield lambda t: scan_host(t, pc, opts, sigs)
        return
    pool = WorkerPool(opts, sigs, n)
    try:
        await pool.start()
        yield pool.scan
    finally:
        await pool.close()


# -- worker side ---------------------------------------------------------------------------------


def worker_pacer(rate: float, n: int, index: int, phase: float, **kw: Any) -> Any:
    """Worker ``index``'s share of a ``--rate-limit`` of ``rate`` split over ``n`` workers: one
    slot every n/rate seconds, starting index/rate after ``phase`` (a ``time.monotonic`` value of
    the parent; CLOCK_MONOTONIC is system-wide). The shares add up to the cap, evenly spaced."""
    from nscheck.probe.ratelimit import RateLimiter

    return RateLimiter(rate / n, start=phase + index / rate, **kw)



async def _serve(index: int, proto_fd: int) -> None:
    from nscheck.probe.client import ProbeClient
    from nscheck.runner import scan_host

    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=2**20)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(0, "rb", buffering=0))
    w_transport, w_protocol = await loop.connect_write_pipe(
        lambda: asyncio.streams.FlowControlMixin(), os.fdopen(proto_fd, "wb", buffering=0))
    writer = asyncio.StreamWriter(w_transport, w_protocol, None, loop)
    msg = await _read_frame(reader)
    if msg is None:
        return
    init = msg[2]
    opts: ScanOptions = init["opts"]
    sigs = init["sigs"]
    n: int = init["n"]
    if init["nitro"]:
        from nscheck.nitro import load_context

        # The parent validated the same sources a moment ago; if they broke since, the NITRO
        # stage is simply absent for this worker's hosts and says nothing wrong.
        try:
            sigs = replace(sigs, nitro=load_context(opts))
        except Exception as e:
            print(f"nscheck: worker process {index + 1}: NITRO credentials unusable now ({type(e).__name__}); "
                  "its hosts are read without NITRO", file=sys.stderr, flush=True)
    tasks: dict[int, asyncio.Task[None]] = {}
    lock = asyncio.Lock()

    async def send(obj: Any) -> None:
        async with lock:
            writer.write(_frame(obj))
            await writer.drain()

    async with ProbeClient(opts) as pc:
        if opts.rate_limit:
            pc.pacer = worker_pacer(opts.rate_limit, n, index, init["phase"])

        async def one(ident: int, t: Target) -> None:
            try:
                res = await scan_host(t, pc, opts, sigs)
                try:
                    await send(("result", ident, res))
                except (pickle.PicklingError, TypeError, AttributeError) as e:
                    await send(("failed", ident, f"result could not be sent ({type(e).__name__})"))
            except (ConnectionError, OSError):
                pass  # the parent is gone
            except Exception as e:  # scan_host never raises; if it did, the parent still gets an answer
                with contextlib.suppress(Exception):
                    await send(("failed", ident, f"internal error: {type(e).__name__}"))
            finally:
                tasks.pop(ident, None)

        while True:
            msg = await _read_frame(reader)
            if msg is None:
                break
            kind, ident, payload = msg
            if kind == "scan":
                tasks[ident] = asyncio.create_task(one(ident, payload))
            elif kind == "cancel" and ident in tasks:
                tasks[ident].cancel()
        # stdin closed: the run is over (or the parent died); what is still running is dropped.
        for task in list(tasks.values()):
            task.cancel()
        await asyncio.gather(*tasks.values(), return_exceptions=True)


def main(argv: Sequence[str] | None = None) -> int:
    """A worker: ``python -c <boot> --nscheck-worker INDEX``, talking to its parent over stdio."""
    args = list(sys.argv[1:] if argv is None else argv)
    index = int(args[-1]) if args and args[-1].isdigit() else 0
    # The parent owns the run's signals (grace period, partial results); a worker only ends
    # when its stdin closes.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    # The protocol gets the real stdout; fd 1 becomes stderr, so no print can corrupt it.
    proto_fd = os.dup(1)
    os.dup2(2, 1)
    from nscheck.eventloop import run as run_loop

    with contextlib.suppress(BrokenPipeError, ConnectionError):  # the parent went away
        run_loop(_serve(index, proto_fd))  # uvloop where installed, like the one-process scan
    return 0


if __name__ == "__main__":
    sys.exit(main())
