"""X-Request-ID: the caller's id when it is a sane token, else a new random one."""

import os
import re
from collections.abc import Iterator

HEADER = b"x-request-id"
MAX_LENGTH = 128
# Visible ASCII only (no spaces, no control characters): safe in a header, a log line, a URL.
_SANE = re.compile(rb"[!-~]{1,%d}" % MAX_LENGTH).fullmatch


_IDS_PER_READ = 256


def _random_ids() -> Iterator[str]:
    """128 random bits each, as 32 hex digits, from one os.urandom() read per 256 ids (a read
    per request costs more than the rest of the id handling together)."""
    while True:
        block = os.urandom(16 * _IDS_PER_READ).hex()
        for start in range(0, len(block), 32):
            yield block[start : start + 32]


def _reset() -> None:
    global new_request_id
    new_request_id = _random_ids().__next__


new_request_id = _random_ids().__next__
"""A new id: 128 random bits as 32 hex digits (the shape of a W3C trace id), unique across pods."""
# A forked child must not hand out the ids left in its parent's block.
os.register_at_fork(after_in_child=_reset)


def sane(value: bytes) -> bool:
    """Whether a caller's X-Request-ID can be taken as it is."""
    return _SANE(value) is not None


def request_id(headers: list[tuple[bytes, bytes]]) -> str:
    """The request's id: the first X-Request-ID header if sane, else a new one."""
    for name, value in headers:
        if name == HEADER:
            if _SANE(value) is not None:
                return value.decode("ascii")
            break
    return new_request_id()
