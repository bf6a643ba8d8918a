"""Where NITRO credentials come from, and which host each one may be sent to.

Sources (checked before the first packet; a problem is a usage error that names the file and
key, never a value):

- ``--nitro-user USER`` with the password in ``$NSCHECK_NITRO_PASSWORD`` or in
  ``--nitro-password-file FILE`` (first line). These are sent only to hosts the remote scan has
  identified as NetScaler, at the scanned address itself (a management address serves the GUI
  and NITRO on one port), and only over https unless the target was given as an http URL.
- ``--nitro-credentials FILE`` (TOML): per host a user, a password or password_file and the
  NITRO address (the NSIP is often not the Gateway VIP)::

      [default]                      # optional: like --nitro-user, for every NetScaler found
      user = "nscheck-ro"
      password_file = "/etc/nscheck/nitro.pw"

      [hosts."gw.example.org"]       # the scanned name, host:port or the target as written
      nitro = "https://10.0.0.5"     # where NITRO is asked; http only if written here as http
      user = "nscheck-ro"
      password = "..."

Files holding a password must not be readable or writable by group or others (ssh refuses a
private key like that, and so does nscheck).
"""

from __future__ import annotations

import os
import stat
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from nscheck.nitro.secret import Secret

__all__ = ["ENV_PASSWORD", "CredentialError", "NitroAccess", "NitroCredentials", "check_private", "load_credentials"]

ENV_PASSWORD = "NSCHECK_NITRO_PASSWORD"
_HOST_KEYS = frozenset({"user", "password", "password_file", "nitro"})
_MAX_FILE = 64 * 1024


class CredentialError(ValueError):
    """A usage problem with the credential sources, said without any secret in it."""


@dataclass(frozen=True)
class NitroAccess:
    user: str
    password: Secret
    source: str  # where it came from, for notes: "--nitro-user", "credentials file [hosts.\"gw\"]"
    nitro_url: str | None = None  # None: the scanned address itself
    explicit: bool = False  # a per-host entry: the owner named this host (and its NITRO address)

    def __repr__(self) -> str:  # the default repr would be safe too (Secret masks), but say it plainly
        return f"NitroAccess(user={self.user!r}, password=***, source={self.source!r}, nitro_url={self.nitro_url!r})"


@dataclass(frozen=True)
class NitroCredentials:
    default: NitroAccess | None = None
    hosts: Mapping[str, NitroAccess] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return self.default is not None or bool(self.hosts)

    def lookup(self, raw: str, host: str, port: int) -> NitroAccess | None:
        """The per-host entry for a target (as written, host:port or host name), else the default."""
        h = host.strip("[]").lower()
        for key in (raw.strip().lower(), f"{h}:{port}", f"[{h}]:{port}", h):
            if key in self.hosts:
                return self.hosts[key]
        return self.default


def check_private(path: Path, what: str) -> None:
    """Refuse a secret file that group or others may read or write (like ssh with a key)."""
    try:
        st = path.stat()
    except OSError as e:
        raise CredentialError(f"{what} {path}: cannot read: {e.strerror or e}") from None
    if not stat.S_ISREG(st.st_mode):
        raise CredentialError(f"{what} {path}: not a regular file")
    if os.name == "posix" and st.st_mode & 0o077:
        raise CredentialError(
            f"{what} {path}: permissions {stat.S_IMODE(st.st_mode):04o} are too open (group/others may read it); "
            f"run: chmod 600 {path}")
    if st.st_size > _MAX_FILE:
        raise CredentialError(f"{what} {path}: larger than {_MAX_FILE} bytes; not a credentials file")


def _read_password_file(path: Path, what: str) -> Secret:
    check_private(path, what)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        raise CredentialError(f"{what} {path}: cannot read as UTF-8 text") from None
    line = text.splitlines()[0] if text else ""
    if not line:
        raise CredentialError(f"{what} {path}: empty (the password is the first line)")
    return Secret(line)


