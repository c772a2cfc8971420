"""X-Request-ID: the caller's id when it is a sane token, else a new random one; as bytes, the
form the header is read and sent in."""

import os
import re

HEADER = b"x-request-id"
MAX_LENGTH = 128
# Visible ASCII only (no spaces, no control characters): safe in a header, a log line, a URL.
_SANE = re.compile(rb"[!-~]{1,%d}" % MAX_LENGTH).fullmatch

_IDS_PER_READ = 256
_unused: list[bytes] = []


def new_request_id() -> bytes:
    """A new id: 128 random bits as 32 hex digits (the shape of a W3C trace id), unique across
    pods. Made 256 at a time from one os.urandom() read: a read per request costs more than the
    rest of the id handling together."""
    try:
        return _unused.pop()
    except IndexError:
        # 16 random bytes per id, in hex, split apart by the separator hex() puts between them.
        block = os.urandom(16 * _IDS_PER_READ).hex(" ", 16)
        _unused.extend(block.encode("ascii").split())
        return _unused.pop()


# A forked child must not hand out the ids left in its parent's block.
os.register_at_fork(after_in_child=_unused.clear)


def sane(value: bytes) -> bool:
    """Whether a caller's X-Request-ID can be taken as it is."""
    return _SANE(value) is not None


def request_id(headers: list[tuple[bytes, bytes]]) -> bytes:
    """The request's id: the first X-Request-ID header if sane, else a new one."""
    for name, value in headers:
        if name == HEADER:
            if _SANE(value) is not None:
                return value
            break
    return new_request_id()
