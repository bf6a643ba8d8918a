"""``nscheck lab`` (serve simulated appliances on loopback) and ``nscheck demo`` (scan them)."""

from __future__ import annotations

import signal
import sys
import threading
import time
from pathlib import Path

import typer

from nscheck.cli import app
from nscheck.exitcodes import ExitCode
from nscheck.report.formats import DocumentFormat

_PRESETS = ("demo", "full", "indicators", "nitro")


def _describe(p: object) -> str:
    from nscheck.lab import Profile

    assert isinstance(p, Profile)
    if p.kind == "fault":
        return f"fault:{p.fault}"
    bits = [p.kind]
    if p.build:
        bits.append(p.build + (f" {p.edition.upper()}" if p.edition and p.edition != "standard" else ""))
    if p.roles:
        bits.append("+".join(p.roles))
    flags = [k for k in ("compromised", "customised", "regzip", "theme_fonts") if p.opt(k)]
    if p.opt("rdx", "auto") != "auto":
        flags.append(f"rdx={p.opt('rdx')}")
    if flags:
        bits.append("(" + ", ".join(flags) + ")")
    return " ".join(bits)


def _start(preset: str, hosts: int | None, bind: str, latency_ms: float, tls: bool, spread: bool,
           refused_share: float, silent_share: float):
    from nscheck.lab import LabError, check_loopback, many_hosts, start_lab

    try:
        check_loopback(bind)
        if hosts:
            profiles = many_hosts(hosts, refused_share=refused_share, silent_share=silent_share, spread=spread)
            return start_lab(profiles, host=bind, latency_ms=latency_ms, tls=tls)
        return start_lab(preset, host=bind, latency_ms=latency_ms, tls=tls)
    except (LabError, ValueError, OSError) as e:
        typer.echo(f"nscheck: {e}", err=True)
        raise typer.Exit(ExitCode.USAGE) from None


@app.command("lab")
def lab_cmd(
    preset: str = typer.Option("demo", "--preset", help="Fleet to simulate: " + "|".join(_PRESETS)),
    hosts: int = typer.Option(None, "--hosts", min=1, help="Many-hosts mode: N appliances of mixed builds (benchmarks)."),
    refused_share: float = typer.Option(0.1, "--refused-share", min=0.0, max=1.0, help="Many-hosts: share of refused ports."),
    silent_share: float = typer.Option(0.05, "--silent-share", min=0.0, max=1.0,
                                       help="Many-hosts: share that accept and never answer."),
    spread: bool = typer.Option(False, "--spread", help="Many-hosts: spread hosts over 127.0.0.2-251."),
    latency_ms: float = typer.Option(0.0, "--latency-ms", min=0.0, help="Delay before every response, ms."),
    write_targets: str = typer.Option(None, "--write-targets", help="Write the target URLs to FILE (for scan -i)."),
    bind: str = typer.Option("127.0.0.1", "--bind", help="Loopback address to bind (127.0.0.0/8 or ::1 only)."),
    no_tls: bool = typer.Option(False, "--no-tls", help="Serve plain HTTP instead of HTTPS."),
    duration: float = typer.Option(None, "--duration", min=0.0, help="Stop after this many seconds (default: until Ctrl-C)."),
    ssh: int = typer.Option(0, "--ssh", min=0, max=500, help="Also run N SSH appliances for live triage (compromised, "
                            "clean, no-shell account, hangs mid-stream, changed host key, then clean/compromised)."),
    write_ssh_targets: str = typer.Option(None, "--write-ssh-targets", help="With --ssh: write their ssh:// targets "
                                          "to FILE (for nscheck triage -i)."),
    write_known_hosts: str = typer.Option(None, "--write-known-hosts", help="With --ssh: write the SSH appliances' "
                                          "known_hosts lines to FILE (for nscheck triage --known-hosts)."),
) -> None:
    """Run simulated NetScaler appliances (and look-alikes and broken hosts) on loopback until
    Ctrl-C or SIGTERM. Each host has its own port and a default-looking appliance certificate."""
    if preset not in _PRESETS:
        raise typer.BadParameter(f"--preset must be one of {', '.join(_PRESETS)}", param_hint="--preset")
    if (write_known_hosts or write_ssh_targets) and not ssh:
        raise typer.BadParameter("needs --ssh N", param_hint="--write-known-hosts/--write-ssh-targets")
    lab = _start(preset, hosts, bind, latency_ms, not no_tls, spread, refused_share, silent_share)
    ssh_lab = None
    if ssh:
        try:
            ssh_lab = _start_ssh(ssh, bind)
        except Exception:
            lab.stop()
            raise
    stop = threading.Event()
    old = signal.getsignal(signal.SIGTERM)
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        if write_targets:
            lines = [f"# nscheck lab ({'--hosts ' + str(hosts) if hosts else preset}), started "
                     f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}"]
            lines += [t.url for t in lab.targets]
            Path(write_targets).write_text("\n".join(lines) + "\n", encoding="utf-8")
        width = max(len(t.name) for t in lab.targets)
        if not hosts or hosts <= 200:
            for t in lab.targets:
                typer.echo(f"{t.name:<{width}}  {t.url:<26}  {_describe(t.profile)}")
        if ssh_lab is not None:
            _announce_ssh(ssh_lab, write_known_hosts, write_ssh_targets)
        if preset == "nitro" and not hosts:
            from nscheck.lab.nitro import LAB_NITRO_PASSWORD, LAB_NITRO_USER

            # The lab's own public account (not a secret): scan it the way an owner would.
            typer.echo(f"nscheck lab: the appliances above serve NITRO (one has it disabled, one another password); "
                       f"scan with: NSCHECK_NITRO_PASSWORD="
                       f"{LAB_NITRO_PASSWORD} nscheck scan -i FILE --nitro-user {LAB_NITRO_USER}", err=True)
        typer.echo(f"nscheck lab: {len(lab.targets)} hosts on {bind}"
                   + (f"; targets written to {write_targets}" if write_targets else "")
                   + "; Ctrl-C to stop", err=True)
        deadline = None if duration is None else time.monotonic() + duration
        while not stop.wait(0.2):
            if deadline is not None and time.monotonic() >= deadline:
                break
    except KeyboardInterrupt:
        pass
    finally:
        lab.stop()
        if ssh_lab is not None:
            ssh_lab.stop()
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, old)
    raise typer.Exit(ExitCode.OK)


