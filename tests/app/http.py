"""Small HTTP/1.1 clients for the integration tests: http.client, and raw bytes over a socket."""

import http.client
import json
import socket
import time
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def get(port: int, target: str, method: str = "GET", timeout: float = 10.0) -> Reply:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, target)
        response = conn.getresponse()
        body = response.read()
        headers = {key.lower(): value for key, value in response.getheaders()}
        return Reply(response.status, headers, body)
    finally:
        conn.close()


def raw_get(port: int, target: bytes, timeout: float = 10.0) -> Reply:
    """Send the request target byte for byte (no client-side quoting or validation)."""
    request = b"GET " + target + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in header_lines:
        key, _, value = line.partition(":")
        headers[key.strip().lower()] = value.strip()
    return Reply(int(status_line.split()[1]), headers, body)


def first_503(port: int, timeout: float = 2.0) -> Reply:
    """GET /-/readiness until it answers 503 or ``timeout`` has passed; the last reply."""
    deadline = time.monotonic() + timeout
    while (reply := get(port, "/-/readiness")).status != 503 and time.monotonic() < deadline:
        time.sleep(0.01)
    return reply
