"""An HTTP server on a thread in this process that answers as it is told and records what it was
sent (path and headers): where a real part cannot be made to answer that way."""

import contextlib
import http.server
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from harness.network import serving_thread

Answer = tuple[int, dict[str, str], bytes]


@dataclass
class StandIn:
    answer: Callable[[str], Answer]
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    url: str = ""


def json_answer(body: object, status: int = 200) -> Callable[[str], Answer]:
    return lambda path: (status, {"Content-Type": "application/json"}, json.dumps(body).encode())


@contextlib.contextmanager
def serving(stand_in: StandIn) -> Iterator[StandIn]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            stand_in.requests.append((self.path, dict(self.headers)))
            status, headers, body = stand_in.answer(self.path)
            self.send_response(status)
            for name, value in {**headers, "Content-Length": str(len(body))}.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = serving_thread(server)
    thread.start()
    stand_in.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield stand_in
    finally:
        server.shutdown()
        server.server_close()
