"""The chart as Argo CD renders it (moving into a package: ``helm`` holds everything for now)."""

from ci.chart.helm import (
    CHART_DIR,
    LINT_IMAGE,
    REPO_ROOT,
    application_for,
    applications,
    argocd_documents,
    environments,
    lint,
    merge_values,
    objects,
    register,
    render_chart,
    render_env,
    to_yaml,
    user_values,
)

__all__ = [
    "CHART_DIR",
    "LINT_IMAGE",
    "REPO_ROOT",
    "application_for",
    "applications",
    "argocd_documents",
    "environments",
    "lint",
    "merge_values",
    "objects",
    "register",
    "render_chart",
    "render_env",
    "to_yaml",
    "user_values",
]
