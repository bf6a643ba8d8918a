"""NetScaler-like SSH appliances on loopback for live triage (``nscheck lab --ssh N``, ``nscheck demo``, tests).

Each appliance is an asyncssh server that behaves like the NetScaler CLI as an SSH exec channel
shows it: ``show ns version`` answers with the version line and `` Done``; ``shell CMD`` runs CMD
in the "FreeBSD shell" (here: only the declared commands of ``signatures/ssh.yaml``, answered from a
generated file tree, see ``nscheck/lab/trees.py``); anything else is ``ERROR: No such command``.
Output uses CR/LF, ``shell`` echoes its command line first (PTY echo) and every CLI answer ends
with `` Done`` and a ``> `` prompt, so the collector's framing is tested against the CLI's noise.

Profiles: ``cli`` (superuser: the CLI runs ``shell``), ``noshell`` (the CLI refuses ``shell`` the
way a command policy without it does), ``plain`` (the login lands in a shell, not the CLI),
``hang`` (stops in the middle of the tar stream and never ends). A "changed host key" appliance is a
``cli`` one whose known_hosts line names another key. Every command received is recorded in
``Appliance.received`` (tests prove nothing else is ever sent).

The appliances' clock reads ``trees.COLLECTED`` (20 Nov 2026): triage them with
``--collected-at 2026-11-20T12:00:00Z`` (the demo does) so "recent" means what the trees plant.
"""

from __future__ import annotations

import asyncio
import base64
import io
import re
import tarfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncssh

from nscheck.lab.trees import COLLECTED, INSTALL, OLD, RECENT, Spec, clean_tree, compromised_tree, f
from nscheck.signatures.ssh import SshCommandSet

__all__ = [
    "LAB_SSH_PASSWORD", "LAB_SSH_USER", "PROFILES", "Appliance", "SshLab", "compromised_specs", "known_hosts_line",
    "start", "tar_bytes", "tree_roots",
]

LAB_SSH_USER = "nsroot"
# The lab's own public password (not a secret; loopback only), like the NITRO lab's.
LAB_SSH_PASSWORD = "lab-ssh-password"
PROFILES = ("cli", "noshell", "plain", "hang")
VERSION = "\tNetScaler NS14.1: Build 47.46.nc, Date: Jun  7 2025, 10:22:30   (64-bit)\r\n Done\r\n"
# A non-superuser's `shell` (a command policy without it): the CLI's refusal.
REFUSED = b"ERROR: Not authorized to execute this command [shell]\r\n"
PROMPT = b"> "
_WRAP = re.compile(r"^echo NSCHECK-BEGIN-(?P<id>[a-z0-9_]+)-(?P<n>[0-9a-f]+); (?P<run>.*) \| openssl base64; "
                   r"echo NSCHECK-END-(?P=id)-(?P=n)$", re.DOTALL)
# Timestomped in the compromised tree: an old mtime, but born 10 days before the collection (only a
# live stat listing shows the birth time).
STOMPED = "/var/netscaler/logon/LogonPoint/uiareas/stomped.php"


def compromised_specs() -> list[Spec]:
    """The compromised tree plus one file only a live collection can judge (its birth time)."""
    return [*compromised_tree(), f(STOMPED, "<?php echo 1; ?>\n", mtime=OLD)]


@dataclass
class Appliance:
    specs: list[Spec]
    profile: str = "cli"  # cli | noshell | plain | hang
    user: str = LAB_SSH_USER
    password: str = LAB_SSH_PASSWORD
    # birth times: path -> birth (default: INSTALL for files older than it, else their mtime)
    births: dict[str, float] = field(default_factory=dict)
    processes: str = ("USER PID %CPU %MEM VSZ RSS TT STAT STARTED TIME COMMAND\n"
                      "root 1 0.0 0.0 11000 900 - ILs 20Nov26 0:00.01 /sbin/init --\n"
                      "nobody 812 0.0 0.1 60000 9000 - S 20Nov26 0:01.00 /bin/httpd -DFOREGROUND\n")
    sockets: str = ("USER COMMAND PID FD PROTO LOCAL ADDRESS FOREIGN ADDRESS\n"
                    "root sshd 700 4 tcp4 *:22 *:*\n")
    name: str = ""
    # like an sshd that offers the password only through keyboard-interactive (PAM)
    kbdint_only: bool = False
    # a command policy that refuses `show ns version` but allows `shell`
    deny_version: bool = False
    # bytes the CLI puts before a `shell` command's output, on the same line as its first words
    lead_noise: bytes = b""
    received: list[str] = field(default_factory=list)
    server: Any = None
    host: str = "127.0.0.1"
    port: int = 0
    host_key: Any = None
    known_key: Any = None  # what known_hosts records (another key: a "changed host key" appliance)

    def birth(self, s: Spec) -> float:
        return self.births.get(s.path, max(INSTALL, s.mtime))

    @property
    def url(self) -> str:
        return f"ssh://{self.user}@{self.host}:{self.port}"


