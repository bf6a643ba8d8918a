"""The two checks peers added in autumn 2026 (issue 11 §4), beyond the family fixtures."""

from __future__ import annotations

import pytest
import triage_fixtures as tf

from nscheck.paths import signatures_dir
from nscheck.signatures.triage import load
from nscheck.triage.checks.nitro_login import is_public
from nscheck.triage.context import TriageOptions
from nscheck.triage.runner import triage_path

OPTS = TriageOptions(collected_at=tf.COLLECTED)


@pytest.fixture(scope="module")
def rules():
    return load(signatures_dir(None))


@pytest.mark.parametrize(("addr", "public"), [
    ("93.184.216.34", True), ("64.94.85.67", True), ("2001:4860::8888", True), ("::ffff:93.184.216.34", True),
    ("10.1.2.3", False), ("172.31.255.1", False), ("192.168.0.9", False), ("127.0.0.1", False),
    ("169.254.10.1", False), ("100.64.0.1", False), ("100.127.255.254", False), ("::1", False),
    ("fe80::1", False), ("fd00::5", False), ("::ffff:10.0.0.1", False),
    ("172.32.0.1", True), ("100.128.0.1", True),  # just outside RFC 1918 / CGNAT
])
def test_public_means_outside_rfc1918_loopback_linklocal_cgnat(addr, public):
    assert is_public(addr) is public


def test_not_an_address_is_neither(rules):
    assert is_public("nsroot") is None


def test_many_failed_logins_from_one_address_are_one_finding(rules, tmp_path):
    lines = "".join(
        tf._nslog("API CMD_EXECUTED 9300", f' User u{i % 3} - ADM_User NONE - Remote_ip 198.18.0.1 - Command "login u{i % 3}" '
                  '- Status "ERROR: Invalid username or password"') for i in range(40))
    specs = tf.merged(tf.clean_tree(), [tf.f("/var/log/ns.log.3", lines)])
    r = triage_path(str(tf.write_tar(specs, tmp_path / "t.tar.gz")), OPTS, rules)
    hits = [i for i in r.indicators if i.id == "NS-26-nitro-login-failed-public"]
    assert len(hits) == 1 and "40 failed API (NITRO) login(s) from public address 198.18.0.1" in hits[0].evidence
    assert hits[0].line == 1 and "u0, u1, u2" in hits[0].evidence


def test_password_hashes_in_ns_conf_never_reach_the_evidence(rules, tmp_path):
    conf = tf.NS_CONF_CLEAN + 'add system user intruder 5f4dcc3b5aa765d61d8327deb882cf99aabbccdd -encrypted -hashmethod SHA512\n'
    specs = tf.merged(tf.clean_tree(), [tf.f("/nsconfig/ns.conf", conf), tf.f("/nsconfig/ns.conf.0", tf.NS_CONF_CLEAN)])
    r = triage_path(str(tf.write_tar(specs, tmp_path / "t.tar.gz")), OPTS, rules)
    hits = [i for i in r.indicators if i.id == "NS-26-new-system-user"]
    assert [h.line for h in hits] == [12] and "'intruder'" in hits[0].evidence
    assert all("5f4dcc3b" not in h.evidence for h in r.indicators)


def test_without_rotations_nothing_is_compared_and_coverage_says_so(rules, tmp_path):
    r = triage_path(str(tf.write_tar(tf.clean_tree(), tmp_path / "t.tar.gz")), OPTS, rules)
    notes = r.coverage.families["ns_conf_history"]["notes"]
    assert any("no older rotation" in n for n in notes)
    assert not [i for i in r.indicators if i.id == "NS-26-new-system-user"]
