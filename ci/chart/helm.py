"""The chart rendered exactly as Argo CD renders it, and `helm lint`: one code path for all callers.

Argo CD (v3.5) renders a Helm source like ``helm template``: the chart at ``source.path``, release
name ``source.helm.releaseName`` (else the Application's name), namespace = the destination
namespace, ``valueFiles`` in order (relative to the chart, later files win), then ``valuesObject``,
with the destination cluster's Kubernetes version and API versions as ``.Capabilities``. Everything
here reads those settings from the manifests in ``gitops/argocd/`` (expanding the ApplicationSet the
way its git files generator does); nothing is copied. Helm itself is helm-python-sdk (Helm 4's Go
SDK), the engine Argo CD's repo-server uses.

    python -m ci render --env dev        # the manifests Argo CD would apply to dev
    python -m ci chart-lint              # helm lint --strict, with every environment's values
"""

import argparse
import fnmatch
import io
import json
import re
import sys
import tarfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import helm_python
import yaml
from helm_python import _native

from ci.errors import CiError, UsageError
from ci.options import env_flag

REPO_ROOT = Path(__file__).resolve().parent.parent.parent
ARGOCD_DIR = "gitops/argocd"
CHART_DIR = "helm-chart"
# What the render assumes of the cluster unless told otherwise: Helm's own default version.
DEFAULT_KUBE_VERSION = "v1.36.0"


@dataclass(frozen=True)
class ArgoApp:
    """What Argo CD needs to render one Application's Helm source."""

    name: str
    env: str
    chart_path: str
    release_name: str
    namespace: str
    value_files: tuple[str, ...]
    values_object: Mapping[str, Any] = field(default_factory=dict)
    ignore_missing_value_files: bool = False
    manifest: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)


# --- reading gitops/argocd/ ------------------------------------------------------------------


def argocd_documents(repo_root: Path = REPO_ROOT) -> list[dict[str, Any]]:
    """Every object in gitops/argocd/*.yaml, in file order."""
    folder = repo_root / ARGOCD_DIR
    paths = sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")])
    if not paths:
        raise CiError(f"no Argo CD manifests in {folder}")
    documents = []
    for path in paths:
        try:
            loaded = list(yaml.safe_load_all(path.read_text()))
        except yaml.YAMLError as error:
            raise CiError(f"{path}: not valid YAML: {_one_line(str(error))}") from None
        documents.extend(doc for doc in loaded if doc)
    return documents


def applications(repo_root: Path = REPO_ROOT) -> list[ArgoApp]:
    """The Applications Argo CD would run: plain ones plus those the ApplicationSets generate."""
    manifests: list[dict[str, Any]] = []
    for doc in argocd_documents(repo_root):
        if doc.get("kind") == "Application":
            manifests.append(doc)
        elif doc.get("kind") == "ApplicationSet":
            manifests.extend(expand_applicationset(doc, repo_root))
    apps = [_argo_app(manifest) for manifest in manifests]
    return sorted(apps, key=lambda app: app.env)


def environments(repo_root: Path = REPO_ROOT) -> dict[str, ArgoApp]:
    """Environment name -> its Application. Environment = the gitops/<env>/ folder it deploys."""
    found: dict[str, ArgoApp] = {}
    for app in applications(repo_root):
        if app.env in found:
            raise CiError(f"environment {app.env} is deployed by two Applications")
        found[app.env] = app
    return found


def application_for(env: str, repo_root: Path = REPO_ROOT) -> ArgoApp:
    envs = environments(repo_root)
    if env not in envs:
        known = ", ".join(sorted(envs)) or "none"
        raise UsageError(f"unknown environment {env!r} (known: {known})")
    return envs[env]


def _argo_app(manifest: Mapping[str, Any]) -> ArgoApp:
    name = manifest.get("metadata", {}).get("name", "")
    spec = manifest.get("spec", {})
    if "source" not in spec or "sources" in spec:
        raise CiError(f"Application {name}: only a single spec.source is supported")
    source = spec["source"]
    helm = source.get("helm", {})
    unsupported = sorted(set(helm) & {"parameters", "fileParameters", "values"})
    if unsupported:
        raise CiError(f"Application {name}: helm.{unsupported[0]} is not supported by ci/chart.py")
    value_files = tuple(helm.get("valueFiles", ()))
    return ArgoApp(
        name=name,
        env=_env_of(name, value_files),
        chart_path=source.get("path", ""),
        release_name=helm.get("releaseName") or name,
        namespace=spec.get("destination", {}).get("namespace", ""),
        value_files=value_files,
        values_object=helm.get("valuesObject") or {},
        ignore_missing_value_files=bool(helm.get("ignoreMissingValueFiles", False)),
        manifest=manifest,
    )


