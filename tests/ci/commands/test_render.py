"""``python -m ci render --env ENV``: the manifests Argo CD would apply, what the cluster serves
(``--api-versions``, ``--kube-version``), an unknown environment in one line."""

import pytest

from ci import chart
from tests.chart.conftest import ENVIRONMENTS
from tests.support.cli import run_ci


@pytest.mark.integration
def test_render_command_prints_the_environment():
    env = ENVIRONMENTS[0]
    result = run_ci("render", "--env", env)
    assert result.returncode == 0, result.stderr
    assert result.stdout == chart.to_yaml(chart.render_env(env))


@pytest.mark.integration
def test_render_command_unknown_environment():
    result = run_ci("render", "--env", "nope")
    assert result.returncode == 2
    known = ", ".join(ENVIRONMENTS)
    assert result.stderr == f"error: unknown environment 'nope' (known: {known})\n"
    assert result.stdout == ""


@pytest.mark.integration
def test_render_command_capabilities():
    result = run_ci(
        "render", "--env", ENVIRONMENTS[0], "--api-versions", "monitoring.coreos.com/v1"
    )
    assert result.returncode == 0, result.stderr
    old = run_ci("render", "--env", ENVIRONMENTS[0], "--kube-version", "1.20.0")
    assert old.returncode == 1
    assert old.stderr.startswith("error: chart requires kubeVersion: ")
