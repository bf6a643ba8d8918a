"""The declared command set of live triage over SSH (``signatures/ssh.yaml``), and its linter.

Live triage may send nothing but these commands. The linter makes them read-only by construction:
every simple command's program must be on the file's allowlist (which itself may not name a
program that writes, deletes, or runs other code), the only redirections are to ``/dev/null`` (or
``2>&1``), there is no command substitution, variable expansion, subshell or background job, and
the options of ``find``, ``xargs`` and ``tar`` that write, delete or execute are refused. Errors
say ``ssh.yaml:line: field: reason``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from nscheck.signatures import SignatureError, register_loader

__all__ = ["CliCommand", "ShellCommand", "SshCommandSet", "cli_problems", "lint_shell", "load_ssh_commands"]

FILE = "ssh.yaml"
# Never allowed on the allowlist: they write, delete, move, change owners/modes, or run other code.
DENIED_PROGRAMS = frozenset({
    "rm", "mv", "tee", "cp", "dd", "ln", "touch", "mkdir", "rmdir", "chmod", "chown", "chflags", "truncate",
    "install", "sh", "bash", "csh", "tcsh", "ksh", "zsh", "env", "sudo", "su", "doas", "python", "python3", "perl",
    "php", "ruby", "awk", "sed", "vi", "ed", "nc", "curl", "wget", "fetch", "ftp", "scp", "ssh", "kill", "pkill",
    "killall", "reboot", "shutdown", "nsapimgr", "nscli", "crontab", "at", "eval", "exec", "source", ".", "sync",
})
_FIND_DENIED = frozenset({"-delete", "-exec", "-execdir", "-ok", "-okdir", "-fprint", "-fprint0", "-fprintf", "-fls"})
_XARGS_WITH_ARG = frozenset({"-n", "-I", "-J", "-L", "-P", "-s", "-E", "-R", "-S"})
_TAR_LONG_DENIED = ("command", "program", "checkpoint", "remove", "overwrite", "unlink", "extract", "append",
                    "update", "delete", "directory", "files-from")
_OPERATORS = ("&&", "||", ">>", ">&", "|", ";", "&", ">", "<", "(", ")")
# A shell command reaches FreeBSD's sh through the NetScaler CLI's `shell` command, and the CLI
# tokenises the line itself first (double-quoted arguments, backslash escapes). A command made only
# of these characters means the same to sh whatever the CLI does with quoting: no quotes,
# backslashes, parentheses, `$`, `#`, globs or braces.
_CLI_SAFE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 _.,/%:=+-|;&>")
_ID = r"^[a-z][a-z0-9_]{0,31}$"


class _Tok(str):
    op: bool = False


def _tokenize(cmd: str) -> list[_Tok]:
    """Shell words and operators; raises ValueError for expansions and unbalanced quotes. Quoted or
    escaped characters are words, never operators (``\\(`` is find's argument, not a subshell)."""
    toks: list[_Tok] = []
    cur: list[str] = []
    have = False
    i, n = 0, len(cmd)

    def flush() -> None:
        nonlocal cur, have
        if have:
            toks.append(_Tok("".join(cur)))
        cur, have = [], False

    while i < n:
        c = cmd[i]
        if c in "\n\r\0":
            raise ValueError("line breaks and NUL are not allowed (one command per entry)")
        if c in "`$":
            raise ValueError(f"{c!r}: command substitution and variable expansion are not allowed")
        if c == "\\":
            if i + 1 >= n:
                raise ValueError("trailing backslash")
            cur.append(cmd[i + 1])
            have = True
            i += 2
            continue
        if c == "'":
            j = cmd.find("'", i + 1)
            if j < 0:
                raise ValueError("unbalanced single quote")
            cur.append(cmd[i + 1:j])
            have = True
            i = j + 1
            continue
        if c == '"':
            j = cmd.find('"', i + 1)
            if j < 0:
                raise ValueError("unbalanced double quote")
            inner = cmd[i + 1:j]
            if "\\" in inner:
                raise ValueError("backslashes inside double quotes are not allowed (use single quotes)")
            cur.append(inner)
            have = True
            i = j + 1
            continue
        if c in " \t":
            flush()
            i += 1
            continue
        op = next((o for o in _OPERATORS if cmd.startswith(o, i)), None)
        if op is not None:
            if op in (">", ">>", ">&") and have and "".join(cur).isdigit():
                cur = []  # "2>": a file-descriptor prefix, part of the redirection
                have = False
            flush()
            t = _Tok(op)
            t.op = True
            toks.append(t)
            i += len(op)
            continue
        cur.append(c)
        have = True
        i += 1
    flush()
    return toks


def lint_shell(cmd: str, programs: frozenset[str] | set[str]) -> list[str]:
    """Problems that make ``cmd`` not read-only (empty list: fine)."""
    try:
        toks = _tokenize(cmd)
    except ValueError as e:
        return [str(e)]
    problems: list[str] = []
    simple: list[list[_Tok]] = [[]]
    i = 0
    while i < len(toks):
        t = toks[i]
        if t.op:
            if t in ("|", ";", "&&", "||"):
                simple.append([])
            elif t in (">", ">>"):
                target = toks[i + 1] if i + 1 < len(toks) else None
                if target is None or target.op or target != "/dev/null":
                    problems.append(f"redirection to {target or 'nothing'!s}: only to /dev/null")
                i += 1
            elif t == ">&":
                target = toks[i + 1] if i + 1 < len(toks) else None
                if target not in ("1", "2"):
                    problems.append(f"redirection >&{target or ''}: only 2>&1")
                i += 1
            elif t == "<":
                problems.append("input redirection is not allowed")
            elif t == "&":
                problems.append("background jobs (&) are not allowed")
            else:
                problems.append(f"{t!r}: subshells are not allowed")
        else:
            simple[-1].append(t)
        i += 1
    for words in simple:
        if not words:
            problems.append("empty command (a stray |, ; or &&)")
            continue
        problems.extend(_lint_simple([str(w) for w in words], programs))
    return problems


def cli_problems(cmd: str) -> list[str]:
    """Why ``cmd`` might not reach the appliance's shell unchanged through the NetScaler CLI (empty: fine)."""
    bad = sorted({c for c in cmd if c not in _CLI_SAFE})
    if not bad:
        return []
    shown = " ".join(repr(c) for c in bad[:10])
    return [f"characters the NetScaler CLI may re-quote or strip before the shell sees them: {shown} "
            "(no quotes, backslashes, parentheses, $, #, globs; e.g. stat -f %N,%z unquoted, find -perm +6000)"]


def _program_ok(prog: str, programs: frozenset[str] | set[str]) -> str | None:
    if "/" in prog or "=" in prog:
        return f"program {prog!r}: give a bare program name from the allowlist (no paths, no VAR=value)"
    if prog in DENIED_PROGRAMS:
        return f"program {prog!r} writes, deletes or runs other code: never allowed"
    if prog not in programs:
        return f"program {prog!r} is not on the allowlist (programs:)"
    return None


def _lint_simple(words: list[str], programs: frozenset[str] | set[str]) -> list[str]:
    prog = words[0]
    bad = _program_ok(prog, programs)
    if bad:
        return [bad]
    args = words[1:]
    out: list[str] = []
    if prog == "find":
        out += [f"find {a}: writes, deletes or executes" for a in args if a in _FIND_DENIED]
    elif prog == "xargs":
        j = 0
        while j < len(args) and args[j].startswith("-"):
            j += 2 if args[j] in _XARGS_WITH_ARG else 1
        if j >= len(args):
            out.append("xargs without a program (it would run echo)")
        else:
            inner = args[j]
            bad = _program_ok(inner, programs)
            if bad:
                out.append("xargs runs " + bad)
            elif inner in ("xargs", "find"):
                out.append(f"xargs may not run {inner}")
            else:
                out += _lint_simple(args[j:], programs)
    elif prog == "tar":
        opts = [a for a in args if a.startswith("-")]
        short = "".join(a[1:] for a in opts if not a.startswith("--"))
        if "c" not in short:
            out.append("tar must create (-c) an archive on stdout")
        for letter in "xturAC":
            if letter in short:
                out.append(f"tar -{letter} is not allowed (only -c to stdout)")
        for a in opts:
            if a.startswith("--") and any(w in a for w in _TAR_LONG_DENIED):
                out.append(f"tar {a} is not allowed")
        if "f" in short:
            first = next(k for k, a in enumerate(args) if a.startswith("-") and not a.startswith("--") and "f" in a)
            if first + 1 >= len(args) or args[first + 1] != "-":
                out.append("tar -f must be '-' (stdout): nothing is written on the appliance")
        else:
            out.append("tar needs -f - (stdout): its default may be a tape device")
    return out


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CliCommand(_Model):
    id: str = Field(pattern=_ID)
    run: str
    max_bytes: int = Field(gt=0, le=16 * 1024**2)

    @field_validator("run")
    @classmethod
    def _show_only(cls, v: str) -> str:
        # The CLI is not a shell; only its read-only verb is declared.
        if not re.fullmatch(r"show [a-z][a-z ]{0,60}", v):
            raise ValueError("CLI commands must be 'show ...' (lower-case words only)")
        return v


class ShellCommand(_Model):
    id: str = Field(pattern=_ID)
    kind: Literal["tar", "stat_listing", "ps", "sockstat", "netstat"]
    run: str
    max_bytes: int = Field(gt=0, le=64 * 1024**3)


class SshCommandSet(_Model):
    version: Literal[1]
    shell_entry: Literal["shell"]
    programs: tuple[str, ...]
    cli: tuple[CliCommand, ...]
    commands: tuple[ShellCommand, ...]
    file: str = ""

    @field_validator("programs")
    @classmethod
    def _no_denied(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        bad = sorted(set(v) & DENIED_PROGRAMS)
        if bad:
            raise ValueError(f"never allowed (write, delete or run other code): {', '.join(bad)}")
        return v

    def __len__(self) -> int:
        return len(self.cli) + len(self.commands)

    def by_id(self, cid: str) -> ShellCommand | None:
        return next((c for c in self.commands if c.id == cid), None)


@dataclass(frozen=True)
class _Where:
    path: Path
    raw: Any


def _line(raw: Any, loc: tuple[Any, ...]) -> int | None:
    from nscheck.signatures._yaml import line_of

    node = raw
    line = getattr(raw, "start_line", None)
    for part in loc:
        if isinstance(node, dict) and part in node:
            line = line_of(node, str(part)) or line
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            node = node[part]
            line = getattr(node, "start_line", line)
        else:
            break
    return line


def load_ssh_commands(directory: Path) -> SshCommandSet:
    """Load and lint ``ssh.yaml``; raises SignatureError (or an ExceptionGroup of them)."""
    from nscheck.signatures._yaml import line_of, load_yaml

    path = directory / FILE
    if not path.exists():
        raise SignatureError(path, "missing: live triage over SSH needs its declared command set")
    raw = load_yaml(path)
    if not isinstance(raw, dict):
        raise SignatureError(path, "expected a mapping at the top")
    try:
        cs = SshCommandSet.model_validate({**raw, "file": str(path)})
    except ValidationError as e:
        errs = [SignatureError(path, err["msg"], field=".".join(str(p) for p in err["loc"]),
                               line=_line(raw, tuple(err["loc"]))) for err in e.errors()]
        if len(errs) == 1:
            raise errs[0] from None
        raise ExceptionGroup(f"{path}: {len(errs)} problems", errs) from None
    errors: list[SignatureError] = []
    seen: set[str] = set()
    items = raw.get("commands") or []
    programs = frozenset(cs.programs)
    for i, c in enumerate(cs.commands):
        node = items[i] if i < len(items) else None
        line = line_of(node, "run") if node is not None else None
        if c.id in seen:
            errors.append(SignatureError(path, f"duplicate id {c.id!r}", field=f"commands.{i}.id", line=line))
        seen.add(c.id)
        for p in lint_shell(c.run, programs) + cli_problems(c.run):
            errors.append(SignatureError(path, f"{c.id}: {p}", field=f"commands.{i}.run", line=line))
    if len(errors) == 1:
        raise errors[0]
    if errors:
        raise ExceptionGroup(f"{path}: {len(errors)} problems", errors)
    return cs


def _load(directory: Path) -> Any:
    if not (directory / FILE).exists():
        return ()  # an older signature set without live triage: nothing to lint
    return load_ssh_commands(directory)


register_loader("ssh", _load)
