"""``--config FILE``: a TOML file with the same keys as ``nscheck scan``'s flags.

So a cron line stays short (``nscheck scan --config /etc/nscheck/scan.toml``). Keys are the
ScanOptions field names, with dashes or underscores (``fail-on`` = ``fail_on``); a flag's long
name is accepted where it differs (``input``, ``header``, ``ca``, ``no-indicators``, …). Keys may
sit at the top level or in a ``[scan]`` table. A flag given on the command line wins over the
file. Unknown keys and wrong types are usage errors (exit 64) that name the key.

Relative paths in the file are relative to the file's directory, so a config works the same
from cron (whose working directory is $HOME) and from a shell.
"""

from __future__ import annotations

import tomllib
from dataclasses import fields
from pathlib import Path
from typing import Any

from nscheck.options import PathTier, ScanOptions
from nscheck.report.exitcodes import FAIL_ON
from nscheck.report.formats import OutputFormat
from nscheck.report.order import SORTS

# Flag long names that differ from the ScanOptions field they set.
ALIASES: dict[str, str] = {
    "input": "input_files",
    "exclude_file": "exclude_files",
    "force": "force_large",
    "header": "headers",
    "ca": "ca_file",
    "max_body": "max_body_bytes",
    "allow_origin": "allow_origins",
    "allow_origin_file": "allow_origin_files",
}
# The click parameter that carries a field, where the names differ.
PARAM_OF: dict[str, str] = {"format": "fmt", "indicators": "no_indicators", "input_files": "input_files"}
# Not settable from a config file.
REFUSED = {"config": "a config file cannot name another config file", "extra": "internal field",
           "nitro_password": "never put a password here: use nitro-password-file (mode 0600), "
                             "$NSCHECK_NITRO_PASSWORD or nitro-credentials"}
# Keys of other commands that share the file (`nscheck signatures update --config`): not scan flags.
OTHER_COMMANDS = {"signatures_url", "trusted_keys"}
PATH_FIELDS = {
    "state", "lock", "suppressions", "jsonl", "csv", "html", "output", "output_dir", "signatures", "ca_file",
    "input_files", "exclude_files", "allow_origin_files", "nitro_password_file", "nitro_credentials",
    "ocsf", "syslog_ca", "hec_token_file", "hec_ca", "spool_dir",
}
CHOICES = {
    "format": tuple(f.value for f in OutputFormat),
    "fail_on": FAIL_ON,
    "sort": SORTS,
    "indicator_paths": tuple(t.value for t in PathTier),
}
MINIMUM = {"concurrency": 1, "timeout": 0.1, "host_deadline": 0.5, "retries": 0, "request_budget": 1,
           "per_host_connections": 1,
           "max_expand": 1, "max_body_bytes": 1, "max_redirects": 0, "grace_period": 0, "max_signature_age": 0,
           "nitro_budget": 1, "workers": 1}
MAXIMUM = {"per_host_connections": 16}  # polite to one appliance, as --per-host-connections


class ConfigError(Exception):
    """A problem in the config file, said as ``file: key: reason``."""


def _usage_error(message: str) -> Exception:
    try:
        from click.exceptions import UsageError
    except ImportError:  # typer >= 0.2x vendors click privately
        from typer._click.exceptions import UsageError
    return UsageError(message)


def load(path: str | Path) -> dict[str, Any]:
    """Read and validate the file; return {field_name: value} (paths resolved, types checked)."""
    p = Path(path)
    try:
        raw = tomllib.loads(p.read_text(encoding="utf-8"))
    except OSError as e:
        raise ConfigError(f"{p}: cannot read: {e.strerror or e}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{p}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{p}: TOML syntax: {e}") from None
    if isinstance(raw.get("scan"), dict):
        outer = {k: v for k, v in raw.items() if k != "scan"}
        raw = {**outer, **raw["scan"]}
    known = {f.name: f for f in fields(ScanOptions)}
    defaults = ScanOptions()
    out: dict[str, Any] = {}
    errors: list[str] = []
    for key, value in raw.items():
        name = key.replace("-", "_")
        if name == "no_indicators":
            if not isinstance(value, bool):
                errors.append(f"{p}: {key}: expected true or false, got {_tname(value)}")
                continue
            name, value = "indicators", not value
        name = ALIASES.get(name, name)
        if name in OTHER_COMMANDS:
            continue
        if name in REFUSED:
            errors.append(f"{p}: {key}: not allowed here ({REFUSED[name]})")
            continue
        if name not in known:
            errors.append(f"{p}: {key}: unknown key (keys are the scan flags' long names, e.g. fail-on, state, lock)")
            continue
        try:
            out[name] = _check(name, value, getattr(defaults, name), p.parent)
        except ValueError as e:
            errors.append(f"{p}: {key}: {e}")
    if errors:
        raise ConfigError("\n".join(errors))
    return out


