"""The declared SSH command set (signatures/ssh.yaml) and the linter that keeps it read-only."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from nscheck.paths import shipped_signatures_dir
from nscheck.signatures import SignatureError, lint
from nscheck.signatures.ssh import cli_problems, lint_shell, load_ssh_commands

PROGS = frozenset({"tar", "find", "xargs", "stat", "ps", "sockstat", "netstat", "openssl", "echo"})


def test_shipped_set_loads_and_lints_clean() -> None:
    cs = load_ssh_commands(shipped_signatures_dir())
    assert {c.kind for c in cs.commands} >= {"tar", "stat_listing", "ps", "sockstat"}
    assert [c.run for c in cs.cli] == ["show ns version"]
    for c in cs.commands:
        assert lint_shell(c.run, frozenset(cs.programs)) == [], c.id
    tree = cs.by_id("tree")
    assert tree is not None
    for p in ("/var/netscaler/logon", "/var/vpn", "/netscaler/portal", "/nsconfig/ns.conf", "/var/log/ns.log",
              "/var/log/bash.log", "/var/tmp", "/etc/httpd.conf", "/nsconfig/rc.netscaler", "/var/cron/tabs"):
        assert p in tree.run.split()
    assert lint(shipped_signatures_dir()).ok


@pytest.mark.parametrize("cmd", [
    "ps auxww",
    "tar -cf - /var/tmp 2>/dev/null",
    r"find -x /var \( -perm -4000 -o -perm -2000 \) -print0 2>/dev/null | xargs -0 stat -f '%N,%z' 2>/dev/null",
    "netstat -an 2>&1",
    "sockstat -46l; ps aux",
])
def test_read_only_commands_pass(cmd: str) -> None:
    assert lint_shell(cmd, PROGS) == []


@pytest.mark.parametrize(("cmd", "why"), [
    ("ps aux > /var/tmp/x", "only to /dev/null"),
    ("ps aux >> out.txt", "only to /dev/null"),
    ("ps aux | tee /var/tmp/x", "tee"),
    ("rm -rf /var/tmp/x", "rm"),
    ("mv /a /b", "mv"),
    ("cat /etc/passwd", "not on the allowlist"),
    ("/bin/ps aux", "bare program name"),
    ("echo $(id)", "substitution"),
    ("echo `id`", "substitution"),
    ("echo $HOME", "variable"),
    ("ps aux &", "background"),
    ("(ps aux)", "subshell"),
    ("ps aux < /etc/passwd", "input redirection"),
    ("find /var -delete", "-delete"),
    ("find /var -exec sh -c id {} +", "-exec"),
    ("find /var -print0 | xargs -0 rm", "rm"),
    ("find /var -print0 | xargs -0 cat", "not on the allowlist"),
    ("find /var | xargs", "without a program"),
    ("tar -xf - /var", "-x"),
    ("tar -cf /var/tmp/out.tar /var", "stdout"),
    ("tar -cf - --to-command=sh /var", "--to-command"),
    ("tar -c /var", "-f -"),
    ("ps aux |", "empty command"),
    ("ps 'aux", "unbalanced"),
    ("ps aux\nrm -rf /", "line breaks"),
    ("FOO=1 ps", "VAR=value"),
])
def test_linter_refuses(cmd: str, why: str) -> None:
    problems = lint_shell(cmd, PROGS)
    assert problems, cmd
    assert any(why in p for p in problems), problems


def test_quoted_operators_are_words() -> None:
    assert lint_shell("stat -f '%N > %z | x;y' /var", PROGS) == []


def _copy(tmp_path: Path) -> Path:
    d = tmp_path / "sig"
    shutil.copytree(shipped_signatures_dir(), d)
    return d


def test_bad_command_is_a_file_line_error(tmp_path: Path) -> None:
    d = _copy(tmp_path)
    p = d / "ssh.yaml"
    text = p.read_text()
    p.write_text(text.replace("run: ps auxww", "run: ps auxww > /var/tmp/ps.txt"))
    line = next(i for i, ln in enumerate(p.read_text().splitlines(), 1) if "/var/tmp/ps.txt" in ln)
    with pytest.raises(SignatureError) as ei:
        load_ssh_commands(d)
    assert f"ssh.yaml:{line}:" in str(ei.value)
    assert "processes" in str(ei.value) and "/dev/null" in str(ei.value)
    report = lint(d)
    assert not report.ok and any(e.line == line for e in report.errors)


def test_denied_program_on_the_allowlist_is_refused(tmp_path: Path) -> None:
    d = _copy(tmp_path)
    p = d / "ssh.yaml"
    p.write_text(p.read_text().replace("programs: [tar,", "programs: [rm, tar,"))
    line = next(i for i, ln in enumerate(p.read_text().splitlines(), 1) if ln.startswith("programs:"))
    with pytest.raises(SignatureError) as ei:
        load_ssh_commands(d)
    assert f":{line}:" in str(ei.value) and "rm" in str(ei.value)


def test_cli_commands_are_show_only(tmp_path: Path) -> None:
    d = _copy(tmp_path)
    p = d / "ssh.yaml"
    p.write_text(p.read_text().replace("run: show ns version", "run: rm system file x"))
    with pytest.raises(SignatureError) as ei:
        load_ssh_commands(d)
    assert "show" in str(ei.value) and "cli.0.run" in str(ei.value)


def test_unknown_field_refused(tmp_path: Path) -> None:
    d = _copy(tmp_path)
    p = d / "ssh.yaml"
    p.write_text(p.read_text().replace("    kind: ps\n", "    kind: ps\n    sudo: true\n"))
    with pytest.raises(SignatureError):
        load_ssh_commands(d)


def test_ssh_targets() -> None:
    from nscheck.triage.live_ssh import SshTargetError, parse_ssh_target, planned_commands

    t = parse_ssh_target("ssh://ops@gw1.example.org:2222")
    assert (t.user, t.host, t.port, t.url, t.key) == ("ops", "gw1.example.org", 2222, "ssh://ops@gw1.example.org:2222",
                                                       "[gw1.example.org]:2222")
    t = parse_ssh_target("10.0.0.5", "triage")
    assert (t.url, t.port, t.key) == ("ssh://triage@10.0.0.5", 22, "10.0.0.5")
    assert parse_ssh_target("ssh://ops@[2001:db8::1]:22").host == "2001:db8::1"
    with pytest.raises(SshTargetError, match="password in the URL"):
        parse_ssh_target("ssh://ops:hunter2@gw1")
    with pytest.raises(SshTargetError, match="no user"):
        parse_ssh_target("gw1")
    with pytest.raises(SshTargetError):
        parse_ssh_target("ssh://ops@gw1/path")
    cs = load_ssh_commands(shipped_signatures_dir())
    plan = planned_commands(cs)
    assert plan[0] == "show ns version"
    # every wrapped shell command is itself read-only (the framing adds only echo and openssl)
    for c in plan[1:]:
        assert c.startswith("shell echo NSCHECK-BEGIN-")
        assert lint_shell(c.removeprefix("shell ").replace("<nonce>", "0123456789abcdef"), frozenset(cs.programs)) == []


def test_commands_reach_the_shell_unchanged_through_the_cli(tmp_path: Path) -> None:
    cs = load_ssh_commands(shipped_signatures_dir())
    for c in cs.commands:
        assert cli_problems(c.run) == [], c.id
        # FreeBSD userland: stat -f with explicit nanosecond precision, BSD find's -perm +MODE
        assert "stat -c" not in c.run and " ss " not in f" {c.run} "
    listing = cs.by_id("stat_listing")
    assert listing is not None and "%.9FB" in listing.run and "%9F" not in listing.run
    setuid = cs.by_id("setuid")
    assert setuid is not None and "-perm +6000" in setuid.run
    for bad in ("stat -f '%N' /x", 'stat -f "%N" /x', r"find /var \( -perm -4000 \)", "echo $HOME", "ls /var/*",
                "ps aux # note"):
        assert cli_problems(bad), bad
    d = _copy(tmp_path)
    p = d / "ssh.yaml"
    p.write_text(p.read_text().replace("run: ps auxww", "run: ps 'auxww'"))
    with pytest.raises(SignatureError) as ei:
        load_ssh_commands(d)
    assert "NetScaler CLI" in str(ei.value) and "processes" in str(ei.value)


def test_frame_markers_tolerate_cli_bytes_but_not_the_echoed_command() -> None:
    from nscheck.triage.live_ssh import _is_marker

    m = "NSCHECK-END-tree-0123456789abcdef"
    assert _is_marker(m, m) and _is_marker("\x00\r> " + m, m)
    assert not _is_marker("shell echo NSCHECK-BEGIN-tree-0123456789abcdef; ps | openssl base64; echo " + m, m)
    assert not _is_marker("x" * 40 + m, m) and not _is_marker(m + " ", m) and not _is_marker(m[:-1], m)
