"""The service uses its libraries' public APIs only, so any uvicorn and pydantic-settings of the
pinned major runs it: no module of app/ reaches for a private name of uvicorn, starlette, fastapi
or pydantic_settings (an AST scan), and the uvicorn installed here starts the service and drains
it on SIGTERM, with no version check in between."""

import ast
import asyncio
import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import uvicorn

from app.application import create_app
from app.asgi import ASGIApp, Receive, Scope, Send
from app.responses import Prebuilt
from app.settings import get_settings
from tests.app.conftest import HOST
from tests.app.http import Reply, first_503, get

APP_DIR = Path(__file__).resolve().parents[2] / "app"
LIBRARIES = frozenset({"uvicorn", "starlette", "fastapi", "pydantic_settings"})


# What a callback gives away about the object behind it: the way to a server's internals through
# the handler it installed (app/uvicorn_signals.py found uvicorn's Server via `__self__`).
INTROSPECTION = frozenset({"__self__", "__closure__", "__globals__", "__func__"})
NAME_BY_STRING = frozenset({"getattr", "setattr", "hasattr", "delattr"})


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


class PrivateUses(ast.NodeVisitor):
    """Private names of LIBRARIES a module uses: imported, read off an imported name, or
    overridden in a subclass of an imported class; and, of any object, a private name by string
    (getattr) or the owner of a callable (INTROSPECTION)."""

    def __init__(self) -> None:
        self.found: list[str] = []
        self.imported: set[str] = set()  # local names bound to a library or something of it

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if alias.name.split(".")[0] in LIBRARIES:
                self._check_path(alias.name, node)
                self.imported.add((alias.asname or alias.name).split(".")[0])

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        module = node.module or ""
        if node.level or module.split(".")[0] not in LIBRARIES:
            return
        self._check_path(module, node)
        for alias in node.names:
            self._check_path(f"{module}.{alias.name}", node)
            self.imported.add(alias.asname or alias.name)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        root: ast.expr = node
        while isinstance(root, ast.Attribute | ast.Call | ast.Subscript):  # a.b().c[0]._d
            root = root.func if isinstance(root, ast.Call) else root.value
        library = isinstance(root, ast.Name) and root.id in self.imported
        if (library and _private(node.attr)) or node.attr in INTROSPECTION:
            self.found.append(f"line {node.lineno}: {ast.unparse(node)}")
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        func, args = node.func, node.args
        by_string = isinstance(func, ast.Name) and func.id in NAME_BY_STRING and len(args) >= 2
        name = args[1].value if by_string and isinstance(args[1], ast.Constant) else None
        if isinstance(name, str) and (_private(name) or name in INTROSPECTION):
            self.found.append(f"line {node.lineno}: {ast.unparse(node)}")
        self.generic_visit(node)

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        bases = {base.id for base in node.bases if isinstance(base, ast.Name)}
        if bases & self.imported:
            for item in node.body:
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef) and _private(item.name):
                    self.found.append(f"line {item.lineno}: {node.name} overrides {item.name}")
        self.generic_visit(node)

    def _check_path(self, dotted: str, node: ast.stmt) -> None:
        if any(_private(part) for part in dotted.split(".")):
            self.found.append(f"line {node.lineno}: imports {dotted}")


def private_uses(source: str) -> list[str]:
    visitor = PrivateUses()
    visitor.visit(ast.parse(source))
    return visitor.found


@pytest.mark.parametrize(
    "source",
    [
        "import uvicorn._types",
        "from uvicorn._compat import x",
        "from starlette.routing import _compile",
        "import uvicorn\nuvicorn.server.Server._serve",
        "from uvicorn import Server\ndef f(s: Server):\n    return Server(s)._captured_signals",
        "import fastapi as f\nf._private",
        "from pydantic_settings import EnvSettingsSource as E\n"
        "class S(E):\n    def _load_env_vars(self):\n        pass",
        "server = getattr(handler, '__self__', None)",
        "server = handler.__self__",
        "getattr(server, '_captured_signals')",
    ],
)
def test_the_scan_finds_private_uses(source: str) -> None:
    assert private_uses(source)


@pytest.mark.parametrize(
    "source",
    [
        "from fastapi import FastAPI\nFastAPI.__name__",
        "from pydantic_settings import BaseSettings\n"
        "class S(BaseSettings):\n    def __init__(self):\n        self._mine = 1",
        "import os\nos._exit",  # not one of LIBRARIES
        "from . import _own\nclass A:\n    def _helper(self):\n        pass",
        "getattr(route, 'path_format', None)",
    ],
)
def test_the_scan_passes_public_uses(source: str) -> None:
    assert private_uses(source) == []


