"""The fast path answers exactly as FastAPI would: same status, headers and body bytes.

Each example goes through both stacks (`create_app` with and without the fast path) with the same
raw query string, the way uvicorn hands it over.
"""

import json
from urllib.parse import quote, quote_plus

import pytest
from hypothesis import example, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from app.application import create_app
from app.settings import get_settings
from app.shutdown import ShutdownState
from tests.app.asgi import Answer, call
from tests.app.conftest import HOST

MAX_LENGTH = 64
SETTINGS = get_settings({"APP_ECHO_MAX_LENGTH": str(MAX_LENGTH), "APP_VERSION": "9.9.9"})
STATE = ShutdownState()
FAST = create_app(SETTINGS, host=HOST, state=STATE)
FAST.fallback.build()  # as the startup warm-up does: readiness is 503 until then
REFERENCE = create_app(SETTINGS, host=HOST, state=STATE, fast_path=False)
PATHS = ["/-/health", "/-/liveness", "/-/readiness", "/api/echo"]
# Texts from anywhere in Unicode (no lone surrogates: they cannot be sent as UTF-8).
TEXTS = st.text(st.characters(codec="utf-8"), max_size=MAX_LENGTH + 4)
QUERY_BYTES = st.one_of(
    st.binary(max_size=40),
    st.text(st.sampled_from("text=&%+;aZ09FfÉ\x00 #?/"), max_size=40).map(str.encode),
)


def both(path: str, query: bytes, method: str = "GET") -> tuple[Answer, Answer]:
    return call(FAST, path, query, method), call(REFERENCE, path, query, method)


def assert_same(path: str, query: bytes, method: str = "GET") -> Answer:
    fast, reference = both(path, query, method)
    assert fast == reference, (path, query)
    return fast


@given(text=TEXTS, encode=st.sampled_from([quote, quote_plus]))
@example(text="", encode=quote)
@example(text="x" * MAX_LENGTH, encode=quote)
@example(text="x" * (MAX_LENGTH + 1), encode=quote)
@example(text='a & b = c <b>é</b> ✓ 😀 "\\\n\x00\u2028', encode=quote_plus)
@hypothesis_settings(max_examples=300, deadline=None)
def test_echo_is_identical_and_exact(text: str, encode) -> None:
    answer = assert_same("/api/echo", b"text=" + encode(text, safe="").encode())
    if len(text) <= MAX_LENGTH:
        assert answer.status == 200
        assert json.loads(answer.body) == {"text": text}
    else:
        assert answer.status == 422


@given(
    before=st.lists(st.tuples(TEXTS, TEXTS), max_size=3),
    texts=st.lists(TEXTS, max_size=3),
    after=st.lists(st.tuples(TEXTS, TEXTS), max_size=3),
)
@hypothesis_settings(max_examples=150, deadline=None)
def test_echo_with_other_and_repeated_parameters(before, texts, after) -> None:
    pairs = [*before, *(("text", text) for text in texts), *after]
    query = "&".join(f"{quote_plus(k)}={quote_plus(v)}" for k, v in pairs).encode()
    answer = assert_same("/api/echo", query)
    assert answer.status < 500


@given(query=QUERY_BYTES, path=st.sampled_from(PATHS))
@example(query=b"text=%FF", path="/api/echo")
@example(query=b"text=%", path="/api/echo")
@example(query=b"text=\xc3\xa9", path="/api/echo")
@example(query=b"text;x=1", path="/api/echo")
@hypothesis_settings(max_examples=300, deadline=None)
def test_any_raw_query_is_identical_and_never_5xx(query: bytes, path: str) -> None:
    answer = assert_same(path, query)
    assert answer.status in (200, 400, 422)


@pytest.mark.parametrize("path", [*PATHS, "/", "/api", "/-/health/", "/docs"])
@pytest.mark.parametrize("method", ["GET", "HEAD", "POST", "DELETE"])
def test_every_method_and_path_is_identical(path: str, method: str) -> None:
    assert_same(path, b"text=x", method)


def test_readiness_identical_while_shutting_down() -> None:
    state = ShutdownState()
    fast = create_app(SETTINGS, host=HOST, state=state)
    fast.fallback.build()
    reference = create_app(SETTINGS, host=HOST, state=state, fast_path=False)
    state.begin()
    answer = call(fast, "/-/readiness")
    assert answer == call(reference, "/-/readiness")
    assert (answer.status, answer.body) == (503, b'{"status":"shutting down"}')


@pytest.mark.parametrize("path", PATHS)
def test_under_a_root_path_the_fast_path_still_answers(path: str) -> None:
    """uvicorn --root-path /svc puts the prefix in front of every path; routes match without it."""
    fast = create_app(SETTINGS, host=HOST, state=STATE)  # FastAPI not built: readiness 503
    answer = call(fast, path, b"text=x", root_path="/svc")
    assert answer.status == (503 if path == "/-/readiness" else 200)
    assert not fast.fallback.built  # the fast path answered, FastAPI was not needed
    fast.fallback.build()
    assert call(fast, path, b"text=x", root_path="/svc") == call(
        REFERENCE, path, b"text=x", root_path="/svc"
    )


def test_under_a_root_path_other_paths_still_go_to_fastapi() -> None:
    assert call(FAST, "/nope", root_path="/svc").status == 404
    assert call(FAST, "/svc2/-/health", root_path="/svc").status == 404  # not the prefix
    assert call(FAST, "/openapi.json", root_path="/svc").status == 200


def test_fastapi_adds_nothing_the_fast_path_misses() -> None:
    """Whatever FastAPI puts around its routes must be done for the fast path's answers too (in
    app/observe.py), or be absent. A new middleware or exception handler fails here: add it to
    the pure-ASGI layers in app/application.py instead, or the fast path skips it."""
    from fastapi.exceptions import RequestValidationError, WebSocketRequestValidationError
    from starlette.exceptions import HTTPException

    api = create_app(SETTINGS, host=HOST).fallback.build()
    assert api.user_middleware == []
    stack, layer = [], api.build_middleware_stack()
    while layer is not api.router:
        stack.append(type(layer).__name__)
        layer = layer.app
    assert stack == [
        "ServerErrorMiddleware",  # JSON 500: mirrored by Observed (test_observe.py)
        "ExceptionTelemetryMiddleware",  # feeds FastAPI's telemetry, which is off (below)
        "ExceptionMiddleware",  # the handlers below
        "AsyncExitStackMiddleware",  # closes files of requests with bodies; the fast path has none
    ]
    # HTTPException and validation errors come from FastAPI's own routing and parameters: the
    # fast path answers only requests that raise neither; Exception: ServerErrorMiddleware's.
    assert set(api.exception_handlers) == {
        Exception,
        HTTPException,
        RequestValidationError,
        WebSocketRequestValidationError,
    }
    assert not any(api._telemetry[key] for key in ("tracing", "metrics", "logs", "auto_configure"))
