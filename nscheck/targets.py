"""Targets: parse, expand, exclude, de-duplicate and shard what the user asked to scan.

Everything here streams: CIDRs are expanded lazily and files are read line by line, so a
65k-address range costs one small key per address (for de-duplication) and nothing more.
A bad line never aborts a run: it becomes a ``TargetError`` (source, line, reason) handed to
the caller's ``on_error`` and the stream goes on.
"""

from __future__ import annotations

import ipaddress
import re
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

__all__ = [
    "Exclusions",
    "Target",
    "TargetError",
    "iter_sources",
    "iter_targets",
    "parse_shard",
    "parse_target",
    "shard_of",
]

_HOSTNAME = re.compile(r"^(?=.{1,253}\.?$)[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?(?:\.[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)*\.?$")
_DEFAULT_PORT = {"https": 443, "http": 80}

IPNet = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True, slots=True)
class Target:
    """One host to scan. ``raw`` is the text as given (the CIDR for expanded addresses)."""

    raw: str
    scheme: str
    host: str  # lower-case name or IP literal, no brackets
    port: int
    base_path: str = ""  # "" or "/prefix" without a trailing slash
    line: int | None = None  # line in its input file, None for command-line targets

    @property
    def is_ip(self) -> bool:
        try:
            ipaddress.ip_address(self.host)
        except ValueError:
            return False
        return True

    @property
    def netloc(self) -> str:
        h = f"[{self.host}]" if ":" in self.host else self.host
        return h if self.port == _DEFAULT_PORT[self.scheme] else f"{h}:{self.port}"

    @property
    def url(self) -> str:
        """Base URL without a trailing slash, e.g. ``https://127.0.0.1:8443``."""
        return f"{self.scheme}://{self.netloc}{self.base_path}"

    @property
    def key(self) -> tuple[str, str, int, str]:
        return (self.scheme, self.host, self.port, self.base_path)

    def __str__(self) -> str:
        return self.url


@dataclass(frozen=True, slots=True)
class TargetError:
    source: str  # file name, "<stdin>" or "<args>"
    line: int | None
    raw: str
    reason: str

    def __str__(self) -> str:
        where = self.source + (f":{self.line}" if self.line else "")
        return f"{where}: {self.raw[:80]!r}: {self.reason}"


class TargetParseError(ValueError):
    pass


def _host_literal(host: str) -> str:
    h = host.strip().lower()
    if not h:
        raise TargetParseError("empty host")
    try:
        return str(ipaddress.ip_address(h.strip("[]")))
    except ValueError:
        pass
    if h.startswith("["):
        raise TargetParseError(f"bad IPv6 literal {host!r}")
    if re.fullmatch(r"[0-9.]+", h):
        raise TargetParseError(f"bad IPv4 address {host!r}")
    if not h.isascii():
        # Internationalised names go on the wire (SNI, Host, DNS) in their IDNA form.
        try:
            h = h.rstrip(".").encode("idna").decode("ascii")
        except UnicodeError:
            raise TargetParseError(f"bad host name {host!r}") from None
    if not _HOSTNAME.match(h):
        raise TargetParseError(f"bad host name {host!r}")
    return h.rstrip(".")


