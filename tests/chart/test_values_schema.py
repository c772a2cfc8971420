"""values.schema.json turns a bad gitops commit into a render error (what Argo CD then shows)."""

import shutil
from pathlib import Path

import pytest
import yaml

from app import SERVICE_NAME
from ci import chart
from ci.errors import CiError
from tests.chart.conftest import CHART_DIR, ENVIRONMENTS, REPO_ROOT, render_with


def render_error(values) -> str:
    with pytest.raises(CiError) as raised:
        render_with(values)
    return str(raised.value)


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        ({"tag": "has space"}, "at '/image/tag': 'has space' does not match pattern"),
        ({"tag": ""}, "at '/image/tag': '' does not match pattern"),
        ({"tag": "-leading-dash"}, "at '/image/tag'"),
        ({"tag": "x" * 129}, "at '/image/tag'"),
        ({"tag": 12345678}, "at '/image/tag': got number, want string"),
        ({"tag": None}, "at '/image/tag': got null, want string"),
        ({"repository": None}, "at '/image/repository': got null, want string"),
        ({"repository": "Upper/Case"}, "at '/image/repository'"),
        ({"repository": "registry.example.com/app:tag"}, "at '/image/repository'"),
        ({"repository": ["a"]}, "at '/image/repository': got array, want string"),
        ({"tg": "typo"}, "additional properties 'tg' not allowed"),
        ({"commit": "not-a-sha"}, "at '/image/commit'"),
        ({"pipelineUrl": "ftp://x"}, "at '/image/pipelineUrl'"),
        ({"digest": "sha256:abc"}, "at '/image/digest'"),
        ({"digest": "sha256:" + "A" * 64}, "at '/image/digest'"),
        ({"digest": "a" * 64}, "at '/image/digest'"),
        ({"digest": "sha256:" + "a" * 64 + "\n"}, "at '/image/digest'"),
        ({"pullPolicy": "Sometimes"}, "at '/image/pullPolicy'"),
    ],
)
def test_schema_rejects_bad_image_values(image, expected):
    message = render_error({"image": image})
    assert message.startswith(f"helm-chart: {SERVICE_NAME}: - at ")
    assert expected in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"replicaCount": "3"}, "at '/replicaCount': got string, want integer"),
        ({"replicaCount": -1}, "at '/replicaCount'"),
        ({"resources": {"requests": {"cpu": "lots"}}}, "at '/resources/requests/cpu'"),
        ({"env": {"LOG_LEVEL": "debug"}}, "invalid propertyName 'LOG_LEVEL'"),
        ({"env": {"APP_DEBUG": True}}, "at '/env/APP_DEBUG': got boolean, want string"),
        ({"ingress": {"enabled": True, "host": ""}}, "at '/ingress/host'"),
        (
            {"autoscaling": {"enabled": "yes"}},
            "at '/autoscaling/enabled': got string, want boolean",
        ),
        ({"replicas": 3}, "additional properties 'replicas' not allowed"),
        ({"shutdown": {"delaySeconds": 1.5}}, "at '/shutdown/delaySeconds'"),
        ({"forwardedAllowIps": ["*"]}, "at '/forwardedAllowIps/0'"),
        ({"forwardedAllowIps": "10.0.0.0/8"}, "at '/forwardedAllowIps': got string, want array"),
        ({"forwardedAllowIps": []}, "at '/forwardedAllowIps'"),
        ({"forwardedAllowIps": ["10.0.0.0/33"]}, "at '/forwardedAllowIps/0'"),
        ({"forwardedAllowIps": ["10.0.0.256"]}, "at '/forwardedAllowIps/0'"),
        ({"forwardedAllowIps": ["10.0.0.0/8,*"]}, "at '/forwardedAllowIps/0'"),
        ({"forwardedAllowIps": ["vpc.example.com"]}, "at '/forwardedAllowIps/0'"),
        ({"forwardedAllowIps": ["fd00::/129"]}, "at '/forwardedAllowIps/0'"),
        ({"serviceMonitor": {"path": "metrics"}}, "at '/serviceMonitor/path'"),
        (
            {"serviceMonitor": {"prometheusNamespace": "Monitoring"}},
            "at '/serviceMonitor/prometheusNamespace'",
        ),
        ({"prometheusRule": {"enabled": "true"}}, "at '/prometheusRule/enabled'"),
        (
            {"prometheusRule": {"availability": {"objective": 100}}},
            "at '/prometheusRule/availability/objective'",
        ),
        (
            {"prometheusRule": {"latency": {"objective": "99"}}},
            "at '/prometheusRule/latency/objective'",
        ),
        (
            {"prometheusRule": {"latency": {"thresholdSeconds": 0.1}}},
            "at '/prometheusRule/latency/thresholdSeconds'",
        ),
        (
            {"prometheusRule": {"latency": {"thresholdSeconds": "0.3"}}},
            "at '/prometheusRule/latency/thresholdSeconds'",
        ),
        (
            {"prometheusRule": {"severity": {"page": "very bad"}}},
            "at '/prometheusRule/severity/page'",
        ),
        ({"prometheusRule": {"runbookUrl": "see wiki"}}, "at '/prometheusRule/runbookUrl'"),
        ({"prometheusRule": {"routes": '/api"} or up{x="'}}, "at '/prometheusRule/routes'"),
        ({"prometheusRule": {"routes": ""}}, "at '/prometheusRule/routes'"),
        ({"prometheusRule": {"objective": 99}}, "additional properties 'objective' not allowed"),
    ],
)
def test_schema_rejects_other_bad_values(values, expected):
    assert expected in render_error(values)


@pytest.mark.parametrize("missing", ["repository", "tag"])
def test_schema_rejects_a_missing_image_key(missing):
    """A gitops file without the key: the chart has no default to fall back on."""
    image = {"repository": f"registry.example.com/{SERVICE_NAME}", "tag": "abc"}
    del image[missing]
    with pytest.raises(CiError) as raised:
        chart.render_chart(CHART_DIR, {"image": image}, release_name="r", namespace="n")
    assert str(raised.value) == (
        f"helm-chart: {SERVICE_NAME}: - at '/image': missing property '{missing}'"
    )


def test_schema_accepts_the_optional_provenance_keys():
    docs = render_with(
        {
            "image": {
                "tag": "0123abcd",
                "commit": "0123abcd" + "0" * 32,
                "pipelineUrl": "https://gitlab.example.com/g/p/-/pipelines/1",
            }
        }
    )
    assert docs


def test_bad_gitops_commit_fails_the_environment_render(tmp_path: Path):
    """What Argo CD would show: the render fails naming the key; nothing is rolled out."""
    for name in ("helm-chart", "gitops"):
        shutil.copytree(REPO_ROOT / name, tmp_path / name)
    env = ENVIRONMENTS[0]
    shutil.copy(REPO_ROOT / f"values.{env}.yaml", tmp_path)
    values_file = tmp_path / "gitops" / env / "values.yaml"
    values = yaml.safe_load(values_file.read_text())
    values["image"]["tag"] = "oops a space"
    values_file.write_text(yaml.safe_dump(values))
    with pytest.raises(CiError, match="at '/image/tag': 'oops a space' does not match"):
        chart.render_env(env, tmp_path)


@pytest.mark.parametrize(
    "trusted",
    [["10.0.0.0/8"], ["192.168.0.0/16", "172.31.0.0/16"], ["10.1.2.3"], ["fd00::/8", "::1"]],
)
def test_schema_accepts_addresses_and_networks_to_trust(trusted):
    render_with({"forwardedAllowIps": trusted})
