"""Every endpoint through ASGI, on the deployed stack and on FastAPI alone."""

import httpx
import pytest

from app.shutdown import ShutdownState

pytestmark = pytest.mark.anyio
STACKS = ["client", "fastapi_client"]


@pytest.fixture(params=STACKS)
def any_client(request: pytest.FixtureRequest) -> httpx.AsyncClient:
    return request.getfixturevalue(request.param)


async def test_health_reports_build_and_host(any_client: httpx.AsyncClient) -> None:
    response = await any_client.get("/-/health")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {
        "status": "ok",
        "version": "1.2.3",
        "revision": "abc123",
        "debug": {"hostname": "test-host", "ip": "10.1.2.3"},
    }


async def test_liveness(any_client: httpx.AsyncClient) -> None:
    response = await any_client.get("/-/liveness")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


async def test_readiness_turns_503_when_shutdown_begins(
    any_client: httpx.AsyncClient, state: ShutdownState
) -> None:
    assert (await any_client.get("/-/readiness")).status_code == 200
    state.begin()
    response = await any_client.get("/-/readiness")
    assert (response.status_code, response.json()) == (503, {"status": "shutting down"})
    assert (await any_client.get("/-/liveness")).status_code == 200


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
