"""Readable ``--help``: metavars people know from other tools (FILE, N, BUILD), not
``<list[str]>``.

Set here for every command at once, by option name, so a flag added later gets a readable
metavar without anyone remembering to write one: by its name (``--jsonl`` is a FILE), else by
its type (an integer is N, a number is SECONDS when its name says time, else N).
"""

from __future__ import annotations

from enum import Enum
from typing import Any

# Long option (or argument) name -> metavar. Choices are spelled out: they are short.
BY_NAME: dict[str, str] = {
    # arguments
    "targets": "TARGET",
    "build": "BUILD",
    "paths": "PATH",
    "inputs": "INPUT",
    "host": "HOST",
    "item": "ID",
    "rule_id": "ID",
    # files and directories
    "--input": "FILE",
    "--exclude": "HOST|CIDR",
    "--exclude-file": "FILE",
    "--ca": "FILE",
    "--allow-origin": "ORIGIN",
    "--allow-origin-file": "FILE",
    "--signatures": "DIR",
    "--output-dir": "DIR",
    "--output": "FILE",
    "--jsonl": "FILE",
    "--csv": "FILE",
    "--html": "FILE",
    "--state": "FILE",
    "--lock": "FILE",
    "--suppressions": "FILE",
    "--config": "FILE",
    "--write-targets": "FILE",
    # values
    "--shard": "K/N",
    "--proxy": "URL",
    "--header": "'NAME: VALUE'",
    "--user-agent": "TEXT",
    "--max-body": "BYTES",
    "--max-expand": "N",
    "--max-signature-age": "DAYS",
    "--recent-days": "DAYS",
    "--rate-limit": "N/s",
    "--indicator-paths": "default|full|none",
    "--fail-on": "critical|high|medium|low|any|none",
    "--collected-at": "ISO-TIME",
    "--edition": "standard|fips|ndcpp",
    "--role": "ROLE",
    "--no-role": "ROLE",
    "--name": "NAME",
    "--bind": "ADDRESS",
    "--refused-share": "0..1",
    "--silent-share": "0..1",
    "--latency-ms": "MS",
    "--preset": "demo|full|indicators",
    "--triaged": "TEXT",
    "--by": "NAME",
}
_TIME_WORDS = ("timeout", "deadline", "period", "duration", "seconds", "delay")


def _long_name(param: Any) -> str:
    longs = [o for o in getattr(param, "opts", ()) if o.startswith("--")]
    return longs[0] if longs else str(param.name)


def _metavar(param: Any, help_text: str) -> str | None:
    name = _long_name(param)
    if name in BY_NAME:
        return BY_NAME[name]
    if getattr(param, "is_flag", False) or getattr(param, "count", False):
        return None
    ann = _annotation(param)
    if isinstance(ann, type) and issubclass(ann, Enum):  # a choice (--format): its values, as completion offers them
        return "|".join(str(m.value) for m in ann)
    if name == "--format":
        # "table | json" in the help text -> the choices
        tail = help_text.rsplit(":", 1)[-1].replace(" ", "").rstrip(".")
        return tail if tail and "|" in tail else "FORMAT"
    if ann is int:
        return "N"
    if ann is float:
        return "SECONDS" if any(w in name for w in _TIME_WORDS) else "N"
    if param.param_type_name == "argument":
        return str(param.name).upper()
    if name.endswith("-file") or name.endswith("-dir"):
        return "FILE" if name.endswith("-file") else "DIR"
    return "TEXT"


def _annotation(param: Any) -> Any:
    desc = getattr(param, "type_descriptor", None)  # typer >= 0.2x
    if desc is not None:
        return desc.annotation
    return {"integer": int, "float": float}.get(getattr(getattr(param, "type", None), "name", ""), str)


def _no_type_suffix(ctx: Any) -> None:
    return None


def readable_metavars(cmd: Any) -> None:
    """Give every option and argument of ``cmd`` (and its subcommands) a readable metavar."""
    for param in getattr(cmd, "params", ()):
        if getattr(param, "metavar", None) is None:
            mv = _metavar(param, getattr(param, "help", "") or "")
            if mv is not None:
                param.metavar = mv
        if param.param_type_name == "argument" and hasattr(param, "display_type_rich"):
            # typer prints "NAME <list[str]>" for arguments whatever the metavar says.
            param.display_type_rich = _no_type_suffix
    for sub in (getattr(cmd, "commands", None) or {}).values():
        readable_metavars(sub)


def _finite(inner: Any) -> Any:
    def check(ctx: Any, param: Any, value: Any) -> Any:
        import math

        values = value if isinstance(value, list | tuple) else [value]
        for v in values:
            if isinstance(v, float) and not math.isfinite(v):
                from nscheck.cli import _click

                raise _click().exceptions.BadParameter(f"{v} is not a finite number", ctx=ctx, param=param)
        return inner(ctx, param, value) if inner is not None else value

    return check


def finite_numbers(cmd: Any) -> None:
    """``--timeout nan`` or ``--host-deadline inf`` pass a ``min=`` check (nan compares false,
    inf is large) and would reach asyncio as a deadline: refuse them as usage errors."""
    for param in getattr(cmd, "params", ()):
        if _annotation(param) is float and param.param_type_name == "option":
            param.callback = _finite(param.callback)
    for sub in (getattr(cmd, "commands", None) or {}).values():
        finite_numbers(sub)
