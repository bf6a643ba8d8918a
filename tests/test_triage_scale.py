"""Thousands of files: the triage streams (memory does not grow with the file count).

Speed is measured in bench/, not asserted here: a timed assertion fails on a loaded machine."""

from __future__ import annotations

import time
import tracemalloc

import triage_fixtures as tf

from nscheck.paths import signatures_dir
from nscheck.signatures.triage import load
from nscheck.triage.context import TriageOptions
from nscheck.triage.runner import triage_path


def _tree(n: int) -> list[tf.Spec]:
    specs = tf.clean_tree()
    body = "var x = 1; // stock asset\n" * 20
    for i in range(n):
        d = ("/var/netscaler/logon/LogonPoint/receiver/js", "/var/vpn/themes/Corp", "/var/tmp/cache",
             "/netscaler/ns_gui/vpn/js")[i % 4]
        specs.append(tf.f(f"{d}/f{i:05d}.js", body, mtime=tf.OLD))
    return specs


def _peak(rules, archive) -> tuple[int, float, int]:
    tracemalloc.start()
    t0 = time.monotonic()
    r = triage_path(str(archive), TriageOptions(collected_at=tf.COLLECTED), rules)
    took = time.monotonic() - t0
    _cur, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert r.indicators == ()
    return peak, took, r.coverage.source["files"]


def test_thousands_of_files_stream_in_bounded_memory(tmp_path):
    rules = load(signatures_dir(None))
    small = tf.write_tar(_tree(300), tmp_path / "small.tar.gz")
    big = tf.write_tar(_tree(3000), tmp_path / "big.tar.gz")
    peak_small, _t, n_small = _peak(rules, small)
    peak_big, _took, n_big = _peak(rules, big)
    assert n_big - n_small == 2700
    # ten times the files must not mean (anywhere near) ten times the memory
    assert peak_big < peak_small * 2 + 2_000_000, (peak_small, peak_big)
