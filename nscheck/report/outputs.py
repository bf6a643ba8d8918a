"""Output paths checked before the first packet, ``-o FILE``, and the list of file outputs.

A cron job that cannot write its report must fail at once (exit 73, EX_CANTCREAT) with one line
that names the flag and the path, not after an hour of scanning (when the HTML is lost) and not
with a per-host "output error" while the scan goes on. Each check does what the sink will do
(create the directory, create a file in it, open the append file) so the answer is the real
one, also for root on a read-only file system, where permission bits say nothing.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from nscheck.report.base import Sink


class OutputPathError(Exception):
    """One unusable output: ``--html /tmp: is a directory (a FILE is expected)``."""


def _why(e: OSError) -> str:
    return e.strerror or str(e)


def _probe_dir(flag: str, directory: Path, original: str) -> None:
    """Create ``directory`` if needed and prove a file can be created in it."""
    try:
        if directory.exists() and not directory.is_dir():
            raise OutputPathError(f"{flag} {original}: {directory} is not a directory")
        directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".nscheck-check.", dir=directory)
        os.close(fd)
        os.unlink(tmp)
    except OSError as e:
        raise OutputPathError(f"{flag} {original[:200]}: cannot write in {str(directory)[:200]}: {_why(e)}") from None


def check_file(flag: str, path: str, *, append: bool = False) -> None:
    """A FILE output (``--jsonl``, ``--csv``, ``--html``, ``-o``): not a directory, its
    directory writable; an append target must open for appending (nothing is written)."""
    if path == "-":
        return
    p = Path(path)
    try:
        is_dir = p.is_dir()
    except OSError as e:  # e.g. ENAMETOOLONG
        raise OutputPathError(f"{flag} {path[:200]}: {_why(e)}") from None
    if path.endswith(("/", os.sep)) or is_dir:
        hint = "; per-host reports go to --output-dir DIR" if flag in ("-o", "--output") else ""
        raise OutputPathError(f"{flag} {path}: is a directory, {flag} takes a FILE{hint}")
    _probe_dir(flag, p.parent if str(p.parent) else Path("."), path)
    if append:
        # Opened as the sink will open it (no O_CREAT here: nothing is created or written), and
        # never through a planted symlink.
        try:
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0))
        except FileNotFoundError:
            return
        except OSError as e:
            import errno

            if e.errno == errno.ELOOP:
                raise OutputPathError(f"{flag} {path} is a symbolic link: refused (output files never follow "
                                      "links; give the real path)") from None
            raise OutputPathError(f"{flag} {path}: cannot append: {_why(e)}") from None
        os.close(fd)


def input_problem(path: str) -> str | None:
    """Why an input PATH cannot be used ("no such file or directory", "File name too long"),
    or None when it exists. '-' (stdin) is always fine."""
    if path == "-":
        return None
    try:
        os.stat(path)
    except OSError as e:
        return _why(e)
    except ValueError as e:  # an embedded NUL
        return str(e)
    return None


def check_dir(flag: str, path: str) -> None:
    """A DIR output (``--output-dir``): created now if missing, and writable."""
    _probe_dir(flag, Path(path), path)


def check_outputs(files: Mapping[str, str | None], dirs: Mapping[str, str | None] = {},
                  append: Mapping[str, bool] = {}) -> list[str]:
    """Every problem, one line each (empty: all outputs usable). ``files``/``dirs`` map a flag
    to its value (None when not given)."""
    errors: list[str] = []
    for flag, value in dirs.items():
        if value:
            try:
                check_dir(flag, value)
            except OutputPathError as e:
                errors.append(str(e))
    for flag, value in files.items():
        if value:
            try:
                check_file(flag, value, append=append.get(flag, False))
            except OutputPathError as e:
                errors.append(str(e))
    return errors


class Redirect:
    """What ``stdout_to`` yields: ``discard()`` keeps the old FILE (a run that never started,
    e.g. locked out by another one, must not replace the last good report with nothing)."""

    def __init__(self) -> None:
        self.keep = True

    def discard(self) -> None:
        self.keep = False


@contextlib.contextmanager
def stdout_to(path: str | None) -> Iterator[Redirect]:
    """``-o FILE``: what the command prints on stdout goes to FILE instead. Written to a temp
    file next to FILE and renamed at the end, so a reader never sees half a report; on an
    exception (or ``discard()``) the old FILE stays as it was."""
    r = Redirect()
    if not path or path == "-":
        yield r
        return
    p = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name[:40]}.", suffix=".tmp", dir=p.parent if str(p.parent) else ".")
    old = sys.stdout
    from nscheck.report.files import umask_mode

    os.fchmod(fd, umask_mode())  # one rule for every report: the umask's mode, not mkstemp's 0600
    fh = os.fdopen(fd, "w", encoding="utf-8", newline="")
    sys.stdout = fh
    failed = False
    try:
        yield r
    except BaseException:
        failed = True
        raise
    finally:
        sys.stdout = old
        ok = r.keep and not failed
        try:
            if ok:
                fh.flush()
                os.fsync(fh.fileno())
            fh.close()
            if ok:
                os.replace(tmp, p)
        finally:
            if not ok:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)


# -- the file outputs of a run ---------------------------------------------------------------------


@dataclass(frozen=True)
class FileOutput:
    """A report a run writes to a path of its own (stdout's is ``--format``, see ``formats.py``):
    its flag, the options attribute holding the path, how the path is checked before the first
    packet (``append``: opened for appending, never through a link; ``dir``: created), and its
    sink (built from the path and the options)."""

    flag: str
    attr: str
    check: Literal["file", "append", "dir"]
    build: Callable[[str, Any], Sink]


def _jsonl(path: str, opts: Any) -> Sink:
    from nscheck.report.ecs import JsonlSink

    return JsonlSink(path)


def _output_dir(path: str, opts: Any) -> Sink:
    from nscheck.report.files import OutputDirSink

    return OutputDirSink(path, fleet_page=getattr(opts, "html", None))


def _csv(path: str, opts: Any) -> Sink:
    from nscheck.report.csvfmt import CsvSink
    from nscheck.report.order import DEFAULT_SORT

    return CsvSink(path, sort=getattr(opts, "sort", DEFAULT_SORT))


def _ocsf(path: str, opts: Any) -> Sink:
    from nscheck.report.ocsf import OcsfSink

    return OcsfSink(path)


def _html(path: str, opts: Any) -> Sink:
    from nscheck.report.html import HtmlSink
    from nscheck.report.order import DEFAULT_SORT

    return HtmlSink(path, output_dir=getattr(opts, "output_dir", None), sort=getattr(opts, "sort", DEFAULT_SORT))


# In the order their sinks are fed and closed. A command offers those its options have (triage:
# --jsonl and --output-dir); a new file output is one row here and one option.
FILE_OUTPUTS: tuple[FileOutput, ...] = (
    FileOutput("--jsonl", "jsonl", "append", _jsonl),
    FileOutput("--output-dir", "output_dir", "dir", _output_dir),
    FileOutput("--csv", "csv", "file", _csv),
    FileOutput("--ocsf", "ocsf", "append", _ocsf),
    FileOutput("--html", "html", "file", _html),
)


def file_sinks(opts: Any) -> list[Sink]:
    """A sink for every file output ``opts`` names."""
    return [o.build(path, opts) for o in FILE_OUTPUTS if (path := getattr(opts, o.attr, None))]


def check_run_outputs(opts: Any) -> list[str]:
    """Every output path of a run (``-o`` and each file output ``opts`` names), checked before
    the first packet: one line per problem."""
    files = {"-o": getattr(opts, "output", None)}
    files.update({o.flag: getattr(opts, o.attr, None) for o in FILE_OUTPUTS if o.check != "dir"})
    dirs = {o.flag: getattr(opts, o.attr, None) for o in FILE_OUTPUTS if o.check == "dir"}
    return check_outputs(files, dirs, append={o.flag: True for o in FILE_OUTPUTS if o.check == "append"})
