"""The OTLP/HTTP sink the traced bench server exports to."""

import re
import signal
import urllib.request
from pathlib import Path

from bench.otlp_sink import OTLPSink


def test_accepts_and_counts_exports() -> None:
    with OTLPSink() as sink:
        for _ in range(2):
            request = urllib.request.Request(
                sink.endpoint + "/v1/traces",
                data=b"\x0a\x00",
                headers={"Content-Type": "application/x-protobuf"},
            )
            with urllib.request.urlopen(request, timeout=5) as response:
                assert response.status == 200
    assert (sink.requests, sink.bytes) == (2, 4)


def test_its_thread_never_takes_an_interrupt() -> None:
    """Else SIGTERM could land between the bench's Popen and its record of the child."""
    with OTLPSink() as sink:
        status = Path(f"/proc/self/task/{sink._thread.native_id}/status").read_text()
    blocked = int(re.search(r"SigBlk:\s*([0-9a-f]+)", status).group(1), 16)
    for sig in (signal.SIGINT, signal.SIGTERM):
        assert blocked & (1 << (sig - 1))
