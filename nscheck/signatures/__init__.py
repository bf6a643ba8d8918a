"""Loading and validating ``signatures/``: all of nscheck's knowledge, as reviewed data.

Each kind of rule has its own module with a ``load(dir) -> ...`` function that validates
everything and raises ``SignatureError`` (file, field/line, reason; never a traceback):

- ``advisories``   signatures/advisories/*.yaml, lifecycle.yaml, manifest.yaml (assessment engine)
- ``fingerprints`` signatures/fingerprints/ build tables and product markers (scan)
- ``indicators``   signatures/indicators/*.yaml remote indicator rules (scan)
- ``triage``       signatures/triage/*.yaml offline triage rules (triage)

``lint(dir)`` runs every loader and collects all errors.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any


class SignatureError(Exception):
    """A problem in a signature file, said in one line: ``file:line: field: reason``."""

    def __init__(self, file: str | Path, reason: str, *, field: str | None = None, line: int | None = None):
        self.file = str(file)
        self.reason = reason
        self.field = field
        self.line = line
        loc = self.file + (f":{line}" if line else "")
        super().__init__(f"{loc}: {field + ': ' if field else ''}{reason}")


@dataclass(frozen=True)
class LintReport:
    errors: tuple[SignatureError, ...]
    counts: dict[str, int]

    @property
    def ok(self) -> bool:
        return not self.errors


# (name, loader) pairs; a loader takes the signatures dir and returns something with len()
# or raises SignatureError / an ExceptionGroup of SignatureErrors. Modules add themselves here.
LOADERS: list[tuple[str, Callable[[Path], Any]]] = []


def register_loader(name: str, fn: Callable[[Path], Any]) -> None:
    if all(n != name for n, _ in LOADERS):
        LOADERS.append((name, fn))


def _import_all() -> None:
    import importlib
    import pkgutil

    for mod in pkgutil.iter_modules(__path__):
        if not mod.name.startswith("_"):
            importlib.import_module(f"{__name__}.{mod.name}")


def lint(directory: Path) -> LintReport:
    _import_all()
    errors: list[SignatureError] = []
    counts: dict[str, int] = {}
    if not directory.is_dir():
        return LintReport((SignatureError(directory, "not a directory"),), {})
    for name, fn in LOADERS:
        try:
            loaded = fn(directory)
            try:
                counts[name] = len(loaded)
            except TypeError:
                counts[name] = 1
        except SignatureError as e:
            errors.append(e)
        except ExceptionGroup as eg:
            for x in eg.exceptions:
                errors.append(x if isinstance(x, SignatureError) else SignatureError(directory, str(x)))
    return LintReport(tuple(errors), counts)
