"""helm lint --strict of the chart is clean with every environment's values, and names the image
keys each environment must set (what ``ci.chart.helm.lint`` reports is tested in
tests/ci/chart/test_helm.py)."""

from ci import chart
from tests.chart.conftest import ENVIRONMENTS


def test_lint_strict_clean_with_every_environment():
    assert chart.lint(values=chart.LINT_IMAGE) == []
    for env in ENVIRONMENTS:
        assert chart.lint(values=chart.user_values(chart.application_for(env))) == [], env


def test_lint_without_an_image_names_the_missing_keys():
    """The chart has no default image on purpose: gitops/<env>/values.yaml must set it."""
    findings = chart.lint()
    assert findings
    assert any("missing properties 'repository', 'tag'" in f for f in findings), findings
