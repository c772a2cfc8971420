"""Interrupts are held while a child is created, and the child gets the usual signal mask."""

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from bench.processes import interrupts_held, split_cpus

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


def test_a_child_given_cpus_runs_on_those_only_with_the_usual_signal_mask():
    split = split_cpus()
    if split is None:
        pytest.skip("one CPU: nothing to pin apart")
    load_cpus, server_cpus = split
    assert load_cpus.isdisjoint(server_cpus)
    assert load_cpus | server_cpus == os.sched_getaffinity(0)
    with interrupts_held(server_cpus) as child:
        proc = subprocess.Popen(
            [sys.executable, "-c", "import os; print(sorted(os.sched_getaffinity(0)))"],
            stdout=subprocess.PIPE,
            text=True,
            **child,
        )
    with proc:
        assert proc.stdout.read().strip() == str(sorted(server_cpus))
    assert os.sched_getaffinity(0) == load_cpus | server_cpus  # ours unchanged