def _under(path: str, roots: list[str]) -> bool:
    return any(path == r or path.startswith(r.rstrip("/") + "/") for r in roots)


def tar_bytes(specs: list[Spec], roots: list[str]) -> bytes:
    """The uncompressed tar the appliance's ``tar -cf - ROOTS`` would stream (names without '/')."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        dirs: set[str] = set()
        for s in specs:
            if not _under(s.path, roots):
                continue
            parts = s.path.lstrip("/").split("/")[:-1]
            for i in range(1, len(parts) + 1):
                d = "/".join(parts[:i])
                if d not in dirs and _under("/" + d, roots):  # tar walks each root's directories too
                    dirs.add(d)
                    di = tarfile.TarInfo(d)
                    di.type, di.mode, di.mtime = tarfile.DIRTYPE, 0o755, int(INSTALL)
                    tf.addfile(di)
            ti = tarfile.TarInfo(s.path.lstrip("/"))
            ti.mode, ti.uid, ti.gid, ti.mtime = s.mode, s.uid, s.gid, int(s.mtime)
            if s.kind == "dir":
                ti.type = tarfile.DIRTYPE
                tf.addfile(ti)
                continue
            if s.kind == "symlink":
                ti.type = tarfile.SYMTYPE
                ti.linkname = s.link
                tf.addfile(ti)
                continue
            ti.size = len(s.data)
            tf.addfile(ti, io.BytesIO(s.data))
    return buf.getvalue()


def tree_roots(run: str) -> list[str]:
    return [w for w in run.split() if w.startswith("/") and w != "/dev/null"]


def visible_specs(specs: list[Spec], cs: SshCommandSet) -> list[Spec]:
    """The files the declared tar streams: the equivalent tarball of a live collection."""
    tree = cs.by_id("tree")
    roots = tree_roots(tree.run) if tree is not None else []
    return [s for s in specs if _under(s.path, roots)]


class _Server(asyncssh.SSHServer):
    def __init__(self, app: Appliance):
        self.app = app

    def begin_auth(self, username: str) -> bool:
        return True

    def password_auth_supported(self) -> bool:
        return not self.app.kbdint_only

    def validate_password(self, username: str, password: str) -> bool:
        return username == self.app.user and password == self.app.password

    def kbdint_auth_supported(self) -> bool:
        return self.app.kbdint_only

    def get_kbdint_challenge(self, username: str, lang: str, submethods: str) -> Any:
        return "", "", "", [("Password: ", False)]

    def validate_kbdint_response(self, username: str, responses: Any) -> bool:
        return list(responses) == [self.app.password] and username == self.app.user


def _stat_rows(app: Appliance, setuid_only: bool) -> str:
    """What FreeBSD's ``stat -f %N,%z,%u,%g,%p,%i,%l,%.9Fa,%.9Fm,%.9Fc,%.9FB`` prints (``%p``: octal
    type and mode bits; times: seconds.nanoseconds)."""
    rows = []
    for s in app.specs:
        if s.kind != "file":
            continue
        if setuid_only and not (s.mode & 0o6000 and _under(s.path, ["/var", "/tmp"])):
            continue
        mode = 0o100000 | s.mode
        b = app.birth(s)
        rows.append(f"{s.path},{len(s.data)},{s.uid},{s.gid},{mode:o},1,1,{s.mtime:.9f},{s.mtime:.9f},{b:.9f},{b:.9f}\n")
    return "".join(rows)


def _b64_lines(data: bytes) -> list[bytes]:
    # openssl base64: 64 characters a line
    enc = base64.b64encode(data)
    return [enc[i:i + 64] + b"\r\n" for i in range(0, len(enc), 64)]


async def _answer(app: Appliance, cs: SshCommandSet, proc: asyncssh.SSHServerProcess[bytes]) -> None:
    cmd = proc.command or ""
    app.received.append(cmd)
    out = proc.stdout
    cli = app.profile != "plain"
    if cli and cmd == "show ns version":
        out.write((b"ERROR: Not authorized to execute this command [show ns version]\r\n" if app.deny_version
                   else VERSION.encode()) + PROMPT)
        return
    if not cli:
        if cmd.startswith("show "):
            out.write(b"sh: show: not found\r\n")
            proc.exit(127)
            return
        inner = cmd
    else:
        if not cmd.startswith("shell "):
            out.write(b"ERROR: No such command\r\n" + PROMPT)
            return
        if app.profile == "noshell":
            out.write(REFUSED + PROMPT)
            return
        # The real CLI parses double quotes and backslashes before the shell runs the line; the
        # lab drops them, so a declared command that relied on them would not be recognised here.
        inner = cmd[len("shell "):].replace('"', "").replace("\\", "")
    m = _WRAP.match(inner)
    decl = cs.by_id(m.group("id")) if m else None
    if m is None or decl is None or decl.run != m.group("run"):
        out.write(b"sh: command not recognised by the lab\r\n")
        return
    if cli:
        out.write(b"shell " + inner.encode() + b"\r\n")  # PTY echo of the command line
    if decl.kind == "tar":
        data = tar_bytes(app.specs, tree_roots(decl.run))
    elif decl.kind == "stat_listing":
        data = _stat_rows(app, setuid_only=decl.id == "setuid").encode()
    elif decl.kind == "ps":
        data = app.processes.encode()
    else:
        data = app.sockets.encode()
    out.write(app.lead_noise + f"NSCHECK-BEGIN-{m.group('id')}-{m.group('n')}\r\n".encode())
    lines = _b64_lines(data)
    if app.profile == "hang" and decl.kind == "tar":
        for ln in lines[: max(1, len(lines) // 2)]:
            out.write(ln)
        await asyncio.Event().wait()  # never finishes
    for ln in lines:
        out.write(ln)
    out.write(f"NSCHECK-END-{m.group('id')}-{m.group('n')}\r\n".encode())
    if cli:
        out.write(b" Done\r\n" + PROMPT)


async def start(app: Appliance, cs: SshCommandSet, host_key: Any | None = None, host: str = "127.0.0.1") -> Appliance:
    key = host_key or asyncssh.generate_private_key("ssh-ed25519")
    app.host_key = key

    async def handle(proc: asyncssh.SSHServerProcess[bytes]) -> None:
        try:
            await _answer(app, cs, proc)
        finally:
            proc.exit(0)

    app.server = await asyncssh.create_server(lambda: _Server(app), host, 0, server_host_keys=[key],
                                              process_factory=handle, encoding=None)
    app.host, app.port = host, app.server.sockets[0].getsockname()[1]
    return app


def known_hosts_line(app: Appliance, key: Any | None = None) -> str:
    k = key or app.known_key or app.host_key
    return f"[{app.host}]:{app.port} {k.export_public_key('openssh').decode().strip()}\n"


def fleet(n: int) -> list[Appliance]:
    """``nscheck lab --ssh N``: compromised, clean, no-shell account, hangs mid-stream, changed host
    key, then clean and compromised in turn."""
    first = [("compromised", "cli"), ("clean", "cli"), ("noshell", "noshell"), ("hang", "hang"),
             ("changed-key", "cli")]
    out: list[Appliance] = []
    for i in range(n):
        kind, profile = first[i] if i < len(first) else (("clean", "cli") if i % 2 else ("compromised", "cli"))
        bad = kind == "compromised"
        specs = compromised_specs() if bad else clean_tree()
        app = Appliance(specs=specs, profile=profile, births={STOMPED: RECENT} if bad else {},
                        name=f"ssh-{i + 1:02d}-{kind}")
        if kind == "changed-key":
            app.known_key = asyncssh.generate_private_key("ssh-ed25519")
        out.append(app)
    return out


class SshLab:
    """SSH appliances served on their own event loop in a background thread (``nscheck lab``,
    ``nscheck demo``, CLI tests). ``stop()`` closes them."""

    def __init__(self, apps: list[Appliance], cs: SshCommandSet, host: str = "127.0.0.1"):
        self.apps = apps
        self._loop = asyncio.new_event_loop()
        ready = threading.Event()
        failed: list[BaseException] = []

        def run() -> None:
            asyncio.set_event_loop(self._loop)

            async def boot() -> None:
                for a in apps:
                    await start(a, cs, host=host)

            try:
                self._loop.run_until_complete(boot())
            except BaseException as e:  # reported to the caller below
                failed.append(e)
                ready.set()
                return
            ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, name="nscheck-ssh-lab", daemon=True)
        self._thread.start()
        if not ready.wait(60) or failed:
            raise RuntimeError(f"SSH lab did not start: {failed[0] if failed else 'timeout'}")

    @property
    def urls(self) -> list[str]:
        return [a.url for a in self.apps]

    def write_known_hosts(self, path: str | Path) -> Path:
        p = Path(path)
        p.write_text("".join(known_hosts_line(a) for a in self.apps), encoding="utf-8")
        return p

    def stop(self) -> None:
        def close() -> None:
            for a in self.apps:
                if a.server is not None:
                    a.server.close()
            self._loop.stop()

        if self._loop.is_running():
            self._loop.call_soon_threadsafe(close)
        self._thread.join(10)

    def __enter__(self) -> SshLab:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def collected_at() -> Any:
    """The lab appliances' clock (see the module docstring)."""
    return COLLECTED


