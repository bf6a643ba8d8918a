"""Events a collector did not take, kept on disk for the next run.

One file per destination (``<dir>/<name>.spool``, JSON Lines, mode 0600: events can name hosts
and evidence). A run claims the file by renaming it before sending, so two runs never send the
same spooled line twice at once; what the claiming run cannot deliver is appended back.
The spool is bounded (``MAX_BYTES``): past it the oldest lines are dropped, and that is said.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from pathlib import Path

MAX_BYTES = 256 * 1024 * 1024


def spool_dir(override: str | None = None) -> Path:
    if override:
        return Path(override)
    from nscheck.feed.store import data_dir

    return data_dir() / "spool"


class Spool:
    def __init__(self, directory: Path, destination: str):
        self.dir = directory
        # The destination (URL without secrets) names the file, so each collector has its own.
        self.path = directory / f"{hashlib.sha256(destination.encode()).hexdigest()[:16]}.spool"
        self.dropped = 0

    def append(self, lines: list[str]) -> None:
        if not lines:
            return
        self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | getattr(os, "O_NOFOLLOW", 0)
        fd = os.open(self.path, flags, 0o600)
        with os.fdopen(fd, "a", encoding="utf-8") as fh:
            for line in lines:
                fh.write(line.replace("\n", " ") + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        self._bound()

    def _bound(self) -> None:
        try:
            size = self.path.stat().st_size
        except OSError:
            return
        if size <= MAX_BYTES:
            return
        with open(self.path, "rb") as fh:
            fh.seek(size - MAX_BYTES // 2)
            fh.readline()  # to a line boundary
            keep = fh.read()
        old_lines = self.path.read_bytes().count(b"\n") - keep.count(b"\n")
        self.dropped += max(old_lines, 0)
        tmp = self.path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0), 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(keep)
        os.replace(tmp, self.path)

    def claim(self) -> list[str]:
        """Take every spooled line (the file is emptied); give back what fails with ``append``."""
        claimed = self.path.with_name(self.path.name + f".sending-{os.getpid()}")
        try:
            os.rename(self.path, claimed)
        except FileNotFoundError:
            return []
        try:
            lines = [ln for ln in claimed.read_text(encoding="utf-8", errors="replace").splitlines() if ln.strip()]
        finally:
            with contextlib.suppress(OSError):
                claimed.unlink()
        return lines

    def pending(self) -> int:
        try:
            return sum(1 for ln in self.path.read_text(encoding="utf-8", errors="replace").splitlines() if ln.strip())
        except FileNotFoundError:
            return 0
