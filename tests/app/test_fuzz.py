"""Schema-driven fuzz of the OpenAPI surface against the real server: no 5xx, and every response
as the schema documents it. Schemathesis reads /openapi.json from the running service and
generates requests (valid and invalid) for each operation; bounded per operation."""

from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from tests.support.server import PRODUCTION_FLAGS, RunningServer, running_server

pytestmark = pytest.mark.integration

EXAMPLES_PER_OPERATION = 80
PATHS = ["/-/health", "/-/liveness", "/-/metrics", "/-/readiness", "/api/echo"]
METRICS_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@pytest.fixture(scope="module")
def live_server() -> Iterator[RunningServer]:
    with running_server(PRODUCTION_FLAGS, env={"APP_ECHO_MAX_LENGTH": "64"}) as server:
        yield server


def operations(server: RunningServer) -> list[schemathesis.APIOperation]:
    schema = schemathesis.openapi.from_url(server.url("/openapi.json"))
    return [result.ok() for result in schema.get_all_operations()]


def test_schema_lists_every_endpoint(live_server: RunningServer) -> None:
    paths = sorted(op.path for op in operations(live_server))
    assert paths == PATHS


@pytest.mark.parametrize("path", PATHS)
def test_no_server_errors_and_responses_match_the_schema(
    live_server: RunningServer, path: str
) -> None:
    (operation,) = [op for op in operations(live_server) if op.path == path]
    modes = [GenerationMode.POSITIVE]
    if operation.query:  # only operations with parameters have invalid inputs to generate
        modes.append(GenerationMode.NEGATIVE)
    statuses = set()

    @given(case=st.one_of(*(operation.as_strategy(mode) for mode in modes)))
    @hypothesis_settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
        database=None,
    )
    def check(case: schemathesis.Case) -> None:
        response = case.call(base_url=live_server.base_url, timeout=10)
        assert response.status_code < 500, case.as_curl_command()
        expected = METRICS_TYPE if path == "/-/metrics" else "application/json"
        assert response.headers["content-type"] == [expected]
        case.validate_response(response)
        statuses.add(response.status_code)

    check()
    assert 200 in statuses
    if path == "/api/echo":
        assert 422 in statuses  # the negative cases did reach validation
