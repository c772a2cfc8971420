"""helm lint --strict is clean, and the same code reports a broken chart."""

from pathlib import Path

import pytest

from ci import chart
from tests.chart.conftest import ENVIRONMENTS
from tests.support.cli import run_ci


def test_lint_strict_clean_with_every_environment():
    assert chart.lint(values=chart.LINT_IMAGE) == []
    for env in ENVIRONMENTS:
        assert chart.lint(values=chart.user_values(chart.application_for(env))) == [], env


def test_lint_without_an_image_names_the_missing_keys():
    """The chart has no default image on purpose: gitops/<env>/values.yaml must set it."""
    findings = chart.lint()
    assert findings
    assert any("missing properties 'repository', 'tag'" in f for f in findings), findings


def test_lint_reports_a_broken_template(chart_copy: Path):
    (chart_copy / "templates" / "broken.yaml").write_text("kind: {{ .Values.nope.deeper }}\n")
    findings = chart.lint(chart_copy, chart.LINT_IMAGE)
    assert any("broken.yaml" in f and "nil pointer" in f for f in findings), findings


def test_strict_lint_fails_on_warnings_that_plain_lint_lets_through(chart_copy: Path):
    (chart_copy / "templates" / "nameless.yaml").write_text("kind: ConfigMap\napiVersion: v1\n")
    assert chart.lint(chart_copy, chart.LINT_IMAGE, strict=False) == []
    (finding,) = chart.lint(chart_copy, chart.LINT_IMAGE, strict=True)
    assert finding.startswith("WARNING: templates/nameless.yaml: object name does not conform")


@pytest.mark.integration
def test_chart_lint_command():
    result = run_ci("chart-lint")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "chart-lint: chart defaults: clean",
        *(f"chart-lint: {env}: clean" for env in ENVIRONMENTS),
    ]


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
