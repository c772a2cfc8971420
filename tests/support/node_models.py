"""Kubernetes objects validated by a node script over a @kubernetes-models npm package (pinned in
package.json, installed by `make tools`): the schemas of custom resources that kubernetes-validate
does not carry (Argo CD's, the Prometheus Operator's)."""

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from harness.tools import in_ci
from tests.support.tools import require_tools

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).with_name("validate_models.mjs")
PACKAGES = ("@kubernetes-models/argo-cd", "@kubernetes-models/prometheus-operator")


def validate_with_models(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Validate `objects` with the npm schemas and return one {"kind", "name", "error"} per
    object, error None when valid. Skips (laptop) or fails (CI) without the packages."""
    tools = require_tools("node")
    missing = [
        package
        for package in PACKAGES
        if not (REPO_ROOT / "node_modules" / package / "package.json").is_file()
    ]
    if missing:
        reason = f"{', '.join(missing)} not installed (run `make tools`)"
        if in_ci():
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    result = subprocess.run(
        [tools["node"], str(SCRIPT)],
        input=json.dumps(objects),
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=60,
        check=True,
    )
    return json.loads(result.stdout)
