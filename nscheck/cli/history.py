"""``nscheck history`` and ``nscheck ack``: read and annotate the state database."""

from __future__ import annotations

import json
import sys
from typing import Any

import typer

from nscheck.cli import app
from nscheck.exitcodes import ExitCode
from nscheck.report.formats import DocumentFormat
from nscheck.report.text import clean

_STATE_HELP = "SQLite state database written by `nscheck scan --state`."


def _open(state: str) -> Any:
    from pathlib import Path

    from nscheck.state.store import StateError, StateStore

    try:
        is_file = Path(state).is_file()
    except (OSError, ValueError):  # a name too long for the file system is no database either
        is_file = False
    if not is_file:
        typer.echo(f"nscheck: no state database at {state[:300]} (run `nscheck scan --state FILE` first)", err=True)
        raise typer.Exit(ExitCode.NOINPUT)  # a missing input, like triage PATH and report INPUT
    try:
        return StateStore.open(state)
    except StateError as e:
        typer.echo(f"nscheck: {e}", err=True)
        raise typer.Exit(ExitCode.USAGE) from None


def _short(ts: str | None) -> str:
    return (ts or "-").replace("T", " ").removesuffix("Z")[:16]


def _changes(events: list[dict[str, Any]]) -> str:
    """'new CTX693420, CTX694788; resolved CTX695486' (assessments shortened)."""
    groups: dict[str, list[str]] = {}
    for e in events:
        rule = str(e["rule_id"] or e["finding_id"]).replace("compromise-assessment-required:", "assessment:")
        detail = e.get("detail") or {}
        d = detail.get("decided")
        if d:
            # unknown -> definite is a decision (often thanks to NITRO), not a new or fixed finding
            groups.setdefault("decided", []).append(f"{rule} ({d.get('from')}->{d.get('to')} by {d.get('method')})")
            continue
        method = detail.get("method")
        groups.setdefault(e["transition"], []).append(f"{rule} [{method}]" if method and method != "remote" else rule)
    return "; ".join(f"{t} {', '.join(rules)}" for t, rules in groups.items())


def render_table(hosts: list[dict[str, Any]]) -> str:
    """Per host: a header line, then one line per run (build, reachability, what changed)."""
    lines: list[str] = []
    for h in hosts:
        open_f = [f for f in h["findings"] if f["status"] == "open"]
        lines.append(
            f"{clean(h['host'], 200)}  ({clean(h['target'], 300)}; first seen {_short(h['first_seen'])}, {h['seen_count']} scans; "
            f"now {h['verdict']}, build {h['build'] or 'unknown'}; {len(open_f)} open)"
        )
        by_run: dict[str | None, list[dict[str, Any]]] = {}
        for e in h["events"]:
            by_run.setdefault(e["run_id"], []).append(e)
        for o in h["observations"]:
            changes = _changes(by_run.pop(o["run_id"], []))
            partial = " (partial run)" if o.get("run_status") == "partial" else ""
            note = ""
            # notes, sources and reasons may carry names from a triaged archive: cleaned like the scan table
            if (o["note"] or "").startswith("triage of"):
                note = f"  [{clean(o['note'], 300)}]"
            elif not o["reached"] or not o["fingerprinted"]:
                note = f"  [not assessed: {clean(o['note'] or 'no build', 300)}; open findings kept]"
            lines.append(
                f"  {_short(o['at'])}  {o['status']:<11} {o['verdict']:<15} {(o['build'] or '-'):<22} "
                f"{changes or '-'}{note}{partial}"
            )
        for t in h["triage"]:
            who = f" by {clean(t['who'], 80)}" if t["who"] else ""
            lines.append(f"  {_short(t['at'])}  triage ({clean(t['source'], 300)}{who}): {clean(t['reason'], 500)}; "
                         f"closed {len(t['closed'])} assessment(s)")
        for f in open_f:
            sup = " [suppressed]" if f["suppressed"] else ""
            cves = f" ({', '.join(f['cves'][:3])})" if f["cves"] else ""
            how = f" [{f['verdict']} by {f['method']}]" if f.get("method") else ""  # which method decided it
            lines.append(f"    open: {f['kind']:<10} {f['rule_id']}{cves} since {_short(f['first_seen'])}{how}{sup}")
            w = f.get("exposure") or {}
            if f["kind"] == "assessment" and w:
                lines.append(f"          exposed {w['vulnerable_since']} .. {w['until']} ({w['days']} days), "
                             f"exploited since {w['exploited_since']}: {w['overlap_days']} days of overlap")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n" if lines else "no hosts in the state database\n"


@app.command("history")
def history_cmd(
    host: str = typer.Argument(None, help="Host name, host:port or target; all hosts when omitted."),
    state: str = typer.Option(..., "--state", help=_STATE_HELP),
    fmt: DocumentFormat = typer.Option(DocumentFormat.TABLE, "-f", "--format", help="Output: a table, or JSON."),
    runs: bool = typer.Option(False, "--runs", help="List the recorded runs instead (status complete/partial)."),
) -> None:
    """Timeline per host: builds seen, findings opened and closed, triage records."""
    store = _open(state)
    try:
        if runs:
            data: Any = store.runs(limit=1000)
            if fmt == "json":
                typer.echo(json.dumps(data, indent=2))
            else:
                for r in data:
                    t = ", ".join(f"{v} {k}" for k, v in r["transitions"].items()) or "no changes"
                    typer.echo(f"{_short(r['started'])}  {r['id']:<28} {r['kind']:<7} {r['status']:<9} "
                               f"{r['hosts'] or 0:>5} hosts  {t}")
            return
        data = store.history(host)
        if host and not data:
            typer.echo(f"nscheck: no host {host!r} in {state}", err=True)
            raise typer.Exit(ExitCode.USAGE)
        if fmt == "json":
            typer.echo(json.dumps({"schema": "nscheck.history/1", "state": state, "hosts": data}, indent=2))
        else:
            sys.stdout.write(render_table(data))
    finally:
        store.close()


@app.command("ack")
def ack_cmd(
    host: str = typer.Argument(..., help="Host name, host:port or target, as in `nscheck history`."),
    triaged: str = typer.Option(..., "--triaged", help="Result of the compromise assessment (why it is closed)."),
    state: str = typer.Option(..., "--state", help=_STATE_HELP),
    who: str = typer.Option(None, "--who", help="Who triaged it (default: $USER)."),
) -> None:
    """Record a triage result: closes the host's open compromise-assessment findings.

    The next scan reports them resolved. An acknowledgement covers exposure up to now: if the
    host is still vulnerable to an exploited bulletin at a later scan, the assessment re-opens.
    """
    import getpass

    from nscheck.state.store import StateError

    if not triaged.strip():
        raise typer.BadParameter("give the triage result, e.g. --triaged 'support bundle clean, case 4711'",
                                 param_hint="--triaged")
    if who is None:
        try:
            who = getpass.getuser()
        except (KeyError, OSError):
            who = None
    store = _open(state)
    try:
        closed = store.ack(host, triaged.strip(), who=who)
    except StateError as e:
        typer.echo(f"nscheck: {e}", err=True)
        raise typer.Exit(ExitCode.USAGE) from None
    finally:
        store.close()
    for key, ids in closed.items():
        typer.echo(f"{key}: triage recorded; {len(ids)} open compromise assessment(s) closed")
