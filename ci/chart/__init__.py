"""The chart as Argo CD renders it: one code path for the pipeline, the tests and the CLI.

``argocd`` reads ``gitops/argocd/`` (Applications, ApplicationSets expanded) into one ``ArgoApp``
per environment, ``helm`` merges values, renders with Helm's engine and lints, and ``commands`` is
the CLI (``python -m ci render --env dev``, ``python -m ci chart-lint``).
"""

from ci.chart.argocd import (
    ARGOCD_DIR,
    REPO_ROOT,
    ArgoApp,
    application_for,
    applications,
    argocd_documents,
    environments,
    expand_applicationset,
)
from ci.chart.helm import (
    CHART_DIR,
    DEFAULT_KUBE_VERSION,
    LINT_IMAGE,
    lint,
    merge_values,
    objects,
    render_app,
    render_chart,
    render_env,
    to_yaml,
    user_values,
)

__all__ = [
    "ARGOCD_DIR",
    "CHART_DIR",
    "DEFAULT_KUBE_VERSION",
    "LINT_IMAGE",
    "REPO_ROOT",
    "ArgoApp",
    "application_for",
    "applications",
    "argocd_documents",
    "environments",
    "expand_applicationset",
    "lint",
    "merge_values",
    "objects",
    "render_app",
    "render_chart",
    "render_env",
    "to_yaml",
    "user_values",
]