def _start_ssh(n: int, bind: str):
    from nscheck.lab import LabError, check_loopback
    from nscheck.lab.ssh import SshLab, fleet
    from nscheck.paths import signatures_dir
    from nscheck.signatures.ssh import load_ssh_commands

    try:
        check_loopback(bind)
        if ":" in bind:
            raise LabError("the SSH appliances bind 127.0.0.0/8 only")
        return SshLab(fleet(n), load_ssh_commands(signatures_dir(None)), host=bind)
    except (LabError, ValueError, OSError, RuntimeError) as e:
        typer.echo(f"nscheck: {e}", err=True)
        raise typer.Exit(ExitCode.USAGE) from None


def _announce_ssh(ssh_lab, known_hosts: str | None, targets: str | None) -> None:
    from nscheck.lab.ssh import LAB_SSH_PASSWORD

    width = max(len(a.name) for a in ssh_lab.apps)
    for a in ssh_lab.apps:
        typer.echo(f"{a.name:<{width}}  {a.url:<30}  ssh {a.profile}")
    if known_hosts:
        ssh_lab.write_known_hosts(known_hosts)
    if targets:
        Path(targets).write_text("# nscheck lab --ssh\n" + "\n".join(ssh_lab.urls) + "\n", encoding="utf-8")
    # The lab's own public account (not a secret): triage it the way an owner would.
    what = f"-i {targets}" if targets else " ".join(ssh_lab.urls[:2]) + (" ..." if len(ssh_lab.urls) > 2 else "")
    typer.echo("nscheck lab: live triage with: NSCHECK_SSH_PASSWORD=" + LAB_SSH_PASSWORD + " nscheck triage "
               + what + " --host-deadline 30"
               + f" --known-hosts {known_hosts or 'FILE (--write-known-hosts)'} --collected-at 2026-11-20T12:00:00Z",
               err=True)


