"""Names and lines from hostile input are data: make them safe *strings* before anything else.

Archive member names and file contents are decoded with ``surrogateescape`` so no byte is lost;
the lone surrogates that produces cannot be encoded (hashing, JSON, files, a terminal all raise
``UnicodeEncodeError``). ``escape_undecodable`` turns each such byte into a visible ``\\xNN``, so
one odd name never stops a run and the reader still sees which bytes were there."""

from __future__ import annotations

import re

_SURROGATE = re.compile(r"[\ud800-\udfff]")


def _esc(m: re.Match[str]) -> str:
    cp = ord(m.group())
    # surrogateescape maps byte 0xNN (>= 0x80) to U+DCNN; any other lone surrogate is shown as \\uXXXX
    return f"\\x{cp - 0xDC00:02x}" if 0xDC80 <= cp <= 0xDCFF else f"\\u{cp:04x}"


def escape_undecodable(value: str) -> str:
    """``value`` with every lone surrogate replaced by a printable escape (identity otherwise)."""
    return _SURROGATE.sub(_esc, value) if _SURROGATE.search(value) else value


# scheme://user:password@host -> scheme://***@host. Linear: each candidate starts right after
# "://" and the run it scans stops at the first "/", "@" or blank.
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/@\s]*@")


def mask_userinfo(text: str) -> str:
    """``text`` with the userinfo (user name and password) of every URL in it replaced by ``***``."""
    return _USERINFO.sub(r"\1***@", text) if "@" in text else text
