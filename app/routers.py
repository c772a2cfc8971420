"""This service's own endpoints: each an APIRouter, listed in ``routers()``.

How to add one is in docs/service.md ("Adding an endpoint"). They are included in the FastAPI app
before the template's own routers (probes, echo, metrics), whose hot paths are answered before
FastAPI sees a request: FastAPI tries routes in order, so a team's route is matched first and
costs what it would cost in a bare FastAPI app (``make bench``, "A team's own route").
"""

from fastapi import APIRouter


def routers() -> list[APIRouter]:
    """The routers of the endpoints this service adds to the template's (none yet)."""
    return []
