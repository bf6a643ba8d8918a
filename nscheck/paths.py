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


def signatures_dir(override: str | os.PathLike[str] | None = None) -> Path:
    """``--signatures DIR`` wins, then $NSCHECK_SIGNATURES, then the wheel copy, then the checkout."""
    if override:
        return Path(override)
    env = os.environ.get(ENV_SIGNATURES)
    if env:
        return Path(env)
    return _first_existing(_PKG / "_signatures", _PKG.parent / "signatures")


def schemas_dir() -> Path:
    return _first_existing(_PKG / "_schemas", _PKG.parent / "schemas")
