"""``app.observe``, the layer every request passes: an exception on the fast path is answered with
the JSON 500 FastAPI sends (and re-raised for the server to log), with the request's id."""

import json

from app.application import create_app
from app.settings import get_settings
from tests.app.asgi import REQUEST_ID, BrokenState, call_failing
from tests.app.conftest import HOST

SETTINGS = get_settings({})


def test_an_exception_on_the_fast_path_is_the_json_500_fastapi_sends() -> None:
    """What FastAPI's ServerErrorMiddleware does for its routes, done for the fast path too."""
    state = BrokenState()
    fast = create_app(SETTINGS, host=HOST, state=state)
    fast.fallback.build()
    answer, error = call_failing(fast, "/-/readiness")  # answered (and failed) on the fast path
    assert isinstance(error, ZeroDivisionError)  # re-raised: the server logs the traceback
    assert (answer.status, json.loads(answer.body)) == (500, {"detail": "Internal Server Error"})
    assert (b"x-request-id", REQUEST_ID) in answer.headers
    reference = create_app(SETTINGS, host=HOST, state=state, fast_path=False)
    assert call_failing(reference, "/-/readiness")[0] == answer
