"""Logging: text or JSON lines on stderr for the app and uvicorn (the access log is written by
app/observe.py). JSON lines written while serving a request carry its request_id, and its
trace_id and span_id when tracing is on."""

import logging
import sys
from datetime import UTC, datetime
from typing import Any

import orjson

from app.context import REQUEST_ID, TRACE_IDS
from app.settings import Settings

ACCESS_LOGGER = "app.access"
# Loggers this module owns: the app's and uvicorn's (whose access log is replaced by ours).
_LOGGERS = ("app", "uvicorn", "uvicorn.error")
_ACCESS_FIELDS = ("client", "method", "path", "status", "duration_ms")


class JSONFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the access log's fields, and the
    request's ids (request_id; trace_id and span_id when traced)."""

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
        request_id = REQUEST_ID.get()
        if request_id is not None:
            entry["request_id"] = request_id.decode("ascii")
        trace_ids = TRACE_IDS.get()
        if trace_ids is not None:
            entry["trace_id"], entry["span_id"] = trace_ids
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
    app's (app/observe.py) replaces it, on or off by APP_ACCESS_LOG under any server flags.
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
