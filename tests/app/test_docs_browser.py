"""/docs and /redoc in a real browser (headless Chromium) against the real service over TCP,
with no route off the machine: the operations must be rendered by the pages' own scripts.

UPDATE_SCREENSHOTS=1 also copies the pictures taken here to docs/ (docs/service.md shows them).
"""

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from app import SERVICE_NAME
from tests.support.browser import WINDOW_SIZE, dump_dom, png_size, screenshot
from tests.support.dom import elements, with_class
from tests.support.server import PRODUCTION_FLAGS, REPO_ROOT, RunningServer, running_server
from tests.support.tools import require_tools

VERSION = "0a1b2c3d"
OPERATIONS = {
    "/-/health": "Health and build information",
    "/-/liveness": "Liveness: the process is alive",
    "/-/readiness": "Readiness: 200 while serving; 503 while starting and once shutdown has begun",
    "/-/metrics": "Prometheus metrics (OpenMetrics when the Accept header asks for it)",
    "/api/echo": "Echo the text back",
}
SCREENSHOTS = {"/docs": "docs/swagger-ui.png", "/redoc": "docs/redoc.png"}


@pytest.fixture(scope="module")
def server() -> Iterator[RunningServer]:
    require_tools("chromium")
    with running_server(PRODUCTION_FLAGS, env={"APP_VERSION": VERSION}) as srv:
        yield srv


def swagger_operations(dom: str) -> dict[str, str]:
    """Path -> summary of each operation Swagger UI rendered."""
    paths = with_class(dom, "opblock-summary-path")
    summaries = with_class(dom, "opblock-summary-description")
    for path in paths:
        assert path.text == path.attrs["data-path"]  # shown on the page, not only an attribute
    pairs = zip(paths, summaries, strict=True)
    return {path.attrs["data-path"]: summary.text for path, summary in pairs}


def redoc_operations(dom: str) -> tuple[set[tuple[str, str]], list[str]]:
    """The (method, path) bars ReDoc rendered, and its headings (tags and operation summaries)."""
    page = elements(dom)
    bars = {
        (element.text, page[index + 1].text)
        for index, element in enumerate(page[:-1])
        if "http-verb" in element.classes
    }
    return bars, [element.text for element in page if element.tag == "h2"]


@pytest.mark.integration
def test_swagger_ui_renders_every_operation(server: RunningServer) -> None:
    dom = dump_dom(server.url("/docs"))
    assert swagger_operations(dom) == OPERATIONS
    (title,) = with_class(dom, "title")
    assert title.text.startswith(f"{SERVICE_NAME} {VERSION}")


@pytest.mark.integration
def test_redoc_renders_every_operation(server: RunningServer) -> None:
    bars, headings = redoc_operations(dump_dom(server.url("/redoc")))
    assert bars == {("get", path) for path in OPERATIONS}
    assert set(OPERATIONS.values()) <= set(headings)


@pytest.mark.integration
def test_a_page_that_needs_a_cdn_renders_nothing_here() -> None:
    """The control: FastAPI's stock pages (assets from a CDN) stay blank in this browser, so the
    tests above pass only because the service serves the assets itself."""
    require_tools("chromium")
    with running_server(app="tests.app.cdn_docs_app:app", ready_path="/openapi.json") as stock:
        swagger = dump_dom(stock.url("/docs"))
        redoc = dump_dom(stock.url("/redoc"))
    assert "cdn.jsdelivr.net" in swagger  # it did ask for the CDN
    assert swagger_operations(swagger) == {}
    assert redoc_operations(redoc) == (set(), [])


@pytest.mark.integration
@pytest.mark.parametrize(("page", "saved"), SCREENSHOTS.items())
def test_screenshot_for_the_readme(server: RunningServer, tmp_path: Path, page, saved) -> None:
    picture = screenshot(server.url(page), tmp_path / Path(saved).name)
    assert png_size(picture) == WINDOW_SIZE
    assert picture.stat().st_size > 20_000  # a blank page compresses to a few kilobytes
    if os.environ.get("UPDATE_SCREENSHOTS") == "1":
        shutil.copyfile(picture, REPO_ROOT / saved)
    assert png_size(REPO_ROOT / saved) == WINDOW_SIZE, f"{saved}: run with UPDATE_SCREENSHOTS=1"
