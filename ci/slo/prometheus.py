"""A read-only client of the Prometheus HTTP API: instant queries (``GET /api/v1/query``).

Settings: ``PROMETHEUS_URL`` (the base URL; a path prefix such as Thanos' or a proxy's is kept),
``PROMETHEUS_TOKEN`` (optional, sent as ``Authorization: Bearer``) and ``PROMETHEUS_CA_FILE``
(PEM of a private CA, trusted besides the system's), checked before anything is sent. As for
Argo CD (``ci.wait.argocd``), the token goes only to PROMETHEUS_URL's origin: a redirect within
it is followed, one elsewhere is an error and not followed, and no message holds the token. Every
request ends by its deadline however slowly the server sends (``ci.wait.transport``).
"""

import http.client
import json
import math
import ssl
import time
import urllib.parse
from dataclasses import dataclass, field
from functools import cached_property

from ci.errors import CiError, UsageError
from ci.wait import transport

MAX_BODY = 8 * 1024 * 1024
MAX_REDIRECTS = 5
MAX_MESSAGE = 300


class Unreachable(CiError):
    """No usable answer this time (network, deadline, 5xx, not JSON): try again later."""


@dataclass(frozen=True)
class Prometheus:
    url: str  # base URL, no trailing slash
    token: str = field(default="", repr=False)
    ca_file: str | None = None

    @classmethod
    def from_settings(cls, url: str | None, token: str | None, ca_file: str | None) -> "Prometheus":
        """Validate the settings (UsageError, exit 2, naming the variable at fault)."""
        if not url:
            raise UsageError("PROMETHEUS_URL is not set: the base URL of the Prometheus HTTP API")
        token = transport.check_token(token or "", "PROMETHEUS_TOKEN")
        ca = transport.check_ca_file(ca_file, "PROMETHEUS_CA_FILE")
        client = cls(check_url(url), token, ca)
        _ = client._tls  # a CA file that is not PEM fails now, as bad input
        return client

    @cached_property
    def _tls(self) -> ssl.SSLContext | None:
        return transport.tls_context(self.url, self.ca_file, "PROMETHEUS_CA_FILE")

    def query(self, expr: str, at: float, timeout: float) -> list[tuple[dict[str, str], float]]:
        """The instant vector ``expr`` evaluates to at Unix time ``at``: (labels, value) pairs.
        Unreachable when there is no answer within ``timeout`` seconds (or a 5xx)."""
        params = {"query": expr, "time": f"{at:.3f}", "timeout": f"{max(1.0, timeout):.0f}s"}
        data = self._get("/api/v1/query?" + urllib.parse.urlencode(params), timeout)
        if data.get("resultType") != "vector" or not isinstance(data.get("result"), list):
            raise Unreachable(f"Prometheus at {self.url} did not answer an instant vector")
        return [_sample(item) for item in data["result"]]

    def _get(self, path: str, timeout: float) -> dict:
        headers = {"Accept": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        deadline = time.monotonic() + timeout
        url = self.url + path
        for _ in range(MAX_REDIRECTS + 1):
            response = self._exchange(url, headers, max(0.1, deadline - time.monotonic()))
            if response.status not in transport.REDIRECTS:
                return self._answer(response)
            url = self._redirect(url, response.location)
        raise Unreachable(f"Prometheus at {self.url} redirected more than {MAX_REDIRECTS} times")

    def _exchange(self, url: str, headers: dict[str, str], seconds: float) -> transport.Response:
        try:
            return transport.get(url, headers, seconds, self._tls, MAX_BODY)
        except ssl.SSLCertVerificationError as error:
            raise UsageError(
                f"Prometheus at {self.url}: TLS certificate not trusted"
                f" ({error.verify_message}); set PROMETHEUS_CA_FILE to the CA's PEM file"
            ) from None
        except (OSError, http.client.HTTPException) as error:
            detail = self._clean(error) or type(error).__name__
            raise Unreachable(f"Prometheus at {self.url} is unreachable ({detail})") from None

    def _redirect(self, url: str, location: str | None) -> str:
        try:
            target = urllib.parse.urljoin(url, location.strip()) if location else ""
        except ValueError:  # e.g. an unclosed [IPv6 literal
            target = ""
        if not target or not transport.same_origin(target, self.url):
            raise UsageError(
                f"Prometheus at {self.url} redirected to another origin: not followed, the token"
                " goes only to PROMETHEUS_URL; set PROMETHEUS_URL to the URL the API answers at"
            )
        return target

    def _answer(self, response: transport.Response) -> dict:
        where = f"Prometheus at {self.url}"
        if len(response.body) > MAX_BODY:
            raise Unreachable(f"{where} sent more than {MAX_BODY} bytes")
        try:
            body = json.loads(response.body)
        except ValueError:
            body = None
        if not isinstance(body, dict):
            if response.status < 300:
                raise Unreachable(f"{where} did not answer JSON")
            body = {}
        if response.status >= 300 or body.get("status") != "success":
            raise self._error(response.status, body)
        if not isinstance(body.get("data"), dict):
            raise Unreachable(f"{where} answered without data")
        return body["data"]

    def _error(self, status: int, body: dict) -> CiError:
        where = f"Prometheus at {self.url}"
        detail = self._clean(body.get("error") or "")[:MAX_MESSAGE]
        said = f"HTTP {status}" + (f": {body.get('errorType')}: {detail}" if detail else "")
        if status == 401:
            hint = "check PROMETHEUS_TOKEN" if self.token else "PROMETHEUS_TOKEN is not set"
            return UsageError(f"{where} rejected the request ({said}): {hint}")
        if status in (403, 404):
            return UsageError(f"{where} refused the query ({said}): is PROMETHEUS_URL its API?")
        if status == 400 and body.get("errorType") == "bad_data":
            return UsageError(f"{where} refused the query ({said}): check --selector")
        return Unreachable(f"{where} answered {said}")

    def _clean(self, text: object) -> str:
        cleaned = " ".join(str(text).split())
        return cleaned.replace(self.token, "***") if self.token else cleaned


def _sample(item: object) -> tuple[dict[str, str], float]:
    try:
        labels, (_, value) = item["metric"], item["value"]  # type: ignore[index]
        number = float(value)
    except (TypeError, KeyError, ValueError):
        raise Unreachable("Prometheus answered a malformed sample") from None
    return dict(labels), number


def check_url(raw: str) -> str:
    """PROMETHEUS_URL as a base URL (no trailing slash); UsageError naming what is wrong."""
    url = raw.strip().rstrip("/")
    shown = repr(url[:200])
    if "@" in url.partition("://")[2].split("/", 1)[0]:
        raise UsageError("PROMETHEUS_URL must not hold credentials: use PROMETHEUS_TOKEN")
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise UsageError(f"PROMETHEUS_URL is not a valid URL ({error}): {shown}") from None
    valid = transport.URL_CHARS.fullmatch(url) and parts.scheme.lower() in ("http", "https")
    if not valid or not parts.hostname or port == 0:
        raise UsageError(f"PROMETHEUS_URL must be an http(s) URL, got {shown}")
    if parts.query or parts.fragment or url.endswith(("?", "#")):
        raise UsageError(f"PROMETHEUS_URL must be a base URL, without ?query or #fragment: {shown}")
    return parts.scheme.lower() + url[len(parts.scheme) :]


def finite(value: float) -> float | None:
    """A sample's value, None for NaN or an infinity (histogram_quantile of no requests)."""
    return value if math.isfinite(value) else None
