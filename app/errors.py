"""Errors are JSON: {"detail": ...}. FastAPI's own handlers already answer 404, 405 and 422 so;
this adds a JSON 500 for the unexpected, logged with its traceback."""

import logging

from fastapi import FastAPI, Request
from starlette.responses import Response

from app.responses import JSONBytes

log = logging.getLogger("app.errors")


async def _internal_error(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return JSONBytes({"detail": "Internal Server Error"}, status_code=500)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(Exception, _internal_error)
