"""``python -m ci chart-lint``: ``helm lint --strict`` of the chart with its defaults and with each
environment's values, one line each."""

import pytest

from tests.chart.conftest import ENVIRONMENTS
from tests.support.cli import run_ci


@pytest.mark.integration
def test_chart_lint_command():
    result = run_ci("chart-lint")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "chart-lint: chart defaults: clean",
        *(f"chart-lint: {env}: clean" for env in ENVIRONMENTS),
    ]