@app.command("demo")
def demo_cmd(
    fmt: DocumentFormat = typer.Option(DocumentFormat.TABLE, "-f", "--format", help="Output: the lab table, or the "
                                       "host documents as JSON."),
    latency_ms: float = typer.Option(0.0, "--latency-ms", min=0.0, help="Delay before every lab response, ms."),
    check: bool = typer.Option(True, "--check/--no-check", help="Compare the scan with what the lab simulates."),
    live: bool = typer.Option(True, "--live/--no-live", help="Also triage a compromised and a clean SSH appliance live "
                              "(table: shown; json: stdout stays the scan results, the check goes to stderr)."),
) -> None:
    """Start a small mixed lab on loopback (14.1/13.1 builds from before and after the 2025
    fixes, a 2026 build that only a floor can describe, FIPS, AAA, a management GUI, a
    non-NetScaler and an unreachable host), scan it, show the result and stop. Then triage two
    SSH appliances live (nscheck triage ssh://...): one compromised, one clean."""
    from nscheck.lab.check import disagreements
    from nscheck.options import ScanOptions
    from nscheck.runner import scan_hosts

    lab = _start("demo", None, "127.0.0.1", latency_ms, True, False, 0.0, 0.0)
    try:
        if fmt == "table":
            typer.echo(f"nscheck demo: scanning {len(lab.targets)} simulated hosts on loopback", err=True)
        opts = ScanOptions(targets=tuple(lab.target_urls), format=fmt, no_progress=True, timeout=3.0,
                           host_deadline=15.0, concurrency=16)
        import tempfile
        from pathlib import Path

        from nscheck.runner import _demo_nitro_credentials

        nitro_urls = [t.url for t in lab.targets if t.profile.opt("nitro_demo")]
        with tempfile.TemporaryDirectory(prefix="nscheck-demo-") as tmp:
            if nitro_urls:
                # One host is also read over NITRO with the lab's read-only account.
                opts = opts.with_(nitro_credentials=_demo_nitro_credentials(Path(tmp), nitro_urls))
            results = scan_hosts(lab.target_urls, opts)
    finally:
        lab.stop()
    by_url = {t.url: t for t in lab.targets}
    if fmt == "json":
        from nscheck.report.jsonfmt import results_json

        sys.stdout.write(results_json(results))  # what `nscheck scan -f json` prints
    else:
        _render(results, by_url)
        for r in results:
            n = r.extra.get("nitro") or {}
            changed = n.get("changed") or {}
            if n.get("status") in ("ok", "partial"):
                from_unknown = sorted(k for k, v in changed.items() if v.startswith("unknown"))
                typer.echo(f"NITRO: {r.url} read as {n.get('build')!r} on {n.get('platform')!r}: "
                           f"{len(from_unknown)} bulletin(s) the remote scan left unknown are now definite "
                           f"({', '.join(from_unknown[:8])}{' ...' if len(from_unknown) > 8 else ''}); "
                           "evidence in --format json: advisories[].method/evidence")
    if check:
        bad = []
        for r in results:
            t = by_url.get(r.url or "") or by_url.get(r.target)
            if t is not None:
                bad += [f"{t.name}: {d}" for d in disagreements(t, r)]
        if bad:
            typer.echo("lab check: the scan differs from what the lab simulates:", err=True)
            for line in bad:
                typer.echo(f"  {line}", err=True)
        else:
            typer.echo(f"lab check: all {len(results)} results agree with what the lab simulates", err=True)
    if live:
        _demo_live(fmt, check)
    raise typer.Exit(ExitCode.OK)


def _demo_live(fmt: str, check: bool) -> None:
    import tempfile

    from nscheck.lab.ssh import demo_live
    from nscheck.paths import signatures_dir
    from nscheck.report.text import clean

    if fmt == "table":
        typer.echo("\nnscheck demo: live triage over SSH of two lab appliances on loopback (nscheck triage "
                   "ssh://...; a throwaway known_hosts, the declared read-only commands only)", err=True)
    with tempfile.TemporaryDirectory(prefix="nscheck-demo-ssh-") as tmp:
        shown = demo_live(signatures_dir(None), Path(tmp))
    if fmt == "table":
        for d in shown:
            r = d.result
            live_cov = (r.coverage.live if r.coverage is not None else None) or {}
            build = f"{r.build.release}-{r.build.build}" if r.build is not None else "build unknown"
            typer.echo(f"{d.app.name}  {clean(r.target, 80)}  {build}  verdict {r.verdict.value}  "
                       f"{len(r.indicators)} indicator(s)  (login: {live_cov.get('login')}, "
                       f"{live_cov.get('commands_sent')} commands sent)")
            for i in r.indicators[:6]:
                typer.echo(f"  {i.severity.value:8} {clean(i.id, 40):40} {clean(i.path or '', 70)}")
                typer.echo(f"      {clean(i.evidence, 150)}")
            if len(r.indicators) > 6:
                typer.echo(f"  ... {len(r.indicators) - 6} more (nscheck triage ssh://... -f json for all, with evidence)")
    if check:
        bad = [f"{d.app.name}: {p}" for d in shown for p in d.problems]
        if bad:
            typer.echo("lab check: the live triage differs from what the SSH lab serves:", err=True)
            for line in bad:
                typer.echo(f"  {line}", err=True)
        else:
            typer.echo(f"lab check: both live triages agree with the SSH lab (compromised: "
                       f"{len(shown[0].result.indicators)} indicators, the equivalent tarball's and the live-only "
                       "timestomp; clean: none)", err=True)


def _render(results, by_url) -> None:
    from nscheck.report.table import default_console

    console = default_console()
    names = {u: t.name for u, t in by_url.items()}
    from nscheck.report import render_table

    render_table(results, console)
    console.print("lab hosts: " + ", ".join(f"{names.get(r.url or r.target, r.target)}={r.url or r.target}"
                                            for r in results), highlight=False, soft_wrap=True)
