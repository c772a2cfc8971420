"""Interrupts are held while a child is created, and the child gets the usual signal mask."""

import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from bench.processes import interrupts_held

pytestmark = pytest.mark.integration


def _blocked_signals(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("SigBlk:"):
            return int(line.split()[1], 16)
    raise AssertionError("no SigBlk")


def test_an_interrupt_arrives_after_the_child_is_recorded():
    seen = []
    previous = signal.signal(signal.SIGTERM, lambda *_: seen.append("SIGTERM"))
    try:
        with interrupts_held() as child:
            # Aimed at this (main) thread: pytest's process may run other threads, and a
            # process-wide signal could land on one of those instead (the bench itself has none).
            signal.pthread_kill(threading.main_thread().ident, signal.SIGTERM)
            proc = subprocess.Popen(
                [sys.executable, "-c", "import sys; sys.stdin.read()"],
                stdin=subprocess.PIPE,
                **child,
            )
            assert seen == []
        with proc:
            assert seen == ["SIGTERM"]
            term_bit = 1 << (signal.SIGTERM - 1)
            assert _blocked_signals(proc.pid) & term_bit == 0  # the child is not deaf to SIGTERM
            proc.communicate(b"")
    finally:
        signal.signal(signal.SIGTERM, previous)
