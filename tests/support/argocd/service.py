"""The stand-in's Service: a fixed 127.0.0.1 port forwarding TCP to the container that is ready.

Containers come and go on free ports; the Service's port stays (what DEV_URL points at). A
connection goes to the container serving when it is accepted; with none, it is closed at once,
as a Service without ready endpoints refuses.
"""

import contextlib
import socket
import socketserver
import threading
from collections.abc import Callable

from harness.network import serving_thread


def _pipe(source: socket.socket, dest: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while data := source.recv(65536):
            dest.sendall(data)
    with contextlib.suppress(OSError):
        dest.shutdown(socket.SHUT_WR)


class _Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


class ServiceProxy:
    def __init__(self, backend_port: Callable[[], int | None]) -> None:
        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                port = backend_port()
                if port is None:
                    return
                try:
                    upstream = socket.create_connection(("127.0.0.1", port), timeout=5)
                except OSError:
                    return
                upstream.settimeout(None)
                with upstream:
                    back = threading.Thread(target=_pipe, args=(upstream, self.request))
                    back.start()
                    _pipe(self.request, upstream)
                    back.join(timeout=60)

        self.server = _Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = serving_thread(self.server)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=10)
