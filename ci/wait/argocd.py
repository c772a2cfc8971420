"""A read-only Argo CD API client: ``GET /api/v1/applications/{name}`` and its resource tree.

The token goes in ``Authorization: Bearer`` to ARGOCD_SERVER's origin (scheme, host, port) and
nowhere else: a redirect within that origin is followed, one to any other origin (https -> http
included) is an error, never followed; no message, error or log line holds the token. Every request
ends by its deadline, however slowly the server sends (``ci.wait.transport``). The server URL and
the token are checked before anything is sent. TLS trusts the system's CAs (and OpenSSL's
``SSL_CERT_FILE`` / ``SSL_CERT_DIR``) plus, when set, the PEM bundle in ``ARGOCD_CA_FILE`` (a
private CA).
"""

import http.client
import json
import ssl
import time
import urllib.parse
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from ci.errors import CiError, UsageError
from ci.wait import transport

MAX_BODY = 32 * 1024 * 1024
MAX_MESSAGE = 300
MAX_REDIRECTS = 5
# What an HTTP header value may carry (RFC 9110 field-value, ASCII): a line break would end the
# header and start another (header injection), and http.client refuses it with a traceback.


class Unreachable(CiError):
    """No usable answer this time (connection refused, timeout, 5xx, not JSON): try again later."""


class Denied(UsageError):
    """HTTP 403 or 404: no such application, or the token may not see it. Bad input at first
    contact; after the application was seen, the caller may take it for a passing state."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class ArgoCD:
    server: str  # base URL, e.g. https://argocd.example.com (a path prefix is kept)
    token: str = field(default="", repr=False)
    ca_file: str | None = None

    @classmethod
    def from_settings(cls, server: str | None, token: str | None, ca_file: str | None) -> "ArgoCD":
        """Validate the settings (UsageError, exit 2, names what is wrong)."""
        if not server:
            raise UsageError("ARGOCD_SERVER is not set: the base URL of the Argo CD API server")
        url = check_server(server)
        ca = transport.check_ca_file(ca_file, "ARGOCD_CA_FILE")
        client = cls(url, check_token(token or ""), ca)
        _ = client._tls  # a CA file that is not PEM fails now, as bad input
        return client

    @cached_property
    def _tls(self) -> ssl.SSLContext | None:
        return transport.tls_context(self.server, self.ca_file, "ARGOCD_CA_FILE")

    def application(self, name: str, timeout: float, refresh: bool = False) -> dict[str, Any]:
        """The Application object; ``refresh`` asks Argo CD to look at git now (needs only get)."""
        query = "?refresh=normal" if refresh else ""
        return self._get(f"/api/v1/applications/{_quote(name)}{query}", name, timeout)

    def resource_tree(self, name: str, timeout: float) -> dict[str, Any]:
        return self._get(f"/api/v1/applications/{_quote(name)}/resource-tree", name, timeout)

    def _get(self, path: str, name: str, timeout: float) -> dict[str, Any]:
        """GET ``path`` within ``timeout`` seconds in all, following same-origin redirects."""
        headers = {"Accept": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        deadline = time.monotonic() + timeout
        url = self.server + path
        for _ in range(MAX_REDIRECTS + 1):
            response = self._exchange(url, headers, max(0.1, deadline - time.monotonic()))
            if response.status not in transport.REDIRECTS:
                return self._answer(response, name)
            url = self._redirect(url, response.location)
        raise Unreachable(f"Argo CD at {self.server} redirected more than {MAX_REDIRECTS} times")

    def _exchange(self, url: str, headers: dict[str, str], seconds: float) -> transport.Response:
        try:
            return transport.get(url, headers, seconds, self._tls, MAX_BODY)
        except transport.DeadlineExceeded as error:
            raise Unreachable(f"Argo CD at {self.server} is unreachable ({error})") from None
        except ssl.SSLCertVerificationError as error:
            raise UsageError(
                f"Argo CD at {self.server}: TLS certificate not trusted"
                f" ({error.verify_message}); set ARGOCD_CA_FILE to the CA's PEM file"
            ) from None
        except (OSError, http.client.HTTPException) as error:
            detail = self._clean(error) or type(error).__name__
            raise Unreachable(f"Argo CD at {self.server} is unreachable ({detail})") from None

    def _redirect(self, url: str, location: str | None) -> str:
        """Where a redirect leads, if it stays within ARGOCD_SERVER's origin (UsageError if not:
        the token would go to another host, or in clear text)."""
        if not location:
            raise Unreachable(f"Argo CD at {self.server} redirected without a Location")
        try:
            target = urllib.parse.urljoin(url, location.strip())
        except ValueError:  # e.g. an unclosed [IPv6 literal
            target = ""
        if not target or not transport.same_origin(target, self.server):
            raise UsageError(
                f"Argo CD at {self.server} redirected to another origin"
                f" ({_origin_of(target)}): not followed, the token goes only to ARGOCD_SERVER;"
                " set ARGOCD_SERVER to the URL the API answers at"
            )
        return target

    def _answer(self, response: transport.Response, name: str) -> dict[str, Any]:
        if response.status >= 300:
            raise self._http_error(response, name)
        if len(response.body) > MAX_BODY:
            raise Unreachable(f"Argo CD at {self.server} sent more than {MAX_BODY} bytes")
        try:
            data = json.loads(response.body)
        except ValueError:
            raise Unreachable(f"Argo CD at {self.server} did not answer JSON") from None
        if not isinstance(data, dict):
            raise Unreachable(f"Argo CD at {self.server} did not answer a JSON object")
        return data

    def _http_error(self, response: transport.Response, name: str) -> CiError:
        status, detail = response.status, self._server_message(response.body)
        where = f"Argo CD at {self.server}"
        if status == 401:
            hint = "check ARGOCD_AUTH_TOKEN" if self.token else "ARGOCD_AUTH_TOKEN is not set"
            return UsageError(f"{where} rejected the token (HTTP 401{detail}): {hint}")
        if status == 403:
            return Denied(
                f"{where} denied access to application {name} (HTTP 403{detail}): the token's"
                " role needs get on it, or no such application exists",
                status,
            )
        if status == 404:
            return Denied(f"{where} has no application {name} (HTTP 404{detail})", status)
        if status in (408, 429) or status >= 500:
            return Unreachable(f"{where} answered HTTP {status}{detail}")
        return UsageError(f"{where} answered HTTP {status}{detail}")

    def _server_message(self, body: bytes) -> str:
        """Argo CD's error message (``{"error": ..., "message": ...}``), short and token-free."""
        try:
            data = json.loads(body[:65536] or b"{}")
        except ValueError:
            return ""
        message = data.get("message") or data.get("error") if isinstance(data, dict) else None
        return f": {self._clean(message)[:MAX_MESSAGE]}" if message else ""

    def _clean(self, text: object) -> str:
        cleaned = " ".join(str(text).split())
        return cleaned.replace(self.token, "***") if self.token else cleaned


