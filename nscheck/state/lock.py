"""``--lock PATH``: one scheduled run at a time.

An exclusive, non-blocking ``fcntl.flock`` on a lock file. The kernel drops the lock when the
process dies, so a crashed run never leaves a stale lock behind (unlike a pid file). The file
holds the pid and start time of the holder, for the "busy" message only.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import os
from pathlib import Path
from types import TracebackType


class LockBusy(Exception):
    """Another run holds the lock (exit 75, EX_TEMPFAIL: try again later)."""

    def __init__(self, path: str, holder: str):
        self.path = path
        self.holder = holder
        super().__init__(f"another nscheck run holds the lock {path}" + (f" ({holder})" if holder else ""))


class RunLock:
    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)
        self._fd: int | None = None

    def acquire(self) -> RunLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # O_NOFOLLOW: a symlink planted at the lock path must not make us truncate its target;
        # 0600 like the state database (one rule: state and locks are private, reports follow the umask)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0), 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            try:
                holder = os.pread(fd, 200, 0).decode("utf-8", "replace").strip()
            finally:
                os.close(fd)
            raise LockBusy(str(self.path), holder) from None
        # Only the holder writes, and only after it got the lock: truncating before would wipe
        # the running holder's note.
        note = f"pid {os.getpid()} since {dt.datetime.now(dt.UTC).strftime('%Y-%m-%dT%H:%M:%SZ')}\n"
        os.ftruncate(fd, 0)
        os.pwrite(fd, note.encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            # The file stays: unlinking it would let a third run lock a new inode while a second
            # still waits on the old one.
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self.release()
