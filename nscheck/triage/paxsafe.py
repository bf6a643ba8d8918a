"""Bounded, linear-time reading of tar extension headers (pax ``x``/``g`` records, GNU long names).

``tarfile`` before CVE-2024-6232 was fixed (Python < 3.11.10 / 3.12.6) parses pax records with
regular expressions that backtrack quadratically: an 8 KiB record of digits costs seconds, 32 KiB
half a minute. Fixed versions are linear but still read any size into memory. ``bounded_tarinfo``
returns a ``TarInfo`` subclass (``tarfile.open(..., tarinfo=...)``) that, on every Python:

* refuses extension headers over ``MAX_EXT_HEADER`` bytes before anything parses them: their data
  is skipped in chunks, the member keeps its plain ustar header, and ``note`` says so;
* parses the others with a scanner that looks at each byte once (records, ``hdrcharset``, GNU
  sparse 0.0/0.1/1.0 maps, bounded in entries).
"""

from __future__ import annotations

import tarfile
from collections.abc import Callable
from typing import Any

__all__ = ["MAX_EXT_HEADER", "bounded_tarinfo"]

MAX_EXT_HEADER = 64 * 1024  # real pax headers (path, linkpath, times, owner names) are < 4 KiB
MAX_SPARSE_ENTRIES = 1 << 16  # regions in one sparse member's map
_CHUNK = 1 << 16

Note = Callable[[str, str, str], None]


def _skip(fileobj: Any, n: int) -> None:
    while n > 0:
        got = fileobj.read(min(n, _CHUNK))
        if not got:
            raise tarfile.ReadError("unexpected end of data inside an extension header")
        n -= len(got)


def pax_records(buf: bytes) -> list[tuple[bytes, bytes]]:
    """``"%d %s=%s\\n"`` records in order, parsed in one pass; stops at the first malformed one
    (as tarfile does), raises on a zero length (as tarfile does)."""
    out: list[tuple[bytes, bytes]] = []
    pos, n = 0, len(buf)
    while pos < n:
        sp = buf.find(b" ", pos, min(n, pos + 21))  # a length has at most 20 digits
        if sp <= pos or not buf[pos:sp].isdigit():
            break
        length = int(buf[pos:sp])
        if length == 0:
            raise tarfile.InvalidHeaderError("invalid header")  # type: ignore[attr-defined]  # real, not in typeshed
        end = pos + length
        if end > n or end <= sp + 1:
            break
        rec = buf[sp + 1:end - 1]  # without the trailing newline
        eq = rec.find(b"=")
        if eq <= 0:
            break
        out.append((rec[:eq], rec[eq + 1:]))
        pos = end
    return out


