"""Correctness before load: a benchmark of a broken server is worthless."""

import json
import socket
from collections.abc import Mapping
from urllib.parse import quote

from bench.apps.items import ITEM_PATH

# The endpoints under load, by short name.
ENDPOINTS = {
    "echo": "/api/echo?text=hello",
    "health": "/-/health",
    "liveness": "/-/liveness",
    "readiness": "/-/readiness",
    # A team's own route (bench/apps/items.py): served only by the template with that route
    # added and by a bare FastAPI app, side by side.
    "item": "/api/items/42",
}
TEAM_ENDPOINTS = ("item",)
ITEM = {"id": 42, "name": "item 42"}
# Text that must come back from echo unchanged.
TRICKY_TEXT = "a & b = c <b>é</b> ✓ 😀 "


def check_response(
    target: str, status: int, content_type: str, body: bytes, build: str | None = None
) -> str | None:
    """What is wrong with one response to GET target, or None. `build`: the expected version."""
    if status != 200:
        return f"GET {target} gave {status}, expected 200"
    is_probe = target in ("/-/liveness", "/-/readiness")
    if not content_type.startswith("application/json"):
        if is_probe:
            return None  # a probe only has to answer 200
        return f"GET {target} gave content-type {content_type!r}, expected application/json"
    try:
        data = json.loads(body)
    except ValueError:
        return f"GET {target} gave a body that is not JSON: {body[:80]!r}"
    if target.startswith("/api/echo?"):
        sent = target.split("text=", 1)[1]
        expected = {"text": "hello" if sent == "hello" else TRICKY_TEXT}
        if data != expected:
            return f"GET {target} gave {data!r}, expected {expected!r}"
    elif target == ENDPOINTS["item"] and data != ITEM:
        return f"GET {target} gave {data!r}, expected {ITEM!r}"
    elif target == "/-/health":
        return check_health(data, build)
    return None


def check_observed(target: str, headers: Mapping[str, str], metrics: bytes) -> str | None:
    """What the template left out on a team's route: the response's X-Request-ID, or the request
    in the duration histogram under its route template. `headers`: names in lower case;
    `metrics`: /-/metrics fetched after the request."""
    if not headers.get("x-request-id"):
        return f"GET {target} gave no X-Request-ID header"
    if f'http_route="{ITEM_PATH}"'.encode() not in metrics:
        return f"GET /-/metrics counts no request with http_route {ITEM_PATH!r}"
    return None


def check_health(data: object, build: str | None) -> str | None:
    if not isinstance(data, dict) or data.get("status") != "ok":
        return f"GET /-/health gave {data!r}, expected status ok"
    debug = data.get("debug")
    if not isinstance(debug, dict) or not {"hostname", "ip"} <= set(debug):
        return f"GET /-/health gave debug={debug!r}, expected hostname and ip"
    if debug["hostname"] != socket.gethostname():
        return f"GET /-/health gave debug={debug!r}, expected hostname {socket.gethostname()!r}"
    if build is not None and (data.get("version") != build or "revision" not in data):
        return f"GET /-/health gave {data!r}, expected version {build!r} and a revision"
    return None


def check_targets() -> list[str]:
    """Every endpoint of the template's own under load, plus an echo that must survive quoting."""
    own = [target for name, target in ENDPOINTS.items() if name not in TEAM_ENDPOINTS]
    return [*own, "/api/echo?text=" + quote(TRICKY_TEXT, safe="")]
