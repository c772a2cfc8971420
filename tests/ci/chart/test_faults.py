"""``ci.chart.faults``: which value file a person fixes for a render error, from Helm's own schema
errors on a copy of this project (the last of the Application's value files that sets the key, as
later files win in Helm)."""

import shutil
from pathlib import Path

import pytest

from ci import chart
from ci.chart.faults import files_at_fault
from ci.errors import CiError
from tests.chart.conftest import REPO_ROOT


def render_error(root: Path, env: str = "dev") -> str:
    app = chart.application_for(env, root)
    with pytest.raises(CiError) as raised:
        chart.render_app(app, root)
    return str(raised.value)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    for name in ("helm-chart", "gitops"):
        shutil.copytree(REPO_ROOT / name, tmp_path / name)
    for values in REPO_ROOT.glob("values.*.yaml"):
        shutil.copy(values, tmp_path / values.name)
    return tmp_path


def add(root: Path, rel: str, text: str) -> None:
    path = root / rel
    path.write_text(path.read_text() + text)


def test_a_wrong_type_names_the_file_that_sets_the_key(root: Path) -> None:
    people = root / "values.dev.yaml"
    people.write_text(people.read_text().replace("replicaCount: 1", "replicaCount: two"))
    app = chart.application_for("dev", root)
    assert files_at_fault(app, root, render_error(root)) == ["values.dev.yaml: replicaCount"]


def test_the_last_file_that_sets_the_key_is_named(root: Path) -> None:
    add(root, "values.dev.yaml", "\nimage:\n  pullPolicy: Always\n")
    add(root, "gitops/dev/values.yaml", "  pullPolicy: Sometimes\n")
    app = chart.application_for("dev", root)
    assert files_at_fault(app, root, render_error(root)) == [
        "gitops/dev/values.yaml: image.pullPolicy"
    ]


def test_an_unknown_key_is_named_where_it_is_set(root: Path) -> None:
    add(root, "gitops/dev/values.yaml", "  tga: typo\n")
    app = chart.application_for("dev", root)
    assert files_at_fault(app, root, render_error(root)) == ["gitops/dev/values.yaml: image.tga"]


def test_an_error_without_a_key_names_no_file(root: Path) -> None:
    app = chart.application_for("dev", root)
    assert files_at_fault(app, root, "template: deployment.yaml:3: nil pointer") == []
