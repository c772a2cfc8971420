"""The chart rendered exactly as Argo CD renders it, and `helm lint`: one code path for all callers.

Argo CD (v3.5) renders a Helm source like ``helm template``: the chart at ``source.path``, release
name ``source.helm.releaseName`` (else the Application's name), namespace = the destination
namespace, ``valueFiles`` in order (relative to the chart, later files win), then ``valuesObject``,
with the destination cluster's Kubernetes version and API versions as ``.Capabilities``. Those
settings come from ``ci.chart.argocd`` (the manifests in ``gitops/argocd/``); nothing is copied.
Helm itself is helm-python-sdk (Helm 4's Go SDK), the engine Argo CD's repo-server uses.
"""

import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import helm_python
import yaml

from ci.chart import helm_sdk
from ci.chart.argocd import REPO_ROOT, ArgoApp, application_for
from ci.errors import CiError, UsageError, one_line

CHART_DIR = "helm-chart"
# libyaml's safe loader when PyYAML has it (parsing renders is most of a check's time).
FAST_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
# What the render assumes of the cluster unless told otherwise: Helm's own default version.
DEFAULT_KUBE_VERSION = "v1.36.0"


# --- values and rendering -------------------------------------------------------------------


def merge_values(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Helm's mergeMaps for -f files: maps merge recursively, anything else in override wins."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = merge_values(merged[key], value)
        else:
            merged[key] = value
    return merged


def user_values(app: ArgoApp, repo_root: Path = REPO_ROOT) -> dict[str, Any]:
    """The values Argo CD passes to Helm: valueFiles in order, then valuesObject."""
    chart_dir = (repo_root / app.chart_path).resolve()
    values: dict[str, Any] = {}
    for value_file in app.value_files:
        path = (chart_dir / value_file).resolve()
        if not path.is_relative_to(repo_root.resolve()):
            raise CiError(f"Application {app.name}: value file {value_file} is outside the repo")
        if not path.is_file():
            if app.ignore_missing_value_files:
                continue
            rel = path.relative_to(repo_root.resolve())
            raise CiError(f"Application {app.name}: value file {rel} does not exist")
        rel = path.relative_to(repo_root.resolve())
        try:
            loaded = helm_python.values_from_yaml(path.read_text(encoding="utf-8"))
        except UnicodeDecodeError:
            raise CiError(f"{rel}: not UTF-8") from None
        except helm_python.HelmError as error:
            raise CiError(f"{rel}: {one_line(str(error))}") from None
        values = merge_values(values, loaded)
    return merge_values(values, app.values_object)


def render_app(
    app: ArgoApp,
    repo_root: Path = REPO_ROOT,
    *,
    api_versions: Sequence[str] = (),
    kube_version: str = DEFAULT_KUBE_VERSION,
) -> dict[str, str]:
    """Template path -> rendered text, as ``helm template`` in Argo CD's repo-server produces it.

    ``api_versions`` and ``kube_version`` are what Argo CD passes from the destination cluster
    (``--api-versions``, ``--kube-version``): they drive ``.Capabilities``.
    """
    chart_dir = repo_root / app.chart_path
    values = user_values(app, repo_root)
    return render_chart(
        chart_dir,
        values,
        release_name=app.release_name,
        namespace=app.namespace,
        api_versions=api_versions,
        kube_version=kube_version,
    )


def render_chart(
    chart_dir: Path,
    values: Mapping[str, Any],
    *,
    release_name: str,
    namespace: str,
    api_versions: Sequence[str] = (),
    kube_version: str = DEFAULT_KUBE_VERSION,
) -> dict[str, str]:
    """Render a chart directory with Helm's engine (schema validated first, as Helm does)."""
    try:
        with helm_python.Chart.load(chart_dir) as chart:
            _check_kube_version(chart.metadata.get("kubeVersion", ""), kube_version)
            chart.validate_schema(chart.merge_values(dict(values)))
            # Chart.render() does not expose Helm's api_versions / kube_version options.
            options = {
                "name": release_name,
                "namespace": namespace,
                "is_install": True,
                "kube_version": kube_version,
                "api_versions": list(api_versions),
            }
            return helm_sdk.render(chart, values, options)
    except helm_python.HelmError as error:
        raise CiError(f"{chart_dir.name}: {one_line(str(error))}") from None


def _check_kube_version(constraint: str, kube_version: str) -> None:
    """``helm template``'s check of Chart.yaml kubeVersion (comparisons joined by AND only)."""
    if "||" in constraint:
        raise CiError(f"Chart.yaml kubeVersion {constraint!r}: OR ranges are not supported here")
    version = _version_tuple(kube_version)
    for operator, bound in re.findall(r"(!=|>=|<=|>|<|=)?\s*v?([0-9][0-9A-Za-z.+-]*)", constraint):
        limit = _version_tuple(bound)
        ok = {
            ">=": version >= limit,
            "<=": version <= limit,
            ">": version > limit,
            "<": version < limit,
            "!=": version != limit,
        }.get(operator, version == limit)
        if not ok:
            raise CiError(
                f"chart requires kubeVersion: {constraint} which is incompatible with Kubernetes "
                f"{kube_version}"
            )


def _version_tuple(version: str) -> tuple[int, ...]:
    numbers = re.match(r"v?(\d+)(?:\.(\d+))?(?:\.(\d+))?", version.strip())
    if not numbers:
        raise UsageError(f"not a Kubernetes version: {version!r}")
    return tuple(int(part or 0) for part in numbers.groups())


def objects(rendered: Mapping[str, str]) -> list[dict[str, Any]]:
    """The Kubernetes objects of a render, as ``helm template`` prints them (NOTES.txt left out)."""
    found = []
    for path in sorted(rendered):
        if path.endswith("NOTES.txt"):
            continue
        found.extend(doc for doc in yaml.load_all(rendered[path], Loader=FAST_LOADER) if doc)
    return found


def render_env(env: str, repo_root: Path = REPO_ROOT, **capabilities: Any) -> list[dict[str, Any]]:
    """The objects Argo CD would apply for one environment."""
    return objects(render_app(application_for(env, repo_root), repo_root, **capabilities))


def to_yaml(docs: Iterable[Mapping[str, Any]]) -> str:
    return "".join("---\n" + yaml.safe_dump(dict(doc), sort_keys=False) for doc in docs)


# --- lint -----------------------------------------------------------------------------------


def lint(
    chart_dir: Path | None = None, values: Mapping[str, Any] | None = None, *, strict: bool = True
) -> list[str]:
    """``helm lint [--strict]``: the findings as one-line messages (empty when clean)."""
    chart_dir = chart_dir or REPO_ROOT / CHART_DIR
    try:
        report = helm_python.lint(
            chart_dir, None if values is None else dict(values), strict=strict
        )
    except helm_python.HelmError as error:
        raise CiError(f"{chart_dir}: {one_line(str(error))}") from None
    findings = [
        f"{_SEVERITY.get(m.get('severity'), 'UNKNOWN')}: {m.get('path', '')}: {m.get('error', '')}"
        for m in report.get("messages") or []
        if m.get("severity", 0) >= (2 if strict else 3)
    ] or [str(error) for error in report.get("errors") or []]
    return [one_line(finding) for finding in findings]


_SEVERITY = {0: "UNKNOWN", 1: "INFO", 2: "WARNING", 3: "ERROR"}

# The chart has no default image (each environment's gitops file must set it), so the chart's own
# defaults are linted with this one stand-in.
LINT_IMAGE = {"image": {"repository": "registry.invalid/chart-lint", "tag": "lint"}}
