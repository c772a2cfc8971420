"""X-Request-ID: taken when sane, made otherwise, returned on every response, on every log line
written while serving the request."""

import io
import json
import logging
import os
import re
from collections.abc import Iterator

import pytest

from app.application import create_app
from app.logs import configure_logging
from app.requestid import MAX_LENGTH, new_request_id, sane
from app.settings import get_settings
from tests.app.asgi import call
from tests.app.conftest import HOST

GENERATED = re.compile(r"[0-9a-f]{32}")
SETTINGS = get_settings({})
# Whoever answers: fast path (health, echo), FastAPI (422, 404, 405, docs).
REQUESTS = [
    ("GET", "/-/health", b""),
    ("HEAD", "/-/health", b""),
    ("GET", "/api/echo", b"text=x"),
    ("GET", "/api/echo", b""),
    ("GET", "/nope", b""),
    ("POST", "/-/liveness", b""),
    ("HEAD", "/openapi.json", b""),
]


@pytest.fixture(scope="module")
def app():
    service = create_app(SETTINGS, host=HOST)
    service.fallback.build()
    return service


def returned_id(answer) -> str:
    (value,) = [v for k, v in answer.headers if k == b"x-request-id"]
    return value.decode()


@pytest.mark.parametrize(("method", "path", "query"), REQUESTS)
def test_a_sane_id_is_returned_as_given(app, method: str, path: str, query: bytes) -> None:
    given = b"req-7f3a_9:Z/+=~!"
    answer = call(app, path, query, method, headers=((b"x-request-id", given),))
    assert returned_id(answer) == given.decode()


@pytest.mark.parametrize(("method", "path", "query"), REQUESTS)
def test_without_one_a_fresh_id_is_made(app, method: str, path: str, query: bytes) -> None:
    first = returned_id(call(app, path, query, method, headers=()))
    second = returned_id(call(app, path, query, method, headers=()))
    assert GENERATED.fullmatch(first)
    assert GENERATED.fullmatch(second)
    assert first != second


@pytest.mark.parametrize(
    "value",
    [
        b"",
        b"x" * (MAX_LENGTH + 1),
        b"has space",
        b"tab\there",
        b"nul\x00",
        b"del\x7f",
        "caf\u00e9".encode(),
        b"\xff\xfe",
        b"new\r\nline",
    ],
)
def test_an_insane_id_is_replaced(app, value: bytes) -> None:
    answer = call(app, "/-/health", headers=((b"x-request-id", value),))
    assert GENERATED.fullmatch(returned_id(answer))


def test_longest_sane_id_is_kept() -> None:
    assert sane(b"a" * MAX_LENGTH)
    assert not sane(b"a" * (MAX_LENGTH + 1))


def test_made_ids_are_distinct_across_reads_and_forks() -> None:
    """Ids come 256 to a random read: many reads' worth are all well-formed and distinct, and a
    forked child (a server worker) never hands out the ones its parent had left."""
    ids = [new_request_id() for _ in range(1000)]
    assert all(GENERATED.fullmatch(i.decode()) for i in ids)
    assert len(set(ids)) == len(ids)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its next ids, to the parent
        os.close(read)
        os.write(write, b"".join(new_request_id() for _ in range(10)))
        os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        child = pipe.read()
    os.waitpid(pid, 0)
    parent = b"".join(new_request_id() for _ in range(10))
    assert len(child) == len(parent) == 320
    assert {child[i : i + 32] for i in range(0, 320, 32)}.isdisjoint(
        parent[i : i + 32] for i in range(0, 320, 32)
    )


@pytest.fixture
def json_logs() -> Iterator[io.StringIO]:
    names = ("app", "uvicorn", "uvicorn.error", "uvicorn.access")
    saved = {n: (logging.getLogger(n).handlers[:], logging.getLogger(n).propagate) for n in names}
    stream = io.StringIO()
    configure_logging(get_settings({"APP_LOG_FORMAT": "json"}), stream)
    yield stream
    for name, (handlers, propagate) in saved.items():
        logging.getLogger(name).handlers, logging.getLogger(name).propagate = handlers, propagate


def test_access_and_app_log_lines_carry_the_request_id(json_logs: io.StringIO) -> None:
    settings = get_settings({"APP_LOG_FORMAT": "json", "APP_ACCESS_LOG": "true"})
    service = create_app(settings, host=HOST)
    service.fallback.build()
    service.fast_path.probes.built = lambda: logging.getLogger("app.probe").warning("checked")
    call(service, "/-/readiness", headers=((b"x-request-id", b"abc-123"),))
    call(service, "/api/echo", b"text=x", headers=((b"x-request-id", b"def-456"),))
    lines = [json.loads(line) for line in json_logs.getvalue().splitlines()]
    assert [(e["logger"], e["request_id"]) for e in lines] == [
        ("app.probe", "abc-123"),
        ("app.access", "abc-123"),
        ("app.access", "def-456"),
    ]
    logging.getLogger("app").info("outside any request")
    assert "request_id" not in json.loads(json_logs.getvalue().splitlines()[-1])
