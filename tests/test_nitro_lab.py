"""Authenticated NITRO checks against the lab over real loopback TLS sockets."""

from __future__ import annotations

import contextlib
import io
import json
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from nscheck.model import HostResult, Precondition, Verdict

lab_mod = pytest.importorskip("nscheck.lab")
pytestmark = pytest.mark.lab

from nscheck.lab.nitro import LAB_NITRO_PASSWORD, LAB_NITRO_USER  # noqa: E402

COMMON = ["--timeout", "3", "--host-deadline", "30", "--retries", "0", "-c", "8", "--no-progress"]


@pytest.fixture(scope="module")
def lab() -> Iterator[Any]:
    with lab_mod.start_lab("nitro") as running:
        yield running


def _scan(args: list[str], env: dict[str, str] | None = None) -> tuple[int, str, str]:
    from nscheck.cli import main

    out, err = io.StringIO(), io.StringIO()
    old = dict(os.environ)
    os.environ.pop("NSCHECK_NITRO_PASSWORD", None)
    os.environ.update(env or {})
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), pytest.raises(SystemExit) as ex:
            main(["scan", *args, *COMMON])
    finally:
        os.environ.clear()
        os.environ.update(old)
    return int(ex.value.code or 0), out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def runs(lab: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    d = Path(tmp_path_factory.mktemp("nitro"))
    _plain_code, plain_out, _ = _scan([*lab.target_urls, "--format", "json"])
    n_before = len(lab.request_log)
    code, out, err = _scan([*lab.target_urls, "--format", "json", "--nitro-user", LAB_NITRO_USER,
                            "--jsonl", str(d / "f.jsonl"), "--output-dir", str(d / "out"), "--state", str(d / "s.db"),
                            "--csv", str(d / "f.csv"), "--html", str(d / "f.html")],
                           env={"NSCHECK_NITRO_PASSWORD": LAB_NITRO_PASSWORD})
    assert code in (0, 1), err
    by = {t.url: t.name for t in lab.targets}
    with_ = {by[x["target"]]: x for x in json.loads(out)}
    without = {by[x["target"]]: x for x in json.loads(plain_out)}
    return {"with": with_, "without": without, "dir": d, "stderr": err, "stdout": out,
            "methods": {m for m, _p, _n in list(lab.request_log)[n_before:]}, "all_methods": {m for m, _p, _n in lab.request_log}}


def _undecidable_roles() -> set[str]:
    from nscheck.nitro.rolemap import load_nitro_map
    from nscheck.paths import signatures_dir

    nm = load_nitro_map(signatures_dir(None))
    return {r for r, why in nm.decidable().items() if why is not None} | {
        r for r, rule in nm.roles.items() if rule.absent_means == "unknown"}


def test_every_nitro_host_has_an_exact_build_and_no_answerable_unknown(runs: dict[str, Any]) -> None:
    from nscheck.assess.advisories import load_default

    advs = {a.id: a for a in load_default(None).advisories}
    undecidable = _undecidable_roles()
    ok = [n for n, d in runs["with"].items() if (d.get("extra") or {}).get("nitro", {}).get("status") in ("ok", "partial")]
    assert len(ok) >= 6
    for name in ok:
        r = HostResult.from_dict(runs["with"][name])
        assert r.build is not None and r.build.exact and r.build.edition, name
        assert any(m.method == "nitro" for m in r.build.methods), name
        for a in r.advisories:
            if a.verdict is not Verdict.UNKNOWN:
                continue
            roles = {x for c in advs[a.id].cves for g in (c.requires or ()) for x in g}
            assert roles & undecidable, f"{name}: {a.id} unknown although NITRO decides all its roles: {a.reason}"


def test_verdicts_definite_only_thanks_to_nitro(runs: dict[str, Any]) -> None:
    w, wo = runs["with"], runs["without"]
    name = "nitro-gw-nosaml-14.1-66.59"
    assert not (wo[name]["build"] or {}).get("exact")  # zeroed stamp: remotely not exact
    assert w[name]["build"]["exact"] and w[name]["build"]["build"] == "66.59"
    ctx = {a["id"]: a for a in w[name]["advisories"]}["CTX697174"]
    assert ctx["verdict"] == "not_vulnerable" and ctx["method"] == "nitro"
    assert any("saml" in e["detail"] for e in ctx["evidence"])
    # SAML IdP only and SAML SP only both meet CTX697174's precondition.
    for n in ("nitro-gw-saml-idp-14.1-47.46", "nitro-aaa-saml-sp-13.1-59.22", "nitro-fips-13.1-37.241"):
        a = {a["id"]: a for a in w[n]["advisories"]}["CTX697174"]
        assert a["verdict"] == "vulnerable" and a["precondition"] == Precondition.MET.value, n
    fips = w["nitro-fips-13.1-37.241"]["build"]
    assert fips["edition"] == "fips"


def test_mitigated_is_its_own_state(runs: dict[str, Any]) -> None:
    d = runs["with"]["nitro-mitigated-14.1-73.37"]
    a = {a["id"]: a for a in d["advisories"]}["CTX697174"]
    assert a["verdict"] == "mitigated" and "not patched" in a["reason"]
    assert d["verdict"] == "vulnerable"  # never "not vulnerable"
    mds = "".join(p.read_text() for p in (runs["dir"] / "out").glob("*.md"))  # reports render it
    assert "**mitigated**" in mds
    assert "## Authenticated checks (NITRO)" in mds and "Mitigation in place for CTX697174 (not a fix)" in mds


def test_failures_are_per_host_notes(runs: dict[str, Any]) -> None:
    w, wo = runs["with"], runs["without"]
    wrong = w["nitro-wrong-creds-14.1-43.50"]
    assert wrong["extra"]["nitro"]["status"] == "rejected"
    assert any("401" in s["reason"] for s in wrong["skipped"])
    assert wrong["build"] == wo["nitro-wrong-creds-14.1-43.50"]["build"]  # remote result kept
    ro = w["nitro-readonly-13.1-58.21"]
    assert any(s["what"] == "nitro_files" and "not permitted" in s["reason"] for s in ro["skipped"])
    assert any("systemfile" in s["reason"] and "403" in s["reason"] for s in ro["skipped"])
    assert ro["build"]["exact"]
    dis = w["nitro-disabled-13.1-61.26"]
    assert dis["extra"]["nitro"]["status"] == "disabled" and dis["status"] == "ok"
    plain = w["plain-nginx"]
    assert any(s["what"] == "nitro" and "not identified as NetScaler" in s["reason"] for s in plain["skipped"])


def test_webshell_file_found_with_systemfile(runs: dict[str, Any]) -> None:
    d = runs["with"]["nitro-compromised-14.1-47.48"]
    assert any(i["check"] == "nitro_file" and i["path"].endswith("/LogonPoint/index.php") for i in d["indicators"])


def test_without_credentials_results_are_unchanged(lab: Any) -> None:
    # Two plain scans of a subset agree with each other and carry no NITRO trace.
    urls = [lab.target("nitro-gw-saml-idp-14.1-47.46").url, lab.target("nitro-gw-nosaml-14.1-66.59").url]
    _, out, _ = _scan([*urls, "--format", "json"])
    for d in json.loads(out):
        assert "nitro" not in (d.get("extra") or {})
        assert not any(s["what"].startswith("nitro") for s in d["skipped"])
        assert all("method" not in a for a in d["advisories"])


def test_only_get_and_head_are_sent(runs: dict[str, Any]) -> None:
    assert runs["methods"] and runs["methods"] <= {"GET", "HEAD"}
    assert runs["all_methods"] <= {"GET", "HEAD"}


def test_password_appears_nowhere(runs: dict[str, Any]) -> None:
    pw = LAB_NITRO_PASSWORD
    assert pw not in runs["stdout"] and pw not in runs["stderr"]
    for p in runs["dir"].rglob("*"):
        if p.is_file():
            assert pw.encode() not in p.read_bytes(), p
    con = sqlite3.connect(runs["dir"] / "s.db")
    for (name,) in con.execute("SELECT name FROM sqlite_master WHERE type='table'").fetchall():
        for row in con.execute(f"SELECT * FROM {name}").fetchall():
            assert pw not in repr(row), name


def test_dry_run_lists_nitro_requests_masked(lab: Any) -> None:
    url = lab.target("nitro-gw-saml-idp-14.1-47.46").url
    before = len(lab.request_log)
    code, out, err = _scan([url, "--dry-run", "--nitro-user", LAB_NITRO_USER],
                           env={"NSCHECK_NITRO_PASSWORD": LAB_NITRO_PASSWORD})
    assert code == 0 and len(lab.request_log) == before
    assert "GET " + url.rstrip("/") + "/nitro/v1/config/nsversion" in out
    assert "X-NITRO-PASS: ***" in out and LAB_NITRO_PASSWORD not in out + err


def test_bad_credentials_setup_is_a_usage_error(lab: Any, tmp_path: Path) -> None:
    url = lab.target("nitro-gw-saml-idp-14.1-47.46").url
    before = len(lab.request_log)
    code, _, err = _scan([url, "--nitro-user", LAB_NITRO_USER])  # no password anywhere
    assert code == 64 and "NSCHECK_NITRO_PASSWORD" in err and len(lab.request_log) == before
    f = tmp_path / "pw"
    f.write_text(LAB_NITRO_PASSWORD)
    os.chmod(f, 0o644)
    code, _, err = _scan([url, "--nitro-user", LAB_NITRO_USER, "--nitro-password-file", str(f)])
    assert code == 64 and "chmod 600" in err and LAB_NITRO_PASSWORD not in err and len(lab.request_log) == before


def test_unknown_turning_definite_is_a_decision_not_a_new_finding(lab: Any, tmp_path: Path) -> None:
    from nscheck.state.store import StateStore

    db = tmp_path / "s.db"
    urls = [lab.target("nitro-gw-saml-idp-14.1-47.46").url, lab.target("nitro-gw-nosaml-14.1-66.59").url]
    _scan([*urls, "--format", "json", "--state", str(db)])
    _, out, _ = _scan([*urls, "--format", "json", "--state", str(db), "--jsonl", str(tmp_path / "f.jsonl"),
                       "--nitro-user", LAB_NITRO_USER], env={"NSCHECK_NITRO_PASSWORD": LAB_NITRO_PASSWORD})
    docs = {d["target"]: d for d in json.loads(out)}
    # Zeroed stamp: remotely only a floor (unknown); NITRO's exact build decides.
    nos = docs[urls[1]]
    metas = [m for m in nos["extra"]["findings"].values() if m.get("decided")]
    assert metas and all(m["transition"] != "new" for m in metas)
    assert {"from": "unknown", "to": "vulnerable", "method": "nitro"} in [m["decided"] for m in metas]
    decided = [d for d in nos["extra"]["resolved"] if d.get("decided")]
    assert any(d["rule_id"] == "CTX697174" and d["decided"]["to"] == "not_vulnerable" for d in decided)
    # "vulnerable if SAML is configured" stays vulnerable once NITRO shows SAML IdP: same finding.
    idp = docs[urls[0]]
    ctx = {a["id"]: a for a in idp["advisories"]}["CTX697174"]
    assert ctx["verdict"] == "vulnerable" and ctx["precondition"] == "met" and ctx["method"] == "nitro"
    assert all(m["transition"] != "new" for m in idp["extra"]["findings"].values() if m.get("transition"))
    store = StateStore.open(str(db))
    try:
        hist = store.history()
    finally:
        store.close()
    from nscheck.cli.history import render_table

    text = render_table(hist)
    assert "(unknown->vulnerable by nitro)" in text
    assert "decided " in text and "CTX697174 (unknown->not_vulnerable by nitro)" in text, text
    assert "by nitro]" in text  # open findings say which method decided them
    assert LAB_NITRO_PASSWORD not in text and LAB_NITRO_PASSWORD not in (tmp_path / "f.jsonl").read_text()
    events = [json.loads(line) for line in (tmp_path / "f.jsonl").read_text().splitlines()]
    fins = [e["nscheck"] for e in events if e.get("event", {}).get("dataset") == "nscheck.finding"]
    assert any(f.get("method") == "nitro" and f.get("evidence") for f in fins)  # SIEM sees how it was decided
    assert any(f.get("decided", {}).get("from") == "unknown" for f in fins)


def test_demo_shows_a_host_decided_only_by_nitro() -> None:
    from nscheck.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), pytest.raises(SystemExit):
        main(["demo", "--format", "json"])
    assert LAB_NITRO_PASSWORD not in out.getvalue() + err.getvalue()
    docs = json.loads(out.getvalue())
    nitro = [d for d in docs if (d.get("extra") or {}).get("nitro", {}).get("status") == "ok"]
    from nscheck.lab.profiles import preset

    named = [p for p in preset("demo") if p.opt("nitro_demo")]  # zeroed 14.1-66.59, patched clean 14.1
    assert len(nitro) == len(named) == 2  # only the hosts named in the demo's credentials file are asked
    for d in nitro:
        changed = d["extra"]["nitro"]["changed"]
        assert changed and all(v.startswith("unknown -> ") for v in changed.values())
        assert d["build"]["exact"] and not any(a["verdict"] == "unknown" for a in d["advisories"]
                                               if a["id"] in changed)
    assert "lab check: all" in err.getvalue()


