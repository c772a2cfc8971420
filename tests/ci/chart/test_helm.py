"""``ci.chart.helm``: Helm's engine and lint as Argo CD and ``helm lint --strict`` use them: a
broken template is reported, strict lint fails on warnings, values merge as Helm merges maps, a
cluster older than the chart's kubeVersion is a render error."""

import shutil
from pathlib import Path

import pytest
import yaml

from ci import chart
from ci.errors import CiError
from tests.chart.conftest import CHART_DIR, REPO_ROOT, kinds, render_with


@pytest.fixture
def chart_copy(tmp_path: Path) -> Path:
    """A scratch copy of helm-chart/ to break on purpose."""
    target = tmp_path / "helm-chart"
    shutil.copytree(CHART_DIR, target)
    return target


def test_lint_reports_a_broken_template(chart_copy: Path):
    (chart_copy / "templates" / "broken.yaml").write_text("kind: {{ .Values.nope.deeper }}\n")
    findings = chart.lint(chart_copy, chart.LINT_IMAGE)
    assert any("broken.yaml" in f and "nil pointer" in f for f in findings), findings


def test_strict_lint_fails_on_warnings_that_plain_lint_lets_through(chart_copy: Path):
    (chart_copy / "templates" / "nameless.yaml").write_text("kind: ConfigMap\napiVersion: v1\n")
    assert chart.lint(chart_copy, chart.LINT_IMAGE, strict=False) == []
    (finding,) = chart.lint(chart_copy, chart.LINT_IMAGE, strict=True)
    assert finding.startswith("WARNING: templates/nameless.yaml: object name does not conform")


def test_merge_values_is_helms_merge_maps():
    base = {"a": {"b": 1, "c": [1, 2]}, "d": "x", "e": {"f": 1}}
    over = {"a": {"c": [3], "g": 2}, "d": {"now": "a map"}, "e": None}
    assert chart.merge_values(base, over) == {
        "a": {"b": 1, "c": [3], "g": 2},
        "d": {"now": "a map"},
        "e": None,
    }
    assert base == {"a": {"b": 1, "c": [1, 2]}, "d": "x", "e": {"f": 1}}  # inputs untouched


def test_too_old_cluster_is_a_render_error():
    with pytest.raises(CiError) as raised:
        render_with({}, kube_version="v1.25.0")
    constraint = yaml.safe_load((REPO_ROOT / "helm-chart" / "Chart.yaml").read_text())[
        "kubeVersion"
    ]
    assert str(raised.value) == (
        f"chart requires kubeVersion: {constraint} which is incompatible with Kubernetes v1.25.0"
    )
    assert kinds(render_with({}, kube_version="v1.30.2"))["Deployment"]
