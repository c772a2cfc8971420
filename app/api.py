"""The FastAPI app: every endpoint, its docs (/docs, /redoc, /openapi.json) and its errors.

The docs pages load Swagger UI and ReDoc from the service itself (fastapi-offline ships the
assets, served under DOCS_ASSETS_PATH): they work in a cluster with no route to a CDN.

It answers whatever the fast path leaves (errors, 422, odd queries, the docs) and is the
reference the fast path is tested against; both send the same pre-rendered bytes. It declares
GET only: HEAD is app/head.py's. FastAPI's own OpenTelemetry instrumentation is off: the outer
layers (app/observe.py, app/tracing.py) measure and trace every request, fast path included.
"""

from collections.abc import Sequence
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, FastAPI, HTTPException, Query, Request
from fastapi_offline import FastAPIOffline
from pydantic import BaseModel
from starlette.responses import JSONResponse, Response

from app import SERVICE_NAME
from app.echo import BAD_ENCODING, ECHO_PATH, encoding_error, render_echo
from app.errors import install_error_handlers
from app.metrics import METRICS_PATH, Metrics
from app.probes import HEALTH_PATH, LIVENESS_PATH, READINESS_PATH, Probes
from app.responses import Prebuilt
from app.settings import Settings

DOCS_ASSETS_PATH = "/static-offline-docs"
# FastAPI's native OpenTelemetry spans, metrics and logs: off (it would see only the requests the
# fast path leaves, and trace those twice).
NO_TELEMETRY = {"tracing": False, "metrics": False, "logs": False, "auto_configure": False}


class JSONBytes(JSONResponse):
    """A JSON response rendered with orjson (bytes are taken as already rendered). A JSONResponse,
    so FastAPI documents each route's response model in the OpenAPI schema."""

    def render(self, content: Any) -> bytes:
        return content if isinstance(content, bytes) else orjson.dumps(content)


def respond(prebuilt: Prebuilt) -> JSONBytes:
    return JSONBytes(prebuilt.body, status_code=prebuilt.status)


class Debug(BaseModel):
    hostname: str
    ip: str


class Health(BaseModel):
    status: str
    version: str
    revision: str
    debug: Debug


class Status(BaseModel):
    status: str


class NotReady(BaseModel):
    status: Literal["starting", "shutting down"]


class Echo(BaseModel):
    text: str


class Detail(BaseModel):
    detail: str


def probes_router(probes: Probes) -> APIRouter:
    router = APIRouter(tags=["probes"], default_response_class=JSONBytes)

    @router.get(HEALTH_PATH, response_model=Health, summary="Health and build information")
    async def health() -> JSONBytes:
        return respond(probes.health)

    @router.get(LIVENESS_PATH, response_model=Status, summary="Liveness: the process is alive")
    async def liveness() -> JSONBytes:
        return respond(probes.alive)

    @router.get(
        READINESS_PATH,
        response_model=Status,
        summary="Readiness: 200 while serving; 503 while starting and once shutdown has begun",
        responses={
            503: {
                "model": NotReady,
                "description": "Not ready: `starting` until the app is built, `shutting down`"
                " from SIGTERM on",
                "content": {
                    "application/json": {
                        "examples": {
                            "starting": {"value": {"status": "starting"}},
                            "shutting down": {"value": {"status": "shutting down"}},
                        }
                    }
                },
            }
        },
    )
    async def readiness() -> JSONBytes:
        return respond(probes.readiness())

    return router


def echo_router(max_length: int) -> APIRouter:
    router = APIRouter(tags=["echo"], default_response_class=JSONBytes)

    @router.get(
        ECHO_PATH,
        response_model=Echo,
        summary="Echo the text back",
        responses={400: {"model": Detail, "description": BAD_ENCODING}},
    )
    async def echo(
        request: Request,
        text: Annotated[
            str,
            Query(max_length=max_length, description="Any Unicode text, percent-encoded UTF-8."),
        ],
    ) -> JSONBytes:
        error = encoding_error(request.scope["query_string"])
        if error is not None:
            raise HTTPException(status_code=400, detail=error)
        return JSONBytes(render_echo(text))

    return router


class Exposition(Response):
    media_type = "text/plain"


def metrics_router(metrics: Metrics) -> APIRouter:
    router = APIRouter(tags=["metrics"])

    @router.get(
        METRICS_PATH,
        response_class=Exposition,
        summary="Prometheus metrics (OpenMetrics when the Accept header asks for it)",
        responses={200: {"content": {"text/plain": {}, "application/openmetrics-text": {}}}},
    )
    async def prometheus_metrics(request: Request) -> Response:
        body, content_type = metrics.render(request.headers.get("accept"))
        return Response(body, media_type=content_type)

    return router


def create_fastapi(
    settings: Settings,
    probes: Probes,
    metrics: Metrics | None = None,
    routers: Sequence[APIRouter] = (),
) -> FastAPI:
    """The FastAPI app: the service's own ``routers`` first (app/routers.py), then the template's.
    It has no lifespan of its own: start-up and shutdown are the Service's (app/application.py),
    so this app can be built after the server already answers probes."""
    api = FastAPIOffline(
        static_url=DOCS_ASSETS_PATH,
        title=SERVICE_NAME,
        version=settings.version,
        description="A reference Python microservice: echo, health and Kubernetes probes.",
        telemetry=NO_TELEMETRY,
    )
    install_error_handlers(api)
    for router in routers:
        api.include_router(router)
    api.include_router(probes_router(probes))
    api.include_router(echo_router(settings.echo_max_length))
    if metrics is not None:
        api.include_router(metrics_router(metrics))
    return api
