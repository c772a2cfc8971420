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


def validate_with_models(
    script: Path, package: str, objects: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Run `script` (objects as JSON on stdin) and return its results: one {"kind", "name",
    "error"} per object, error None when valid. Skips (laptop) or fails (CI) without the package."""
    tools = require_tools("node")
    if not (REPO_ROOT / "node_modules" / package / "package.json").is_file():
        reason = f"{package} is not installed (run `make tools`)"
        if in_ci():
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    result = subprocess.run(
        [tools["node"], str(script)],
        input=json.dumps(objects),
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=60,
        check=True,
    )
    return json.loads(result.stdout)
