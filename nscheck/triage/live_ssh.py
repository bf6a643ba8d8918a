"""Live triage over SSH: collect the declared read-only streams from an appliance, then triage them.

Only the commands of ``signatures/ssh.yaml`` are sent (re-linted here, wrapped in nscheck's fixed
framing). Each shell stream is base64 on the appliance, between per-run random markers that must
stand alone on a line: the NetScaler CLI's own framing (a trailing `` Done``, prompts, PTY echo,
CR/LF) is ignored and an appliance cannot forge the end of a stream. Decoded bytes are spooled,
capped, into a private (0600) directory, or into ``--collect-to`` with a SHA-256 manifest; the tar
is then read member by member by the existing triage readers (never extracted, never executed).
Host keys: known_hosts first; unknown -> refused unless ``accept_new`` (recorded in nscheck's own
file); changed -> always refused. The password is only handed to asyncssh for its own host.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import datetime as dt
import functools
import hashlib
import json
import os
import re
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any
from urllib.parse import unquote, urlsplit

from nscheck.signatures.ssh import SshCommandSet, cli_problems, lint_shell
from nscheck.triage.sources import Entry, Opener, Source

__all__ = ["LiveSource", "SshAuth", "SshTarget", "collect", "parse_ssh_target", "planned_commands"]

LINE_CAP = 1 << 20  # one framing line; base64 lines are 64-76 chars
_VERSION = re.compile(r"NetScaler NS\d+\.\d+:? Build [0-9.]+[^\r\n]{0,80}")
# The NetScaler CLI's own words: a command's `` Done`` trailer or an ``ERROR: ...`` answer (e.g. a
# command policy that refuses `show ns version`); a FreeBSD shell says neither.
_CLI_WORDS = re.compile(r"^\s*(?:Done|ERROR: .*)\s*$", re.MULTILINE)
SHELL_NAMES = {"stat_listing": "stat_listing.txt", "ps": "ps.txt", "sockstat": "sockstat.txt", "netstat": "netstat.txt"}


def _open_binary(path: str | os.PathLike[str]) -> IO[bytes]:
    return open(path, "rb")


class SshTargetError(ValueError):
    pass


@dataclass(frozen=True)
class SshTarget:
    url: str  # as given (the result's target)
    user: str
    host: str
    port: int

    @property
    def key(self) -> str:
        return self.host if self.port == 22 else f"[{self.host}]:{self.port}"


def parse_ssh_target(text: str, default_user: str | None = None) -> SshTarget:
    """``ssh://USER@HOST[:PORT]`` (or a bare host with ``--ssh-user``). A password in the URL is refused:
    it would end up in shell history, process lists and reports."""
    t = text.strip()
    url = t if t.startswith("ssh://") else "ssh://" + t
    try:
        u = urlsplit(url)
        port = u.port or 22
    except ValueError as e:
        raise SshTargetError(f"not an ssh:// target ({e})") from None
    if u.password is not None:
        raise SshTargetError("a password in the URL is refused: use NSCHECK_SSH_PASSWORD or --ssh-password-file")
    if not u.hostname or u.path not in ("", "/") or u.query or u.fragment:
        raise SshTargetError("expected ssh://USER@HOST[:PORT]")
    user = unquote(u.username) if u.username else default_user
    if not user:
        raise SshTargetError("no user: give ssh://USER@HOST or --ssh-user")
    return SshTarget(url=t if t.startswith("ssh://") else f"ssh://{user}@{t}", user=user, host=u.hostname, port=port)


@dataclass(frozen=True)
class SshAuth:
    key_file: str | None = None
    password: Any = field(default=None, repr=False)  # a nitro.secret.Secret: never printed
    known_hosts: str | None = None  # default ~/.ssh/known_hosts
    own_known_hosts: str | None = None  # nscheck's own, where --accept-new-host-keys records keys
    accept_new: bool = False
    connect_timeout: float = 15.0


def wrap(cmd_id: str, run: str, nonce: str) -> str:
    return f"echo NSCHECK-BEGIN-{cmd_id}-{nonce}; {run} | openssl base64; echo NSCHECK-END-{cmd_id}-{nonce}"


def planned_commands(cs: SshCommandSet, nonce: str = "<nonce>") -> list[str]:
    """What is sent to a CLI-first login, in order (``--dry-run``). A plain shell login gets the same
    shell commands without the leading ``shell``."""
    out = [c.run for c in cs.cli]
    out += [f"{cs.shell_entry} {wrap(c.id, c.run, nonce)}" for c in cs.commands]
    return out


# -- collection ---------------------------------------------------------------------------------


@dataclass
class Stream:
    cmd_id: str
    kind: str
    path: Path
    size: int = 0
    sha256: str = ""
    capped: bool = False
    complete: bool = False
    damaged: int = 0
    max_bytes: int = 0


@dataclass
class Collection:
    target: SshTarget
    started: dt.datetime
    ended: dt.datetime | None = None
    mode: str = ""  # "cli" | "shell"
    version_text: str | None = None
    shell_ok: bool = False
    shell_refusal: str | None = None
    streams: list[Stream] = field(default_factory=list)
    error: str | None = None
    host_key: str | None = None
    sent: list[str] = field(default_factory=list)
    directory: Path | None = None
    keep: bool = False

    def cleanup(self) -> None:
        if self.directory is not None and not self.keep:
            shutil.rmtree(self.directory, ignore_errors=True)


def _known_keys(path: str | None, t: SshTarget) -> list[Any]:
    import asyncssh

    if not path or not os.path.exists(path):
        return []
    try:
        kh = asyncssh.read_known_hosts(path)
    except (OSError, ValueError):
        return []
    return list(kh.match(t.host, "", t.port)[0])


def _client_class(t: SshTarget, auth: SshAuth, col: Collection) -> type:
    import asyncssh

    class _Client(asyncssh.SSHClient):
        def validate_host_public_key(self, host: str, addr: str, port: int, key: Any) -> bool:
            known = _known_keys(auth.known_hosts or os.path.expanduser("~/.ssh/known_hosts"), t)
            known += _known_keys(auth.own_known_hosts, t)
            fp = key.get_fingerprint()
            col.host_key = fp
            if any(k == key for k in known):
                return True
            if known:
                col.error = (f"host key CHANGED: the host presented {fp}, which does not match the key recorded for "
                             f"{t.key}; refused (this may be an attack, or a rebuilt appliance: verify out of band)")
                return False
            if not auth.accept_new:
                col.error = (f"unknown host key {fp} for {t.key}: refused; verify it out of band and add it to "
                             "known_hosts, or run with --accept-new-host-keys")
                return False
            if auth.own_known_hosts:
                Path(auth.own_known_hosts).parent.mkdir(parents=True, exist_ok=True)
                line = key.export_public_key("openssh").decode().strip()
                fd = os.open(auth.own_known_hosts, os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0),
                             0o600)
                with os.fdopen(fd, "a") as fh:
                    fh.write(f"{t.key} {line}\n")
            return True

    return _Client


def _is_marker(line: str, marker: str) -> bool:
    """``marker`` alone on its line, or after a few bytes of the CLI's own framing (NCSC-NL trims
    such leading bytes from `shell` output): never inside the echo of the command line itself."""
    if line == marker:
        return True
    if not line.endswith(marker):
        return False
    prefix = line[: -len(marker)]
    return len(prefix) <= 32 and "echo" not in prefix and "NSCHECK" not in prefix


async def _read_framed(stdout: Any, cmd_id: str, nonce: str, stream: Stream) -> str:
    """Decode the base64 between this command's markers into ``stream.path``; returns the text seen
    outside the markers (the CLI's own words, e.g. a refusal)."""
    begin, end = f"NSCHECK-BEGIN-{cmd_id}-{nonce}", f"NSCHECK-END-{cmd_id}-{nonce}"
    outside: list[str] = []
    inside = False
    h = hashlib.sha256()
    buf = b""
    fd = os.open(stream.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    with os.fdopen(fd, "wb") as out:
        while True:
            chunk = await stdout.read(1 << 16)
            if not chunk:
                break
            buf += chunk
            while True:
                nl = buf.find(b"\n")
                if nl < 0:
                    if len(buf) > LINE_CAP:
                        buf = b""  # an endless line: framing broken, dropped
                        stream.damaged += 1
                    break
                raw, buf = buf[:nl], buf[nl + 1:]
                line = raw.strip().decode("ascii", "replace")
                if not inside:
                    if _is_marker(line, begin):
                        inside = True
                    elif len(outside) < 20:
                        outside.append(line[:300])
                    continue
                if _is_marker(line, end):
                    inside = False
                    stream.complete = True
                    continue
                if not line or stream.capped:
                    continue
                try:
                    data = base64.b64decode(line, validate=True)
                except (binascii.Error, ValueError):
                    stream.damaged += 1  # not base64: a prompt or CLI noise inside the frame
                    continue
                room = stream.max_bytes - stream.size
                if len(data) > room:
                    data = data[:room]
                    stream.capped = True
                out.write(data)
                h.update(data)
                stream.size += len(data)
    stream.sha256 = h.hexdigest()
    return "\n".join(x for x in outside if x)


async def _exec(conn: Any, command: str, col: Collection) -> Any:
    col.sent.append(command)
    return await conn.create_process(command, encoding=None, stdin=asyncio.subprocess.DEVNULL)


async def _cli_text(conn: Any, command: str, col: Collection, cap: int) -> str:
    proc = await _exec(conn, command, col)
    data = b""
    while len(data) < cap:
        chunk = await proc.stdout.read(min(1 << 16, cap - len(data)))
        if not chunk:
            break
        data += chunk
    proc.close()
    return data.decode("utf-8", "replace")


async def collect(t: SshTarget, cs: SshCommandSet, auth: SshAuth, *, collect_to: str | None = None,
                  deadline: float | None = None) -> Collection:
    """Run the declared commands on one appliance; never raises (``error`` says why)."""
    col = Collection(target=t, started=dt.datetime.now(dt.UTC))
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", f"{t.host}_{t.port}")
    try:
        if collect_to:
            # a fresh folder per appliance and run (never reused: evidence is not overwritten)
            col.directory = Path(tempfile.mkdtemp(prefix=f"{safe}_{col.started.strftime('%Y%m%dT%H%M%SZ')}_",
                                                  dir=collect_to))
            col.keep = True
        else:
            col.directory = Path(tempfile.mkdtemp(prefix="nscheck-ssh-"))
    except OSError as e:
        col.error = f"cannot create the collection folder: {e.strerror or e}"
        col.ended = dt.datetime.now(dt.UTC)
        return col
    try:
        if deadline:
            await asyncio.wait_for(_collect(t, cs, auth, col), deadline)
        else:
            await _collect(t, cs, auth, col)
    except TimeoutError:
        col.error = col.error or f"host deadline ({deadline:g} s) reached during collection; streams not complete"
    except Exception as e:
        if col.error is None:
            msg = str(e) or type(e).__name__
            if auth.password is not None and auth.password.reveal():
                msg = msg.replace(auth.password.reveal(), "***")
            col.error = f"ssh: {type(e).__name__}: {msg}"
    col.ended = dt.datetime.now(dt.UTC)
    if col.keep:
        _manifest(col)
    return col


async def _collect(t: SshTarget, cs: SshCommandSet, auth: SshAuth, col: Collection) -> None:
    import asyncssh

    nonce = secrets.token_hex(8)
    programs = frozenset(cs.programs)
    opts: dict[str, Any] = {
        "username": t.user, "known_hosts": asyncssh.import_known_hosts(""), "server_host_key_algs": "default",
        "connect_timeout": auth.connect_timeout, "config": None,
    }
    if auth.key_file:
        opts["client_keys"] = [auth.key_file]
    if auth.password is not None:
        opts["password"] = auth.password.reveal()
    if not auth.key_file and auth.password is not None:
        opts["client_keys"] = None  # password only: do not try whatever keys happen to be lying around
        opts["agent_path"] = None
    async with asyncssh.connect(t.host, t.port, client_factory=_client_class(t, auth, col), **opts) as conn:
        version = await _cli_text(conn, cs.cli[0].run, col, cs.cli[0].max_bytes)
        m = _VERSION.search(version)
        col.mode = "cli" if m or _CLI_WORDS.search(version) else "shell"
        col.version_text = m.group(0).strip() if m else None
        for c in cs.commands:
            wrapped = wrap(c.id, c.run, nonce)
            problems = lint_shell(wrapped, programs) + cli_problems(wrapped)
            if problems:  # the loader lints too; this is the last gate before the wire
                raise RuntimeError(f"refusing to send {c.id}: {problems[0]}")
            command = f"{cs.shell_entry} {wrapped}" if col.mode == "cli" else wrapped
            assert col.directory is not None
            s = Stream(cmd_id=c.id, kind=c.kind, path=col.directory / f"{c.id}.{'tar' if c.kind == 'tar' else 'txt'}",
                       max_bytes=c.max_bytes)
            col.streams.append(s)  # listed before reading: a stream cut by the deadline still shows in coverage
            proc = await _exec(conn, command, col)
            outside = await _read_framed(proc.stdout, c.id, nonce, s)
            proc.close()
            if not s.complete and s.size == 0:
                # no frame at all: the account cannot reach the shell (CLI refused 'shell')
                col.shell_ok = False
                col.shell_refusal = outside[:300] or "no output"
                return
            col.shell_ok = True


def _manifest(col: Collection) -> None:
    assert col.directory is not None
    files = [{"file": s.path.name, "command": s.cmd_id, "bytes": s.size, "sha256": s.sha256, "complete": s.complete,
              "capped": s.capped} for s in col.streams if s.path.exists()]
    man = {"target": col.target.url, "host_key": col.host_key,
           "collection_started": col.started.isoformat().replace("+00:00", "Z"),
           "collection_ended": col.ended.isoformat().replace("+00:00", "Z") if col.ended else None,
           "login": col.mode, "show_ns_version": col.version_text, "commands_sent": col.sent, "files": files,
           "error": col.error}
    (col.directory / "manifest.json").write_text(json.dumps(man, indent=2, ensure_ascii=True) + "\n")
    with open(col.directory / "SHA256SUMS", "w") as fh:
        for f in files:
            fh.write(f"{f['sha256']}  {f['file']}\n")


# -- the collection as a triage source -------------------------------------------------------------


@dataclass
class LiveSource(Source):
    collection: Collection | None = None

    def _iter(self) -> Iterator[tuple[Entry, Opener | None]]:
        col = self.collection
        assert col is not None
        when = col.started.timestamp()
        listing = next((s for s in col.streams if s.cmd_id == "stat_listing" and s.size), None)
        if listing is not None:
            win = install_window(listing.path)
            if win is not None:
                self.facts["install_window"] = win
        for s in col.streams:
            if s.capped:
                self.note("capped", s.cmd_id, f"output cut at {s.size} bytes (max_bytes in ssh.yaml)")
            if not s.complete:
                self.note("incomplete", s.cmd_id, "stream ended before its end marker (connection lost or deadline)")
            if s.damaged:
                self.note("framing", s.cmd_id, f"{s.damaged} line(s) inside the frame were not base64 (CLI noise)")
            if s.kind == "tar":
                if s.size == 0:
                    continue
                raw: IO[bytes] = open(s.path, "rb")  # noqa: SIM115 - closed below
                try:
                    yield from self._walk(raw, f"{self.label} ({s.cmd_id})", 0)
                finally:
                    raw.close()
            else:
                name = SHELL_NAMES[s.kind] if s.cmd_id not in ("setuid",) else "stat_setuid.txt"
                path = s.path
                yield (Entry(f"/.collector/shell/{name}", "file", size=s.size, mode=0o600, uid=0, gid=0, mtime=when,
                             origin=f"ssh command {s.cmd_id}"),
                       functools.partial(_open_binary, path))  # the runner closes it


INSTALL_BUCKET_S = 600.0


def install_window(listing: Path, max_rows: int = 2_000_000) -> tuple[float, float, int] | None:
    """When the firmware was installed, judged from the appliance's own files: stock files are
    extracted at install time, so their birth time is newer than their (build-time) mtime and
    many of them share one birth moment. The 10-minute bucket holding most such files is the
    install window (start, end, files); a file born then with an older mtime is stock, not a
    timestomp. None when no such cluster exists (then every mtime < birth time is reported)."""
    from collections import Counter

    buckets: Counter[int] = Counter()
    rows = 0
    with open(listing, "rb") as fh:
        for raw in fh:
            rows += 1
            if rows > max_rows:
                break
            parts = raw.decode("utf-8", "replace").rstrip("\r\n").rsplit(",", 10)
            if len(parts) != 11:
                continue
            try:
                mtime, birth = float(parts[8]), float(parts[10])
            except ValueError:
                continue
            if birth > 0 and birth - mtime > 1.0:
                buckets[int(birth // INSTALL_BUCKET_S)] += 1
    if not buckets:
        return None
    b, n = buckets.most_common(1)[0]
    if n < 3:
        return None  # a handful of files is no firmware install
    # the neighbouring buckets belong to the same install when it straddles a bucket edge
    lo = b - 1 if buckets.get(b - 1) else b
    hi = b + 1 if buckets.get(b + 1) else b
    total = sum(buckets.get(k, 0) for k in range(lo, hi + 1))
    return lo * INSTALL_BUCKET_S, (hi + 1) * INSTALL_BUCKET_S, total


# -- one appliance's result ------------------------------------------------------------------------

NO_SHELL = "live checks not possible with this account"


def triage_collection(col: Collection, opts: Any, rules: Any, sigdir: Path | None) -> Any:
    """The HostResult of one live appliance (target: the ssh:// URL as given)."""
    import dataclasses

    from nscheck.build import BuildError, parse_build
    from nscheck.model import BuildInfo, Confidence, Coverage, Evidence, HostResult, HostStatus, Skipped
    from nscheck.triage.context import iso
    from nscheck.triage.runner import triage

    url = col.target.url
    live: dict[str, Any] = {
        "login": col.mode or None, "host_key": col.host_key, "show_ns_version": col.version_text,
        "commands_sent": len(col.sent), "streams": [{"command": s.cmd_id, "bytes": s.size, "complete": s.complete,
                                                      "capped": s.capped} for s in col.streams],
        "collection_started": iso(col.started.timestamp()),
        "collection_ended": iso(col.ended.timestamp()) if col.ended else None,
        "evidence_folder": str(col.directory) if col.keep else None,
    }
    build_info = None
    if col.version_text:
        try:
            b = parse_build(col.version_text)
            build_info = BuildInfo(release=b.release, build=b.number, edition=b.edition.value if b.edition else None,
                                   exact=True, candidates=(b.plain,), confidence=Confidence.HIGH,
                                   methods=(Evidence("show ns version", col.version_text, confidence=Confidence.HIGH),))
        except BuildError:
            pass
    if not col.shell_ok:
        if col.error and not col.mode:
            status = HostStatus.ERROR
            error = col.error
            summary = f"NOT TRIAGED: {error}"
        else:
            status = HostStatus.ERROR
            reason = f"{NO_SHELL}: the CLI did not run 'shell' ({col.shell_refusal or col.error or 'no output'})"
            error = reason
            answer = (col.shell_refusal or "").lower()
            if col.shell_refusal and not any(w in answer for w in ("authoriz", "permission", "denied", "not allowed")):
                # not a refusal of the account: the CLI (or shell) did not take the command line itself
                hint = ("The answer is not a permission refusal: compare it with the commands of --dry-run and report "
                        "it with your firmware version (nscheck --version, show ns version). ")
            else:
                hint = ("Use an account whose command policy allows 'shell' (see README: live triage, least-privilege "
                        "account). ")
            summary = (f"NOT TRIAGED: {reason}. {hint}Or collect a support bundle and run nscheck triage on it.")
        return HostResult(target=url, status=status, error=error, kind="triage", build=build_info,
                          skipped=(Skipped("triage", error),), started=iso(col.started.timestamp()),
                          coverage=Coverage.from_dict({"summary": summary, "source": {"path": url, "type": "live"},
                                                       "live": live, "error": error}),
                          extra={"source": url, "collected_at": iso(col.started.timestamp())})
    src = LiveSource(label=url, kind="live", has_ctime=True, has_birthtime=True, collection=col)
    topts = dataclasses.replace(opts, name=url, collected_at=opts.collected_at or col.started)
    result = triage([src], topts, rules, sigdir)
    cov: dict[str, Any] = result.coverage.to_dict() if result.coverage is not None else {}
    live["checks_run_live"] = sorted(n for n, st in (cov.get("families") or {}).items()
                                     if st.get("status") in ("checked", "partial"))
    cov["live"] = live
    result_error = result.error
    incomplete = [s.cmd_id for s in col.streams if not s.complete or s.capped]
    if col.error or incomplete:
        why = col.error or ("streams incomplete or capped: " + ", ".join(incomplete))
        result_error = f"{result_error}; {why}" if result_error else why
        cov["summary"] = "INCOMPLETE COLLECTION: " + why + ". " + cov.get("summary", "")
    if result.build is None and build_info is not None:
        result = dataclasses.replace(result, build=build_info)
    return dataclasses.replace(result, coverage=Coverage.from_dict(cov), error=result_error,
                               status=HostStatus.ERROR if result_error else result.status,
                               extra={**result.extra, "source": url})


# -- many appliances: collect concurrently, triage as each is done ---------------------------------


def start_collections(targets: list[SshTarget], cs: SshCommandSet, auth: SshAuth, *, concurrency: int,
                      host_deadline: float | None, collect_to: str | None) -> dict[str, Any]:
    """Collect every target on a background event loop (at most ``concurrency`` at once, each within
    ``host_deadline``); returns url -> concurrent Future of its Collection. A stuck host only holds
    its own slot until its deadline."""
    import concurrent.futures
    import threading

    futures: dict[str, concurrent.futures.Future[Collection]] = {t.url: concurrent.futures.Future() for t in targets}

    async def main() -> None:
        sem = asyncio.Semaphore(max(1, concurrency))

        async def one(t: SshTarget) -> None:
            try:
                async with sem:
                    col = await collect(t, cs, auth, collect_to=collect_to, deadline=host_deadline)
                futures[t.url].set_result(col)
            except BaseException as e:  # collect() does not raise; this keeps the waiter from hanging if it did
                futures[t.url].set_exception(RuntimeError(f"collection failed: {type(e).__name__}"))

        await asyncio.gather(*(one(t) for t in targets))

    threading.Thread(target=lambda: asyncio.run(main()), name="nscheck-ssh", daemon=True).start()
    return futures


ENV_PASSWORD = "NSCHECK_SSH_PASSWORD"


class LiveUsageError(ValueError):
    """A bad target, option or secret file: exit 64 before anything is sent."""


def own_known_hosts_path() -> str:
    """nscheck's own known-hosts file (keys accepted with --accept-new-host-keys)."""
    env = os.environ.get("NSCHECK_SSH_KNOWN_HOSTS")
    if env:
        return env
    import platformdirs

    return str(Path(platformdirs.user_data_dir("nscheck")) / "ssh_known_hosts")


def read_targets(args: list[str], files: list[str], user: str | None) -> list[SshTarget]:
    lines: list[tuple[str, str]] = [(a, "argument") for a in args]
    for fname in files:
        try:
            text = Path(fname).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise LiveUsageError(f"{fname}: cannot read ({getattr(e, 'strerror', None) or e})") from None
        for no, raw in enumerate(text.splitlines(), 1):
            line = raw.split("#", 1)[0].strip()
            if line:
                lines.append((line, f"{fname}:{no}"))
    out: list[SshTarget] = []
    seen: set[str] = set()
    for text, where in lines:
        if where == "argument" and not text.startswith("ssh://"):
            raise LiveUsageError(f"{text!r}: live triage takes ssh:// targets; triage archives in a separate run")
        try:
            t = parse_ssh_target(text, user)
        except SshTargetError as e:
            raise LiveUsageError(f"{where}: {e}") from None
        if t.url not in seen:
            seen.add(t.url)
            out.append(t)
    if not out:
        raise LiveUsageError("no ssh:// targets")
    return out


def read_password(password_file: str | None) -> Any:
    from nscheck.nitro.credentials import CredentialError, check_private
    from nscheck.nitro.secret import Secret

    if password_file:
        try:
            check_private(Path(password_file), "--ssh-password-file")
            text = Path(password_file).read_text(encoding="utf-8")
        except CredentialError as e:
            raise LiveUsageError(str(e)) from None
        except (OSError, UnicodeDecodeError):
            raise LiveUsageError(f"--ssh-password-file {password_file}: cannot read as UTF-8 text") from None
        line = text.splitlines()[0] if text else ""
        if not line:
            raise LiveUsageError(f"--ssh-password-file {password_file}: empty (the password is the first line)")
        return Secret(line)
    env = os.environ.get(ENV_PASSWORD)
    return Secret(env) if env else None


def run_live(targets: list[SshTarget], cs: SshCommandSet, auth: SshAuth, opts: Any, rules: Any, sigdir: Path, *,
             concurrency: int, host_deadline: float | None, collect_to: str | None) -> int:
    """Collect and triage every target; same sinks, reports, state and exit codes as offline triage."""
    import dataclasses

    from nscheck.cli.triage import run_triage

    if collect_to:
        Path(collect_to).mkdir(parents=True, exist_ok=True)
    lopts = dataclasses.replace(opts, paths=tuple(t.url for t in targets), name=None)
    triaged = start_triage(targets, cs, auth, lopts, rules, sigdir, concurrency=concurrency,
                           host_deadline=host_deadline, collect_to=collect_to)

    def triage_fn(group: list[str], o: Any, r: Any, s: Path) -> Any:
        # no timeout here: each collection is bounded by its own deadline, and a queued host has not
        # started yet (waiting for a -c slot is not its fault)
        return triaged[group[0]].result()

    return run_triage(lopts, rules, sigdir, triage_fn)


def start_triage(targets: list[SshTarget], cs: SshCommandSet, auth: SshAuth, opts: Any, rules: Any, sigdir: Path, *,
                 concurrency: int, host_deadline: float | None, collect_to: str | None,
                 triage_workers: int | None = None) -> dict[str, Any]:
    """url -> Future of its HostResult. Each appliance is triaged as soon as its collection is done,
    at most ``concurrency`` triages at once (``-c`` bounds the analysis as well as the collection), so a
    slow or stuck host never holds back the analysis of the others. The sinks still get the results
    in target order (run_triage)."""
    import concurrent.futures
    import threading

    collections = start_collections(targets, cs, auth, concurrency=concurrency, host_deadline=host_deadline,
                                    collect_to=collect_to)
    workers = max(1, triage_workers or concurrency)
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="nscheck-triage")
    results: dict[str, concurrent.futures.Future[Any]] = {t.url: concurrent.futures.Future() for t in targets}
    left = [len(targets)]
    lock = threading.Lock()

    def one(url: str, fut: concurrent.futures.Future[Collection]) -> None:
        out = results[url]
        try:
            try:
                col = fut.result()
            except Exception as e:
                from nscheck.model import Coverage, HostResult, HostStatus

                out.set_result(HostResult(target=url, status=HostStatus.ERROR, error=str(e), kind="triage",
                                          coverage=Coverage.from_dict({"summary": f"NOT TRIAGED: {e}",
                                                                       "source": {"path": url, "type": "live"}})))
                return
            try:
                out.set_result(triage_collection(col, opts, rules, sigdir))
            finally:
                col.cleanup()
        except BaseException as e:  # triage() does not raise; this keeps the waiter from hanging if it did
            if not out.done():
                out.set_exception(e)
        finally:
            with lock:
                left[0] -= 1
                last = left[0] == 0
            if last:
                pool.shutdown(wait=False)

    for url, fut in collections.items():
        fut.add_done_callback(lambda f, u=url: pool.submit(one, u, f))
    return results
