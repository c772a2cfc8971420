"""Argo CD's view of the chart: the Applications in ``gitops/argocd/``, as Argo CD sees them.

Reads the manifests (Applications, and ApplicationSets expanded the way their git files generator
and Go templates do) into one ``ArgoApp`` per environment: chart path, release name, namespace,
valueFiles and valuesObject. Nothing is copied from the manifests; ``helm`` renders from these.

What Argo CD would use and this model does not (other source kinds, Helm parameters, several
sources, parameter override files in the chart folder) is refused with a CiError naming it, so a
render here is never quietly different from Argo CD's.
"""

import io
import json
import os
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
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


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
    # Where Argo CD reads the source from and deploys it to: repoURL@targetRevision (and the
    # generator's for a generated Application), destination server and namespace, project.
    location: str = ""
    destination: str = ""  # cluster (server or name) / namespace


# The keys of an Application's source, and of its helm section, that the render models.
SOURCE_KEYS = frozenset({"repoURL", "targetRevision", "path", "helm"})
HELM_KEYS = frozenset({"releaseName", "valueFiles", "valuesObject", "ignoreMissingValueFiles"})
# Argo CD's repo-server merges these files from the source folder into the Helm parameters.
OVERRIDE_FILE = re.compile(r"\.argocd-source(-.*)?\.ya?ml")


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
            loaded = list(yaml.load_all(path.read_text(), Loader=_LOADER))
        except yaml.YAMLError as error:
            raise CiError(f"{path}: not valid YAML: {one_line(str(error))}") from None
        documents.extend(doc for doc in loaded if doc)
    return documents


def applications(repo_root: Path = REPO_ROOT) -> list[ArgoApp]:
    """The Applications Argo CD would run: plain ones plus those the ApplicationSets generate."""
    manifests: list[tuple[dict[str, Any], str]] = []
    for doc in argocd_documents(repo_root):
        if not isinstance(doc, dict):
            raise CiError(f"{ARGOCD_DIR}: a document that is not a mapping: {one_line(str(doc))}")
        if doc.get("kind") == "Application":
            manifests.append((doc, ""))
        elif doc.get("kind") == "ApplicationSet":
            origin = _generator_origin(doc)
            manifests.extend((app, origin) for app in expand_applicationset(doc, repo_root))
    apps = [_argo_app(manifest, origin) for manifest, origin in manifests]
    for app in apps:
        _refuse_override_files(app, repo_root)
    return sorted(apps, key=lambda app: app.env)


def _refuse_override_files(app: ArgoApp, repo_root: Path) -> None:
    """A parameter override file in the source folder: Argo CD would merge it, this model not."""
    folder = repo_root / app.chart_path
    found = sorted(
        p.name for p in folder.glob(".argocd-source*") if OVERRIDE_FILE.fullmatch(p.name)
    )
    if found:
        path = f"{app.chart_path.rstrip('/')}/{found[0]}"
        raise CiError(
            f"{path}: Argo CD would merge this parameter override file into Application "
            f"{app.name}, and ci/chart/argocd.py does not model it: delete it (set values in "
            f"values.{app.env}.yaml or gitops/{app.env}/values.yaml)"
        )


def environments(repo_root: Path = REPO_ROOT) -> dict[str, ArgoApp]:
    """Environment name -> its Application. Environment = the gitops/<env>/ folder it deploys."""
    found: dict[str, ArgoApp] = {}
    destinations: dict[str, str] = {}
    for app in applications(repo_root):
        if app.env in found:
            raise CiError(f"environment {app.env} is deployed by two Applications")
        other = destinations.setdefault(app.destination, app.name)
        if other != app.name:
            raise CiError(f"Applications {other} and {app.name} both deploy to {app.destination}")
        found[app.env] = app
    return found


def application_for(env: str, repo_root: Path = REPO_ROOT) -> ArgoApp:
    envs = environments(repo_root)
    if env not in envs:
        known = ", ".join(sorted(envs)) or "none"
        raise UsageError(f"unknown environment {env!r} (known: {known})")
    return envs[env]


