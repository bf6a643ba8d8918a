"""``nscheck scan``: the flags, turned into ScanOptions and handed to the runner."""

from __future__ import annotations

import typer

from nscheck.cli import app
from nscheck.options import DEFAULT_USER_AGENT, PathTier, ScanOptions
from nscheck.report.exitcodes import FailOn
from nscheck.report.formats import OutputFormat, help_text
from nscheck.report.order import Sort


@app.command(
    "scan",
    epilog=(
        "Exit codes: 0 nothing at or above --fail-on; 1 findings at or above --fail-on; "
        "2 with --fail-on-unknown when a host is unknown or unreachable; 64 usage error (also: nothing to scan); "
        "69 signatures older than --max-signature-age days; 70 internal error; 73 an output path cannot be "
        "written (checked before the first packet); 75 another run holds --lock; "
        "130/143 stopped by SIGINT/SIGTERM (finished hosts kept, run marked partial)."
    ),
)
def scan_cmd(
    ctx: typer.Context,
    targets: list[str] = typer.Argument(
        None, help="Hosts, IPs, [IPv6]:port, host:port, URLs or CIDRs; '-' reads stdin. "
        "With no targets at all, scans the built-in demo lab."
    ),
    input_files: list[str] = typer.Option(None, "-i", "--input", help="File with one target per line ('#' comments); '-' for stdin."),
    exclude: list[str] = typer.Option(None, "--exclude", help="IP, CIDR or name never to contact (repeatable)."),
    exclude_files: list[str] = typer.Option(None, "--exclude-file", help="File of exclusions, one per line."),
    force_large: bool = typer.Option(False, "--force", help="Allow CIDRs larger than --max-expand addresses."),
    max_expand: int = typer.Option(65536, "--max-expand", min=1, help="Largest CIDR expanded without --force."),
    shard: str = typer.Option(None, "--shard", metavar="K/N|auto",
                              help="Scan only the K-th of N slices (stable hash of each target); auto: K from "
                                   "$JOB_COMPLETION_INDEX (Kubernetes Indexed Job), N from --shards."),
    shards: int = typer.Option(None, "--shards", metavar="N", min=1, help="Number of slices for --shard auto."),
    concurrency: int = typer.Option(100, "-c", "--concurrency", min=1, help="Hosts scanned at once."),
    workers: int = typer.Option(None, "--workers", metavar="N", min=1,
                                help="Processes that scan hosts in parallel (default: the usable CPUs, fewer for "
                                     "short lists; 1 for --dry-run). Outputs, state and exit code are the same as "
                                     "with --workers 1 (one process)."),
    timeout: float = typer.Option(5.0, "--timeout", min=0.1, help="Connect and read timeout per request, seconds."),
    host_deadline: float = typer.Option(30.0, "--host-deadline", min=0.5, help="Time budget per host, seconds."),
    retries: int = typer.Option(1, "--retries", min=0, help="Retries with backoff on connect errors only."),
    proxy: str = typer.Option(None, "--proxy", help="Proxy URL for all traffic (http://, socks5:// needs httpx[socks])."),
    headers: list[str] = typer.Option(None, "-H", "--header", help="Extra header 'Name: value' (repeatable)."),
    user_agent: str = typer.Option(DEFAULT_USER_AGENT, "--user-agent", help="User-Agent header."),
    verify: bool = typer.Option(False, "--verify", help="Verify TLS certificates (off by default: appliances are self-signed)."),
    ca_file: str = typer.Option(None, "--ca", help="CA bundle for --verify (implies --verify)."),
    max_body_bytes: int = typer.Option(1_000_000, "--max-body", min=1, help="Byte cap per response body."),
    request_budget: int = typer.Option(40, "--request-budget", min=1, help="Most requests sent to one host."),
    per_host_connections: int = typer.Option(
        ScanOptions.per_host_connections, "--per-host-connections", min=1, max=16,
        help="Requests in flight to one host at once where their order does not matter (1: one after another)."),
    max_redirects: int = typer.Option(3, "--max-redirects", min=0, help="Same-host redirects followed per request (off-host ones never are)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the exact requests per target and send nothing."),
    no_indicators: bool = typer.Option(False, "--no-indicators", help="Skip remote indicator-of-compromise checks."),
    indicators_only: bool = typer.Option(False, "--indicators-only", help="Only run indicator checks (on hosts detected as NetScaler)."),
    indicator_paths: PathTier = typer.Option(
        PathTier.DEFAULT, "--indicator-paths", help="Webshell/artefact URL set: default (~19 high-value paths), full (+198 published paths; raise --request-budget), none."
    ),
    allow_origins: list[str] = typer.Option(None, "--allow-origin", help="Extra origin allowed in login pages (repeatable)."),
    allow_origin_files: list[str] = typer.Option(None, "--allow-origin-file", help="File of allowed origins, one per line."),
    signatures: str = typer.Option(None, "--signatures", help="Use another signature set directory."),
    fmt: OutputFormat = typer.Option(OutputFormat.TABLE, "-f", "--format", help=help_text("Output on stdout: ")),
    output: str = typer.Option(None, "-o", "--output", help="Write the --format output to FILE (atomically) instead of stdout."),
    output_dir: str = typer.Option(None, "--output-dir", help="Write <host>.json and <host>.md per target here."),
    jsonl: str = typer.Option(None, "--jsonl", help="ECS JSON Lines for SIEM, appended to FILE (one complete line "
                              "per write, so log shippers can track offsets); '-' for stdout."),
    csv: str = typer.Option(None, "--csv", help="CSV, one row per host x bulletin."),
    html: str = typer.Option(None, "--html", help="Self-contained fleet overview page."),
    ocsf: str = typer.Option(None, "--ocsf", metavar="FILE", help="OCSF 1.1 findings as JSON Lines ('-' for stdout)."),
    syslog: str = typer.Option(None, "--syslog", metavar="URL",
                               help="RFC 5424 syslog: udp://HOST[:PORT], tcp://HOST[:PORT] or tls://HOST[:PORT]."),
    syslog_ca: str = typer.Option(None, "--syslog-ca", metavar="FILE", help="CA bundle for a tls:// syslog collector."),
    hec_url: str = typer.Option(None, "--hec-url", metavar="URL",
                                help="Splunk HEC, e.g. https://splunk:8088 (token: $NSCHECK_HEC_TOKEN or --hec-token-file)."),
    hec_token_file: str = typer.Option(None, "--hec-token-file", metavar="FILE", help="File holding the HEC token."),
    hec_index: str = typer.Option(None, "--hec-index", metavar="INDEX", help="Splunk index for HEC events."),
    hec_sourcetype: str = typer.Option("nscheck", "--hec-sourcetype", metavar="NAME", help="Splunk sourcetype."),
    hec_ack: bool = typer.Option(False, "--hec-ack", help="Use HEC indexer acknowledgement (at-least-once)."),
    hec_ca: str = typer.Option(None, "--hec-ca", metavar="FILE", help="CA bundle for the HEC certificate."),
    hec_insecure: bool = typer.Option(False, "--hec-insecure", help="Do not verify the HEC certificate."),
    spool_dir: str = typer.Option(None, "--spool-dir", metavar="DIR",
                                  help="Where undelivered syslog/HEC events wait for the next run."),
    quiet: bool = typer.Option(False, "-q", "--quiet", help="Print only transitions and errors (for cron)."),
    no_progress: bool = typer.Option(False, "--no-progress", help="No progress bar."),
    sort: Sort = typer.Option(Sort.URGENCY, "--sort", help="Host order in table/md/csv/html: urgency (compromised, "
                             "then assessment open, exploited, vulnerable, unknown, unreachable, clean)|name|verdict|"
                             "cvss|input."),
    fail_on: FailOn = typer.Option(FailOn.HIGH, "--fail-on", help="Exit 1 on findings at or above this severity."),
    fail_on_unknown: bool = typer.Option(False, "--fail-on-unknown", help="Exit 2 when a host is unknown or unreachable, "
                                         "or one of its checks could not run."),
    strict: bool = typer.Option(False, "--strict", help="Exit 2 when any check could not run (a data or internal error), "
                                "even without --fail-on-unknown."),
    max_signature_age: int = typer.Option(None, "--max-signature-age", help="Exit 69 when the signature set is older (days)."),
    state: str = typer.Option(None, "--state", help="SQLite state database: remembers hosts and findings between runs."),
    lock: str = typer.Option(None, "--lock", help="Exclusive lock file; a second run exits 75."),
    suppressions: str = typer.Option(None, "--suppressions", help="YAML file of suppressed findings."),
    config: str = typer.Option(None, "--config", help="TOML file with the same keys as these flags (flags win)."),
    nitro_user: str = typer.Option(None, "--nitro-user", help="Read-only NITRO account for authenticated checks on hosts found to be NetScaler (password: $NSCHECK_NITRO_PASSWORD or --nitro-password-file)."),
    nitro_password_file: str = typer.Option(None, "--nitro-password-file", help="File (mode 0600) whose first line is the --nitro-user password."),
    nitro_credentials: str = typer.Option(None, "--nitro-credentials", help="TOML file (mode 0600): per-host NITRO user, password/password_file and address."),
    nitro_budget: int = typer.Option(80, "--nitro-budget", min=1, help="Most NITRO GETs per host."),
    grace_period: float = typer.Option(10.0, "--grace-period", min=0, help="Seconds in-flight hosts get after SIGTERM/SIGINT."),
    rate_limit: str = typer.Option(None, "--rate-limit", help="Cap on requests per second over the whole scan, all hosts "
                                   "together: N/s, N/m or N (per second)."),
    verbose: bool = typer.Option(False, "-v", "--verbose", help="One line per request on stderr (method, URL, status, "
                                 "time; never headers or credentials)."),
) -> None:
    """Scan NetScaler appliances over HTTP(S), safely (GET/HEAD only): product, role, build,
    bulletins that hit it, and remote indicators of compromise."""
    opts = ScanOptions(
        targets=tuple(targets or ()),
        input_files=tuple(input_files or ()),
        exclude=tuple(exclude or ()),
        exclude_files=tuple(exclude_files or ()),
        force_large=force_large,
        max_expand=max_expand,
        shard=shard,
        shards=shards,
        concurrency=concurrency,
        workers=workers,
        timeout=timeout,
        host_deadline=host_deadline,
        retries=retries,
        proxy=proxy,
        headers=tuple(headers or ()),
        user_agent=user_agent,
        verify=verify or bool(ca_file),
        ca_file=ca_file,
        max_body_bytes=max_body_bytes,
        request_budget=request_budget,
        per_host_connections=per_host_connections,
        max_redirects=max_redirects,
        dry_run=dry_run,
        indicators=not no_indicators,
        indicators_only=indicators_only,
        indicator_paths=indicator_paths,
        allow_origins=tuple(allow_origins or ()),
        allow_origin_files=tuple(allow_origin_files or ()),
        signatures=signatures,
        format=fmt,
        output=output,
        output_dir=output_dir,
        jsonl=jsonl,
        ocsf=ocsf, syslog=syslog, syslog_ca=syslog_ca, hec_url=hec_url, hec_token_file=hec_token_file,
        hec_index=hec_index, hec_sourcetype=hec_sourcetype, hec_ack=hec_ack, hec_ca=hec_ca, hec_insecure=hec_insecure,
        spool_dir=spool_dir,
        csv=csv,
        html=html,
        quiet=quiet,
        no_progress=no_progress,
        sort=sort,
        fail_on=fail_on,
        fail_on_unknown=fail_on_unknown,
        strict=strict,
        max_signature_age=max_signature_age,
        state=state,
        lock=lock,
        suppressions=suppressions,
        config=config,
        grace_period=grace_period,
        nitro_user=nitro_user,
        nitro_password_file=nitro_password_file,
        nitro_credentials=nitro_credentials,
        nitro_budget=nitro_budget,
        rate_limit=_rate(rate_limit),
        verbose=verbose,
    )
    if config:
        # Config values fill in only what was not given on the command line.
        from nscheck.config import apply_config

        opts = apply_config(opts, config, ctx)

    from nscheck.runner import run

    raise typer.Exit(run(opts))


def _rate(text: str | None) -> float | None:
    from nscheck.probe.ratelimit import parse_rate

    if text is None:
        return None
    try:
        return parse_rate(text)
    except ValueError as e:
        raise typer.BadParameter(str(e), param_hint="--rate-limit") from None
