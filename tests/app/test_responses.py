"""``app.responses``: responses rendered without a framework carry exactly the headers Starlette's
Response writes for the same body, in its order, so the fast path and FastAPI answer alike."""

import pytest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.openmetrics.exposition import CONTENT_TYPE_LATEST as OPENMETRICS
from starlette.responses import Response

from app.responses import JSON_TYPE, Prebuilt, Rendered, response_headers


@pytest.mark.parametrize("content_type", [JSON_TYPE, CONTENT_TYPE_LATEST, OPENMETRICS])
@pytest.mark.parametrize("body", [b"", b'{"status":"ok"}', "\u00e9".encode() * 3])
def test_the_headers_are_starlettes(body: bytes, content_type: str) -> None:
    assert (
        response_headers(body, content_type) == Response(body, media_type=content_type).raw_headers
    )


def test_a_rendered_response_is_its_asgi_messages() -> None:
    answer = Prebuilt(503, {"status": "shutting down"})
    assert answer.body_message == {"type": "http.response.body", "body": answer.body}
    assert answer.body == b'{"status":"shutting down"}'
    start = answer.start_message((b"x-request-id", b"abc"))
    assert start == {
        "type": "http.response.start",
        "status": 503,
        "headers": [(b"content-length", b"26"), (b"content-type", b"application/json"),
                    (b"x-request-id", b"abc")],
    }  # fmt: skip
    text = Rendered(200, b"# EOF\n", OPENMETRICS)
    assert text.start_message()["headers"][1] == (b"content-type", OPENMETRICS.encode())
