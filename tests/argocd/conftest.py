"""A gitops remote shaped like this project's (``tests.support.gitops_project``), and the stand-in
polling it."""

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tests.support.argocd import ArgoCdStandIn, running_argocd
from tests.support.git_remotes import git
from tests.support.gitops_project import make_project
from tests.support.network import free_port

ROOT = Path(__file__).resolve().parents[2]
DEV = "python-microservice-dev"
PROD = "python-microservice-prod"


@dataclass
class GitopsRepo:
    """A working clone and its bare remote; ``commit`` edits, commits and pushes to main."""

    work: Path
    remote: Path

    @property
    def url(self) -> str:
        return f"file://{self.remote}"

    def commit(self, message: str, edits: dict[str, Callable[[dict], None]] | None = None) -> str:
        """Apply ``edits`` (file -> function editing its YAML), commit everything and push."""
        for rel, edit in (edits or {}).items():
            path = self.work / rel
            data = yaml.safe_load(path.read_text()) or {}
            edit(data)
            path.write_text(yaml.safe_dump(data, sort_keys=False))
        git("commit", "--quiet", "--allow-empty", "--all", "--message", message, cwd=self.work)
        git("push", "--quiet", "origin", "HEAD:main", cwd=self.work)
        return git("rev-parse", "HEAD", cwd=self.work).strip()

    def write(self, rel: str, text: str, message: str) -> str:
        (self.work / rel).write_text(text)
        git("add", "--all", cwd=self.work)
        return self.commit(message)


def set_image(repository: str, tag: str) -> Callable[[dict], None]:
    def edit(values: dict) -> None:
        values["image"] = {**values.get("image", {}), "repository": repository, "tag": tag}

    return edit


def make_gitops_repo(
    tmp: Path, repository: str | None = None, tag: str = "0.0.0-test"
) -> GitopsRepo:
    """The project's GitOps files (``make_project``) and a bare remote; the image set if given."""
    project = make_project(tmp / "work")
    if repository:
        for env in ("dev", "prod"):
            path = project.path / "gitops" / env / "values.yaml"
            values = yaml.safe_load(path.read_text())
            set_image(repository, tag)(values)
            path.write_text(yaml.safe_dump(values, sort_keys=False))
        project.commit("the test registry's image")
    remote = tmp / "remote.git"
    git("clone", "--quiet", "--bare", str(project.path), str(remote), cwd=tmp)
    git("remote", "add", "origin", str(remote), cwd=project.path)
    return GitopsRepo(project.path, remote)


@pytest.fixture
def gitops(tmp_path: Path) -> GitopsRepo:
    """Images on a loopback port where nothing listens: every pull fails at once."""
    return make_gitops_repo(tmp_path / "gitops", f"127.0.0.1:{free_port()}/python-microservice")


@pytest.fixture
def argo(gitops: GitopsRepo, tmp_path: Path) -> Iterator[ArgoCdStandIn]:
    with running_argocd(gitops.url, tmp_path / "argocd", interval=0.2, apps=[DEV]) as standin:
        yield standin
