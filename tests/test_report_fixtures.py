"""A fixed fleet of host results every report test renders: one of each kind of answer."""

from __future__ import annotations

from nscheck.model import (
    AdvisoryResult,
    BuildInfo,
    Certificate,
    Confidence,
    Coverage,
    Evidence,
    HostResult,
    HostStatus,
    HostVerdict,
    Indicator,
    Precondition,
    ProductInfo,
    Remediation,
    Severity,
    Skipped,
    Verdict,
)
from nscheck.report.base import RunInfo, RunSummary

T0 = "2026-11-01T02:00:00Z"
RUN = RunInfo(run_id="run-fixture", started=T0, kind="scan", tool_version="0.0.0-test",
              signatures_version="2026.10.04", signatures_date="2026-10-04", command="nscheck scan (fixture)")
OBSERVER = "scanner.test"


def _adv(ctx: str, cves: tuple[str, ...], verdict: Verdict, *, cvss: float, fixed: str | None, kev: bool = False,
         exploited: bool = False, actions: tuple[str, ...] = (), title: str = "") -> AdvisoryResult:
    return AdvisoryResult(
        id=ctx, cves=cves, verdict=verdict, build_affected=verdict is Verdict.VULNERABLE if verdict is not Verdict.UNKNOWN else None,
        precondition=Precondition.MET if verdict is Verdict.VULNERABLE else Precondition.UNKNOWN, fixed_in=fixed,
        reason=f"{ctx}: fixture reason ({verdict.value})", title=title or f"{ctx} bulletin", cvss=cvss,
        severity=Severity.from_cvss(cvss), kev=kev, exploited=exploited, published="2025-06-17", actions=actions,
    )


GW_EVIDENCE = (Evidence("marker:nsc_cookie", "cookie matched 'NSC_TEMP'", "https://gw1.example.test/logon/LogonPoint/index.html",
                        Confidence.HIGH),)
RDX = Evidence("rdx_stamp", "stamp 1740156084 = 14.1-43.50", "https://gw1.example.test/vpn/js/rdx/core/lang/rdx_en.json.gz",
               Confidence.HIGH)
BLEED2 = _adv("CTX693420", ("CVE-2025-5777", "CVE-2025-5349"), Verdict.VULNERABLE, cvss=9.3, fixed="14.1-43.56", kev=True,
              exploited=True, actions=("kill icaconnection -all", "kill pcoipConnection -all"), title="CitrixBleed 2")
MEDIUM = _adv("CTX695486", ("CVE-2025-12101",), Verdict.VULNERABLE, cvss=5.9, fixed="14.1-56.73")
OLD = _adv("CTX267027", ("CVE-2019-19781",), Verdict.NOT_VULNERABLE, cvss=9.8, fixed=None, kev=True, exploited=True)
UNK = _adv("CTX696300", ("CVE-2026-3055",), Verdict.UNKNOWN, cvss=9.3, fixed="14.1-66.59", kev=True, exploited=True)


# The shape nscheck.triage.runner produces (abridged): what was checked, and what was not.
TRIAGE_COVERAGE = {
    "source": {"path": "collect-gw4.tar.gz", "type": "tar", "entries": 1402, "files": 1234, "bytes_read": 52_428_800,
               "duration_s": 3.9},
    "sources": [{"path": "collect-gw4.tar.gz", "type": "tar", "support_bundle": False}],
    "collected_at": "2026-10-30T09:00:00Z", "collected_at_source": "--collected-at",
    "metadata": {"mode": True, "owner": True, "mtime": True, "ctime": False, "birthtime": False,
                 "notes": ["tar keeps mode, owner and mtime but not ctime or birth time"]},
    "families": {
        "webshell": {"rules": 2, "entries_examined": 31, "hits": 1, "status": "checked"},
        "log": {"rules": 12, "entries_examined": 6, "hits": 0, "lines": 48211, "files": 6, "status": "checked"},
        "timestomp": {"rules": 1, "entries_examined": 1234, "hits": 0, "with_birthtime": 0, "without_birthtime": 1234,
                      "reason": "no birth times in this source (tar archives and copies drop ctime and birth time); "
                                "a stat listing with %B or a disk image is needed", "status": "not checked"},
        "yara": {"rules": 2, "entries_examined": 40, "hits": 0, "status": "skipped",
                 "reason": "yara-python is not installed (pip install 'nscheck[yara]')"},
    },
    "areas_present": {"/var/netscaler/logon": 310, "/var/log": 6, "/var/core": 0},
    "missing": [{"area": "/var/core", "unchecked": "NSPPE core dumps (YARA)"}],
    "logs": {"files": 6, "listed": [{"path": "/var/log/ns.log", "lines": 48000, "first": "Oct 28 00:00:01",
                                     "last": "Oct 30 08:59:59"}],
             "note": "a clean result over a few days of logs means little: check the first/last times"},
    "refused": ["var/tmp/dev0: device node"], "refused_count": 1,
    "unreadable": [{"path": "/var/log/ns.log.3.gz", "reason": "compressed log damaged, read up to the damage"}],
    "unreadable_count": 1, "content_truncated_files": 0,
    "extras": {"yara": "not installed", "dissect.target": "not installed"},
    "config": {"ns.conf": None, "header": None, "facts": {}},
    "next_steps": ["collect the missing areas (/var/core) and run triage again",
                   "install yara-python (pip install 'nscheck[yara]') to scan cores and web files with YARA"],
}


