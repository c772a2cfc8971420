"""Tracing, optional and off by default: an OpenTelemetry SERVER span for every HTTP request.

On when the standard variables ask for it: OTEL_EXPORTER_OTLP_ENDPOINT or
OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set, or OTEL_TRACES_EXPORTER names an exporter (otlp,
console); OTEL_SDK_DISABLED=true or OTEL_TRACES_EXPORTER=none keep it off. The SDK reads the rest
itself (endpoint, headers, OTEL_TRACES_SAMPLER, OTEL_BSP_*, OTEL_SERVICE_NAME,
OTEL_RESOURCE_ATTRIBUTES, OTEL_PROPAGATORS). OTLP goes over HTTP (http/protobuf).

Off, nothing here is imported and no layer is added. On, the Traced layer sits outermost: it
continues the caller's trace (W3C traceparent), names the span after the route template
("GET /api/echo"), and puts the trace and span ids on the request's log lines.
"""

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from app import SERVICE_NAME
from app.asgi import ASGIApp, Message, Receive, Scope, Send
from app.context import TRACE_IDS
from app.metrics import KNOWN_METHODS, OTHER_METHOD
from app.routes import UNMATCHED, route_of

if TYPE_CHECKING:
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.trace import Tracer

EXPORTERS = ("otlp", "console")


class TracingError(ValueError):
    """Tracing asked for in a way this service cannot do; str() is one line."""


def exporters_requested(environ: Mapping[str, str]) -> list[str]:
    """The span exporters the OTEL_* variables ask for; [] means tracing is off."""
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return []
    names = [
        n.strip().lower() for n in environ.get("OTEL_TRACES_EXPORTER", "").split(",") if n.strip()
    ]
    if not names:  # the spec's default is otlp, but only an endpoint turns it on here
        endpoint = environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or environ.get(
            "OTEL_EXPORTER_OTLP_ENDPOINT"
        )
        return ["otlp"] if endpoint else []
    if "none" in names:
        return []
    unknown = [n for n in names if n not in EXPORTERS]
    if unknown:
        raise TracingError(
            f"OTEL_TRACES_EXPORTER={environ['OTEL_TRACES_EXPORTER']!r}: unsupported exporter"
            f" {', '.join(unknown)} (supported: {', '.join(EXPORTERS)}, none)"
        )
    if "otlp" in names:
        protocol = environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") or environ.get(
            "OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"
        )
        if protocol.strip() != "http/protobuf":
            raise TracingError(
                f"OTLP protocol {protocol!r} is not supported: this service exports spans over"
                " http/protobuf (unset OTEL_EXPORTER_OTLP_PROTOCOL, or set it to http/protobuf)"
            )
    return names


def provider_from_environment(environ: Mapping[str, str], version: str) -> "TracerProvider | None":
    """A TracerProvider exporting as the OTEL_* variables ask, or None when tracing is off."""
    names = exporters_requested(environ)
    if not names:
        return None
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter

    provider = TracerProvider(resource=_resource(environ, version))
    for name in names:
        if name == "otlp":
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            exporter = OTLPSpanExporter()
        else:
            exporter = ConsoleSpanExporter()
        provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider


def _resource(environ: Mapping[str, str], version: str) -> "Resource":
    """service.name and service.version, unless OTEL_SERVICE_NAME or OTEL_RESOURCE_ATTRIBUTES
    (which Resource.create reads) say otherwise."""
    from opentelemetry.sdk.resources import Resource

    attributes = {"service.version": version}
    given = environ.get("OTEL_RESOURCE_ATTRIBUTES", "")
    if not environ.get("OTEL_SERVICE_NAME") and "service.name=" not in given:
        attributes["service.name"] = SERVICE_NAME
    return Resource.create(attributes)


class Traced:
    """The outermost per-request layer when tracing is on: one SERVER span per HTTP request."""

    def __init__(
        self, app: ASGIApp, provider: "TracerProvider", methods: Iterable[str] = KNOWN_METHODS
    ) -> None:
        from opentelemetry import context, propagate, trace
        from opentelemetry.propagators.textmap import Getter
        from opentelemetry.trace import SpanKind, StatusCode, format_span_id, format_trace_id

        class ScopeHeaders(Getter[list[tuple[bytes, bytes]]]):
            def get(self, carrier: list[tuple[bytes, bytes]], key: str) -> list[str] | None:
                name = key.lower().encode("latin-1")
                values = [v.decode("latin-1") for n, v in carrier if n == name]
                return values or None

            def keys(self, carrier: list[tuple[bytes, bytes]]) -> list[str]:
                return [n.decode("latin-1") for n, _ in carrier]

        self.app = app
        self.tracer: Tracer = provider.get_tracer("app", schema_url=None)
        self.methods = frozenset(methods)
        self._getter = ScopeHeaders()
        self._extract = propagate.extract
        self._attach, self._detach = context.attach, context.detach
        self._in_context = trace.set_span_in_context
        self._server, self._error = SpanKind.SERVER, StatusCode.ERROR
        self._ids = (format_trace_id, format_span_id)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method = scope["method"]
        known = method if method in self.methods else OTHER_METHOD
        name = "HTTP" if known == OTHER_METHOD else known
        parent = self._extract(scope["headers"], getter=self._getter)
        span = self.tracer.start_span(
            name, context=parent, kind=self._server, attributes=_request_attributes(scope, known)
        )
        token = self._attach(self._in_context(span, parent))
        ids = span.get_span_context()
        TRACE_IDS.set((self._ids[0](ids.trace_id), self._ids[1](ids.span_id)))  # see context.py
        status = 0

        async def send_traced(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        error: BaseException | None = None
        try:
            await self.app(scope, receive, send_traced)
        except BaseException as exc:
            error = exc
            span.record_exception(exc)
            raise
        finally:
            self._finish(span, name, route_of(scope), status, error)
            self._detach(token)

    def _finish(
        self, span: Any, name: str, route: str, status: int, error: BaseException | None
    ) -> None:
        """The route, the status and the error (a 5xx, an exception or no answer), then end."""
        if route != UNMATCHED:
            span.set_attribute("http.route", route)
            span.update_name(f"{name} {route}")
        if status:
            span.set_attribute("http.response.status_code", status)
        if error is not None or not status or status >= 500:
            span.set_attribute(
                "error.type", type(error).__qualname__ if error is not None else str(status)
            )
            span.set_status(self._error)
        span.end()


def _request_attributes(scope: Scope, method: str) -> dict[str, str | int]:
    """The request's attributes (OpenTelemetry HTTP server span conventions). No url.query:
    echo texts are user data, kept out of traces as out of the access log."""
    attributes: dict[str, str | int] = {
        "http.request.method": method,
        "url.path": scope["path"],
        "url.scheme": scope.get("scheme", "http"),
    }
    if method != scope["method"]:
        attributes["http.request.method_original"] = scope["method"]
    if scope.get("http_version"):
        attributes["network.protocol.version"] = scope["http_version"]
    client = scope.get("client")
    if client:
        attributes["client.address"] = client[0]
    server = scope.get("server")
    if server:
        attributes["server.address"] = server[0]
        if server[1] is not None:
            attributes["server.port"] = server[1]
    for header, value in scope["headers"]:
        if header == b"user-agent":
            attributes["user_agent.original"] = value.decode("latin-1")
            break
    return attributes
