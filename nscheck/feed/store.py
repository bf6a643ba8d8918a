"""Verified signature sets on disk, and which one is active.

Layout under the user data directory (``platformdirs``; ``$NSCHECK_DATA_DIR`` overrides)::

    signatures/
      sets/2026.11.20-3f9c0a1b2c3d/     one directory per verified set, never changed after rename
        .nscheck-set.json               version, date, source, digest, key, installed_at
        manifest.yaml advisories/ ...
      active                            text file: the name of the active set's directory
      previous                          text file: the set that was active before
      .lock                             flock: one update/rollback at a time

A set is written to a staging directory, linted there, and renamed into ``sets/`` (atomic on one
file system); the ``active`` pointer is then replaced with ``os.replace`` (atomic). A scan
resolves the pointer once, to the set's own directory, and keeps that directory for its whole
run: an update during a scan changes what the *next* scan uses. Sets that are neither active nor
previous are pruned a day after they were replaced, so a long scan never loses its set.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from packaging.version import InvalidVersion, Version

ENV_DATA_DIR = "NSCHECK_DATA_DIR"
META = ".nscheck-set.json"
PRUNE_AFTER_S = 24 * 3600
LOCK_WAIT_S = 60.0


class StoreError(Exception):
    """The store cannot be read or written (permissions, disk full, lock held too long)."""


@dataclass(frozen=True)
class SetInfo:
    """One signature set: a verified one from the store, or the one shipped with nscheck."""

    version: str
    date: str
    path: str
    source: str  # the URL or file it came from, or "shipped with nscheck X"
    digest: str | None = None  # SHA-256 of the bundle
    key_id: str | None = None
    key_source: str | None = None
    installed_at: str | None = None

    @property
    def parsed_version(self) -> Version:
        try:
            return Version(self.version)
        except InvalidVersion:
            return Version("0")

    def age_days(self, today: dt.date | None = None) -> int | None:
        try:
            d = dt.date.fromisoformat(self.date[:10])
        except ValueError:
            return None
        return ((today or dt.datetime.now(dt.UTC).date()) - d).days

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def data_dir() -> Path:
    env = os.environ.get(ENV_DATA_DIR)
    if env:
        return Path(env)
    import platformdirs

    return platformdirs.user_data_path("nscheck", appauthor=False)


def root() -> Path:
    return data_dir() / "signatures"


def _read_pointer(name: str) -> Path | None:
    try:
        target = (root() / name).read_text(encoding="utf-8").strip()
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as e:
        raise StoreError(f"{root() / name}: cannot read: {e.strerror or e}") from None
    if not target or "/" in target or target.startswith("."):
        return None
    d = root() / "sets" / target
    return d if (d / META).is_file() else None


def _write_pointer(name: str, target: Path | None) -> None:
    p = root() / name
    if target is None:
        with contextlib.suppress(FileNotFoundError):
            p.unlink()
        return
    fd, tmp = tempfile.mkstemp(dir=root(), prefix=f".{name}-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(target.name + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, p)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def read_info(set_dir: Path) -> SetInfo | None:
    try:
        data = json.loads((set_dir / META).read_text(encoding="utf-8"))
        return SetInfo(**{k: data.get(k) for k in SetInfo.__dataclass_fields__} | {"path": str(set_dir)})
    except (OSError, ValueError, TypeError):
        return None


def active() -> SetInfo | None:
    d = _read_pointer("active")
    return read_info(d) if d else None


def previous() -> SetInfo | None:
    d = _read_pointer("previous")
    return read_info(d) if d else None


@contextlib.contextmanager
def locked(wait_s: float = LOCK_WAIT_S) -> Iterator[None]:
    """One writer at a time. Readers (scans) never lock: they only read a pointer and a directory
    that is complete before the pointer names it."""
    try:
        (root() / "sets").mkdir(parents=True, exist_ok=True)
        fh = open(root() / ".lock", "a+")  # noqa: SIM115 - held for the block
    except OSError as e:
        raise StoreError(f"{root()}: cannot create: {e.strerror or e}") from None
    try:
        deadline = time.monotonic() + wait_s
        while True:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise StoreError(f"another update holds {root() / '.lock'}") from None
                time.sleep(0.05)
        yield
    finally:
        fh.close()


def staging_dir() -> Path:
    return Path(tempfile.mkdtemp(dir=root() / "sets", prefix=".staging-"))


def install(staging: Path, info: SetInfo) -> SetInfo:
    """Move a complete, linted staging directory into place and make it active. Call under
    ``locked()``. The previous active set becomes ``previous``."""
    name = f"{info.version}-{(info.digest or 'local')[:12]}"
    final = root() / "sets" / name
    now = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
    info = replace(info, path=str(final), installed_at=now)
    (staging / META).write_text(json.dumps(info.to_dict(), indent=1) + "\n", encoding="utf-8")
    if final.exists():  # the same bundle again: keep the existing (identical, verified) copy
        shutil.rmtree(staging, ignore_errors=True)
    else:
        os.rename(staging, final)
    switch(final)
    return info


def switch(target: Path) -> None:
    """Make ``target`` active and the current active set previous. Call under ``locked()``."""
    current = _read_pointer("active")
    if current is not None and current != target:
        _write_pointer("previous", current)
    _write_pointer("active", target)
    _touch(current)
    prune()


def _touch(d: Path | None) -> None:
    # Replacement time starts the prune clock: a scan that began on this set keeps it a day.
    if d is not None:
        with contextlib.suppress(OSError):
            os.utime(d / META)


def prune(now: float | None = None) -> None:
    keep = {_read_pointer("active"), _read_pointer("previous")}
    now = now or time.time()
    for d in (root() / "sets").iterdir():
        if d in keep or not d.is_dir():
            continue
        try:
            marker = d / META if (d / META).exists() else d
            if now - marker.stat().st_mtime > PRUNE_AFTER_S:
                shutil.rmtree(d, ignore_errors=True)
        except OSError:
            continue


def rollback() -> tuple[SetInfo | None, SetInfo | None]:
    """Swap active and previous; returns (now active, now previous); None for "the shipped set".
    Call under ``locked()``."""
    prev, cur = _read_pointer("previous"), _read_pointer("active")
    if prev is None and cur is None:
        raise StoreError("there is no previous signature set to return to")
    # No previous verified set: going back means back to the set shipped with nscheck.
    _write_pointer("active", prev)
    _write_pointer("previous", cur)
    return (read_info(prev) if prev else None), (read_info(cur) if cur else None)
