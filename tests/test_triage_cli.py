"""``nscheck triage``: JSON contract, JSONL alerts with file.*, per-appliance reports, exit codes."""

from __future__ import annotations

import json

import pytest
import triage_fixtures as tf
from typer.testing import CliRunner

from nscheck.cli import app

runner = CliRunner()
WHEN = "2026-11-20T12:00:00Z"


def _no_build(specs: list[tf.Spec]) -> list[tf.Spec]:
    """Without a build the advisory engine has nothing to say: exit codes then reflect indicators only."""
    out = []
    for s in specs:
        if s.path.startswith("/flash/ns-"):
            continue
        if s.path == "/nsconfig/ns.conf":
            s = tf.Spec(s.path, b"\n".join(ln for ln in s.data.splitlines() if not ln.startswith(b"#NS")) + b"\n")
        out.append(s)
    return out


@pytest.fixture(scope="module")
def trees(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli")
    return {
        "bad": tf.write_tar(_no_build(tf.compromised_tree()), d / "bad.tar.gz"),
        "clean": tf.write_tar(_no_build(tf.lookalike_tree()), d / "clean.tar.gz"),
        "versioned": tf.write_tar(tf.compromised_tree(), d / "versioned.tar.gz"),
    }


def _json_docs(out: str) -> list[dict]:
    dec = json.JSONDecoder()
    docs, i = [], 0
    while i < len(out):
        while i < len(out) and out[i].isspace():
            i += 1
        if i >= len(out):
            break
        doc, i = dec.raw_decode(out, i)
        docs.append(doc)
    return docs


def test_json_contract_and_exit_code(trees):
    res = runner.invoke(app, ["triage", str(trees["bad"]), "--format", "json", "--collected-at", WHEN])
    assert res.exit_code == 1, res.output
    (doc,) = _json_docs(res.stdout)
    assert doc["schema"] == "nscheck.triage/1" and doc["source"] == str(trees["bad"])
    assert doc["verdict"] == "compromised"
    ind = doc["indicators"][0]
    assert set(ind) >= {"id", "check", "path", "line", "severity", "confidence", "evidence", "file"}
    assert doc["coverage"]["collected_at"] == "2026-11-20T12:00:00Z"
    assert doc["coverage"]["families"]["log"]["status"] == "checked"


def test_clean_lookalike_exits_zero_and_says_what_was_checked(trees):
    res = runner.invoke(app, ["triage", str(trees["clean"]), "-f", "json", "--collected-at", WHEN])
    assert res.exit_code == 0, res.output
    (doc,) = _json_docs(res.stdout)
    assert doc["indicators"] == []
    cov = doc["coverage"]
    assert cov["source"]["files"] > 30 and cov["logs"]["files"] >= 5
    # the look-alike holds a stat listing for two files: timestomp is honest about the rest
    assert cov["families"]["timestomp"]["status"] == "partial"
    assert cov["families"]["timestomp"]["with_birthtime"] == 2
    assert cov["missing"] == []


def test_fail_on_thresholds(trees):
    assert runner.invoke(app, ["triage", str(trees["bad"]), "-f", "json", "--fail-on", "none"]).exit_code == 0
    assert runner.invoke(app, ["triage", str(trees["bad"]), "-f", "json", "--fail-on", "critical"]).exit_code == 1


def test_jsonl_and_output_dir(trees, tmp_path):
    jl, od = tmp_path / "f.jsonl", tmp_path / "reports"
    res = runner.invoke(app, ["triage", str(trees["bad"]), "--name", "ns-gw-01", "--jsonl", str(jl), "--output-dir", str(od),
                              "--collected-at", WHEN, "-f", "md"])
    assert res.exit_code == 1, res.output
    assert "ns-gw-01" in res.stdout
    docs = [json.loads(line) for line in jl.read_text().splitlines()]
    alerts = [d for d in docs if d.get("event", {}).get("kind") == "alert"]
    assert alerts and all(d["event"]["dataset"] == "nscheck.finding" for d in alerts)
    shell = [d for d in alerts if d.get("file", {}).get("path") == "/var/tmp/sh"]
    assert shell and len(shell[0]["file"]["hash"]["sha256"]) == 64
    files = sorted(p.suffix for p in od.iterdir())
    assert files == [".html", ".json", ".md"]
    saved = json.loads(next(od.glob("*.json")).read_text())
    assert saved["target"] == "ns-gw-01" and saved["kind"] == "triage"


def test_name_merges_paths_into_one_appliance(trees, tmp_path):
    extra = tf.write_dir([tf.f("/var/tmp/.nsmon/nsmon.pl", "x")], tmp_path / "second")
    res = runner.invoke(app, ["triage", str(trees["clean"]), str(extra), "--name", "gw", "-f", "json"])
    (doc,) = _json_docs(res.stdout)
    assert doc["target"] == "gw" and len(doc["coverage"]["sources"]) == 2
    assert "/var/tmp/.nsmon/nsmon.pl" in {i["path"] for i in doc["indicators"]}
    res = runner.invoke(app, ["triage", str(trees["clean"]), str(extra), "-f", "json"])
    assert len(_json_docs(res.stdout)) == 2


def test_build_from_artefacts_feeds_advisories(trees):
    res = runner.invoke(app, ["triage", str(trees["versioned"]), "-f", "json", "--collected-at", WHEN])
    (doc,) = _json_docs(res.stdout)
    assert doc["build"]["candidates"] == ["14.1-47.46"]
    assert doc["build"]["methods"][0]["method"] == "ns.conf header"
    assert doc["coverage"]["config"]["facts"] == {"gateway": True, "aaa": True, "saml_sp": False, "saml_idp": False}
    assert doc["advisories"] or any(s["what"] == "advisories" for s in doc["skipped"])


def test_usage_errors_exit_64(trees, tmp_path):
    from nscheck.cli import main

    with pytest.raises(SystemExit) as e:
        main(["triage", str(trees["bad"]), "--collected-at", "yesterday"])
    assert e.value.code == 64
    with pytest.raises(SystemExit) as e:
        main(["triage", str(trees["bad"]), "--format", "xml"])
    assert e.value.code == 64
    bad_sigs = tmp_path / "sigs" / "triage"
    bad_sigs.mkdir(parents=True)
    (bad_sigs / "x.yaml").write_text("schema: nscheck.triage-rules/1\nrules:\n  - id: X-1\n    check: nope\n")
    res = runner.invoke(app, ["triage", str(trees["bad"]), "--signatures", str(tmp_path / "sigs")])
    assert res.exit_code == 64
    assert "x.yaml:4: check: unknown check family" in res.output


def test_unreadable_input_and_fail_on_unknown(tmp_path):
    # A PATH that does not exist is EX_NOINPUT before any work (issue 13); one that exists but
    # cannot be read is an "unknown" result, which --fail-on-unknown turns into exit 2.
    res = runner.invoke(app, ["triage", str(tmp_path / "missing"), "-f", "json", "--fail-on-unknown"])
    assert res.exit_code == 66 and str(tmp_path / "missing") in res.output
    bad = tmp_path / "bundle.tar.gz"
    bad.write_bytes(b"not a tar archive")
    res = runner.invoke(app, ["triage", str(bad), "-f", "json", "--fail-on-unknown"])
    assert res.exit_code == 2
    (doc,) = _json_docs(res.stdout)
    assert doc["status"] == "error" and doc["verdict"] == "unknown"


def test_table_output_lists_hits_and_gaps(trees):
    res = runner.invoke(app, ["triage", str(trees["bad"]), "--collected-at", WHEN])
    assert "NL-LIVE-setuid-var-tmp-sh" in res.stdout and "/var/tmp/sh" in res.stdout
    assert "timestomp" in res.stdout  # says it could not be checked


def test_outputs_validate_against_the_published_schemas(trees, tmp_path):
    jsonschema = pytest.importorskip("jsonschema")
    from nscheck.paths import schemas_dir

    jl = tmp_path / "f.jsonl"
    res = runner.invoke(app, ["triage", str(trees["versioned"]), "-f", "json", "--jsonl", str(jl), "--collected-at", WHEN])
    (doc,) = _json_docs(res.stdout)
    triage_schema = json.loads((schemas_dir() / "nscheck.triage-1.schema.json").read_text())
    jsonschema.Draft202012Validator(triage_schema).validate(doc)
    finding_schema = json.loads((schemas_dir() / "nscheck.finding.schema.json").read_text())
    v = jsonschema.Draft202012Validator(finding_schema)
    alerts = [json.loads(line) for line in jl.read_text().splitlines()]
    alerts = [d for d in alerts if d.get("event", {}).get("dataset") == "nscheck.finding"]
    assert alerts
    for a in alerts:
        v.validate(a)
