"""Per check family: planted indicators are found with evidence; the benign look-alikes stay silent."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import triage_fixtures as tf

from nscheck.model import HostVerdict
from nscheck.paths import signatures_dir
from nscheck.signatures.triage import load
from nscheck.triage.context import TriageOptions
from nscheck.triage.runner import triage_path

OPTS = TriageOptions(collected_at=tf.COLLECTED)


@pytest.fixture(scope="module")
def rules():
    return load(signatures_dir(None))


def _run(rules, specs, tmp_path: Path, name: str = "t.tar.gz", opts: TriageOptions = OPTS):
    archive = tf.write_tar(specs, tmp_path / name)
    return triage_path(str(archive), opts, rules)


def test_clean_base_tree_is_silent(rules, tmp_path):
    r = _run(rules, tf.clean_tree(), tmp_path)
    assert r.indicators == (), [(i.id, i.path, i.evidence) for i in r.indicators]
    assert r.verdict is not HostVerdict.COMPROMISED
    assert r.build is not None and r.build.candidates == ("14.1-47.46",)


@pytest.mark.parametrize("family", sorted(tf.FAMILIES))
def test_family_positive(rules, tmp_path, family):
    bad, _good, expected = tf.FAMILIES[family]
    r = _run(rules, tf.merged(tf.clean_tree(), bad), tmp_path)
    found = {i.id for i in r.indicators}
    assert expected <= found, f"missing {expected - found}"
    for i in r.indicators:
        if i.id in expected:
            assert i.evidence and i.path and i.path.startswith("/")
            assert i.check
    # every planted file hit carries its metadata and hash
    file_hits = [i for i in r.indicators if i.id in expected and i.file and i.file.get("sha256")]
    # families judged after the last file (logs, ns.conf against its rotations) carry no single file
    assert file_hits or family in ("timestomp", "recent_changes", "log", "ns_conf_history")


@pytest.mark.parametrize("family", sorted(tf.FAMILIES))
def test_family_negative(rules, tmp_path, family):
    _bad, good, _expected = tf.FAMILIES[family]
    r = _run(rules, tf.merged(tf.clean_tree(), good), tmp_path)
    assert r.indicators == (), [(i.id, i.path, i.evidence) for i in r.indicators]


def test_whole_compromised_tree_finds_every_planted_indicator(rules, tmp_path):
    r = _run(rules, tf.compromised_tree(), tmp_path)
    found = {i.id for i in r.indicators}
    assert tf.all_expected() <= found, tf.all_expected() - found
    assert r.verdict is HostVerdict.COMPROMISED
    d = r.to_dict()
    assert d["schema"] == "nscheck.triage/1"
    ws = next(i for i in d["indicators"] if i["id"] == "NL-IMG-webshell-strings")
    assert ws["path"] == "/var/netscaler/logon/LogonPoint/uiareas/linux/adminupevents.php"
    assert ws["line"] == 1 and "eval($_" in ws["evidence"]
    assert ws["file"]["size"] > 0 and len(ws["file"]["sha256"]) == 64 and ws["file"]["mtime"].endswith("Z")
    assert all(i["file"]["collected_at"] == "2026-11-20T12:00:00Z" for i in d["indicators"])


def test_whole_lookalike_tree_is_silent_as_directory(rules, tmp_path):
    root = tf.write_dir(tf.lookalike_tree(), tmp_path / "tree")
    r = triage_path(str(root), OPTS, rules)
    assert r.indicators == (), [(i.id, i.path, i.evidence) for i in r.indicators]
    assert r.coverage.source["type"] == "directory"


def test_compromised_directory_tree(rules, tmp_path):
    # a plain copy: owner is the test user, so root-only checks cannot fire, the rest must
    root = tf.write_dir(tf.compromised_tree(), tmp_path / "tree")
    r = triage_path(str(root), OPTS, rules)
    found = {i.id for i in r.indicators}
    for rid in ("NL-IMG-webshell-strings", "NL-IMG-portal-exfil", "NL-IMG-crontab", "NS-LOG-aaa-nonascii",
                "NL-CORE-yara", "NL-IMG-binaries-suid", "NL-LIVE-setuid-var-tmp-sh"):
        assert rid in found


def test_aaa_evidence_escapes_high_bytes(rules, tmp_path):
    bad, _g, _e = tf.FAMILIES["log"]
    r = _run(rules, tf.merged(tf.clean_tree(), bad), tmp_path)
    aaa = next(i for i in r.indicators if i.id == "NS-LOG-aaa-nonascii")
    assert "\\x8e\\xd1" in aaa.evidence and aaa.line == 1


def test_known_hash_rule(rules, tmp_path):
    sig = tmp_path / "sigs"
    shutil.copytree(signatures_dir(None), sig)
    payload = b"<?php /* sample */ ?>\n"
    import hashlib

    h = hashlib.sha256(payload).hexdigest()
    (sig / "triage" / "local_hashes.yaml").write_text(
        "schema: nscheck.triage-rules/1\nrules:\n  - id: LOCAL-hash\n    check: known_bad_files\n"
        f"    severity: critical\n    confidence: high\n    hashes:\n      {h}: test sample\n"
    )
    local = load(sig)
    specs = tf.merged(tf.clean_tree(), [tf.f("/var/vpn/themes/innocent.css", payload, mtime=tf.OLD)])
    r = _run(local, specs, tmp_path)
    hit = [i for i in r.indicators if i.id == "LOCAL-hash"]
    assert hit and hit[0].path == "/var/vpn/themes/innocent.css" and h in hit[0].evidence
    clean = _run(local, tf.clean_tree(), tmp_path, "c.tar.gz")
    assert not [i for i in clean.indicators if i.id == "LOCAL-hash"]


def test_recent_changes_uses_collection_time_not_now(rules, tmp_path):
    bad, _g, _e = tf.FAMILIES["recent_changes"]
    specs = tf.merged(tf.clean_tree(), bad)
    later = TriageOptions(collected_at=tf.COLLECTED.replace(year=2027, month=6))
    r = _run(rules, specs, tmp_path, opts=later)
    assert "NL-IMG-recent-changes" not in {i.id for i in r.indicators}
    narrow = TriageOptions(collected_at=tf.COLLECTED, recent_days=5)
    r = _run(rules, specs, tmp_path, "n.tar.gz", opts=narrow)
    assert "NL-IMG-recent-changes" not in {i.id for i in r.indicators}


def test_yara_missing_is_a_coverage_note_not_silence(rules, tmp_path):
    bad, _g, _e = tf.FAMILIES["yara"]
    r = _run(rules, tf.merged(tf.clean_tree(), bad), tmp_path, opts=TriageOptions(collected_at=tf.COLLECTED, yara=False))
    assert "NL-CORE-yara" not in {i.id for i in r.indicators}
    assert r.coverage.families["yara"]["status"] == "skipped"
    assert "yara-python" in r.coverage.families["yara"]["reason"]
    assert any(s.what == "yara" for s in r.skipped)
