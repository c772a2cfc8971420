"""``app.probes``: /-/health, /-/liveness and /-/readiness through ASGI, on the deployed stack and
on FastAPI alone: the build and host in health, readiness 503 once shutdown begins."""

import httpx
import pytest

from app.shutdown import ShutdownState

pytestmark = pytest.mark.anyio


async def test_health_reports_build_and_host(any_client: httpx.AsyncClient) -> None:
    response = await any_client.get("/-/health")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {
        "status": "ok",
        "version": "1.2.3",
        "revision": "abc123",
        "debug": {"hostname": "test-host", "ip": "10.1.2.3"},
    }


async def test_liveness(any_client: httpx.AsyncClient) -> None:
    response = await any_client.get("/-/liveness")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


async def test_readiness_turns_503_when_shutdown_begins(
    any_client: httpx.AsyncClient, state: ShutdownState
) -> None:
    assert (await any_client.get("/-/readiness")).status_code == 200
    state.begin()
    response = await any_client.get("/-/readiness")
    assert (response.status_code, response.json()) == (503, {"status": "shutting down"})
    assert (await any_client.get("/-/liveness")).status_code == 200
