"""Integration: ``nscheck scan -i FILE --format json`` against the built-in lab over real TLS
sockets on loopback. Every profile and every fault of the ``full`` preset is checked."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from nscheck.build import parse_build

pytestmark = pytest.mark.lab

lab_mod = pytest.importorskip("nscheck.lab")
DEADLINE = 4.0


@pytest.fixture(scope="module")
def lab() -> Iterator[Any]:
    with lab_mod.start_lab("full") as running:
        yield running


@pytest.fixture(scope="module")
def results(lab: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    import contextlib
    import io

    from nscheck.cli import main

    f = Path(tmp_path_factory.mktemp("lab")) / "targets.txt"
    f.write_text("# lab fleet\n" + "\n".join(lab.target_urls) + "\n\nnot a target\n")
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), pytest.raises(SystemExit) as ex:
        main(["scan", "-i", str(f), "--format", "json", "--no-indicators", "--timeout", "2",
              "--host-deadline", str(DEADLINE), "--retries", "0", "-c", "16"])
    assert ex.value.code in (0, 1)
    assert f"{f}:" in err.getvalue() and "not a target" in err.getvalue()  # bad line reported, scan went on
    data = json.loads(out.getvalue())
    assert isinstance(data, list) and len(data) == len(lab.targets)
    by_url = {d["target"]: d for d in data}
    return {t.name: by_url[t.url] for t in lab.targets}


def _names(lab: Any, kind: str | None = None, fault: bool = False) -> list[str]:
    return [t.name for t in lab.targets if (t.profile.kind == "fault") == fault and (kind is None or t.profile.kind == kind)]


def test_contract_fields(results: dict[str, dict[str, Any]]) -> None:
    for d in results.values():
        assert d["schema"] == "nscheck.host/1"
        assert d["status"] in ("ok", "unreachable", "error")
        assert (d["error"] is None) == (d["status"] == "ok")
        assert set(d["product"]) >= {"is_netscaler", "roles", "confidence", "evidence"}
        assert isinstance(d["advisories"], list) and isinstance(d["indicators"], list)
        assert d["url"].startswith("https://127.0.0.1:")
        assert isinstance(d["requests_sent"], int) and isinstance(d["duration_ms"], int)
        if d["build"] is not None:
            b = d["build"]
            assert set(b) >= {"release", "build", "edition", "exact", "candidates", "methods"}
            assert (b["build"] is not None) == b["exact"]
            for a in d["advisories"]:
                assert set(a) >= {"id", "cves", "verdict", "build_affected", "precondition", "fixed_in", "reason"}


def test_every_profile_product_roles_build(lab: Any, results: dict[str, dict[str, Any]]) -> None:
    problems = []
    for t in lab.targets:
        if t.profile.kind == "fault":
            continue
        d, e = results[t.name], t.expected
        b = d["build"]
        exact = f"{b['release']}-{b['build']}" if b and b["exact"] else None
        got = (d["status"], d["product"]["is_netscaler"], sorted(d["product"]["roles"]), exact)
        want = ("ok", e["is_netscaler"], e["roles"], e["build"])
        if got != want:
            problems.append(f"{t.name}: got {got}, want {want}")
        if e.get("floor") and not (b and b["floor"] and e["floor"] in b["floor"] and b["candidates"][0] == e["floor"]):
            problems.append(f"{t.name}: floor {e['floor']} not reported: {b}")
        if e.get("before"):
            limit = parse_build(e["before"])
            cands = [parse_build(c) for c in (b or {}).get("candidates", [])]
            if not cands or not all(c.release == limit.release and c.older_than(limit) for c in cands):
                problems.append(f"{t.name}: candidates not all before {e['before']}: {b}")
        if not e["is_netscaler"] and d["advisories"]:
            problems.append(f"{t.name}: advisories on a non-NetScaler host")
    assert not problems, "\n".join(problems)


def test_verdicts_follow_the_assessment_of_the_found_build(lab: Any, results: dict[str, dict[str, Any]]) -> None:
    from nscheck.assess.advisories import assess, load_default
    from nscheck.model import Precondition

    sigs = load_default()
    checked = 0
    for t in lab.targets:
        d = results[t.name]
        b = d["build"]
        if not (b and b["exact"]):
            continue
        facts = {r: Precondition.MET for r in d["product"]["roles"]}
        want = {a.id: a.verdict.value for a in assess(sigs, [parse_build(f"{b['release']}-{b['build']}")], facts).advisories}
        assert {a["id"]: a["verdict"] for a in d["advisories"]} == want, t.name
        checked += 1
    assert checked >= 10
    v = {n: {a["id"]: a["verdict"] for a in results[n]["advisories"]} for n in results}
    # CitrixBleed 2 (CTX693420): 14.1-43.50 is before the 14.1-43.56 fix; 14.1-47.48 and FIPS 13.1-37.241 are fixed
    assert v["gw-14.1-43.50"]["CTX693420"] == "vulnerable"
    assert v["gw-clean-14.1-47.48"]["CTX693420"] == "not_vulnerable"
    assert v["gw-fips-13.1-37.241"]["CTX693420"] == "not_vulnerable"
    # CTX697096 fixed in 14.1-73.37: the nsepa.deb floor says fixed, the old size says not
    assert v["gw-epa-floor-14.1-73.37"]["CTX697096"] == "not_vulnerable"
    assert v["gw-epa-before-14.1-73.33"]["CTX697096"] == "vulnerable"
    # zeroed stamp only (floor, newer builds possible, no file dates): never a "vulnerable" claim for
    # later fixes
    assert v["gw-zeroed-nodate-14.1-66.59"]["CTX697096"] == "unknown"
    # with file dates the compile date decides it (issue 11 §3): built March 2026, fixed September
    assert v["gw-zeroed-14.1-66.59"]["CTX697096"] == "vulnerable"
    assert results["plain-nginx"]["advisories"] == [] and results["phishing-clone"]["advisories"] == []


def test_faults_end_with_a_reason_within_the_deadline(lab: Any, results: dict[str, dict[str, Any]]) -> None:
    for name in _names(lab, fault=True):
        d = results[name]
        t = lab.target(name)
        assert d["status"] in t.expected["status_any"], (name, d["status"], d["error"])
        if d["status"] != "ok":
            assert d["error"], name
        assert d["duration_ms"] <= (DEADLINE + 2.5) * 1000, (name, d["duration_ms"])
    assert results["fault-refused"]["status"] == "unreachable" and "refused" in results["fault-refused"]["error"]
    assert results["fault-broken-tls"]["status"] == "error" and "TLS" in results["fault-broken-tls"]["error"]
    assert results["fault-drip"]["status"] == "error" and "deadline" in results["fault-drip"]["error"]
    assert results["fault-gzip-bomb"]["status"] == "error" and "bomb" in results["fault-gzip-bomb"]["error"]
    # the good hosts next to the faults still got full results
    assert results["gw-14.1-43.50"]["status"] == "ok" and results["gw-14.1-43.50"]["build"]["exact"]


def test_only_get_and_head_reach_the_lab(lab: Any, results: dict[str, dict[str, Any]]) -> None:
    seen = 0
    for t in lab.targets:
        for method, _path in lab.requests_for(t.name):
            assert method in ("GET", "HEAD"), (t.name, method)
            seen += 1
    assert seen > 50


def test_request_economy(lab: Any, results: dict[str, dict[str, Any]]) -> None:
    # exact build known -> no EPA probes; not NetScaler -> no build probes
    for name in ("gw-14.1-43.50", "gw-13.1-49.13"):
        paths = [p for _, p in lab.requests_for(name)]
        assert not any("nsepa" in p or "pluginlist" in p for p in paths), paths
        assert results[name]["requests_sent"] <= 6
    assert not any("rdx_en" in p for _, p in lab.requests_for("plain-nginx"))
    assert results["plain-nginx"]["requests_sent"] <= 5


def test_certificate_recorded(results: dict[str, dict[str, Any]]) -> None:
    c = results["gw-14.1-43.50"]["certificate"]
    assert c and c["default_netscaler"] and len(c["sha256"]) == 64 and "NS Internal" in c["subject"]
    c = results["plain-nginx"]["certificate"]
    assert c and not c["default_netscaler"]


def test_dry_run_sends_nothing(lab: Any, capsys: pytest.CaptureFixture[str]) -> None:
    from nscheck.options import ScanOptions
    from nscheck.runner import run

    name = "gw-13.1-49.13"
    before = len(lab.requests_for(name))
    assert run(ScanOptions(targets=(lab.target(name).url,), dry_run=True)) == 0
    out = capsys.readouterr().out
    assert f"GET {lab.target(name).url}/vpn/js/rdx/core/lang/rdx_en.json.gz" in out
    assert len(lab.requests_for(name)) == before


def test_ipv6_loopback_target() -> None:
    import socket

    from nscheck.options import ScanOptions
    from nscheck.runner import scan_hosts

    try:
        socket.socket(socket.AF_INET6).bind(("::1", 0))
    except OSError:
        pytest.skip("no IPv6 loopback here")
    p = [lab_mod.Profile(name="gw6", kind="netscaler", build="14.1-43.50", roles=("gateway",))]
    with lab_mod.start_lab(p, host="::1") as running:
        [url] = running.target_urls
        port = url.rsplit(":", 1)[1]
        [r] = scan_hosts([f"[::1]:{port}"], ScanOptions(timeout=2, host_deadline=DEADLINE, indicators=False))
    assert r.url == f"https://[::1]:{port}" and r.status.value == "ok"
    assert r.product.is_netscaler and r.build is not None and r.build.build == "43.50"


def test_exclusions_apply_before_any_connection(lab: Any, tmp_path: Path) -> None:
    import contextlib
    import io

    from nscheck.cli import main

    name = "gw-13.0-91.13"
    before = len(lab.requests_for(name))
    ex = tmp_path / "never.txt"
    ex.write_text("# production loopback\n127.0.0.0/8\n")
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), pytest.raises(SystemExit) as e:
        main(["scan", lab.target(name).url, lab.target(name).url, "--exclude-file", str(ex), "--format", "json"])
    # Every target excluded leaves nothing to scan: a usage error (issue 13), never a green run.
    assert e.value.code == 64 and "excluded" in err.getvalue() and out.getvalue() == ""
    assert len(lab.requests_for(name)) == before


def test_excluded_network_applies_to_resolved_names(lab: Any) -> None:
    from nscheck.options import ScanOptions
    from nscheck.runner import scan_hosts

    name = "gw-13.0-47.22"
    before = len(lab.requests_for(name))
    port = lab.target(name).port
    opts = ScanOptions(exclude=("127.0.0.0/8", "::1/128"), timeout=2, host_deadline=DEADLINE, indicators=False)
    [r] = scan_hosts([f"localhost:{port}"], opts)
    assert r.status.value == "error" and r.error and r.error.startswith("excluded: localhost resolves to")
    assert r.requests_sent == 0 and len(lab.requests_for(name)) == before


# -- dated builds (issue 11 §3) ---------------------------------------------------------------------


def test_unknown_stamp_long_before_a_fix_is_vulnerable_with_the_date(results: dict[str, dict[str, Any]]) -> None:
    d = results["gw-dated-unknown-stamp-13.0"]
    b = d["build"]
    assert d["product"]["is_netscaler"] and not b["exact"] and b["compiled"].startswith("2021-05-03")
    adv = {a["id"]: a for a in d["advisories"]}
    # CitrixBleed (CTX579459) was first fixed in 2023: a 2021 build cannot hold the fix
    a = adv["CTX579459"]
    assert a["verdict"] == "vulnerable" and a["basis"] == "dated"
    assert "compiled 2021-05-03" in a["reason"] and "first fix for CVE-2023-4966 shipped 2023-" in a["reason"]
    assert d["verdict"] == "vulnerable"
    # what a date cannot decide stays unknown and says what would decide it
    unknown = [x for x in d["advisories"] if x["verdict"] == "unknown"]
    assert unknown and all(x["open_question"] and x["open_question"]["question"] for x in unknown)


def test_zeroed_stamp_with_file_dates_narrows_and_decides(results: dict[str, dict[str, Any]]) -> None:
    from nscheck.fingerprint.engine import combine_build
    from nscheck.fingerprint.methods import BuildClaim
    from nscheck.model import Confidence
    from nscheck.paths import signatures_dir
    from nscheck.signatures.fingerprints import load

    tables = load(signatures_dir(None))
    floors = tuple(z.floor for z in tables.zeroed)
    today, _ = combine_build([BuildClaim("rdx_stamp", "floor", floors, Confidence.MEDIUM, "zeroed")], tables)
    assert today is not None
    dated, nodate = results["gw-zeroed-14.1-66.59"], results["gw-zeroed-nodate-14.1-66.59"]
    assert dated["build"]["compiled"] and nodate["build"]["compiled"] is None
    assert set(dated["build"]["candidates"]) < set(today.candidates)
    assert "14.1-66.59" in dated["build"]["candidates"]  # narrowing keeps the true build
    assert set(nodate["build"]["candidates"]) == set(today.candidates)

    def definite(d: dict[str, Any]) -> int:
        return sum(a["verdict"] != "unknown" for a in d["advisories"])

    assert definite(dated) > definite(nodate)
    vd = {a["id"]: a for a in dated["advisories"]}
    # every definite verdict agrees with the true build's own assessment
    from nscheck.assess.advisories import assess, load_default
    from nscheck.model import Precondition

    truth = {a.id: a.verdict.value for a in assess(load_default(), [parse_build("14.1-66.59")],
                                                   {r: Precondition.MET for r in dated["product"]["roles"]}).advisories}
    wrong = {k: (a["verdict"], truth[k]) for k, a in vd.items() if a["verdict"] != "unknown" and a["verdict"] != truth[k]}
    assert not wrong
