"""The command line. One module per command; each registers itself on ``app``.

Exit codes (also in README and --help): 0 nothing at or above the threshold; 1 findings at or
above --fail-on; 2 --fail-on-unknown and a host unknown/unreachable; 64 usage error;
69 signature set older than --max-signature-age; 75 another run holds the lock.
"""

from __future__ import annotations

import sys

import typer

from nscheck import __version__
from nscheck.exitcodes import ExitCode

app = typer.Typer(
    name="nscheck",
    no_args_is_help=True,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"nscheck {__version__}")
        from nscheck.paths import signatures_dir

        try:
            from nscheck.report.exitcodes import signatures_meta

            meta = signatures_meta(signatures_dir(None))
            typer.echo(f"signatures {meta.get('signatures_version') or '?'} "
                       f"(dated {meta.get('signatures_date') or '?'}; nscheck signatures status for details)")
        except Exception:  # --version must answer even with a broken data directory
            typer.echo("signatures: unreadable (nscheck signatures status)")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    """nscheck: find vulnerable and compromised Citrix NetScaler ADC / Gateway appliances.

    Exit codes: 0 clean (nothing at or above --fail-on), 1 findings at or above --fail-on,
    2 unknown/unreachable hosts with --fail-on-unknown, 64 usage error, 69 signatures older
    than --max-signature-age, 75 another run holds --lock.
    """


def _register() -> None:
    # Imported for their side effect of adding commands to ``app``.
    import importlib
    import pkgutil

    for mod in pkgutil.iter_modules(__path__):
        if not mod.name.startswith("_"):
            importlib.import_module(f"{__name__}.{mod.name}")


_register()


def main(argv: list[str] | None = None) -> None:
    """Entry point. Click's usage errors exit 2, which we reserve for "unknown hosts", so usage
    errors are mapped to 64 (EX_USAGE) here."""
    try:
        import click
    except ImportError:  # typer >= 0.2x vendors click privately
        from typer import _click as click  # type: ignore[no-redef]

    try:
        rv = app(args=argv, standalone_mode=False)
    except click.exceptions.UsageError as e:
        e.show(file=sys.stderr)
        sys.exit(ExitCode.USAGE)
    except typer.Abort:
        sys.exit(ExitCode.SIGINT)
    except typer.Exit as e:
        sys.exit(e.exit_code)
    except BrokenPipeError:
        # `nscheck ... | head`: the reader left; that is not an error of ours.
        sys.stderr.close()
        sys.exit(ExitCode.OK)
    except KeyboardInterrupt:
        sys.exit(ExitCode.SIGINT)
    except OSError as e:  # after BrokenPipeError (an OSError too)
        from nscheck.report.files import OutputPathError

        if not isinstance(e, OutputPathError):
            raise
        print(f"nscheck: {e.strerror}", file=sys.stderr)
        sys.exit(ExitCode.CANTCREAT)
    sys.exit(rv if isinstance(rv, int) else 0)
