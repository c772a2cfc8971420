"""Health and the Kubernetes probes (/-/health, /-/liveness, /-/readiness), rendered at startup."""

from app.hostinfo import HostInfo
from app.responses import Prebuilt
from app.settings import Settings
from app.shutdown import ShutdownState

HEALTH_PATH = "/-/health"
LIVENESS_PATH = "/-/liveness"
READINESS_PATH = "/-/readiness"


class Probes:
    """The probe responses; readiness follows the shutdown state."""

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
