"""``app.api``, the FastAPI app: every endpoint through ASGI, on the deployed stack and on FastAPI
alone (the probes' answers are test_probes.py's); the OpenAPI document; /docs and /redoc load
everything from the service itself, no CDN, no font service (test_docs_browser.py renders both in
a real browser with no route off the machine)."""

import httpx
import pytest

from app.api import DOCS_ASSETS_PATH
from app.application import create_app
from app.settings import Settings
from tests.app.conftest import HOST
from tests.support.dom import elements

pytestmark = pytest.mark.anyio


@pytest.mark.integration
@pytest.mark.parametrize(
    ("query", "text"),
    [
        ("text=hello", "hello"),
        ("text=", ""),
        ("text", ""),
        ("text=a+b%20c", "a b c"),
        ("text=%26%3D%3F", "&=?"),
        ("text=a=b", "a=b"),
        ("text=%3Cb%3Ehi%3C%2Fb%3E", "<b>hi</b>"),
        ("text=%F0%9F%98%80", "\N{GRINNING FACE}"),
        ("text=%E4%BD%A0%E5%A5%BD", "你好"),
        ("text=first&text=last", "last"),
        ("other=1&text=x", "x"),
        ("te%78t=x", "x"),
        ("text=%22quoted%5C%22", '"quoted\\"'),
    ],
)
async def test_echo_returns_the_text_unchanged(
    any_client: httpx.AsyncClient, query: str, text: str
) -> None:
    response = await any_client.get(f"/api/echo?{query}")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"text": text}


async def test_echo_missing_text_is_422_naming_the_parameter(any_client: httpx.AsyncClient) -> None:
    response = await any_client.get("/api/echo?txt=1")
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "text"]


async def test_echo_length_limit(any_client: httpx.AsyncClient) -> None:
    assert (await any_client.get("/api/echo", params={"text": "x" * 4096})).status_code == 200
    response = await any_client.get("/api/echo", params={"text": "é" * 4097})
    assert response.status_code == 422
    assert response.json()["detail"][0]["type"] == "string_too_long"


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ("text=%FF", "escapes do not decode as UTF-8"),
        ("text=%C3", "escapes do not decode as UTF-8"),
        ("text=%ED%A0%80", "escapes do not decode as UTF-8"),  # an encoded surrogate
        ("text=100%", "'%' must be followed by two hex digits"),
        ("text=%zz", "'%' must be followed by two hex digits"),
    ],
)
async def test_echo_bad_escapes_are_400(
    any_client: httpx.AsyncClient, query: str, reason: str
) -> None:
    response = await any_client.get(f"/api/echo?{query}")
    assert response.status_code == 400
    assert response.json() == {"detail": f"query string must be percent-encoded UTF-8: {reason}"}


async def test_unknown_path_is_json_404(any_client: httpx.AsyncClient) -> None:
    response = await any_client.get("/nope")
    assert (response.status_code, response.json()) == (404, {"detail": "Not Found"})


@pytest.mark.parametrize("path", ["/api/echo?text=x", "/-/health", "/-/readiness"])
async def test_wrong_method_is_json_405(any_client: httpx.AsyncClient, path: str) -> None:
    response = await any_client.post(path)
    assert (response.status_code, response.json()) == (405, {"detail": "Method Not Allowed"})
    assert response.headers["allow"] == "GET, HEAD"


async def test_openapi_documents_every_endpoint(any_client: httpx.AsyncClient) -> None:
    spec = (await any_client.get("/openapi.json")).json()
    assert set(spec["paths"]) == {
        "/-/health",
        "/-/liveness",
        "/-/readiness",
        "/-/metrics",
        "/api/echo",
    }
    (param,) = spec["paths"]["/api/echo"]["get"]["parameters"]
    assert (param["name"], param["required"], param["schema"]["maxLength"]) == ("text", True, 4096)
    assert (await any_client.get("/docs")).status_code == 200


async def test_openapi_documents_readiness_not_ready_states(any_client: httpx.AsyncClient) -> None:
    spec = (await any_client.get("/openapi.json")).json()
    not_ready = spec["paths"]["/-/readiness"]["get"]["responses"]["503"]
    content = not_ready["content"]["application/json"]
    schema = spec["components"]["schemas"][content["schema"]["$ref"].rsplit("/", 1)[1]]
    assert schema["properties"]["status"]["enum"] == ["starting", "shutting down"]
    examples = [example["value"] for example in content["examples"].values()]
    assert examples == [{"status": "starting"}, {"status": "shutting down"}]


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
