"""The one list of exit codes every command uses (a cron wrapper's contract).

It sits at the package root, importing nothing of nscheck, so every stage (state's lock, the
runner, report's tally, each CLI command) can name a code without an import cycle. The values
follow sysexits.h where one fits, so a wrapper can tell "the tool could not run" (64..78) from
"the tool found something" (1, 2) from "it was stopped" (128 + signal).
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    FINDINGS = 1  # findings at or above --fail-on
    UNKNOWN = 2  # with --fail-on-unknown: a host is unknown / unreachable, or a check failed
    USAGE = 64  # EX_USAGE: bad flag or value, bad config, broken rule file, nothing to scan
    DATAERR = 65  # EX_DATAERR: signatures update refused a bundle (the active set is unchanged)
    NOINPUT = 66  # EX_NOINPUT: an input path does not exist
    SIGNATURES_STALE = 69  # EX_UNAVAILABLE: signature set older than --max-signature-age
    SOFTWARE = 70  # EX_SOFTWARE: an internal error (a bug)
    CANTCREAT = 73  # EX_CANTCREAT: an output path cannot be written
    DELIVERY = 74  # EX_IOERR: a SIEM collector (syslog/HEC) did not take every event; the rest is spooled
    LOCKED = 75  # EX_TEMPFAIL: another run holds --lock; try again later
    TEMPFAIL = 75  # alias: signatures update could not fetch (network, cut short); try again later
    SIGINT = 130  # 128 + SIGINT: interrupted, finished hosts kept, run marked partial
    SIGTERM = 143  # 128 + SIGTERM: likewise

    @property
    def meaning(self) -> str:
        return _MEANING[self]


_MEANING: dict[ExitCode, str] = {
    ExitCode.OK: "nothing at or above --fail-on",
    ExitCode.FINDINGS: "findings at or above --fail-on (vulnerable bulletins, indicator hits, open compromise "
                       "assessments)",
    ExitCode.UNKNOWN: "with --fail-on-unknown: a host is unknown or unreachable, or a check could not run",
    ExitCode.USAGE: "usage error: bad flag or value, bad config or rule file, nothing to scan",
    ExitCode.DATAERR: "signatures update refused the bundle (signature, key, manifest, lint, downgrade); "
                      "the active set is unchanged",
    ExitCode.NOINPUT: "an input path does not exist",
    ExitCode.SIGNATURES_STALE: "signature set older than --max-signature-age days",
    ExitCode.SOFTWARE: "internal error (a bug)",
    ExitCode.CANTCREAT: "an output path cannot be written",
    ExitCode.DELIVERY: "a SIEM collector (--syslog/--hec-url) did not take every event: the rest is spooled and "
                       "sent on the next run",
    ExitCode.LOCKED: "another run holds --lock (or: signatures update could not fetch; try again later)",
    ExitCode.SIGINT: "interrupted by SIGINT: finished hosts kept, run marked partial",
    ExitCode.SIGTERM: "interrupted by SIGTERM: finished hosts kept, run marked partial",
}

__all__ = ["ExitCode"]
