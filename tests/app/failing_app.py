"""The service (as `app.main:app` builds it) whose readiness check raises: GET /-/readiness fails
on the fast path, to see how the server reports an exception. Everything else is unchanged."""

from app.main import app


def _broken() -> bool:
    raise RuntimeError("readiness broken on purpose")


app.fast_path.probes.built = _broken
