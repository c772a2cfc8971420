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
from app.responses import EMPTY_BODY, Prebuilt, Rendered
from app.routes import ROUTE, route_of

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
        # Bound once, not looked up on every request.
        self._answer = fast_path.answer if fast_path is not None else _no_answer
        self._observe = metrics.observe if metrics is not None else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.other(scope, receive, send)
            return
        started = perf_counter()
        rid = request_id(scope["headers"])
        REQUEST_ID.set(rid)  # no reset: see app/context.py
        status = 0
        try:
            answer = self._answer(scope)
            if answer is not None:
                status = answer.status
                await send(answer.start_message((HEADER, rid)))
                await send(EMPTY_BODY if scope["method"] == "HEAD" else answer.body_message)
            else:
                recorder = IdAdded(send, (HEADER, rid))
                try:
                    await self.app(scope, receive, recorder)
                finally:
                    status = recorder.status
        except Exception:
            if not status:
                await send(INTERNAL_ERROR.start_message((HEADER, rid)))
                await send(INTERNAL_ERROR.body_message)
                status = 500
            raise
        finally:
            seconds = perf_counter() - started
            status = status or 500  # no response at all (cancelled): the server's failure
            if self._observe is not None:  # the fast path noted its route: no route_of() call
                self._observe(scope["method"], scope.get(ROUTE) or route_of(scope), status, seconds)
            if self.access_log is not None:
                self._log(scope, status, seconds)

    async def other(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A scope that is not HTTP (lifespan, websocket): passed on."""
        await self.app(scope, receive, send)

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


class IdAdded:
    """The send of FastAPI's answers: adds the id header to the response, notes its status."""

    __slots__ = ("id_header", "send", "status")

    def __init__(self, send: Send, id_header: tuple[bytes, bytes]) -> None:
        self.send = send
        self.id_header = id_header
        self.status = 0

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
            message = {**message, "headers": [*message.get("headers", ()), self.id_header]}
        await self.send(message)


def _no_answer(scope: Scope) -> Rendered | None:
    return None
