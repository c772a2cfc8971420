"""/docs and /redoc load everything from the service itself: no CDN, no font service.

(test_docs_browser.py renders both in a real browser with no route off the machine.)
"""

import httpx
import pytest

from app.api import DOCS_ASSETS_PATH
from app.application import create_app
from app.settings import Settings
from tests.app.conftest import HOST
from tests.support.dom import elements

pytestmark = pytest.mark.anyio
DOCS_PAGES = ["/docs", "/redoc"]
ASSET_TYPES = {".js": "text/javascript", ".css": "text/css", ".png": "image/png"}


def referenced_urls(html: str) -> list[str]:
    """Every URL the page loads by itself: script src, link href, img src."""
    found = []
    for element in elements(html):
        for attr in ("src", "href"):
            if element.tag in ("script", "link", "img") and element.attrs.get(attr):
                found.append(element.attrs[attr])
    return found


@pytest.mark.parametrize("page", DOCS_PAGES)
async def test_docs_pages_load_only_the_services_own_assets(
    client: httpx.AsyncClient, page: str
) -> None:
    response = await client.get(page)
    assert (response.status_code, response.headers["content-type"]) == (
        200,
        "text/html; charset=utf-8",
    )
    urls = referenced_urls(response.text)
    assert urls, f"{page} loads no assets"
    for url in urls:
        assert url.startswith(DOCS_ASSETS_PATH + "/"), f"{page} loads {url} from elsewhere"
    assert "fonts.googleapis.com" not in response.text
    assert "cdn." not in response.text


@pytest.mark.parametrize("page", DOCS_PAGES)
async def test_every_asset_a_docs_page_loads_is_served(
    client: httpx.AsyncClient, page: str
) -> None:
    for url in referenced_urls((await client.get(page)).text):
        asset = await client.get(url)
        assert asset.status_code == 200, url
        suffix = url[url.rindex(".") :]
        assert asset.headers["content-type"].startswith(ASSET_TYPES[suffix]), url
        assert len(asset.content) > 1000, url
        assert "etag" in asset.headers  # browsers revalidate instead of downloading megabytes again


async def test_swagger_ui_reads_the_services_openapi(client: httpx.AsyncClient) -> None:
    page = (await client.get("/docs")).text
    assert "url: '/openapi.json'" in page
    redirect = await client.get("/docs/oauth2-redirect")
    assert redirect.status_code == 200


async def test_docs_follow_the_root_path(settings: Settings) -> None:
    """Behind a proxy that strips a prefix (uvicorn --root-path), the pages ask for the assets
    and the OpenAPI document under that prefix, where the browser can reach them."""
    app = create_app(settings, host=HOST)
    app.fallback.build()
    transport = httpx.ASGITransport(app=app, root_path="/svc")
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        swagger = (await client.get("/svc/docs")).text
        redoc = (await client.get("/svc/redoc")).text
        asset = await client.get(f"/svc{DOCS_ASSETS_PATH}/swagger-ui.css")
    assert "url: '/svc/openapi.json'" in swagger
    assert 'spec-url="/svc/openapi.json"' in redoc
    for url in referenced_urls(swagger) + referenced_urls(redoc):
        assert url.startswith(f"/svc{DOCS_ASSETS_PATH}/"), url
    assert asset.status_code == 200


async def test_assets_are_not_in_the_openapi_document(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    assert not [path for path in spec["paths"] if "docs" in path or "redoc" in path]
