"""uvicorn's signal handling, the one private API of uvicorn the app relies on, in one place.

uvicorn installs `Server.handle_exit` as its SIGTERM handler; the app's delayed SIGTERM
(app/shutdown.py) finds that server through the handler and stops it with `server.should_exit =
True`, uvicorn's programmatic stop. Neither is a documented API, so the installed uvicorn must be
a version this was tested with: `check_version` refuses any other with a one-line error.
"""

from importlib import metadata
from typing import Any

DISTRIBUTION = "uvicorn"
# Bump after the shutdown tests (tests/app/test_shutdown.py, test_server.py) pass on the new one.
TESTED_VERSIONS = ("0.54.0",)


class UntestedVersionError(RuntimeError):
    """The installed uvicorn is not one whose signal handling was tested."""


def check_version(installed: str | None = None) -> None:
    """Raise UntestedVersionError unless uvicorn (or `installed`) is a tested version."""
    installed = installed or metadata.version(DISTRIBUTION)
    if installed not in TESTED_VERSIONS:
        raise UntestedVersionError(
            f"{DISTRIBUTION} {installed} is untested with app/uvicorn_signals.py (tested: "
            f"{', '.join(TESTED_VERSIONS)}); pin a tested version or retest and update it"
        )


def server_of(handler: Any) -> Any | None:
    """The uvicorn Server whose `handle_exit` is `handler`, else None (another handler)."""
    server = getattr(handler, "__self__", None)
    if type(server).__module__.startswith(f"{DISTRIBUTION}.") and hasattr(server, "should_exit"):
        return server
    return None


def stop(server: Any) -> None:
    """uvicorn's graceful stop: finish in-flight requests, run lifespan shutdown, exit 0."""
    server.should_exit = True
