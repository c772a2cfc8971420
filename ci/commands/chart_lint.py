"""``python -m ci chart-lint``: ``helm lint --strict`` of helm-chart/, with its defaults and with
each environment's values as Argo CD passes them."""

import argparse
import sys
from collections.abc import Mapping
from typing import Any

from ci.chart.argocd import REPO_ROOT, environments
from ci.chart.helm import CHART_DIR, LINT_IMAGE, lint, user_values
from ci.errors import CiError


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "chart-lint",
        help="helm lint --strict the chart, with the defaults and with every environment's values",
        description=__doc__,
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    targets: list[tuple[str, Mapping[str, Any]]] = [("chart defaults", LINT_IMAGE)]
    targets += [(env, user_values(app)) for env, app in environments().items()]
    failed = False
    for label, values in targets:
        findings = lint(REPO_ROOT / CHART_DIR, values)
        for finding in findings:
            print(f"{label}: {finding}", file=sys.stderr)
        failed = failed or bool(findings)
        print(f"chart-lint: {label}: {'FAILED' if findings else 'clean'}")
    if failed:
        raise CiError("helm lint --strict found problems (listed above)")
    return 0
