"""create_app(settings): the ASGI application, assembled from the modules of this package."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from app.echo import echo_router
from app.errors import install_error_handlers
from app.fastpath import FastPath
from app.hostinfo import HostInfo, detect_host
from app.logs import AccessLog, ASGIApp
from app.probes import Probes, probes_router
from app.settings import Settings
from app.shutdown import DelayedSigterm, ShutdownState

SERVICE_NAME = "python-microservice"


def create_fastapi(settings: Settings, probes: Probes, sigterm: DelayedSigterm) -> FastAPI:
    """The FastAPI app alone: every endpoint, its OpenAPI docs, errors and the lifespan."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        sigterm.install()
        try:
            yield
        finally:
            sigterm.uninstall()

    api = FastAPI(
        title=SERVICE_NAME,
        version=settings.version,
        description="A reference Python microservice: echo, health and Kubernetes probes.",
        lifespan=lifespan,
    )
    install_error_handlers(api)
    api.include_router(probes_router(probes))
    api.include_router(echo_router(settings.echo_max_length))
    return api


def create_app(
    settings: Settings,
    host: HostInfo | None = None,
    state: ShutdownState | None = None,
    fast_path: bool = True,
) -> ASGIApp:
    """The service as an ASGI app. Host facts are looked up here, once."""
    state = state or ShutdownState()
    probes = Probes(settings, host or detect_host(), state)
    sigterm = DelayedSigterm(state, settings.shutdown_delay_seconds)
    app: ASGIApp = create_fastapi(settings, probes, sigterm)
    if fast_path:
        app = FastPath(app, probes, settings.echo_max_length)
    if settings.access_log:
        app = AccessLog(app)
    return app
