"""Archive safety and source layouts: nothing is extracted, nothing outside the input is read."""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

import pytest
import triage_fixtures as tf

from nscheck.model import HostStatus
from nscheck.paths import signatures_dir
from nscheck.signatures.triage import load
from nscheck.triage.context import TriageOptions
from nscheck.triage.runner import triage_path
from nscheck.triage.sources import Entry, bundle_time_from_name, open_source

OPTS = TriageOptions(collected_at=tf.COLLECTED)


@pytest.fixture(scope="module")
def rules():
    return load(signatures_dir(None))


def _member(name: str, data: bytes | None = None, **kw: object) -> tuple[tarfile.TarInfo, bytes | None]:
    ti = tarfile.TarInfo(name)
    for k, v in kw.items():
        setattr(ti, k, v)
    if data is not None:
        ti.size = len(data)
    return ti, data


def _entries(path: Path, **kw: object) -> tuple[list[Entry], list[dict[str, str]]]:
    src = open_source(str(path), **kw)  # type: ignore[arg-type]
    out = [e for e, _o in src.entries()]
    return out, src.notes


def test_tar_slip_and_absolute_names_are_refused(rules, tmp_path):
    evil = tf.WEBSHELL.encode()
    archive = tf.write_tar(tf.clean_tree(), tmp_path / "slip.tar.gz", extra_members=[
        _member("../../var/netscaler/logon/LogonPoint/x.php", evil),
        _member("/var/netscaler/logon/LogonPoint/y.php", evil),
        _member("var/../../../z.php", evil),
    ])
    before = set(os.listdir(tmp_path.parent))
    entries, notes = _entries(archive)
    assert not [e for e in entries if e.path.rsplit("/", 1)[-1] in ("x.php", "y.php", "z.php")]
    reasons = {n["path"]: n["reason"] for n in notes}
    assert "absolute member name" in reasons["/var/netscaler/logon/LogonPoint/y.php"]
    assert "'..'" in reasons["../../var/netscaler/logon/LogonPoint/x.php"]
    assert set(os.listdir(tmp_path.parent)) == before  # nothing written next to the input
    r = triage_path(str(archive), OPTS, rules)
    assert r.indicators == ()
    assert r.coverage.refused_count == 3


def test_symlink_out_is_not_followed_in_tar_and_directory(rules, tmp_path):
    outside = tmp_path / "outside.php"
    outside.write_text(tf.WEBSHELL)
    link = "../../../../../../" + str(outside).lstrip("/")
    archive = tf.write_tar(tf.clean_tree(), tmp_path / "ln.tar.gz", extra_members=[
        _member("var/netscaler/logon/LogonPoint/ln.js", type=tarfile.SYMTYPE, linkname=link),
        _member("var/netscaler/logon/LogonPoint/hard.js", type=tarfile.LNKTYPE, linkname="/etc/master.passwd"),
    ])
    r = triage_path(str(archive), OPTS, rules)
    assert not [i for i in r.indicators if i.check != "known_bad_files"], r.indicators
    reasons = " ".join(n["reason"] for n in r.coverage.refused)
    assert "outside" in reasons
    tree = tf.write_dir(tf.clean_tree(), tmp_path / "tree")
    os.symlink(outside, tree / "var/netscaler/logon/LogonPoint/ln.php")
    r = triage_path(str(tree), OPTS, rules)
    assert r.indicators == ()  # the link target's webshell is outside the tree and never read
    assert any("outside" in n["reason"] for n in r.coverage.refused)


def test_device_files_refused(rules, tmp_path):
    archive = tf.write_tar(tf.clean_tree(), tmp_path / "dev.tar", compress=False, extra_members=[
        _member("var/tmp/kmem", type=tarfile.CHRTYPE, devmajor=2, devminor=1),
        _member("var/tmp/fifo", type=tarfile.FIFOTYPE),
    ])
    entries, notes = _entries(archive)
    assert {n["path"] for n in notes if n["what"] == "refused"} >= {"/var/tmp/kmem", "/var/tmp/fifo"}
    assert [e.kind for e in entries if e.path == "/var/tmp/kmem"] == ["other"]


