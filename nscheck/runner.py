"""``nscheck scan``: targets -> probe -> fingerprint -> assess -> sinks.

Hosts are launched lazily through a semaphore (never one task per target up front, so memory
stays flat at thousands of hosts); each finished ``HostResult`` goes to every sink at once;
``scan_host`` never raises, so one bad host never hurts the scan.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import itertools
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nscheck import __version__
from nscheck.build import Build
from nscheck.exitcodes import ExitCode
from nscheck.inputs import InputError, ScanInputs, load_scan_inputs
from nscheck.model import (
    AdvisoryResult,
    Evidence,
    HostResult,
    HostStatus,
    Indicator,
    ProductInfo,
    Remediation,
    SkipKind,
    Skipped,
)
from nscheck.options import ScanOptions
from nscheck.probe.types import NO_ANSWER, ErrorKind, Fetcher, HostProber, HttpResponse, no_answer
from nscheck.report.base import RunInfo, RunSummary, Sink
from nscheck.report.exitcodes import signatures_meta
from nscheck.targets import (
    Target,
    TargetError,
    TargetStats,
    iter_targets,
    load_exclusions,
    parse_shard,
    parse_target,
)

if TYPE_CHECKING:
    from nscheck.drive import RunStage
    from nscheck.fingerprint.engine import Fingerprint

__all__ = ["ScanSignatures", "load_signatures", "run", "scan_async", "scan_host", "scan_hosts"]

# The host answered, but its very first answer is unusable: the scan of it failed.
_BROKEN = frozenset({ErrorKind.TLS, ErrorKind.RESET, ErrorKind.PROTOCOL, ErrorKind.DECODE})


# What a scan reads besides its targets: loaded and validated once, before the first request.
ScanSignatures = ScanInputs


def load_signatures(opts: ScanOptions) -> ScanInputs:
    """Raises InputError (every problem, file:line) when a rule file or rule option is unusable."""
    return load_scan_inputs(opts)


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _host_status(responses: Sequence[HttpResponse]) -> tuple[HostStatus, str | None]:
    if not responses:
        return HostStatus.ERROR, "no request could be sent"
    answered = [r for r in responses if r.status is not None]
    first_err = next((r for r in responses if r.error), None)
    if not answered:
        r0 = first_err or responses[0]
        if no_answer(responses):
            return HostStatus.UNREACHABLE, r0.error
        broken = next((r for r in responses if r.error_kind not in NO_ANSWER), r0)
        return HostStatus.ERROR, broken.error
    deadline = next((r for r in responses if r.error_kind == ErrorKind.DEADLINE), None)
    if deadline is not None:
        return HostStatus.ERROR, f"host deadline reached after {len(answered)} answers (evidence so far kept)"
    root = responses[0]
    if root.error_kind == ErrorKind.REDIRECT and root.error and root.error.startswith("too many"):
        return HostStatus.ERROR, f"redirect loop on {root.url}: {root.error}"
    if root.error_kind in _BROKEN or (root.status is None and root.error):
        return HostStatus.ERROR, f"{root.url}: {root.error}"
    return HostStatus.OK, None


async def scan_host(target: Target, client: HostProber, opts: ScanOptions, sigs: ScanSignatures) -> HostResult:
    """Probe, fingerprint and assess one host. Never raises: every failure is a status with a reason."""
    from nscheck.fingerprint.engine import fingerprint_host

    started = _now()
    t0 = time.monotonic()
    fetcher: Fetcher | None = None
    fp: Fingerprint | None = None
    skipped: list[Skipped] = []
    advisories: tuple[AdvisoryResult, ...] = ()
    remediation: Remediation | None = None
    indicators: tuple[Indicator, ...] = ()
    error_override: str | None = None
    try:
        fetcher = client.fetcher(target, opts.host_deadline)
        async with asyncio.timeout(opts.host_deadline + 2.0):  # hard guard; the fetcher enforces the soft deadline
            fp = await fingerprint_host(fetcher, sigs.tables, build_stage=not opts.indicators_only)
            skipped.extend(fp.skipped)
            if fp.product.is_netscaler:
                # Assess first: it needs no I/O, so a deadline hit during the indicator GETs
                # cannot lose verdicts the build already gives.
                if not opts.indicators_only:
                    advisories, remediation, more = _assess(fp, sigs)
                    skipped.extend(more)
                if opts.indicators:
                    indicators, more = await _indicators(fetcher, fp, opts, sigs)
                    skipped.extend(more)
                else:
                    skipped.append(Skipped("indicators", "switched off (--no-indicators)", SkipKind.DISABLED))
    except TimeoutError:
        error_override = f"host deadline ({opts.host_deadline:g}s) reached"
    except Exception as e:  # one bad host never hurts the scan
        from nscheck.safetext import mask_userinfo

        error_override = mask_userinfo(f"internal error: {type(e).__name__}: {e}")
    finally:
        # The host is done: free its connections now rather than leave them idle in a pool.
        aclose = getattr(fetcher, "aclose", None)
        if aclose is not None:
            with contextlib.suppress(Exception):
                await aclose()
    responses = list(getattr(fetcher, "responses", ()) or ())
    status, reason = _host_status(responses)
    if error_override:
        status, reason = HostStatus.ERROR, error_override
    product = fp.product if fp is not None else ProductInfo(None)
    build = fp.build if fp is not None else None
    requests_sent = getattr(fetcher, "requests_sent", 0)
    extra: dict[str, Any] = {}
    if sigs.nitro is not None and fetcher is not None and not opts.indicators_only:
        # After the remote part, with its own deadline: whatever NITRO does, the remote result stands.
        read = None
        try:
            from nscheck.nitro import nitro_stage

            async with asyncio.timeout(opts.host_deadline + 2.0):
                read, more = await nitro_stage(target, fp, fetcher, client, opts, sigs.nitro)
            skipped.extend(more)
        except TimeoutError:
            skipped.append(Skipped("nitro", f"NITRO read stopped at the host deadline ({opts.host_deadline:g}s)", SkipKind.DEADLINE))
        if read is not None:
            requests_sent += read.requests_sent
            merged = None
            if read.usable and (read.build is not None or read.facts):
                from nscheck.nitro import combine

                try:
                    merged = combine(fp, read, sigs)
                except Exception as e:  # one bad host never hurts the scan; the remote result stands
                    skipped.append(Skipped("nitro", f"internal error combining NITRO evidence: {type(e).__name__}"))
            if merged is not None:
                product, build = merged["product"], merged["build"]
                advisories, remediation = merged["advisories"], merged["remediation"]
                extra["nitro"] = merged["extra"]
                indicators = (*indicators, *read.file_hits)
                if status is not HostStatus.OK and read.build is not None:
                    skipped.append(Skipped("remote", f"remote scan: {reason}; NITRO answered at {read.address}"))
                    status, reason = HostStatus.OK, None
            else:
                extra["nitro"] = {"address": read.address, "status": read.status, "notes": list(read.notes),
                                  "requests_sent": read.requests_sent}
    url = target.url
    if fetcher is not None and getattr(fetcher, "plain_http", False):
        # an https target read over plain http: the report shows the scheme really used, and says so
        url = str(fetcher.base_url)
        skipped.insert(0, Skipped("tls", f"{target.url} answered the TLS ClientHello in plain HTTP: the host was read "
                                  f"over {url} without TLS (no certificate, no transport security; no -H header was "
                                  "sent over it; --verify, --ca or -H forbid this fallback)"))
    return HostResult(
        target=target.raw,
        status=status,
        url=url,
        error=reason,
        product=product,
        build=build,
        advisories=advisories,
        indicators=tuple(indicators),
        remediation=remediation,
        certificate=getattr(fetcher, "certificate", None),
        requests_sent=requests_sent,
        duration_ms=int((time.monotonic() - t0) * 1000),
        skipped=tuple(skipped),
        started=started,
        extra=extra,
    )


async def _indicators(fetcher: Fetcher, fp: Fingerprint, opts: ScanOptions,
                      sigs: ScanSignatures) -> tuple[tuple[Indicator, ...], list[Skipped]]:
    from nscheck.assess.indicators import check_host

    hits, skips = await check_host(fetcher, fp.pages, roles=fp.product.roles, rules=sigs.indicators,
                                   signatures_dir=opts.signatures_path, allow_origins=sigs.allow_origins,
                                   path_tier=opts.indicator_paths)
    return tuple(hits), list(skips)


def _assess(fp: Fingerprint, sigs: ScanSignatures) -> tuple[tuple[AdvisoryResult, ...], Remediation | None, list[Skipped]]:
    from nscheck.assess.advisories import assess

    builds: Sequence[Build] = fp.builds
    result = assess(sigs.advisories, builds, fp.facts)
    advs = tuple(result.advisories)
    if fp.bound and fp.build is not None:
        # A floor or a compile date: what the candidates cannot carry, the date may (issue 11 §3).
        from nscheck.assess.dated import bound_by_fingerprint

        advs = bound_by_fingerprint(sigs.advisories, sigs.tables, advs, fp, fp.facts)
    return advs, result.remediation, []


# -- the run ---------------------------------------------------------------------------------------


@dataclass
class StreamEnd:
    """How a host stream ended, known once it has: ``partial`` when a stop (SIGTERM/SIGINT) cut it short."""

    partial: bool = False


async def scan_async(
    targets: Iterable[Target],
    opts: ScanOptions,
    sinks: Sequence[Sink] = (),
    stop: asyncio.Event | None = None,
    *,
    client: HostProber | None = None,
    sigs: ScanSignatures | None = None,
    run_info: RunInfo | None = None,
    stage: RunStage | None = None,
) -> RunSummary:
    """Scan a stream of targets with at most ``opts.concurrency`` hosts in flight; ``drive``
    gives each host to the state stage and every sink as it finishes."""
    from nscheck.drive import drive

    sigs = sigs or load_signatures(opts)
    meta = signatures_meta(opts.signatures_path)
    info = run_info or RunInfo(run_id=uuid.uuid4().hex, started=_now(), kind="scan", tool_version=__version__,
                               shard=_shard_label(opts), signatures_version=meta.get("signatures_version"),
                               signatures_date=meta.get("signatures_date"))
    end = StreamEnd()
    return await drive(scan_stream(targets, opts, sigs, stop, client=client, end=end), sinks, run_info=info,
                       stage=stage, partial=lambda: end.partial)


async def scan_stream(targets: Iterable[Target], opts: ScanOptions, sigs: ScanSignatures,
                      stop: asyncio.Event | None = None, *, client: HostProber | None = None,
                      end: StreamEnd | None = None) -> AsyncIterator[HostResult]:
    """Each host's result as soon as it is done. Hosts are launched lazily (at most
    ``opts.concurrency`` tasks exist, so memory stays flat at any target count); after ``stop``
    nothing new starts and in-flight hosts get ``opts.grace_period`` seconds (``end.partial``)."""
    from nscheck.state.cron import acquire_or_stop, drain
    from nscheck.workers import host_scanner

    end = end if end is not None else StreamEnd()
    sem = asyncio.Semaphore(max(1, opts.concurrency))
    running: set[asyncio.Task[None]] = set()
    # Finished hosts wait here for the consumer (the sinks run in this, the caller's, task: a
    # hard stop cancels every other task, never the one that closes the sinks); None: no more.
    finished: asyncio.Queue[HostResult | None] = asyncio.Queue()

    # --workers N: only the per-host call moves to worker processes; the run stays here (nscheck.workers).
    async with host_scanner(opts, sigs, client) as scan:

        async def one(t: Target) -> None:
            try:
                finished.put_nowait(await scan(t))
            finally:
                sem.release()

        async def launch() -> None:
            try:
                for t in targets:
                    if stop is not None and stop.is_set():
                        end.partial = True
                        break
                    # A stop ends the wait for a slot.
                    if not await acquire_or_stop(sem, stop):
                        end.partial = True
                        break
                    task = asyncio.create_task(one(t))
                    running.add(task)
                    task.add_done_callback(running.discard)
                if running:
                    # After a stop (SIGTERM/SIGINT) in-flight hosts get --grace-period seconds.
                    end.partial = await drain(running, stop, opts.grace_period) or end.partial
            finally:
                finished.put_nowait(None)

        launcher = asyncio.create_task(launch())
        try:
            while (result := await finished.get()) is not None:
                yield result
        finally:
            if not launcher.done():  # the consumer gave up early: stop launching, drop hosts in flight
                launcher.cancel()
                for t in list(running):
                    t.cancel()
                await asyncio.gather(*running, return_exceptions=True)
            try:
                await launcher
            except asyncio.CancelledError:
                me = asyncio.current_task()
                if me is not None and me.cancelling():
                    raise
                end.partial = True  # a hard stop (second signal) cancelled the launcher


class _Collect:
    def __init__(self) -> None:
        self.results: list[HostResult] = []

    def open(self, run: RunInfo) -> None:
        pass

    def host(self, result: HostResult) -> None:
        self.results.append(result)

    def close(self, summary: RunSummary) -> None:
        pass


def scan_hosts(targets: Sequence[str], opts: ScanOptions | None = None) -> list[HostResult]:
    """Synchronous convenience (tests, demo): results in input order."""
    o = opts or ScanOptions()
    parsed: list[Target] = []
    for raw in targets:
        parsed.extend(parse_target(raw, max_expand=o.max_expand, force=o.force_large))
    sink = _Collect()
    from nscheck.eventloop import run as run_loop

    run_loop(scan_async(parsed, o, [sink]))
    order = {t.raw + "|" + t.url: i for i, t in enumerate(parsed)}
    return sorted(sink.results, key=lambda r: order.get(r.target + "|" + (r.url or ""), 0))


# -- output ----------------------------------------------------------------------------------------


_SECRET_HEADER = ("auth", "cookie", "token", "key", "secret", "pass", "session", "credential")


def _shown(name: str, value: str) -> str:
    """A -H value as --dry-run prints it: credentials never reach any output (Principle 6)."""
    return "*** (from -H, not shown)" if any(w in name.lower() for w in _SECRET_HEADER) else value


def _dry_run(targets: Iterable[Target], opts: ScanOptions, sigs: ScanInputs) -> int:
    from nscheck.assess.indicators import plan_path_requests
    from nscheck.fingerprint.engine import plan_ladder
    from nscheck.probe.client import ProbeClient

    pc = ProbeClient(opts)
    n = 0
    for t in targets:
        n += 1
        print(f"# {t.raw} -> {t.url} (sends nothing: --dry-run; later requests depend on earlier answers)")
        for fm, reqs in plan_ladder("nscheck-<random>.html"):
            # what each fingerprint method looks at, so a reviewer can tell why a request is sent
            print(f"# fingerprint [{fm.stage}] {fm.name}: {fm.doc}"
                  + ("" if reqs else " (reads the answers above; sends nothing)"))
            for rq in reqs:
                hdrs = pc.request_headers(raw=rq.raw, byte_range=rq.byte_range)
                print(f"{rq.method} {t.url}{rq.path}")
                for k, v in hdrs.items():
                    print(f"    {k}: {_shown(k, v)}")
        if opts.indicators and opts.indicator_paths != "none":
            # Only on hosts found to be NetScaler; plus up to 5 first-party scripts of the login
            # pages and one soft-404 baseline per directory, which depend on the answers.
            print("# remote indicator paths (only if the host is a NetScaler):")
            for method, path, rng in plan_path_requests(opts.signatures_path, opts.indicator_paths, rules=sigs.indicators):
                hdrs = pc.request_headers(raw=rng is not None, byte_range=rng)
                print(f"{method} {t.url}{path}")
                for k, v in hdrs.items():
                    print(f"    {k}: {_shown(k, v)}")
        if sigs.nitro is not None:
            from nscheck.nitro import plan_lines

            for line in plan_lines(sigs.nitro, t):
                print(line)
    print(f"# {n} target(s), 0 requests sent")
    return ExitCode.OK


def run(opts: ScanOptions) -> int:
    """The ``nscheck scan`` entry point: returns the exit code."""
    errors: list[TargetError] = []

    def on_error(e: TargetError) -> None:
        errors.append(e)
        print(f"nscheck: skipped target {e}", file=sys.stderr)

    try:
        shard = parse_shard(opts.shard, opts.shards)
    except ValueError as e:
        print(f"nscheck: {e}", file=sys.stderr)
        return ExitCode.USAGE
    try:
        from nscheck.probe.client import ProbeClient

        ProbeClient.check_options(opts)
    except ValueError as e:
        print(f"nscheck: {e}", file=sys.stderr)
        return ExitCode.USAGE

    if not opts.targets and not opts.input_files:
        if opts.config:
            # A cron config without targets must not turn into a green scan of the demo lab.
            print(f"nscheck: nothing to scan: --config {opts.config} names no input and no targets were given",
                  file=sys.stderr)
            return ExitCode.USAGE
        return _run_demo(opts)

    # Unreadable target or exclusion files are usage errors before any work: a missing target
    # list would scan nothing and exit green, a missing exclusion list would scan what must not be.
    for flag, files in (("--input", opts.input_files), ("--exclude-file", opts.exclude_files)):
        for f in files:
            problem = _unreadable(f)
            if problem:
                print(f"nscheck: {flag} {f}: {problem}", file=sys.stderr)
                return ExitCode.USAGE

    # Every rule file and rule option first: a broken one is exit 64 before any request (also
    # for --dry-run, so a dry run is a complete check of the run's inputs).
    try:
        sigs = load_signatures(opts)
    except InputError as e:
        for m in e.problems:
            print(f"nscheck: {m}", file=sys.stderr)
        return ExitCode.USAGE
    from nscheck import deliver

    problems = deliver.check(opts)
    if problems:
        for m in problems:
            print(f"nscheck: {m}", file=sys.stderr)
        return ExitCode.USAGE
    exclusions = load_exclusions(opts.exclude, opts.exclude_files, on_error)
    stats = TargetStats()
    stream = iter_targets(opts.targets, opts.input_files, exclusions=exclusions, max_expand=opts.max_expand,
                          force=opts.force_large, shard=shard, on_error=on_error, stats=stats)
    first = next(stream, None)
    if first is None:  # never a green run on nothing
        if stats.other_shards and not stats.errors:
            # Not a broken job: the hash split put every target in the other shards (more shards
            # than targets, or a small list). Those jobs scan them; this one has nothing to do.
            print(f"nscheck: {_why_empty(stats, opts)}: nothing for this shard to do", file=sys.stderr)
            return ExitCode.OK
        print(f"nscheck: nothing to scan: {_why_empty(stats, opts)}", file=sys.stderr)
        return ExitCode.USAGE
    targets: Iterable[Target] = itertools.chain((first,), stream)
    if opts.dry_run:
        return _dry_run(targets, opts, sigs)
    from nscheck.report.outputs import check_run_outputs, stdout_to

    # Every output path before the first packet: a report that cannot be written fails now, in
    # one line, not after the scan (when the HTML would be lost) or once per host.
    problems = check_run_outputs(opts)
    if problems:
        for line in problems:
            print(f"nscheck: {line}", file=sys.stderr)
        return ExitCode.CANTCREAT
    from nscheck.report import check_signature_age

    stale = check_signature_age(opts.signatures_path, opts.max_signature_age, quiet=opts.quiet)
    if stale is not None:
        return stale
    with stdout_to(opts.output) as redirect:
        code = _scan_and_report(opts, targets, sigs)
        if code in (ExitCode.USAGE, ExitCode.LOCKED):  # nothing was scanned: keep the last report
            redirect.discard()
    return code


def _scan_and_report(opts: ScanOptions, targets: Iterable[Target], sigs: ScanSignatures) -> int:
    from nscheck.report import build_sinks
    from nscheck.report.exitcodes import ExitTally
    from nscheck.report.formats import OutputFormat
    from nscheck.state.cron import QuietSink, SetupError, scheduled, with_signals

    keep = ExitTally()  # only what the exit code needs, not every result (memory at 5000+ hosts)
    try:
        # --lock first: a run that is locked out touches no output file and no state.
        with scheduled(opts) as stage:
            out: Sink = (QuietSink() if opts.quiet and opts.format == OutputFormat.TABLE
                         else OutputFormat(opts.format).sink("scan", sort=opts.sort))
            # `--jsonl -` owns stdout: the table/json would corrupt the stream.
            names: list[str] | None = None
            if "-" not in opts.input_files:
                # A list known up front (not a stdin stream): the progress bar can say N/total.
                targets = list(targets)
                names = [t.raw for t in targets]
            from nscheck.workers import resolve_workers

            opts = opts.with_(workers=resolve_workers(opts, len(names) if names is not None else None))
            from nscheck.report.progress import ProgressSink

            files = build_sinks(opts, targets=names)
            bar = [s for s in files if isinstance(s, ProgressSink)]
            # The progress bar closes first: it is cleared before the table prints.
            sinks: list[Sink] = [*bar, *([] if opts.jsonl == "-" else [out]), keep,
                                 *(s for s in files if not isinstance(s, ProgressSink))]
            from nscheck.eventloop import run as run_loop

            summary, signum = run_loop(with_signals(
                lambda stop: scan_async(targets, opts, sinks, stop, sigs=sigs, stage=stage)))
        if opts.state and not opts.quiet:
            from nscheck.state import summary_line

            print(f"nscheck: since the last run: {summary_line(summary.extra.get('transitions') or {})}"
                  + (" (partial run)" if summary.partial else ""), file=sys.stderr)
    except SetupError as e:
        print(f"nscheck: {e}", file=sys.stderr)
        return e.code
    except KeyboardInterrupt:
        return ExitCode.SIGINT
    for line in keep.error_lines():  # one line per distinct check error, after the run
        print(line, file=sys.stderr)
    from nscheck.deliver.base import DeliveryStats

    delivery = [st for s in sinks if isinstance(st := getattr(s, "stats", None), DeliveryStats)]
    for st in delivery:
        if st.failed or not opts.quiet:
            print(f"nscheck: {st.line()}", file=sys.stderr)
    if signum is not None:
        # Interrupted: everything finished is flushed and the run is marked partial; the exit
        # code says so (128 + signal: 130 SIGINT, 143 SIGTERM), whatever the findings.
        return 128 + signum
    if any(st.failed for st in delivery):
        # The scan worked but the SIEM did not get everything (it is spooled for the next run):
        # a distinct code, so the wrapper alerts on the pipeline, not on the appliances.
        return ExitCode.DELIVERY
    return keep.code(opts.fail_on, opts.fail_on_unknown, opts.strict)


def _unreadable(path: str) -> str | None:
    """Why a target/exclusion file cannot be read, or None ('-' is stdin, read later)."""
    if path == "-":
        return None
    try:
        with open(path, "rb"):
            pass
    except (OSError, ValueError) as e:
        return f"cannot read: {getattr(e, 'strerror', None) or e}"
    return None


def _why_empty(stats: TargetStats, opts: ScanOptions) -> str:
    seen = stats.accepted + stats.excluded + stats.other_shards
    if stats.excluded and not stats.other_shards:
        return f"all {stats.excluded} target(s) are excluded (--exclude/--exclude-file)"
    if stats.other_shards and seen:
        return (f"shard {opts.shard} holds none of the {seen} target(s) (other shards: {stats.other_shards}, "
                f"excluded: {stats.excluded})")
    if stats.errors:
        return f"no usable target: {stats.errors} item(s) skipped as bad (see above)"
    return "the input holds no targets (empty file or stdin?)"


def _shard_label(opts: ScanOptions) -> str | None:
    """``K/N`` as resolved (``--shard auto`` records which slice this job took)."""
    try:
        sh = parse_shard(opts.shard, opts.shards)
    except ValueError:
        return opts.shard
    return f"{sh[0]}/{sh[1]}" if sh else None


def _run_demo(opts: ScanOptions) -> int:
    from nscheck.lab import start_lab

    print("nscheck: no targets given: scanning the built-in demo lab on loopback", file=sys.stderr)
    with start_lab("demo") as lab, tempfile.TemporaryDirectory(prefix="nscheck-demo-") as tmp:
        demo = replace(opts, targets=tuple(lab.target_urls))
        nitro_hosts = [t for t in lab.targets if t.profile.opt("nitro_demo")]
        if nitro_hosts and not (opts.nitro_user or opts.nitro_credentials):
            demo = replace(demo, nitro_credentials=_demo_nitro_credentials(Path(tmp), [t.url for t in nitro_hosts]))
            names = ", ".join(t.url for t in nitro_hosts)
            print(f"nscheck: demo: {names} is also read over NITRO with the lab's read-only account: "
                  "its verdicts are definite only thanks to NITRO", file=sys.stderr)
        return run(demo)


def _demo_nitro_credentials(tmp: Path, urls: Sequence[str]) -> str:
    """A 0600 credentials file naming only the demo's NITRO host(s), with the lab account."""
    import os

    from nscheck.lab.nitro import LAB_NITRO_PASSWORD, LAB_NITRO_USER

    p = tmp / "nitro.toml"
    body = "".join(f'[hosts."{u}"]\nnitro = "{u}"\nuser = "{LAB_NITRO_USER}"\npassword = "{LAB_NITRO_PASSWORD}"\n\n'
                   for u in urls)
    fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(body)
    return str(p)


def evidence_summary(result: HostResult) -> list[Evidence]:
    """All evidence of a host, product and build, in one list (for reports)."""
    out = list(result.product.evidence)
    if result.build is not None:
        out += list(result.build.methods)
    return out
