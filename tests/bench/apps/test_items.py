"""The team's route the bench compares: the same answer from the template (with its request id
and its histogram) and from a bare FastAPI app. In process: the template with the route is built
from a fresh create_app(), not from app.main (whose app is the process's)."""

import json

from app.application import create_app
from app.hostinfo import HostInfo
from app.settings import get_settings
from bench.apps.bare_fastapi import app as bare
from bench.apps.items import ITEM_PATH, items_router
from bench.checks import ENDPOINTS, ITEM, check_observed, check_response
from tests.app.asgi import REQUEST_ID, call

HOST = HostInfo(hostname="test-host", ip="10.1.2.3")


def _template_with_items():
    template = create_app(get_settings({}), host=HOST, routers=lambda: [items_router()])
    template.fallback.build()
    return template


def test_the_route_answers_alike_in_the_template_and_in_bare_fastapi() -> None:
    template, path = _template_with_items(), ENDPOINTS["item"]
    answers = [call(app, path) for app in (template, bare)]
    assert [(a.status, json.loads(a.body)) for a in answers] == [(200, ITEM)] * 2
    assert answers[0].body == answers[1].body
    for answer in answers:
        content_type = dict(answer.headers)[b"content-type"].decode()
        assert check_response(path, 200, content_type, answer.body) is None
    assert (b"x-request-id", REQUEST_ID) in answers[0].headers
    assert b"x-request-id" not in dict(answers[1].headers)


def test_in_the_template_the_route_has_its_request_id_and_is_counted_by_its_template() -> None:
    template = _template_with_items()
    answer = call(template, ENDPOINTS["item"], headers=((b"host", b"testserver"),))
    headers = {name.decode(): value.decode() for name, value in answer.headers}
    assert len(headers["x-request-id"]) == 32  # made by the service
    metrics = call(template, "/-/metrics").body
    assert f'http_route="{ITEM_PATH}"'.encode() in metrics
    assert check_observed(ENDPOINTS["item"], headers, metrics) is None


def test_the_route_is_included_first_and_the_template_keeps_its_own() -> None:
    template = _template_with_items()
    paths = list(json.loads(call(template, "/openapi.json").body)["paths"])  # in route order
    assert paths[0] == ITEM_PATH
    assert "/api/echo" in paths
    assert call(template, "/api/echo", b"text=hi").body == b'{"text":"hi"}'
