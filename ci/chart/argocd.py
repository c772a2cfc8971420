"""Argo CD's view of the chart: the Applications in ``gitops/argocd/``, as Argo CD sees them.

Reads the manifests (Applications, and ApplicationSets expanded the way their git files generator
and Go templates do) into one ``ArgoApp`` per environment: chart path, release name, namespace,
valueFiles and valuesObject. Nothing is copied from the manifests; ``helm`` renders from these.
"""

import fnmatch
import io
import json
import re
import tarfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import helm_python
import yaml

from ci.errors import CiError, UsageError

REPO_ROOT = Path(__file__).resolve().parent.parent.parent
ARGOCD_DIR = "gitops/argocd"


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
            raise CiError(f"{path}: not valid YAML: {one_line(str(error))}") from None
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
        raise CiError(
            f"Application {name}: helm.{unsupported[0]} is not supported by ci/chart/argocd.py"
        )
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
        raise CiError(
            f"ApplicationSet {name}: generator {kinds} is not supported by ci/chart/argocd.py"
        )
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
        raise CiError(f"ApplicationSet template: {one_line(str(error))}") from None
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


def one_line(text: str) -> str:
    return " ".join(text.split())
