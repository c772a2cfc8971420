"""A service's own endpoints (app/routers.py), added as docs/service.md says: an APIRouter the
app includes before the template's, served with everything the template's endpoints get."""

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import APIRouter
from pydantic import BaseModel

from app.application import create_app
from app.routers import routers
from app.settings import Settings
from tests.app.conftest import HOST, asgi_client

pytestmark = pytest.mark.anyio


class Item(BaseModel):
    id: int
    name: str


def items_router() -> APIRouter:
    """The example of docs/service.md, "Adding an endpoint"."""
    router = APIRouter(tags=["items"])

    @router.get("/api/items/{item_id}", response_model=Item)
    async def get_item(item_id: int) -> Item:
        return Item(id=item_id, name=f"item {item_id}")

    return router


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, host=HOST, routers=lambda: [items_router()])
    app.fallback.build()
    async with asgi_client(app) as client:
        yield client


def test_the_template_ships_no_endpoint_of_a_service_s_own() -> None:
    assert routers() == []


async def test_the_route_answers_with_a_request_id(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/items/7", headers={"x-request-id": "abc-123"})
    assert response.status_code == 200
    assert response.json() == {"id": 7, "name": "item 7"}
    assert response.headers["x-request-id"] == "abc-123"


async def test_head_answers_like_get_without_a_body(client: httpx.AsyncClient) -> None:
    get, head = await client.get("/api/items/7"), await client.head("/api/items/7")
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["content-length"] == get.headers["content-length"]


async def test_a_bad_parameter_is_a_json_422(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/items/seven")
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["path", "item_id"]


async def test_the_docs_list_it_beside_the_template_s_endpoints(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    assert "/api/items/{item_id}" in paths
    assert {"/api/echo", "/-/health"} <= set(paths)


async def test_metrics_count_it_under_its_route_template(client: httpx.AsyncClient) -> None:
    for item in (1, 2, 3):
        await client.get(f"/api/items/{item}")
    metrics = (await client.get("/-/metrics")).text
    count = next(
        line
        for line in metrics.splitlines()
        if line.startswith("http_server_request_duration_seconds_count{")
        and 'http_route="/api/items/{item_id}"' in line
    )
    assert count.endswith(" 3.0")
    assert "/api/items/1" not in metrics


async def test_the_template_s_endpoints_still_answer(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/echo", params={"text": "a&b"})).json() == {"text": "a&b"}
    assert (await client.get("/-/health")).json()["status"] == "ok"
