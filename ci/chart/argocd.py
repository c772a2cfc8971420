"""Argo CD's view of the chart: the Applications in ``gitops/argocd/``, as Argo CD sees them.

Reads the manifests (Applications, and ApplicationSets expanded the way their git files generator
and Go templates do) into one ``ArgoApp`` per environment: chart path, release name, namespace,
valueFiles and valuesObject. Nothing is copied from the manifests; ``helm`` renders from these.

What Argo CD would use and this model does not (other source kinds, Helm parameters, several
sources, parameter override files in the chart folder) is refused with a CiError naming it, so a
render here is never quietly different from Argo CD's.
"""

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ci.chart.applicationset import expand_applicationset
from ci.errors import CiError, UsageError, one_line

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