def bounded_tarinfo(note: Note, label: str) -> type[tarfile.TarInfo]:
    """A ``TarInfo`` class for ``tarfile.open(tarinfo=...)`` that reports refusals through
    ``note(what, path, reason)``."""

    class BoundedTarInfo(tarfile.TarInfo):
        def _proc_gnulong(self, tf: Any) -> tarfile.TarInfo:
            if self.size <= MAX_EXT_HEADER:
                return super()._proc_gnulong(tf)  # type: ignore[misc]  # private in typeshed
            _skip(tf.fileobj, self._block(self.size))  # type: ignore[attr-defined]
            nxt = self.fromtarfile(tf)
            note("capped", f"{label}: {nxt.name}", f"GNU long-name header of {self.size} bytes exceeds the "
                 f"{MAX_EXT_HEADER}-byte limit: not read, the member keeps its short ustar name")
            return nxt

        def _proc_pax(self, tf: Any) -> tarfile.TarInfo:
            size = self._block(self.size)  # type: ignore[attr-defined]
            if self.size > MAX_EXT_HEADER:
                _skip(tf.fileobj, size)
                nxt = self.fromtarfile(tf)
                note("capped", f"{label}: {nxt.name}", f"pax extended header of {self.size} bytes exceeds the "
                     f"{MAX_EXT_HEADER}-byte limit: not parsed (path, times and owner from it are not applied)")
                return nxt
            buf = tf.fileobj.read(size)
            records = pax_records(buf[: self.size])
            glob = self.type == tarfile.XGLTYPE
            pax_headers: dict[str, str] = tf.pax_headers if glob else tf.pax_headers.copy()
            for k, v in records:
                if k == b"hdrcharset":
                    pax_headers["hdrcharset"] = v.decode("utf-8", "surrogateescape")
            encoding = tf.encoding if pax_headers.get("hdrcharset") == "BINARY" else "utf-8"
            offsets: list[int] = []
            numbytes: list[int] = []
            for k, v in records:
                keyword = self._decode_pax_field(k, "utf-8", "utf-8", tf.errors)  # type: ignore[attr-defined]
                if keyword in tarfile.PAX_NAME_FIELDS:
                    value = self._decode_pax_field(v, encoding, tf.encoding, tf.errors)  # type: ignore[attr-defined]
                else:
                    value = self._decode_pax_field(v, "utf-8", "utf-8", tf.errors)  # type: ignore[attr-defined]
                if keyword == "GNU.sparse.offset" and v.isdigit() and len(offsets) < MAX_SPARSE_ENTRIES:
                    offsets.append(int(v))
                elif keyword == "GNU.sparse.numbytes" and v.isdigit() and len(numbytes) < MAX_SPARSE_ENTRIES:
                    numbytes.append(int(v))
                pax_headers[keyword] = value
            try:
                nxt = self.fromtarfile(tf)
            except tarfile.HeaderError as e:
                raise tarfile.SubsequentHeaderError(str(e)) from None  # type: ignore[attr-defined]  # real, not in typeshed
            if "GNU.sparse.map" in pax_headers:
                parts = pax_headers["GNU.sparse.map"].split(",", 2 * MAX_SPARSE_ENTRIES)[: 2 * MAX_SPARSE_ENTRIES]
                nums = [int(x) for x in parts if x.isdigit()]
                nxt.sparse = list(zip(nums[::2], nums[1::2], strict=False))  # type: ignore[assignment]  # typeshed: bytes
            elif "GNU.sparse.size" in pax_headers:
                nxt.sparse = list(zip(offsets, numbytes, strict=False))  # type: ignore[assignment]  # typeshed: bytes
            elif pax_headers.get("GNU.sparse.major") == "1" and pax_headers.get("GNU.sparse.minor") == "0":
                _sparse_10(nxt, tf)
            if self.type in (tarfile.XHDTYPE, tarfile.SOLARIS_XHDTYPE):
                nxt._apply_pax_info(pax_headers, tf.encoding, tf.errors)  # type: ignore[attr-defined]
                nxt.offset = self.offset
                if "size" in pax_headers:
                    # the header replaced the size: the next header starts after this member's data
                    offset = nxt.offset_data
                    if nxt.isreg() or nxt.type not in tarfile.SUPPORTED_TYPES:
                        offset += nxt._block(nxt.size)  # type: ignore[attr-defined]
                    tf.offset = offset
            return nxt

    return BoundedTarInfo


def _sparse_10(nxt: tarfile.TarInfo, tf: Any) -> None:
    """GNU sparse 1.0: a count, then offset/size numbers, one per line, before the data. Read
    block by block; each byte is looked at once; at most MAX_SPARSE_ENTRIES regions."""
    nums: list[int] = []
    want: int | None = None
    cur = b""
    while want is None or len(nums) < 2 * want:
        block = tf.fileobj.read(tarfile.BLOCKSIZE)
        if not block:
            raise tarfile.ReadError("unexpected end of data in a sparse map")
        start = 0
        while True:
            nl = block.find(b"\n", start)
            if nl < 0:
                cur += block[start:]
                if len(cur) > 20:
                    raise tarfile.ReadError("malformed sparse map")
                break
            field = cur + block[start:nl]
            cur, start = b"", nl + 1
            if not field.isdigit():
                raise tarfile.ReadError("malformed sparse map")
            if want is None:
                want = int(field)
                if want > MAX_SPARSE_ENTRIES:
                    raise tarfile.ReadError(f"sparse map of {want} regions exceeds {MAX_SPARSE_ENTRIES}")
            else:
                nums.append(int(field))
            if want is not None and len(nums) >= 2 * want:
                break
    nxt.offset_data = tf.fileobj.tell()
    nxt.sparse = list(zip(nums[::2], nums[1::2], strict=False))  # type: ignore[assignment]  # typeshed: bytes