def _tname(v: Any) -> str:
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "a list",
            dict: "a table"}.get(type(v), type(v).__name__)


def _check(name: str, value: Any, default: Any, base: Path) -> Any:
    if name == "rate_limit":  # "20/s", "600/m" or a number per second
        from nscheck.probe.ratelimit import parse_rate

        if not isinstance(value, str | int | float) or isinstance(value, bool):
            raise ValueError(f"expected N/s, N/m or a number, got {_tname(value)}")
        return parse_rate(value)
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ValueError(f"expected true or false, got {_tname(value)}")
        return value
    if isinstance(default, tuple):
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
            raise ValueError("expected a string or a list of strings")
        if name in PATH_FIELDS:
            items = [_resolve(i, base) for i in items]
        return tuple(items)
    if isinstance(default, int) or name in ("max_signature_age", "workers"):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"expected an integer, got {_tname(value)}")
        _minimum(name, value)
        return value
    if isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"expected a number, got {_tname(value)}")
        _minimum(name, value)
        return float(value)
    # str or optional str
    if not isinstance(value, str):
        raise ValueError(f"expected a string, got {_tname(value)}")
    if name in CHOICES and value not in CHOICES[name]:
        raise ValueError(f"must be one of {', '.join(CHOICES[name])}")
    if name in PATH_FIELDS:
        return _resolve(value, base)
    return value


def _minimum(name: str, value: float) -> None:
    low = MINIMUM.get(name)
    if low is not None and value < low:
        raise ValueError(f"must be at least {low}")
    high = MAXIMUM.get(name)
    if high is not None and value > high:
        raise ValueError(f"must be at most {high}")


def _resolve(value: str, base: Path) -> str:
    if value == "-" or not value:
        return value
    p = Path(value).expanduser()
    return str(p if p.is_absolute() else (base / p))


def _given_on_command_line(ctx: Any, param: str) -> bool:
    if ctx is None:
        return False
    try:
        source = ctx.get_parameter_source(param)
    except Exception:  # unknown parameter name: treat as not given
        return False
    return source is not None and source.name in ("COMMANDLINE", "ENVIRONMENT", "PROMPT")


# Keys that answer one question together: targets given on the command line replace the
# file's whole target list (targets and input files), so a one-off check of one host with the
# cron config does not also scan the fleet.
GROUPS = (("targets", "input_files"),)


def merge(opts: ScanOptions, values: dict[str, Any], ctx: Any = None) -> ScanOptions:
    """Fill ``opts`` from ``values`` for every field whose flag was not given explicitly."""
    changes: dict[str, Any] = {}
    for name, value in values.items():
        group = next((g for g in GROUPS if name in g), (name,))
        if any(_given_on_command_line(ctx, PARAM_OF.get(n, n)) for n in group):
            continue
        changes[name] = value
    new = opts.with_(**changes) if changes else opts
    if new.ca_file and not new.verify:
        new = new.with_(verify=True)  # as on the command line: --ca implies --verify
    return new


def apply_config(opts: ScanOptions, path: str, ctx: Any = None) -> ScanOptions:
    """Called by ``nscheck scan --config FILE``; config errors become usage errors (exit 64)."""
    try:
        values = load(path)
    except ConfigError as e:
        raise _usage_error(str(e)) from None
    return merge(opts, values, ctx)
