"""``python -m ci chart-lint`` and ``python -m ci render``: the command line over ``helm``.

python -m ci render --env dev        # the manifests Argo CD would apply to dev
python -m ci chart-lint              # helm lint --strict, with every environment's values
"""

import argparse
import sys
from collections.abc import Mapping
from typing import Any

from ci.chart.argocd import REPO_ROOT, environments
from ci.chart.helm import (
    CHART_DIR,
    DEFAULT_KUBE_VERSION,
    LINT_IMAGE,
    lint,
    render_env,
    to_yaml,
    user_values,
)
from ci.errors import CiError, UsageError
from ci.options import env_flag


def register(subparsers: argparse._SubParsersAction) -> None:
    lint_parser = subparsers.add_parser(
        "chart-lint",
        help="helm lint --strict the chart, with the defaults and with every environment's values",
        description="helm lint --strict helm-chart/ with its defaults and with each environment's "
        "values as Argo CD passes them.",
    )
    lint_parser.set_defaults(run=run_lint)

    render_parser = subparsers.add_parser(
        "render",
        help="print the manifests Argo CD would apply to an environment",
        description="Render helm-chart/ for ENV exactly as Argo CD would (settings read from "
        "gitops/argocd/) and print the manifests.",
    )
    env_flag(render_parser, "--env", "RENDER_ENV", required=False, help="environment name")
    render_parser.add_argument(
        "--api-versions",
        action="append",
        default=[],
        metavar="GROUP/VERSION",
        help="an API version the cluster serves, e.g. monitoring.coreos.com/v1 (repeatable)",
    )
    env_flag(
        render_parser,
        "--kube-version",
        "KUBE_VERSION",
        default=DEFAULT_KUBE_VERSION,
        help="the cluster's Kubernetes version",
    )
    render_parser.set_defaults(run=run_render)


def run_lint(args: argparse.Namespace) -> int:
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


def run_render(args: argparse.Namespace) -> int:
    if not args.env:
        raise UsageError("--env is required (or set RENDER_ENV)")
    docs = render_env(args.env, api_versions=args.api_versions, kube_version=args.kube_version)
    sys.stdout.write(to_yaml(docs))
    return 0
