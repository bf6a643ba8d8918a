"""Issue 12: a planted archive attacks the analyst's terminal and the triage itself.

Member names and log lines carry ESC sequences (OSC 0 title, CSI 2J, OSC 8 link, OSC 52
clipboard), the one-character CSI U+009B, a bidi override, an embedded newline that forges a
line, rich markup, and bytes that are not UTF-8. Every format must show them as inert data, and
one odd name must never stop the triage (the real webshell beside it is still reported)."""

from __future__ import annotations

import json

import pytest
import triage_fixtures as tf
from typer.testing import CliRunner

from nscheck.cli import app

runner = CliRunner()
WHEN = "2026-11-20T12:00:00Z"
WEBROOT = "/var/netscaler/logon/LogonPoint"
# terminal attacks: window title, clear screen, hyperlink, clipboard write, C1 CSI, bidi override,
# a forged line, and rich markup that must stay literal text
EVIL = ("\x1b]0;PWNED\x07\x1b[2J\x1b]8;;http://203.0.113.66/\x1b\\x\x1b]8;;\x1b\\"
        "\x1b]52;c;aGVsbG8=\x07\x9b2J\u202egnp.\nFORGED LINE: all clean [bold red]markup[/]")
RAW_BAD = ("\x1b", "\x9b", "\u202e", "\x07")


def _hostile_tree() -> list[tf.Spec]:
    specs = tf.clean_tree()
    specs += [
        tf.f(f"{WEBROOT}/uiareas/linux/adminupevents.php", tf.WEBSHELL, mtime=tf.RECENT),  # the real one
        tf.f(f"{WEBROOT}/{EVIL}.php", tf.WEBSHELL, mtime=tf.RECENT),
        # not UTF-8: tarfile writes U+DCFF (surrogateescape) as the raw byte 0xff
        tf.f(f"{WEBROOT}/bad\udcff\udcfename.php", tf.WEBSHELL, mtime=tf.RECENT),
        # an access-log URL percent-decoded into the evidence, plus raw bytes in the log line
        tf.f("/var/log/httpaccess.log",
             '203.0.113.9 - - [19/Nov/2026:01:30:00 +0000] "GET /logon/LogonPoint/uiareas/%1b]52;c;aGVsbG8=%07%1b[2J'
             '%c2%9b2J%e2%80%aex.php HTTP/1.1" 200 41 "-" "curl/8 \x1b]0;T\x07\xff"\n'),
    ]
    return specs


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    d = tmp_path_factory.mktemp("hostile")
    # the target (the path given) carries rich markup too
    # (a "/" cannot be in a file name: the closing tag spans a directory and the file)
    (d / "[bold red]case[link=file:x]42[").mkdir()
    return tf.write_tar(_hostile_tree(), d / "[bold red]case[link=file:x]42[" / "link].tar.gz")


def _assert_inert(text: str) -> None:
    for ch in RAW_BAD:
        assert ch not in text, repr(ch)
    assert "\udcff" not in text
    for line in text.splitlines():
        assert not line.lstrip().startswith("FORGED LINE"), line


def test_table_shows_hostile_names_and_log_lines_as_inert_text(archive):
    res = runner.invoke(app, ["triage", str(archive), "--collected-at", WHEN])
    assert res.exit_code == 1, res.output
    out = res.stdout
    _assert_inert(out)
    # markup in the target and in names is printed literally, never interpreted
    assert "[bold red]case[link=file:x]42[/link]" in out
    assert "[bold red]markup[/]" in out
    # the bytes that are not UTF-8 are shown, escaped, and the real webshell is reported beside them
    assert "bad\\xff\\xfename.php" in out
    assert f"{WEBROOT}/uiareas/linux/adminupevents.php" in out
    assert "x.php answered 200" in out  # the percent-decoded access-log URL, cleaned


def test_json_jsonl_and_files_are_ascii_and_keep_every_finding(archive, tmp_path):
    jsonl = tmp_path / "t.jsonl"
    outdir = tmp_path / "out"
    res = runner.invoke(app, ["triage", str(archive), "-f", "json", "--collected-at", WHEN, "--jsonl", str(jsonl),
                              "--output-dir", str(outdir)])
    assert res.exit_code == 1, res.output
    assert res.stdout.isascii()  # C1, bidi and ESC are \u-escaped, never raw
    doc = json.loads(res.stdout)
    paths = {i["path"] for i in doc["indicators"]}
    assert f"{WEBROOT}/uiareas/linux/adminupevents.php" in paths
    assert f"{WEBROOT}/bad\\xff\\xfename.php" in paths
    lines = jsonl.read_text(encoding="utf-8").splitlines()
    assert lines and all(ln.isascii() for ln in lines)
    assert any("bad\\\\xff\\\\xfename.php" in ln for ln in lines)
    files = sorted(outdir.iterdir())
    assert {p.suffix for p in files} == {".json", ".md", ".html"}  # the host page is checked like the Markdown
    for p in files:
        text = p.read_text(encoding="utf-8")
        if p.suffix == ".json":
            assert text.isascii()
            json.loads(text)
        else:
            _assert_inert(text)


def test_markdown_on_stdout_is_inert(archive):
    res = runner.invoke(app, ["triage", str(archive), "-f", "md", "--collected-at", WHEN])
    assert res.exit_code == 1, res.output
    _assert_inert(res.stdout)
    assert "adminupevents.php" in res.stdout


def test_non_utf8_name_in_a_directory_copy(tmp_path):
    """The same on a real directory: os.scandir hands out surrogate-escaped names."""
    import os

    real = tf.f(f"{WEBROOT}/uiareas/linux/adminupevents.php", tf.WEBSHELL, mtime=tf.RECENT)
    root = tf.write_dir([*tf.clean_tree(), real], tmp_path / "tree")
    try:
        with open(os.path.join(os.fsencode(root), os.fsencode(WEBROOT.lstrip("/")), b"x\xff\xfe.php"), "wb") as fh:
            fh.write(tf.WEBSHELL.encode())
    except OSError:
        pytest.skip("this file system refuses non-UTF-8 names")
    res = runner.invoke(app, ["triage", str(root), "-f", "json", "--collected-at", WHEN])
    assert res.exit_code == 1, res.output
    paths = {i["path"] for i in json.loads(res.stdout)["indicators"]}
    assert f"{WEBROOT}/x\\xff\\xfe.php" in paths and f"{WEBROOT}/uiareas/linux/adminupevents.php" in paths


def test_history_shows_a_hostile_archive_name_inertly(tmp_path):
    """The triaged archive's own name lands in the state database and comes back in `history`."""
    arch = tf.write_tar(_hostile_tree(), tmp_path / "case\x1b]0;PWNED\x07\x9b2J\u202e.tar.gz")
    db = tmp_path / "state.db"
    res = runner.invoke(app, ["triage", str(arch), "--state", str(db), "--collected-at", WHEN, "-f", "json"])
    assert res.exit_code == 1, res.output
    hist = runner.invoke(app, ["history", "--state", str(db)])
    assert hist.exit_code == 0, hist.output
    assert "case" in hist.stdout
    _assert_inert(hist.stdout)
