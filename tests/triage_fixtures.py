"""Triage fixture trees for the tests: the product lab's trees (``nscheck/lab/trees.py``, also served
by the SSH lab appliances of ``nscheck lab --ssh`` and ``nscheck demo``), under their old name."""

from dataclasses import replace

from nscheck.lab.trees import (
    ADMIN_UI_PHP,
    COLLECTED,
    CORE_JS,
    ELF,
    FAMILIES,
    HTTPD_CLEAN,
    INSTALL,
    LOGONPOINT_INDEX,
    NITRO_BAD,
    NITRO_LOOKALIKE,
    NOBODY,
    NS_CONF_BAD,
    NS_CONF_CLEAN,
    NSMONITOR_ACCESS,
    OLD,
    PORTAL_PERL,
    RECENT,
    WEBSHELL,
    Spec,
    _listing_row,
    _nslog,
    all_expected,
    clean_logs,
    clean_tree,
    compromised_tree,
    f,
    lookalike_tree,
    merged,
    with_owner,
    write_dir,
    write_tar,
)

__all__ = [
    "ADMIN_UI_PHP", "COLLECTED", "CORE_JS", "ELF", "FAMILIES", "HTTPD_CLEAN", "INSTALL", "LOGONPOINT_INDEX", "NITRO_BAD",
    "NITRO_LOOKALIKE", "NOBODY", "NSMONITOR_ACCESS", "NS_CONF_BAD", "NS_CONF_CLEAN", "OLD", "PORTAL_PERL", "RECENT",
    "WEBSHELL", "Spec", "_listing_row", "_nslog", "all_expected", "clean_logs", "clean_tree", "compromised_tree", "f",
    "lookalike_tree", "merged", "replace", "with_owner", "write_dir", "write_tar",
]
