"""Render before push: each environment a commit changes, on the planned tree, as Argo CD would.

The planned tree is the branch tip with the planned files applied. The files a render reads
(``gitops/``, the chart, the environment's value files) are written to a scratch folder from the
partial clone, their blobs fetched in one batch, and rendered with ``ci.chart`` (the same code,
Helm engine and ``values.schema.json`` as Argo CD's repo-server). A failure names the file and
the key at fault; when the environment failed to render before the change too, it says so.
"""

import os
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path, PurePosixPath

import yaml

from ci.errors import CiError
from ci.gitops.remote import Clone

# Fetched with the first batch: what this project's Argo CD Applications read. Of gitops/, only
# the Argo CD manifests and the rendered environments' folders: each Application is generated from
# its own gitops/<env>/values.yaml (the files generator), so the others change nothing in it, and
# expanding the ApplicationSet for them would cost a template render each.
FIRST_BATCH = ("gitops/argocd", "helm-chart")


class RenderError(CiError):
    """The planned commit would not render for an environment: nothing is pushed (exit 1)."""


def check(
    clone: Clone,
    tip: str,
    files: Mapping[str, str | None],
    envs: Iterable[str],
    explain: bool = True,
) -> None:
    """Raise RenderError unless every env in ``envs`` renders on ``tip`` + ``files``
    (``explain``: name the files and keys at fault, and whether it rendered before)."""
    envs = list(envs)
    if not envs:
        return
    with tempfile.TemporaryDirectory(prefix="ci-render-") as scratch:
        root = Path(scratch)
        tree = _Tree(clone, tip, root)
        env_folders = [f"gitops/{env}" for env in envs]
        tree.materialize([*FIRST_BATCH, *env_folders, *tree.root_value_files()])
        for path, text in files.items():
            if path.startswith(("gitops/argocd/", *(f"{folder}/" for folder in env_folders))):
                tree.put(path, text)
        for env in envs:
            _render_env(env, tree, files, explain)


def _render_env(env: str, tree: "_Tree", files: Mapping[str, str | None], explain: bool) -> None:
    """Render ``env`` on the tree (its value files fetched first), or raise RenderError."""
    from ci import chart  # Helm's engine: loaded only when something is rendered

    root = tree.root
    try:
        app = chart.application_for(env, root)
    except (CiError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise RenderError(f"{env}: Argo CD would not render it: {_short(str(error))}") from None
    needed = [app.chart_path, *_value_file_paths(app, root)]
    tree.materialize([path for path in needed if not (root / path).exists()])
    for path, text in files.items():
        if (root / path).exists() or path in needed:
            tree.put(path, text)
    for path in needed[1:]:
        _require_utf8(root, path, env)
    try:
        chart.render_app(app, root)
    except CiError as error:
        if not explain:
            raise RenderError(str(error)) from None
        raise RenderError(_explain(env, app, root, str(error), tree.clone, tree.commit)) from None


def _require_utf8(root: Path, path: str, env: str) -> None:
    file = root / path
    if file.is_file():
        try:
            file.read_bytes().decode("utf-8")
        except UnicodeDecodeError:
            raise RenderError(
                f"{env} would not render: {path} is not UTF-8: nothing pushed"
            ) from None


def _value_file_paths(app, root: Path) -> list[str]:
    chart_dir = PurePosixPath(app.chart_path)
    paths = []
    for value_file in app.value_files:
        joined = os.path.normpath(str(chart_dir / value_file))
        if not joined.startswith(".."):
            paths.append(joined)
    return paths


def _explain(env: str, app, root: Path, message: str, clone: Clone, tip: str) -> str:
    """One line: the environment, the file and key at fault, Helm's words, and whether it
    rendered before this change."""
    from ci.chart.faults import files_at_fault  # with Helm's engine, loaded on demand

    at_fault = files_at_fault(app, root, message)
    where = f" [{'; '.join(at_fault)}]" if at_fault else ""
    if _renders_before(clone, tip, env) is False:
        state = "does not render on the branch already (fix that first)"
    else:
        state = "would not render with this change"
    return f"{env} {state}: {_short(message)}{where}: nothing pushed"


def _short(message: str) -> str:
    return " ".join(message.split())[:600]


def _renders_before(clone: Clone, tip: str, env: str) -> bool | None:
    """Whether ``env`` rendered on ``tip`` itself (None when that cannot be told)."""
    try:
        check(clone, tip, {}, [env], explain=False)
    except RenderError:
        return False
    except CiError:
        return None
    return True


class _Tree:
    """Files of ``commit`` written under ``root`` on demand, blobs fetched in batches."""

    def __init__(self, clone: Clone, commit: str, root: Path) -> None:
        self.clone, self.commit, self.root = clone, commit, root

    def root_value_files(self) -> list[str]:
        out = self.clone.git("ls-tree", "-z", "--name-only", self.commit).stdout
        return [name for name in out.split("\0") if name.endswith((".yaml", ".yml"))]

    def materialize(self, paths: list[str]) -> None:
        if not paths:
            return
        out = self.clone.git("ls-tree", "-r", "-z", self.commit, "--", *paths).stdout
        entries = []
        for line in filter(None, out.split("\0")):
            meta, _, path = line.partition("\t")
            mode, kind, oid = meta.split()
            if kind == "blob":
                entries.append((mode, oid, path))
        self.clone.fetch_blobs([oid for _, oid, _ in entries])
        blobs = self.clone.read_blobs([oid for _, oid, _ in entries])
        for mode, oid, path in entries:
            target = self._inside(path)
            target.parent.mkdir(parents=True, exist_ok=True)
            if mode == "120000":
                link = blobs[oid].decode("utf-8", "replace")
                if not target.exists() and not os.path.isabs(link):
                    target.symlink_to(link)
                continue
            target.write_bytes(blobs[oid])

    def put(self, path: str, text: str | None) -> None:
        target = self._inside(path)
        if text is None:
            target.unlink(missing_ok=True)
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(text.encode("utf-8", "surrogateescape"))

    def _inside(self, path: str) -> Path:
        target = (self.root / path).resolve()
        if not target.is_relative_to(self.root.resolve()):
            raise CiError(f"{path}: outside the repository")
        return target
