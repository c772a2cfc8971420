"""Fixtures for the service tests: settings and HTTP clients through ASGI (httpx ASGITransport)."""

from collections.abc import AsyncIterator

import httpx
import pytest

from app.application import create_app
from app.asgi import ASGIApp
from app.hostinfo import HostInfo
from app.settings import Settings, get_settings
from app.shutdown import ShutdownState

HOST = HostInfo(hostname="test-host", ip="10.1.2.3")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def settings() -> Settings:
    return get_settings({"APP_VERSION": "1.2.3", "APP_REVISION": "abc123"})


@pytest.fixture
def state() -> ShutdownState:
    return ShutdownState()


def asgi_client(app: ASGIApp) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


@pytest.fixture
async def client(settings: Settings, state: ShutdownState) -> AsyncIterator[httpx.AsyncClient]:
    """The service as deployed: fast path in front of FastAPI, built as at startup."""
    app = create_app(settings, host=HOST, state=state)
    app.fallback.build()
    async with asgi_client(app) as client:
        yield client


@pytest.fixture
async def fastapi_client(
    settings: Settings, state: ShutdownState
) -> AsyncIterator[httpx.AsyncClient]:
    """The FastAPI app alone (no fast path): the reference the fast path must match."""
    app = create_app(settings, host=HOST, state=state, fast_path=False)
    async with asgi_client(app) as client:
        yield client


@pytest.fixture(params=["client", "fastapi_client"])
def any_client(request: pytest.FixtureRequest) -> httpx.AsyncClient:
    """Each stack in turn: the service as deployed, and FastAPI alone."""
    return request.getfixturevalue(request.param)