def fleet() -> list[HostResult]:
    vulnerable = HostResult(
        target="gw1.example.test", status=HostStatus.OK, url="https://gw1.example.test:443",
        product=ProductInfo(True, ("gateway",), Confidence.HIGH, GW_EVIDENCE),
        build=BuildInfo("14.1", "43.50", "standard", True, ("14.1-43.50",), (RDX,), Confidence.HIGH),
        advisories=(BLEED2, MEDIUM, OLD),
        remediation=Remediation("14.1-56.73", False, "Upgrade to 14.1-56.73 or later.",
                                ("kill icaconnection -all", "kill pcoipConnection -all"), True),
        certificate=Certificate("CN=gw1.example.test", "CN=Example CA", ("gw1.example.test",), "2027-01-01T00:00:00Z"),
        requests_sent=12, duration_ms=830, started=T0,
    )
    clean = HostResult(
        target="gw2.example.test", status=HostStatus.OK, url="https://gw2.example.test:443",
        product=ProductInfo(True, ("gateway",), Confidence.HIGH, GW_EVIDENCE),
        build=BuildInfo("14.1", "73.41", "standard", True, ("14.1-73.41",), (RDX,), Confidence.HIGH),
        advisories=(OLD,), remediation=Remediation(None), requests_sent=10, duration_ms=700, started=T0,
    )
    fips = HostResult(
        target="10.0.0.7", status=HostStatus.OK, url="https://10.0.0.7:443",
        product=ProductInfo(True, ("aaa",), Confidence.HIGH, GW_EVIDENCE),
        build=BuildInfo("13.1", "37.241", "fips", True, ("13.1-37.241 FIPS",), (), Confidence.HIGH),
        advisories=(_adv("CTX694938", ("CVE-2025-7775",), Verdict.VULNERABLE, cvss=9.2, fixed="13.1-37.246", kev=True,
                         exploited=True),),
        remediation=Remediation("13.1-37.246", check_compromise=True), requests_sent=11, duration_ms=650, started=T0,
    )
    unknown = HostResult(
        target="[::1]:8443", status=HostStatus.OK, url="https://[::1]:8443",
        product=ProductInfo(True, ("gateway",), Confidence.MEDIUM, GW_EVIDENCE),
        build=BuildInfo("14.1", None, None, False, ("14.1-66.54", "14.1-66.59"), (), Confidence.LOW, floor=None),
        advisories=(UNK, OLD), requests_sent=15, duration_ms=900, started=T0,
        skipped=(Skipped("build", "stamp not in the table"),),
    )
    unreachable = HostResult(
        target="gw9.example.test", status=HostStatus.UNREACHABLE, url="https://gw9.example.test:443",
        error="connect timeout", requests_sent=2, duration_ms=5000, started=T0,
    )
    not_ns = HostResult(
        target="www.example.test", status=HostStatus.OK, url="https://www.example.test:443",
        product=ProductInfo(False, (), Confidence.MEDIUM, (Evidence("product", "no NetScaler marker on any page"),)),
        requests_sent=5, duration_ms=300, started=T0,
    )
    compromised = HostResult(
        target="gw3.example.test", status=HostStatus.OK, url="https://gw3.example.test:443",
        product=ProductInfo(True, ("gateway",), Confidence.HIGH, GW_EVIDENCE),
        build=BuildInfo("13.1", "58.21", "standard", True, ("13.1-58.21",), (), Confidence.HIGH),
        advisories=(_adv("CTX694938", ("CVE-2025-7775",), Verdict.VULNERABLE, cvss=9.2, fixed="13.1-59.22", kev=True,
                         exploited=True),),
        indicators=(Indicator("webshell-php-vpn-themes", "PHP webshell under /vpn/themes", Severity.CRITICAL,
                              Confidence.HIGH, "HTTP 200 with <?php eval(", check="webshell",
                              url="https://gw3.example.test/vpn/themes/x.php", advice="Rebuild the appliance."),),
        remediation=Remediation("13.1-59.22", check_compromise=True), requests_sent=20, duration_ms=1200, started=T0,
    )
    triage = HostResult(
        target="collect-gw4.tar.gz", status=HostStatus.OK, kind="triage",
        indicators=(Indicator("ncsc-webshell-eval", "Webshell: eval of request data", Severity.HIGH, Confidence.HIGH,
                              "line 3: eval($_POST[...])", check="webshell", path="/var/netscaler/logon/themes/a.php",
                              line=3, file={"size": 812, "mtime": "2025-07-02T11:00:00Z", "sha256": "ab" * 32}),),
        coverage=Coverage.from_dict(TRIAGE_COVERAGE),
        started=T0, duration_ms=4000,
    )
    return [vulnerable, clean, fips, unknown, unreachable, not_ns, compromised, triage]


def summary(results: list[HostResult]) -> RunSummary:
    from collections import Counter

    return RunSummary(run=RUN, ended="2026-11-01T02:00:30Z", duration_ms=30000, hosts=len(results),
                      counts=dict(Counter(r.verdict.value for r in results)),
                      requests_sent=sum(r.requests_sent for r in results))


def test_fixture_covers_every_answer() -> None:
    verdicts = {r.verdict for r in fleet()}
    assert verdicts == set(HostVerdict)
    assert any(r.kind == "triage" for r in fleet())
