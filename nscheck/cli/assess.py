"""``nscheck assess BUILD``: judge a build you already know (pasted ``show ns version``).

Roles: ``--role X`` marks a configuration role as present (met), ``--no-role X`` as absent
(not met); ``--only-roles`` says the ``--role`` list is complete, so every other role is not
met. Roles never given are unknown, and an unknown precondition never makes a bulletin "not
vulnerable".
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import typer

from nscheck.build import Build, BuildError, parse_build, parse_edition
from nscheck.cli import app
from nscheck.exitcodes import ExitCode
from nscheck.model import AdvisoryResult, Precondition, Verdict
from nscheck.report.formats import DocumentFormat


def _err(msg: str, code: int = ExitCode.USAGE) -> typer.Exit:
    typer.echo(f"nscheck assess: {msg}", err=True)
    return typer.Exit(code)


def load_signatures_or_exit(signatures: str | None, cmd: str) -> Any:
    """Load the bulletin set; signature errors are printed one per line (exit 64)."""
    from nscheck.paths import signatures_dir
    from nscheck.signatures.advisories import load, signature_errors

    directory = signatures_dir(signatures)
    try:
        return load(Path(directory))
    except (Exception, ExceptionGroup) as e:  # SignatureError or an ExceptionGroup of them
        for se in signature_errors(e):
            typer.echo(f"nscheck {cmd}: {se}", err=True)
        raise typer.Exit(ExitCode.USAGE) from None


def _facts(roles: list[str], no_roles: list[str], only: bool, known: set[str]) -> dict[str, Precondition]:
    for r in [*roles, *no_roles]:
        if r not in known:
            raise _err(f"unknown role {r!r}; known roles: {', '.join(sorted(known))}")
    both = set(roles) & set(no_roles)
    if both:
        raise _err(f"role given as both --role and --no-role: {', '.join(sorted(both))}")
    facts: dict[str, Precondition] = {}
    if only:
        facts = {r: Precondition.NOT_MET for r in known if r != "any"}
    facts.update({r: Precondition.NOT_MET for r in no_roles})
    facts.update({r: Precondition.MET for r in roles})
    return facts


_VERDICT_STYLE = {Verdict.VULNERABLE: "bold red", Verdict.MITIGATED: "red", Verdict.UNKNOWN: "yellow",
                  Verdict.NOT_VULNERABLE: "green"}


def _render_table(text_input: str, cands: tuple[Build, ...], results: tuple[AdvisoryResult, ...],
                  rem: Any, show_all: bool) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = Console(highlight=False)
    first_line = (text_input.strip().splitlines() or [""])[0][:100]
    console.print(f"Build: {escape(first_line)}")
    console.print("Candidates: " + ", ".join(f"{c} ({c.train()})" for c in cands))
    table = Table(expand=False)
    for col in ("Bulletin", "Published", "CVEs", "CVSS", "KEV", "Exploited", "Verdict", "Fixed in"):
        table.add_column(col, no_wrap=col in ("Bulletin", "Published", "Verdict", "Fixed in"))
    listed = [r for r in results if show_all or r.verdict is not Verdict.NOT_VULNERABLE]
    for r in listed:
        table.add_row(
            r.id, r.published or "", str(len(r.cves)), f"{r.cvss:.1f}" if r.cvss is not None else "?",
            "yes" if r.kev else "", "yes" if r.exploited else "",
            f"[{_VERDICT_STYLE[r.verdict]}]{r.verdict.value}[/]",
            escape(r.fixed_in or ("no fix (EOL)" if r.eol else "-")),
        )
    if listed:
        console.print(table)
        for r in listed:
            console.print(f"  {r.id}: {escape(r.reason)}")
    counts = {v: sum(1 for r in results if r.verdict is v) for v in Verdict}
    console.print(
        f"{counts[Verdict.VULNERABLE]} vulnerable, {counts[Verdict.UNKNOWN]} unknown, "
        f"{counts[Verdict.NOT_VULNERABLE]} not vulnerable of {len(results)} bulletins"
        + ("" if show_all else " (--all lists the not-vulnerable ones too)")
    )
    if rem.summary:
        console.print(f"Remediation: {escape(rem.summary)}")
    if rem.actions:
        console.print("Vendor actions for the open bulletins:")
        for a in rem.actions:
            console.print(f"  - {escape(a)}")


@app.command(
    "assess",
    epilog="Exit codes: 0 nothing vulnerable; 1 at least one bulletin vulnerable; 64 unparseable build, "
    "unknown train or bad usage; 73 -o FILE cannot be written. Roles: --role marks a role present, --no-role absent, --only-roles makes every "
    "role not given absent; roles not given are unknown (treated as possibly present).",
)
def assess_cmd(
    build: str = typer.Argument(..., help="The build: 14.1-47.46, 14.1.47.46, 'NS14.1 Build 47.46.nc', "
                                "a pasted 'show ns version' line, ns-14.1-47.46.gz; '-' reads stdin."),
    edition: str = typer.Option(None, "--edition", help="standard | fips | ndcpp (default: inferred; "
                                "ambiguous builds are assessed for every possible edition)."),
    roles: list[str] = typer.Option(None, "--role", help="A configured role, e.g. gateway, aaa, management, "
                                    "saml_idp, saml_sp (repeatable). See 'nscheck signatures roles'."),
    no_roles: list[str] = typer.Option(None, "--no-role", help="A role known to be absent (repeatable)."),
    only_roles: bool = typer.Option(False, "--only-roles", help="The --role list is complete: others are absent."),
    fmt: DocumentFormat = typer.Option(DocumentFormat.TABLE, "-f", "--format", help="Output: the bulletin table, or JSON."),
    show_all: bool = typer.Option(False, "--all", help="Table: also list bulletins that are not vulnerable."),
    signatures: str = typer.Option(None, "--signatures", help="Use another signature set directory."),
    output: str = typer.Option(None, "-o", "--output", help="Write the output to FILE (atomically) instead of stdout."),
) -> None:
    """Assess a known build against every NetScaler security bulletin."""
    text = sys.stdin.read() if build == "-" else build
    try:
        ed = parse_edition(edition) if edition else None
        parsed = parse_build(text, ed)
    except BuildError as e:
        raise _err(str(e)) from None
    sigs = load_signatures_or_exit(signatures, "assess")
    from nscheck.assess.advisories import edition_mismatch

    impossible = edition_mismatch(sigs, parsed)
    if impossible is not None:  # e.g. 13.1-59.22 --edition fips: a box that cannot exist
        raise _err(impossible)
    _known_train_or_exit(sigs, parsed)
    facts = _facts(list(roles or ()), list(no_roles or ()), only_roles, set(sigs.manifest.roles))
    from nscheck.report.outputs import check_outputs, stdout_to

    problems = check_outputs({"-o": output})
    if problems:
        raise _err(problems[0], ExitCode.CANTCREAT)
    with stdout_to(output):
        code = _assess_and_print(sigs, text, ed, parsed, facts, fmt, show_all)
    raise typer.Exit(code)


def _known_train_or_exit(sigs: Any, parsed: Build) -> None:
    """A build on a train the signature set does not know (a typo, or a release newer than the
    data) would come out "unknown" for every bulletin: say so once, as a usage error."""
    from nscheck.assess.advisories import expand_candidates

    known = set(getattr(sigs, "lifecycle", {}) or {})
    for adv in sigs:
        known.update(t.train for t in getattr(adv, "trains", ()))
    if not known:
        return
    cands = expand_candidates([parsed])
    if any(c.train() in known for c in cands):
        return
    releases = sorted({t.release for t in known}, key=lambda r: tuple(int(x) for x in r.split(".")))
    trains = ", ".join(sorted({str(c.train()) for c in cands}))
    raise _err(f"unknown train {trains} (build {parsed.plain}): the signature set knows releases "
               f"{', '.join(releases)}; check the build, or update the signatures")


def _assess_and_print(sigs: Any, text: str, ed: Any, parsed: Build, facts: dict[str, Precondition], fmt: DocumentFormat,
                      show_all: bool) -> int:
    from nscheck.assess.advisories import assess

    result = assess(sigs, [parsed], facts)
    if fmt is DocumentFormat.JSON:
        doc = {
            "input": text.strip(),
            "edition": ed.value if ed else None,
            "facts": {k: v.value for k, v in sorted(facts.items())},
            "signatures": {"version": sigs.manifest.version, "date": sigs.manifest.date},
            "candidates": [{"build": c.plain, "edition": c.edition.value if c.edition else None,
                            "train": str(c.train())} for c in result.candidates],
            "verdict": "vulnerable" if result.vulnerable else (
                "unknown" if any(a.verdict is Verdict.UNKNOWN for a in result.advisories) else "not_vulnerable"),
            "advisories": [a.to_dict() for a in result.advisories],
            "remediation": result.remediation.to_dict(),
        }
        typer.echo(json.dumps(doc, indent=2))
    else:
        _render_table(text, result.candidates, result.advisories, result.remediation, show_all)
    return ExitCode.FINDINGS if result.vulnerable else ExitCode.OK
