"""ApplicationSets expanded as Argo CD's controller expands them: the git files generator over
this repository (its glob matched as Argo CD matches it by default) and list generators, Go
templates with sprig through Helm's ``tpl`` (the libraries the controller uses), templatePatch.
"""

import io
import json
import os
import re
import tarfile
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import helm_python
import yaml

from ci.errors import CiError, one_line

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


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