def _generator_origin(appset: Mapping[str, Any]) -> str:
    """Where an ApplicationSet's git generators read: ``repoURL@revision``, each once."""
    origins = []
    for generator in (
        _mapping(appset.get("spec") or {}, "ApplicationSet spec").get("generators") or []
    ):
        git = generator.get("git") if isinstance(generator, Mapping) else None
        if isinstance(git, Mapping):
            origins.append(f"{git.get('repoURL', '')}@{git.get('revision', 'HEAD')}")
    return ", ".join(dict.fromkeys(origins))


def _argo_app(manifest: Mapping[str, Any], origin: str = "") -> ArgoApp:
    name = str(_mapping(manifest.get("metadata"), "metadata").get("name", ""))
    spec = _mapping(manifest.get("spec"), f"Application {name}: spec")
    if "source" not in spec or "sources" in spec:
        raise CiError(f"Application {name}: only a single spec.source is supported")
    source = _mapping(spec["source"], f"Application {name}: spec.source")
    if "helm" not in source:
        # Without it Argo CD detects the kind from the folder (Kustomize, plain manifests...).
        raise CiError(f"Application {name}: spec.source.helm is required (only Helm is modelled)")
    helm = _mapping(source.get("helm") or {}, f"Application {name}: spec.source.helm")
    for keys, known, where in ((source, SOURCE_KEYS, "source"), (helm, HELM_KEYS, "source.helm")):
        unsupported = sorted(set(keys) - known, key=str)
        if unsupported:
            raise CiError(
                f"Application {name}: spec.{where}.{unsupported[0]} is not supported by "
                "ci/chart/argocd.py (Argo CD would use it; this render would not)"
            )
    value_files = tuple(str(file) for file in helm.get("valueFiles") or ())
    destination = _mapping(spec.get("destination") or {}, f"Application {name}: destination")
    return ArgoApp(
        name=name,
        env=_env_of(name, value_files),
        chart_path=str(source.get("path", "")),
        release_name=helm.get("releaseName") or name,
        namespace=str(destination.get("namespace", "")),
        value_files=value_files,
        values_object=_mapping(helm.get("valuesObject") or {}, f"Application {name}: valuesObject"),
        ignore_missing_value_files=bool(helm.get("ignoreMissingValueFiles", False)),
        manifest=manifest,
        location=_location(spec, source, destination, origin),
        destination=f"{destination.get('server') or destination.get('name', '')}"
        f"/{destination.get('namespace', '')}",
    )


def _location(spec, source, destination, generator: str) -> str:
    """Where the Application reads from and deploys to, as one comparable line."""
    return (
        f"{source.get('repoURL', '')}@{source.get('targetRevision', 'HEAD')} "
        f"-> {destination.get('server') or destination.get('name', '')}"
        f"/{destination.get('namespace', '')} (project {spec.get('project', '')})"
        + (f", generated from {generator}" if generator else "")
    )


