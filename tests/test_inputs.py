"""Fail fast: a broken rule file or rule option of any kind stops the run with exit 64 before its
first request, naming the file and line (issue 14 §1).

A loopback HTTP server counts what reaches it; each case breaks one input of a copy of the
shipped signature set (or passes one bad option) and asserts exit 64, the location on stderr and
zero requests. The control case (nothing broken) proves the server would have been reached.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import SHIPPED_SIGNATURES as SHIPPED
from conftest import CountingHandler, _run_cli

from nscheck.exitcodes import ExitCode


def _cli(args: list[str]) -> tuple[int, str, str]:
    return _run_cli(args)


def _scan(url: str, sigdir: Path, *extra: str) -> tuple[int, str, str]:
    return _cli(["scan", url, "--signatures", str(sigdir), "--format", "json", "--timeout", "2", "--retries", "0",
                 "--host-deadline", "5", *extra])


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{path.name} no longer contains {old!r}: update this test's mutation"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def _line_of(path: Path, needle: str) -> int:
    return next(n for n, ln in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if needle in ln)


def test_control_a_good_set_reaches_the_server(counting_server: tuple[str, type[CountingHandler]], signatures_copy: Path) -> None:
    url, handler = counting_server
    code, out, err = _scan(url, signatures_copy)
    assert code in (ExitCode.OK, ExitCode.FINDINGS), err
    assert handler.hits > 0 and '"not_netscaler"' in out


# (name, break the copy of signatures/ -> (file, line or None, text expected on stderr), extra args)
Breaker = Callable[[Path, Path], tuple[str, int | None, str]]


def _bulletin(d: Path, tmp: Path) -> tuple[str, int | None, str]:
    f = d / "advisories" / "CTX249976.yaml"
    _edit(f, "fixed: 12.1-49.23", "fixed: 12.1-banana")
    return str(f), _line_of(f, "12.1-banana"), "12.1-banana"


def _lifecycle(d: Path, tmp: Path) -> tuple[str, int | None, str]:
    f = d / "lifecycle.yaml"
    _edit(f, "status: eol", "status: sometimes")
    return str(f), _line_of(f, "sometimes"), "status"


def _fingerprint_table(d: Path, tmp: Path) -> tuple[str, int | None, str]:
    f = d / "fingerprints" / "netscaler_vhash_to_build.csv"
    with f.open("a", encoding="utf-8") as fh:
        fh.write("26df0e65fba681faaeb333058a8b28bf,14.1-not.a.build,1543395386,test,high,broken row\n")
    return str(f), len(f.read_text(encoding="utf-8").splitlines()), "not.a.build"


def _indicator_rule(d: Path, tmp: Path) -> tuple[str, int | None, str]:
    f = d / "indicators" / "portal_exfil.yaml"
    _edit(f, "    severity: high\n", "    severity: apocalyptic\n")
    return str(f), _line_of(f, "apocalyptic"), "severity"


def _allowlist(d: Path, tmp: Path) -> tuple[str, int | None, str]:
    f = d / "indicators" / "allowlist.yaml"
    _edit(f, "  - google-analytics.com\n", "  - google-analytics.com\n  - https://cdn.example/path\n")
    return str(f), None, "cdn.example/path"  # the loader names the list's line (any line is checked)


BROKEN_FILES: dict[str, Breaker] = {
    "bulletin": _bulletin,
    "lifecycle": _lifecycle,
    "fingerprint_table": _fingerprint_table,
    "indicator_rule": _indicator_rule,
    "allowlist": _allowlist,
}


@pytest.mark.parametrize("kind", sorted(BROKEN_FILES))
def test_a_broken_rule_file_exits_64_before_any_request(kind: str, counting_server: tuple[str, type[CountingHandler]], signatures_copy: Path,
                                                        tmp_path: Path) -> None:
    url, handler = counting_server
    file, line, text = BROKEN_FILES[kind](signatures_copy, tmp_path)
    code, _out, err = _scan(url, signatures_copy)
    assert code == ExitCode.USAGE, err
    assert handler.hits == 0
    assert Path(file).name in err and text in err, err
    assert re.search(rf"{re.escape(Path(file).name)}:\d+", err), err
    if line is not None:
        assert f"{Path(file).name}:{line}" in err, err
    assert "Traceback" not in err


def test_dry_run_checks_the_inputs_too(counting_server: tuple[str, type[CountingHandler]], signatures_copy: Path, tmp_path: Path) -> None:
    url, handler = counting_server
    _allowlist(signatures_copy, tmp_path)
    code, out, err = _scan(url, signatures_copy, "--dry-run")
    assert code == ExitCode.USAGE and "allowlist.yaml" in err and out == ""
    assert handler.hits == 0


def _bad_option_cases(tmp: Path) -> dict[str, tuple[list[str], str]]:
    bad_file = tmp / "allow.txt"
    bad_file.write_text("# ours\nidp.example.com\nhttps://x.example/path\nftp://y.example\n", encoding="utf-8")
    supp = tmp / "suppressions.yaml"
    supp.write_text("- host: '*'\n  id: CTX249976\n  reason: accepted\n  expires: someday\n", encoding="utf-8")
    return {
        "allow_origin_value": (["--allow-origin", "http://[bad"], "--allow-origin: 'http://[bad'"),
        "allow_origin_file_line": (["--allow-origin-file", str(bad_file)], f"{bad_file}:3:"),
        "allow_origin_file_every_line": (["--allow-origin-file", str(bad_file)], f"{bad_file}:4:"),
        "allow_origin_file_missing": (["--allow-origin-file", str(tmp / "nope.txt")], "nope.txt"),
        "suppressions": (["--suppressions", str(supp)], f"{supp}:4"),
        "indicator_paths": (["--indicator-paths", "everything"], "--indicator-paths"),
    }


@pytest.mark.parametrize("case", ["allow_origin_value", "allow_origin_file_line", "allow_origin_file_every_line",
                                  "allow_origin_file_missing", "suppressions", "indicator_paths"])
def test_a_bad_rule_option_exits_64_before_any_request(case: str, counting_server: tuple[str, type[CountingHandler]],
                                                       tmp_path: Path) -> None:
    url, handler = counting_server
    args, expected = _bad_option_cases(tmp_path)[case]
    code, _out, err = _scan(url, SHIPPED, *args)
    assert code == ExitCode.USAGE, err
    assert expected in err, err
    assert handler.hits == 0
    assert "Traceback" not in err


def test_no_indicators_needs_no_indicator_rules(counting_server: tuple[str, type[CountingHandler]], signatures_copy: Path, tmp_path: Path) -> None:
    # Only what the run uses is required: with the checks off, their rules are not read.
    url, handler = counting_server
    _indicator_rule(signatures_copy, tmp_path)
    code, _out, err = _scan(url, signatures_copy, "--no-indicators")
    assert code in (ExitCode.OK, ExitCode.FINDINGS), err
    assert handler.hits > 0


def test_triage_with_a_broken_rule_or_bulletin_exits_64_before_reading(signatures_copy: Path, tmp_path: Path) -> None:
    bundle = tmp_path / "appliance"
    (bundle / "nsconfig").mkdir(parents=True)
    (bundle / "nsconfig" / "ns.conf").write_text("#NS14.1 Build 43.50\n", encoding="utf-8")
    rule = signatures_copy / "triage" / "known_bad.yaml"
    _edit(rule, "    severity: high\n", "    severity: apocalyptic\n")
    out_dir = tmp_path / "out"
    code, _out, err = _cli(["triage", str(bundle), "--signatures", str(signatures_copy), "-o", str(out_dir)])
    assert code == ExitCode.USAGE and "known_bad.yaml" in err and "Traceback" not in err, err
    assert not out_dir.exists() or not any(out_dir.iterdir())
    # the bulletins the triage assesses the found build against are checked up front as well
    # (a fresh copy: loaded sets are cached per directory for the life of the process)
    other = tmp_path / "other-signatures"
    shutil.copytree(SHIPPED, other)
    _bulletin(other, tmp_path)
    code, _out, err = _cli(["triage", str(bundle), "--signatures", str(other), "-o", str(out_dir)])
    assert code == ExitCode.USAGE and "CTX249976.yaml" in err, err
