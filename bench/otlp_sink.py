"""Where the traced server of `make bench` sends its spans: an OTLP/HTTP endpoint on 127.0.0.1
that answers 200 and counts what it got (a collector's cost stays out of the service's)."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from bench.processes import interrupts_held
from harness.network import serving_thread


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        size = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(size)
        sink: OTLPSink = self.server.sink  # type: ignore[attr-defined]
        with sink.lock:
            sink.requests += 1
            sink.bytes += size
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


class OTLPSink:
    """with OTLPSink() as sink: ... sink.endpoint (for OTEL_EXPORTER_OTLP_ENDPOINT)."""

    def __init__(self) -> None:
        self.requests = 0
        self.bytes = 0
        self.lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.sink = self  # type: ignore[attr-defined]
        self._thread = serving_thread(self._server)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> "OTLPSink":
        # Started with SIGINT and SIGTERM blocked, which the thread (and those it starts) keep:
        # they are then delivered to the main thread only, where interrupts_held() can hold them
        # back while a child process is created.
        with interrupts_held():
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
