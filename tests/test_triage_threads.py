"""Triage of different appliances in parallel threads (live triage analyses -c appliances at once)
gives the same results as one after the other: nothing in a triage is shared between calls."""

from __future__ import annotations

import concurrent.futures
import sys
from pathlib import Path
from typing import Any

import triage_fixtures as tf

from nscheck.paths import shipped_signatures_dir
from nscheck.signatures.triage import load as load_triage_rules
from nscheck.triage.context import TriageOptions
from nscheck.triage.runner import triage

SIG = shipped_signatures_dir()


def _key(r: Any) -> tuple[Any, ...]:
    return (r.status.value, sorted((i.id, i.path, i.line, i.evidence) for i in r.indicators),
            sorted((f.get("path"), f.get("sha256")) for f in (r.extra.get("files") or []) if isinstance(f, dict)))


def test_parallel_triages_equal_sequential(tmp_path: Path) -> None:
    rules = load_triage_rules(SIG)
    opts = TriageOptions(collected_at=tf.COLLECTED, yara=False)
    trees = {"bad": tf.compromised_tree(), "good": tf.clean_tree(), "alike": tf.lookalike_tree()}
    paths = {k: str(tf.write_tar(v, tmp_path / f"{k}.tar.gz")) for k, v in trees.items()}
    alone = {k: _key(triage([p], opts, rules, SIG)) for k, p in paths.items()}
    assert alone["bad"][1] and not alone["good"][1]
    jobs = [k for _ in range(3) for k in paths]
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible: a shared buffer would show
    try:
        with concurrent.futures.ThreadPoolExecutor(max_workers=len(jobs)) as pool:
            together = list(pool.map(lambda k: (k, _key(triage([paths[k]], opts, rules, SIG))), jobs))
    finally:
        sys.setswitchinterval(old)
    for k, got in together:
        assert got == alone[k], k
