"""Recorded Argo CD v3 objects (``applications/*.json``) and ways to vary them for tests.

The recordings are of ``<SERVICE_NAME>-dev`` as ``GET /api/v1/applications/{name}`` and
``.../resource-tree`` return them; revisions are placeholders: ``OURS`` is the commit a test waits
for, ``OLDER`` the one deployed before it.
"""

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

from app import SERVICE_NAME

FOLDER = Path(__file__).with_name("applications")
OURS, OLDER = "1" * 40, "0" * 40
REPOSITORY = f"123456789012.dkr.ecr.eu-central-1.amazonaws.com/{SERVICE_NAME}"
IMAGE = f"{REPOSITORY}:1a2b3c4d@sha256:" + "9c" * 32
OLD_IMAGE = f"{REPOSITORY}:0f1e2d3c@sha256:" + "4b" * 32


@cache
def _load(name: str) -> str:
    return (FOLDER / f"{name}.json").read_text()


def recorded(name: str) -> dict[str, Any]:
    """A fresh copy of a recording (tests may change it)."""
    return json.loads(_load(name))


def names() -> list[str]:
    return sorted(path.stem for path in FOLDER.glob("*.json") if not path.stem.endswith("-tree"))


def at(app: dict[str, Any], revision: str, images: list[str] | None = None) -> dict[str, Any]:
    """``app`` re-pointed at ``revision`` (sync, operation, history) and, if given, ``images``."""
    app = copy.deepcopy(app)
    status = app.setdefault("status", {})
    text = json.dumps(status).replace(OURS, revision)
    app["status"] = json.loads(text)
    if images is not None:
        app["status"].setdefault("summary", {})["images"] = images
    return app


def with_state(
    app: dict[str, Any],
    sync: str | None,
    health: str | None,
    phase: str | None,
) -> dict[str, Any]:
    """``app`` with the given sync status, health and operation phase (None: field absent)."""
    app = copy.deepcopy(app)
    status = app["status"]
    if sync is None:
        status["sync"].pop("status", None)
    else:
        status["sync"]["status"] = sync
    if health is None:
        status["health"].pop("status", None)
    else:
        status["health"]["status"] = health
    if phase is None:
        status.pop("operationState", None)
    else:
        status["operationState"]["phase"] = phase
    return app
