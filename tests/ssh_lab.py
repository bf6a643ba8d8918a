"""A NetScaler-like SSH appliance on loopback for live-triage tests (asyncssh server).

It behaves like the NetScaler CLI: ``show ns version`` answers with the version and `` Done``;
``shell CMD`` runs CMD in the "FreeBSD shell" (here: the declared commands, answered from a fixture
tree); anything else is ``ERROR: No such command``. Output uses CR/LF and ends with the CLI's
`` Done``, like a PTY would show it. Profiles: ``cli`` (superuser), ``noshell`` (the CLI refuses
``shell``), ``plain`` (login lands in a shell), ``hang`` (stops mid-stream and never ends).
Every command received is recorded in ``Appliance.received``.
"""

from __future__ import annotations

import asyncio
import base64
import io
import re
import tarfile
from dataclasses import dataclass, field
from typing import Any

import asyncssh
from triage_fixtures import INSTALL, Spec

from nscheck.signatures.ssh import SshCommandSet

VERSION = "\tNetScaler NS14.1: Build 47.46.nc, Date: Jun 7 2025, 10:22:30   (64-bit)\r\n Done\r\n"
_WRAP = re.compile(r"^echo NSCHECK-BEGIN-(?P<id>[a-z0-9_]+)-(?P<n>[0-9a-f]+); (?P<run>.*) \| openssl base64; "
                   r"echo NSCHECK-END-(?P=id)-(?P=n)$", re.DOTALL)


@dataclass
class Appliance:
    specs: list[Spec]
    profile: str = "cli"  # cli | noshell | plain | hang
    user: str = "nsroot"
    password: str = "lab-password"
    # birth times: path -> birth (default: INSTALL for files older than it, else their mtime)
    births: dict[str, float] = field(default_factory=dict)
    processes: str = "USER PID COMMAND\nroot 1 /sbin/init\nnobody 812 /bin/httpd -DFOREGROUND\n"
    sockets: str = "USER COMMAND PID FD PROTO LOCAL ADDRESS FOREIGN ADDRESS\nroot sshd 700 4 tcp4 *:22 *:*\n"
    received: list[str] = field(default_factory=list)
    server: Any = None
    port: int = 0
    host_key: Any = None

    def birth(self, s: Spec) -> float:
        return self.births.get(s.path, max(INSTALL, s.mtime))


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


class _Server(asyncssh.SSHServer):
    def __init__(self, app: Appliance):
        self.app = app

    def begin_auth(self, username: str) -> bool:
        return True

    def password_auth_supported(self) -> bool:
        return True

    def validate_password(self, username: str, password: str) -> bool:
        return username == self.app.user and password == self.app.password


def _stat_rows(app: Appliance, setuid_only: bool) -> str:
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
    enc = base64.b64encode(data)
    return [enc[i:i + 64] + b"\r\n" for i in range(0, len(enc), 64)]


async def _answer(app: Appliance, cs: SshCommandSet, proc: asyncssh.SSHServerProcess[bytes]) -> None:
    cmd = proc.command or ""
    app.received.append(cmd)
    out = proc.stdout
    if app.profile != "plain" and cmd == "show ns version":
        out.write(VERSION.encode())
        return
    if app.profile == "plain":
        if cmd.startswith("show "):
            out.write(b"sh: show: not found\r\n")
            proc.exit(127)
            return
        inner = cmd
    else:
        if not cmd.startswith("shell "):
            out.write(b"ERROR: No such command\r\n")
            return
        if app.profile == "noshell":
            out.write(b"ERROR: Not authorized to execute this command [shell]\r\n")
            return
        inner = cmd[len("shell "):]
    m = _WRAP.match(inner)
    decl = cs.by_id(m.group("id")) if m else None
    if m is None or decl is None or decl.run != m.group("run"):
        out.write(b"sh: command not recognised by the lab\r\n")
        return
    if app.profile != "plain":
        out.write(b"shell " + inner.encode() + b"\r\n")  # PTY echo of the command line
    if decl.kind == "tar":
        data = tar_bytes(app.specs, tree_roots(decl.run))
    elif decl.kind == "stat_listing":
        data = _stat_rows(app, setuid_only=decl.id == "setuid").encode()
    elif decl.kind == "ps":
        data = app.processes.encode()
    else:
        data = app.sockets.encode()
    out.write(f"NSCHECK-BEGIN-{m.group('id')}-{m.group('n')}\r\n".encode())
    lines = _b64_lines(data)
    if app.profile == "hang" and decl.kind == "tar":
        for ln in lines[: max(1, len(lines) // 2)]:
            out.write(ln)
        await asyncio.Event().wait()  # never finishes
    for ln in lines:
        out.write(ln)
    out.write(f"NSCHECK-END-{m.group('id')}-{m.group('n')}\r\n".encode())
    if app.profile != "plain":
        out.write(b" Done\r\n")


async def start(app: Appliance, cs: SshCommandSet, host_key: Any | None = None) -> Appliance:
    key = host_key or asyncssh.generate_private_key("ssh-ed25519")
    app.host_key = key

    async def handle(proc: asyncssh.SSHServerProcess[bytes]) -> None:
        try:
            await _answer(app, cs, proc)
        finally:
            proc.exit(0)

    app.server = await asyncssh.create_server(lambda: _Server(app), "127.0.0.1", 0, server_host_keys=[key],
                                              process_factory=handle, encoding=None)
    app.port = app.server.sockets[0].getsockname()[1]
    return app


def known_hosts_line(app: Appliance, key: Any | None = None) -> str:
    k = key or app.host_key
    return f"[127.0.0.1]:{app.port} {k.export_public_key('openssh').decode().strip()}\n"
