"""``nscheck signatures lint|list|info|roles``: inspect and validate the signature set."""

from __future__ import annotations

from pathlib import Path

import typer

from nscheck.cli import app
from nscheck.exitcodes import ExitCode

signatures_app = typer.Typer(
    name="signatures",
    help="Validate and inspect the signature set (bulletins, fingerprints, indicators, triage rules).",
    no_args_is_help=True,
    add_completion=False,
)
app.add_typer(signatures_app, name="signatures")

_SIG_HELP = "Use another signature set directory."


@signatures_app.command("lint")
def lint_cmd(
    directory: str = typer.Argument(None, help="Signature directory (default: the shipped set)."),
    signatures: str = typer.Option(None, "--signatures", help=_SIG_HELP),
) -> None:
    """Validate every signature file; print each problem as file:line: field: reason."""
    from nscheck.paths import signatures_dir
    from nscheck.signatures import lint

    d = Path(signatures_dir(directory or signatures))
    report = lint(d)
    if report.errors:
        for e in report.errors:
            typer.echo(str(e), err=True)
        typer.echo(f"{len(report.errors)} error(s) in {d}", err=True)
        raise typer.Exit(ExitCode.FINDINGS)
    counts = ", ".join(f"{k}: {v}" for k, v in report.counts.items())
    typer.echo(f"ok: {d} ({counts})")
    raise typer.Exit(ExitCode.OK)


@signatures_app.command("list")
def list_cmd(signatures: str = typer.Option(None, "--signatures", help=_SIG_HELP)) -> None:
    """Table of bulletins: id, date, CVEs, max CVSS, KEV, exploited."""
    from rich.console import Console
    from rich.table import Table

    from nscheck.cli.assess import load_signatures_or_exit

    sigs = load_signatures_or_exit(signatures, "signatures list")
    console = Console(highlight=False)
    table = Table(title=f"Signature set {sigs.manifest.version} ({sigs.manifest.date})")
    for col in ("Bulletin", "Published", "CVEs", "Max CVSS", "KEV", "Exploited"):
        table.add_column(col, no_wrap=col != "CVEs")
    for a in sigs:
        cvss = a.max_cvss
        table.add_row(a.id, a.published, ", ".join(a.cve_ids), f"{cvss:.1f}" if cvss is not None else "?",
                      "yes" if a.kev else "", "yes" if a.exploited else "")
    console.print(table)
    console.print(f"{len(sigs)} bulletins")


def _train_line(row: object) -> str:
    from nscheck.signatures.advisories import FixStatus, TrainFix

    assert isinstance(row, TrainFix)
    if row.status is FixStatus.FIXED:
        txt = f"fixed in {row.fixed}"
        if row.fixed_low is not None:
            txt += f" (some sources: from {row.fixed_low})"
        if row.recommended is not None:
            txt += f"; recommended {row.recommended}"
    else:
        txt = {"no_fix": "no fix (end of life)", "not_affected": "not affected",
               "unknown": "fixed build unknown"}[row.status.value]
    if not row.confirmed:
        txt += " [unconfirmed]"
    if row.note:
        txt += f" - {row.note}"
    return f"  {row.train!s:<12} {txt}"


@signatures_app.command("info")
def info_cmd(
    ident: str = typer.Argument(..., help="A CTX bulletin id or a CVE id."),
    signatures: str = typer.Option(None, "--signatures", help=_SIG_HELP),
) -> None:
    """Everything the set knows about one bulletin (by CTX or CVE id)."""
    from nscheck.cli.assess import load_signatures_or_exit

    sigs = load_signatures_or_exit(signatures, "signatures info")
    a = sigs.get(ident)
    if a is None:
        typer.echo(f"nscheck signatures info: no bulletin or CVE {ident!r} in the set", err=True)
        raise typer.Exit(ExitCode.USAGE)
    out = [f"{a.id}: {a.title}", f"Published: {a.published}",
           f"Exploited in the wild: {'yes' if a.exploited else 'no'}"
           + (f"; ransomware use: {a.ransomware}" if a.ransomware else "")]
    if a.kev_note:
        out.append(f"KEV note: {a.kev_note}")
    if a.preconditions:
        out.append(f"Preconditions: {a.preconditions}")
    out.append("CVEs:")
    for c in a.cves:
        cvss = f"{c.cvss:.1f}" if c.cvss is not None else "?"
        flags = "" if c.cvss_confirmed else " (unconfirmed)"
        out.append(f"  {c.id}  CVSS {cvss}{flags}{' ' + c.cvss_version if c.cvss_version else ''}  {c.type}"
                   + (f"  ({c.name})" if c.name else ""))
        if c.cwe:
            out.append(f"      CWE: {c.cwe}")
        req = "unknown" if c.requires is None else " and ".join("(" + " or ".join(g) + ")" for g in c.requires)
        out.append(f"      precondition: {c.precondition}  [roles: {req}]")
        for e in c.requires_from:  # a precondition that changes with the build
            ereq = "unknown" if e.requires is None else " and ".join("(" + " or ".join(g) + ")" for g in e.requires)
            starts = ", ".join(str(b) for b in e.from_builds.values())
            out.append(f"      from {starts} on (up to the fix): [roles: {ereq}]" + (f" - {e.note}" if e.note else ""))
        if c.kev_added:
            out.append(f"      KEV added: {c.kev_added}{'' if c.kev_confirmed else ' (unconfirmed)'}"
                       + (f" - {c.kev_note}" if c.kev_note else ""))
        if c.affected_only:
            out.append(f"      affects only: {', '.join(str(b) for b in c.affected_only)}")
        for row in c.trains:
            out.append("    " + _train_line(row).strip())
    out.append("Trains:")
    out.extend(_train_line(r) for r in a.trains)
    if a.actions:
        out.append("Vendor actions:")
        out.extend(f"  - {x}" for x in a.actions)
    if a.notes:
        out.append("Notes:")
        out.extend(f"  - {x}" for x in a.notes)
    if a.unconfirmed:
        out.append("Unconfirmed:")
        out.extend(f"  - {x}" for x in a.unconfirmed)
    out.append("Sources:")
    out.extend(f"  - {x}" for x in a.sources)
    out.append(f"File: {a.file}")
    typer.echo("\n".join(out))


@signatures_app.command("roles")
def roles_cmd(signatures: str = typer.Option(None, "--signatures", help=_SIG_HELP)) -> None:
    """The configuration roles that bulletin preconditions use (for assess --role)."""
    from nscheck.cli.assess import load_signatures_or_exit

    sigs = load_signatures_or_exit(signatures, "signatures roles")
    for name, desc in sigs.manifest.roles.items():
        typer.echo(f"{name:<18} {desc}")
