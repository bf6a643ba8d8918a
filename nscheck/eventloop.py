"""The event loop a scan runs on: uvloop where it is installed, asyncio's own loop otherwise.

A scan of thousands of hosts is bound by CPU per request in one process; uvloop's transports
(libuv, in C) cost less per request than the stdlib selector loop (bench/README.md). uvloop is
a dependency on Linux and macOS; on Windows, or when it fails to import, or with
``NSCHECK_LOOP=asyncio`` (the escape hatch if a platform's uvloop misbehaves), the stdlib loop
runs. Signals (``nscheck.state.signals``), timeouts and ``to_thread`` work the same on both.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

__all__ = ["ENV", "loop_factory", "loop_name", "run"]

ENV = "NSCHECK_LOOP"
T = TypeVar("T")


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's loop constructor, or None for asyncio's default. ``NSCHECK_LOOP``: ``auto``
    (default), ``uvloop`` (the same; falls back with a missing uvloop rather than fail a scan)
    or ``asyncio``."""
    if os.environ.get(ENV, "auto").strip().lower() == "asyncio":
        return None
    try:
        import uvloop
    except ImportError:
        return None
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


def loop_name() -> str:
    return "uvloop" if loop_factory() is not None else "asyncio"


def run(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run`` on the chosen loop."""
    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        return runner.run(main)
