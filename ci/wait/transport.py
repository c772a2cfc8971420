"""One HTTP GET with a deadline for the whole exchange, and the rules for following redirects.

A socket timeout bounds each read, not the request: a server (or a proxy) that sends a byte now
and then keeps a request alive for ever. Here a watchdog shuts the socket down when the request's
time is up, whatever phase it is in (TLS handshake, headers, body), so every GET ends by its
deadline.

Redirects are not followed by ``get``; ``same_origin`` says which ones the caller may follow: only
those to the origin the token was given for (RFC 6454: scheme, host and port). Anything else would
hand the bearer token to another host, or send it in clear text after https -> http (the leak
fixed in requests by CVE-2018-18074 and in follow-redirects by CVE-2022-0155).
"""

import contextlib
import http.client
import re
import socket
import ssl
import threading
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ci.errors import UsageError

DEFAULT_PORTS = {"http": 80, "https": 443}
REDIRECTS = frozenset({301, 302, 303, 307, 308})
# What an Authorization header can carry, and a URL of printable ASCII.
TOKEN_CHARS = re.compile(r"[\x21-\x7e]+(?:[ \t]+[\x21-\x7e]+)*")
URL_CHARS = re.compile(r"[\x21-\x7e]+")


class DeadlineExceeded(OSError):
    """The whole exchange did not end within its seconds (the socket has been shut down)."""


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes
    location: str | None = None


def check_token(raw: str, variable: str) -> str:
    """A bearer token, stripped; UsageError (never showing it) if a header cannot carry it."""
    token = raw.strip()
    if token and not TOKEN_CHARS.fullmatch(token):
        raise UsageError(
            f"{variable} holds a character an HTTP header cannot carry (a line break, a"
            " control or a non-ASCII character); the token is not shown"
        )
    return token


def check_ca_file(ca_file: str | None, variable: str) -> str | None:
    if ca_file and not Path(ca_file).is_file():
        raise UsageError(f"{variable} {ca_file!r} is not a file")
    return ca_file or None


def tls_context(url: str, ca_file: str | None, variable: str) -> ssl.SSLContext | None:
    """The TLS context of an https ``url``, trusting ``ca_file`` (PEM) when given; UsageError
    naming ``variable`` when that file holds no certificate. None for plain http."""
    if not url.startswith("https:"):
        return None
    context = ssl.create_default_context()
    if ca_file:
        try:
            context.load_verify_locations(cafile=ca_file)
        except (ssl.SSLError, OSError) as error:
            raise UsageError(f"{variable} {ca_file!r}: no PEM certificates ({error})") from None
    return context


def origin(url: str) -> tuple[str, str, int]:
    """``(scheme, host, port)`` of an http(s) URL, the default port filled in (ValueError if
    the URL is malformed)."""
    parts = urllib.parse.urlsplit(url)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    return scheme, host, parts.port or DEFAULT_PORTS.get(scheme, 0)


def same_origin(url: str, other: str) -> bool:
    try:
        return origin(url) == origin(other)
    except ValueError:
        return False


def get(
    url: str,
    headers: Mapping[str, str],
    seconds: float,
    tls: ssl.SSLContext | None,
    limit: int,
) -> Response:
    """GET ``url``; the response (any status) with at most ``limit`` + 1 bytes of body.

    Raises OSError or http.client.HTTPException for network trouble, DeadlineExceeded when the
    exchange takes more than ``seconds``."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme == "https":
        connection: http.client.HTTPConnection = http.client.HTTPSConnection(
            parts.hostname or "", parts.port, timeout=seconds, context=tls
        )
    else:
        connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=seconds)
    target = urllib.parse.urlunsplit(("", "", parts.path or "/", parts.query, ""))
    watchdog = _Watchdog(connection, seconds)
    try:
        connection.connect()
        watchdog.check()
        connection.request("GET", target, headers=dict(headers))
        response = connection.getresponse()
        body = response.read(limit + 1)
        watchdog.check()  # a body cut short by the watchdog is not an answer
        return Response(response.status, body, response.getheader("Location"))
    except (OSError, http.client.HTTPException) as error:
        # A socket timeout is the deadline too: a read may wait ``seconds`` at most, so the
        # exchange has taken that long, whether or not the watchdog's thread has run yet.
        watchdog.check(timed_out=isinstance(error, TimeoutError))
        raise
    finally:
        watchdog.stop()
        connection.close()


class _Watchdog:
    """Shuts the connection's socket down after ``seconds`` (a blocked read then returns)."""

    def __init__(self, connection: http.client.HTTPConnection, seconds: float) -> None:
        self.connection, self.seconds = connection, seconds
        self.fired = threading.Event()
        self.timer = threading.Timer(seconds, self._fire)
        self.timer.daemon = True
        self.timer.start()

    def _fire(self) -> None:
        self.fired.set()
        sock = self.connection.sock
        if sock is not None:
            # The plain socket's shutdown, also under TLS: ssl.SSLSocket.shutdown would drop
            # the TLS state under the reading thread's feet.
            with contextlib.suppress(OSError):
                socket.socket.shutdown(sock, socket.SHUT_RDWR)

    def check(self, timed_out: bool = False) -> None:
        if timed_out or self.fired.is_set():
            raise DeadlineExceeded(f"no complete answer within {round(self.seconds, 1):g}s")

    def stop(self) -> None:
        self.timer.cancel()
