"""``nscheck signatures update``: fetch → verify → lint → activate, or refuse and change nothing.

Also which set a run uses: the newest of the active verified set and the set shipped with
nscheck (so ``pip install -U nscheck`` with newer data is not shadowed by an older download).
"""

from __future__ import annotations

import functools
import os
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from nscheck import __version__
from nscheck.feed import store
from nscheck.feed.bundle import MAX_BUNDLE_BYTES, BundleError, Refusal, read_bundle, write_files
from nscheck.feed.keys import trusted_keys
from nscheck.feed.store import SetInfo, StoreError

ENV_URL = "NSCHECK_SIGNATURES_URL"

__all__ = ["ENV_URL", "UpdateResult", "effective", "shipped", "update"]


class SourceError(Exception):
    """The bundle could not be had: ``kind`` is ``usage`` (bad source), ``unavailable``,
    ``oversized`` or ``truncated``."""

    def __init__(self, kind: str, message: str):
        self.kind = kind
        super().__init__(message)


@dataclass(frozen=True)
class UpdateResult:
    activated: SetInfo
    previous: SetInfo | None
    unchanged: bool  # the same set was already active


def _manifest_meta(d: Path) -> tuple[str, str] | None:
    import yaml

    try:
        data = yaml.safe_load((d / "manifest.yaml").read_text(encoding="utf-8")) or {}
    except (OSError, ValueError, yaml.YAMLError):
        return None
    if not isinstance(data, dict) or not data.get("version"):
        return None
    return str(data["version"]), str(data.get("date") or "")[:10]


def shipped(shipped_dir: Path) -> SetInfo | None:
    meta = _manifest_meta(shipped_dir)
    if meta is None:
        return None
    return SetInfo(version=meta[0], date=meta[1], path=str(shipped_dir), source=f"shipped with nscheck {__version__}")


def effective(shipped_dir: Path) -> SetInfo | None:
    """The set a run uses: the store's active set unless the shipped one is newer."""
    try:
        act = store.active()
    except StoreError:
        act = None
    ship = shipped(shipped_dir)
    if act is None:
        return ship
    if ship is not None and ship.parsed_version > act.parsed_version:
        return ship
    return act


@functools.lru_cache(maxsize=8)
def pinned(data_dir: str, shipped_dir: str) -> str:
    """The effective set's directory, resolved once per process: a scan keeps the set it started
    with even if an update switches ``active`` meanwhile."""
    del data_dir  # part of the cache key only
    info = effective(Path(shipped_dir))
    return info.path if info else shipped_dir


def read_source(source: str, *, ca_file: str | None, timeout: float, max_bytes: int) -> bytes:
    if "://" in source:
        from nscheck.probe.client import DownloadError, download

        try:
            return download(source, max_bytes=max_bytes, timeout=timeout, ca_file=ca_file)
        except DownloadError as e:
            raise SourceError("usage" if e.kind == "refused" else e.kind, str(e)) from None
    p = Path(source).expanduser()
    try:
        size = p.stat().st_size
        if not p.is_file():
            raise SourceError("usage", f"{p}: not a file")
        if size > max_bytes:
            raise SourceError("oversized", f"{p}: {size} bytes (limit {max_bytes})")
        with p.open("rb") as fh:
            return fh.read(max_bytes + 1)
    except FileNotFoundError:
        raise SourceError("usage", f"{p}: no such file") from None
    except OSError as e:
        raise SourceError("unavailable", f"{p}: cannot read: {e.strerror or e}") from None


def update(source: str, shipped_dir: Path, *, allow_downgrade: bool = False, trusted: Iterable[str] = (),
           ca_file: str | None = None, timeout: float = 30.0, max_bytes: int = MAX_BUNDLE_BYTES) -> UpdateResult:
    """Raise SourceError, BundleError (refused: nothing changed) or StoreError."""
    from nscheck.signatures import lint

    data = read_source(source, ca_file=ca_file, timeout=timeout, max_bytes=max_bytes)
    keys = trusted_keys(trusted)
    bundle = read_bundle(data, {k: t.key for k, t in keys.items()})
    m = bundle.manifest
    with store.locked():
        current = effective(shipped_dir)
        if current is not None and current.digest == bundle.digest:
            return UpdateResult(current, store.previous(), unchanged=True)
        if current is not None and m.version < current.parsed_version and not allow_downgrade:
            raise BundleError(Refusal.DOWNGRADE, f"set {m.set_version} is older than the active {current.version} "
                                                 "(--allow-downgrade to install it anyway)")
        staging = store.staging_dir()
        try:
            write_files(bundle, staging)
            report = lint(staging)
            if report.errors:
                first = "; ".join(str(e).replace(str(staging) + os.sep, "") for e in report.errors[:3])
                raise BundleError(Refusal.LINT, f"{len(report.errors)} error(s): {first}")
            meta = _manifest_meta(staging)
            if meta is None or meta[0] != m.set_version:
                raise BundleError(Refusal.MANIFEST_MISMATCH,
                                  f"manifest.yaml says version {meta[0] if meta else '?'}, the bundle {m.set_version}")
            info = SetInfo(version=m.set_version, date=m.set_date.isoformat(), path="", source=source,
                           digest=bundle.digest, key_id=bundle.key_id, key_source=keys[bundle.key_id].source)
            before = store.active()
            installed = store.install(staging, info)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    pinned.cache_clear()
    return UpdateResult(installed, before, unchanged=False)
