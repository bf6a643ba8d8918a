"""Skips carry a machine-readable kind; a check that could not run (data_error / internal_error)
counts as unknown for the exit code, fails a --strict run and is said once per distinct error on
stderr (issue 14 §2)."""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Iterator

import jsonschema
import pytest

from nscheck.exitcodes import ExitCode
from nscheck.model import (
    AdvisoryResult,
    HostResult,
    HostStatus,
    Precondition,
    ProductInfo,
    SkipKind,
    Skipped,
    Verdict,
)
from nscheck.paths import schemas_dir
from nscheck.report.exitcodes import ExitTally

CLEAN_ADV = AdvisoryResult("CTX1", ("CVE-1",), Verdict.NOT_VULNERABLE, False, Precondition.UNKNOWN, None, "fixed")


def host(target: str, *skips: Skipped) -> HostResult:
    return HostResult(target=target, status=HostStatus.OK, url=f"https://{target}/", product=ProductInfo(True),
                      advisories=(CLEAN_ADV,), skipped=skips)


BUG = Skipped("indicators", "internal error: KeyError: 'x'", SkipKind.INTERNAL_ERROR)
BUDGET = Skipped("login page scripts", "3 of 8 first-party scripts not checked: request budget", SkipKind.BUDGET)


def tally(*results: HostResult) -> ExitTally:
    t = ExitTally()
    for r in results:
        t.host(r)
    return t


def test_expected_gaps_do_not_change_the_exit_code() -> None:
    t = tally(host("a", BUDGET, Skipped("indicators", "switched off (--no-indicators)", SkipKind.DISABLED)))
    assert t.code("high", True, strict=True) == ExitCode.OK
    assert t.error_lines() == []


def test_a_check_that_broke_counts_as_unknown_and_fails_strict() -> None:
    t = tally(host("a", BUG), host("b"))
    assert host("a", BUG).verdict.value == "not_vulnerable"  # the bulletins still hold ...
    assert t.code("high") == ExitCode.OK  # ... so without a flag asking for it the run passes,
    assert t.code("high", fail_on_unknown=True) == ExitCode.UNKNOWN  # but it is a blind spot
    assert t.code("high", strict=True) == ExitCode.UNKNOWN
    assert t.code("none", strict=True) == ExitCode.UNKNOWN


def test_findings_still_win_over_a_broken_check() -> None:
    vuln = AdvisoryResult("CTX2", ("CVE-2",), Verdict.VULNERABLE, True, Precondition.MET, "14.1-1.1", "old", cvss=9.8)
    r = HostResult(target="v", status=HostStatus.OK, product=ProductInfo(True), advisories=(vuln,), skipped=(BUG,))
    assert tally(r).code("high", strict=True) == ExitCode.FINDINGS


def test_one_line_per_distinct_error_with_host_count() -> None:
    data = Skipped("triage", "cannot read x.tar: \x1b[31mtruncated", SkipKind.DATA_ERROR)
    t = tally(host("a", BUG), host("b", BUG, data), host("c", BUG))
    lines = t.error_lines()
    assert lines == [
        "nscheck: internal_error: indicators: internal error: KeyError: 'x' (3 hosts, first a)",
        "nscheck: data_error: triage: cannot read x.tar: truncated (b)",  # escape sequence removed
    ]


def test_kind_in_json_and_schema_and_round_trip() -> None:
    r = host("a", BUG, BUDGET)
    d = r.to_dict()
    assert [s["kind"] for s in d["skipped"]] == ["internal_error", "budget"]
    schema = json.loads((schemas_dir() / "nscheck.host-1.schema.json").read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator(schema).validate(json.loads(json.dumps(d)))
    assert HostResult.from_dict(d).skipped == r.skipped
    bad = json.loads(json.dumps(d))
    bad["skipped"][0]["kind"] = "oops"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(schema).validate(bad)


def test_results_saved_before_kinds_still_load() -> None:
    old = {"what": "indicators", "reason": "internal error: ValueError: y"}
    assert Skipped.from_dict(old).kind is SkipKind.INTERNAL_ERROR
    assert Skipped.from_dict({"what": "build", "reason": "not NetScaler"}).kind is SkipKind.NOT_APPLICABLE


# -- end to end: an internal error inside the indicator checks, over loopback --------------------


@pytest.fixture(scope="module")
def lab() -> Iterator[object]:
    from nscheck.lab import start_lab
    from nscheck.lab.profiles import preset

    profiles = [p for p in preset("demo") if p.name in ("gw-14.1-56.74", "gw-13.1-61.26")]
    with start_lab(profiles) as running:
        yield running


def _scan(lab: object, monkeypatch: pytest.MonkeyPatch, *extra: str) -> tuple[int, str, str]:
    import nscheck.assess.indicators as ind
    from nscheck.cli import main

    async def broken(*a: object, **k: object) -> object:
        raise RuntimeError("boom")

    monkeypatch.setattr(ind, "_check_host", broken)
    out, err = io.StringIO(), io.StringIO()
    urls = [t.url for t in lab.targets]  # type: ignore[attr-defined]
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), pytest.raises(SystemExit) as ex:
        main(["scan", *urls, "--format", "json", "--timeout", "5", "--host-deadline", "60", "--fail-on", "none", *extra])
    return int(ex.value.code or 0), out.getvalue(), err.getvalue()


@pytest.mark.lab
def test_internal_error_in_a_check_is_said_once_and_fails_strict(lab: object, monkeypatch: pytest.MonkeyPatch) -> None:
    code, out, err = _scan(lab, monkeypatch)
    assert code == ExitCode.OK  # --fail-on none, no --strict / --fail-on-unknown
    docs = json.loads(out)
    assert len(docs) == 2
    for d in docs:
        assert {"what": "indicators", "reason": "internal error: RuntimeError: boom", "kind": "internal_error"} in d["skipped"]
    lines = [ln for ln in err.splitlines() if "internal_error" in ln]
    assert len(lines) == 1 and "RuntimeError: boom" in lines[0] and "(2 hosts, first " in lines[0]
    code, _out, _err = _scan(lab, monkeypatch, "--strict")
    assert code == ExitCode.UNKNOWN
    code, _out, _err = _scan(lab, monkeypatch, "--fail-on-unknown")
    assert code == ExitCode.UNKNOWN