def _env_of(app_name: str, value_files: Iterable[str]) -> str:
    """The environment an Application deploys: the gitops/<env>/values.yaml among its valueFiles."""
    for value_file in value_files:
        parts = Path(value_file).parts
        if len(parts) >= 3 and parts[-3:-2] == ("gitops",) and parts[-1] == "values.yaml":
            return parts[-2]
    raise CiError(f"Application {app_name}: no gitops/<env>/values.yaml among its valueFiles")


# --- ApplicationSet expansion ---------------------------------------------------------------


def expand_applicationset(appset: Mapping[str, Any], repo_root: Path) -> list[dict[str, Any]]:
    """The Applications an ApplicationSet generates, as its controller would generate them.

    Supported: goTemplate with git ``files`` generators over this repository (and ``list``).
    Go templates run in Go's text/template with sprig, through Helm's ``tpl`` (the same libraries
    the ApplicationSet controller uses). One difference: a missing key renders empty here where
    goTemplateOptions missingkey=error makes Argo CD fail; the tests check every generated field.
    """
    name = appset.get("metadata", {}).get("name", "")
    spec = appset.get("spec", {})
    if not spec.get("goTemplate"):
        raise CiError(f"ApplicationSet {name}: only goTemplate: true is supported")
    params: list[dict[str, Any]] = []
    for generator in spec.get("generators", []):
        params.extend(_generator_params(name, generator, repo_root))
    template = spec.get("template", {})
    patch = spec.get("templatePatch")
    apps = []
    for param in params:
        app = _render_go_templates(template, param)
        if patch:
            rendered_patch = _render_go_templates(patch, param)
            app = _merge_patch(app, yaml.safe_load(rendered_patch) or {})
        app = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Application", **app}
        app.setdefault("metadata", {}).setdefault("namespace", appset["metadata"].get("namespace"))
        apps.append(app)
    return apps


def _generator_params(name: str, generator: Mapping[str, Any], repo_root: Path) -> list[dict]:
    if "list" in generator:
        return [dict(element) for element in generator["list"].get("elements", [])]
    git = generator.get("git")
    if git is None or "files" not in git:
        kinds = ", ".join(sorted(generator)) or "none"
        raise CiError(f"ApplicationSet {name}: generator {kinds} is not supported by ci/chart.py")
    includes = [item["path"] for item in git["files"] if not item.get("exclude")]
    excludes = [item["path"] for item in git["files"] if item.get("exclude")]
    matched = set()
    for pattern in includes:
        matched.update(_glob_repo_files(repo_root, pattern))
    matched = {path for path in matched if not any(_glob_match(path, p) for p in excludes)}
    params = []
    for rel in sorted(matched):
        content = yaml.safe_load((repo_root / rel).read_text()) or {}
        if not isinstance(content, dict):
            raise CiError(f"{rel}: the git files generator needs a YAML mapping")
        params.append({**content, "path": _path_params(rel)})
    return params


def _glob_repo_files(repo_root: Path, pattern: str) -> list[str]:
    """Repository files matching the generator's glob (``*`` stays within one folder)."""
    return [
        path.relative_to(repo_root).as_posix()
        for path in repo_root.glob(pattern)
        if path.is_file() and ".git" not in path.relative_to(repo_root).parts
    ]


def _glob_match(path: str, pattern: str) -> bool:
    return len(Path(path).parts) == len(Path(pattern).parts) and fnmatch.fnmatchcase(path, pattern)


def _path_params(rel: str) -> dict[str, Any]:
    """The ``.path`` parameters Argo CD's git files generator gives a matched file."""
    folder = Path(rel).parent
    return {
        "path": folder.as_posix(),
        "basename": folder.name,
        "filename": Path(rel).name,
        "basenameNormalized": _sanitize_name(folder.name),
        "filenameNormalized": _sanitize_name(Path(rel).name),
        "segments": list(folder.parts),
    }


