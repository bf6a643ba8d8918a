"""What the probe stage hands to fingerprinting and indicator checks: plain HTTP evidence.

Nothing outside ``nscheck.probe.client`` sees an httpx object; everything else works on
``HttpResponse`` and the ``Fetcher`` protocol, so checks can be tested without a network.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

# How every failure caused by --proxy starts (407, a refused CONNECT): the host was not reached,
# our own setup failed, and the run's exit code says so (nscheck.report.exitcodes).
PROXY_ERROR = "proxy error"


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
    # Optional additions (scan engine): error class for host status decisions
    # ("dns" | "connect" | "connect_timeout" | "tls" | "read_timeout" | "protocol" | "reset" |
    # "deadline" | "budget" | "redirect" | "decode" | "proxy"), and what the fetcher did to the body
    # (e.g. "stripped outer Content-Encoding: gzip").
    error_kind: str | None = None
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