def test_huge_member_is_capped_with_a_note(rules, tmp_path):
    big = b"A" * 200_000
    archive = tf.write_tar(tf.clean_tree(), tmp_path / "big.tar.gz",
                           extra_members=[_member("var/tmp/big.bin", big)])
    opts = TriageOptions(collected_at=tf.COLLECTED, max_member_bytes=100_000)
    r = triage_path(str(archive), opts, rules)
    assert any(n["what"] == "capped" and n["path"] == "/var/tmp/big.bin" for n in r.coverage.refused)
    assert any(u["path"] == "/var/tmp/big.bin" for u in r.coverage.unreadable)


def test_truncated_gzip_is_reported_not_fatal(rules, tmp_path):
    specs = tf.compromised_tree()
    archive = tf.write_tar(specs, tmp_path / "full.tar.gz")
    data = archive.read_bytes()
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(data[: len(data) // 2])
    r = triage_path(str(cut), OPTS, rules)
    assert r.status is HostStatus.OK
    damaged = [n for n in r.coverage.refused if n["what"] == "archive damaged"]
    assert damaged and "later members not read" in damaged[0]["reason"]
    assert r.coverage.source["entries"] > 0


def test_truncated_plain_tar_is_not_fatal(rules, tmp_path):
    archive = tf.write_tar(tf.compromised_tree(), tmp_path / "full.tar", compress=False)
    data = archive.read_bytes()
    cut = tmp_path / "cut.tar"
    cut.write_bytes(data[: len(data) // 2 + 100])
    r = triage_path(str(cut), OPTS, rules)
    assert r.coverage.source["entries"] > 0
    assert r.coverage.refused or r.coverage.unreadable


def test_not_a_tar_gz_at_all(rules, tmp_path):
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(b"\x1f\x8b\x08\x00garbage")
    r = triage_path(str(junk), OPTS, rules)
    assert r.indicators == ()
    assert r.status in (HostStatus.OK, HostStatus.ERROR)
    assert r.coverage.refused or r.error


def test_support_bundle_layout_and_collection_time(rules, tmp_path):
    name = "collector_P_10.0.0.10_20Nov2026_11_30"
    bundle_specs = [s for s in tf.compromised_tree() if s.path.startswith(("/nsconfig/", "/var/log/"))]
    bundle_specs.append(tf.f("/shell/ps.out", "USER PID COMMAND\nroot 1 /sbin/init\n"))
    archive = tf.write_tar(bundle_specs, tmp_path / f"{name}.tar.gz", top=name)
    r = triage_path(str(archive), TriageOptions(), rules)
    assert r.coverage.source["type"] == "support_bundle"
    assert r.coverage.collected_at == "2026-11-20T11:30:00Z"
    assert r.coverage.collected_at_source == "bundle name"
    paths = {i.path for i in r.indicators}
    assert "/nsconfig/ns.conf" in paths and "/var/log/ns.log.1" in paths
    assert "NS-LOG-aaa-nonascii" in {i.id for i in r.indicators}
    missing = {m["area"] for m in r.coverage.missing}
    assert {"/var/netscaler/logon", "/var/vpn", "/var/tmp", "/netscaler/ns_gui"} <= missing
    assert any("collect the missing areas" in s for s in r.coverage.next_steps)
    assert r.coverage.families["timestomp"]["status"] == "not checked"
    assert "tar keeps mode" in " ".join(r.coverage.metadata["notes"])
    assert bundle_time_from_name("collector_10.1.1.1_3Jan2026_07_05.tar.gz").isoformat() == "2026-01-03T07:05:00+00:00"


def test_directory_copy_of_var_only(rules, tmp_path):
    tf.write_dir([s for s in tf.compromised_tree() if s.path.startswith("/var/")], tmp_path / "tree")
    r = triage_path(str(tmp_path / "tree" / "var"), OPTS, rules)
    assert "/var/netscaler/logon/LogonPoint/uiareas/linux/adminupevents.php" in {i.path for i in r.indicators}
    assert "/nsconfig" in {m["area"] for m in r.coverage.missing}


def test_disk_image_without_extra_says_so(rules, tmp_path):
    img = tmp_path / "da0.img"
    img.write_bytes(b"\x00" * 4096)
    r = triage_path(str(img), OPTS, rules)
    try:
        import dissect.target  # noqa: F401
    except ImportError:  # the message users see when the extra is absent
        assert r.status is HostStatus.ERROR
        assert "nscheck[image]" in (r.error or "")
        assert r.indicators == ()
        assert any("nscheck[image]" in s.reason for s in r.skipped)
    else:  # pragma: no cover - dissect installed: a zero image is simply unreadable
        assert r.status is HostStatus.ERROR


def test_missing_path_is_an_error_result(rules, tmp_path):
    r = triage_path(str(tmp_path / "nope"), OPTS, rules)
    assert r.status is HostStatus.ERROR and "no such file" in (r.error or "")
    assert r.verdict.value == "unknown"


def test_members_are_streamed_not_extracted(rules, tmp_path, monkeypatch):
    archive = tf.write_tar(tf.clean_tree(), tmp_path / "s.tar.gz")
    called = []
    monkeypatch.setattr(tarfile.TarFile, "extractall", lambda *a, **k: called.append(1))
    monkeypatch.setattr(tarfile.TarFile, "extract", lambda *a, **k: called.append(1))
    triage_path(str(archive), OPTS, rules)
    assert not called


def test_stat_listing_rows_feed_metadata_checks(rules, tmp_path):
    rows = io.StringIO()
    rows.write(tf._listing_row("/var/tmp/sh", 9000, 0o104755, tf.OLD, tf.RECENT, tf.RECENT))
    specs = tf.merged(tf.clean_tree(), [tf.f("/var/tmp/support/timeline.csv", rows.getvalue())])
    r = triage_path(str(tf.write_tar(specs, tmp_path / "l.tar.gz")), OPTS, rules)
    ids = {i.id for i in r.indicators}
    assert {"NL-LIVE-setuid-var-tmp-sh", "NL-LIVE-root-suid-var", "NL-IMG-timestomp"} <= ids
    assert all("[from the stat listing]" in i.evidence for i in r.indicators if i.path == "/var/tmp/sh")


def test_unpacked_support_bundle_directory(rules, tmp_path):
    name = "collector_P_10.0.0.10_20Nov2026_11_30"
    specs = [s for s in tf.clean_tree() if s.path.startswith(("/nsconfig/", "/var/log/"))]
    specs.append(tf.f("/shell/uptime.out", "up 3 days\n"))
    tf.write_dir(specs, tmp_path / "unpacked" / name)
    r = triage_path(str(tmp_path / "unpacked"), TriageOptions(), rules)
    assert r.coverage.source["type"] == "support_bundle"
    assert r.coverage.collected_at == "2026-11-20T11:30:00Z"
    assert r.indicators == ()
    assert r.build is not None and r.build.candidates == ("14.1-47.46",)
    entries, _notes = _entries(tmp_path / "unpacked")
    assert "/.collector/shell/uptime.out" in {e.path for e in entries}


def test_disk_image_adapter_with_a_stand_in_dissect(rules, tmp_path, monkeypatch):
    """The dissect.target adapter maps the image's file system like any other source (a stand-in
    module replaces dissect.target, which is an optional extra not installed in tests)."""
    import sys
    import types

    root = tf.write_dir(tf.compromised_tree(), tmp_path / "fs")

    class FakePath:
        def __init__(self, rel: str):
            self.rel = rel

        def __str__(self) -> str:
            return self.rel or "/"

        def _real(self) -> Path:
            return root / self.rel.lstrip("/")

        def iterdir(self):
            return [FakePath(f"{self.rel.rstrip('/')}/{p.name}") for p in self._real().iterdir()]

        def lstat(self):
            return self._real().lstat()

        def open(self, mode: str = "rb"):
            return self._real().open(mode)

    class FakeTarget:
        class fs:  # mimics dissect's attribute name
            @staticmethod
            def path(p: str) -> FakePath:
                return FakePath("" if p == "/" else p)

        @classmethod
        def open(cls, _path: str) -> FakeTarget:
            return cls()

    mod = types.ModuleType("dissect.target")
    mod.Target = FakeTarget  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "dissect", types.ModuleType("dissect"))
    monkeypatch.setitem(sys.modules, "dissect.target", mod)
    img = tmp_path / "da0.img"
    img.write_bytes(b"\x00" * 1024)
    r = triage_path(str(img), OPTS, rules)
    assert r.coverage.source["type"] == "image"
    ids = {i.id for i in r.indicators}
    assert {"NL-IMG-webshell-strings", "NL-IMG-portal-exfil", "NS-LOG-aaa-nonascii"} <= ids
