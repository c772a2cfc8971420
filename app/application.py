"""create_app(settings): the ASGI application uvicorn runs, assembled from this package.

Traced (only when tracing is on: a server span per request, app/tracing.py)
  -> Service: Observed (X-Request-ID, the duration histogram, the access log, a JSON 500; it
     sends the FastPath's answers: probes, health, metrics, well-formed echo; GET and HEAD), and
     the lifespan (SIGTERM handling, FastAPI warm-up, tracing flushed at shutdown)
    -> HeadAsGet (HEAD on FastAPI's GET routes)
      -> FastAPI (everything else), built on first use or in the background at startup
"""

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from app.asgi import ASGIApp, LazyApp, Receive, Scope, Send
from app.fastpath import FastPath
from app.head import HeadAsGet
from app.hostinfo import HostInfo, detect_host
from app.logs import ACCESS_LOGGER
from app.metrics import Metrics
from app.observe import Observed
from app.probes import Probes
from app.settings import Settings
from app.shutdown import DelayedSigterm, ShutdownState

if TYPE_CHECKING:
    from fastapi import APIRouter
    from opentelemetry.sdk.trace import TracerProvider

    from app.tracing import Traced

log = logging.getLogger("app")


class Service(Observed):
    """The app: Observed's handling of every HTTP request, plus the lifespan protocol.

    One class rather than a layer around Observed: a layer is a coroutine more per request, near
    1% of what uvicorn and the app spend on a health request.
    """

    def __init__(
        self,
        app: ASGIApp,
        fast_path: FastPath | None,
        metrics: Metrics | None,
        access_log: logging.Logger | None,
        fallback: LazyApp,
        sigterm: DelayedSigterm,
        tracer_provider: "TracerProvider | None" = None,
    ) -> None:
        super().__init__(app, fast_path, metrics, access_log)
        self.fallback = fallback
        self.sigterm = sigterm
        self.tracer_provider = tracer_provider

    async def other(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.lifespan(receive, send)
        else:
            await self.app(scope, receive, send)

    async def lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self.sigterm.install()
                # The server listens meanwhile: liveness and health need no FastAPI, and
                # readiness stays 503 until it is built.
                self.fallback.warm_up().add_done_callback(_report_build_failure)
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                self.sigterm.uninstall()
                if self.tracer_provider is not None:  # export the spans still queued
                    await asyncio.get_running_loop().run_in_executor(
                        None, self.tracer_provider.shutdown
                    )
                await send({"type": "lifespan.shutdown.complete"})
                return


def _report_build_failure(build: "asyncio.Future[ASGIApp]") -> None:
    if not build.cancelled() and (error := build.exception()) is not None:
        log.error("the application could not be built; readiness stays 503", exc_info=error)


def create_app(
    settings: Settings,
    host: HostInfo | None = None,
    state: ShutdownState | None = None,
    fast_path: bool = True,
    tracer_provider: "TracerProvider | None" = None,
    routers: "Callable[[], Sequence[APIRouter]] | None" = None,
) -> "Service | Traced":
    """The service as an ASGI app. Host facts are looked up here, once.

    fast_path=False leaves FastAPI to answer everything (the reference in tests); the layers
    around it are the same. tracer_provider: tracing on (app/tracing.py), None: off. routers:
    the service's own endpoints, called when FastAPI is built (default: app/routers.py's).
    """
    state = state or ShutdownState()
    metrics = Metrics(settings.version, settings.revision) if settings.metrics else None

    def build_fastapi() -> ASGIApp:
        from app.api import create_fastapi  # imports FastAPI: deferred, see LazyApp
        from app.routers import routers as own_routers

        return create_fastapi(settings, probes, metrics, (routers or own_routers)())

    fallback = LazyApp(build_fastapi)
    probes = Probes(settings, host or detect_host(), state, built=lambda: fallback.built)
    fast = FastPath(probes, settings.echo_max_length, metrics) if fast_path else None
    access_log = logging.getLogger(ACCESS_LOGGER) if settings.access_log else None
    sigterm = DelayedSigterm(state, settings.shutdown_delay_seconds)
    service = Service(
        HeadAsGet(fallback), fast, metrics, access_log, fallback, sigterm, tracer_provider
    )
    if tracer_provider is None:
        return service
    from app.tracing import Traced

    return Traced(service, tracer_provider)
