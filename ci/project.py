"""The service's name as the delivery tooling knows it: ``name`` in ``helm-chart/Chart.yaml``, what
Helm and Argo CD call it. ``ci/`` does not import ``app/`` (the image's code); ``make rename``
renames both, and a test keeps this equal to ``app.SERVICE_NAME``."""

from functools import cache
from pathlib import Path

import yaml

CHART_FILE = Path(__file__).resolve().parent.parent / "helm-chart" / "Chart.yaml"


@cache
def service_name(chart_file: Path = CHART_FILE) -> str:
    return str(yaml.safe_load(chart_file.read_text())["name"])
