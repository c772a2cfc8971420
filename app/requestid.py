"""X-Request-ID: the caller's id when it is a sane token, else a new random one."""

import os
import re

HEADER = b"x-request-id"
MAX_LENGTH = 128
# Visible ASCII only (no spaces, no control characters): safe in a header, a log line, a URL.
_SANE = re.compile(rb"[!-~]{1,%d}" % MAX_LENGTH).fullmatch


def new_request_id() -> str:
    """128 random bits as 32 hex digits (the shape of a W3C trace id), unique across pods."""
    return os.urandom(16).hex()


def sane(value: bytes) -> bool:
    """Whether a caller's X-Request-ID can be taken as it is."""
    return _SANE(value) is not None


def request_id(headers: list[tuple[bytes, bytes]]) -> str:
    """The request's id: the first X-Request-ID header if sane, else a new one."""
    for name, value in headers:
        if name == HEADER:
            return value.decode("ascii") if sane(value) else new_request_id()
    return new_request_id()
