"""The front layer every HTTP request passes: it sends the fast path's answers, passes the rest to
FastAPI, and observes both alike.

For each request: its X-Request-ID (taken or made, returned on the response, set for the log
lines), its duration in the histogram (when metrics are on), its access log line (when on), and a
JSON 500 if the app raises before responding: what FastAPI's ServerErrorMiddleware sends, for the
fast path too. The exception is re-raised, so the server logs it with its traceback.

The fast path's answers are sent from here with the id header added as the start message is
made: no send wrapper, no extra awaits (together they cost more than the rest of the request).
"""

import logging
from time import perf_counter

from app.asgi import ASGIApp, Message, Receive, Scope, Send
from app.context import REQUEST_ID
from app.fastpath import FastPath
from app.metrics import Metrics
from app.requestid import HEADER, request_id
from app.responses import EMPTY_BODY, Prebuilt
from app.routes import route_of

INTERNAL_ERROR = Prebuilt(500, {"detail": "Internal Server Error"})


class Observed:
    def __init__(
        self,
        app: ASGIApp,
        fast_path: FastPath | None = None,
        metrics: Metrics | None = None,
        access_log: logging.Logger | None = None,
    ) -> None:
        self.app = app
        self.fast_path = fast_path
        self.metrics = metrics
        self.access_log = access_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = perf_counter()
        rid = request_id(scope["headers"])
        REQUEST_ID.set(rid)  # no reset: see app/context.py
        id_header = (HEADER, rid.encode("ascii"))
        status = 0
        try:
            answer = self.fast_path.answer(scope) if self.fast_path is not None else None
            if answer is not None:
                status = answer.status
                await send(answer.start_message(id_header))
                await send(EMPTY_BODY if scope["method"] == "HEAD" else answer.body_message)
                return

            async def send_with_id(message: Message) -> None:  # made for FastAPI's answers only
                nonlocal status
                if message["type"] == "http.response.start":
                    status = message["status"]
                    message = {**message, "headers": [*message.get("headers", ()), id_header]}
                await send(message)

            await self.app(scope, receive, send_with_id)
        except Exception:
            if not status:
                await send(INTERNAL_ERROR.start_message(id_header))
                await send(INTERNAL_ERROR.body_message)
                status = 500
            raise
        finally:
            seconds = perf_counter() - started
            if not status:  # no response at all (cancelled): counted as the server's failure
                status = 500
            if self.metrics is not None:
                self.metrics.observe(scope["method"], route_of(scope), status, seconds)
            if self.access_log is not None:
                self._log(scope, status, seconds)

    def _log(self, scope: Scope, status: int, seconds: float) -> None:
        """One line per request; the path without its query string (echo texts are user data)."""
        assert self.access_log is not None
        client = scope.get("client")
        fields = {
            "client": f"{client[0]}:{client[1]}" if client else "-",
            "method": scope["method"],
            "path": scope["path"],
            "status": status,
            "duration_ms": round(seconds * 1000, 3),
        }
        self.access_log.info(
            '%(client)s "%(method)s %(path)s" %(status)d %(duration_ms).1fms',
            fields,
            extra=fields,
        )
