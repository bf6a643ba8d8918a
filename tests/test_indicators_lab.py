"""Remote indicators end to end: a real scan of the lab's ``indicators`` preset over loopback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from nscheck.lab import start_lab
from nscheck.lab.profiles import WEBSHELL_PATH
from nscheck.lab.server import RunningLab
from nscheck.model import HostResult, HostVerdict
from nscheck.options import ScanOptions
from nscheck.runner import scan_hosts

pytestmark = pytest.mark.lab


@pytest.fixture(scope="module")
def lab() -> Iterator[RunningLab]:
    with start_lab("indicators") as running:
        yield running


def _by_name(lab: RunningLab, results: list[HostResult]) -> dict[str, HostResult]:
    out: dict[str, HostResult] = {}
    for t in lab.targets:
        out[t.name] = next(r for r in results if r.url and r.url.rstrip("/") == t.url.rstrip("/"))
    return out


def _scan(lab: RunningLab, **kw: object) -> dict[str, HostResult]:
    opts = ScanOptions(timeout=5.0, host_deadline=60.0, concurrency=8, **kw)  # type: ignore[arg-type]
    return _by_name(lab, scan_hosts([t.url for t in lab.targets], opts))


def test_lab_scan_reports_skimmer_and_webshell_only_on_the_compromised_host(lab: RunningLab) -> None:
    # The lab's webshell sits at an NCSC-NL name that is also one of the 198 published paths.
    res = _scan(lab, indicator_paths="full", request_budget=400)
    bad = res["gw-compromised-14.1-43.50"]
    got = {i.id: i for i in bad.indicators}
    src = got["NSC-IOC-EXFIL-SCRIPT-SRC"]
    assert "https://cdn-metrics.example-bad.net" in src.evidence and src.url
    fx = got["NSC-IOC-EXFIL-FETCH"]
    assert "https://collect.example-bad.net" in fx.evidence
    ws = got.get("NSC-IOC-WEBSHELL-NCSC") or got["NSC-IOC-WEBSHELL-GTD"]
    assert ws.url and ws.url.endswith(WEBSHELL_PATH)
    assert "empty" in ws.evidence and "baseline" in ws.evidence
    assert bad.verdict is HostVerdict.COMPROMISED
    for i in bad.indicators:
        assert i.advice and i.references and "\n" not in i.evidence
    for name, r in res.items():
        if name != "gw-compromised-14.1-43.50":
            assert r.indicators == (), (name, r.indicators)
            if r.product.is_netscaler:
                # the checks ran (not silently skipped) on every NetScaler
                assert not any(s.what == "indicators" for s in r.skipped), (name, r.skipped)


def test_lab_default_tier_finds_the_skimmer_and_stays_within_budget(lab: RunningLab) -> None:
    res = _scan(lab)
    bad = res["gw-compromised-14.1-43.50"]
    assert {"NSC-IOC-EXFIL-SCRIPT-SRC", "NSC-IOC-EXFIL-FETCH", "NSC-IOC-WEBSHELL-NCSC"} <= {
        i.id for i in bad.indicators
    }
    for name, r in res.items():
        assert r.requests_sent <= 40, (name, r.requests_sent)
        if name != "gw-compromised-14.1-43.50":
            assert r.indicators == (), (name, r.indicators)


def test_lab_no_indicators_switch(lab: RunningLab) -> None:
    res = _scan(lab, indicators=False)
    bad = res["gw-compromised-14.1-43.50"]
    assert bad.indicators == ()
    assert any(s.what == "indicators" and "switched off" in s.reason for s in bad.skipped)


def test_lab_indicators_only_and_allow_origin(lab: RunningLab) -> None:
    res = _scan(lab, indicators_only=True, allow_origins=("cdn-metrics.example-bad.net",))
    bad = res["gw-compromised-14.1-43.50"]
    ids = {i.id for i in bad.indicators}
    assert "NSC-IOC-EXFIL-SCRIPT-SRC" not in ids  # allowed by --allow-origin
    assert "NSC-IOC-EXFIL-FETCH" in ids  # the collector is another origin
    assert bad.advisories == ()
