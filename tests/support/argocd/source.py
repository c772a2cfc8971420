"""The stand-in's repo-server: the gitops remote, fetched and rendered exactly as Argo CD does.

Everything the stand-in runs comes from here: a mirror of the remote, fetched on each poll; a
commit's tree, exported; the Applications ``gitops/argocd/`` generates at that commit and their
Helm render (``ci.chart``, the same code path as the pipeline's render and lint); and the
AppProject's resource whitelists, which Argo CD enforces at sync.
"""

import fnmatch
import os
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ci import chart
from ci.errors import CiError


class SourceError(RuntimeError):
    """The remote could not be read or the commit not rendered; str() is one line."""


@dataclass(frozen=True)
class Desired:
    """One Application's target state at one commit."""

    revision: str
    app: chart.ArgoApp
    objects: tuple[Mapping[str, Any], ...]
    forbidden: tuple[str, ...] = ()  # objects the AppProject does not permit
    manifest: Mapping[str, Any] = field(default_factory=dict, compare=False)


def _git(*args: str, cwd: Path) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    done = subprocess.run(
        ["git", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=60, check=False
    )
    if done.returncode != 0:
        raise SourceError(f"git {args[0]}: {' '.join(done.stderr.split())}")
    return done.stdout.strip()


class GitopsRemote:
    """A local mirror of the gitops remote (any URL git can fetch), and commits exported from it."""

    def __init__(self, url: str, workdir: Path) -> None:
        self.url = url
        self.workdir = workdir
        self.mirror = workdir / "mirror.git"
        workdir.mkdir(parents=True, exist_ok=True)
        if not self.mirror.exists():
            _git("init", "--quiet", "--bare", str(self.mirror), cwd=workdir)

    def fetch(self, branch: str) -> str:
        """The branch's head commit on the remote now (fetching what is new)."""
        _git("fetch", "--quiet", "--force", self.url, f"+refs/heads/{branch}:refs/heads/{branch}",
             cwd=self.mirror)  # fmt: skip
        return _git("rev-parse", f"refs/heads/{branch}", cwd=self.mirror)

    def is_ancestor(self, older: str, newer: str) -> bool:
        done = subprocess.run(
            ["git", "merge-base", "--is-ancestor", older, newer],
            cwd=self.mirror,
            capture_output=True,
            check=False,
        )
        return done.returncode == 0

    def export(self, revision: str) -> Path:
        """The commit's files in a directory of their own (a cached, read-only snapshot)."""
        dest = self.workdir / "trees" / revision
        if dest.is_dir():
            return dest
        archive = subprocess.run(
            ["git", "archive", "--format=tar", revision],
            cwd=self.mirror,
            capture_output=True,
            timeout=60,
            check=False,
        )
        if archive.returncode != 0:
            raise SourceError(f"git archive {revision}: {archive.stderr.decode().strip()}")
        staging = Path(tempfile.mkdtemp(prefix="tree-", dir=self.workdir))
        with tempfile.TemporaryFile() as tar_file:
            tar_file.write(archive.stdout)
            tar_file.seek(0)
            with tarfile.open(fileobj=tar_file) as tar:
                tar.extractall(staging, filter="data")
        dest.parent.mkdir(exist_ok=True)
        staging.rename(dest)
        return dest

    def forget(self, keep: set[str]) -> None:
        """Delete exported trees other than ``keep``."""
        for tree in (self.workdir / "trees").glob("*"):
            if tree.name not in keep:
                shutil.rmtree(tree, ignore_errors=True)


def application_manifests(tree: Path) -> dict[str, chart.ArgoApp]:
    """Application name -> ArgoApp, as generated from the tree's ``gitops/argocd/``."""
    try:
        return {app.name: app for app in chart.applications(tree)}
    except CiError as error:
        raise SourceError(str(error)) from None


def desired_state(
    tree: Path, revision: str, app_name: str, api_versions: Sequence[str] = ()
) -> Desired:
    """Render one Application at one commit, and check its objects against its AppProject.
    ``api_versions``: the cluster's extra API groups (``.Capabilities.APIVersions``)."""
    try:
        apps = {app.name: app for app in chart.applications(tree)}
        if app_name not in apps:
            raise SourceError(f"gitops/argocd/ no longer generates the Application {app_name}")
        app = apps[app_name]
        objects = tuple(chart.objects(chart.render_app(app, tree, api_versions=api_versions)))
        project = _project(tree, app.manifest.get("spec", {}).get("project", "default"))
    except CiError as error:
        raise SourceError(str(error)) from None
    forbidden = tuple(
        f"resource {_group(obj)}:{obj.get('kind')} is not permitted in project "
        f"{project.get('metadata', {}).get('name', '')}"
        for obj in objects
        if project and not _permitted(project, obj)
    )
    return Desired(revision, app, objects, forbidden, manifest=app.manifest)


def _project(tree: Path, name: str) -> Mapping[str, Any]:
    for doc in chart.argocd_documents(tree):
        if doc.get("kind") == "AppProject" and doc.get("metadata", {}).get("name") == name:
            return doc
    return {}


def _group(obj: Mapping[str, Any]) -> str:
    api_version = str(obj.get("apiVersion", ""))
    return api_version.rpartition("/")[0]


def _permitted(project: Mapping[str, Any], obj: Mapping[str, Any]) -> bool:
    """AppProject namespaceResourceWhitelist (namespaced kinds here): group and kind globs."""
    spec = project.get("spec", {})
    allowed = spec.get("namespaceResourceWhitelist")
    if allowed is None:
        return True
    return any(
        fnmatch.fnmatchcase(_group(obj), rule.get("group", ""))
        and fnmatch.fnmatchcase(str(obj.get("kind", "")), rule.get("kind", ""))
        for rule in allowed
    )
