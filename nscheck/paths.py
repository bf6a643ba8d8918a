"""Where the shipped data lives, in a source checkout and in an installed wheel."""

from __future__ import annotations

import os
from pathlib import Path

_PKG = Path(__file__).resolve().parent

ENV_SIGNATURES = "NSCHECK_SIGNATURES"


def _first_existing(*cands: Path) -> Path:
    for c in cands:
        if c.is_dir():
            return c
    return cands[0]


def shipped_signatures_dir() -> Path:
    """The set that came with this nscheck: the wheel copy, else the source checkout's."""
    return _first_existing(_PKG / "_signatures", _PKG.parent / "signatures")


def signatures_dir(override: str | os.PathLike[str] | None = None) -> Path:
    """``--signatures DIR`` wins, then $NSCHECK_SIGNATURES, then the newest of the verified set
    activated by ``nscheck signatures update`` and the shipped set (resolved once per process, so
    a run keeps the set it started with)."""
    if override:
        return Path(override)
    env = os.environ.get(ENV_SIGNATURES)
    if env:
        return Path(env)
    from nscheck.feed import store
    from nscheck.feed.update import pinned

    return Path(pinned(str(store.data_dir()), str(shipped_signatures_dir())))


def schemas_dir() -> Path:
    return _first_existing(_PKG / "_schemas", _PKG.parent / "schemas")
