"""Requests to one host in flight together, answers in the order they were asked for.

A host's fetcher says how many requests may be in flight to it (``parallel``,
``--per-host-connections``; 1 for fetchers that must stay sequential and for test fakes without
the attribute). Callers hand over requests whose order does not matter and get the answers back
in their own order, so what they conclude, and the order of the evidence, is the same as when
the requests went one after another. The fetcher still enforces the budget and the deadline on
every request.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

__all__ = ["gather", "slots"]

T = TypeVar("T")


def slots(fetcher: Any) -> int:
    """Requests ``fetcher`` allows in flight at once (1 when it does not say)."""
    n = getattr(fetcher, "parallel", 1)
    return n if isinstance(n, int) and n > 1 else 1


async def gather(fetcher: Any, calls: Sequence[Callable[[], Awaitable[T]]]) -> list[T]:
    """Run ``calls`` with at most ``slots(fetcher)`` at once; results in the order of ``calls``.
    The first exception cancels the others and is raised, as it would have been in a loop."""
    n = slots(fetcher)
    if n == 1 or len(calls) <= 1:
        return [await c() for c in calls]
    sem = asyncio.Semaphore(n)

    async def one(c: Callable[[], Awaitable[T]]) -> T:
        async with sem:
            return await c()

    tasks = [asyncio.ensure_future(one(c)) for c in calls]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
