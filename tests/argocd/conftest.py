"""A gitops remote shaped like this project's (``tests.support.gitops_project``), and the stand-in
polling it."""

import json
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from app import SERVICE_NAME
from harness.image import buildah, local_base_image, tool_env
from harness.network import free_port
from tests.support.argocd import ArgoCdStandIn, running_argocd
from tests.support.git_remotes import git
from tests.support.gitops_project import make_project
from tests.support.registry import running_registry
from tests.support.tools import require_tools

ROOT = Path(__file__).resolve().parents[2]
DEV = f"{SERVICE_NAME}-dev"
PROD = f"{SERVICE_NAME}-prod"


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
    return make_gitops_repo(tmp_path / "gitops", f"127.0.0.1:{free_port()}/{SERVICE_NAME}")


@pytest.fixture
def argo(gitops: GitopsRepo, tmp_path: Path) -> Iterator[ArgoCdStandIn]:
    with running_argocd(gitops.url, tmp_path / "argocd", interval=0.2, apps=[DEV]) as standin:
        yield standin


# --- real images: the local base plus a stub service, in a real registry (image-marked tests) --

STUB = Path(__file__).with_name("stub_service.py")
NAME = SERVICE_NAME
USER, PASSWORD = "standin", "pull secret with spaces & symbols"
CMD = ["python3", "/srv/stub.py", "--host", "0.0.0.0", "--port", "8080"]


def buildah_output(*args: str) -> str:
    return subprocess.run(
        buildah(*args), env=tool_env(), capture_output=True, text=True, check=True
    ).stdout.strip()


@dataclass
class Stack:
    registry: str
    creds: str
    digests: dict[str, str]  # tag -> manifest digest in the registry


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A registry holding the stub image under the tags v1 and v2 (each reports its tag)."""
    require_tools("buildah", "skopeo", "docker-registry", "htpasswd", "debootstrap")
    tmp = tmp_path_factory.mktemp("stub-images")
    base = local_base_image()
    with running_registry(tmp / "registry", USER, PASSWORD) as registry:
        digests = {}
        for tag in ("v1", "v2"):
            ctr = buildah_output("from", "--pull=false", base)
            local = f"localhost/argocd-standin-stub:{tag}"
            try:
                buildah_output("copy", "--chown", "0:0", ctr, str(STUB), "/srv/stub.py")
                buildah_output(
                    "config", "--user", "10001:10001", "--env", f"APP_VERSION={tag}",
                    "--workingdir", "/srv", "--cmd", json.dumps(CMD), ctr,
                )  # fmt: skip
                buildah_output("commit", "--quiet", ctr, local)
                digest_file = tmp / f"{tag}.digest"
                buildah_output(
                    "push", "--tls-verify=false", "--creds", f"{USER}:{PASSWORD}",
                    "--digestfile", str(digest_file), local,
                    f"docker://{registry.host}/{NAME}:{tag}",
                )  # fmt: skip
                digests[tag] = digest_file.read_text().strip()
            finally:
                subprocess.run(buildah("rm", ctr), env=tool_env(), capture_output=True, check=False)
                subprocess.run(
                    buildah("rmi", local), env=tool_env(), capture_output=True, check=False
                )
        yield Stack(registry.host, f"{USER}:{PASSWORD}", digests)


@pytest.fixture
def stub_gitops(stack: Stack, tmp_path: Path) -> GitopsRepo:
    return make_gitops_repo(tmp_path / "gitops", f"{stack.registry}/{NAME}", "v1")


@pytest.fixture
def stub_argo(stack: Stack, stub_gitops: GitopsRepo, tmp_path: Path) -> Iterator[ArgoCdStandIn]:
    with running_argocd(
        stub_gitops.url,
        tmp_path / "argocd",
        registry_creds={stack.registry: stack.creds},
        insecure_registries=[stack.registry],
        interval=0.5,
        apps=[DEV],
    ) as standin:
        yield standin
    assert standin.controller.errors == []
    name = f"name=argocd-standin-{standin.controller.instance}-"
    leftover = buildah_output("containers", "--quiet", "--filter", name)
    assert leftover == ""
