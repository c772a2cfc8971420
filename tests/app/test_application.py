"""The assembled service: its lifespan, and FastAPI built lazily (off the start-up path)."""

import asyncio
import subprocess
import sys

import pytest

from app.application import create_app
from app.settings import get_settings
from tests.app.asgi import REQUEST_ID, Answer, call
from tests.app.conftest import HOST
from tests.support.server import REPO_ROOT, server_env


@pytest.mark.integration
def test_importing_the_service_does_not_import_fastapi() -> None:
    """FastAPI is most of the start-up time; the probes are served without it."""
    code = "import sys, app.main; print('fastapi' in sys.modules, 'starlette' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO_ROOT,
        env=server_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert result.stdout == "False False\n"


STARTING = Answer(
    503,
    [
        (b"content-length", b"21"),
        (b"content-type", b"application/json"),
        (b"x-request-id", REQUEST_ID),
    ],
    b'{"status":"starting"}',
)


def test_lifespan_starts_and_stops_and_warms_fastapi_up() -> None:
    service = create_app(get_settings({}), host=HOST)
    assert call(service, "/-/readiness") == STARTING
    assert call(service, "/-/health").status == 200  # served before FastAPI is built

    async def scenario() -> list[str]:
        inbox: asyncio.Queue[dict] = asyncio.Queue()
        sent: list[str] = []

        async def send(message: dict) -> None:
            sent.append(message["type"])

        task = asyncio.create_task(service({"type": "lifespan"}, inbox.get, send))
        assert not service.fallback.built
        await inbox.put({"type": "lifespan.startup"})
        for _ in range(3000):  # the warm-up builds FastAPI in a thread, no request needed
            if service.fallback.built:
                break
            await asyncio.sleep(0.01)
        assert service.fallback.built
        await inbox.put({"type": "lifespan.shutdown"})
        await asyncio.wait_for(task, timeout=10)
        return sent

    assert asyncio.run(scenario()) == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    assert call(service, "/-/readiness").status == 200
    assert call(service, "/openapi.json").status == 200


def test_a_failed_build_is_logged_and_keeps_readiness_503(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_build(*args: object) -> None:
        raise ImportError("no module named 'fastapi'")

    monkeypatch.setattr("app.api.create_fastapi", broken_build)
    service = create_app(get_settings({}), host=HOST)

    async def scenario() -> None:
        inbox: asyncio.Queue[dict] = asyncio.Queue()

        async def send(message: dict) -> None:
            pass

        task = asyncio.create_task(service({"type": "lifespan"}, inbox.get, send))
        await inbox.put({"type": "lifespan.startup"})
        async with asyncio.timeout(10):  # until the warm-up has reported its failure
            while "could not be built" not in caplog.text:
                await asyncio.sleep(0.01)
        await inbox.put({"type": "lifespan.shutdown"})
        await asyncio.wait_for(task, timeout=10)

    asyncio.run(scenario())
    assert call(service, "/-/readiness") == STARTING
    assert "the application could not be built; readiness stays 503" in caplog.text
    assert "no module named 'fastapi'" in caplog.text
