"""``nscheck report INPUT...``: re-render saved results without rescanning."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import typer

from nscheck.cli import app
from nscheck.exitcodes import ExitCode

_FORMATS = ("table", "md", "csv", "html", "json", "jsonl")


@app.command("report")
def report_cmd(
    inputs: list[str] = typer.Argument(..., help="ECS JSONL files (shards may be concatenated), per-host JSON "
                                       "files, or --output-dir directories; '-' reads stdin."),
    fmt: str = typer.Option("table", "-f", "--format", help="Output format: " + "|".join(_FORMATS)),
    output: str = typer.Option(None, "-o", "--output", help="Write to FILE (atomically) instead of stdout."),
    sort: str = typer.Option("urgency", "--sort", help="Host order: urgency (most urgent first)|name|verdict|cvss|"
                             "input (table, md, csv, html; json/jsonl keep the input order)."),
) -> None:
    """Re-render saved results (from --jsonl, --output-dir or --format json) as a table, Markdown,
    CSV, HTML, JSON or ECS JSON Lines."""
    from nscheck.report import FORMATS, render
    from nscheck.report.files import atomic_write
    from nscheck.report.jsonfmt import ReportInputError, load_results
    from nscheck.report.order import SORTS

    if fmt not in FORMATS:
        raise typer.BadParameter(f"--format must be one of {', '.join(FORMATS)}", param_hint="--format")
    if sort not in SORTS:
        raise typer.BadParameter(f"--sort must be one of {', '.join(SORTS)}", param_hint="--sort")
    try:
        results = load_results(inputs)
    except ReportInputError as e:
        print(f"nscheck: {e}", file=sys.stderr)
        raise typer.Exit(ExitCode.USAGE) from None
    if not results:
        print("nscheck: no host results found in the input", file=sys.stderr)
    links = None
    dirs = [i for i in inputs if i != "-" and Path(i).is_dir()]
    if fmt == "html" and len(dirs) == 1:
        from nscheck.report.html import link_prefix

        links = link_prefix(dirs[0], output)  # link each host to its <safe-name>.md/.json there
    if output:
        buf = io.StringIO()
        render(results, fmt, buf, color=False if fmt == "table" else None, link_prefix=links, sort=sort, width=160)
        atomic_write(output, buf.getvalue())
    else:
        render(results, fmt, sys.stdout, link_prefix=links, sort=sort)
    raise typer.Exit(ExitCode.OK)
