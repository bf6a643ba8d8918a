"""The scan's event loop: uvloop where installed, the stdlib loop on request; signals work on both."""

from __future__ import annotations

import asyncio
import os
import signal
import sys

import pytest

from nscheck import eventloop


async def _loop_module() -> str:
    return type(asyncio.get_running_loop()).__module__


def test_nscheck_loop_asyncio_is_the_stdlib_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(eventloop.ENV, "asyncio")
    assert eventloop.loop_factory() is None
    assert eventloop.loop_name() == "asyncio"
    assert eventloop.run(_loop_module()).startswith("asyncio")


@pytest.mark.skipif(sys.platform == "win32", reason="uvloop is not a dependency on Windows")
def test_uvloop_by_default_where_it_is_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("uvloop")
    monkeypatch.delenv(eventloop.ENV, raising=False)
    assert eventloop.loop_name() == "uvloop"
    assert eventloop.run(_loop_module()).startswith("uvloop")


def test_a_missing_uvloop_falls_back_to_the_stdlib_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(eventloop.ENV, "uvloop")
    monkeypatch.setitem(sys.modules, "uvloop", None)  # import fails as if not installed
    assert eventloop.loop_factory() is None
    assert eventloop.run(_loop_module()).startswith("asyncio")


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
@pytest.mark.parametrize("loop", ["auto", "asyncio"])
def test_sigterm_then_second_signal_on_either_loop(monkeypatch: pytest.MonkeyPatch, loop: str) -> None:
    """nscheck.state.cron.with_signals: the first SIGTERM sets stop, the second cancels the rest."""
    from nscheck.state.cron import with_signals

    monkeypatch.setenv(eventloop.ENV, loop)

    async def scan(stop: asyncio.Event) -> tuple[bool, bool]:
        slow = asyncio.create_task(asyncio.sleep(30))
        os.kill(os.getpid(), signal.SIGTERM)
        await asyncio.wait_for(stop.wait(), 5)
        os.kill(os.getpid(), signal.SIGTERM)
        try:
            await asyncio.wait_for(slow, 5)
        except asyncio.CancelledError:
            return stop.is_set(), True
        return stop.is_set(), False

    (stopped, cancelled), signum = eventloop.run(with_signals(scan))
    assert (stopped, cancelled, signum) == (True, True, signal.SIGTERM)
    # handlers are removed afterwards: the default disposition is back
    assert signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None)
