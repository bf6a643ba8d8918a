"""The command line. One module per command; each registers itself on ``app``.

Exit codes: ``nscheck.exitcodes.ExitCode`` is the one list; README's table and the root
``--help`` say the same (tests/test_cli_exitcodes.py checks all three and runs each case).
"""

from __future__ import annotations

import os
import sys
from typing import Any

import typer

from nscheck import __version__
from nscheck.exitcodes import ExitCode

__all__ = ["EXIT_HELP", "ExitCode", "app", "command", "main"]


def _exit_help() -> str:
    # SIGINT/SIGTERM share one line, as in README's table.
    rows = [(str(int(c)), c.meaning) for c in ExitCode if c not in (ExitCode.SIGINT, ExitCode.SIGTERM)]
    rows.append((f"{int(ExitCode.SIGINT)}/{int(ExitCode.SIGTERM)}",
                 "interrupted by SIGINT/SIGTERM: finished hosts kept, run marked partial"))
    # "\b": click keeps this paragraph as written (no rewrapping that splits --fail-on).
    return "\b\nExit codes:\n" + "\n".join(f"  {code:<8} {meaning}" for code, meaning in rows)


EXIT_HELP = _exit_help()

app = typer.Typer(
    name="nscheck",
    no_args_is_help=True,
    add_completion=True,  # --install-completion / --show-completion (bash, zsh, fish, PowerShell)
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
        raise typer.Exit(ExitCode.OK)


@app.callback(epilog=EXIT_HELP)
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
    no_color: bool = typer.Option(False, "--no-color", help="No colours in any output (so does NO_COLOR=1)."),
) -> None:
    """nscheck: find vulnerable and compromised Citrix NetScaler ADC / Gateway appliances."""
    if no_color:
        # rich reads NO_COLOR when a Console is made, so one switch covers every command.
        os.environ["NO_COLOR"] = "1"


# Order in --help: the main job first, then the other ways in, then the tools around them.
_COMMAND_MODULES = ("scan", "assess", "triage", "report", "history", "signatures", "lab")


def _register() -> None:
    # Imported for their side effect of adding commands to ``app``; modules starting with "_"
    # are helpers, not commands; a command module not in the list comes last.
    import importlib
    import pkgutil

    names = list(_COMMAND_MODULES)
    names += sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_") and m.name not in names)
    for name in names:
        importlib.import_module(f"{__name__}.{name}")


_register()


def _click() -> Any:
    try:
        import click
    except ImportError:  # typer >= 0.2x vendors click privately
        from typer import _click as click
    return click


# A usage error (a bad flag value, an unknown --format choice) exits 64, EX_USAGE, however the
# command is run, main() or typer's test runner: click's own 2 means "hosts unknown" here.
_click().exceptions.UsageError.exit_code = ExitCode.USAGE


def command() -> Any:
    """The click group, with readable metavars and finite numbers (see ``_help``)."""
    from nscheck.cli._help import finite_numbers, readable_metavars

    group = typer.main.get_command(app)
    readable_metavars(group)
    finite_numbers(group)
    return group


def main(argv: list[str] | None = None) -> None:
    """Entry point. Click's usage errors exit 2, which we reserve for "unknown hosts", so usage
    errors are mapped to 64 (EX_USAGE) here. Anything unexpected is a bug: one line naming a
    crash report, exit 70, never a traceback."""
    args = _global_flags(list(sys.argv[1:] if argv is None else argv))
    try:
        click = _click()
        try:
            rv = command().main(args=args, prog_name="nscheck", standalone_mode=False)
        except click.exceptions.UsageError as e:
            e.show(file=sys.stderr)
            sys.exit(ExitCode.USAGE)
        except click.exceptions.FileError as e:  # typer.Argument(exists=True) style errors
            e.show(file=sys.stderr)
            sys.exit(ExitCode.NOINPUT)
        except (typer.Abort, getattr(click.exceptions, "Abort", typer.Abort)):
            sys.exit(ExitCode.SIGINT)
        except (typer.Exit, getattr(click.exceptions, "Exit", typer.Exit)) as e:
            sys.exit(e.exit_code)
        except click.exceptions.ClickException as e:
            e.show(file=sys.stderr)
            sys.exit(ExitCode.USAGE)
    except BrokenPipeError:
        # `nscheck ... | head`: the reader left; that is not an error of ours.
        _quiet_stdout()
        sys.exit(ExitCode.OK)
    except KeyboardInterrupt:
        sys.exit(ExitCode.SIGINT)
    except SystemExit:
        raise
    except Exception as e:  # the last resort: a bug, said in one line
        from nscheck.report.files import OutputPathError

        if isinstance(e, OutputPathError):  # a refused output path (e.g. a planted symlink): not a bug
            print(f"nscheck: {e.strerror}", file=sys.stderr)
            sys.exit(ExitCode.CANTCREAT)
        from nscheck.cli._crash import report_crash

        try:
            line = report_crash(e, args)
        except Exception as inner:  # even the crash report failed: still one line
            line = f"nscheck: internal error: {type(e).__name__} (crash report failed: {type(inner).__name__})"
        print(line, file=sys.stderr)
        sys.exit(ExitCode.SOFTWARE)
    sys.exit(rv if isinstance(rv, int) else 0)


def _global_flags(args: list[str]) -> list[str]:
    """``--no-color`` works anywhere on the line (``nscheck scan ... --no-color``), as in the
    tools people bring it from; after ``--`` it is an argument like any other."""
    end = args.index("--") if "--" in args else len(args)
    if "--no-color" in args[:end]:
        os.environ["NO_COLOR"] = "1"  # rich reads NO_COLOR when a Console is made
        args = [a for a in args[:end] if a != "--no-color"] + args[end:]
    return args


def _quiet_stdout() -> None:
    # Python flushes stdout at exit; with the reader gone that flush would raise again.
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
