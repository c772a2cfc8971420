"""Health and the Kubernetes probes: /-/health, /-/liveness, /-/readiness."""

from fastapi import APIRouter
from pydantic import BaseModel

from app.hostinfo import HostInfo
from app.responses import JSONBytes, Prebuilt
from app.settings import Settings
from app.shutdown import ShutdownState

HEALTH_PATH = "/-/health"
LIVENESS_PATH = "/-/liveness"
READINESS_PATH = "/-/readiness"


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


class Probes:
    """The probe responses, rendered once at startup; readiness follows the shutdown state."""

    def __init__(self, settings: Settings, host: HostInfo, state: ShutdownState) -> None:
        self.state = state
        self.health = Prebuilt(
            200,
            {
                "status": "ok",
                "version": settings.version,
                "revision": settings.revision,
                "debug": {"hostname": host.hostname, "ip": host.ip},
            },
        )
        self.alive = Prebuilt(200, {"status": "ok"})
        self.ready = Prebuilt(200, {"status": "ok"})
        self.not_ready = Prebuilt(503, {"status": "shutting down"})

    def readiness(self) -> Prebuilt:
        return self.not_ready if self.state.shutting_down else self.ready

    def static(self) -> dict[str, Prebuilt]:
        """The responses that never change while the process runs, by path."""
        return {HEALTH_PATH: self.health, LIVENESS_PATH: self.alive}


def probes_router(probes: Probes) -> APIRouter:
    router = APIRouter(tags=["probes"], default_response_class=JSONBytes)

    @router.get(HEALTH_PATH, response_model=Health, summary="Health and build information")
    async def health() -> JSONBytes:
        return probes.health.response()

    @router.get(LIVENESS_PATH, response_model=Status, summary="Liveness: the process is alive")
    async def liveness() -> JSONBytes:
        return probes.alive.response()

    @router.get(
        READINESS_PATH,
        response_model=Status,
        summary="Readiness: 200 while serving, 503 once shutdown has begun",
        responses={503: {"model": Status, "description": "Shutting down"}},
    )
    async def readiness() -> JSONBytes:
        return probes.readiness().response()

    return router
