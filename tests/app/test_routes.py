"""``app.routes``: the route template a request matched (never its raw path), and the path the
routes match under uvicorn's --root-path (as Starlette's get_route_path() computes it)."""

import pytest
from starlette.responses import Response
from starlette.routing import Mount, Route, Router

from app.routes import ROUTE, UNMATCHED, route_of, route_path


@pytest.mark.parametrize(
    ("path", "root_path", "expected"),
    [
        ("/api/echo", "", "/api/echo"),
        ("/svc/api/echo", "/svc", "/api/echo"),
        ("/svc/", "/svc", "/"),
        ("/svc", "/svc", ""),
        ("/svcx/api/echo", "/svc", "/svcx/api/echo"),  # a prefix of the name is not the root
        ("/other/api/echo", "/svc", "/other/api/echo"),
    ],
)
def test_the_path_the_routes_match(path: str, root_path: str, expected: str) -> None:
    assert route_path(path, root_path) == expected


async def endpoint(request) -> Response:
    return Response()


ITEM = Route("/items/{id}", endpoint)
ASSETS = Mount("/assets", app=endpoint)
ROUTER = Router([ITEM, ASSETS])


@pytest.mark.parametrize(
    ("scope", "template"),
    [
        ({ROUTE: "/-/health", "route": ITEM}, "/-/health"),  # what the fast path answered
        ({"route": ITEM}, "/items/{id}"),  # an API route FastAPI matched
        ({"endpoint": endpoint, "router": ROUTER}, "/items/{id}"),  # a plain route
        ({"endpoint": ASSETS.app, "router": Router([ASSETS])}, "/assets/{path}"),  # a mount
        ({"endpoint": object(), "router": ROUTER}, UNMATCHED),
        ({}, UNMATCHED),  # no route matched: a 404
    ],
)
def test_the_template_of_the_route_that_answered(scope: dict, template: str) -> None:
    assert route_of(scope) == template
