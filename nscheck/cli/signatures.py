"""``nscheck signatures lint|list|info|roles``: inspect and validate the signature set."""

from __future__ import annotations

import os
from pathlib import Path

import typer

from nscheck.cli import app
from nscheck.exitcodes import ExitCode
from nscheck.report.formats import StatusFormat

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


# -- the feed: update / status / rollback ---------------------------------------------------------
# Exit codes of these three: 0 done (or already current); 64 usage (no source, http:// URL, bad
# key file); 65 bundle refused (signature, key, manifest, layout, lint, downgrade, needs a newer
# nscheck, oversized); 73 the data directory cannot be written; 75 try again later (download
# failed or cut short, another update holds the lock). A refusal never changes the active set.


def _feed_config(config: str | None) -> dict[str, object]:
    """``signatures-url`` and ``trusted-keys`` from a ``--config`` TOML (top level or [scan])."""
    if not config:
        return {}
    import tomllib

    p = Path(config)
    try:
        raw = tomllib.loads(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        typer.echo(f"nscheck signatures update: {p}: {e}", err=True)
        raise typer.Exit(ExitCode.USAGE) from None
    if isinstance(raw.get("scan"), dict):
        raw = {**raw, **raw["scan"]}
    out: dict[str, object] = {}
    for key in ("signatures_url", "trusted_keys"):
        val = raw.get(key, raw.get(key.replace("_", "-")))
        if val is not None:
            if key == "trusted_keys":
                items = [val] if isinstance(val, str) else val
                if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
                    typer.echo(f"nscheck signatures update: {p}: trusted-keys: expected a list of paths", err=True)
                    raise typer.Exit(ExitCode.USAGE)
                val = [str(p.parent / Path(i).expanduser()) for i in items]
            elif not isinstance(val, str):
                typer.echo(f"nscheck signatures update: {p}: signatures-url: expected a string", err=True)
                raise typer.Exit(ExitCode.USAGE)
            out[key] = val
    return out


def _describe(info: object) -> str:
    from nscheck.feed.store import SetInfo

    assert isinstance(info, SetInfo)
    age = info.age_days()
    return f"{info.version} (dated {info.date or '?'}{f', {age} days old' if age is not None else ''})"


@signatures_app.command("update")
def update_cmd(
    source: str = typer.Option(None, "--from", metavar="URL|FILE",
                               help="Bundle to install: an https:// URL or a local file (air-gapped sites). "
                                    "Default: $NSCHECK_SIGNATURES_URL, else signatures-url in --config."),
    config: str = typer.Option(None, "--config", metavar="FILE", help="TOML with signatures-url / trusted-keys."),
    allow_downgrade: bool = typer.Option(False, "--allow-downgrade", help="Install a set older than the active one."),
    trusted_key: list[str] = typer.Option([], "--trusted-key", metavar="FILE",
                                          help="Also trust this Ed25519 public key (PEM); repeatable."),
    ca: str = typer.Option(None, "--ca", metavar="FILE", help="CA bundle for the feed's TLS certificate."),
    timeout: float = typer.Option(30.0, "--timeout", metavar="SECONDS", min=0.1, help="Download timeout."),
) -> None:
    """Fetch a signed signature bundle, verify it, lint it, and switch to it atomically."""
    from nscheck.feed.bundle import BundleError, Refusal
    from nscheck.feed.keys import KeyError_
    from nscheck.feed.store import StoreError
    from nscheck.feed.update import ENV_URL, SourceError, update
    from nscheck.paths import shipped_signatures_dir

    cfg = _feed_config(config)
    src = source or os.environ.get(ENV_URL) or cfg.get("signatures_url")
    if not src:
        typer.echo("nscheck signatures update: no bundle given: use --from URL|FILE, $NSCHECK_SIGNATURES_URL "
                   "or signatures-url in --config (there is no built-in feed address)", err=True)
        raise typer.Exit(ExitCode.USAGE)
    keys = [*trusted_key, *(cfg.get("trusted_keys") or [])]  # type: ignore[misc]
    try:
        res = update(str(src), shipped_signatures_dir(), allow_downgrade=allow_downgrade, trusted=keys,
                     ca_file=ca, timeout=timeout)
    except KeyError_ as e:
        typer.echo(f"nscheck signatures update: {e}", err=True)
        raise typer.Exit(ExitCode.USAGE) from None
    except SourceError as e:
        typer.echo(f"nscheck signatures update: {e}", err=True)
        code = {"usage": ExitCode.USAGE, "oversized": ExitCode.DATAERR}.get(e.kind, ExitCode.TEMPFAIL)
        if code != ExitCode.USAGE:
            typer.echo("nscheck signatures update: the active set is unchanged", err=True)
        raise typer.Exit(code) from None
    except BundleError as e:
        typer.echo(f"nscheck signatures update: refused: {e}", err=True)
        typer.echo("nscheck signatures update: the active set is unchanged", err=True)
        raise typer.Exit(ExitCode.TEMPFAIL if e.reason is Refusal.TRUNCATED else ExitCode.DATAERR) from None
    except StoreError as e:
        typer.echo(f"nscheck signatures update: {e}", err=True)
        raise typer.Exit(ExitCode.TEMPFAIL if "holds" in str(e) else ExitCode.CANTCREAT) from None
    except OSError as e:
        typer.echo(f"nscheck signatures update: cannot write the signature store: {e.strerror or e}", err=True)
        raise typer.Exit(ExitCode.CANTCREAT) from None
    if res.unchanged:
        typer.echo(f"signature set {_describe(res.activated)} is already active")
    else:
        a = res.activated
        typer.echo(f"activated signature set {_describe(a)}, signed by key {a.key_id} ({a.key_source})")
        typer.echo(f"previous: {_describe(res.previous) if res.previous else 'the set shipped with nscheck'}"
                   " (nscheck signatures rollback returns to it)")
    raise typer.Exit(ExitCode.OK)


@signatures_app.command("status")
def status_cmd(
    fmt: StatusFormat = typer.Option(StatusFormat.TEXT, "--format", "-f", help="Output: lines of text, or JSON."),
) -> None:
    """The active signature set: version, date, age, source, bundle digest, signing key; the previous set."""
    import json

    from nscheck.feed import store
    from nscheck.feed.update import effective, shipped
    from nscheck.paths import ENV_SIGNATURES, shipped_signatures_dir

    ship_dir = shipped_signatures_dir()
    act, ship = effective(ship_dir), shipped(ship_dir)
    try:
        stored, prev = store.active(), store.previous()
    except store.StoreError as e:
        typer.echo(f"nscheck signatures status: {e}", err=True)
        raise typer.Exit(ExitCode.CANTCREAT) from None
    override = os.environ.get(ENV_SIGNATURES)
    if fmt == "json":
        doc = {"active": act.to_dict() | {"age_days": act.age_days()} if act else None,
               "previous": prev.to_dict() if prev else None, "shipped": ship.to_dict() if ship else None,
               "store": str(store.root()), "override": override}
        typer.echo(json.dumps(doc, indent=2))
        raise typer.Exit(ExitCode.OK)
    if act is None:
        typer.echo("no signature set found", err=True)
        raise typer.Exit(ExitCode.USAGE)
    lines = [f"active:    {_describe(act)}", f"source:    {act.source}", f"path:      {act.path}"]
    if act.digest:
        lines.append(f"digest:    sha256:{act.digest}")
        lines.append(f"signed by: key {act.key_id} ({act.key_source})")
    if act.installed_at:
        lines.append(f"installed: {act.installed_at}")
    if stored is not None and act.path != stored.path:
        lines.append(f"note:      the shipped set is newer than the downloaded {stored.version}, so it is used")
    lines.append(f"previous:  {_describe(prev) + ' from ' + prev.source if prev else 'none (rollback returns to the shipped set)' if stored else 'none'}")
    lines.append(f"store:     {store.root()}")
    if override:
        lines.append(f"override:  ${ENV_SIGNATURES}={override} (commands use that directory instead)")
    typer.echo("\n".join(lines))
    raise typer.Exit(ExitCode.OK)


@signatures_app.command("rollback")
def rollback_cmd() -> None:
    """Return to the previously active signature set (or to the shipped one)."""
    from nscheck.feed import store
    from nscheck.feed.update import effective, pinned
    from nscheck.paths import shipped_signatures_dir

    try:
        with store.locked():
            now, before = store.rollback()
    except store.StoreError as e:
        typer.echo(f"nscheck signatures rollback: {e}", err=True)
        raise typer.Exit(ExitCode.TEMPFAIL if "holds" in str(e) else ExitCode.USAGE) from None
    pinned.cache_clear()
    eff = effective(shipped_signatures_dir())
    typer.echo(f"active: {_describe(eff) if eff else '?'} ({eff.source if eff else ''}); "
               f"previous: {_describe(before) if before else 'the shipped set'}")
    if now is not None and eff is not None and eff.path != now.path:
        typer.echo(f"note: the shipped set {eff.version} is newer than {now.version}, so scans use it", err=True)
    raise typer.Exit(ExitCode.OK)
