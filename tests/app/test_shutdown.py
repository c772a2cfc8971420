"""The delayed SIGTERM, in this process with real signals (the server tests cover it in uvicorn)."""

import asyncio
import os
import signal
import threading
from collections.abc import Iterator

import pytest
import uvicorn

from app.shutdown import DelayedSigterm, ShutdownState


def uvicorn_server() -> uvicorn.Server:
    """A real (not started) uvicorn Server: its SIGTERM handler is what the app takes over."""
    return uvicorn.Server(uvicorn.Config("app.main:app"))


@pytest.fixture
def restore_sigterm() -> Iterator[None]:
    saved = signal.getsignal(signal.SIGTERM)
    yield
    signal.signal(signal.SIGTERM, saved)


async def _until(predicate, timeout: float = 5.0) -> float:
    loop = asyncio.get_running_loop()
    started = loop.time()
    while not predicate():
        assert loop.time() - started < timeout, "timed out"
        await asyncio.sleep(0.01)
    return loop.time() - started


@pytest.mark.usefixtures("restore_sigterm")
def test_sigterm_flips_readiness_then_stops_the_server_after_the_delay() -> None:
    server, state = uvicorn_server(), ShutdownState()
    signal.signal(signal.SIGTERM, server.handle_exit)

    async def scenario() -> float:
        sigterm = DelayedSigterm(state, delay=0.3)
        assert sigterm.install()
        os.kill(os.getpid(), signal.SIGTERM)
        await _until(lambda: state.shutting_down, timeout=1.0)
        assert not server.should_exit
        waited = await _until(lambda: server.should_exit)
        sigterm.uninstall()
        return waited

    assert 0.2 < asyncio.run(scenario()) < 2.0
    # Stopped through should_exit, not its signal handler: no signal recorded for uvicorn to
    # re-raise at exit, so the process ends with status 0 rather than killed by SIGTERM.
    assert server._captured_signals == []
    assert signal.getsignal(signal.SIGTERM) == server.handle_exit


@pytest.mark.usefixtures("restore_sigterm")
def test_second_sigterm_hands_over_at_once() -> None:
    server, state = uvicorn_server(), ShutdownState()
    signal.signal(signal.SIGTERM, server.handle_exit)

    async def scenario() -> None:
        sigterm = DelayedSigterm(state, delay=60)
        sigterm.install()
        os.kill(os.getpid(), signal.SIGTERM)
        await _until(lambda: state.shutting_down)
        os.kill(os.getpid(), signal.SIGTERM)
        await _until(lambda: server.should_exit, timeout=2.0)
        sigterm.uninstall()

    asyncio.run(scenario())


@pytest.mark.usefixtures("restore_sigterm")
def test_a_plain_function_handler_is_called_after_the_delay() -> None:
    calls: list[int] = []
    signal.signal(signal.SIGTERM, lambda sig, frame: calls.append(sig))
    state = ShutdownState()

    async def scenario() -> None:
        sigterm = DelayedSigterm(state, delay=0)
        sigterm.install()
        os.kill(os.getpid(), signal.SIGTERM)
        await _until(lambda: calls == [signal.SIGTERM])
        sigterm.uninstall()

    asyncio.run(scenario())
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
