"""Everything a run reads besides its targets, loaded and validated once, before the first request.

A rule file or option that cannot be used is a usage error (exit 64) that names its file and
line, never a per-host skip: a scan whose indicator rules silently failed to load would report a
patched but compromised appliance as ``not_vulnerable``. So ``scan`` and ``triage`` call a loader
here first, print every problem at once, and pass the parsed objects down to the stages (which
then read no file per host).

Suppressions are the state stage's input and fail the same way when it opens (before the first
request, see ``nscheck.state.cron.scheduled``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from nscheck.signatures import SignatureError

if TYPE_CHECKING:
    from nscheck.nitro import NitroContext
    from nscheck.options import ScanOptions
    from nscheck.signatures.advisories import AdvisorySet
    from nscheck.signatures.fingerprints import FingerprintTables
    from nscheck.signatures.indicators import IndicatorSet, OriginPattern
    from nscheck.signatures.triage import TriageRules

__all__ = ["InputError", "ScanInputs", "TriageInputs", "load_scan_inputs", "load_triage_inputs"]

T = TypeVar("T")


class InputError(Exception):
    """Inputs a run cannot use. ``problems``: every one found, each a line naming file:line."""

    def __init__(self, problems: Iterable[str]):
        self.problems = tuple(problems)
        super().__init__("\n".join(self.problems))


@dataclass(frozen=True)
class ScanInputs:
    """What a scan needs from signatures/ and its rule options, parsed."""

    tables: FingerprintTables
    advisories: AdvisorySet
    indicators: IndicatorSet | None = None  # None when indicator checks are off
    # --allow-origin / --allow-origin-file, parsed (allowlist.yaml's entries are in ``indicators``)
    allow_origins: tuple[OriginPattern, ...] = ()
    nitro: NitroContext | None = None  # when NITRO credentials were given


@dataclass(frozen=True)
class TriageInputs:
    rules: TriageRules
    advisories: AdvisorySet


def _problems_of(e: BaseException) -> list[str]:
    if isinstance(e, BaseExceptionGroup):
        return [p for x in e.exceptions for p in _problems_of(x)]
    if isinstance(e, InputError):
        return list(e.problems)
    return [str(e)]


def _collect(problems: list[str], fn: Callable[[], T]) -> T | None:
    """Run one loader; its problems join the list instead of stopping the others (every broken
    file is reported in one go, as ``signatures lint`` does)."""
    try:
        return fn()
    except (SignatureError, ValueError, OSError, ExceptionGroup) as e:
        problems.extend(_problems_of(e))
        return None


def load_scan_inputs(opts: ScanOptions) -> ScanInputs:
    """Raises InputError listing every problem (the CLI exits 64 with one line each)."""
    from nscheck.assess.advisories import load_default
    from nscheck.assess.indicators import PATH_TIERS, load_rules, parse_allow_origins
    from nscheck.nitro import load_context
    from nscheck.nitro.rolemap import load_nitro_map
    from nscheck.signatures.fingerprints import load_cached

    path = opts.signatures_path
    problems: list[str] = []
    if not path.is_dir():
        raise InputError([f"{path}: signature set is not a directory"])
    tables = _collect(problems, lambda: load_cached(str(path)))
    advisories = _collect(problems, lambda: load_default(path))
    indicators = None
    extra: tuple[OriginPattern, ...] | None = ()
    if opts.indicators:
        indicators = _collect(problems, lambda: load_rules(path))
        extra = _collect(problems, lambda: parse_allow_origins(opts.allow_origins, opts.allow_origin_files))
        if opts.indicator_paths not in PATH_TIERS:
            problems.append(f"--indicator-paths: {opts.indicator_paths!r} is not one of {', '.join(PATH_TIERS)}")
    if (path / "nitro.yaml").exists():
        # a broken NITRO map is an error even without credentials
        _collect(problems, lambda: load_nitro_map(path))
    # Credential sources: CredentialError (a ValueError, never with a secret in it); with
    # credentials, a missing nitro.yaml is a SignatureError.
    nitro = _collect(problems, lambda: load_context(opts))
    if problems or tables is None or advisories is None or (opts.indicators and (indicators is None or extra is None)):
        raise InputError(problems or ["signature set could not be loaded"])
    return ScanInputs(tables, advisories, indicators, extra or (), nitro)


def load_triage_inputs(signatures_dir: Path) -> TriageInputs:
    """Triage rules and bulletins (for the build found in the artefacts); raises InputError."""
    from nscheck.assess.advisories import load_default
    from nscheck.signatures.triage import load

    problems: list[str] = []
    if not signatures_dir.is_dir():
        raise InputError([f"{signatures_dir}: signature set is not a directory"])
    rules = _collect(problems, lambda: load(signatures_dir))
    advisories = _collect(problems, lambda: load_default(signatures_dir))
    if problems or rules is None or advisories is None:
        raise InputError(problems or ["signature set could not be loaded"])
    return TriageInputs(rules, advisories)
