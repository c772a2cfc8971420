"""A bad build of the service, for ``verify``'s tests: ``GET /api/echo`` answers 500.

    start_server(app="tests.support.failing_echo:app", env={"APP_VERSION": "bad1"})

Everything else is the service exactly as ``app.main:app`` builds it (settings from the
environment, probes, ``/-/metrics`` with ``app_build_info{version=APP_VERSION}``), and each 500 is
counted in the service's own request histogram as the service counts its answers. The fault lives
here, never in the product.
"""

from time import perf_counter

from app.main import app as service
from app.responses import Prebuilt

FAILED = Prebuilt(500, {"detail": "Internal Server Error"})
ECHO_ROUTE = "/api/echo"


async def app(scope, receive, send) -> None:
    if scope["type"] != "http" or scope["path"] != ECHO_ROUTE:
        await service(scope, receive, send)
        return
    started = perf_counter()
    await send(FAILED.start_message())
    await send(FAILED.body_message)
    service.metrics.observe(scope["method"], ECHO_ROUTE, 500, perf_counter() - started)
