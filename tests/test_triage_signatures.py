"""signatures/triage/: the shipped rules load; broken rules fail with file:line: field: reason."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from nscheck.paths import signatures_dir
from nscheck.signatures import SignatureError, lint
from nscheck.signatures.triage import FAMILIES, load


def test_shipped_rules_cover_every_family():
    rules = load(signatures_dir(None))
    assert {r.check for r in rules.rules} == set(FAMILIES)
    ids = [r.id for r in rules.rules]
    assert len(ids) == len(set(ids))
    # NCSC-NL's checks.yaml families all present, with their confidence
    by_id = {r.id: r for r in rules.rules}
    assert by_id["NL-IMG-portal-exfil"].confidence.value == "high"
    assert by_id["NL-LIVE-nsppe-core"].confidence.value == "low"
    assert len(by_id["NL-IMG-binaries-suid"].known) >= 57
    assert "/var/netscaler/gui/admin_ui/" in by_id["NL-IMG-webshell-strings"].known_paths
    assert "/var/tmp/sh" not in by_id["NS-26-known-paths"].files  # the live setuid check owns it
    assert len(by_id["NS-LOG-webshell-request"].url_paths) >= 198


def test_regexes_are_case_insensitive_unlike_ncsc():
    rules = {r.id: r for r in load(signatures_dir(None)).rules}
    rx = next(p for p in rules["NL-IMG-portal-exfil"].regexes if "WebSocket" in p.pattern)
    assert rx.search('var s = new WebSocket("wss://evil.example/x")')


def _sigdir(tmp_path: Path, text: str, name: str = "bad.yaml") -> Path:
    root = tmp_path / "sigs"
    shutil.copytree(signatures_dir(None) / "triage", root / "triage")
    (root / "triage" / name).write_text(text)
    return root


@pytest.mark.parametrize(
    ("body", "expect"),
    [
        ("  - id: X-1\n    check: nope\n", "bad.yaml:4: check: unknown check family"),
        ("  - id: X-1\n    check: webshell\n    strings: [a]\n", "family webshell needs paths"),
        ("  - id: X-1\n    check: ns_conf\n    paths: [/nsconfig/ns.conf]\n    regexes: ['(unclosed']\n",
         "bad.yaml:6: regexes: bad regex"),
        ("  - id: X-1\n    check: magic_bytes\n    paths: [/]\n    magic: {x: zz}\n", "not hex bytes"),
        ("  - id: X-1\n    check: ns_conf\n    paths: [nsconfig/ns.conf]\n    regexes: [a]\n", "must be absolute"),
        ("  - id: X-1\n    check: yara\n    paths: [/var]\n    yara: [missing.yar]\n", "not found"),
        ("  - id: X-1\n    check: live\n    test: sometest\n", "unknown live test"),
        ("  - id: X-1\n    check: known_bad_files\n    hashes: {ABC: x}\n", "not a lower-case sha256"),
        ("  - id: X-1\n    check: known_bad_files\n    files: [/x]\n    colour: red\n", "unknown field(s) colour"),
        ("  - id: NL-IMG-timestomp\n    check: timestomp\n    paths: [/]\n", "duplicate rule id NL-IMG-timestomp"),
    ],
)
def test_broken_rules_are_clear_errors(tmp_path, body, expect):
    root = _sigdir(tmp_path, "schema: nscheck.triage-rules/1\nrules:\n" + body)
    with pytest.raises((SignatureError, ExceptionGroup)) as ei:
        load(root)
    msgs = [str(e) for e in (ei.value.exceptions if isinstance(ei.value, ExceptionGroup) else [ei.value])]
    assert any(expect in m for m in msgs), msgs


def test_yara_syntax_error_is_reported(tmp_path):
    pytest.importorskip("yara")
    root = _sigdir(tmp_path, "schema: nscheck.triage-rules/1\nrules:\n  - id: X-Y\n    check: yara\n    paths: [/var]\n"
                   "    yara: [broken.yar]\n")
    (root / "triage" / "yara" / "broken.yar").write_text("rule x {\n  strings: $a = \"x\"\n  condition: $b\n}\n")
    with pytest.raises(SignatureError, match=r"broken\.yar.*YARA syntax"):
        load(root)


def test_lint_includes_triage(tmp_path):
    report = lint(signatures_dir(None))
    assert report.counts.get("triage", 0) >= 50


def test_log_prefilter_never_hides_a_match():
    """The literal prefilter (speed) must be implied by every match of its regex."""
    from nscheck.triage.logs import anchors

    samples = [
        "pitboss: PPE unexpectedly died NSPPE-00;id", "X ${IFS} y", "FETCH${IFS}-qo${IFS}/v", "ua INDEX:QUJDREVGR0hJSktMTU5PUA==",
        "chmod 6555 /bin/sh", "NX-CVE-OK", "Platypus_Install_Token=1", "cp /bin/sh /var/tmp/sh ", "CAT /flash/nsconfig/keys/a",
        "MAC/veriexec: no fingerprint (file=/var/tmp/x)", "echo '<?php system($_GET[1]);' > x", "(nobody) CMD (x)",
    ]
    for r in load(signatures_dir(None)).rules:
        if r.check != "log":
            continue
        for rx in r.regexes:
            anc = anchors(rx.pattern)
            for s in samples:
                if rx.search(s) and anc is not None:
                    assert any(a in s.lower() for a in anc), (rx.pattern, s)
    assert anchors(r"(fo|bar)") is None  # a branch too short to help: no prefilter
    assert anchors(r"(alpha|beta)") == ("alpha", "beta")


def test_published_schema_is_current():
    """schemas/triage-rules.schema.json is what the loader's pydantic models say (regenerate with
    ``python -m nscheck.signatures.triage schemas/``), and every shipped rule file validates
    against it, so rule authors' editors and the loader agree."""
    import json

    import jsonschema
    import yaml

    from nscheck.signatures.triage import SCHEMA_FILE, json_schema

    published = (Path(__file__).resolve().parent.parent / "schemas" / SCHEMA_FILE).read_text(encoding="utf-8")
    assert published == json_schema(), f"regenerate: python -m nscheck.signatures.triage schemas/ ({SCHEMA_FILE})"
    validator = jsonschema.Draft202012Validator(json.loads(published))
    for f in sorted((signatures_dir(None) / "triage").glob("*.yaml")):
        errors = [e.message for e in validator.iter_errors(yaml.safe_load(f.read_text(encoding="utf-8")))]
        assert not errors, (f.name, errors[:3])


def test_every_error_in_a_file_is_reported_with_its_line(tmp_path):
    root = _sigdir(tmp_path, "schema: nscheck.triage-rules/1\nrules:\n"
                   "  - id: X-1\n    check: nope\n"
                   "  - id: X-2\n    check: ns_conf\n    paths: [/nsconfig/ns.conf]\n    regexes: ['x\\s*.*y']\n"
                   "    colour: red\n"
                   "  - id: X-3\n    check: ns_conf_history\n    names: [ns.conf]\n    regexes: ['^add\\s+user\\s+(\\S{1,9})']\n")
    with pytest.raises(ExceptionGroup) as ei:
        load(root)
    msgs = sorted(str(e).split("/triage/")[1] for e in ei.value.exceptions)
    assert any(m.startswith("bad.yaml:4: check: unknown check family 'nope'") for m in msgs), msgs
    assert any(m.startswith("bad.yaml:8: regexes: regex") and "not linear" in m for m in msgs), msgs
    assert any(m.startswith("bad.yaml:9: colour: unknown field") for m in msgs), msgs
    assert any(m.startswith("bad.yaml:13: regexes: needs a named group (?P<user>") for m in msgs), msgs
