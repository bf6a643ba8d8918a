"""Delivery to a SIEM's collector: syslog (RFC 5424) and Splunk HEC, with a spool.

A cron job that loses findings when the collector is down is worse than none, so every sink here:

- takes events from the run as each host completes, and sends them from a worker thread, so a
  slow or dead collector never holds up the scan (``base.ThreadedDelivery``);
- writes whatever could not be delivered (collector down, refused, the run stopped by SIGTERM)
  to a spool file (``spool.Spool``, mode 0600) and sends the spool first on the next run:
  at-least-once, each event carrying its stable finding id for de-duplication;
- says how it went (``DeliveryStats``): the run exits 74 when events were spooled instead of
  delivered, and the local JSONL / reports are never affected.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

ENV_HEC_TOKEN = "NSCHECK_HEC_TOKEN"


class DeliveryConfigError(Exception):
    """A delivery option that cannot work: said before the first request (exit 64)."""


def hec_token(opts: Any) -> str:
    path = getattr(opts, "hec_token_file", None)
    if path:
        p = Path(path)
        try:
            st = p.stat()
            if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
                raise DeliveryConfigError(f"--hec-token-file {p}: readable by group/others; chmod 600 it")
            token = p.read_text(encoding="utf-8").strip()
        except OSError as e:
            raise DeliveryConfigError(f"--hec-token-file {p}: cannot read: {e.strerror or e}") from None
    else:
        token = os.environ.get(ENV_HEC_TOKEN, "").strip()
    if not token:
        raise DeliveryConfigError(f"--hec-url needs a token: ${ENV_HEC_TOKEN} or --hec-token-file FILE")
    if any(c in token for c in "\r\n\0"):
        raise DeliveryConfigError("the HEC token contains a line break")
    return token


def check(opts: Any) -> list[str]:
    """Every delivery option's problem, before the first request."""
    problems: list[str] = []
    if getattr(opts, "syslog", None):
        from nscheck.deliver.syslog import SyslogURLError, parse_url

        try:
            parse_url(opts.syslog)
        except SyslogURLError as e:
            problems.append(str(e))
    if getattr(opts, "hec_url", None):
        from nscheck.deliver.hec import HecURLError, endpoint

        try:
            endpoint(opts.hec_url)
            hec_token(opts)
        except (HecURLError, DeliveryConfigError) as e:
            problems.append(str(e))
    for flag, path in (("--syslog-ca", getattr(opts, "syslog_ca", None)), ("--hec-ca", getattr(opts, "hec_ca", None))):
        if path and not Path(path).is_file():
            problems.append(f"{flag} {path}: no such file")
    return problems


def build(opts: Any) -> list[Any]:
    """The delivery sinks the options ask for (validated by ``check`` first)."""
    from nscheck.deliver.spool import spool_dir

    sinks: list[Any] = []
    spool = spool_dir(getattr(opts, "spool_dir", None))
    if getattr(opts, "syslog", None):
        from nscheck.deliver.syslog import SyslogSink

        sinks.append(SyslogSink(opts.syslog, spool, ca_file=opts.syslog_ca))
    if getattr(opts, "hec_url", None):
        from nscheck.deliver.hec import HecSink

        sinks.append(HecSink(opts.hec_url, hec_token(opts), spool, sourcetype=opts.hec_sourcetype, index=opts.hec_index,
                             ack=opts.hec_ack, verify=not opts.hec_insecure, ca_file=opts.hec_ca))
    return sinks
