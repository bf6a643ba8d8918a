"""Check families, one small module each; importing this package fills ``FAMILY_REGISTRY``.

A family is data (rules in signatures/triage/*.yaml with ``check: <family>``) plus the few small
functions in its module: ``select`` (which entries), ``meta`` (metadata only), ``content`` (the
file's bytes, read once and capped) and ``finish`` (after the last entry).
"""

from nscheck.triage.checks import (  # noqa: F401 - imported for registration
    binaries,
    crontab,
    known_bad_files,
    live,
    log,
    magic_bytes,
    ns_conf,
    ns_conf_history,
    recent_changes,
    suspicious_content,
    timestomp,
    tiny_backdoor,
    webshell,
    yara_scan,
)
from nscheck.triage.checks.base import FAMILY_REGISTRY, Family, Hit

__all__ = ["FAMILY_REGISTRY", "Family", "Hit"]
