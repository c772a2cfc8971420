"""The chart and the real service agree: probes, port, user, graceful shutdown, the metrics the
ServiceMonitor scrapes and the proxies the chart trusts.

The service runs for real (uvicorn in a subprocess, with the flags of the Dockerfile's CMD and the
APP_* environment the rendered Deployment gives it); the answers come from it, not from a list.
"""

import json
import signal
import time
import urllib.error
import urllib.request

import pytest

from tests.chart.conftest import (
    ENVIRONMENTS,
    PROMETHEUS_OPERATOR,
    REPO_ROOT,
    kinds,
    only_deployment_container,
    render_with,
)
from tests.support.server import running_server

DOCKERFILE = REPO_ROOT / "Dockerfile"


def dockerfile_instruction(name: str) -> str:
    (line,) = [ln for ln in DOCKERFILE.read_text().splitlines() if ln.startswith(name + " ")]
    return line.removeprefix(name + " ").strip()


def dockerfile_cmd() -> list[str]:
    return json.loads(dockerfile_instruction("CMD"))


def flag(command: list[str], name: str) -> str:
    return command[command.index(name) + 1]


def server_flags() -> list[str]:
    """The CMD's uvicorn flags minus the app, host and port (the test server picks those)."""
    command = dockerfile_cmd()[2:]
    for name in ("--host", "--port"):
        index = command.index(name)
        del command[index : index + 2]
    return command


def container_env(container) -> dict[str, str]:
    return {item["name"]: item["value"] for item in container.get("env", [])}


def status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def probe_paths(container) -> dict[str, str]:
    return {
        kind: container[kind]["httpGet"]["path"]
        for kind in ("startupProbe", "livenessProbe", "readinessProbe")
    }


@pytest.mark.integration
@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_probe_path_is_served_by_the_app(env, rendered_envs):
    container = only_deployment_container(rendered_envs[env])
    paths = probe_paths(container)
    assert all(container[kind]["httpGet"]["port"] == "http" for kind in paths)
    quick_stop = {**container_env(container), "APP_SHUTDOWN_DELAY_SECONDS": "0"}
    with running_server(server_flags(), env=quick_stop) as server:
        answers = {kind: status(server.url(path)) for kind, path in paths.items()}
        assert status(server.url("/-/no-such-probe")) == 404  # the check can fail
    assert answers == dict.fromkeys(paths, 200)


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_port_and_user_match_the_image(env, rendered_envs):
    pod = kinds(rendered_envs[env])["Deployment"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    (port,) = container["ports"]
    assert port["name"] == "http"
    assert str(port["containerPort"]) == flag(dockerfile_cmd(), "--port")
    user = dockerfile_instruction("USER").split(":")[0]
    assert str(pod["securityContext"]["runAsUser"]) == user
    assert str(container["securityContext"]["runAsUser"]) == user


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_grace_period_covers_the_whole_shutdown(env, rendered_envs):
    pod = kinds(rendered_envs[env])["Deployment"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    delay = int(container_env(container)["APP_SHUTDOWN_DELAY_SECONDS"])
    pre_stop = container.get("lifecycle", {}).get("preStop", {}).get("sleep", {}).get("seconds", 0)
    server_timeout = int(flag(dockerfile_cmd(), "--timeout-graceful-shutdown"))
    assert delay >= 1  # time for the endpoints to drop the pod before the server stops accepting
    assert pod["terminationGracePeriodSeconds"] >= pre_stop + delay + server_timeout + 5


@pytest.mark.integration
def test_app_drains_within_the_grace_period(rendered_envs):
    """SIGTERM: readiness 503 at once while the app still serves, exit well before SIGKILL."""
    docs = rendered_envs[ENVIRONMENTS[0]]
    pod = kinds(docs)["Deployment"]["spec"]["template"]["spec"]
    container = only_deployment_container(docs)
    paths = probe_paths(container)
    delay = int(container_env(container)["APP_SHUTDOWN_DELAY_SECONDS"])
    with running_server(server_flags(), env=container_env(container)) as server:
        assert status(server.url(paths["readinessProbe"])) == 200
        server.signal(signal.SIGTERM)
        started = time.monotonic()
        while status(server.url(paths["readinessProbe"])) != 503:  # at once, within a second
            assert time.monotonic() - started < 1.0, "readiness did not turn 503"
            time.sleep(0.02)
        assert status(server.url(paths["livenessProbe"])) == 200
        assert status(server.url("/api/echo?text=still-serving")) == 200
        exit_code = server.wait(timeout=pod["terminationGracePeriodSeconds"])
        elapsed = time.monotonic() - started
    # uvicorn's graceful end: status 0, or (0.29 on) SIGTERM raised again once done.
    assert exit_code in (0, -signal.SIGTERM)
    assert "Finished server process" in server.output()
    assert delay - 0.5 <= elapsed < pod["terminationGracePeriodSeconds"]


@pytest.mark.integration
def test_service_monitor_scrapes_what_the_app_serves():
    docs = render_with({}, api_versions=PROMETHEUS_OPERATOR)
    (endpoint,) = kinds(docs)["ServiceMonitor"]["spec"]["endpoints"]
    container = only_deployment_container(docs)
    quick_stop = {**container_env(container), "APP_SHUTDOWN_DELAY_SECONDS": "0"}
    with running_server(server_flags(), env=quick_stop) as server:
        status(server.url("/api/echo?text=x"))
        with urllib.request.urlopen(server.url(endpoint["path"]), timeout=5) as response:
            content_type = response.headers["content-type"]
            body = response.read().decode()
    assert content_type.startswith("text/plain; version=0.0.4")
    assert "# TYPE http_server_request_duration_seconds histogram" in body
    assert 'http_route="/api/echo"' in body


@pytest.mark.integration
@pytest.mark.parametrize(
    ("trusted", "client"),
    [
        (None, "127.0.0.1"),  # the chart's default (the VPC) does not include the test's peer
        (["127.0.0.1"], "203.0.113.7"),
    ],
)
def test_the_charts_trusted_proxies_take_effect_under_the_images_cmd(trusted, client):
    """The chart's FORWARDED_ALLOW_IPS, with the Dockerfile's CMD (which must not override it):
    X-Forwarded-For is believed from a trusted peer only, as the access log shows."""
    values = {} if trusted is None else {"forwardedAllowIps": trusted}
    container = only_deployment_container(render_with(values))
    env = {
        **container_env(container),
        "APP_SHUTDOWN_DELAY_SECONDS": "0",
        "APP_ACCESS_LOG": "true",
        "APP_LOG_FORMAT": "json",
    }
    with running_server(server_flags(), env=env) as server:
        request = urllib.request.Request(
            server.url("/api/echo?text=proxied"), headers={"X-Forwarded-For": "203.0.113.7"}
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            assert response.status == 200
    access = [
        json.loads(line)
        for line in server.output().splitlines()
        if line.startswith("{") and '"app.access"' in line and "/api/echo" in line
    ]
    assert [entry["client"].rpartition(":")[0] for entry in access] == [client]
