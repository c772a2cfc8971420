"""A read-only Argo CD API client: ``GET /api/v1/applications/{name}`` and its resource tree.

The token goes in ``Authorization: Bearer`` and nowhere else: no message, error or log line holds
it. Every request is bounded in time. TLS trusts the system's CAs (and OpenSSL's ``SSL_CERT_FILE``
/ ``SSL_CERT_DIR``) plus, when set, the PEM bundle in ``ARGOCD_CA_FILE`` (a private CA).
"""

import http.client
import json
import ssl
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from ci.errors import CiError, UsageError

MAX_BODY = 32 * 1024 * 1024
MAX_MESSAGE = 300


class Unreachable(CiError):
    """No usable answer this time (connection refused, timeout, 5xx, not JSON): try again later."""


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
        parsed = urllib.parse.urlsplit(server.strip())
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise UsageError(f"ARGOCD_SERVER must be an http(s) URL, got {_safe_url(server)!r}")
        if parsed.username or parsed.password:
            raise UsageError("ARGOCD_SERVER must not hold credentials: use ARGOCD_AUTH_TOKEN")
        if ca_file and not Path(ca_file).is_file():
            raise UsageError(f"ARGOCD_CA_FILE {ca_file!r} is not a file")
        client = cls(server.strip().rstrip("/"), (token or "").strip(), ca_file or None)
        _ = client._tls  # a CA file that is not PEM fails now, as bad input
        return client

    @cached_property
    def _tls(self) -> ssl.SSLContext | None:
        if not self.server.startswith("https:"):
            return None
        context = ssl.create_default_context()
        if self.ca_file:
            try:
                context.load_verify_locations(cafile=self.ca_file)
            except (ssl.SSLError, OSError) as error:
                raise UsageError(
                    f"ARGOCD_CA_FILE {self.ca_file!r}: no PEM certificates ({error})"
                ) from None
        return context

    def application(self, name: str, timeout: float, refresh: bool = False) -> dict[str, Any]:
        """The Application object; ``refresh`` asks Argo CD to look at git now (needs only get)."""
        query = "?refresh=normal" if refresh else ""
        return self._get(f"/api/v1/applications/{_quote(name)}{query}", name, timeout)

    def resource_tree(self, name: str, timeout: float) -> dict[str, Any]:
        return self._get(f"/api/v1/applications/{_quote(name)}/resource-tree", name, timeout)

    def _get(self, path: str, name: str, timeout: float) -> dict[str, Any]:
        headers = {"Accept": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        request = urllib.request.Request(self.server + path, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=timeout, context=self._tls) as response:
                body = response.read(MAX_BODY + 1)
        except urllib.error.HTTPError as error:
            raise self._http_error(error, name) from None
        except (urllib.error.URLError, OSError, http.client.HTTPException) as error:
            reason = getattr(error, "reason", error)
            if isinstance(reason, ssl.SSLCertVerificationError):
                raise UsageError(
                    f"Argo CD at {self.server}: TLS certificate not trusted"
                    f" ({reason.verify_message}); set ARGOCD_CA_FILE to the CA's PEM file"
                ) from None
            detail = self._clean(reason) or type(reason).__name__
            raise Unreachable(f"Argo CD at {self.server} is unreachable ({detail})") from None
        if len(body) > MAX_BODY:
            raise Unreachable(f"Argo CD at {self.server} sent more than {MAX_BODY} bytes")
        try:
            data = json.loads(body)
        except ValueError:
            raise Unreachable(f"Argo CD at {self.server} did not answer JSON") from None
        if not isinstance(data, dict):
            raise Unreachable(f"Argo CD at {self.server} did not answer a JSON object")
        return data

    def _http_error(self, error: urllib.error.HTTPError, name: str) -> CiError:
        detail = self._server_message(error)
        where = f"Argo CD at {self.server}"
        if error.code == 401:
            hint = "check ARGOCD_AUTH_TOKEN" if self.token else "ARGOCD_AUTH_TOKEN is not set"
            return UsageError(f"{where} rejected the token (HTTP 401{detail}): {hint}")
        if error.code == 403:
            return UsageError(
                f"{where} denied access to application {name} (HTTP 403{detail}): the token's"
                " role needs get on it, or no such application exists"
            )
        if error.code == 404:
            return UsageError(f"{where} has no application {name} (HTTP 404{detail})")
        if error.code in (408, 429) or error.code >= 500:
            return Unreachable(f"{where} answered HTTP {error.code}{detail}")
        return UsageError(f"{where} answered HTTP {error.code}{detail}")

    def _server_message(self, error: urllib.error.HTTPError) -> str:
        """Argo CD's error message (``{"error": ..., "message": ...}``), short and token-free."""
        try:
            data = json.loads(error.read(65536) or b"{}")
        except (ValueError, OSError):
            return ""
        message = data.get("message") or data.get("error") if isinstance(data, dict) else None
        return f": {self._clean(message)[:MAX_MESSAGE]}" if message else ""

    def _clean(self, text: object) -> str:
        cleaned = " ".join(str(text).split())
        return cleaned.replace(self.token, "***") if self.token else cleaned


def _quote(name: str) -> str:
    return urllib.parse.quote(name, safe="")


def _safe_url(url: str) -> str:
    """``url`` without user-info, for messages."""
    parsed = urllib.parse.urlsplit(url)
    host = parsed.hostname or ""
    if parsed.port:
        host += f":{parsed.port}"
    return urllib.parse.urlunsplit(parsed._replace(netloc=host)) if parsed.netloc else url
