"""What each environment runs in a tree: the image references of everything Argo CD would apply.

The tree is a folder (a commit extracted); the Applications come from its ``gitops/argocd/`` as
Argo CD generates them (``ci.chart.argocd``), each rendered with Helm's engine (``ci.chart``).
``python -m ci check`` compares two of these, so it decides from the result, whichever file
made it::

    runs = what_runs(root)
    runs.envs["prod"].images    # frozenset({"registry/app:abc@sha256:..."}), None if no render
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ci.chart import environments, objects, render_app
from ci.chart.argocd import ArgoApp
from ci.chart.faults import files_at_fault
from ci.errors import CiError, one_line

POD_CONTAINER_LISTS = ("containers", "initContainers", "ephemeralContainers")


@dataclass(frozen=True)
class EnvRun:
    """One environment's Application: where it reads and deploys (``location``) and the images
    it runs, or why it does not render (``error``, naming the file at fault when known)."""

    env: str
    location: str
    images: frozenset[str] | None
    error: str | None = None


@dataclass(frozen=True)
class Runs:
    """Every environment of a tree; ``error`` when Argo CD could not generate the Applications."""

    envs: Mapping[str, EnvRun] = field(default_factory=dict)
    error: str | None = None

    def images(self, env: str) -> frozenset[str]:
        found = self.envs.get(env)
        return (found.images if found else None) or frozenset()


def image_references(objects: Iterable[Mapping[str, Any]]) -> frozenset[str]:
    """Every container image in ``objects``: any pod spec's containers, initContainers and
    ephemeralContainers, at any depth (Deployments, CronJobs, Jobs, bare Pods, custom kinds)."""
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, Mapping):
            for key, value in node.items():
                if key in POD_CONTAINER_LISTS and isinstance(value, list):
                    for container in value:
                        if isinstance(container, Mapping) and "image" in container:
                            found.add(str(container["image"]))
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(list(objects))
    return frozenset(found)


def what_runs(root: Path, only: Iterable[str] | None = None) -> Runs:
    """The environments of the tree at ``root`` (``only`` these, when given) and what each runs."""
    try:
        apps = environments(root)
    except (CiError, UnicodeDecodeError, yaml.YAMLError, KeyError, TypeError) as error:
        return Runs(error=one_line(str(error)))
    wanted = set(apps) if only is None else set(only) & set(apps)
    return Runs({env: _env_run(apps[env], root) for env in sorted(wanted)})


def _env_run(app: ArgoApp, root: Path) -> EnvRun:
    try:
        rendered = objects(render_app(app, root))
    except (CiError, UnicodeDecodeError, yaml.YAMLError) as error:
        where = files_at_fault(app, root, str(error))
        detail = one_line(str(error))[:600] + (f" [{'; '.join(where)}]" if where else "")
        return EnvRun(app.env, app.location, None, detail)
    return EnvRun(app.env, app.location, image_references(rendered))
