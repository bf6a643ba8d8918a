"""SIGTERM / SIGINT for scheduled runs: stop cleanly, keep what is done.

First signal: set the runner's ``stop`` event (launch no new hosts; in-flight hosts get
``--grace-period`` seconds), then everything is flushed and the run is marked partial.
Second signal: hard stop (``on_hard_stop``, e.g. cancel in-flight hosts now); sinks still close.

Exit codes of an interrupted run follow the shell convention 128 + signal: 130 for SIGINT,
143 for SIGTERM.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class StopState:
    stop: asyncio.Event
    signum: int | None = None
    hard: bool = False
    _installed: list[int] = field(default_factory=list)
    _loop: asyncio.AbstractEventLoop | None = None

    @property
    def exit_code(self) -> int | None:
        """128 + the first signal received, or None when no signal arrived."""
        return 128 + self.signum if self.signum is not None else None

    @property
    def signal_name(self) -> str | None:
        return signal.Signals(self.signum).name if self.signum is not None else None

    def uninstall(self) -> None:
        if self._loop is not None:
            for s in self._installed:
                self._loop.remove_signal_handler(s)
        self._installed.clear()


def install(
    stop: asyncio.Event,
    *,
    on_hard_stop: Callable[[], None] | None = None,
    loop: asyncio.AbstractEventLoop | None = None,
    announce: bool = True,
) -> StopState:
    """Install SIGTERM/SIGINT handlers on the running loop (call from inside it)."""
    loop = loop or asyncio.get_running_loop()
    state = StopState(stop, _loop=loop)

    def handle(signum: int) -> None:
        if state.signum is None:
            state.signum = signum
            if announce:
                print(
                    f"nscheck: {signal.Signals(signum).name} received: no new hosts; finishing hosts in flight "
                    "(send again to stop at once)",
                    file=sys.stderr, flush=True,
                )
            stop.set()
            return
        if not state.hard:
            state.hard = True
            if announce:
                print("nscheck: second signal: stopping now", file=sys.stderr, flush=True)
            if on_hard_stop is not None:
                on_hard_stop()

    for s in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(s, handle, int(s))
            state._installed.append(int(s))
        except (NotImplementedError, RuntimeError, ValueError):  # not the main thread / platform
            pass
    return state
