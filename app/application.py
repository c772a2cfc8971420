"""create_app(settings): the ASGI application uvicorn runs, assembled from this package.

Service (lifespan: SIGTERM handling, FastAPI warm-up)
  -> AccessLog (when APP_ACCESS_LOG)
    -> FastPath (probes, health, well-formed echo)
      -> FastAPI (everything else), built on first use or in the background at startup
"""

import asyncio
import logging

from app.asgi import ASGIApp, LazyApp, Receive, Scope, Send
from app.fastpath import FastPath
from app.hostinfo import HostInfo, detect_host
from app.logs import AccessLog
from app.probes import Probes
from app.settings import Settings
from app.shutdown import DelayedSigterm, ShutdownState

log = logging.getLogger("app")


class Service:
    """The outermost layer: answers the lifespan protocol, passes requests to `app`."""

    def __init__(self, app: ASGIApp, fallback: LazyApp, sigterm: DelayedSigterm) -> None:
        self.app = app
        self.fallback = fallback
        self.sigterm = sigterm

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
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
) -> Service:
    """The service as an ASGI app. Host facts are looked up here, once.

    fast_path=False leaves FastAPI to answer everything (the reference in tests).
    """
    state = state or ShutdownState()

    def build_fastapi() -> ASGIApp:
        from app.api import create_fastapi  # imports FastAPI: deferred, see LazyApp

        return create_fastapi(settings, probes)

    fallback = LazyApp(build_fastapi)
    probes = Probes(settings, host or detect_host(), state, built=lambda: fallback.built)
    app: ASGIApp = fallback
    if fast_path:
        app = FastPath(app, probes, settings.echo_max_length)
    if settings.access_log:
        app = AccessLog(app)
    return Service(app, fallback, DelayedSigterm(state, settings.shutdown_delay_seconds))
