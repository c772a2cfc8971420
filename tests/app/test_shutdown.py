"""The delayed SIGTERM, in this process with real signals. The server's handler is stood in for by
a recording function: the app only ever gives SIGTERM back to whatever handler was there
(tests/app/test_public_apis.py and test_server.py run it under the real uvicorn)."""

import asyncio
import os
import signal
import threading
from collections.abc import Iterator

import pytest

from app.shutdown import DelayedSigterm, ShutdownState


@pytest.fixture
def received() -> Iterator[list[int]]:
    """SIGTERM recorded by a plain handler (the server's, as far as the app can tell)."""
    saved = signal.getsignal(signal.SIGTERM)
    calls: list[int] = []
    signal.signal(signal.SIGTERM, lambda sig, frame: calls.append(sig))
    yield calls
    signal.signal(signal.SIGTERM, saved)


async def _until(predicate, timeout: float = 5.0) -> float:
    loop = asyncio.get_running_loop()
    started = loop.time()
    while not predicate():
        assert loop.time() - started < timeout, "timed out"
        await asyncio.sleep(0.01)
    return loop.time() - started


def test_sigterm_flips_readiness_then_hands_the_signal_over_after_the_delay(
    received: list[int],
) -> None:
    previous, state = signal.getsignal(signal.SIGTERM), ShutdownState()

    async def scenario() -> float:
        sigterm = DelayedSigterm(state, delay=0.3)
        assert sigterm.install()
        os.kill(os.getpid(), signal.SIGTERM)
        await _until(lambda: state.shutting_down, timeout=1.0)
        assert received == []  # still serving: the server has not heard of it yet
        waited = await _until(lambda: received == [signal.SIGTERM])
        sigterm.uninstall()  # lifespan shutdown, after the hand-over: nothing left to do
        return waited

    assert 0.2 < asyncio.run(scenario()) < 2.0
    assert signal.getsignal(signal.SIGTERM) is previous  # the server's handler is back
    assert received == [signal.SIGTERM]  # once


def test_second_sigterm_hands_over_at_once(received: list[int]) -> None:
    state = ShutdownState()

    async def scenario() -> None:
        sigterm = DelayedSigterm(state, delay=60)
        sigterm.install()
        os.kill(os.getpid(), signal.SIGTERM)
        await _until(lambda: state.shutting_down)
        os.kill(os.getpid(), signal.SIGTERM)
        await _until(lambda: received == [signal.SIGTERM], timeout=2.0)
        await asyncio.sleep(0.05)
        sigterm.uninstall()

    asyncio.run(scenario())
    assert received == [signal.SIGTERM]


def test_shutdown_for_another_reason_puts_the_handler_back_without_raising(
    received: list[int],
) -> None:
    """E.g. Ctrl+C during the delay: the lifespan shutdown cancels the pending hand-over."""
    previous, state = signal.getsignal(signal.SIGTERM), ShutdownState()

    async def scenario() -> None:
        sigterm = DelayedSigterm(state, delay=0.2)
        sigterm.install()
        os.kill(os.getpid(), signal.SIGTERM)
        await _until(lambda: state.shutting_down)
        sigterm.uninstall()
        await asyncio.sleep(0.4)

    asyncio.run(scenario())
    assert signal.getsignal(signal.SIGTERM) is previous
    assert received == []


def test_an_ignored_sigterm_stays_ignored(received: list[int]) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    state = ShutdownState()

    async def scenario() -> None:
        sigterm = DelayedSigterm(state, delay=0)
        sigterm.install()
        os.kill(os.getpid(), signal.SIGTERM)
        await _until(lambda: signal.getsignal(signal.SIGTERM) == signal.SIG_IGN)

    asyncio.run(scenario())  # the hand-over raised SIGTERM again, ignored as before the app
    assert state.shutting_down


def test_not_installed_outside_the_main_thread() -> None:
    results: list[bool] = []

    def run() -> None:
        async def scenario() -> None:
            results.append(DelayedSigterm(ShutdownState(), delay=1).install())

        asyncio.run(scenario())

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=10)
    assert results == [False]