def _sanitize_name(name: str) -> str:
    """Argo CD's utils.SanitizeName: a DNS-1123 subdomain-ish name."""
    return re.sub(r"[^-a-z0-9.]", "-", name.lower())[:253].strip("-.")


_GO_TEMPLATE_CHART = {
    "gotemplate/Chart.yaml": "apiVersion: v2\nname: gotemplate\nversion: 0.0.0\n",
    "gotemplate/templates/out.json": (
        "{{- $out := dict }}"
        "{{- range $key, $text := .Values.templates }}"
        "{{- $_ := set $out $key (tpl $text $.Values.params) }}"
        "{{- end }}"
        "{{- toJson $out }}"
    ),
}


@cache
def _go_template_chart() -> helm_python.Chart:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, text in _GO_TEMPLATE_CHART.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return helm_python.Chart.load_archive(buffer.getvalue())


def _render_go_templates(node: Any, params: Mapping[str, Any]) -> Any:
    """Render every string in ``node`` (field by field, as the controller does) in one Helm call."""
    strings: dict[str, str] = {}

    def collect(value: Any) -> Any:
        if isinstance(value, str):
            key = f"s{len(strings)}"
            strings[key] = value
            return _Slot(key)
        if isinstance(value, dict):
            return {collect(k): collect(v) for k, v in value.items()}
        if isinstance(value, list):
            return [collect(v) for v in value]
        return value

    skeleton = collect(node)
    try:
        rendered = _go_template_chart().render(
            {"templates": strings, "params": dict(params)}, name="gotemplate"
        )
    except helm_python.HelmError as error:
        raise CiError(f"ApplicationSet template: {_one_line(str(error))}") from None
    results = json.loads(rendered["gotemplate/templates/out.json"])

    def fill(value: Any) -> Any:
        if isinstance(value, _Slot):
            return results[value.key]
        if isinstance(value, dict):
            return {fill(k): fill(v) for k, v in value.items()}
        if isinstance(value, list):
            return [fill(v) for v in value]
        return value

    return fill(skeleton)


@dataclass(frozen=True)
class _Slot:
    key: str


def _merge_patch(base: Any, patch: Any) -> Any:
    """Apply a templatePatch: maps merge key by key, anything else replaces, null deletes."""
    if not isinstance(base, dict) or not isinstance(patch, dict):
        return patch
    merged = dict(base)
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = _merge_patch(merged.get(key), value)
    return merged


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
        try:
            loaded = helm_python.values_from_yaml(path.read_text())
        except helm_python.HelmError as error:
            raise CiError(f"{path}: {_one_line(str(error))}") from None
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
            # Chart.render() does not expose Helm's api_versions / kube_version options; the
            # library's render call accepts them (helm-python-sdk 0.2.2, pinned).
            options = {
                "name": release_name,
                "namespace": namespace,
                "is_install": True,
                "kube_version": kube_version,
                "api_versions": list(api_versions),
            }
            rendered = _native.call_string(
                "helm_render", chart._raw(), json.dumps(dict(values)), json.dumps(options)
            )
    except helm_python.HelmError as error:
        raise CiError(f"{chart_dir.name}: {_one_line(str(error))}") from None
    manifests: dict[str, str] = json.loads(rendered)
    return manifests


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
        found.extend(doc for doc in yaml.safe_load_all(rendered[path]) if doc)
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
        raise CiError(f"{chart_dir}: {_one_line(str(error))}") from None
    findings = [
        f"{_SEVERITY.get(m.get('severity'), 'UNKNOWN')}: {m.get('path', '')}: {m.get('error', '')}"
        for m in report.get("messages") or []
        if m.get("severity", 0) >= (2 if strict else 3)
    ] or [str(error) for error in report.get("errors") or []]
    return [_one_line(finding) for finding in findings]


_SEVERITY = {0: "UNKNOWN", 1: "INFO", 2: "WARNING", 3: "ERROR"}


def _one_line(text: str) -> str:
    return " ".join(text.split())


# --- command line ---------------------------------------------------------------------------


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


# The chart has no default image (each environment's gitops file must set it), so the chart's own
# defaults are linted with this one stand-in.
LINT_IMAGE = {"image": {"repository": "registry.invalid/python-microservice", "tag": "lint"}}


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
