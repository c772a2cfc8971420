"""Health and the Kubernetes probes (/-/health, /-/liveness, /-/readiness), rendered at startup."""

from collections.abc import Callable

from app.hostinfo import HostInfo
from app.responses import Prebuilt
from app.settings import Settings
from app.shutdown import ShutdownState

HEALTH_PATH = "/-/health"
LIVENESS_PATH = "/-/liveness"
READINESS_PATH = "/-/readiness"


class Probes:
    """The probe responses. Ready means: the whole app is built and shutdown has not begun."""

    def __init__(
        self,
        settings: Settings,
        host: HostInfo,
        state: ShutdownState,
        built: Callable[[], bool] = lambda: True,
    ) -> None:
        self.state = state
        self.built = built
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
        self.shutting_down = Prebuilt(503, {"status": "shutting down"})
        self.starting = Prebuilt(503, {"status": "starting"})

    def readiness(self) -> Prebuilt:
        if self.state.shutting_down:
            return self.shutting_down
        return self.ready if self.built() else self.starting

    def static(self) -> dict[str, Prebuilt]:
        """The responses that never change while the process runs, by path."""
        return {HEALTH_PATH: self.health, LIVENESS_PATH: self.alive}
