"""Logging: text or JSON lines on stderr for the app and uvicorn, and the optional access log."""

import logging
import sys
import time
from collections.abc import MutableMapping
from datetime import UTC, datetime
from typing import Any

import orjson

from app.asgi import ASGIApp, Receive, Scope, Send
from app.settings import Settings

ACCESS_LOGGER = "app.access"
# Loggers this module owns: the app's and uvicorn's (whose access log is replaced by ours).
_LOGGERS = ("app", "uvicorn", "uvicorn.error")
_ACCESS_FIELDS = ("client", "method", "path", "status", "duration_ms")


class JSONFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, and the access log's fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for field in _ACCESS_FIELDS:
            if hasattr(record, field):
                entry[field] = getattr(record, field)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(entry).decode()


def make_formatter(log_format: str) -> logging.Formatter:
    if log_format == "json":
        return JSONFormatter()
    return logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s")


def configure_logging(settings: Settings, stream: Any = None) -> None:
    """Route the app's and uvicorn's logs through one handler in the chosen format.

    uvicorn's own access log is switched off (no handlers, so it is not even formatted); the
    app's AccessLog middleware replaces it, on or off by APP_ACCESS_LOG under any server flags.
    """
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(make_formatter(settings.log_format))
    level = settings.log_level.upper()
    for name in _LOGGERS:
        logger = logging.getLogger(name)
        top = name in ("app", "uvicorn")  # uvicorn.error propagates to uvicorn
        logger.handlers = [handler] if top else []
        logger.propagate = not top
        logger.setLevel(level)
    uvicorn_access = logging.getLogger("uvicorn.access")
    uvicorn_access.handlers = []
    uvicorn_access.propagate = False


class AccessLog:
    """Pure-ASGI middleware: one line per HTTP request, after the response is sent.

    The path is logged without its query string (echo texts are user data).
    """

    def __init__(self, app: ASGIApp, logger: logging.Logger | None = None) -> None:
        self.app = app
        self.log = logger or logging.getLogger(ACCESS_LOGGER)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_and_note(message: MutableMapping[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            client = scope.get("client")
            fields = {
                "client": f"{client[0]}:{client[1]}" if client else "-",
                "method": scope["method"],
                "path": scope["path"],
                "status": status,
                "duration_ms": round((time.perf_counter() - started) * 1000, 3),
            }
            self.log.info(
                '%(client)s "%(method)s %(path)s" %(status)d %(duration_ms).1fms',
                fields,
                extra=fields,
            )