def _nitro_url(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise CredentialError(f"{where}: nitro: expected a URL such as https://10.0.0.5 or https://nsip:8443")
    text = value.strip()
    if "://" not in text:
        text = "https://" + text
    p = urlsplit(text)
    if p.scheme.lower() not in ("http", "https") or not p.hostname:
        raise CredentialError(f"{where}: nitro: expected an http(s) URL with a host")
    if p.username or p.password:
        raise CredentialError(f"{where}: nitro: no user or password in the URL (use user / password_file)")
    if p.path not in ("", "/") or p.query or p.fragment:
        raise CredentialError(f"{where}: nitro: give the address only (nscheck adds /nitro/v1/...)")
    try:
        p.port  # noqa: B018 - validates the port
    except ValueError:
        raise CredentialError(f"{where}: nitro: bad port") from None
    return f"{p.scheme.lower()}://{p.netloc}"


def _entry(d: Any, where: str, base: Path, explicit: bool) -> NitroAccess:
    if not isinstance(d, dict):
        raise CredentialError(f"{where}: expected a table with user and password or password_file")
    unknown = sorted(set(d) - _HOST_KEYS)
    if unknown:
        raise CredentialError(f"{where}: unknown key {unknown[0]!r} (keys: user, password, password_file, nitro)")
    user = d.get("user")
    if not isinstance(user, str) or not user.strip():
        raise CredentialError(f"{where}: user: expected a user name")
    if "password" in d and "password_file" in d:
        raise CredentialError(f"{where}: give password or password_file, not both")
    if "password" in d:
        if not isinstance(d["password"], str) or not d["password"]:
            raise CredentialError(f"{where}: password: expected a non-empty string")
        pw = Secret(d["password"])
    elif "password_file" in d:
        pf = d["password_file"]
        if not isinstance(pf, str) or not pf:
            raise CredentialError(f"{where}: password_file: expected a path")
        p = Path(pf).expanduser()
        pw = _read_password_file(p if p.is_absolute() else base / p, f"{where}: password_file")
    else:
        raise CredentialError(f"{where}: needs password or password_file")
    url = _nitro_url(d["nitro"], where) if "nitro" in d else None
    return NitroAccess(user.strip(), pw, f"credentials file {where}", url, explicit)


def load_file(path: str | Path) -> NitroCredentials:
    p = Path(path).expanduser()
    check_private(p, "--nitro-credentials")
    try:
        raw = tomllib.loads(p.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise CredentialError(f"--nitro-credentials {p}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as e:
        # tomllib's message gives line and column, never the text of the line.
        raise CredentialError(f"--nitro-credentials {p}: TOML syntax: {e}") from None
    unknown = sorted(set(raw) - {"default", "hosts"})
    if unknown:
        raise CredentialError(f"--nitro-credentials {p}: unknown table {unknown[0]!r} (tables: default, hosts)")
    default = _entry(raw["default"], f"{p} [default]", p.parent, False) if "default" in raw else None
    if default is not None and default.nitro_url:
        raise CredentialError(f"{p} [default]: nitro: only per-host entries name a NITRO address")
    hosts_raw = raw.get("hosts", {})
    if not isinstance(hosts_raw, dict):
        raise CredentialError(f"{p}: hosts: expected tables [hosts.\"name\"]")
    hosts = {str(k).strip().lower(): _entry(v, f'{p} [hosts."{k}"]', p.parent, True) for k, v in hosts_raw.items()}
    return NitroCredentials(default, hosts)


def load_credentials(opts: Any, env: Mapping[str, str] | None = None) -> NitroCredentials | None:
    """All NITRO credentials of a run, or None when none were given. Raises CredentialError."""
    env = os.environ if env is None else env
    user = getattr(opts, "nitro_user", None)
    pw_file = getattr(opts, "nitro_password_file", None)
    cred_file = getattr(opts, "nitro_credentials", None)
    creds = load_file(cred_file) if cred_file else NitroCredentials()
    if pw_file and not user:
        raise CredentialError("--nitro-password-file needs --nitro-user")
    if user:
        if pw_file:
            pw = _read_password_file(Path(pw_file).expanduser(), "--nitro-password-file")
        elif env.get(ENV_PASSWORD):
            pw = Secret(env[ENV_PASSWORD])
        else:
            raise CredentialError(f"--nitro-user needs a password: set ${ENV_PASSWORD} or give --nitro-password-file FILE")
        creds = NitroCredentials(NitroAccess(user, pw, "--nitro-user"), creds.hosts)
    return creds if creds else None
