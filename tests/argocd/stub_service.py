"""A tiny HTTP service baked into the stand-in tests' image (stdlib only, no pip on the node).

It answers like the real service where the stand-in looks (``/-/health`` with the version,
``/-/readiness``) and reports what the node gave it (user, APP_* env, which paths are writable).
Like the real service it refuses to start on an invalid APP_LOG_LEVEL.
"""

import argparse
import json
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LEVELS = ("debug", "info", "warning", "error")
PATHS = ("/", "/etc", "/srv", "/usr", "/var", "/tmp")


def writable(path: str) -> bool:
    probe = os.path.join(path, ".stub-write-probe")
    try:
        with open(probe, "w"):
            pass
        os.unlink(probe)
        return True
    except OSError:
        return False


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/-/health":
            body = {
                "status": "ok",
                "version": os.environ.get("APP_VERSION", ""),
                "uid": os.getuid(),
                "gid": os.getgid(),
                "env": {k: v for k, v in os.environ.items() if k.startswith("APP_")},
                "writable": {path: writable(path) for path in PATHS},
            }
        elif self.path == "/-/readiness":
            body = {"status": "ready"}
        else:
            self.send_error(404)
            return
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        pass


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    args = parser.parse_args()
    level = os.environ.get("APP_LOG_LEVEL", "info")
    if level not in LEVELS:
        print(f"invalid setting APP_LOG_LEVEL={level!r}: expected one of {LEVELS}", flush=True)
        sys.exit(1)
    print(f"serving on {args.host}:{args.port}", flush=True)
    ThreadingHTTPServer((args.host, args.port), Handler).serve_forever()


if __name__ == "__main__":
    main()
