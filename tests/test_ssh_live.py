"""Live triage over SSH against NetScaler-like SSH appliances on loopback (nscheck/lab/ssh.py)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import asyncssh
import pytest
from triage_fixtures import COLLECTED, RECENT, clean_tree, f, write_tar

from nscheck.lab import ssh as ssh_lab
from nscheck.nitro.secret import Secret
from nscheck.paths import shipped_signatures_dir
from nscheck.signatures.ssh import load_ssh_commands
from nscheck.signatures.triage import load as load_triage_rules
from nscheck.triage.context import TriageOptions
from nscheck.triage.live_ssh import (
    NO_SHELL,
    SshAuth,
    collect,
    parse_ssh_target,
    planned_commands,
    triage_collection,
)
from nscheck.triage.runner import triage

pytestmark = pytest.mark.lab
SIG = shipped_signatures_dir()
CS = load_ssh_commands(SIG)
PASSWORD = "Lab-Secret-42!"
STOMPED = ssh_lab.STOMPED


def _rules() -> Any:
    return load_triage_rules(SIG)


def _opts(**kw: Any) -> TriageOptions:
    return TriageOptions(collected_at=COLLECTED, yara=False, **kw)


def _compromised() -> list[Any]:
    return ssh_lab.compromised_specs()


async def _start(specs: list[Any], profile: str = "cli", **kw: Any) -> ssh_lab.Appliance:
    app = ssh_lab.Appliance(specs=specs, profile=profile, password=PASSWORD, **kw)
    return await ssh_lab.start(app, CS)


def _kh(tmp_path: Path, *apps: ssh_lab.Appliance, name: str = "known_hosts") -> str:
    p = tmp_path / name
    p.write_text("".join(ssh_lab.known_hosts_line(a) for a in apps))
    return str(p)


def _auth(kh: str, tmp_path: Path, **kw: Any) -> SshAuth:
    return SshAuth(password=Secret(PASSWORD), known_hosts=kh, own_known_hosts=str(tmp_path / "own_kh"), **kw)


def _target(app: ssh_lab.Appliance) -> Any:
    return parse_ssh_target(f"ssh://nsroot@127.0.0.1:{app.port}")


def _found(result: Any) -> set[tuple[str, str | None]]:
    return {(i.id, i.path) for i in result.indicators}


def _live_only(i: Any) -> bool:
    return (i.path or "").startswith("/.collector/") or i.evidence.endswith("[from the stat listing]")


async def _live(app: ssh_lab.Appliance, tmp_path: Path, **kw: Any) -> Any:
    col = await collect(_target(app), CS, _auth(_kh(tmp_path, app, name=f"kh{app.port}"), tmp_path), **kw)
    # triage runs on the loop's thread, one at a time (the CLI triages one appliance after the other)
    return col, triage_collection(col, _opts(), _rules(), SIG)


def test_compromised_live_matches_tarball_and_clean_is_clean(tmp_path: Path) -> None:
    async def main() -> tuple[Any, Any, ssh_lab.Appliance, ssh_lab.Appliance]:
        bad = await _start(_compromised(), births={STOMPED: RECENT})
        good = await _start(clean_tree())
        try:
            (_c1, r_bad), (_c2, r_good) = await asyncio.gather(_live(bad, tmp_path), _live(good, tmp_path))
        finally:
            bad.server.close()
            good.server.close()
        return r_bad, r_good, bad, good

    r_bad, r_good, bad, good = asyncio.run(main())
    # the equivalent tarball: what the declared tar command covers
    roots = ssh_lab.tree_roots(CS.by_id("tree").run)  # type: ignore[union-attr]
    specs = [s for s in _compromised() if ssh_lab._under(s.path, roots)]
    tarball = write_tar(specs, tmp_path / "equivalent.tar.gz")
    offline = triage([str(tarball)], _opts(), _rules(), SIG)
    assert offline.indicators, "the fixture plants indicators"

    def tar_part(r: Any) -> set[tuple[str, str | None]]:
        return {(i.id, i.path) for i in r.indicators if not _live_only(i)}

    # the same findings from the same files; the live run only adds (its own listings)
    assert tar_part(r_bad) == tar_part(offline)
    assert _found(offline) <= _found(r_bad)
    # what only a live box gives: the timestomped file, judged against the install time
    stomp = [i for i in r_bad.indicators if i.check == "timestomp"]
    # (x.php comes from the fixture's own collected stat listing, which the offline run reports too)
    assert {i.path for i in stomp} == {STOMPED, "/var/netscaler/logon/LogonPoint/uiareas/x.php"}, stomp
    assert r_bad.target == f"ssh://nsroot@127.0.0.1:{bad.port}"
    assert r_bad.coverage.live["login"] == "cli"
    assert "timestomp" in r_bad.coverage.live["checks_run_live"]
    # clean appliance: nothing, although every stock file's birth time is newer than its mtime
    assert r_good.indicators == (), [(i.id, i.path, i.evidence) for i in r_good.indicators]
    assert r_good.status.value == "ok"
    assert r_good.coverage.families["timestomp"]["with_birthtime"] > 10
    assert any("install time" in n for n in r_good.coverage.families["timestomp"].get("notes", []))
    # only declared commands were ever sent
    allowed = set(planned_commands(CS, "N"))
    for app in (bad, good):
        for cmd in app.received:
            assert _norm(cmd) in allowed, cmd


def _norm(cmd: str) -> str:
    import re

    return re.sub(r"-[0-9a-f]{16}\b", "-N", cmd)


def test_plain_shell_login_and_no_shell_account(tmp_path: Path) -> None:
    async def main() -> tuple[Any, Any, ssh_lab.Appliance]:
        plain = await _start(_compromised(), profile="plain")
        nosh = await _start(clean_tree(), profile="noshell")
        try:
            (_a, r_plain), (_b, r_nosh) = await asyncio.gather(_live(plain, tmp_path), _live(nosh, tmp_path))
        finally:
            plain.server.close()
            nosh.server.close()
        return r_plain, r_nosh, nosh

    r_plain, r_nosh, nosh = asyncio.run(main())
    assert r_plain.coverage.live["login"] == "shell"
    assert r_plain.indicators
    assert r_nosh.status.value == "error" and NO_SHELL in (r_nosh.error or "")
    assert r_nosh.verdict.value != "not_vulnerable" and not r_nosh.indicators
    assert r_nosh.build is not None and r_nosh.build.release == "14.1" and r_nosh.build.build == "47.46"
    assert nosh.received[0] == "show ns version"


def test_host_keys_unknown_changed_and_accept_new(tmp_path: Path) -> None:
    async def main() -> tuple[Any, Any, Any, Any]:
        app = await _start(clean_tree())
        try:
            t = _target(app)
            empty = tmp_path / "empty_kh"
            empty.write_text("")
            unknown = await collect(t, CS, _auth(str(empty), tmp_path))
            other = asyncssh.generate_private_key("ssh-ed25519")
            changed_kh = tmp_path / "changed_kh"
            changed_kh.write_text(ssh_lab.known_hosts_line(app, other))
            changed = await collect(t, CS, _auth(str(changed_kh), tmp_path, accept_new=True))
            accepted = await collect(t, CS, _auth(str(empty), tmp_path, accept_new=True))
            again = await collect(t, CS, _auth(str(empty), tmp_path))  # now in nscheck's own file
            for c in (unknown, changed, accepted, again):
                c.cleanup()
            return unknown, changed, accepted, again, app
        finally:
            app.server.close()

    unknown, changed, accepted, again, app = asyncio.run(main())
    assert "unknown host key" in (unknown.error or "") and not unknown.sent
    assert "CHANGED" in (changed.error or "") and not changed.sent
    assert accepted.error is None and accepted.shell_ok
    assert again.error is None and again.shell_ok
    assert (tmp_path / "own_kh").read_text().startswith(f"[127.0.0.1]:{app.port} ssh-ed25519 ")
    r = triage_collection(changed, _opts(), _rules(), SIG)
    assert r.status.value == "error" and "CHANGED" in (r.error or "")


def test_hanging_host_does_not_stall_others(tmp_path: Path) -> None:
    async def main() -> list[Any]:
        hang = await _start(clean_tree(), profile="hang")
        ok = [await _start(clean_tree()) for _ in range(3)]
        kh = _kh(tmp_path, hang, *ok)
        try:
            # the hung host gets a short deadline, the others a generous one: they must all finish
            # while the hung one is still stuck (ordering, not speed, is asserted)
            cols = await asyncio.gather(*(collect(_target(a), CS, _auth(kh, tmp_path),
                                                  deadline=20.0 if a is hang else 300.0)
                                          for a in (hang, *ok)))
        finally:
            for a in (hang, *ok):
                a.server.close()
        return list(cols)

    cols = asyncio.run(main())
    assert "deadline" in (cols[0].error or "")
    for c in cols[1:]:
        assert c.error is None and c.shell_ok and all(s.complete for s in c.streams)
        assert c.ended is not None and cols[0].ended is not None and c.ended < cols[0].ended
    assert any(s.size and not s.complete for s in cols[0].streams)  # it did send part of its tar
    r = triage_collection(cols[0], _opts(), _rules(), SIG)
    assert r.status.value == "error"  # an incomplete collection is never clean
    for c in cols:
        c.cleanup()


def _lab_thread(apps_specs: list[tuple[list[Any], str, dict[str, float]]]) -> tuple[list[ssh_lab.Appliance], Any]:
    """Lab appliances on their own event loop in a thread (the CLI runs in a subprocess)."""
    import threading

    loop = asyncio.new_event_loop()
    apps: list[ssh_lab.Appliance] = []
    ready = threading.Event()

    def run() -> None:
        asyncio.set_event_loop(loop)

        async def boot() -> None:
            for specs, profile, births in apps_specs:
                apps.append(await _start(specs, profile, births=births))
            ready.set()

        loop.run_until_complete(boot())
        loop.run_forever()

    threading.Thread(target=run, daemon=True).start()
    assert ready.wait(30)
    return apps, loop


def test_cli_end_to_end_password_never_in_output(tmp_path: Path) -> None:
    apps, loop = _lab_thread([(_compromised(), "cli", {STOMPED: RECENT}), (clean_tree(), "cli", {})])
    try:
        kh = _kh(tmp_path, *apps)
        hosts = tmp_path / "hosts.txt"
        hosts.write_text(f"# fleet\n127.0.0.1:{apps[1].port}\n")
        evidence = tmp_path / "evidence"
        env = {**os.environ, "NSCHECK_SSH_PASSWORD": PASSWORD, "NSCHECK_SSH_KNOWN_HOSTS": str(tmp_path / "own"),
               "TMPDIR": str(tmp_path)}
        args = [sys.executable, "-m", "nscheck", "triage", f"ssh://nsroot@127.0.0.1:{apps[0].port}", "-i", str(hosts),
                "--ssh-user", "nsroot", "--known-hosts", kh, "--collect-to", str(evidence), "--no-yara",
                "--collected-at", COLLECTED.isoformat(), "-f", "json", "--jsonl", str(tmp_path / "out.jsonl"),
                "-c", "2", "--host-deadline", "60"]
        p = subprocess.run(args, capture_output=True, text=True, env=env, timeout=300)
        dry = subprocess.run([*args, "--dry-run"], capture_output=True, text=True, env=env, timeout=120)
    finally:
        for a in apps:
            loop.call_soon_threadsafe(a.server.close)
        loop.call_soon_threadsafe(loop.stop)
    everything = p.stdout + p.stderr + dry.stdout + dry.stderr + (tmp_path / "out.jsonl").read_text()
    for fpath in evidence.rglob("*"):
        if fpath.is_file():
            everything += fpath.read_bytes().decode("utf-8", "replace")
    assert PASSWORD not in everything
    assert p.returncode == 1, p.stderr[-2000:]
    results = [json.loads(x) for x in _json_docs(p.stdout)]
    targets = {r["target"]: r for r in results}
    bad = targets[f"ssh://nsroot@127.0.0.1:{apps[0].port}"]
    good = targets[f"ssh://nsroot@127.0.0.1:{apps[1].port}"]
    assert bad["indicators"] and not good["indicators"]
    # the evidence folder: archive + manifest with hashes and collection time, per appliance
    folders = sorted(evidence.iterdir())
    assert len(folders) == 2
    for d in folders:
        man = json.loads((d / "manifest.json").read_text())
        assert man["collection_started"] and man["files"]
        import hashlib

        for fl in man["files"]:
            assert hashlib.sha256((d / fl["file"]).read_bytes()).hexdigest() == fl["sha256"]
        assert (d / "tree.tar").exists() and (d / "SHA256SUMS").exists()
    # dry run: the exact commands per host, nothing sent
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.count("show ns version") == 2
    assert "tar -cf - /var/netscaler/logon" in dry.stdout


def _json_docs(text: str) -> list[str]:
    dec = json.JSONDecoder()
    out, i = [], 0
    while i < len(text):
        while i < len(text) and text[i].isspace():
            i += 1
        if i >= len(text):
            break
        obj, j = dec.raw_decode(text, i)
        out.append(json.dumps(obj))
        i = j
    return out


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_fifty_appliances_within_deadlines(tmp_path: Path) -> None:
    """50 lab appliances collected at once, each within its own deadline (a small tree each: the
    point is concurrency and isolation, not bytes)."""
    small = [f("/nsconfig/ns.conf", "#NS14.1 Build 47.46\nset ns config -IPAddress 10.0.0.10\n")]

    async def main() -> list[Any]:
        apps = [await _start(small) for _ in range(50)]
        kh = _kh(tmp_path, *apps)
        try:
            cols = await asyncio.gather(*(collect(_target(a), CS, _auth(kh, tmp_path), deadline=600.0) for a in apps))
        finally:
            for a in apps:
                a.server.close()
        return list(cols)

    cols = asyncio.run(main())
    assert [c.error for c in cols] == [None] * 50
    assert all(c.shell_ok and all(s.complete for s in c.streams) for c in cols)
    for c in cols:
        c.cleanup()


def test_demo_live_triage_agrees_with_the_ssh_lab(tmp_path: Path) -> None:
    shown = ssh_lab.demo_live(SIG, tmp_path)
    bad, good = shown
    assert bad.problems == [] and good.problems == [], (bad.problems, good.problems)
    assert bad.result.indicators and all(i.evidence for i in bad.result.indicators)
    assert any(i.check == "timestomp" and i.path == ssh_lab.STOMPED for i in bad.result.indicators)
    assert good.result.indicators == () and good.result.status.value == "ok"
    allowed = set(planned_commands(CS, "N"))
    for d in shown:
        assert d.app.received and all(_norm(c) in allowed for c in d.app.received)
    # the check is not vacuous: a clean answer for the compromised appliance (and the reverse) is caught
    assert ssh_lab.live_disagreements(bad.app, good.result, bad.offline)
    assert ssh_lab.live_disagreements(good.app, bad.result, good.offline)


def test_lab_cli_serves_ssh_appliances(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from nscheck.cli import app

    kh, targets = tmp_path / "kh", tmp_path / "ssh.txt"
    res = CliRunner().invoke(app, ["lab", "--ssh", "5", "--duration", "0", "--write-known-hosts", str(kh),
                                   "--write-ssh-targets", str(targets)])
    assert res.exit_code == 0, res.output
    urls = [ln for ln in targets.read_text().splitlines() if ln.startswith("ssh://nsroot@127.0.0.1:")]
    assert len(urls) == 5 and len(kh.read_text().splitlines()) == 5
    for kind in ("compromised", "clean", "noshell", "hang", "changed-key"):
        assert kind in res.output
    assert ssh_lab.LAB_SSH_PASSWORD in res.output  # the lab's public password, printed on purpose


def test_fleet_changed_key_is_recorded_wrong() -> None:
    apps = ssh_lab.fleet(6)
    assert [a.profile for a in apps[:5]] == ["cli", "cli", "noshell", "hang", "cli"]
    assert apps[4].known_key is not None and all(a.known_key is None for a in apps if a is not apps[4])


def test_keyboard_interactive_login_and_refused_show_version(tmp_path: Path) -> None:
    """An sshd that takes the password only through keyboard-interactive, a command policy that
    refuses `show ns version` but allows `shell`, and CLI bytes before each frame's first marker:
    still the CLI (its ERROR: answer says so), still triaged through `shell`, every stream whole."""

    async def main() -> tuple[Any, Any, ssh_lab.Appliance]:
        app = await _start(_compromised(), births={STOMPED: RECENT}, kbdint_only=True, deny_version=True,
                           lead_noise=b"\x00\r\x1b[0m> ")
        try:
            col, r = await _live(app, tmp_path)
        finally:
            app.server.close()
        return col, r, app

    col, r, app = asyncio.run(main())
    assert col.error is None and col.mode == "cli" and col.shell_ok and col.version_text is None
    assert all(s.complete for s in col.streams)
    assert r.status.value == "ok" and r.indicators
    assert all(c == "show ns version" or c.startswith("shell echo NSCHECK-BEGIN-") for c in app.received)


def test_no_shell_summary_tells_a_refusal_from_a_command_the_cli_did_not_take() -> None:
    import datetime as dt

    from nscheck.triage.live_ssh import Collection

    def summary(answer: str) -> str:
        col = Collection(target=parse_ssh_target("ssh://ops@gw1"), started=dt.datetime.now(dt.UTC), mode="cli",
                         version_text="NetScaler NS14.1: Build 47.46.nc", shell_refusal=answer)
        r = triage_collection(col, _opts(), _rules(), SIG)
        assert r.status.value == "error" and NO_SHELL in (r.error or "") and answer in r.error
        return str(r.coverage.summary)

    assert "command policy allows 'shell'" in summary("ERROR: Not authorized to execute this command [shell]")
    assert "not a permission refusal" in summary("ERROR: Argument pre-requisite missing")


def test_collect_and_triage_with_a_slot_limit(tmp_path: Path) -> None:
    """start_triage (what `nscheck triage ssh://... -c N` runs): more appliances than slots, one of
    them hung; every other appliance is collected and analysed, the hung one ends at its deadline
    as an error, results keep target order."""
    from nscheck.triage.live_ssh import start_triage

    small = [f("/nsconfig/ns.conf", "#NS14.1 Build 47.46\nset ns config -IPAddress 10.0.0.10\n")]
    apps = [ssh_lab.Appliance(specs=small, password=PASSWORD, profile="hang" if i == 0 else "cli") for i in range(6)]
    with ssh_lab.SshLab(apps, CS) as lab:
        kh = lab.write_known_hosts(tmp_path / "kh")
        targets = [_target(a) for a in apps]
        futures = start_triage(targets, CS, _auth(str(kh), tmp_path), _opts(), _rules(), SIG, concurrency=2,
                               host_deadline=8.0, collect_to=None)
        results = [futures[t.url].result(timeout=600) for t in targets]
    assert [r.target for r in results] == [t.url for t in targets]
    assert results[0].status.value == "error" and "deadline" in (results[0].error or "")
    for r in results[1:]:
        assert r.error is None and r.coverage.live["login"] == "cli"
        assert all(s["complete"] for s in r.coverage.live["streams"])
        assert r.build is not None and r.build.build == "47.46"
