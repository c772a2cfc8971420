"""Loopback helpers: free ports, and waiting for *our* server to listen on one.

A free port is only free until someone binds it: between `free_port()` and the server's bind,
another process (another engineer's suite, a parallel job) may take it. `wait_for_port` with the
server's process therefore checks that the listener is that process (Linux: /proc), and raises
PortLost when the server exited first or another process answers; `on_free_port` starts again on
another port then; `listening` does both for a server's command line. `serving_thread` runs an
in-process server that stops at once when told.
"""

import contextlib
import os
import signal
import socket
import socketserver
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")
_LISTEN = "0A"  # TCP state LISTEN in /proc/net/tcp


class PortLost(RuntimeError):
    """The server did not get its port: it exited before listening, or another process has it."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def listeners(port: int) -> set[str] | None:
    """Socket inodes listening on TCP `port` (any address); None where /proc cannot tell."""
    found: set[str] = set()
    tables = [Path("/proc/net/tcp"), Path("/proc/net/tcp6")]
    if not tables[0].exists():
        return None
    for table in filter(Path.exists, tables):
        for line in table.read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == _LISTEN and int(fields[1].rsplit(":", 1)[1], 16) == port:
                found.add(fields[9])
    return found


def owns_socket(pid: int, inodes: set[str]) -> bool:
    try:
        links = {os.readlink(entry) for entry in Path(f"/proc/{pid}/fd").iterdir()}
    except OSError:  # exited, or not ours to read
        return False
    return bool({f"socket:[{inode}]" for inode in inodes} & links)


def wait_for_port(
    port: int,
    timeout: float = 20.0,
    host: str = "127.0.0.1",
    process: subprocess.Popen | None = None,
) -> None:
    """Block until something accepts connections on host:port, or raise TimeoutError. With
    `process`: until that process does (PortLost if it exits first or another one listens)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise PortLost(f"exited with {process.returncode} before listening on port {port}")
        try:
            with socket.create_connection((host, port), timeout=0.5):
                pass
        except OSError:
            time.sleep(0.05)
            continue
        if process is not None:
            check_owner(process, port)
        return
    raise TimeoutError(f"nothing listening on {host}:{port} after {timeout:.0f}s")


def group_members(pgid: int) -> list[int]:
    """The processes of process group `pgid` (from /proc; a server started with
    start_new_session=True leads its own group, its children included)."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # exited meanwhile
            continue
        if int(stat[stat.rindex(")") + 2 :].split()[2]) == pgid:  # after "pid (comm) state ppid"
            members.append(int(entry.name))
    return members


def check_owner(process: subprocess.Popen, port: int) -> None:
    """Raise PortLost if neither `process` nor a process of its group listens on `port` (Linux
    only; `git daemon`, for one, serves from a child of the `git` process)."""
    inodes = listeners(port)
    if inodes is None or owns_socket(process.pid, inodes):
        return
    if not any(owns_socket(pid, inodes) for pid in group_members(process.pid)):
        raise PortLost(f"port {port} is held by another process than {process.pid} or its group")


def on_free_port(start: Callable[[int], T], attempts: int = 3) -> T:
    """`start(port)` on a free port; on PortLost (start cleans up first), again on another."""
    for attempt in range(1, attempts + 1):
        try:
            return start(free_port())
        except PortLost:
            if attempt == attempts:
                raise
    raise AssertionError("unreachable")


# serve_forever() looks for a shutdown() request this often; its default, 0.5 s, makes every
# shutdown() wait up to half a second (hundreds of test teardowns).
SHUTDOWN_POLL_SECONDS = 0.01


def serving_thread(server: socketserver.BaseServer) -> threading.Thread:
    """A daemon thread (not started) that runs ``server.serve_forever``, so that shutdown()
    returns within SHUTDOWN_POLL_SECONDS."""
    return threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": SHUTDOWN_POLL_SECONDS}, daemon=True
    )


@contextlib.contextmanager
def running(command: list[str], **popen: Any) -> Iterator[subprocess.Popen]:
    """``command`` in a process group of its own (output discarded unless ``popen`` says
    otherwise), ended with its whole group on exit: SIGTERM, then SIGKILL after 10 s."""
    process = subprocess.Popen(
        command,
        **{"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, **popen},
        start_new_session=True,
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)


@contextlib.contextmanager
def listening(
    command: Callable[[int], list[str]],
    port: int | None = None,
    attempts: int = 3,
    timeout: float = 20.0,
    **popen: Any,
) -> Iterator[int]:
    """Run ``command(port)`` (`running`) until it is the one listening on the port; yield the
    port. Given a port, only that one (PortLost if it is taken).

    The free-port race (another process binds the port between our pick and the server's bind)
    ends in the server exiting or someone else answering: PortLost, then another port."""
    for attempt in range(1, attempts + 1):
        chosen = port or free_port()
        with running(command(chosen), **popen) as process:
            try:
                wait_for_port(chosen, timeout, process=process)
            except PortLost:
                if port or attempt == attempts:
                    raise
                continue
            yield chosen
            return