def test_unreachable_nitro_address_is_a_note_and_the_remote_part_stands(lab: Any, tmp_path: Path) -> None:
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    dead = s.getsockname()[1]
    s.close()  # nothing listens there now: connection refused
    url = lab.target("nitro-gw-saml-idp-14.1-47.46").url
    creds = tmp_path / "c.toml"
    creds.write_text(f'[hosts."{url}"]\nnitro = "https://127.0.0.1:{dead}"\nuser = "{LAB_NITRO_USER}"\n'
                     f'password = "{LAB_NITRO_PASSWORD}"\n')
    os.chmod(creds, 0o600)
    _, plain, _ = _scan([url, "--format", "json"])
    code, out, err = _scan([url, "--format", "json", "--nitro-credentials", str(creds)])
    assert code in (0, 1), err  # findings, not a failed scan
    d = json.loads(out)[0]
    assert d["extra"]["nitro"]["status"] == "unreachable"
    assert any(s["what"] == "nitro" and "unreachable" in s["reason"] for s in d["skipped"])
    assert d["build"] == json.loads(plain)[0]["build"] and d["status"] == "ok"
    assert LAB_NITRO_PASSWORD not in out + err


def test_exclude_applies_to_the_nitro_address(lab: Any, tmp_path: Path) -> None:
    url = lab.target("nitro-gw-saml-idp-14.1-47.46").url
    creds = tmp_path / "c.toml"
    creds.write_text(f'[hosts."{url}"]\nnitro = "https://127.0.0.9:4443"\nuser = "{LAB_NITRO_USER}"\n'
                     f'password = "{LAB_NITRO_PASSWORD}"\n')
    os.chmod(creds, 0o600)
    _, out, err = _scan([url, "--format", "json", "--nitro-credentials", str(creds), "--exclude", "127.0.0.9"])
    assert LAB_NITRO_PASSWORD not in out + err
    d = json.loads(out)[0]
    assert any(s["what"] == "nitro" and "excluded" in s["reason"] for s in d["skipped"]), d["skipped"]
    assert "nitro" not in (d.get("extra") or {})