def _port(text: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise TargetParseError(f"bad port {text!r}")
    return int(text)


def _network(text: str) -> IPNet | None:
    if "/" not in text:
        return None
    try:
        return ipaddress.ip_network(text, strict=False)
    except ValueError as e:
        raise TargetParseError(f"bad CIDR: {e}") from None


def parse_target(
    raw: str, line: int | None = None, *, max_expand: int = 65536, force: bool = False
) -> Iterator[Target]:
    """Yield the target(s) one input item stands for; a CIDR yields its hosts lazily.

    Raises ``TargetParseError`` (before yielding anything) when the item is not a target.
    """
    text = raw.strip()
    if not text:
        raise TargetParseError("empty target")
    if any(c.isspace() for c in text):
        raise TargetParseError("target contains whitespace")
    if "://" in text:
        return iter((_parse_url(text, raw, line),))
    net = _network(text)
    if net is not None:
        if net.num_addresses > max_expand and not force:
            raise TargetParseError(
                f"CIDR has {net.num_addresses} addresses, more than --max-expand {max_expand} (use --force)"
            )
        return _expand(net, raw.strip(), line)
    if text.startswith("["):
        m = re.fullmatch(r"\[([0-9a-fA-F:.%]+)\](?::(\d+))?", text)
        if not m:
            raise TargetParseError("bad [IPv6]:port form")
        host = _host_literal(m.group(1))
        port = _port(m.group(2)) if m.group(2) else 443
        return iter((Target(raw.strip(), "https", host, port, "", line),))
    if text.count(":") >= 2:  # bare IPv6
        return iter((Target(raw.strip(), "https", _host_literal(text), 443, "", line),))
    host, _, port_text = text.partition(":")
    port = _port(port_text) if port_text else 443
    return iter((Target(raw.strip(), "https", _host_literal(host), port, "", line),))


def _parse_url(text: str, raw: str, line: int | None) -> Target:
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as e:
        raise TargetParseError(f"bad URL: {e}") from None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORT:
        raise TargetParseError(f"unsupported scheme {parts.scheme!r} (http or https)")
    if not parts.hostname:
        raise TargetParseError("URL has no host")
    if parts.username or parts.password:
        raise TargetParseError("credentials in URLs are not accepted")
    path = parts.path.rstrip("/")
    return Target(raw.strip(), scheme, _host_literal(parts.hostname), port or _DEFAULT_PORT[scheme], path, line)


def _expand(net: IPNet, raw: str, line: int | None) -> Iterator[Target]:
    # hosts() is a generator: addresses are produced one at a time.
    for addr in net.hosts() if net.num_addresses > 2 else iter(net):
        yield Target(raw, "https", str(addr), 443, "", line)


class Exclusions:
    """IPs, CIDRs and names never to contact. Names match the target's host name exactly
    (case-insensitive, or as a parent domain when written ``.example.org``). Here, IP/CIDR
    entries match IP targets; the probe client also checks what a host *name* resolves to
    against them, right before the first connection to that host."""

    def __init__(self) -> None:
        self.networks: list[IPNet] = []
        self.names: set[str] = set()
        self.suffixes: list[str] = []

    def add(self, item: str) -> None:
        s = item.strip().lower()
        if not s:
            return
        if "://" in s:
            s = urlsplit(s).hostname or ""
        try:
            self.networks.append(ipaddress.ip_network(s.strip("[]"), strict=False))
            return
        except ValueError:
            pass
        if s.startswith("."):
            self.suffixes.append(s)
        elif _HOSTNAME.match(s):
            self.names.add(s.rstrip("."))
        else:
            raise TargetParseError(f"bad exclusion {item!r}: expected IP, CIDR or host name")

    def __bool__(self) -> bool:
        return bool(self.networks or self.names or self.suffixes)

    def excludes(self, target: Target) -> bool:
        try:
            ip = ipaddress.ip_address(target.host)
        except ValueError:
            name = target.host
            return name in self.names or any(name.endswith(s) or name == s[1:] for s in self.suffixes)
        return any(ip.version == n.version and ip in n for n in self.networks)


def _lines(path: str) -> Iterator[tuple[str, int, str]]:
    if path == "-":
        for n, line in enumerate(sys.stdin, 1):
            yield "<stdin>", n, line
        return
    with Path(path).open(encoding="utf-8", errors="replace") as fh:
        for n, line in enumerate(fh, 1):
            yield path, n, line


def iter_sources(args: Iterable[str], files: Iterable[str]) -> Iterator[tuple[str, int | None, str] | TargetError]:
    """(source, line, text) for every target item: positional args (``-`` reads stdin), then
    files; an unreadable file yields a ``TargetError`` and the next source goes on."""
    for a in args:
        if a == "-":
            yield from _strip_comments(_lines("-"))
        else:
            yield "<args>", None, a
    for f in files:
        try:
            yield from _strip_comments(_lines(f))
        except OSError as e:
            yield TargetError(f, None, f, f"cannot read input file: {e.strerror or e}")


def _strip_comments(lines: Iterator[tuple[str, int, str]]) -> Iterator[tuple[str, int | None, str]]:
    for src, n, line in lines:
        text = line.split("#", 1)[0].strip()
        if text:
            yield src, n, text


ENV_JOB_INDEX = "JOB_COMPLETION_INDEX"  # Kubernetes Indexed Job: 0-based


def parse_shard(spec: str | None, shards: int | None = None, *,
                env: dict[str, str] | None = None) -> tuple[int, int] | None:
    """``K/N`` (1-based), or ``auto`` with ``shards=N``: K from $JOB_COMPLETION_INDEX + 1, as a
    Kubernetes Indexed Job sets it for each pod."""
    if not spec:
        if shards is not None:
            raise ValueError("--shards N goes with --shard auto")
        return None
    if spec.strip() == "auto":
        import os

        raw = (env if env is not None else os.environ).get(ENV_JOB_INDEX)
        if not shards or shards < 1:
            raise ValueError("--shard auto needs --shards N (the job's completions)")
        if raw is None or not raw.strip().isdigit():
            raise ValueError(f"--shard auto needs ${ENV_JOB_INDEX} (set by a Kubernetes Indexed Job), got {raw!r}")
        k = int(raw) + 1
        if k > shards:
            raise ValueError(f"--shard auto: ${ENV_JOB_INDEX}={raw} is not below --shards {shards}")
        return k, shards
    m = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", spec)
    if not m or not 1 <= int(m.group(1)) <= int(m.group(2)):
        raise ValueError(f"--shard must be K/N with 1 <= K <= N (or auto), got {spec!r}")
    if shards is not None and shards != int(m.group(2)):
        raise ValueError(f"--shard {spec} and --shards {shards} disagree")
    return int(m.group(1)), int(m.group(2))


def shard_of(t: Target, n: int) -> int:
    """The 0-based shard of ``t`` among ``n``: a stable hash of the normalised target, so every
    job agrees whatever the order of its list, and editing the list moves only what changed."""
    import hashlib

    key = f"{t.scheme}://{t.host}:{t.port}{t.base_path}".encode()
    return int.from_bytes(hashlib.sha256(key).digest()[:8], "big") % n


def load_exclusions(items: Iterable[str], files: Iterable[str], on_error: Callable[[TargetError], None]) -> Exclusions:
    ex = Exclusions()
    for it in items:
        try:
            ex.add(it)
        except TargetParseError as e:
            on_error(TargetError("--exclude", None, it, str(e)))
    for f in files:
        try:
            for src, n, text in _strip_comments(_lines(f)):
                try:
                    ex.add(text)
                except TargetParseError as e:
                    on_error(TargetError(src, n, text, str(e)))
        except OSError as e:
            on_error(TargetError(f, None, f, f"cannot read exclusion file: {e.strerror or e}"))
    return ex


@dataclass
class TargetStats:
    accepted: int = 0
    duplicates: int = 0
    excluded: int = 0
    errors: int = 0
    other_shards: int = 0


def iter_targets(
    args: Iterable[str] = (),
    files: Iterable[str] = (),
    *,
    exclusions: Exclusions | None = None,
    max_expand: int = 65536,
    force: bool = False,
    shard: tuple[int, int] | None = None,
    on_error: Callable[[TargetError], None] | None = None,
    stats: TargetStats | None = None,
) -> Iterator[Target]:
    """The de-duplicated, exclusion-filtered, sharded stream of targets, in input order.

    Sharding is by a stable hash of each normalised target (``shard_of``), decided before
    exclusions, so the N jobs together cover each target exactly once, whatever the order of
    their lists or an exclusion one of them has.
    """
    st = stats if stats is not None else TargetStats()
    seen: set[tuple[str, str, int, str]] = set()
    for item in iter_sources(args, files):
        if isinstance(item, TargetError):
            st.errors += 1
            if on_error:
                on_error(item)
            continue
        src, line, text = item
        try:
            expanded = parse_target(text, line, max_expand=max_expand, force=force)
        except TargetParseError as e:
            st.errors += 1
            if on_error:
                on_error(TargetError(src, line, text, str(e)))
            continue
        for t in expanded:
            if t.key in seen:
                st.duplicates += 1
                continue
            seen.add(t.key)
            mine = shard is None or shard_of(t, shard[1]) == shard[0] - 1
            if not mine:
                st.other_shards += 1
                continue
            if exclusions and exclusions.excludes(t):
                st.excluded += 1
                continue
            st.accepted += 1
            yield t
