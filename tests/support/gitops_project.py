"""A git repository shaped like this project's GitOps side: the real helm-chart/, gitops/ (Argo CD
manifests, environments, promotion order) and values.<env>.yaml, copied from this checkout, so
``python -m ci check`` and the write-back render exactly what Argo CD would."""

import shutil
from dataclasses import dataclass
from pathlib import Path

from app import SERVICE_NAME
from ci.gitops.values import set_image
from tests.support.git_remotes import git

ROOT = Path(__file__).resolve().parents[2]
COPIED = ("helm-chart", "gitops", "values.dev.yaml", "values.prod.yaml")


@dataclass
class Project:
    path: Path

    def write(self, rel: str, text: str | bytes) -> None:
        target = self.path / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            target.write_bytes(text)
        else:
            target.write_text(text)

    def read(self, rel: str) -> str:
        return (self.path / rel).read_text()

    def commit(self, message: str, *paths: str) -> str:
        git("add", "--all", *paths, cwd=self.path)
        git("commit", "--quiet", "--allow-empty", "--message", message, cwd=self.path)
        return self.head()

    def head(self) -> str:
        return git("rev-parse", "HEAD", cwd=self.path).strip()

    def set_tag(self, env: str, tag: str, message: str | None = None) -> str:
        """Commit ``tag`` into gitops/<env>/values.yaml the way the write-back edits it."""
        rel = f"gitops/{env}/values.yaml"
        self.write(rel, set_image(self.read(rel), tag, name=rel))
        return self.commit(message or f"deploy({env}): {SERVICE_NAME} {tag} [skip ci]")

    def branch(self, name: str, start: str = "main") -> None:
        git("checkout", "--quiet", "-b", name, start, cwd=self.path)


def make_project(path: Path) -> Project:
    """A repository on ``main`` holding the project's GitOps files, one commit."""
    path.mkdir(parents=True)
    for name in COPIED:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, path / name)
        else:
            shutil.copy2(source, path / name)
    git("init", "--quiet", "--initial-branch", "main", cwd=path)
    project = Project(path)
    project.commit("initial layout")
    return project
