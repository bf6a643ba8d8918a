"""Crash-safe output files: atomic replace, and file names derived from targets that can never
escape their directory or collide."""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import tempfile
from pathlib import Path

_SAFE = re.compile(r"[^A-Za-z0-9._-]+")
_MAX_STEM = 80


def umask_mode(base: int = 0o666) -> int:
    """``base`` as the process umask would leave it (reports follow the umask, like any file a
    tool writes; the state database, the lock and spools are 0600 instead)."""
    current = os.umask(0o077)
    os.umask(current)
    return base & ~current


class OutputPathError(OSError):
    """An output path nscheck refuses or cannot open (the CLI exits 73, EX_CANTCREAT, without a
    traceback)."""


def open_report(path: str | os.PathLike[str], *, append: bool = False) -> int:
    """A file descriptor for writing a report at ``path``: never through a symbolic link planted
    there (O_NOFOLLOW), mode from the umask."""
    import errno

    flags = os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0)
    flags |= os.O_APPEND if append else os.O_TRUNC
    try:
        return os.open(path, flags, 0o666)
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise OutputPathError(e.errno, f"{path} is a symbolic link: refused (output files never follow "
                                  "links; give the real path)") from None
        raise OutputPathError(e.errno, f"cannot write {path}: {e.strerror or e}") from None


def atomic_write(path: str | os.PathLike[str], data: str | bytes) -> None:
    """Write ``data`` to ``path`` so a reader sees the old file or the new one, never half of one:
    temp file in the same directory (same filesystem, O_EXCL, unpredictable name), fsync,
    os.replace (which replaces a symlink at ``path`` instead of following it). The file gets the
    umask's mode, not mkstemp's 0600 (one rule for every report)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    raw = data.encode("utf-8") if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name[:40]}.", suffix=".tmp", dir=p.parent)
    try:
        os.fchmod(fd, umask_mode())
        with os.fdopen(fd, "wb") as fh:
            fh.write(raw)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, p)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def safe_name(target: str, url: str | None = None) -> str:
    """A file stem for a target: only [A-Za-z0-9._-], no leading dot, at most ~90 characters.

    Whenever the stem is not the target verbatim (characters replaced, truncated) a short hash of
    the target (and URL) is appended, so ``a:b`` and ``a_b`` never land in the same file and
    ``../../etc/x`` becomes ``etc_x-<hash>`` inside the output directory.
    """
    stem = _SAFE.sub("_", target).strip("._-")[:_MAX_STEM] or "host"
    if stem != target:
        digest = hashlib.sha256(f"{target}|{url or ''}".encode()).hexdigest()[:10]
        stem = f"{stem}-{digest}"
    return stem


class OpenAppend:
    """A line-oriented output (file or stdout), appended to and flushed after every write, so a
    killed run keeps every line written so far and a log shipper that tracks its offset in the
    file never sees it shrink. Each ``write`` is one ``os.write`` on an O_APPEND descriptor: one
    or more complete lines land at the end of the file together, never interleaved with another
    writer's."""

    def __init__(self, path: str):
        import sys

        self.path = path
        self.fd: int | None = None
        if path == "-":
            self.fh = sys.stdout
            self.own = False
        else:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            # Like open_report: never through a symlink planted at the path, mode from the umask;
            # read+append (not write-only) so the last byte of an earlier run can be checked.
            flags = os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0)
            try:
                self.fd = os.open(path, flags, 0o666)
            except OSError as e:
                import errno

                if e.errno == errno.ELOOP:
                    raise OutputPathError(e.errno, f"{path} is a symbolic link: refused (output files never "
                                          "follow links; give the real path)") from None
                raise OutputPathError(e.errno, f"cannot write {path}: {e.strerror or e}") from None
            self.own = True
            size = os.fstat(self.fd).st_size
            if size and os.pread(self.fd, 1, size - 1) != b"\n":
                # A killed run left half a line: end it, so our first line is a line of its own.
                self._write_all(b"\n")

    def _write_all(self, data: bytes) -> None:
        assert self.fd is not None
        view = memoryview(data)
        while view:
            n = os.write(self.fd, view)
            view = view[n:]

    def write(self, text: str) -> None:
        if self.fd is not None:
            self._write_all(text.encode("utf-8"))
        else:
            self.fh.write(text)
            self.fh.flush()

    def close(self) -> None:
        if self.fd is not None:
            os.fsync(self.fd)
            os.close(self.fd)
            self.fd = None
        elif not self.own:
            self.fh.flush()


class OutputDirSink:
    """``--output-dir DIR``: ``<safe-name>.json`` (the complete host object), ``<safe-name>.md``
    and ``<safe-name>.html`` (the host's own page) per target, each written atomically as soon as
    the host completes. ``fleet_page``: the --html page, linked from every host page."""

    def __init__(self, directory: str, *, fleet_page: str | None = None):
        self.dir = Path(directory)
        self.signatures: str | None = None
        self.fleet_link: str | None = None
        if fleet_page:
            from urllib.parse import quote

            rel = os.path.relpath(Path(fleet_page).resolve(), self.dir.resolve())
            self.fleet_link = quote(rel.replace(os.sep, "/"))

    def open(self, run: object) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        ver = getattr(run, "signatures_version", None)
        date = getattr(run, "signatures_date", None)
        if ver or date:
            self.signatures = " ".join(x for x in (ver, f"({date})" if date else None) if x)

    def path_for(self, target: str, url: str | None, suffix: str) -> Path:
        p = (self.dir / (safe_name(target, url) + suffix)).resolve()
        if p.parent != self.dir.resolve():  # belt and braces: safe_name already guarantees this
            raise ValueError(f"refusing to write outside {self.dir}: {p}")
        return p

    def host(self, result: object) -> None:
        from nscheck.report.hostpage import host_html
        from nscheck.report.jsonfmt import host_json
        from nscheck.report.markdown import host_markdown

        target, url = result.target, result.url  # type: ignore[attr-defined]
        atomic_write(self.path_for(target, url, ".json"), host_json(result))  # type: ignore[arg-type]
        atomic_write(self.path_for(target, url, ".md"), host_markdown(result, signatures=self.signatures))  # type: ignore[arg-type]
        atomic_write(self.path_for(target, url, ".html"),
                     host_html(result, signatures=self.signatures, fleet_link=self.fleet_link))  # type: ignore[arg-type]

    def close(self, summary: object) -> None:
        pass
