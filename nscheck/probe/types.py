"""What the probe stage hands to fingerprinting and indicator checks: plain HTTP evidence.

Nothing outside ``nscheck.probe.client`` sees an httpx object; everything else works on
``HttpResponse`` and the ``Fetcher`` protocol, so checks can be tested without a network.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from nscheck.targets import Target

# How every failure caused by --proxy starts (407, a refused CONNECT): the host was not reached,
# our own setup failed, and the run's exit code says so (nscheck.report.exitcodes).
PROXY_ERROR = "proxy error"


class ErrorKind(StrEnum):
    """Why a request got no usable answer: the one vocabulary of ``HttpResponse.error_kind``.

    A StrEnum, so every member still compares and prints as its plain string. Whether the host
    answered at all (``NO_ANSWER``) decides ``unreachable`` against ``error`` for a host."""

    DNS = "dns"  # the host name did not resolve
    CONNECT = "connect"  # TCP connection refused, network unreachable, or another connect failure
    CONNECT_TIMEOUT = "connect_timeout"  # no TCP connection, or no TLS handshake, within the timeout
    READ_TIMEOUT = "read_timeout"  # connected (and TLS done), request sent, no answer within the timeout
    TLS = "tls"  # the TLS handshake failed or the TLS layer broke (the host spoke, but not usably)
    RESET = "reset"  # the connection was reset or closed before or during the answer
    PROTOCOL = "protocol"  # the host answered something that is not valid HTTP
    DECODE = "decode"  # the body could not be decompressed, or was a decompression bomb
    REDIRECT = "redirect"  # a redirect not followed: off-host, too many, or an http/https loop
    BUDGET = "budget"  # not sent: the host's request budget was spent
    DEADLINE = "deadline"  # not sent or stopped: the host's deadline was reached
    PROXY = "proxy"  # --proxy refused or wanted credentials: our own setup failed, not the host
    EXCLUDED = "excluded"  # not sent: the host name resolved into an --exclude network
    NITRO_LOCKED = "nitro_locked"  # not sent: NITRO rejected these credentials earlier in the scan
    ERROR = "error"  # an unexpected failure outside the kinds above (its reason says which)


# The kinds that mean the host never answered: every request failing this way makes a host
# ``unreachable``; any other failure means it answered (or we stopped) and is an ``error``.
# ``read_timeout`` is here on purpose: a host that accepts the TCP connection and then stays
# silent gave no answer, just like one that drops SYNs. Over https the same silent host fails in
# the TLS handshake, which httpx reports as a *connect* timeout, so leaving ``read_timeout`` out
# would give one silent appliance two different verdicts depending on the scheme. Either way the
# verdict is never "not vulnerable", and the reason ("read timeout") tells the SOC the port was open.
NO_ANSWER: frozenset[ErrorKind] = frozenset({
    ErrorKind.DNS, ErrorKind.CONNECT, ErrorKind.CONNECT_TIMEOUT, ErrorKind.READ_TIMEOUT,
})


def no_answer(responses: Sequence[HttpResponse]) -> bool:
    """True when there were requests and none got any answer from the host (every failure in
    ``NO_ANSWER``): the host is unreachable, not broken."""
    return bool(responses) and all(r.status is None and r.error_kind in NO_ANSWER for r in responses)


@dataclass(frozen=True, slots=True)
class HttpResponse:
    """One answer (or failure) to one request, with the body capped at the probe's byte cap."""

    method: str
    url: str  # final URL after same-host redirects
    status: int | None  # None when the request failed
    headers: tuple[tuple[str, str], ...] = ()  # lower-cased names, in order, repeated allowed
    body: bytes = b""  # raw bytes as received (no transparent decompression for raw requests)
    truncated: bool = False  # body hit the byte cap
    error: str | None = None  # "timeout", "connect refused", "redirect off-host to ...", ...
    elapsed_ms: int = 0
    redirects: tuple[str, ...] = field(default_factory=tuple)  # URLs followed
    # Optional additions (scan engine): why the request failed (host status decisions), and what
    # the fetcher did to the body (e.g. "stripped outer Content-Encoding: gzip").
    error_kind: ErrorKind | None = None
    notes: tuple[str, ...] = ()

    def header(self, name: str) -> str | None:
        n = name.lower()
        for k, v in self.headers:
            if k == n:
                return v
        return None

    def header_all(self, name: str) -> list[str]:
        n = name.lower()
        return [v for k, v in self.headers if k == n]

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    def text(self, limit: int | None = None) -> str:
        b = self.body if limit is None else self.body[:limit]
        return b.decode("utf-8", errors="replace")


class Fetcher(Protocol):
    """Per-host request interface. Implementations enforce GET/HEAD only, the host's request
    budget, the byte cap and same-host redirects."""

    base_url: str

    async def get(
        self,
        path: str,
        *,
        raw: bool = False,  # no transparent decompression (for .gz stamp reads)
        byte_range: tuple[int, int] | None = None,  # Range: bytes=a-b
        follow_redirects: bool = True,
        max_bytes: int | None = None,
    ) -> HttpResponse: ...

    async def head(self, path: str) -> HttpResponse: ...

    @property
    def requests_sent(self) -> int: ...

    @property
    def budget_left(self) -> int: ...


class HostProber(Protocol):
    """The probe stage as the runner sees it (``ProbeClient``): one run-wide object that hands out
    a ``Fetcher`` per host, and a credentialed one per NITRO address."""

    def fetcher(self, target: Target, deadline_s: float | None = None) -> Fetcher: ...

    def nitro_fetcher(self, nitro_url: str, user: str, password: Any, deadline_s: float, budget: int) -> Fetcher: ...
