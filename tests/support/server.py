"""A real uvicorn server in a subprocess on a free 127.0.0.1 port, for tests and benchmarks.

    with running_server(env={"APP_VERSION": "1.2.3"}) as server:
        urllib.request.urlopen(server.url("/-/health"))

The server is stopped by its PID (SIGTERM, then SIGKILL after a timeout) and its output is kept
in temporary files, readable with `server.output()` while it runs and after it stops.
"""

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO

from harness.network import PortLost, check_owner, on_free_port

REPO_ROOT = Path(__file__).resolve().parents[2]
APP = "app.main:app"
# The production server flags (the Dockerfile's CMD, minus app, host and port). Proxy headers
# are trusted from FORWARDED_ALLOW_IPS, which uvicorn reads (the image sets 127.0.0.1).
PRODUCTION_FLAGS = (
    "--loop", "uvloop", "--http", "httptools", "--proxy-headers", "--no-access-log",
    "--no-server-header", "--timeout-graceful-shutdown", "20",
)  # fmt: skip


class ServerError(RuntimeError):
    pass


class RunningServer:
    def __init__(self, process: subprocess.Popen[bytes], port: int, output: IO[bytes]) -> None:
        self.process = process
        self.port = port
        self.base_url = f"http://127.0.0.1:{port}"
        self._output = output
        self._saved: str | None = None  # the output, kept when the file is closed

    @property
    def pid(self) -> int:
        return self.process.pid

    def url(self, path: str) -> str:
        return self.base_url + path

    def output(self) -> str:
        """Everything the server wrote so far (stdout and stderr, interleaved); still readable
        after close()."""
        if self._saved is not None:
            return self._saved
        self._output.flush()
        self._output.seek(0)
        return self._output.read().decode("utf-8", "replace")

    def signal(self, sig: int = signal.SIGTERM) -> None:
        if self.process.poll() is None:
            os.kill(self.process.pid, sig)

    def wait(self, timeout: float = 30.0) -> int:
        return self.process.wait(timeout=timeout)

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM, wait up to `timeout`, then SIGKILL. Returns the exit status."""
        self.signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait(timeout=10)

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        if not self._output.closed:
            self._saved = self.output()
            self._output.close()


def server_env(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The test process's environment without APP_* settings, plus `env`. The shutdown delay
    defaults to 0 here so stopping is quick; pass APP_SHUTDOWN_DELAY_SECONDS to test it."""
    base = {key: val for key, val in os.environ.items() if not key.upper().startswith("APP_")}
    base["APP_SHUTDOWN_DELAY_SECONDS"] = "0"
    base.update(env or {})
    return base


def start_server(
    args: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    app: str = APP,
    ready_path: str | None = "/-/readiness",
    timeout: float = 20.0,
    cwd: Path = REPO_ROOT,
) -> RunningServer:
    """Start `uvicorn APP --host 127.0.0.1 --port FREE ARGS...` and wait until `ready_path`
    answers 200 (ready_path=None: return at once, e.g. to watch a failing start). A port taken
    by another process meanwhile: again on another one."""

    def start(port: int) -> RunningServer:
        command = [sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port)]
        output = tempfile.TemporaryFile()  # noqa: SIM115 (closed by RunningServer.close)
        try:
            process = subprocess.Popen(
                [*command, *args],
                cwd=cwd,
                env=server_env(env),
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        except BaseException:
            output.close()
            raise
        server = RunningServer(process, port, output)
        if ready_path is None:
            return server
        try:
            _wait_ready(server, ready_path, timeout)
        except BaseException:
            server.close()
            raise
        return server

    return on_free_port(start)


def _wait_ready(server: RunningServer, path: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            if "address already in use" in server.output():
                raise PortLost(f"port {server.port} was taken before the server bound it")
            raise ServerError(
                f"server exited with {server.process.returncode} before {path} answered:\n"
                + server.output()
            )
        try:
            with urllib.request.urlopen(server.url(path), timeout=1) as response:
                if response.status == 200:
                    check_owner(server.process, server.port)
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.05)
    raise ServerError(f"{path} did not answer 200 within {timeout:.0f}s:\n" + server.output())


@contextlib.contextmanager
def running_server(
    args: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    **kwargs: object,
) -> Iterator[RunningServer]:
    """start_server(...) as a context manager that always stops and cleans up the server."""
    server = start_server(args, env, **kwargs)  # type: ignore[arg-type]
    try:
        yield server
    finally:
        server.stop()
        server.close()
