"""The baseline: the service as the seed wrote it.

FastAPI with plain dict responses, and a hostname lookup on the event loop on every health request.
`make bench` serves it with uvicorn's pure-Python stack (`--loop asyncio --http h11`).
"""

import socket

from fastapi import FastAPI

app = FastAPI()


@app.get("/-/health")
async def health():
    hostname = socket.gethostname()
    try:
        ip = socket.gethostbyname(hostname)
    except socket.gaierror:
        ip = None
    return {"status": "ok", "debug": {"hostname": hostname, "ip": ip}}


@app.get("/-/liveness")
async def liveness():
    return {"status": "ok"}


@app.get("/-/readiness")
async def readiness():
    return {"status": "ok"}


@app.get("/api/echo")
async def echo(text: str):
    return {"text": text}
