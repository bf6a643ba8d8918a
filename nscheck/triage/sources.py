"""A uniform, read-only "artefact file system" over what was collected from an appliance.

Every source (directory tree, tar / tar.gz, zip, ``show techsupport`` collector bundle, disk image
through dissect.target) yields ``(Entry, opener)`` pairs: the entry's path *inside the appliance*
(``/var/netscaler/logon/...``), its metadata, and a function that opens its content as a bounded
binary stream. Archives are never extracted: members are read one by one from the stream, so the
opener is only valid until the next entry is produced. Nothing from the input is executed.

Layouts are recognised by content, not by the input's name (``map_parts``): the collector's
``collector_<P|S>_<ip>_<date>/`` top directory under any archive name, ``./`` prefixes, wrapper
directories around ``var/`` and ``flash/``, collector archives nested in a cluster bundle, a zip or
an evidence folder (read in place), and loose files that fit nowhere (log checks still run on them).

Refusals (absolute names, ``..``, links pointing outside, device files, oversized members,
truncated archives) are not errors: they are recorded in ``Source.notes`` for the coverage report.
"""

from __future__ import annotations

import bz2
import datetime as dt
import functools
import gzip
import io
import lzma
import os
import re
import stat
import tarfile
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from nscheck.safetext import escape_undecodable
from nscheck.triage.paxsafe import bounded_tarinfo

__all__ = [
    "APPLIANCE_TOP",
    "Entry",
    "Opener",
    "Source",
    "SourceUnavailable",
    "ZipSource",
    "open_source",
]

