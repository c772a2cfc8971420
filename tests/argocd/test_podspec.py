"""The pod spec the stand-in's node runs, read from the real render of dev (pure functions)."""

import copy
import json
import re
from dataclasses import replace

import pytest

from app import SERVICE_NAME
from ci import chart
from tests.argocd.conftest import ROOT
from tests.support.argocd.podspec import (
    PodSpecError,
    Probe,
    container_argv,
    pod_spec,
    pull_reference,
)

# The image's CMD, from the Dockerfile itself.
CMD = json.loads(re.search(r"^CMD (\[.*\])$", (ROOT / "Dockerfile").read_text(), re.M)[1])


@pytest.fixture(scope="module")
def dev_objects():
    return chart.render_env("dev")


def test_dev_pod_spec_has_the_rendered_security_env_and_probes(dev_objects):
    spec = pod_spec(dev_objects, f"{SERVICE_NAME}-dev")
    assert (spec.deployment, spec.namespace) == (SERVICE_NAME, f"{SERVICE_NAME}-dev")
    assert spec.user == "10001:10001"
    assert spec.read_only_root is True
    assert spec.writable_paths == ("/tmp",)
    env = dict(spec.env)
    assert env["APP_LOG_FORMAT"] == "json"
    assert env["APP_SHUTDOWN_DELAY_SECONDS"] == "5"
    assert spec.container_port == 8080
    assert spec.readiness == Probe("/-/readiness", 8080, 5.0, 2.0, 2, 0.0)
    assert spec.startup is not None
    assert spec.startup.budget == 60.0  # 30 failures x 2 s: when Kubernetes would restart it
    assert spec.command is None
    assert spec.args is None
    assert spec.grace_seconds == 30.0


def test_the_image_cmd_moves_to_loopback_and_a_free_port(dev_objects):
    spec = pod_spec(dev_objects, "ns")
    argv = container_argv(spec, (), CMD, 43210)
    assert argv[argv.index("--host") + 1] == "127.0.0.1"
    assert argv[argv.index("--port") + 1] == "43210"
    # Everything else is the image's own command line.
    assert [a for a in argv if a not in ("127.0.0.1", "43210")] == [
        a for a in CMD if a not in ("0.0.0.0", "8080")
    ]


def test_spec_args_replace_cmd_and_command_replaces_entrypoint(dev_objects):
    spec = pod_spec(dev_objects, "ns")
    with_args = replace(spec, args=("serve", "--port=8080"))
    assert container_argv(with_args, ("tini", "--"), CMD, 1234) == [
        "tini",
        "--",
        "serve",
        "--port",
        "1234",
    ]
    with_command = replace(spec, command=("app", "--port", "8080"))
    assert container_argv(with_command, ("tini",), CMD, 99) == ["app", "--port", "99"]


@pytest.mark.parametrize(
    ("cmd", "problem"),
    [
        (["uvicorn", "app.main:app"], "does not name --port 8080"),
        (["uvicorn", "app.main:app", "--port", "9000"], "listens on port 9000"),
    ],
)
def test_a_command_the_port_cannot_be_moved_in_is_refused(dev_objects, cmd, problem):
    with pytest.raises(PodSpecError, match=problem):
        container_argv(pod_spec(dev_objects, "ns"), (), cmd, 1234)


def _deployment(dev_objects):
    return next(o for o in dev_objects if o["kind"] == "Deployment")


def test_unsupported_pod_specs_are_refused_with_a_reason(dev_objects):
    two = copy.deepcopy(dev_objects)
    containers = _deployment(two)["spec"]["template"]["spec"]["containers"]
    containers.append({**containers[0], "name": "sidecar"})
    with pytest.raises(PodSpecError, match="exactly one container"):
        pod_spec(two, "ns")
    secret_env = copy.deepcopy(dev_objects)
    container = _deployment(secret_env)["spec"]["template"]["spec"]["containers"][0]
    container["env"].append({"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "s"}}})
    with pytest.raises(PodSpecError, match="TOKEN: valueFrom"):
        pod_spec(secret_env, "ns")
    with pytest.raises(PodSpecError, match="exactly one Deployment, found 0"):
        pod_spec([o for o in dev_objects if o["kind"] != "Deployment"], "ns")


@pytest.mark.parametrize(
    ("image", "pulled"),
    [
        ("127.0.0.1:5000/app:abc", "127.0.0.1:5000/app:abc"),
        ("127.0.0.1:5000/app:abc@sha256:" + "a" * 64, "127.0.0.1:5000/app@sha256:" + "a" * 64),
        ("registry/team/app@sha256:" + "b" * 64, "registry/team/app@sha256:" + "b" * 64),
    ],
)
def test_a_digest_is_pulled_by_digest(image, pulled):
    assert pull_reference(image) == pulled
