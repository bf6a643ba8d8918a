"""Builds known only by a compile date or a floor (issue 11 §3): the date bounds the verdict,
the margins are re-measured from the tables, and every unknown says what would decide it."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import respx
from scan_fakes import GATEWAY_PAGE, rdx_gz, rdx_zeroed, resp

from nscheck.assess.advisories import assess, load_default
from nscheck.assess.dated import GA_LEAD, SLACK, TRAIN_MARGIN, DatedBuild, bounded_verdicts, first_fix
from nscheck.build import Edition, Train, parse_build
from nscheck.fingerprint.methods import Observations, compile_date
from nscheck.model import HostResult, HostStatus, ProductInfo, QuestionKind, Verdict, VerdictBasis
from nscheck.options import ScanOptions
from nscheck.runner import scan_hosts
from nscheck.signatures.advisories import FixStatus
from nscheck.signatures.fingerprints import load

SIGS = Path(__file__).resolve().parents[1] / "signatures"
T = load(SIGS)
A = load_default(SIGS)
OPTS = ScanOptions(timeout=2.0, host_deadline=10.0, retries=0, indicators=False)
UTC = dt.UTC


def _scan(body: bytes, lm: str | None = None, *, pluginlist: bool = True) -> HostResult:
    h = {"Last-Modified": lm} if lm else {}
    with respx.mock(assert_all_called=False) as mock:
        base = "https://dated.example"
        mock.get(f"{base}/").respond(302, headers={"Location": "/vpn/index.html"})
        mock.get(f"{base}/vpn/index.html").respond(200, content=GATEWAY_PAGE, headers={"Set-Cookie": "NSC_TEMP=x;Path=/", **h})
        mock.get(f"{base}/vpn/js/rdx/core/lang/rdx_en.json.gz").respond(200, content=body, headers=h)
        if pluginlist:
            mock.get(f"{base}/vpn/pluginlist.xml").respond(200, content=b"<plugins/>", headers=h)
        mock.route(host="dated.example").respond(404, content=b"not found")
        [r] = scan_hosts(["dated.example"], OPTS)
    return r


def _v(r: HostResult) -> dict[str, Any]:
    return {a.id: a for a in r.advisories}


# -- the margins are what the tables show ---------------------------------------------------------


def _trusted_compile_and_release() -> list[tuple[str, dt.date, dt.date]]:
    rel: dict[tuple[str, int, int], dt.date] = {}
    for r in T.releases:
        k = (r.build.release, r.build.major, r.build.minor)
        rel[k] = min(rel.get(k, r.date), r.date)
    out = []
    for stamp, rows in T.stamps.items():
        for x in rows:
            if x.build is None or x.confidence.value == "low":
                continue
            day = rel.get((x.build.release, x.build.major, x.build.minor))
            if day is not None:
                out.append((str(x.build), dt.datetime.fromtimestamp(stamp, UTC).date(), day))
    return out


def test_ga_lead_covers_compile_to_release_in_the_tables() -> None:
    # 13.1-49.13's listed date is a re-publication (released 2023-07-18 with CTX561482, listed in
    # Oct): the bulletin date caps a fixed build's release date, as first_fix does.
    caps = {"13.1-49.13": dt.date(2023, 7, 18)}
    leads = [(min(day, caps.get(b, day)) - compiled, b) for b, compiled, day in _trusted_compile_and_release()]
    worst = max(leads)
    assert worst[0] <= GA_LEAD, worst
    assert worst[0] >= dt.timedelta(days=30)  # fixes really are built weeks ahead: a "few days" would be wrong


def test_train_margin_covers_maintenance_builds_below_a_fix() -> None:
    # On a train, builds numbered below a bulletin's fix keep coming after it shipped
    # (maintenance lines: 13.0-47.24 in Jan 2020, after 13.0-58.30 fixed CTX263807 in Nov 2019).
    from nscheck.assess.dated import _index

    idx = _index(T)
    worst = dt.timedelta(0)
    for adv in A:
        for row in adv.trains:
            f = row.first_fixed
            if row.status is not FixStatus.FIXED or f is None:
                continue
            seen = [(s.build, d) for s in idx.get(row.train, ()) for d in (s.compiled, s.released) if d is not None]
            ships = [d for b, d in seen if (b.major, b.minor) >= (f.major, f.minor)]
            if not ships:
                continue
            first = min(ships)
            worst = max([worst, *(d - first for b, d in seen if (b.major, b.minor) < (f.major, f.minor) and b.minor < 100)])
    assert GA_LEAD < worst < TRAIN_MARGIN


def test_first_fix_takes_the_earliest_fixed_or_later_build_on_any_train() -> None:
    adv = A.get("CTX579459")  # CitrixBleed: 13.0-92.19 was out before the bulletin
    assert adv is not None
    ff = first_fix(A, T, adv, adv.cves[0])
    assert ff is not None and ff.shipped <= dt.date(2023, 10, 10)
    assert ff.existed <= ff.shipped - SLACK
    # no fixed build at all (every train EOL): None, and a build of any date is affected
    eol_only = [a for a in A if all(r.status is not FixStatus.FIXED for r in a.trains)]
    for a in eol_only:
        assert first_fix(A, T, a, a.cves[0]) is None


# -- compile date from the host's files ------------------------------------------------------------


def test_compile_date_from_stamp_and_from_agreeing_files() -> None:
    url = "https://h"
    stamp = int(dt.datetime(2021, 5, 3, tzinfo=UTC).timestamp())
    cd, _ = compile_date(Observations(responses={"rdx": resp(f"{url}/vpn/js/rdx/core/lang/rdx_en.json.gz", 200, rdx_gz(stamp))}))
    assert cd is not None and cd.when == dt.datetime(2021, 5, 3, tzinfo=UTC) and "MTIME" in cd.source
    lm = "Tue, 17 Mar 2026 14:37:31 GMT"
    files = {"rdx": resp(f"{url}/vpn/js/rdx/core/lang/rdx_en.json.gz", 200, rdx_zeroed(), {"Last-Modified": lm}),
             "pluginlist": resp(f"{url}/vpn/pluginlist.xml", 200, b"<x/>", {"Last-Modified": lm})}
    cd, _ = compile_date(Observations(responses=dict(files)))
    assert cd is not None and cd.when.date() == dt.date(2026, 3, 17) and "2 firmware files" in cd.source
    # one file alone, or a login page alone (customisable), dates nothing
    cd, _ = compile_date(Observations(responses={"rdx": files["rdx"]}))
    assert cd is None
    page = resp(f"{url}/vpn/index.html", 200, GATEWAY_PAGE, {"Last-Modified": lm})
    assert compile_date(Observations(responses={"vpn_index": page}))[0] is None
    # a page that agrees corroborates one firmware file
    assert compile_date(Observations(responses={"rdx": files["rdx"], "vpn_index": page}))[0] is not None
    # firmware files that disagree: no date, and the report says why
    other = resp(f"{url}/vpn/pluginlist.xml", 200, b"<x/>", {"Last-Modified": "Mon, 02 Jan 2023 10:00:00 GMT"})
    cd, ev = compile_date(Observations(responses={"rdx": files["rdx"], "pluginlist": other}))
    assert cd is None and ev is not None and "disagree" in ev.detail


# -- scans ------------------------------------------------------------------------------------------


def test_unknown_stamp_months_before_a_fix_is_vulnerable_with_the_date_in_words() -> None:
    stamp = int(dt.datetime(2021, 5, 3, 9, 0, tzinfo=UTC).timestamp())
    assert stamp not in T.stamps
    r = _scan(rdx_gz(stamp))
    b = r.build
    assert b is not None and not b.exact and b.compiled == "2021-05-03T09:00:00Z" and b.edition is None
    v = _v(r)
    a = v["CTX579459"]  # CitrixBleed, first fixed build 2023
    assert a.verdict is Verdict.VULNERABLE and a.basis is VerdictBasis.DATED
    assert "compiled 2021-05-03" in a.reason and "the first fix for CVE-2023-4966 shipped 2023-" in a.reason
    assert v["CTX319135"].verdict is Verdict.VULNERABLE  # fix built two months later (2021-07)
    # a fix that existed before the box was built: the date cannot decide it
    assert v["CTX267027"].verdict is Verdict.UNKNOWN and v["CTX267027"].open_question is not None
    assert v["CTX267027"].open_question.kind is QuestionKind.BUILD
    # CVE-2022-27518 was fixed on 13.0 in 2020 (13.0-58.32): a 2021 build may be a later 13.0 one
    assert v["CTX474995"].verdict is Verdict.UNKNOWN
    # never "not vulnerable" for a bulletin fixed after the compile date, whatever the candidates
    # say, except where only a later build was ever affected (CVE-2022-27508: 12.1-64.16 only)
    assert v["CTX457048"].verdict is Verdict.NOT_VULNERABLE and "did not exist yet" in v["CTX457048"].reason
    for a in r.advisories:
        if a.published and a.published > "2021-05-10" and a.id != "CTX457048":
            assert a.verdict is not Verdict.NOT_VULNERABLE, (a.id, a.reason)


def test_unknown_stamp_with_no_release_nearby_is_still_dated() -> None:
    stamp = int(dt.datetime(2018, 2, 1, tzinfo=UTC).timestamp())
    r = _scan(rdx_gz(stamp))
    assert r.build is not None and r.build.candidates == () and r.build.compiled
    assert _v(r)["CTX579459"].verdict is Verdict.VULNERABLE


def test_zeroed_stamp_with_agreeing_file_dates_narrows_and_decides() -> None:
    lm = "Mon, 16 Mar 2026 03:12:41 GMT"
    dated = _scan(rdx_zeroed(), lm)
    floor_only = _scan(rdx_zeroed(), None)
    bd, bf = dated.build, floor_only.build
    assert bd is not None and bf is not None
    assert bd.compiled and not bf.compiled
    assert set(bd.candidates) < set(bf.candidates)  # fewer candidates than the floor alone
    vd, vf = _v(dated), _v(floor_only)
    # CTX696604 (fixed 14.1-72.61 / 13.1-63.18, June 2026): a March 2026 build is vulnerable
    assert vf["CTX696604"].verdict is Verdict.UNKNOWN
    assert vd["CTX696604"].verdict is Verdict.VULNERABLE and vd["CTX696604"].basis is VerdictBasis.DATED
    # bulletins fixed below the floor on both trains are not vulnerable either way
    assert vd["CTX694938"].verdict is Verdict.NOT_VULNERABLE and vf["CTX694938"].verdict is Verdict.NOT_VULNERABLE
    # CTX696300 (fixed 14.1-66.59 the week after): undecidable from a date
    assert vd["CTX696300"].verdict is Verdict.UNKNOWN and vd["CTX696300"].open_question is not None
    assert sum(a.verdict is not Verdict.UNKNOWN for a in dated.advisories) > \
        sum(a.verdict is not Verdict.UNKNOWN for a in floor_only.advisories)


def test_floor_and_date_disagreeing_is_unknown() -> None:
    # The candidates of a floor say not vulnerable but the date says the build predates the fix:
    # the evidence contradicts itself, so neither answer is given.
    adv = A.get("CTX694938")
    assert adv is not None
    res = assess(A, [parse_build("14.1-60.58")], {"gateway": "met"})  # type: ignore[dict-item]
    a = next(x for x in res.advisories if x.id == "CTX694938")
    assert a.verdict is Verdict.NOT_VULNERABLE
    info = _scan(rdx_zeroed()).build
    assert info is not None
    early = DatedBuild(dt.datetime(2024, 1, 1, tzinfo=UTC), "test", (Train("14.1", Edition.STANDARD),), {})
    [out] = bounded_verdicts(A, T, [a], info, "floor", early, {})
    assert out.verdict is Verdict.UNKNOWN


def test_exact_builds_are_untouched() -> None:
    r = _scan(rdx_gz(1535167752))  # 12.1-49.23, Fox-IT
    assert r.build is not None and r.build.exact and r.build.compiled is None
    assert all(a.basis is VerdictBasis.BUILD for a in r.advisories)


# -- what would decide it -------------------------------------------------------------------------


def test_open_questions_name_the_deciding_fact() -> None:
    # a data gap on a known build
    res = assess(A, [parse_build("12.1-55.200")])
    q = {a.id: a.open_question for a in res.advisories if a.verdict is Verdict.UNKNOWN}
    assert q and all(x is not None and x.kind is QuestionKind.DATA and "12.1-FIPS" in x.question for x in q.values())
    # no build: ask for it
    res = assess(A, [])
    assert all(a.open_question is not None and a.open_question.kind is QuestionKind.BUILD for a in res.advisories)
    # decided verdicts ask nothing
    res = assess(A, [parse_build("14.1-47.48")], {"gateway": "met"})  # type: ignore[dict-item]
    assert all(a.open_question is None for a in res.advisories if a.verdict is not Verdict.UNKNOWN)


def test_question_and_basis_in_json_and_markdown() -> None:
    from nscheck.report.markdown import host_markdown

    stamp = int(dt.datetime(2021, 5, 3, 9, 0, tzinfo=UTC).timestamp())
    r = _scan(rdx_gz(stamp))
    d = r.to_dict()
    adv = {a["id"]: a for a in d["advisories"]}
    assert adv["CTX579459"]["basis"] == "dated" and adv["CTX267027"]["open_question"]["kind"] == "build"
    assert d["build"]["compiled"] == "2021-05-03T09:00:00Z"
    back = HostResult.from_dict(d)
    assert back.advisories == r.advisories and back.build == r.build
    md = host_markdown(r)
    assert "What would decide the unknown bulletins:" in md and "exact build?" in md
    assert "**vulnerable** (dated)" in md and "Compiled: 2021-05-03T09:00:00Z" in md
    assert HostResult("t", HostStatus.OK, product=ProductInfo(True)).to_dict()["build"] is None