# -- the demo's live triage, checked against what the lab serves ----------------------------------


@dataclass
class LiveDemo:
    app: Appliance
    result: Any  # HostResult of the live triage
    offline: Any  # HostResult of nscheck triage on the equivalent tarball
    problems: list[str]


def _tar_part(r: Any) -> set[tuple[str, str | None]]:
    # indicators a tarball can also give (the live run adds its own listings: birth times, setuid
    # search, processes)
    return {(i.id, i.path) for i in r.indicators
            if not (i.path or "").startswith("/.collector/") and not i.evidence.endswith("[from the stat listing]")}


def live_disagreements(app: Appliance, live: Any, offline: Any) -> list[str]:
    """Where a live triage of ``app`` differs from what the lab serves: a compromised appliance
    must show at least the indicators of the equivalent tarball (each with evidence) and the
    timestomp only a live stat listing reveals; a clean one nothing, with every check run."""
    out: list[str] = []
    status = getattr(live.status, "value", live.status)
    if status != "ok":
        return [f"status {status} ({live.error}), lab expects a complete collection"]
    missing = _tar_part(offline) - _tar_part(live)
    if missing:
        out.append(f"{len(missing)} indicator(s) of the equivalent tarball missing live, e.g. {sorted(missing)[0]}")
    extra = _tar_part(live) - _tar_part(offline)
    if extra:
        out.append(f"{len(extra)} indicator(s) live that the equivalent tarball does not give, e.g. {sorted(extra)[0]}")
    if any(not i.evidence for i in live.indicators):
        out.append("an indicator without evidence")
    planted = any(s.path == STOMPED for s in app.specs) and app.births.get(STOMPED)
    if planted and not any(i.check == "timestomp" and i.path == STOMPED for i in live.indicators):
        out.append(f"the timestomped {STOMPED} (birth time newer than mtime) was not reported")
    if not offline.indicators and live.indicators:
        out.append(f"{len(live.indicators)} indicator(s) on a clean appliance, e.g. {live.indicators[0].id}")
    if offline.indicators and not live.indicators:
        out.append("no indicators on a compromised appliance")
    return out


