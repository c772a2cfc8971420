"""The file-level rules of ``python -m ci check``: pure functions over file contents.

Which paths a change touches, a values file read as Helm reads it, the keys a pipeline-owned file
may change, a people's values file no Application reads. What environments run is judged in
``ci.gitops.gate``, from the renders.
"""

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import helm_python

from ci.gitops.gate import Violation
from ci.gitops.tags import NOT_ENVIRONMENTS, values_path
from ci.gitops.values import OWNED_KEYS

PEOPLE_VALUES = re.compile(r"values\.(?P<env>[a-z0-9][a-z0-9_-]{0,62})\.yaml")
ARGOCD_PREFIX = "gitops/argocd/"


@dataclass(frozen=True)
class Affected:
    """What a change touches: environments by name, and whether Argo CD's manifests changed."""

    envs: frozenset[str]
    argocd: bool = False
    pipeline_files: frozenset[str] = frozenset()  # changed gitops/<env>/values.yaml files


def affected(paths: Iterable[str]) -> Affected:
    """The environments whose render a change of ``paths`` may alter."""
    envs, pipeline_files, argocd = set(), set(), False
    for path in paths:
        parts = path.split("/")
        if path.startswith(ARGOCD_PREFIX):
            argocd = True
        elif len(parts) >= 3 and parts[0] == "gitops" and parts[1] not in NOT_ENVIRONMENTS:
            envs.add(parts[1])
            if path == values_path(parts[1]):
                pipeline_files.add(path)
        elif len(parts) == 1 and (match := PEOPLE_VALUES.fullmatch(path)):
            envs.add(match["env"])
    return Affected(frozenset(envs), argocd, frozenset(pipeline_files))


def read_values(data: bytes | None, name: str) -> tuple[dict[str, Any] | None, Violation | None]:
    """A values file read as Helm reads it (YAML 1.1); a missing file is None, a bad one a
    violation."""
    if data is None:
        return None, None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None, Violation(name, "not UTF-8")
    try:
        values = helm_python.values_from_yaml(text) or {}
    except helm_python.HelmError as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else "invalid YAML"
        return None, Violation(name, f"not valid YAML ({first})")
    if not isinstance(values, dict):
        return None, Violation(name, "expected a mapping at the top level")
    image = values.get("image")
    if image is not None and not isinstance(image, dict):
        return None, Violation(name, "'image' must be a mapping")
    return values, None


def _people_part(values: Mapping[str, Any]) -> dict[str, Any]:
    """``values`` without the keys the pipeline owns."""
    rest = dict(values)
    image = {k: v for k, v in (rest.pop("image", None) or {}).items() if k not in OWNED_KEYS}
    if image:
        rest["image"] = image
    return rest


def _differing_keys(before: Mapping[str, Any], after: Mapping[str, Any], prefix: str = "") -> list:
    keys = []
    for key in sorted(set(before) | set(after), key=str):
        old, new = before.get(key), after.get(key)
        if old == new and (key in before) == (key in after):
            continue
        if isinstance(old or {}, Mapping) and isinstance(new or {}, Mapping):
            keys += _differing_keys(old or {}, new or {}, f"{prefix}{key}.")
        else:
            keys.append(f"{prefix}{key}")
    return keys


def owned_keys_violation(
    path: str, env: str, before: Mapping[str, Any] | None, after: Mapping[str, Any]
) -> Violation | None:
    """A pipeline-owned values file may change only image.repository, image.tag, pipelineUrl."""
    changed = _differing_keys(_people_part(before or {}), _people_part(after))
    if not changed:
        return None
    owned = ", ".join(f"image.{key}" for key in sorted(OWNED_KEYS))
    return Violation(
        path,
        f"changes {', '.join(changed)}, which the pipeline does not own (it owns {owned}); "
        f"put people's settings in values.{env}.yaml",
    )


def unknown_env_violation(env: str, known: Iterable[str]) -> Violation:
    names = ", ".join(sorted(known)) or "none"
    return Violation(env, f"no Argo CD Application deploys this environment (known: {names})")
