"""The last-resort handler: no Python traceback ever reaches a user (or a cron mail).

An unexpected exception becomes one stderr line with the error and the path of a crash report
(traceback, versions, the command line with secrets masked) and exit 70 (EX_SOFTWARE). The
report is for a bug report; it never holds a password, token, header value or URL userinfo,
because the command line is masked and every secret value found there is also scrubbed from the
traceback text (an exception message may quote a header or a proxy URL).
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import re
import secrets
import sys
import tempfile
import traceback
from collections.abc import Sequence
from pathlib import Path

MASK = "***"
# Option names whose value is a secret (nitro credentials, tokens, API keys, cookies...).
_SECRET_OPT = re.compile(r"pass|token|secret|key|auth|cookie|credential|bearer", re.IGNORECASE)
# Options whose value is "Name: value": the name is kept, the value masked.
_HEADER_OPTS = frozenset({"-H", "--header"})
# scheme://user:pass@host -> scheme://***@host (also user@ alone: a user name is still a credential).
# Bounded repeats: an unbounded scheme or userinfo pattern is quadratic on a long argument
# without "://" (a 20 kB argument took 12 s to mask).
_USERINFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]{0,31}://)(?P<info>[^/@\s?#]{1,512})@")


def mask_userinfo(text: str) -> str:
    return _USERINFO.sub(lambda m: f"{m.group('scheme')}{MASK}@", text)


def _split_opt(arg: str) -> tuple[str, str | None]:
    if arg.startswith("--") and "=" in arg:
        name, _, value = arg.partition("=")
        return name, value
    return arg, None


def _mask_header(value: str) -> str:
    name, sep, _ = value.partition(":")
    return f"{name}{sep} {MASK}" if sep else MASK


def mask_argv(argv: Sequence[str]) -> tuple[list[str], list[str]]:
    """(the masked command line, the secret values removed from it). Secret values are later
    scrubbed from any other text (a traceback that quotes them)."""
    out: list[str] = []
    secrets: list[str] = []
    pending: str | None = None  # the option whose value is the next argument
    for arg in argv:
        if pending is not None:
            masked = _mask_header(arg) if pending in _HEADER_OPTS else MASK
            secrets.append(arg.partition(":")[2].strip() if pending in _HEADER_OPTS else arg)
            out.append(masked)
            pending = None
            continue
        name, value = _split_opt(arg)
        is_header = name in _HEADER_OPTS or (name.startswith("-H") and not name.startswith("--") and len(name) > 2)
        if name.startswith("-") and (is_header or (name.startswith("--") and _SECRET_OPT.search(name))):
            if name.startswith("-H") and not name.startswith("--") and len(name) > 2:  # -H'X: y'
                secrets.append(name[2:].partition(":")[2].strip())
                out.append("-H" + _mask_header(name[2:]))
            elif value is not None:
                secrets.append(value.partition(":")[2].strip() if is_header else value)
                out.append(f"{name}={_mask_header(value) if is_header else MASK}")
            else:
                out.append(arg)
                pending = name if (is_header or not name.startswith("--no-")) else None
            continue
        masked_arg = mask_userinfo(arg)
        if masked_arg != arg:
            secrets.extend(m.group("info") for m in _USERINFO.finditer(arg))
        out.append(masked_arg)
    return out, [s for s in secrets if s]


def scrub(text: str, secrets: Sequence[str]) -> str:
    text = mask_userinfo(text)
    # Longest first, so a secret that contains another is replaced whole.
    for s in sorted(set(secrets), key=len, reverse=True):
        if len(s) >= 3:  # a 1-2 character "secret" would shred the report and protects nothing
            text = text.replace(s, MASK)
    return text


def crash_dir() -> Path:
    """``$NSCHECK_CRASH_DIR``, else ``$XDG_STATE_HOME/nscheck/crash`` (``~/.local/state/...``)."""
    if os.environ.get("NSCHECK_CRASH_DIR"):
        return Path(os.environ["NSCHECK_CRASH_DIR"])
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "nscheck" / "crash"


def _versions() -> list[str]:
    from importlib import metadata

    lines = [f"python {sys.version.split()[0]} ({platform.python_implementation()}) on {platform.platform()}"]
    for pkg in ("nscheck", "httpx", "typer", "rich", "pydantic", "PyYAML", "cryptography", "yara-python"):
        try:
            lines.append(f"{pkg} {metadata.version(pkg)}")
        except metadata.PackageNotFoundError:
            lines.append(f"{pkg} not installed")
    return lines


def _write_report(text: str) -> Path:
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    last: OSError | None = None
    for d in (crash_dir(), Path(tempfile.gettempdir())):
        try:
            d.mkdir(parents=True, exist_ok=True, mode=0o700)
            path = d / f"nscheck-crash-{stamp}-{os.getpid()}-{secrets.token_hex(3)}.txt"
            # O_EXCL|O_NOFOLLOW: never through a planted symlink, never over another file.
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
            return path
        except OSError as e:
            last = e
    raise last or OSError("no place for a crash report")


def report_crash(exc: BaseException, argv: Sequence[str]) -> str:
    """Write the crash report; return the one line for stderr."""
    masked, secrets = mask_argv(argv)
    tb = "".join(traceback.format_exception(exc))
    body = "\n".join([
        "nscheck crash report: please attach it to a bug report (secrets in the command line are masked)",
        f"time: {dt.datetime.now(dt.UTC).isoformat(timespec='seconds')}",
        "command: nscheck " + " ".join(masked),
        *_versions(),
        "",
        tb,
    ])
    body = scrub(body, secrets)
    what = scrub(f"{type(exc).__name__}: {exc}", secrets).replace("\n", " ")[:300]
    try:
        path = _write_report(body)
        where = f"crash report: {path}"
    except OSError as e:
        where = f"no crash report could be written: {e.strerror or e}"
    return f"nscheck: internal error: {what} ({where}; please report it)"
