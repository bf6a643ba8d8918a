"""``nscheck triage``: offline analysis of artefacts collected from an appliance."""

from __future__ import annotations

import dataclasses
import datetime as dt
import secrets
import shlex
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from nscheck import __version__
from nscheck.cli import app
from nscheck.exitcodes import ExitCode
from nscheck.report.exitcodes import FailOn
from nscheck.report.formats import OutputFormat, help_text

if TYPE_CHECKING:
    from nscheck.model import HostResult
    from nscheck.signatures.triage import TriageRules
    from nscheck.triage.context import TriageOptions



def _parse_size(text: str) -> int:
    """'1048576', '500K', '64M', '32G', '1T' (powers of 1024) -> bytes."""
    t = text.strip().upper().removesuffix("B").removesuffix("I")
    mult = {"K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}.get(t[-1:], 1)
    num = t[:-1] if mult > 1 else t
    try:
        value = int(float(num) * mult)
    except ValueError:
        raise typer.BadParameter(f"not a size: {text!r} (e.g. 500M, 32G)", param_hint="--max-read") from None
    if value <= 0:
        raise typer.BadParameter(f"must be positive: {text!r}", param_hint="--max-read")
    return value


def _parse_when(text: str) -> dt.datetime:
    t = text.strip().replace("Z", "+00:00")
    try:
        when = dt.datetime.fromisoformat(t)
    except ValueError:
        raise typer.BadParameter(f"not an ISO date or date-time: {text!r}", param_hint="--collected-at") from None
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


@app.command(
    "triage",
    epilog=(
        "PATH: a directory mirroring the appliance file system (or a mounted disk image), a .tar/.tar.gz of one, "
        "a 'show techsupport' collector bundle, or a disk image (needs nscheck[image]). With --name, all PATHs "
        "are one appliance. Exit codes: 0 nothing at or above --fail-on; 1 indicators (or bulletins hitting the build "
        "found in the artefacts) at or above --fail-on; "
        "2 with --fail-on-unknown when an input could not be read; 64 usage or signature error; 66 a PATH does "
        "not exist; 73 an output path cannot be written."
    ),
)
def triage_cmd(
    paths: list[str] = typer.Argument(None, help="Artefact collections (directory, tar, tar.gz, collector bundle, image), "
                                      "or live appliances as ssh://USER@HOST[:PORT]."),
    name: str = typer.Option(None, "--name", help="Appliance name; all PATHs are then treated as one appliance."),
    fmt: OutputFormat = typer.Option(OutputFormat.TABLE, "-f", "--format", help=help_text("Output on stdout: ")),
    output: str = typer.Option(None, "-o", "--output", help="Write the --format output to FILE (atomically) instead of stdout."),
    output_dir: str = typer.Option(None, "--output-dir", help="Write <appliance>.json and <appliance>.md here."),
    jsonl: str = typer.Option(None, "--jsonl", help="ECS JSON Lines (nscheck.finding alerts with file.*; '-' for stdout)."),
    fail_on: FailOn = typer.Option(FailOn.HIGH, "--fail-on", help="Exit 1 on indicators at or above this severity."),
    fail_on_unknown: bool = typer.Option(False, "--fail-on-unknown", help="Exit 2 when an input could not be read."),
    strict: bool = typer.Option(False, "--strict", help="Exit 2 when any check could not run (a data or internal error)."),
    collected_at: str = typer.Option(None, "--collected-at",
                                     help="When the artefacts were collected (ISO date/time, UTC if no zone); default: "
                                     "bundle name, else the newest file's time."),
    recent_days: int = typer.Option(None, "--recent-days", min=1, help="Window for recent web-root changes (default 90)."),
    signatures: str = typer.Option(None, "--signatures", help="Use another signature set directory."),
    state: str = typer.Option(None, "--state", help="State database of nscheck scan: record this triage; a clean one "
                              "closes the host's compromise-assessment-required findings (use --name HOST)."),
    no_yara: bool = typer.Option(False, "--no-yara", help="Skip YARA scans even when yara-python is installed."),
    max_read: str = typer.Option("32G", "--max-read", help="Total bytes read from the input (members plus decompressed "
                                 "logs), e.g. 500M, 32G; beyond it files are checked by name and metadata only."),
    max_time: float = typer.Option(1800.0, "--max-time", min=0.001, help="Seconds the whole triage may take; what was "
                                   "not examined is listed in coverage."),
    max_findings: int = typer.Option(2000, "--max-findings", min=1, help="Findings kept; further hits are counted."),
    group_after: int = typer.Option(5, "--group-after", min=1, help="Files one rule hits in one directory listed one by "
                                    "one; beyond, one grouped finding with the count and examples."),
    input_files: list[str] = typer.Option(None, "-i", "--input", help="Live triage: file with one ssh://USER@HOST[:PORT] "
                                          "or host per line ('#' comments)."),
    ssh_user: str = typer.Option(None, "--ssh-user", help="Live triage: user for targets given without one."),
    ssh_key: str = typer.Option(None, "--ssh-key", help="Live triage: private key file (default: the SSH agent)."),
    ssh_password_file: str = typer.Option(None, "--ssh-password-file", help="Live triage: file (mode 0600) whose first "
                                          "line is the password (or set NSCHECK_SSH_PASSWORD)."),
    known_hosts: str = typer.Option(None, "--known-hosts", help="Live triage: known_hosts file (default "
                                    "~/.ssh/known_hosts); unknown keys are refused, changed keys always."),
    accept_new_host_keys: bool = typer.Option(False, "--accept-new-host-keys", help="Live triage: accept and record "
                                              "unknown host keys in nscheck's own known-hosts file (changed keys are "
                                              "still refused)."),
    collect_to: str = typer.Option(None, "--collect-to", help="Live triage: keep what was collected per appliance "
                                   "here (archive, SHA-256 manifest, collection time)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Live triage: print the exact commands per host, send nothing."),
    concurrency: int = typer.Option(10, "-c", "--concurrency", min=1, help="Live triage: appliances collected at once."),
    host_deadline: float = typer.Option(900.0, "--host-deadline", min=0.5, help="Live triage: seconds one appliance's "
                                        "collection may take."),
) -> None:
    """Triage artefacts collected from a NetScaler appliance, offline (NCSC-NL style checks, logs, YARA).
    Nothing from the input is executed; archives are read member by member, never extracted."""
    when = _parse_when(collected_at) if collected_at else None
    from types import SimpleNamespace

    from nscheck.report.outputs import check_run_outputs, input_problem, stdout_to

    paths = list(paths or [])
    # local PATHs only: ssh:// targets are live hosts, read by the live triage
    missing = [(p, input_problem(p)) for p in paths if not p.startswith("ssh://")]
    for p, why in missing:
        if why:
            typer.echo(f"nscheck triage: cannot read input {p[:300]}: {why}", err=True)
    if any(why for _, why in missing):
        raise typer.Exit(ExitCode.NOINPUT)

    problems = check_run_outputs(SimpleNamespace(output=output, jsonl=jsonl, output_dir=output_dir))
    for line in problems:
        typer.echo(f"nscheck triage: {line}", err=True)
    if problems:
        raise typer.Exit(ExitCode.CANTCREAT)

    from nscheck.inputs import InputError, load_triage_inputs
    from nscheck.paths import signatures_dir
    from nscheck.triage.context import TriageOptions
    from nscheck.triage.runner import triage

    sigdir = signatures_dir(signatures)
    try:
        # Triage rules and bulletins, validated before the first artefact is read (exit 64).
        rules = load_triage_inputs(sigdir).rules
    except InputError as e:
        for m in e.problems:
            typer.echo(f"nscheck triage: signature error: {m}", err=True)
        raise typer.Exit(ExitCode.USAGE) from None
    paths = list(paths or [])
    if input_files or any(p.startswith("ssh://") for p in paths):
        opts = TriageOptions(state=state, paths=tuple(paths), format=fmt, output_dir=output_dir, jsonl=jsonl,
                             fail_on=fail_on, fail_on_unknown=fail_on_unknown, strict=strict, collected_at=when,
                             recent_days=recent_days, signatures=signatures, yara=not no_yara,
                             max_read_bytes=_parse_size(max_read), max_seconds=max_time, max_findings=max_findings,
                             group_after=group_after)
        raise typer.Exit(_live(paths, list(input_files or []), ssh_user, ssh_key, ssh_password_file, known_hosts,
                               accept_new_host_keys, collect_to, dry_run, concurrency, host_deadline, opts, rules,
                               sigdir))
    if not paths:
        typer.echo("nscheck triage: give PATH... or ssh:// targets (-i HOSTS.txt)", err=True)
        raise typer.Exit(ExitCode.USAGE)
    opts = TriageOptions(state=state, paths=tuple(paths), name=name, format=fmt, output_dir=output_dir, jsonl=jsonl, fail_on=fail_on,
                         fail_on_unknown=fail_on_unknown, strict=strict, collected_at=when, recent_days=recent_days,
                         signatures=signatures, yara=not no_yara, max_read_bytes=_parse_size(max_read),
                         max_seconds=max_time, max_findings=max_findings, group_after=group_after)
    from nscheck.state.store import StateError

    try:
        with stdout_to(output):
            code = run_triage(opts, rules, sigdir, triage)
    except StateError as e:  # --state names a file that is not a usable state database
        typer.echo(f"nscheck triage: {e}", err=True)
        raise typer.Exit(ExitCode.USAGE) from None
    raise typer.Exit(code)


def _live(paths: list[str], input_files: list[str], ssh_user: str | None, ssh_key: str | None,
          password_file: str | None, known_hosts: str | None, accept_new: bool, collect_to: str | None, dry_run: bool,
          concurrency: int, host_deadline: float, opts: TriageOptions, rules: TriageRules, sigdir: Path) -> int:
    """``nscheck triage ssh://...``: validate everything before the first packet, then collect and triage."""
    from nscheck.signatures import SignatureError
    from nscheck.signatures.ssh import load_ssh_commands
    from nscheck.triage import live_ssh

    try:
        cs = load_ssh_commands(sigdir)
        targets = live_ssh.read_targets(paths, input_files, ssh_user)
        if ssh_key and not Path(ssh_key).is_file():
            raise live_ssh.LiveUsageError(f"--ssh-key {ssh_key}: no such file")
        if known_hosts and not Path(known_hosts).is_file():
            raise live_ssh.LiveUsageError(f"--known-hosts {known_hosts}: no such file")
        password = None if dry_run else live_ssh.read_password(password_file)
    except (SignatureError, ExceptionGroup) as e:
        errs = e.exceptions if isinstance(e, ExceptionGroup) else (e,)
        for m in errs:
            typer.echo(f"nscheck triage: signature error: {m}", err=True)
        return ExitCode.USAGE
    except live_ssh.LiveUsageError as e:
        from nscheck.report.text import clean

        typer.echo(f"nscheck triage: {clean(str(e), 500)}", err=True)
        return ExitCode.USAGE
    if dry_run:
        from nscheck.report.text import clean

        for t in targets:
            typer.echo(f"{clean(t.url, 300)} (user {clean(t.user, 100)}; a plain shell login gets the same commands "
                       "without the leading 'shell'; <nonce> is random per run):")
            for c in live_ssh.planned_commands(cs):
                typer.echo(f"  {c}")
        return ExitCode.OK
    auth = live_ssh.SshAuth(key_file=ssh_key, password=password, known_hosts=known_hosts,
                            own_known_hosts=live_ssh.own_known_hosts_path(), accept_new=accept_new)
    return live_ssh.run_live(targets, cs, auth, opts, rules, sigdir, concurrency=concurrency,
                             host_deadline=host_deadline, collect_to=collect_to)


def run_triage(opts: TriageOptions, rules: TriageRules, sigdir: Path,
               triage_fn: Callable[[list[str], TriageOptions, TriageRules, Path], HostResult]) -> int:
    """Triage each appliance in turn; ``drive`` gives each result to the state stage and every
    sink as soon as it is done (as for a scan). Returns the exit code."""
    import asyncio

    from nscheck.drive import drive, now
    from nscheck.report import build_sinks
    from nscheck.report.base import RunInfo, Sink
    from nscheck.report.exitcodes import ExitTally
    from nscheck.report.formats import OutputFormat

    run = RunInfo(run_id="triage-" + secrets.token_hex(6), started=now(), kind="triage", tool_version=__version__,
                  command="nscheck triage " + " ".join(shlex.quote(p) for p in opts.paths))
    tally = ExitTally()
    # `--jsonl -` owns stdout: the --format output would corrupt the stream.
    out: list[Sink] = [] if opts.jsonl == "-" else [OutputFormat(opts.format).sink("triage")]
    sinks = [*out, *build_sinks(opts, kind="triage"), tally]
    stage = None
    if opts.state:
        from nscheck.state import StateStage

        stage = StateStage(opts.state)
    groups = [list(opts.paths)] if opts.name else [[p] for p in opts.paths]

    def results() -> Iterator[HostResult]:
        for group in groups:
            result = triage_fn(group, opts, rules, sigdir)
            if stage is not None and opts.name:
                # the state database keys an appliance by the name it was given
                result = dataclasses.replace(result, extra={**result.extra, "host_name": opts.name})
            yield result

    asyncio.run(drive(results(), sinks, run_info=run, stage=stage))
    for line in tally.error_lines():
        print(line, file=sys.stderr)
    return tally.code(opts.fail_on, opts.fail_on_unknown, opts.strict)
