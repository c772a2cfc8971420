"""Echo: GET /api/echo?text=... returns {"text": <exactly what was sent>}. The query decoding."""

import re
from urllib.parse import parse_qsl, unquote_to_bytes

from app.responses import json_bytes

ECHO_PATH = "/api/echo"
BAD_ENCODING = "query string must be percent-encoded UTF-8"
_MALFORMED_ESCAPE = re.compile(rb"%(?![0-9A-Fa-f]{2})")


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
    """The text a well-formed query asks to echo (the last `text=`), decoded as Starlette does,
    or None for anything else (missing, too long, badly encoded): FastAPI answers those."""
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