# First path components that occur at the root of a NetScaler file system.
APPLIANCE_TOP = frozenset({
    "var", "flash", "nsconfig", "netscaler", "etc", "tmp", "root", "usr", "bin", "sbin", "home", "lib", "libexec",
    "boot", "compat", "opt", "netscaler.local", "private", ".nscli_history", "v", ".x", "lula",
})
_BUNDLE_RE = re.compile(r"collector_(?:P_|S_)?[^/]*?(\d{1,2})([A-Za-z]{3})(\d{4})_(\d{2})_(\d{2})")
_MONTHS = {m: i for i, m in enumerate(("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1)}
MAX_NOTES = 200

Opener = Callable[[], IO[bytes]]


class SourceUnavailable(Exception):
    """The input cannot be read at all (missing, unsupported, or needs an extra that is not installed)."""


@dataclass(frozen=True, slots=True)
class Entry:
    path: str  # absolute path inside the appliance, "/"-separated
    kind: str  # "file" | "dir" | "symlink" | "other"
    size: int = 0
    mode: int | None = None  # permission bits including setuid/setgid (st_mode & 0o7777)
    uid: int | None = None
    gid: int | None = None
    mtime: float | None = None
    ctime: float | None = None
    birthtime: float | None = None
    link: str | None = None
    origin: str = ""  # where it came from (member name, real path, "stat listing")


@dataclass
class Source:
    """Base: subclasses implement ``_iter``. ``notes`` collect refusals and damage, capped."""

    label: str
    kind: str = "directory"
    # which metadata the source keeps (tar drops ctime and birth time; copies rewrite ctime)
    has_mode: bool = True
    has_owner: bool = True
    has_ctime: bool = False
    has_birthtime: bool = False
    bundle: bool = False
    bundle_time: dt.datetime | None = None
    notes: list[dict[str, str]] = field(default_factory=list)
    note_count: int = 0
    max_member_bytes: int = 2 * 1024**3

    bundle_dirs: list[str] = field(default_factory=list)
    loose_files: int = 0
    nested_depth: int = 1  # collector bundles inside the input (cluster bundles) are read this deep
    # what the source learnt about the appliance for the checks (live triage: "install_window")
    facts: dict[str, Any] = field(default_factory=dict)

    def saw_bundle(self, name: str | None) -> None:
        """A collector directory (or its ``shell/`` outputs) was seen: this is a support bundle."""
        if not self.bundle:
            self.bundle = True
            self.kind = "support_bundle"
        if name is None or name in self.bundle_dirs:
            return
        self.bundle_dirs.append(name)
        self.bundle_time = self.bundle_time or bundle_time_from_name(name)
        if len(self.bundle_dirs) == 2:
            self.note("several bundles", self.label,
                      f"holds more than one collector bundle ({self.bundle_dirs[0]}, {name}, ...): HA or cluster nodes "
                      "were analysed together as ONE appliance; run triage on each node's bundle for per-node results")

    def note(self, what: str, path: str, reason: str) -> None:
        self.note_count += 1
        if len(self.notes) < MAX_NOTES:
            # member names may hold non-UTF-8 bytes (surrogate-escaped): shown as \xNN, never a crash
            self.notes.append({"what": what, "path": escape_undecodable(path), "reason": escape_undecodable(reason)})

    def entries(self) -> Iterator[tuple[Entry, Opener | None]]:
        yield from self._iter()

    def _iter(self) -> Iterator[tuple[Entry, Opener | None]]:  # pragma: no cover - abstract
        raise NotImplementedError

    # -- tar streams (an archive given as input, or a collector bundle found inside the input) --

    def _map(self, name: str) -> str | None:
        parts = [p for p in name.split("/") if p not in ("", ".")]
        ipath, bundle_dir = map_parts(parts)
        if bundle_dir is not None or (ipath or "").startswith("/.collector/"):
            self.saw_bundle(bundle_dir)
        return ipath

    def _walk(self, raw: IO[bytes], label: str, depth: int) -> Iterator[tuple[Entry, Opener | None]]:
        # Decompress ourselves: gzip/bz2/lzma readers raise EOFError on a truncated stream, where
        # tarfile's own stream mode may stop silently and hide that members are missing.
        seekable = depth == 0
        if seekable:
            head = raw.read(6)
            raw.seek(0)
        else:
            raw = io.BufferedReader(raw, 1 << 16)  # type: ignore[type-var]  # any readable binary stream works
            head = raw.peek(6)[:6]
        stream: IO[bytes]
        if head[:2] == b"\x1f\x8b":
            stream = gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[assignment]  # a binary stream
        elif head[:3] == b"BZh":
            stream = bz2.BZ2File(raw, "rb")
        elif head == b"\xfd7zXZ\x00":
            stream = lzma.LZMAFile(raw, "rb")  # noqa: SIM115 - closed in the finally below
        else:
            stream = raw
        try:
            # bounded_tarinfo: pax / GNU long-name headers are size-capped and parsed in linear time
            # (tarfile's own pax parser is quadratic before the CVE-2024-6232 fix)
            tf = tarfile.open(fileobj=stream, mode="r|",  # noqa: SIM115 - closed in finally
                              tarinfo=bounded_tarinfo(self.note, label))
        except (tarfile.TarError, OSError, EOFError, lzma.LZMAError, zlib.error) as e:
            if depth == 0:
                raise SourceUnavailable(f"{label}: not a readable tar archive ({type(e).__name__}: {e})") from None
            self.note("archive damaged", label, f"nested bundle is not a readable tar archive ({type(e).__name__}: {e})")
            return
        count = 0
        last: tarfile.TarInfo | None = None
        try:
            while True:
                try:
                    m = tf.next()
                except (tarfile.TarError, EOFError, OSError, zlib.error, lzma.LZMAError) as e:
                    self.note("archive damaged", label,
                              f"truncated or corrupt after {count} members ({type(e).__name__}: {e}); later members not read")
                    break
                if m is None:
                    if seekable and stream is raw and last is not None and not _has_end_marker(raw, last):
                        self.note("archive damaged", label, f"truncated after member {last.name}: no "
                                  "end-of-archive marker; later members not read")
                    break
                last = m
                count += 1
                name = m.name
                if name.startswith("/") or re.match(r"^[A-Za-z]:", name):
                    self.note("refused", name, "absolute member name")
                    continue
                if ".." in name.split("/"):
                    self.note("refused", name, "member name contains '..'")
                    continue
                base = name.rstrip("/").rsplit("/", 1)[-1]
                if m.isreg() and _NESTED_BUNDLE.match(base):
                    # A cluster bundle holds one collector bundle per node; a responder's tarball may
                    # hold the bundle as a file. Read it in place (streamed, never extracted).
                    if depth < self.nested_depth:
                        self.saw_bundle(re.sub(r"\.(tar\.gz|tgz|tar)$", "", base, flags=re.IGNORECASE))
                        self.note("nested bundle", name, "collector bundle inside the archive: read as part of this "
                                  "appliance's artefacts")
                        inner = tf.extractfile(m)
                        if inner is not None:
                            yield from self._walk(inner, f"{label}:{name}", depth + 1)
                        continue
                    self.note("not read", name, "collector bundle nested too deep: run triage on it separately")
                ipath = self._map(name)
                if ipath is None:
                    continue
                common: dict[str, Any] = {
                    "size": m.size, "mode": m.mode & 0o7777, "uid": m.uid, "gid": m.gid,
                    "mtime": float(m.mtime), "origin": name,
                }
                if m.isreg() and is_loose(ipath):
                    self.loose_files += 1
                if m.issym() or m.islnk():
                    target = m.linkname
                    base_dir = os.path.dirname(ipath) if m.issym() else "/"
                    resolved = os.path.normpath(os.path.join(base_dir, target)) if not target.startswith("/") else target
                    if m.islnk() and (target.startswith("/") or ".." in target.split("/")):
                        self.note("refused", ipath, f"hard link pointing outside the archive ({target})")
                    elif m.issym() and ".." in target.split("/") and not _inside(resolved):
                        self.note("link not followed", ipath, f"symbolic link points outside the tree ({target})")
                    yield Entry(ipath, "symlink", link=target, **common), None
                elif m.isdir():
                    yield Entry(ipath, "dir", **common), None
                elif m.isreg():
                    if m.size > self.max_member_bytes:
                        self.note("capped", ipath, f"member of {m.size} bytes exceeds the {self.max_member_bytes}-byte cap; "
                                  "content not read")
                        yield Entry(ipath, "file", **common), None
                        continue
                    member = m
                    yield Entry(ipath, "file", **common), functools.partial(_extract, tf, member)
                else:
                    self.note("refused", ipath, "device file or FIFO: not read")
                    yield Entry(ipath, "other", **common), None
        finally:
            tf.close()
            if stream is not raw:
                stream.close()

    def close(self) -> None:
        pass


def bundle_time_from_name(name: str) -> dt.datetime | None:
    """``collector_P_10.0.0.1_23Nov2026_09_00.tar.gz`` -> 2026-11-23T09:00Z (the collector's clock)."""
    m = _BUNDLE_RE.search(name)
    if not m:
        return None
    day, mon, year, hh, mm = m.groups()
    month = _MONTHS.get(mon.lower())
    if not month:
        return None
    try:
        return dt.datetime(int(year), month, int(day), int(hh), int(mm), tzinfo=dt.UTC)
    except ValueError:
        return None


# Directories that, found below unknown wrapper directories (``case42/ns1/var/log/...``), mark
# where the appliance's root is. Only these: "tmp" or "home" are too common in responders' paths.
_ANCHORS = frozenset({"var", "flash", "nsconfig", "netscaler", "etc"})
_NESTED_BUNDLE = re.compile(r"^collector_.*\.(tar\.gz|tgz|tar)$", re.IGNORECASE)
LOOSE_NOTE = ("not under an appliance directory: only checks that go by file name (logs, ns.conf) "
              "could run on them")


def map_parts(parts: list[str]) -> tuple[str | None, str | None]:
    """Member or file path components -> (path inside the appliance, collector directory name).

    Real inputs wrap the appliance tree in all sorts of directories: the collector's own
    ``collector_P_<ip>_<date>/`` (whatever the archive is called), ``./``, a responder's
    ``case/node1/`` around a copy of ``var/`` and ``flash/``. The appliance root is the first
    collector directory or the first well-known top directory; ``shell/`` beside it holds the
    collector's command outputs (mapped under ``/.collector/shell``). Anything else keeps its
    relative path ("loose": log checks still select it by name)."""
    if not parts:
        return None, None
    if parts[0] in APPLIANCE_TOP:
        return "/" + "/".join(parts), None
    if parts[0] == "shell" and len(parts) > 1:
        return "/.collector/" + "/".join(parts), None
    for i, p in enumerate(parts[:-1]):
        if p.startswith("collector_") and not _NESTED_BUNDLE.match(p):
            rest = parts[i + 1:]
            if rest[0] == "shell":
                return "/.collector/" + "/".join(rest), p
            return "/" + "/".join(rest), p
    if len(parts) == 1 and parts[0].startswith("collector_") and not _NESTED_BUNDLE.match(parts[0]):
        return None, parts[0]  # the collector's top directory itself
    for i, p in enumerate(parts[1:], 1):
        if p in _ANCHORS:
            return "/" + "/".join(parts[i:]), None
    return "/" + "/".join(parts), None


def is_loose(path: str) -> bool:
    """A path that could not be placed in the appliance's tree (see ``map_parts``)."""
    first = path.lstrip("/").split("/", 1)[0]
    return bool(first) and first not in APPLIANCE_TOP and first != ".collector"


# -- directory trees -------------------------------------------------------------------------


@dataclass
class DirSource(Source):
    root: Path = Path(".")
    prefix: str = ""  # "/var" when the directory is a copy of /var itself

    def _ipath(self, rel: tuple[str, ...]) -> str | None:
        if self.prefix:
            return self.prefix + "/" + "/".join(rel)
        ipath, bundle_dir = map_parts(list(rel))
        if bundle_dir is not None or (ipath or "").startswith("/.collector/"):
            self.saw_bundle(bundle_dir)
        return ipath

    def _iter(self) -> Iterator[tuple[Entry, Opener | None]]:
        stack: list[tuple[Path, tuple[str, ...]]] = [(self.root, ())]
        root_real = os.path.realpath(self.root)
        while stack:
            d, rel_dir = stack.pop()
            try:
                with os.scandir(d) as it:
                    items = sorted(it, key=lambda e: e.name, reverse=True)
            except OSError as e:
                self.note("unreadable directory", "/" + "/".join(rel_dir), e.strerror or str(e))
                continue
            for de in items:
                rel = (*rel_dir, de.name)
                ipath = self._ipath(rel)
                try:
                    st = de.stat(follow_symlinks=False)
                except OSError as e:
                    self.note("unreadable entry", ipath or de.path, e.strerror or str(e))
                    continue
                if stat.S_ISDIR(st.st_mode):
                    stack.append((Path(de.path), rel))
                if ipath is None:
                    continue
                if stat.S_ISREG(st.st_mode) and is_loose(ipath) and not self.prefix:
                    self.loose_files += 1
                birth = getattr(st, "st_birthtime", None)
                common: dict[str, Any] = {
                    "size": st.st_size, "mode": stat.S_IMODE(st.st_mode), "uid": st.st_uid, "gid": st.st_gid,
                    "mtime": st.st_mtime, "birthtime": birth, "origin": de.path,
                }
                if stat.S_ISLNK(st.st_mode):
                    try:
                        target = os.readlink(de.path)
                    except OSError:
                        target = ""
                    resolved = os.path.realpath(de.path)
                    if not (resolved == root_real or resolved.startswith(root_real + os.sep)):
                        self.note("link not followed", ipath, f"points outside the tree ({target})")
                    yield Entry(ipath, "symlink", link=target, **common), None
                elif stat.S_ISDIR(st.st_mode):
                    yield Entry(ipath, "dir", **common), None
                elif stat.S_ISREG(st.st_mode) and _NESTED_BUNDLE.match(de.name):
                    # an evidence folder holding the collector archive as received
                    stem = re.sub(r"\.(tar\.gz|tgz|tar)$", "", de.name, flags=re.IGNORECASE)
                    if os.path.isdir(os.path.join(d, stem)):
                        self.note("not read", ipath, f"the unpacked copy {stem}/ beside it was read instead")
                        continue
                    self.saw_bundle(stem)
                    self.note("nested bundle", ipath, "collector bundle inside the directory: read in place")
                    with open(de.path, "rb") as fh:
                        yield from self._walk(fh, de.path, 1)
                elif stat.S_ISREG(st.st_mode):
                    yield Entry(ipath, "file", **common), _file_opener(de.path)
                else:
                    self.note("refused", ipath, "device, socket or FIFO: not read")
                    yield Entry(ipath, "other", **common), None


def _file_opener(real: str) -> Opener:
    def _open() -> IO[bytes]:
        flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
        fd = os.open(real, flags)
        return os.fdopen(fd, "rb", buffering=0)

    return _open


# -- tar archives (also collector bundles) ---------------------------------------------------


@dataclass
class TarSource(Source):
    archive: Path = Path(".")

    def _iter(self) -> Iterator[tuple[Entry, Opener | None]]:
        raw = self.archive.open("rb")
        try:
            yield from self._walk(raw, str(self.archive), 0)
        finally:
            raw.close()

def _is_tarfile(p: Path) -> bool:
    """``tarfile.is_tarfile`` with bounded extension headers (it parses the first member)."""
    try:
        with tarfile.open(p, tarinfo=bounded_tarinfo(lambda *_a: None, str(p))):
            return True
    except tarfile.TarError:
        return False


def _has_end_marker(raw: IO[bytes], last: tarfile.TarInfo) -> bool:
    """An intact tar ends with zero blocks after the last member's (512-padded) data."""
    end = last.offset_data + ((last.size + 511) // 512) * 512
    try:
        raw.seek(end)
        tail = raw.read(512)
    except OSError:
        return True  # not seekable: cannot tell, do not claim damage
    return len(tail) == 512 and not tail.strip(b"\0")


def _inside(resolved: str) -> bool:
    return not resolved.startswith("..") and not resolved.startswith("/..")


def _extract(tf: tarfile.TarFile, member: tarfile.TarInfo) -> IO[bytes]:
    f = tf.extractfile(member)
    if f is None:  # pragma: no cover - regular members always have a file object
        raise OSError("member has no content")
    return f


# -- zip archives (responders re-pack bundles on Windows) -------------------------------------


@dataclass
class ZipSource(Source):
    archive: Path = Path(".")

    def _iter(self) -> Iterator[tuple[Entry, Opener | None]]:
        try:
            zf = zipfile.ZipFile(self.archive)
        except (zipfile.BadZipFile, OSError) as e:
            raise SourceUnavailable(f"{self.archive}: not a readable zip archive ({e})") from None
        with zf:
            for info in zf.infolist():
                name = info.filename.replace("\\", "/")
                if name.startswith("/") or re.match(r"^[A-Za-z]:", name):
                    self.note("refused", name, "absolute member name")
                    continue
                if ".." in name.split("/"):
                    self.note("refused", name, "member name contains '..'")
                    continue
                base = name.rstrip("/").rsplit("/", 1)[-1]
                if not info.is_dir() and _NESTED_BUNDLE.match(base):
                    stem = re.sub(r"\.(tar\.gz|tgz|tar)$", "", base, flags=re.IGNORECASE)
                    self.saw_bundle(stem)
                    self.note("nested bundle", name, "collector bundle inside the zip: read in place")
                    try:
                        with zf.open(info) as inner:
                            yield from self._walk(inner, f"{self.archive}:{name}", 1)
                    except (zipfile.BadZipFile, OSError, EOFError, zlib.error) as e:
                        self.note("archive damaged", name, f"{type(e).__name__}: {e}")
                    continue
                ipath = self._map(name)
                if ipath is None:
                    continue
                unix = info.external_attr >> 16
                try:
                    mtime = dt.datetime(*info.date_time, tzinfo=dt.UTC).timestamp()
                except ValueError:
                    mtime = None
                common: dict[str, Any] = {
                    # zip keeps Unix modes only when made on Unix; owners never
                    "size": info.file_size, "mode": stat.S_IMODE(unix) if unix else None, "uid": None, "gid": None,
                    "mtime": mtime, "origin": name,
                }
                if info.is_dir():
                    yield Entry(ipath, "dir", **common), None
                elif unix and stat.S_ISLNK(unix):
                    self.note("link not followed", ipath, "symbolic link stored in the zip")
                    yield Entry(ipath, "symlink", **common), None
                else:
                    if is_loose(ipath):
                        self.loose_files += 1
                    if info.file_size > self.max_member_bytes:
                        self.note("capped", ipath, f"member of {info.file_size} bytes exceeds the "
                                  f"{self.max_member_bytes}-byte cap; content not read")
                        yield Entry(ipath, "file", **common), None
                        continue
                    yield Entry(ipath, "file", **common), functools.partial(zf.open, info)


# -- disk images through dissect.target (optional extra) ------------------------------------


@dataclass
class ImageSource(Source):
    image: Path = Path(".")

    def _iter(self) -> Iterator[tuple[Entry, Opener | None]]:
        try:
            from dissect.target import Target
        except ImportError:
            raise SourceUnavailable(
                f"{self.image}: disk images need the optional 'image' extra (pip install 'nscheck[image]', "
                "which installs dissect.target); not installed, so the image was not examined"
            ) from None
        try:
            t = Target.open(str(self.image))
        except Exception as e:  # dissect raises many types for unreadable images
            raise SourceUnavailable(f"{self.image}: dissect.target could not open the image ({e})") from None
        root = t.fs.path("/")
        stack = [root]
        while stack:
            d = stack.pop()
            try:
                children = sorted(d.iterdir(), key=lambda p: str(p), reverse=True)
            except Exception as e:
                self.note("unreadable directory", str(d), str(e))
                continue
            for p in children:
                ipath = "/" + str(p).lstrip("/")
                try:
                    st = p.lstat()
                except Exception as e:
                    self.note("unreadable entry", ipath, str(e))
                    continue
                common: dict[str, Any] = {
                    "size": st.st_size, "mode": stat.S_IMODE(st.st_mode), "uid": st.st_uid, "gid": st.st_gid,
                    "mtime": float(st.st_mtime), "ctime": float(st.st_ctime),
                    "birthtime": getattr(st, "st_birthtime", None), "origin": ipath,
                }
                if stat.S_ISLNK(st.st_mode):
                    yield Entry(ipath, "symlink", **common), None
                elif stat.S_ISDIR(st.st_mode):
                    yield Entry(ipath, "dir", **common), None
                    stack.append(p)
                elif stat.S_ISREG(st.st_mode):
                    yield Entry(ipath, "file", **common), functools.partial(p.open, "rb")
                else:
                    yield Entry(ipath, "other", **common), None


# -- choosing a source -----------------------------------------------------------------------

_IMAGE_SUFFIXES = (".img", ".dd", ".raw", ".vmdk", ".vhd", ".vhdx", ".qcow2", ".e01", ".ova", ".ovf", ".bin")


def _dir_layout(root: Path) -> tuple[Path, str, bool]:
    """(root to walk, path prefix inside the appliance, is a collector bundle)."""
    names = {p.name for p in root.iterdir()} if root.is_dir() else set()
    if names & {"var", "nsconfig", "flash"}:
        return root, "", "shell" in names and "nsconfig" in names
    if root.name in APPLIANCE_TOP - {"v", ".x", "lula"}:
        return root, "/" + root.name, False  # a copy of /var (or /nsconfig ...) itself
    if names & (APPLIANCE_TOP - {"v", ".x", "lula"}):
        return root, "", False
    everything = list(root.iterdir())
    subdirs = [p for p in everything if p.is_dir() and not p.is_symlink()]
    # Descend into a lone wrapper directory only when nothing else is beside it: siblings (the
    # archive the copy came from, a second node, loose logs) are walked too, never dropped.
    if len(subdirs) == 1 and len(everything) == 1:
        inner = {p.name for p in subdirs[0].iterdir()}
        if inner & APPLIANCE_TOP or "shell" in inner:
            return subdirs[0], "", "shell" in inner or subdirs[0].name.startswith("collector_")
    if root.name in APPLIANCE_TOP:
        return root, "/" + root.name, False
    return root, "", False


def open_source(path: str, *, max_member_bytes: int = 2 * 1024**3) -> Source:
    """Pick the right source for ``path``; raises SourceUnavailable with a clear reason."""
    p = Path(path)
    if not p.exists():
        raise SourceUnavailable(f"{path}: no such file or directory")
    if p.is_dir():
        root, prefix, bundle = _dir_layout(p)
        src = DirSource(label=path, kind="support_bundle" if bundle else "directory", root=root, prefix=prefix,
                        bundle=bundle, has_birthtime=hasattr(os.stat_result, "st_birthtime"),
                        max_member_bytes=max_member_bytes)
        src.bundle_time = bundle_time_from_name(root.name) or bundle_time_from_name(p.name)
        if root.name.startswith("collector_"):
            src.bundle_dirs.append(root.name)
        return src
    if p.suffix.lower() in _IMAGE_SUFFIXES:
        return ImageSource(label=path, kind="image", image=p, has_ctime=True, has_birthtime=True)
    try:
        is_zip = zipfile.is_zipfile(p)
    except OSError:
        is_zip = False
    if is_zip:
        return ZipSource(label=path, kind="zip", archive=p, has_owner=False, has_ctime=False, has_birthtime=False,
                         max_member_bytes=max_member_bytes)
    if p.name.lower().endswith((".7z", ".rar")):
        raise SourceUnavailable(f"{path}: 7z/rar archives are not read; unpack it and give the directory, or re-pack "
                                "it as tar.gz or zip")
    try:
        is_tar = _is_tarfile(p)
    except OSError as e:
        raise SourceUnavailable(f"{path}: cannot read ({e.strerror or e})") from None
    except Exception:
        is_tar = False
    if not is_tar:
        with p.open("rb") as f:
            head = f.read(4)
        if head[:2] == b"\x1f\x8b":
            is_tar = True  # a (possibly truncated) tar.gz: the stream reader reports damage per member
    if is_tar or p.name.endswith((".tar", ".tgz", ".tar.gz", ".tar.bz2", ".tar.xz")):
        bt = bundle_time_from_name(p.name)
        return TarSource(label=path, kind="support_bundle" if p.name.startswith("collector_") else "tar", archive=p,
                         has_ctime=False, has_birthtime=False, bundle=p.name.startswith("collector_"), bundle_time=bt,
                         max_member_bytes=max_member_bytes)
    if p.suffix.lower() in _IMAGE_SUFFIXES or p.stat().st_size >= 1024**2:
        return ImageSource(label=path, kind="image", image=p, has_ctime=True, has_birthtime=True)
    raise SourceUnavailable(f"{path}: not a directory, tar archive or disk image")