def _quote(name: str) -> str:
    return urllib.parse.quote(name, safe="")


def check_server(raw: str) -> str:
    """ARGOCD_SERVER as a base URL (no trailing slash); UsageError naming what is wrong. Checked
    before anything is sent: a malformed URL is bad input, not an unreachable server to retry."""
    url = raw.strip().rstrip("/")
    if "@" in url.partition("://")[2].split("/", 1)[0]:
        raise UsageError("ARGOCD_SERVER must not hold credentials: use ARGOCD_AUTH_TOKEN")
    shown = repr(url[:200])
    if not transport.URL_CHARS.fullmatch(url):
        raise UsageError(
            f"ARGOCD_SERVER must be an http(s) URL of printable ASCII characters, got {shown}"
        )
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise UsageError(f"ARGOCD_SERVER is not a valid URL ({error}): {shown}") from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise UsageError(f"ARGOCD_SERVER must be an http(s) URL, got {shown}")
    if port == 0:
        raise UsageError(f"ARGOCD_SERVER is not a valid URL (port 0): {shown}")
    if parts.query or parts.fragment or url.endswith(("?", "#")):
        raise UsageError(f"ARGOCD_SERVER must be a base URL, without ?query or #fragment: {shown}")
    return parts.scheme + url[len(parts.scheme) :]  # the scheme in lower case, as urlsplit has it


def check_token(raw: str) -> str:
    """ARGOCD_AUTH_TOKEN, stripped; UsageError (never showing it) if a header cannot carry it."""
    return transport.check_token(raw, "ARGOCD_AUTH_TOKEN")


def _origin_of(url: str) -> str:
    """``scheme://host:port`` of ``url``, for messages (no path, query or user-info)."""
    try:
        scheme, host, port = transport.origin(url) if url else ("", "", 0)
    except ValueError:
        return "a malformed URL"
    if not scheme:
        return "a malformed URL"
    host = f"[{host}]" if ":" in host else host
    return f"{scheme}://{host}:{port}" if host else "a URL without a host"