def demo_live(sigdir: Path, workdir: Path, *, deadline: float = 60.0) -> list[LiveDemo]:
    """Serve a compromised and a clean SSH appliance on loopback, triage both live (an ephemeral
    known_hosts in ``workdir``, the lab's public password) and each equivalent tarball offline."""
    from nscheck.inputs import load_triage_inputs
    from nscheck.lab.trees import write_tar
    from nscheck.nitro.secret import Secret
    from nscheck.signatures.ssh import load_ssh_commands
    from nscheck.triage.context import TriageOptions
    from nscheck.triage.live_ssh import SshAuth, parse_ssh_target, start_collections, triage_collection
    from nscheck.triage.runner import triage

    cs = load_ssh_commands(sigdir)
    rules = load_triage_inputs(sigdir).rules
    apps = [Appliance(specs=compromised_specs(), births={STOMPED: RECENT}, name="ssh-compromised"),
            Appliance(specs=clean_tree(), name="ssh-clean")]
    opts = TriageOptions(collected_at=COLLECTED)
    out: list[LiveDemo] = []
    with SshLab(apps, cs) as lab:
        kh = lab.write_known_hosts(workdir / "known_hosts")
        auth = SshAuth(password=Secret(LAB_SSH_PASSWORD), known_hosts=str(kh),
                       own_known_hosts=str(workdir / "own_known_hosts"))
        targets = [parse_ssh_target(a.url) for a in apps]
        futures = start_collections(targets, cs, auth, concurrency=len(targets), host_deadline=deadline,
                                    collect_to=None)
        for app, t in zip(apps, targets, strict=True):
            col = futures[t.url].result()
            try:
                live = triage_collection(col, opts, rules, sigdir)
            finally:
                col.cleanup()
            tarball = write_tar(visible_specs(app.specs, cs), workdir / f"{app.name}.tar.gz")
            offline = triage([str(tarball)], opts, rules, sigdir)
            out.append(LiveDemo(app, live, offline, live_disagreements(app, live, offline)))
    return out