def _mapping(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise CiError(f"{where}: expected a mapping")
    return value


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
    nodes = [template, patch] if patch else [template]
    rendered = _render_go_templates([(node, param) for param in params for node in nodes])
    for index in range(len(params)):
        app, *patched = rendered[index * len(nodes) : (index + 1) * len(nodes)]
        for text in patched:
            app = _merge_patch(app, yaml.load(text, Loader=_LOADER) or {})
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
        try:
            content = yaml.load((repo_root / rel).read_text(encoding="utf-8"), Loader=_LOADER) or {}
        except UnicodeDecodeError:
            raise CiError(f"{rel}: not UTF-8 (the git files generator reads it)") from None
        except yaml.YAMLError as error:
            raise CiError(f"{rel}: not valid YAML: {one_line(str(error))}") from None
        if not isinstance(content, dict):
            raise CiError(f"{rel}: the git files generator needs a YAML mapping")
        params.append({**content, "path": _path_params(rel)})
    return params


def _glob_repo_files(repo_root: Path, pattern: str) -> list[str]:
    """Repository files matching the generator's glob as Argo CD matches it by default: the
    pattern against each file's whole path, ``*`` crossing folders (``gitops/*/values.yaml``
    also matches ``gitops/a/b/values.yaml``)."""
    regex = glob_regex(pattern)
    prefix = re.split(r"[*?\[{\\]", pattern, maxsplit=1)[0].rpartition("/")[0]
    start = repo_root / prefix
    found = []
    for folder, dirs, files in os.walk(start):
        dirs[:] = [name for name in dirs if name != ".git"]
        for name in files:
            rel = (Path(folder) / name).relative_to(repo_root).as_posix()
            if regex.fullmatch(rel):
                found.append(rel)
    return found


def _glob_match(path: str, pattern: str) -> bool:
    return bool(glob_regex(pattern).fullmatch(path))


@cache
def glob_regex(pattern: str) -> re.Pattern[str]:
    """A gobwas/glob pattern without separators (Argo CD's util/glob): ``*`` and ``**`` match any
    text, ``/`` included; ``?`` one character; ``[...]``, ``[!...]`` and ``{a,b}`` as usual."""
    out, index = [], 0
    while index < len(pattern):
        char = pattern[index]
        index += 1
        if char == "*":
            out.append(".*")
        elif char == "?":
            out.append(".")
        elif char == "\\" and index < len(pattern):
            out.append(re.escape(pattern[index]))
            index += 1
        elif char == "[" and "]" in pattern[index + 1 :]:
            end = pattern.index("]", index + 1)
            body = pattern[index:end]
            negate = body.startswith("!")
            body = body[1:] if negate else body
            out.append("[" + ("^" if negate else "") + body.replace("\\", "\\\\") + "]")
            index = end + 1
        elif char == "{" and "}" in pattern[index:]:
            end = pattern.index("}", index)
            options = pattern[index:end].split(",")
            out.append("(?:" + "|".join(glob_regex(o).pattern for o in options) + ")")
            index = end + 1
        else:
            out.append(re.escape(char))
    return re.compile("".join(out), re.DOTALL)


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
        "{{- $out := list }}"
        "{{- range $job := .Values.jobs }}"
        "{{- $done := dict }}"
        "{{- range $key, $text := $job.templates }}"
        "{{- $_ := set $done $key (tpl $text $job.params) }}"
        "{{- end }}"
        "{{- $out = append $out $done }}"
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


def _render_go_templates(jobs: list[tuple[Any, Mapping[str, Any]]]) -> list[Any]:
    """Each (node, params) with every string of node rendered as a Go template over params
    (field by field, as the controller does), all in one Helm call."""
    batches: list[dict[str, Any]] = []
    skeletons = []
    for node, params in jobs:
        strings: dict[str, str] = {}
        skeletons.append(_slots(node, strings))
        batches.append({"templates": strings, "params": dict(params)})
    try:
        rendered = _go_template_chart().render({"jobs": batches}, name="gotemplate")
    except helm_python.HelmError as error:
        raise CiError(f"ApplicationSet template: {one_line(str(error))}") from None
    results = json.loads(rendered["gotemplate/templates/out.json"]) or []
    return [_fill(skeleton, done) for skeleton, done in zip(skeletons, results, strict=True)]


def _slots(value: Any, strings: dict[str, str]) -> Any:
    """``value`` with each string replaced by a slot, the strings collected in ``strings``."""
    if isinstance(value, str):
        key = f"s{len(strings)}"
        strings[key] = value
        return _Slot(key)
    if isinstance(value, dict):
        return {_slots(k, strings): _slots(v, strings) for k, v in value.items()}
    if isinstance(value, list):
        return [_slots(v, strings) for v in value]
    return value


def _fill(value: Any, results: Mapping[str, str]) -> Any:
    if isinstance(value, _Slot):
        return results[value.key]
    if isinstance(value, dict):
        return {_fill(k, results): _fill(v, results) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, results) for v in value]
    return value


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
