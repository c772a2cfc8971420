"""GET /api/echo?text=...: returns {"text": <exactly what was sent>}."""

import re
from typing import Annotated
from urllib.parse import parse_qsl, unquote_to_bytes

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel

from app.responses import JSONBytes, json_bytes

ECHO_PATH = "/api/echo"
BAD_ENCODING = "query string must be percent-encoded UTF-8"
_MALFORMED_ESCAPE = re.compile(rb"%(?![0-9A-Fa-f]{2})")


class Echo(BaseModel):
    text: str


def encoding_error(query: bytes) -> str | None:
    """Why a raw query string is not valid percent-encoded UTF-8 (RFC 3986), or None if it is."""
    if not query.isascii():
        return f"{BAD_ENCODING}: raw non-ASCII bytes"
    if b"%" in query:
        if _MALFORMED_ESCAPE.search(query):
            return f"{BAD_ENCODING}: '%' must be followed by two hex digits"
        try:
            unquote_to_bytes(query).decode("utf-8")
        except UnicodeDecodeError:
            return f"{BAD_ENCODING}: escapes do not decode as UTF-8"
    return None


def echo_text(query: bytes, max_length: int) -> str | None:
    """The text a well-formed query asks to echo (the last `text=`), or None for anything else
    (missing, too long, badly encoded), which FastAPI's route then answers with the error."""
    if query.startswith(b"text=") and _plain(query):
        text = query[5:].decode("ascii")
    else:
        if encoding_error(query) is not None:
            return None
        text = None
        for key, value in parse_qsl(query.decode("ascii"), keep_blank_values=True):
            if key == "text":
                text = value
        if text is None:
            return None
    return text if len(text) <= max_length else None


def _plain(query: bytes) -> bool:
    """Nothing to decode: no escapes, no '+', a single parameter."""
    return query.isascii() and b"%" not in query and b"+" not in query and b"&" not in query


def render_echo(text: str) -> bytes:
    return json_bytes({"text": text})


def echo_router(max_length: int) -> APIRouter:
    router = APIRouter(tags=["echo"], default_response_class=JSONBytes)

    @router.get(
        ECHO_PATH,
        response_model=Echo,
        summary="Echo the text back",
        responses={400: {"description": BAD_ENCODING}},
    )
    async def echo(
        request: Request,
        text: Annotated[
            str,
            Query(max_length=max_length, description="Any Unicode text, percent-encoded UTF-8."),
        ],
    ) -> JSONBytes:
        error = encoding_error(request.scope["query_string"])
        if error is not None:
            raise HTTPException(status_code=400, detail=error)
        return JSONBytes(render_echo(text))

    return router
