"""``nscheck report INPUT...``: re-render saved results without rescanning."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import typer

from nscheck.cli import app
from nscheck.exitcodes import ExitCode
from nscheck.report.formats import OutputFormat, help_text
from nscheck.report.order import Sort


@app.command("report", epilog="Exit codes: 0 rendered; 64 bad input or usage; 66 an INPUT does not exist; "
             "73 -o FILE cannot be written.")
def report_cmd(
    inputs: list[str] = typer.Argument(..., help="ECS JSONL files (shards may be concatenated), per-host JSON "
                                       "files, or --output-dir directories; '-' reads stdin."),
    fmt: OutputFormat = typer.Option(OutputFormat.TABLE, "-f", "--format", help=help_text("Output format: ")),
    output: str = typer.Option(None, "-o", "--output", help="Write to FILE (atomically) instead of stdout."),
    sort: Sort = typer.Option(Sort.URGENCY, "--sort", help="Host order: urgency (most urgent first)|name|verdict|cvss|"
                             "input (table, md, csv, html; json/jsonl keep the input order)."),
    runs: list[str] = typer.Option(None, "--run", metavar="ID", help="Only this run (id or its first characters; "
                                   "'latest' for the last run in the input). Repeatable."),
) -> None:
    """Re-render saved results (from --jsonl, --output-dir or --format json) as a table, Markdown,
    CSV, HTML, JSON or ECS JSON Lines. A --jsonl file that cron appends to holds many runs: the
    table and Markdown show one section per run; --run picks runs for every format."""
    from nscheck.report import render
    from nscheck.report.jsonfmt import ReportInputError, load_runs
    from nscheck.report.outputs import check_outputs, input_problem, stdout_to

    missing = [(i, input_problem(i)) for i in inputs]
    for m, why in missing:
        if why:
            print(f"nscheck: cannot read input {m[:300]}: {why}", file=sys.stderr)
    if any(why for _, why in missing):
        raise typer.Exit(ExitCode.NOINPUT)
    problems = check_outputs({"-o": output})
    if problems:
        print(f"nscheck: {problems[0]}", file=sys.stderr)
        raise typer.Exit(ExitCode.CANTCREAT)
    warnings: list[str] = []
    try:
        groups = load_runs(inputs, warnings)
    except ReportInputError as e:
        print(f"nscheck: {e}", file=sys.stderr)
        raise typer.Exit(ExitCode.USAGE) from None
    for w in warnings:
        print(f"nscheck: warning: {w}", file=sys.stderr)
    if runs:
        groups = _select(groups, runs)
    results = [r for _, rs in groups for r in rs]
    if not results:
        print("nscheck: no host results found in the input", file=sys.stderr)
    links = None
    dirs = [i for i in inputs if i != "-" and Path(i).is_dir()]
    if fmt == "html" and len(dirs) == 1:
        from nscheck.report.html import link_prefix

        links = link_prefix(dirs[0], output)  # link each host to its <safe-name>.md/.json there
    sections = fmt in ("table", "md") and len(groups) > 1
    # A file gets no colours and a fixed width; the terminal gets what it can show.
    style: dict[str, Any] = {"color": False, "width": 160} if (output and fmt == "table") else {}
    with stdout_to(output):
        if sections:
            for n, (run_id, rs) in enumerate(groups):
                head = f"run {run_id or '(no run id)'}: {len(rs)} host(s), first started {_first_start(rs)}"
                sys.stdout.write(("\n" if n else "") + (f"## {head}\n\n" if fmt == "md" else f"== {head}\n"))
                render(rs, fmt, sys.stdout, link_prefix=links, sort=sort, **style)
        else:
            render(results, fmt, sys.stdout, link_prefix=links, sort=sort, **style)
    raise typer.Exit(ExitCode.OK)


def _first_start(results: list[Any]) -> str:
    starts = sorted(r.started for r in results if r.started)
    return starts[0] if starts else "?"


def _select(groups: list[tuple[str | None, list[Any]]], wanted: list[str]) -> list[tuple[str | None, list[Any]]]:
    keep: dict[str | None, list[Any]] = {}
    for w in wanted:
        hits = groups[-1:] if w == "latest" else [g for g in groups if g[0] and g[0].startswith(w)]
        if not hits:
            known = ", ".join(str(g[0]) for g in groups[-5:])
            print(f"nscheck: --run {w}: no such run in the input (last runs: {known})", file=sys.stderr)
            raise typer.Exit(ExitCode.USAGE)
        for run_id, rs in hits:
            keep[run_id] = rs
    return [(k, v) for k, v in groups if k in keep]
