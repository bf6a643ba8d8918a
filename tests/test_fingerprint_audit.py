"""The stamp table agrees with the release dates and the zeroed-file finding (issue 11 §2).

Each rule here removed rows in the 2026-12 audit (see signatures/fingerprints/README.md,
"Audit"); the test keeps new rows honest. Only rows that could name an exact build are
checked against each other; builds with a minor >= 100 are hotfix builds with their own
numbering and are left out of the line-order rule.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from scan_fakes import GATEWAY_PAGE, rdx_gz

from nscheck.build import Build
from nscheck.model import Confidence, Verdict
from nscheck.signatures.fingerprints import StampRow, load

SIGS = Path(__file__).resolve().parents[1] / "signatures"
T = load(SIGS)

# Firmware is compiled before its release; re-spins after release occur (12.1-55.321: 14 days
# after the listed date in Fox-IT's own table). More than that contradicts the release date.
AFTER_RELEASE = dt.timedelta(days=14)


def _rows() -> list[StampRow]:
    return [x for rows in T.stamps.values() for x in rows if x.build is not None]


def _day(stamp: int) -> dt.date:
    return dt.datetime.fromtimestamp(stamp, dt.UTC).date()


def _released() -> dict[tuple[str, int, int], dt.date]:
    out: dict[tuple[str, int, int], dt.date] = {}
    for r in T.releases:
        k = (r.build.release, r.build.major, r.build.minor)
        out[k] = min(out.get(k, r.date), r.date)
    return out


def test_no_stamp_for_a_build_that_serves_the_zeroed_file() -> None:
    # BLS firmware extraction (2026-03-25): 13.1-62.23, 14.1-60.58 and 14.1-66.59 serve MTIME 0.
    zeroed = {(z.floor.release, z.floor.major, z.floor.minor) for z in T.zeroed} | {("14.1", 66, 59)}
    bad = [(x.stamp, str(x.build)) for x in _rows() if x.build and (x.build.release, x.build.major, x.build.minor) in zeroed]
    assert not bad


def test_no_stamp_long_after_the_release_of_its_build() -> None:
    rel = _released()
    bad = []
    for x in _rows():
        assert x.build is not None
        day = rel.get((x.build.release, x.build.major, x.build.minor))
        if day is not None and _day(x.stamp) > day + AFTER_RELEASE:
            bad.append((x.stamp, str(x.build), x.source))
    assert not bad


def test_stamps_follow_build_order_on_one_line() -> None:
    # On one build line (release, edition, build major) a higher minor is compiled later.
    rows = [x for x in _rows() if x.build and x.build.minor < 100]
    bad = []
    for a in rows:
        for b in rows:
            assert a.build and b.build
            same_line = (a.build.release, a.build.major, a.editions) == (b.build.release, b.build.major, b.editions)
            if same_line and a.build.minor < b.build.minor and a.stamp > b.stamp + 86_400:
                bad.append((str(a.build), a.stamp, str(b.build), b.stamp, b.source))
    assert not bad


def test_a_line_does_not_start_before_the_line_below_it() -> None:
    # 13.1-62.x / 14.1-62.x stamps from Oct 2025 predated the first 13.1-61.x / 14.1-60.x builds.
    # Lines known only from low-confidence rows must start after every lower line has started
    # (FIPS/NDcPP majors 12.1-55 and 13.1-37 run beside the mainline lines and are left out).
    fips = {("12.1", 55), ("13.1", 37)}
    first: dict[tuple[str, int], int] = {}
    trusted: set[tuple[str, int]] = set()
    for x in _rows():
        if x.build is None or x.build.minor >= 100 or (x.build.release, x.build.major) in fips:
            continue
        k = (x.build.release, x.build.major)
        first[k] = min(first.get(k, x.stamp), x.stamp)
        if x.confidence is not Confidence.LOW:
            trusted.add(k)
    bad = []
    for (rel, major), stamp in first.items():
        if (rel, major) in trusted:
            continue
        later = [(m, s) for (r, m), s in first.items() if r == rel and m < major and (r, m) in trusted and s > stamp + 86_400]
        if later:
            bad.append((f"{rel}-{major}.x", stamp, later))
    assert not bad


# -- the rows named in the issue: never an exact build, never a wrong "not vulnerable" ------------

WEAK = {
    1762299316: "14.1-66.59",
    1761741652: "13.1-37.262",
    1762297523: "13.1-62.23",
    1773036148: "13.1-62.23",
    1773758251: "14.1-66.59",
    1773588193: "14.1-60.58",
}


@pytest.mark.parametrize("stamp", sorted(WEAK))
def test_contradicted_stamp_is_no_exact_build_and_no_false_clean(stamp: int) -> None:
    import respx

    from nscheck.options import ScanOptions
    from nscheck.runner import scan_hosts

    opts = ScanOptions(timeout=2.0, host_deadline=10.0, retries=0, indicators=False)
    with respx.mock(assert_all_called=False) as mock:
        base = "https://weak.example"
        mock.get(f"{base}/").respond(302, headers={"Location": "/vpn/index.html"})
        mock.get(f"{base}/vpn/index.html").respond(200, content=GATEWAY_PAGE, headers={"Set-Cookie": "NSC_TEMP=x;Path=/"})
        mock.get(f"{base}/vpn/js/rdx/core/lang/rdx_en.json.gz").respond(200, content=rdx_gz(stamp))
        mock.route(host="weak.example").respond(404, content=b"not found")
        [r] = scan_hosts(["weak.example"], opts)
    assert r.product.is_netscaler and r.build is not None
    assert not r.build.exact and r.build.build is None, f"{stamp} still names {WEAK[stamp]} as the exact build"
    compiled = _day(stamp)
    for a in r.advisories:
        if a.published and dt.date.fromisoformat(a.published) > compiled:
            # fixed after the box was compiled: "not vulnerable" would be the error the issue reports
            assert a.verdict is not Verdict.NOT_VULNERABLE, (stamp, a.id, a.reason)


def test_low_rows_still_give_candidates() -> None:
    from scan_fakes import resp

    from nscheck.fingerprint.methods import Observations, check_rdx

    low = next(s for s, rows in T.stamps.items() if rows and all(x.confidence is Confidence.LOW for x in rows)
               and all(x.build is not None for x in rows))
    url = "https://h/vpn/js/rdx/core/lang/rdx_en.json.gz"
    [c] = check_rdx(Observations(responses={"rdx": resp(url, 200, rdx_gz(low))}), T).claims
    row_build = T.stamps[low][0].build
    assert row_build is not None
    assert c.relation == "candidates" and c.dated and Build(row_build.release, row_build.major, row_build.minor) in c.builds
