"""An unexpected exception becomes a JSON 500 (and is still raised for the server to log)."""

import httpx
import pytest
from fastapi import FastAPI

from app.errors import install_error_handlers

pytestmark = pytest.mark.anyio


async def test_unhandled_exception_is_json_500() -> None:
    api = FastAPI()
    install_error_handlers(api)

    @api.get("/boom")
    async def boom() -> None:
        raise RuntimeError("boom")

    transport = httpx.ASGITransport(app=api, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        response = await client.get("/boom")
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"detail": "Internal Server Error"}
