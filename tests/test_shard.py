"""--shard K/N: N jobs split one target list with no coordination.

What must hold for that to be safe: every job computes the same split (deterministic), the
slices are balanced, together they cover every target, and no target lands in two slices, even
with duplicates, CIDRs, comments and exclusions in the input.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nscheck.targets import Exclusions, TargetStats, iter_targets, parse_shard

ITEMS = [
    "127.0.0.1",
    "https://127.0.0.2:8443",
    "127.0.0.0/28",  # expands to 14 hosts, one of them 127.0.0.1 again (duplicate)
    "http://127.0.0.3/vpn",
    "[::1]:4443",
    "127.0.0.2:8443",  # duplicate of the URL above
    "appliance.example.org",
]


def _keys(shard: tuple[int, int] | None, items: list[str] = ITEMS, **kw: object) -> list[tuple[str, str, int, str]]:
    return [t.key for t in iter_targets(items, shard=shard, **kw)]  # type: ignore[arg-type]


@pytest.mark.parametrize("n", [1, 2, 3, 5, 7, 40])
def test_shards_partition_the_full_list(n: int) -> None:
    everything = _keys(None)
    shards = [_keys((k, n)) for k in range(1, n + 1)]
    union = [k for s in shards for k in s]
    assert sorted(union) == sorted(everything)  # union = all, no overlap (a list, so overlap shows)
    assert len(set(union)) == len(union)


def test_shard_is_deterministic_and_keeps_input_order() -> None:
    first = _keys((2, 3))
    assert first == _keys((2, 3))
    everything = _keys(None)
    assert first == [k for k in everything if k in set(first)]


def test_shard_does_not_depend_on_list_order_or_edits() -> None:
    """A stable hash of each target: reordering the list, or adding a target, moves nothing else."""
    before = {k: set(_keys((k, 4))) for k in range(1, 5)}
    shuffled = list(reversed(ITEMS))
    assert {k: set(_keys((k, 4), shuffled)) for k in range(1, 5)} == before
    edited = [*ITEMS, "new-appliance.example.org"]
    after = {k: set(_keys((k, 4), edited)) for k in range(1, 5)}
    moved = {k: after[k] - before[k] for k in after}
    assert sum(len(m) for m in moved.values()) == 1  # only the new target appears, nothing moved
    assert all(before[k] <= after[k] for k in before)


def test_an_empty_shard_is_not_an_error(capsys: pytest.CaptureFixture[str]) -> None:
    """More shards than targets: some jobs have nothing to do, which is fine (exit 0, said why);
    a job whose input is empty is still a usage error."""
    from nscheck.cli import main

    codes = []
    for k in range(1, 9):
        with pytest.raises(SystemExit) as e:
            main(["scan", "127.0.0.1", "--shard", f"{k}/8", "--dry-run"])
        codes.append(e.value.code)
    err = capsys.readouterr().err
    assert codes.count(0) == 8 and "nothing for this shard to do" in err
    with pytest.raises(SystemExit) as e:
        main(["scan", "--shard", "1/2", "-i", "/dev/null"])
    assert e.value.code == 64


@pytest.mark.parametrize("n", [1, 3, 8])
def test_shard_auto_from_kubernetes_job_index(n: int) -> None:
    everything = set(_keys(None))
    union: list[tuple[str, str, int, str]] = []
    for idx in range(n):  # what each pod of an Indexed Job with completions=n computes
        sh = parse_shard("auto", n, env={"JOB_COMPLETION_INDEX": str(idx)})
        assert sh == (idx + 1, n)
        union += _keys(sh)
    assert sorted(union) == sorted(everything)


@pytest.mark.parametrize(("spec", "shards", "env", "msg"), [
    ("auto", None, {"JOB_COMPLETION_INDEX": "0"}, "needs --shards"),
    ("auto", 3, {}, "JOB_COMPLETION_INDEX"),
    ("auto", 3, {"JOB_COMPLETION_INDEX": "3"}, "not below"),
    ("auto", 3, {"JOB_COMPLETION_INDEX": "x"}, "JOB_COMPLETION_INDEX"),
    ("1/3", 4, {}, "disagree"),
    (None, 3, {}, "goes with"),
])
def test_bad_shard_auto(spec, shards, env, msg) -> None:
    with pytest.raises(ValueError, match=msg):
        parse_shard(spec, shards, env=env)


def test_shard_balanced_on_a_large_file(tmp_path: Path) -> None:
    f = tmp_path / "targets.txt"
    lines = [f"127.{i // 250}.{i % 250}.1" for i in range(10_007)]
    f.write_text("# fleet\n" + "\n".join(lines) + "\n127.0.0.1  # duplicate\n", encoding="utf-8")
    counts = []
    seen: set[tuple[str, str, int, str]] = set()
    for k in range(1, 9):
        st = TargetStats()
        keys = [t.key for t in iter_targets(files=[str(f)], shard=(k, 8), stats=st)]
        assert not seen & set(keys)
        seen |= set(keys)
        counts.append(len(keys))
        assert st.accepted + st.other_shards == 10_007
    assert len(seen) == 10_007
    # a hash, not round-robin: balanced within a few percent on a real-sized list
    assert max(counts) - min(counts) <= 0.1 * 10_007 / 8, counts


def test_exclusions_do_not_shift_the_split() -> None:
    # A job with an extra exclusion must not push targets into another job's slice.
    ex = Exclusions()
    ex.add("127.0.0.5")
    plain = [_keys((k, 3)) for k in (1, 2, 3)]
    excluded = [_keys((k, 3), exclusions=ex) for k in (1, 2, 3)]
    for p, e in zip(plain, excluded, strict=True):
        assert [k for k in p if k[1] != "127.0.0.5"] == e


@pytest.mark.parametrize("spec", ["0/3", "4/3", "1/0", "a/b", "1-3", "1/", "/3"])
def test_bad_shard_specs_are_rejected(spec: str) -> None:
    with pytest.raises(ValueError, match="--shard"):
        parse_shard(spec)


def test_good_shard_specs() -> None:
    assert parse_shard("1/1") == (1, 1)
    assert parse_shard(" 3 / 8 ") == (3, 8)
    assert parse_shard(None) is None


@pytest.mark.lab
@pytest.mark.timeout(120)
def test_three_shard_scans_concatenate_into_one_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Three jobs scan one list with --shard k/3; their ECS JSON Lines, concatenated, are one
    valid stream that ``nscheck report`` reads back as every host exactly once."""
    from nscheck.lab import start_lab
    from nscheck.options import ScanOptions
    from nscheck.report.jsonfmt import load_results
    from nscheck.runner import run

    with start_lab("demo") as lab:
        targets = tmp_path / "targets.txt"
        targets.write_text("\n".join(lab.target_urls) + "\n", encoding="utf-8")
        outs = []
        for k in (1, 2, 3):
            out = tmp_path / f"shard{k}.jsonl"
            opts = ScanOptions(input_files=(str(targets),), shard=f"{k}/3", jsonl=str(out), format="jsonl",
                               no_progress=True, quiet=True, fail_on="none", timeout=3.0, host_deadline=15.0,
                               concurrency=8, retries=0)
            assert run(opts) == 0
            outs.append(out)
        capsys.readouterr()
    # a shard the hash left empty writes no file (it exits 0 before any output is opened)
    outs = [o for o in outs if o.exists()]
    per_shard = [{r.url for r in load_results([str(o)])} for o in outs]
    # the demo's ports are random and the split is a hash: at least two of three shards hold hosts
    assert sum(1 for s in per_shard if s) >= 2
    assert sum(len(s) for s in per_shard) == len(set().union(*per_shard))  # no host in two shards
    assert set().union(*per_shard) == set(lab.target_urls)

    combined = tmp_path / "all.jsonl"
    combined.write_bytes(b"".join(o.read_bytes() for o in outs))
    for line in combined.read_text(encoding="utf-8").splitlines():
        json.loads(line)  # one valid JSON document per line
    assert sorted(r.url or "" for r in load_results([str(combined)])) == sorted(lab.target_urls)
    assert sorted(r.url or "" for r in load_results([str(o) for o in outs])) == sorted(lab.target_urls)

    from nscheck.cli import main

    with pytest.raises(SystemExit) as e:
        main(["report", *map(str, outs), "-f", "json"])
    assert e.value.code == 0
    doc = json.loads(capsys.readouterr().out)
    hosts = doc if isinstance(doc, list) else doc.get("hosts", [])
    assert sorted(h["url"] for h in hosts) == sorted(lab.target_urls)
