"""``python -m ci render --env ENV``: print the manifests Argo CD would apply to an environment
(settings read from gitops/argocd/, Helm's engine)."""

import argparse
import sys

from ci.chart.helm import DEFAULT_KUBE_VERSION, render_env, to_yaml
from ci.errors import UsageError
from ci.options import env_flag


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "render",
        help="print the manifests Argo CD would apply to an environment",
        description="Render helm-chart/ for ENV exactly as Argo CD would (settings read from "
        "gitops/argocd/) and print the manifests.",
    )
    env_flag(parser, "--env", "RENDER_ENV", required=False, help="environment name")
    parser.add_argument(
        "--api-versions",
        action="append",
        default=[],
        metavar="GROUP/VERSION",
        help="an API version the cluster serves, e.g. monitoring.coreos.com/v1 (repeatable)",
    )
    env_flag(
        parser,
        "--kube-version",
        "KUBE_VERSION",
        default=DEFAULT_KUBE_VERSION,
        help="the cluster's Kubernetes version",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if not args.env:
        raise UsageError("--env is required (or set RENDER_ENV)")
    docs = render_env(args.env, api_versions=args.api_versions, kube_version=args.kube_version)
    sys.stdout.write(to_yaml(docs))
    return 0
