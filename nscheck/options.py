"""Every knob of ``nscheck scan`` in one typed object.

The CLI fills it from flags (and ``--config FILE``); the runner, the report sinks, the indicator
checks and the state store read it. Keeping it in one place is what lets a cron line, a config
file and a test set the same things the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from enum import StrEnum
from pathlib import Path

from nscheck import __version__


class PathTier(StrEnum):
    """``--indicator-paths``: which remote indicator URLs a scan asks for."""

    DEFAULT = "default"  # ~19 high-value paths
    FULL = "full"  # plus every published path (raise --request-budget)
    NONE = "none"

DEFAULT_USER_AGENT = f"nscheck/{__version__} (+safe NetScaler exposure check; GET/HEAD only)"


@dataclass(frozen=True)
class ScanOptions:
    # targets
    targets: tuple[str, ...] = ()
    input_files: tuple[str, ...] = ()  # -i/--input, "-" for stdin
    exclude: tuple[str, ...] = ()
    exclude_files: tuple[str, ...] = ()
    force_large: bool = False  # allow CIDRs bigger than max_expand
    max_expand: int = 65536
    shard: str | None = None  # "K/N" or "auto" (with shards, from $JOB_COMPLETION_INDEX)
    shards: int | None = None
    # probing
    concurrency: int = 100
    timeout: float = 5.0  # connect and read timeout, seconds
    host_deadline: float = 30.0  # whole-host budget, seconds
    retries: int = 1  # connect errors only
    proxy: str | None = None
    headers: tuple[str, ...] = ()  # "Name: value"
    user_agent: str = DEFAULT_USER_AGENT
    verify: bool = False
    ca_file: str | None = None
    max_body_bytes: int = 1_000_000
    request_budget: int = 40  # max requests per host, all checks included
    # Requests in flight to one host at once, where their order does not matter (the product
    # pages, the extra fingerprint reads, first-party scripts, indicator paths). 1 = one after
    # another. The output is the same either way (tests/test_perhost.py); the budget and the
    # host deadline hold exactly.
    per_host_connections: int = 2
    max_redirects: int = 3
    dry_run: bool = False
    # checks
    indicators: bool = True  # --no-indicators switches remote IoC checks off
    indicators_only: bool = False
    allow_origins: tuple[str, ...] = ()
    allow_origin_files: tuple[str, ...] = ()
    # Webshell/artefact path probing: "default" (~19 high-value paths, fits the request budget
    # at fleet scale), "full" (adds the 198 published webshell paths; raise --request-budget) or
    # "none". See nscheck.assess.indicators.
    indicator_paths: str = "default"
    signatures: str | None = None
    # output
    format: str = "table"  # an OutputFormat value (nscheck/report/formats.py)
    output: str | None = None  # -o FILE: the --format output goes there instead of stdout
    output_dir: str | None = None
    jsonl: str | None = None  # "-" for stdout
    csv: str | None = None
    html: str | None = None
    # SIEM delivery (nscheck.deliver): OCSF file, syslog, Splunk HEC; undelivered events spooled
    ocsf: str | None = None  # "-" for stdout
    syslog: str | None = None  # udp://|tcp://|tls://HOST[:PORT]
    syslog_ca: str | None = None
    hec_url: str | None = None
    hec_token_file: str | None = None  # else $NSCHECK_HEC_TOKEN
    hec_index: str | None = None
    hec_sourcetype: str = "nscheck"
    hec_ack: bool = False
    hec_ca: str | None = None
    hec_insecure: bool = False
    spool_dir: str | None = None  # default: the user data directory's spool/
    quiet: bool = False
    no_progress: bool = False
    sort: str = "urgency"  # host order in table/md/csv/html: urgency|name|verdict|cvss|input
    fail_on: str = "high"  # critical|high|medium|low|any|none
    fail_on_unknown: bool = False
    strict: bool = False  # a check that could not run (data_error / internal_error skip) fails the run: exit 2
    max_signature_age: int | None = None  # days
    # scheduled runs
    state: str | None = None
    lock: str | None = None
    suppressions: str | None = None
    config: str | None = None
    grace_period: float = 10.0  # seconds in-flight hosts get after SIGTERM/SIGINT
    # authenticated checks over NITRO (nscheck.nitro): paths only, never a password here; the
    # password comes from $NSCHECK_NITRO_PASSWORD or a 0600 file, read when the run starts
    nitro_user: str | None = None
    nitro_password_file: str | None = None
    nitro_credentials: str | None = None  # TOML, per-host user/password/NITRO address
    nitro_budget: int = 80  # most NITRO GETs per host
    rate_limit: float | None = None  # requests per second over the whole scan (--rate-limit)
    # --workers: processes that scan hosts (nscheck.workers); None = automatic (usable CPUs, fewer
    # for short lists), 1 = in this process. Outputs are the same whatever the number.
    workers: int | None = None
    verbose: bool = False  # one stderr line per request (-v)
    extra: dict[str, object] = field(default_factory=dict)

    def with_(self, **changes: object) -> ScanOptions:
        return replace(self, **changes)  # type: ignore[arg-type]

    @classmethod
    def field_names(cls) -> list[str]:
        return [f.name for f in fields(cls)]

    @property
    def signatures_path(self) -> Path:
        from nscheck.paths import signatures_dir

        return signatures_dir(self.signatures)
