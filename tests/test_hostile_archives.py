"""Issue 12 item 13: tar extension headers are bounded and parsed in linear time on every Python.

This machine's 3.11.7 predates the CVE-2024-6232 fix: its tarfile spends ~27 s on one 32 KiB pax
record of digits. The archives here are generated in the test; none is committed."""

from __future__ import annotations

import gzip
import io
import tarfile
from pathlib import Path

import triage_fixtures as tf

from nscheck.paths import signatures_dir
from nscheck.signatures.triage import load
from nscheck.triage.context import TriageOptions
from nscheck.triage.paxsafe import MAX_EXT_HEADER, bounded_tarinfo, pax_records
from nscheck.triage.runner import triage_path
from nscheck.triage.sources import open_source

SHELL = "var/netscaler/logon/LogonPoint/uiareas/linux/adminupevents.php"


def _member(name: str, data: bytes, typ: bytes = tarfile.REGTYPE) -> bytes:
    ti = tarfile.TarInfo(name)
    ti.type, ti.size, ti.mode, ti.mtime = typ, len(data), 0o644, int(tf.RECENT)
    return ti.tobuf(format=tarfile.USTAR_FORMAT) + data + b"\0" * (-len(data) % 512)


def _archive(tmp: Path, members: list[bytes], name: str = "a.tar.gz", gz: bool = True) -> Path:
    raw = b"".join(members) + b"\0" * 1024
    p = tmp / name
    p.write_bytes(gzip.compress(raw) if gz else raw)
    return p


def _base() -> list[bytes]:
    out = []
    for s in tf.clean_tree():
        if s.kind == "file":
            out.append(_member(s.path.lstrip("/"), s.data))
    return out


def _triage(path: Path):  # type: ignore[no-untyped-def]
    return triage_path(str(path), TriageOptions(collected_at=tf.COLLECTED), load(signatures_dir(None)))


def test_oversized_pax_header_is_refused_with_a_note_and_the_webshell_after_it_is_found(tmp_path: Path) -> None:
    digits = b"1" * (4 * MAX_EXT_HEADER)  # quadratic in tarfile's own parser: minutes on 3.11.7
    hostile = _member("PaxHeader/evil", digits, tarfile.XHDTYPE) + _member("var/tmp/after-evil.txt", b"x")
    glob = _member("PaxHeader/global", b"9" * (2 * MAX_EXT_HEADER), tarfile.XGLTYPE)
    p = _archive(tmp_path, [*_base(), glob, hostile, _member(SHELL, tf.WEBSHELL.encode())])
    r = _triage(p)
    assert any(i.path == "/" + SHELL for i in r.indicators), [i.path for i in r.indicators]
    refused = [n for n in r.coverage.refused if "pax extended header" in n["reason"]]
    assert len(refused) == 2 and all("exceeds" in n["reason"] for n in refused)
    assert r.coverage.source["files"] >= 3


def test_pax_header_under_the_limit_is_parsed_linearly_and_applied(tmp_path: Path) -> None:
    # a long digit run inside a valid record: tarfile's hdrcharset search is quadratic on it
    long_dir = "var/tmp/" + "1" * 40_000
    rec_path = f"path={long_dir}/x.txt\n".encode()
    rec_hostile = b"comment=" + b"2" * 20_000 + b"\n"
    body = b""
    for rec in (rec_path, rec_hostile):
        n = len(rec) + 1
        n += len(str(n + len(str(n))))
        body += f"{n} ".encode() + rec
    assert len(body) < MAX_EXT_HEADER
    members = [*_base(), _member("PaxHeader/x", body, tarfile.XHDTYPE), _member("short-name", b"hello"),
               _member(SHELL, tf.WEBSHELL.encode())]
    p = _archive(tmp_path, members)
    r = _triage(p)
    assert any(i.path == "/" + SHELL for i in r.indicators)
    assert not [n for n in r.coverage.refused if "pax" in n["reason"]]
    paths = [e.path for e, _o in open_source(str(p)).entries()]
    assert f"/{long_dir}/x.txt" in paths and "/short-name" not in paths  # the pax path was applied


def test_pax_records_parse_like_tarfile_on_ordinary_archives(tmp_path: Path) -> None:
    p = tmp_path / "ok.tar"
    with tarfile.open(p, "w", format=tarfile.PAX_FORMAT) as t:
        for name, uname in (("var/" + "d" * 150 + "/ünïcode.php", "nsroot"), ("etc/httpd.conf", "ĳ" * 40)):
            ti = tarfile.TarInfo(name)
            ti.size, ti.uname, ti.mtime = 3, uname, 1_700_000_000.5
            ti.pax_headers = {"comment": "x=y=z", "SCHILY.xattr.user.k": "v"}
            t.addfile(ti, io.BytesIO(b"abc"))
    notes: list[tuple[str, str, str]] = []
    with tarfile.open(p, "r|") as a, tarfile.open(p, "r|", tarinfo=bounded_tarinfo(lambda *x: notes.append(x),
                                                                                   "ok.tar")) as b:
        ours = [(m.name, m.uname, m.mtime, m.size, m.pax_headers) for m in b]
        theirs = [(m.name, m.uname, m.mtime, m.size, m.pax_headers) for m in a]
    assert ours == theirs and len(ours) == 2 and not notes
    assert pax_records(b"11 a=b=c\nd\n5 x=\n") == [(b"a", b"b=c\nd"), (b"x", b"")]
    assert pax_records(b"1" * 5000) == [] and pax_records(b"99 a=b\n") == [] and pax_records(b"7 ab\n") == []


def test_first_member_pax_flood_does_not_stall_source_detection(tmp_path: Path) -> None:
    """open_source sniffs the format with tarfile before reading: that sniff is bounded too."""
    p = _archive(tmp_path, [_member("PaxHeader/x", b"3" * (4 * MAX_EXT_HEADER), tarfile.XHDTYPE),
                            _member(SHELL, tf.WEBSHELL.encode())], name="plain.tar", gz=False)
    src = open_source(str(p))
    assert src.kind == "tar"
    r = _triage(p)
    assert any(i.path == "/" + SHELL for i in r.indicators)


def test_oversized_gnu_long_name_is_refused(tmp_path: Path) -> None:
    longname = _member("././@LongLink", b"var/tmp/" + b"n" * (2 * MAX_EXT_HEADER) + b"\0", tarfile.GNUTYPE_LONGNAME)
    p = _archive(tmp_path, [*_base(), longname, _member("var/tmp/short", b"x"), _member(SHELL, tf.WEBSHELL.encode())])
    r = _triage(p)
    assert any(i.path == "/" + SHELL for i in r.indicators)
    assert any("long-name header" in n["reason"] for n in r.coverage.refused)
