"""Errors are JSON: {"detail": ...}. FastAPI's own handlers already answer 404, 405 and 422 so;
this makes the unexpected a JSON 500 too (the server still logs the exception's traceback)."""

from fastapi import FastAPI, Request
from starlette.responses import JSONResponse

INTERNAL_ERROR = {"detail": "Internal Server Error"}


async def _internal_error(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse(INTERNAL_ERROR, status_code=500)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(Exception, _internal_error)
