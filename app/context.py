"""What every log line emitted while serving a request carries: its request id, and its trace and
span ids when tracing is on. Set per request by the outer layers (app/observe.py, app/tracing.py).

uvicorn runs each request in a task of its own, and a task starts with a copy of the context: a
value set here stays with that request, including uvicorn's own "Exception in ASGI application"
line logged after the app has returned, and never leaks into another request.
"""

from contextvars import ContextVar

# The id as the header carries it (ASCII bytes, app/requestid.py), decoded when a line is written.
REQUEST_ID: ContextVar[bytes | None] = ContextVar("request_id", default=None)
# (trace_id, span_id) as lower-case hex, as W3C traceparent writes them.
TRACE_IDS: ContextVar[tuple[str, str] | None] = ContextVar("trace_ids", default=None)
