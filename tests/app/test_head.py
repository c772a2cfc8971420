"""``app.head``: HEAD on every GET endpoint answers as GET without the body, on the deployed stack
(the fast path answers its own) and on FastAPI alone, which declares GET only."""

import pytest

from app.application import create_app
from app.settings import get_settings
from tests.app.asgi import call
from tests.app.conftest import HOST

SETTINGS = get_settings({})
FAST = create_app(SETTINGS, host=HOST)
FAST.fallback.build()  # as the startup warm-up does
REFERENCE = create_app(SETTINGS, host=HOST, fast_path=False)


GET_PATHS = [
    path
    for path, operations in REFERENCE.fallback.build().openapi()["paths"].items()
    if "get" in operations
]


@pytest.mark.parametrize("app", [FAST, REFERENCE], ids=["fast path", "FastAPI only"])
@pytest.mark.parametrize("path", [*GET_PATHS, "/docs", "/redoc", "/openapi.json"])
def test_head_answers_like_get_without_a_body(app, path: str) -> None:
    get, head = call(app, path, b"text=x"), call(app, path, b"text=x", "HEAD")
    assert (head.status, head.body) == (get.status, b"")
    if path == "/-/metrics":  # the exposition changes from one call to the next
        assert [k for k, _ in head.headers] == [k for k, _ in get.headers]
    else:
        assert head.headers == get.headers
    assert get.status == 200
