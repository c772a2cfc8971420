"""A team's own endpoint, written as docs/service.md ("Adding an endpoint") shows: an APIRouter
with a path parameter and a response model, on FastAPI's defaults (its JSONResponse). `make bench`
serves the same router in the template (bench/apps/team_route.py) and in a bare FastAPI app
(bench/apps/bare_fastapi.py)."""

from fastapi import APIRouter
from pydantic import BaseModel

ITEM_PATH = "/api/items/{item_id}"


class Item(BaseModel):
    id: int
    name: str


def items_router() -> APIRouter:
    router = APIRouter(tags=["items"])

    @router.get(ITEM_PATH, response_model=Item, summary="One item")
    async def get_item(item_id: int) -> Item:
        return Item(id=item_id, name=f"item {item_id}")

    return router