def test_no_module_of_the_service_uses_a_private_name_of_its_libraries() -> None:
    found = {
        str(path.relative_to(APP_DIR.parent)): uses
        for path in sorted(APP_DIR.rglob("*.py"))
        if (uses := private_uses(path.read_text()))
    }
    assert found == {}


# The installed uvicorn, in this process: the server in the main thread (signals need it), the
# clients in threads. Its logging is left alone (log_config=None), so caplog sees its lines.

DELAY, SLOW, IN_FLIGHT = 1.0, 2.0, 3


def with_slow_endpoint(service: ASGIApp) -> tuple[ASGIApp, list[int]]:
    """The service plus GET /test/slow (answers after SLOW seconds); the list counts those in
    flight."""
    in_flight = [0]

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != "/test/slow":
            await service(scope, receive, send)
            return
        in_flight[0] += 1
        try:
            await asyncio.sleep(SLOW)
        finally:
            in_flight[0] -= 1
        response = Prebuilt(200, {"slept": SLOW})
        await send(response.start_message())
        await send(response.body_message)

    return app, in_flight


@pytest.fixture
def process_sigterm() -> Iterator[list[int]]:
    """The process's own SIGTERM handler, recording: what uvicorn puts back when it exits (and,
    since 0.29, raises the signal again for)."""
    saved = signal.getsignal(signal.SIGTERM)
    calls: list[int] = []
    signal.signal(signal.SIGTERM, lambda sig, frame: calls.append(sig))
    yield calls
    signal.signal(signal.SIGTERM, saved)


def drain_scenario(port: int, in_flight: list[int], seen: dict[str, object]) -> None:
    """The kubelet's view: requests in flight, SIGTERM, readiness until 503, a new request."""
    _until(lambda: get(port, "/-/readiness", timeout=2).status == 200, "never ready")
    with ThreadPoolExecutor(max_workers=IN_FLIGHT) as pool:
        slow = [pool.submit(get, port, "/test/slow") for _ in range(IN_FLIGHT)]
        _until(lambda: in_flight[0] == IN_FLIGHT, "slow requests not in flight")
        os.kill(os.getpid(), signal.SIGTERM)
        seen["signalled"] = time.monotonic()
        seen["readiness"] = first_503(port)
        seen["readiness_after"] = time.monotonic() - seen["signalled"]  # type: ignore[operator]
        # Halfway through the delay: a server told to stop would have closed its listener.
        time.sleep(max(0.0, seen["signalled"] + DELAY / 2 - time.monotonic()))  # type: ignore[operator]
        seen["echo"] = get(port, "/api/echo?text=still")
        seen["slow"] = [future.result(timeout=30) for future in slow]


def _until(predicate, message: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if predicate():
                return
        except OSError:
            pass  # not listening yet
        assert time.monotonic() < deadline, message
        time.sleep(0.02)


def run_client(port: int, in_flight: list[int], seen: dict[str, object]) -> threading.Thread:
    def client() -> None:
        try:
            drain_scenario(port, in_flight, seen)
        except BaseException as exc:  # reported by the test; the server must stop regardless
            seen["error"] = exc
            os.kill(os.getpid(), signal.SIGTERM)  # a second SIGTERM skips the delay
            time.sleep(0.2)
            os.kill(os.getpid(), signal.SIGTERM)

    thread = threading.Thread(target=client, daemon=True)
    thread.start()
    return thread


def test_the_installed_uvicorn_starts_and_drains_the_service(
    process_sigterm: list[int], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    settings = get_settings({"APP_SHUTDOWN_DELAY_SECONDS": str(DELAY)})
    app, in_flight = with_slow_endpoint(create_app(settings, host=HOST))
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(
        app, loop="uvloop", http="httptools", log_config=None, timeout_graceful_shutdown=20
    )
    seen: dict[str, object] = {}
    with sock:
        client = run_client(sock.getsockname()[1], in_flight, seen)
        uvicorn.Server(config).run(sockets=[sock])
    stopped = time.monotonic() - seen.get("signalled", time.monotonic())
    client.join(timeout=30)
    assert "error" not in seen, seen.get("error")
    assert seen["readiness"] == Reply(503, seen["readiness"].headers, b'{"status":"shutting down"}')
    assert seen["readiness_after"] < 1.0
    assert seen["echo"].json() == {"text": "still"}  # a new connection, during the delay
    assert [reply.status for reply in seen["slow"]] == [200] * IN_FLIGHT
    assert DELAY <= stopped < DELAY + SLOW + 5
    messages = [record.getMessage() for record in caplog.records]
    readiness_503 = next(i for i, m in enumerate(messages) if "readiness now 503" in m)
    assert readiness_503 < messages.index("Shutting down")
    assert f"Finished server process [{os.getpid()}]" in messages
    # uvicorn gives the signal back to the process's own handler when done (0.29 on), once.
    assert process_sigterm in ([], [signal.SIGTERM])
