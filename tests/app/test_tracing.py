"""Tracing: off unless the OTEL_* variables ask; on, one SERVER span per request (fast path and
FastAPI alike) that continues the caller's W3C trace and is named after the route template.
Spans are caught with the SDK's in-memory exporter."""

import io
import json
import logging

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from app import SERVICE_NAME
from app.application import Service, create_app
from app.logs import configure_logging
from app.settings import get_settings
from app.tracing import Traced, TracingError, exporters_requested, provider_from_environment
from tests.app.asgi import REQUEST_ID, BrokenState, call, call_failing
from tests.app.conftest import HOST

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"
TRACEPARENT = f"00-{TRACE_ID}-{PARENT_ID}-01".encode()


@pytest.fixture
def spans() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def provider(spans: InMemorySpanExporter) -> TracerProvider:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    return provider


@pytest.fixture
def app(provider: TracerProvider):
    service = create_app(
        get_settings({"APP_VERSION": "7.7.7"}), host=HOST, tracer_provider=provider
    )
    service.app.fallback.build()  # the Service, inside the Traced layer
    return service


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, []),
        ({"OTEL_SERVICE_NAME": "x"}, []),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, ["otlp"]),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c:4318/v1/traces"}, ["otlp"]),
        ({"OTEL_TRACES_EXPORTER": "console"}, ["console"]),
        ({"OTEL_TRACES_EXPORTER": "otlp, console"}, ["otlp", "console"]),
        ({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c"}, []),
        ({"OTEL_SDK_DISABLED": "TRUE", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c"}, []),
        ({"OTEL_SDK_DISABLED": "false", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c"}, ["otlp"]),
    ],
)
def test_off_by_default_on_when_the_otel_variables_ask(environ, expected) -> None:
    assert exporters_requested(environ) == expected


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"OTEL_TRACES_EXPORTER": "zipkin"}, "unsupported exporter zipkin"),
        (
            {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c", "OTEL_TRACES_EXPORTER": "otlp",
             "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"},
            "'grpc' is not supported",
        ),
    ],
)  # fmt: skip
def test_what_cannot_be_done_is_a_clear_error(environ, message) -> None:
    with pytest.raises(TracingError, match=message):
        exporters_requested(environ)


def test_off_adds_no_layer() -> None:
    assert provider_from_environment({}, "1") is None
    service = create_app(get_settings({}), host=HOST)
    assert type(service) is Service


def test_the_provider_names_the_service_and_its_build() -> None:
    provider = provider_from_environment({"OTEL_TRACES_EXPORTER": "console"}, "0a1b2c3d")
    assert provider is not None
    attributes = provider.resource.attributes
    assert (attributes["service.name"], attributes["service.version"]) == (
        SERVICE_NAME,
        "0a1b2c3d",
    )
    provider.shutdown()


def test_a_server_span_per_request_named_after_the_route(app, spans) -> None:
    assert isinstance(app, Traced)
    call(app, "/api/echo", b"text=secret")  # fast path
    call(app, "/api/echo", b"")  # FastAPI, 422
    call(app, "/nope")
    call(app, "/-/liveness", method="BREW")
    names = [
        (s.name, s.kind, s.attributes["http.response.status_code"])
        for s in spans.get_finished_spans()
    ]
    assert names == [
        ("GET /api/echo", SpanKind.SERVER, 200),
        ("GET /api/echo", SpanKind.SERVER, 422),
        ("GET", SpanKind.SERVER, 404),
        ("HTTP /-/liveness", SpanKind.SERVER, 405),
    ]
    first, _, unmatched, other = spans.get_finished_spans()
    assert first.attributes["http.route"] == "/api/echo"
    assert first.attributes["url.path"] == "/api/echo"
    assert "secret" not in json.dumps(dict(first.attributes))  # no url.query: user data
    assert "http.route" not in unmatched.attributes
    assert other.attributes["http.request.method"] == "_OTHER"
    assert other.attributes["http.request.method_original"] == "BREW"
    assert first.resource.attributes.get("service.name") is not None


def test_the_callers_traceparent_is_continued(app, spans) -> None:
    call(app, "/-/health", headers=((b"traceparent", TRACEPARENT),))
    (span,) = spans.get_finished_spans()
    assert format(span.context.trace_id, "032x") == TRACE_ID
    assert format(span.parent.span_id, "016x") == PARENT_ID
    assert span.parent.is_remote


def test_without_traceparent_a_new_trace_starts(app, spans) -> None:
    call(app, "/-/health")
    (span,) = spans.get_finished_spans()
    assert span.parent is None


def test_a_failure_is_an_error_span(provider, spans) -> None:
    service = create_app(get_settings({}), host=HOST, state=BrokenState(), tracer_provider=provider)
    service.app.fallback.build()
    answer, _ = call_failing(service, "/-/readiness")
    assert answer.status == 500
    (span,) = spans.get_finished_spans()
    assert span.status.status_code == StatusCode.ERROR
    assert span.attributes["error.type"] == "ZeroDivisionError"
    assert span.attributes["http.response.status_code"] == 500
    assert [event.name for event in span.events] == ["exception"]


def test_log_lines_carry_the_trace_and_span_ids(app, spans) -> None:
    names = ("app", "uvicorn", "uvicorn.error")
    saved = {n: (logging.getLogger(n).handlers[:], logging.getLogger(n).propagate) for n in names}
    stream = io.StringIO()
    try:
        settings = get_settings({"APP_LOG_FORMAT": "json", "APP_ACCESS_LOG": "true"})
        configure_logging(settings, stream)
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(spans))
        service = create_app(settings, host=HOST, tracer_provider=provider)
        call(
            service,
            "/-/liveness",
            headers=((b"traceparent", TRACEPARENT), (b"x-request-id", REQUEST_ID)),
        )
    finally:
        for name, (handlers, propagate) in saved.items():
            logging.getLogger(name).handlers, logging.getLogger(name).propagate = (
                handlers,
                propagate,
            )
    (line,) = [json.loads(line) for line in stream.getvalue().splitlines()]
    (span,) = spans.get_finished_spans()
    assert (line["request_id"], line["trace_id"], line["span_id"]) == (
        REQUEST_ID.decode(),
        TRACE_ID,
        format(span.context.span_id, "016x"),
    )


def test_fastapi_adds_no_spans_of_its_own(app, spans, provider, monkeypatch) -> None:
    """FastAPI's native telemetry would trace the requests it answers a second time."""
    from opentelemetry import trace

    monkeypatch.setattr(trace, "get_tracer_provider", lambda: provider)
    call(app, "/openapi.json")
    assert [s.name for s in spans.get_finished_spans()] == ["GET /openapi.json"]
