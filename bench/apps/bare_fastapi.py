"""The team's route (bench/apps/items.py) in a bare FastAPI app: FastAPI's defaults, nothing of
the template around it. `make bench` serves it with the Dockerfile's uvicorn command and flags."""

from fastapi import FastAPI

from bench.apps.items import items_router

app = FastAPI()
app.include_router(items_router())
