"""Metrics, request ids, HEAD, the root path, proxy headers and tracing on a real uvicorn server
(the production flags) over TCP: promtool checks the real /-/metrics, and spans travel over
OTLP/HTTP to a collector stand-in that decodes them with OpenTelemetry's own protobuf types."""

import http.client
import json
import subprocess
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from app import SERVICE_NAME
from harness.network import serving_thread
from tests.app.http import get
from tests.support.server import PRODUCTION_FLAGS, RunningServer, running_server
from tests.support.tools import require_tools

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"


def request(
    port: int, target: str, method: str = "GET", headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(method, target, headers=headers or {})
        response = conn.getresponse()
        body = response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, body
    finally:
        conn.close()


@pytest.fixture(scope="module")
def server() -> Iterator[RunningServer]:
    env = {"APP_VERSION": "0a1b2c3d", "APP_REVISION": "f" * 40, "APP_LOG_FORMAT": "json",
           "APP_ACCESS_LOG": "true"}  # fmt: skip
    with running_server(PRODUCTION_FLAGS, env=env) as srv:
        yield srv


@pytest.mark.integration
def test_promtool_accepts_the_real_exposition(server: RunningServer, tmp_path) -> None:
    promtool = require_tools("promtool")["promtool"]
    for target in ("/api/echo?text=x", "/api/echo", "/nope", "/-/health", "/docs"):
        get(server.port, target)
    get(server.port, "/-/health", method="HEAD")
    get(server.port, "/-/health", method="DELETE")
    exposition = get(server.port, "/-/metrics").body
    assert b'http_server_request_duration_seconds_bucket{http_request_method="HEAD"' in exposition
    result = subprocess.run(
        [promtool, "check", "metrics"], input=exposition, capture_output=True, timeout=60
    )
    assert result.returncode == 0, result.stdout.decode() + result.stderr.decode()
    assert b'app_build_info{revision="' + b"f" * 40 + b'",version="0a1b2c3d"} 1.0' in exposition


@pytest.mark.integration
def test_routes_of_plain_routes_and_mounts_are_templates_too(server: RunningServer) -> None:
    """/docs is a plain route; the docs' assets are a mount: labelled by template, not path."""
    assert get(server.port, "/docs").status == 200
    assert get(server.port, "/static-offline-docs/swagger-ui.css").status == 200
    assert get(server.port, "/static-offline-docs/no-such.css").status == 404
    metrics = get(server.port, "/-/metrics").body.decode()
    assert 'http_response_status_code="200",http_route="/docs"}' in metrics
    mount = 'http_route="/static-offline-docs/{path}"}'
    assert f'http_response_status_code="200",{mount}' in metrics
    assert f'http_response_status_code="404",{mount}' in metrics
    assert "swagger-ui.css" not in metrics


@pytest.mark.integration
def test_request_id_round_trip_and_on_the_access_log(server: RunningServer) -> None:
    status, headers, _ = request(
        server.port, "/api/echo?text=hi", headers={"X-Request-ID": "trace-me-42"}
    )
    assert (status, headers["x-request-id"]) == (200, "trace-me-42")
    status, headers, _ = request(server.port, "/nope", headers={"X-Request-ID": "has a space"})
    assert status == 404
    made = headers["x-request-id"]
    assert len(made) == 32
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        lines = [json.loads(line) for line in server.output().splitlines() if line.startswith("{")]
        access = {e["request_id"]: e for e in lines if e.get("logger") == "app.access"}
        if made in access:
            break
        time.sleep(0.05)
    assert (access["trace-me-42"]["path"], access[made]["status"]) == ("/api/echo", 404)


@pytest.mark.integration
def test_head_on_the_fast_path_and_on_fastapi(server: RunningServer) -> None:
    for target in ("/-/health", "/api/echo?text=abc", "/openapi.json"):
        get_status, get_headers, get_body = request(server.port, target)
        status, headers, body = request(server.port, target, method="HEAD")
        assert (status, body) == (get_status, b"")
        assert headers["content-length"] == get_headers["content-length"] == str(len(get_body))


@pytest.mark.integration
def test_the_fast_path_works_under_root_path() -> None:
    with running_server([*PRODUCTION_FLAGS, "--root-path", "/svc"]) as server:
        assert get(server.port, "/-/health").status == 200
        assert get(server.port, "/api/echo?text=x").json() == {"text": "x"}
        spec = get(server.port, "/openapi.json").json()
        assert spec["servers"] == [{"url": "/svc"}]
        metrics = get(server.port, "/-/metrics").body.decode()
    assert 'http_route="/-/health"' in metrics
    assert 'http_route="/api/echo"' in metrics


@pytest.mark.integration
@pytest.mark.parametrize(
    ("trusted", "logged"), [("10.9.9.9", "127.0.0.1"), ("127.0.0.1", "203.0.113.7")]
)
def test_forwarded_headers_are_trusted_only_from_forwarded_allow_ips(
    trusted: str, logged: str
) -> None:
    env = {"FORWARDED_ALLOW_IPS": trusted, "APP_LOG_FORMAT": "json", "APP_ACCESS_LOG": "true"}
    with running_server(PRODUCTION_FLAGS, env=env) as server:
        request(server.port, "/-/liveness", headers={"X-Forwarded-For": "203.0.113.7"})
        deadline = time.monotonic() + 5
        while '"/-/liveness"' not in server.output() and time.monotonic() < deadline:
            time.sleep(0.05)
        (line,) = [json.loads(x) for x in server.output().splitlines() if '"/-/liveness"' in x]
    assert line["client"].rsplit(":", 1)[0] == logged


class Collector(BaseHTTPRequestHandler):
    """An OTLP/HTTP traces endpoint: keeps every ExportTraceServiceRequest it is sent."""

    received: list[ExportTraceServiceRequest]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.path == "/v1/traces" and self.headers["Content-Type"] == "application/x-protobuf":
            message = ExportTraceServiceRequest()
            message.ParseFromString(body)
            self.server.received.append(message)  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def collector() -> Iterator[ThreadingHTTPServer]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Collector)
    httpd.received = []  # type: ignore[attr-defined]
    thread = serving_thread(httpd)
    thread.start()
    try:
        yield httpd
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.mark.integration
def test_spans_are_exported_over_otlp_http(collector: ThreadingHTTPServer) -> None:
    endpoint = f"http://127.0.0.1:{collector.server_address[1]}"
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint, "APP_VERSION": "0a1b2c3d",
           "APP_LOG_FORMAT": "json", "APP_ACCESS_LOG": "true"}  # fmt: skip
    with running_server(PRODUCTION_FLAGS, env=env) as server:
        request(server.port, "/api/echo?text=x", headers={"traceparent": TRACEPARENT})
        request(server.port, "/no/such")
    # Stopped: the spans still queued were flushed at shutdown.
    spans = [
        (span, resource.resource)
        for message in collector.received  # type: ignore[attr-defined]
        for resource in message.resource_spans
        for scope in resource.scope_spans
        for span in scope.spans
    ]
    by_name = {span.name: (span, resource) for span, resource in spans}
    echo, resource = by_name["GET /api/echo"]
    assert echo.trace_id.hex() == TRACE_ID
    attributes = {a.key: a.value for a in resource.attributes}
    assert attributes["service.name"].string_value == SERVICE_NAME
    assert attributes["service.version"].string_value == "0a1b2c3d"
    assert "GET" in by_name  # the unmatched request: no route in its name
    (line,) = [json.loads(x) for x in server.output().splitlines() if '"path":"/api/echo"' in x]
    assert (line["trace_id"], line["span_id"]) == (TRACE_ID, echo.span_id.hex())


@pytest.mark.integration
def test_the_servers_exception_line_carries_the_request_id() -> None:
    env = {"APP_LOG_FORMAT": "json"}
    with running_server(
        PRODUCTION_FLAGS, env=env, app="tests.app.failing_app:app", ready_path="/-/health"
    ) as server:
        status, headers, body = request(
            server.port, "/-/readiness", headers={"X-Request-ID": "failing-1"}
        )
        assert (status, json.loads(body)) == (500, {"detail": "Internal Server Error"})
        assert headers["x-request-id"] == "failing-1"
        deadline = time.monotonic() + 5
        while "failing-1" not in server.output() and time.monotonic() < deadline:
            time.sleep(0.05)
        lines = [json.loads(x) for x in server.output().splitlines() if "failing-1" in x]
    (line,) = lines
    assert line["logger"] == "uvicorn.error"
    assert line["message"] == "Exception in ASGI application\n"
    assert "readiness broken on purpose" in line["exception"]
