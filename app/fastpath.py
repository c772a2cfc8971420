"""A pure-ASGI layer in front of FastAPI for the hot paths.

The probes and health are answered from bytes rendered at startup, and a well-formed
`GET /api/echo?text=...` is answered directly. Everything else (errors, 422, HEAD, odd queries,
/docs, /openapi.json) goes to the FastAPI app, which declares every endpoint too and stays the
reference: tests check both give the same status, headers and body.
"""

from app.asgi import ASGIApp, Receive, Scope, Send
from app.echo import ECHO_PATH, echo_text, render_echo
from app.probes import READINESS_PATH, Probes
from app.responses import start_message


class FastPath:
    def __init__(self, app: ASGIApp, probes: Probes, echo_max_length: int) -> None:
        self.app = app
        self.probes = probes
        self.static = probes.static()
        self.echo_max_length = echo_max_length

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET":
            path = scope["path"]
            prebuilt = self.static.get(path)
            if prebuilt is not None:
                await send(prebuilt.start_message)
                await send(prebuilt.body_message)
                return
            if path == ECHO_PATH:
                text = echo_text(scope["query_string"], self.echo_max_length)
                if text is not None:
                    body = render_echo(text)
                    await send(start_message(200, body))
                    await send({"type": "http.response.body", "body": body})
                    return
            elif path == READINESS_PATH:
                await self.probes.readiness().send(send)
                return
        await self.app(scope, receive, send)
