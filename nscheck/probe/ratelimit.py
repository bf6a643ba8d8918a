"""``--rate-limit``: one request cap for the whole scan, all hosts together.

Requests are spaced evenly (one slot every 1/rate seconds) rather than let through in bursts:
an IDS or a rate-limiting proxy in front of the appliances sees a steady trickle. A slot is
reserved before any ``await``, so concurrent hosts can never take the same one. The clock and
the sleep are injectable so tests count slots instead of timing them.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable

_UNITS = {"s": 1.0, "sec": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0}
_RATE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(?:/\s*([a-z]+))?\s*", re.IGNORECASE)


def parse_rate(text: str | float | int) -> float:
    """'20/s', '600/m', '20' (per second) -> requests per second. ValueError for anything else."""
    if isinstance(text, bool):
        raise ValueError("--rate-limit expects N/s, N/m or N")
    if isinstance(text, int | float):
        value, unit = float(text), "s"
    else:
        m = _RATE.fullmatch(text)
        if not m:
            raise ValueError(f"--rate-limit expects N/s, N/m or N (requests per second), got {text!r}")
        value, unit = float(m.group(1)), (m.group(2) or "s").lower()
    if unit not in _UNITS:
        raise ValueError(f"--rate-limit unit must be s, m or h, got {unit!r}")
    rate = value / _UNITS[unit]
    if not rate > 0:
        raise ValueError("--rate-limit must be more than 0")
    return rate


class RateLimiter:
    """At most one request start per ``1/rate`` seconds over everything that shares it."""

    def __init__(self, rate: float, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[object]] = asyncio.sleep, start: float | None = None):
        if not rate > 0:
            raise ValueError("rate must be more than 0")
        self.rate = rate
        self.interval = 1.0 / rate
        self._clock = clock
        self._sleep = sleep
        # ``start``: the first slot (on ``clock``), so limiters that split one cap between
        # processes (``--workers``) can interleave their slots instead of sending together.
        self._next: float | None = start
        self.granted = 0

    async def acquire(self) -> float:
        """Wait for this caller's slot; returns the seconds waited."""
        now = self._clock()
        start = now if self._next is None or self._next <= now else self._next
        self._next = start + self.interval  # reserved before the await: no two callers share a slot
        self.granted += 1
        wait = start - now
        if wait > 0:
            await self._sleep(wait)
        return max(0.0, wait)
