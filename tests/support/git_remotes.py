"""Real git remotes for tests: a bare repository over file://, `git daemon` on 127.0.0.1, and smart
HTTP with basic auth (nginx + fcgiwrap + git http-backend). Every server is started and stopped by
PID, bound to loopback only.
"""

import contextlib
import os
import shutil
import subprocess
import tempfile
import textwrap
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from app import SERVICE_NAME
from harness.network import listening, running
from tests.support.tools import require_tools

PROJECT_ROOT = Path(__file__).resolve().parents[2]
VALUES = """\
# Owned by the pipeline: `python -m ci deploy|promote|rollback` commits here; people edit
# values.{env}.yaml at the repository root instead. Argo CD layers this file last.
image:
  repository: registry.example/{name}  # where the build pushes
  tag: "0.0.0-bootstrap"
"""

PERSON = {
    "GIT_AUTHOR_NAME": "A Person",
    "GIT_AUTHOR_EMAIL": "person@example.com",
    "GIT_COMMITTER_NAME": "A Person",
    "GIT_COMMITTER_EMAIL": "person@example.com",
}


def git(*args: str, cwd: Path | str, env: dict[str, str] | None = None) -> str:
    """Run git, return stdout; raise with stderr on failure."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    full_env.update(PERSON)
    full_env.update(env or {})
    result = subprocess.run(
        ["git", *args], cwd=cwd, env=full_env, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed: {result.stderr.strip()}")
    return result.stdout


@dataclass
class SourceRepo:
    """A working repository shaped like this project, and the commits it was given."""

    path: Path
    commits: list[str]  # full ids, oldest first

    def short(self, index: int) -> str:
        return self.commits[index][:8]


def copy_deploy_layout(path: Path, envs: tuple[str, ...]) -> None:
    """This project's chart, Argo CD manifests and people's values.<env>.yaml (an empty one for an
    environment the project does not have), so that the write-back renders what Argo CD would."""
    shutil.copytree(PROJECT_ROOT / "helm-chart", path / "helm-chart")
    (path / "gitops" / "argocd").mkdir(parents=True, exist_ok=True)
    for manifest in (PROJECT_ROOT / "gitops" / "argocd").glob("*.yaml"):
        shutil.copy(manifest, path / "gitops" / "argocd" / manifest.name)
    for env in envs:
        people = PROJECT_ROOT / f"values.{env}.yaml"
        text = people.read_text() if people.exists() else f"# {env}: nothing differs\n"
        (path / f"values.{env}.yaml").write_text(text)


def make_source_repo(
    path: Path, commits: int = 3, envs: tuple[str, ...] = ("dev", "prod")
) -> SourceRepo:
    """A repository with gitops/<env>/values.yaml, gitops/argocd/ (this project's), the chart,
    values.<env>.yaml and ``commits`` code commits."""
    path.mkdir(parents=True)
    git("init", "-q", "-b", "main", cwd=path)
    for env in envs:
        (path / "gitops" / env).mkdir(parents=True)
        (path / "gitops" / env / "values.yaml").write_text(
            VALUES.format(env=env, name=SERVICE_NAME)
        )
    copy_deploy_layout(path, envs)
    (path / "gitops" / "argocd" / "values.yaml").write_text("# not an environment\n")
    (path / "main.py").write_text("VERSION = 0\n")
    git("add", "-A", cwd=path)
    git("commit", "-q", "-m", "initial layout", cwd=path)
    ids = []
    for number in range(1, commits + 1):
        (path / "main.py").write_text(f"VERSION = {number}\n")
        git("commit", "-q", "-am", f"feature {number}", cwd=path)
        ids.append(git("rev-parse", "HEAD", cwd=path).strip())
    return SourceRepo(path, ids)


@dataclass
class Remote:
    """A project-shaped source repository and its bare remote (served over ``url``), with what the
    tests ask of the remote: its tip, the tag and image an environment runs, a person's commit."""

    source: SourceRepo
    bare: Path

    @property
    def url(self) -> str:
        return self.bare.as_uri()

    def tip(self, ref: str = "main") -> str:
        return tip(self.bare, ref)

    def tag(self, path: str = "gitops/dev/values.yaml") -> str:
        """The tag the values file at ``path`` sets on main, as its text says."""
        line = next(line for line in show(self.bare, path).splitlines() if "tag:" in line)
        return line.split(":", 1)[1].strip().strip('"')

    def image(self, env: str = "dev", ref: str = "main") -> str:
        """The image reference ``env`` runs at ``ref``, as the chart renders it."""
        from ci.gitops.values import read_image

        reference = read_image(show(self.bare, f"gitops/{env}/values.yaml", ref)).reference
        assert reference
        return reference

    @property
    def work(self) -> Path:
        """A clone for commits by people (made on first use, next to the source repository)."""
        work = self.source.path.parent / "person"
        if not work.exists():
            git("clone", "-q", str(self.bare), str(work), cwd=self.source.path.parent)
        return work

    def commit(self, path: str, change: Callable[[str], str], message: str) -> str:
        """A person's commit changing ``path`` on top of the remote's tip; returns its id."""
        work = self.work
        git("pull", "-q", "--ff-only", "origin", "main", cwd=work)
        file = work / path
        file.write_text(change(file.read_text()))
        git("commit", "-q", "-am", message, cwd=work)
        git("push", "-q", "origin", "HEAD:main", cwd=work)
        return git("rev-parse", "HEAD", cwd=work).strip()


def make_remote(tmp_path: Path, commits: int = 12) -> Remote:
    """A source repository with ``commits`` code commits and its bare remote, under ``tmp_path``."""
    source = make_source_repo(tmp_path / "source", commits=commits)
    return Remote(source, make_bare_remote(source.path, tmp_path / "remotes" / "project.git"))


def copy_remote(template: Remote, tmp_path: Path) -> Remote:
    """A copy of ``template`` (``make_remote``'s) under ``tmp_path``: the same repositories and
    commits, of the test's own, for the cost of a copy rather than of the thirty git commands
    that made them."""
    root = template.source.path.parent
    copy_repositories(root, tmp_path)
    source = SourceRepo(
        tmp_path / template.source.path.relative_to(root), list(template.source.commits)
    )
    return Remote(source, tmp_path / template.bare.relative_to(root))


def copy_repositories(source: Path, target: Path) -> None:
    """Copy the folder ``source`` and the git repositories in it into ``target``, as if they had
    been made there: a repository's config naming a path under ``source`` (a bare clone's origin)
    names the same path under ``target``. Git's objects and packs, which git never changes once
    written (they are read-only; it writes new ones and deletes old ones), are hard-linked."""

    def place(src: str, dst: str) -> None:
        path = Path(src)
        if path.name == "config" and path.parent.name.endswith(".git"):
            Path(dst).write_text(path.read_text().replace(str(source), str(target)))
        elif "objects" in path.relative_to(source).parts and not path.stat().st_mode & 0o222:
            os.link(src, dst)
        else:
            shutil.copy2(src, dst)

    def hook_samples(folder: str, names: list[str]) -> set[str]:
        """The examples ``git init`` writes (hooks/*.sample): inert, never run."""
        if Path(folder).name != "hooks":
            return set()
        return {name for name in names if name.endswith(".sample")}

    shutil.copytree(
        source, target, symlinks=True, copy_function=place, ignore=hook_samples, dirs_exist_ok=True
    )


def pack(*repositories: Path) -> None:
    """Pack each repository's objects into one file, as a repository after ``git gc`` keeps them:
    a template of a few files rather than of hundreds, quicker to copy and to delete."""
    for repository in repositories:
        git("repack", "-a", "-d", "-q", cwd=repository)


def make_bare_remote(source: Path, remote: Path) -> Path:
    """A bare clone of ``source`` that serves partial clones, as GitLab does."""
    git("clone", "-q", "--bare", str(source), str(remote), cwd=source.parent)
    for key, value in (
        ("uploadpack.allowFilter", "true"),
        ("uploadpack.allowAnySHA1InWant", "true"),
        ("http.receivepack", "true"),
        ("receive.denyNonFastForwards", "true"),
    ):
        git("config", key, value, cwd=remote)
    return remote


def show(remote: Path, path: str, ref: str = "main") -> str:
    return git("show", f"{ref}:{path}", cwd=remote)


def tip(remote: Path, ref: str = "main") -> str:
    """The commit ``ref`` names in the (bare) repository ``remote``."""
    return git("rev-parse", ref, cwd=remote).strip()


@contextlib.contextmanager
def git_daemon(base: Path, port: int | None = None) -> Iterator[str]:
    """Serve every repository under ``base`` read-write over git://127.0.0.1:PORT/ (a free
    port unless given; another one when that port is lost to another process)."""

    def command(port: int) -> list[str]:
        return [
            "git",
            "daemon",
            "--reuseaddr",
            "--listen=127.0.0.1",
            f"--port={port}",
            f"--base-path={base}",
            "--export-all",
            "--enable=receive-pack",
            "--informative-errors",
            str(base),
        ]

    with listening(command, port) as port:
        yield f"git://127.0.0.1:{port}"


@contextlib.contextmanager
def http_git_server(base: Path, user: str, password: str, workdir: Path) -> Iterator[str]:
    """Serve ``base`` over smart HTTP at http://127.0.0.1:PORT/ behind basic auth."""
    tools = require_tools("nginx", "fcgiwrap", "htpasswd")
    backend = (
        Path(
            subprocess.run(
                ["git", "--exec-path"], capture_output=True, text=True, check=True
            ).stdout.strip()
        )
        / "git-http-backend"
    )
    workdir.mkdir(parents=True, exist_ok=True)
    for name in ("body", "fastcgi", "proxy", "uwsgi", "scgi"):
        (workdir / "tmp" / name).mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [tools["htpasswd"], "-bc", str(workdir / "htpasswd"), user, password],
        capture_output=True,
        check=True,
    )
    socket_path = workdir / "fcgiwrap.sock"
    with running([tools["fcgiwrap"], "-s", f"unix:{socket_path}"]):
        deadline = time.monotonic() + 10
        while not socket_path.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        config = workdir / "nginx.conf"

        def nginx(port: int) -> list[str]:
            config.write_text(_nginx_config(workdir, port, socket_path, backend, base))
            return [tools["nginx"], "-p", str(workdir), "-c", str(config)]

        with listening(nginx) as port:
            yield f"http://127.0.0.1:{port}"


def _nginx_config(workdir: Path, port: int, socket_path: Path, backend: Path, base: Path) -> str:
    """nginx in the foreground: git's smart HTTP backend behind basic auth on 127.0.0.1:port."""
    user_line = "user root;" if os.geteuid() == 0 else ""
    return textwrap.dedent(
        f"""\
            {user_line}
            worker_processes 1;
            daemon off;
            pid {workdir}/nginx.pid;
            error_log {workdir}/error.log;
            events {{ worker_connections 64; }}
            http {{
              access_log off;
              client_body_temp_path {workdir}/tmp/body;
              fastcgi_temp_path {workdir}/tmp/fastcgi;
              proxy_temp_path {workdir}/tmp/proxy;
              uwsgi_temp_path {workdir}/tmp/uwsgi;
              scgi_temp_path {workdir}/tmp/scgi;
              server {{
                listen 127.0.0.1:{port};
                location / {{
                  auth_basic "git";
                  auth_basic_user_file {workdir}/htpasswd;
                  client_max_body_size 0;
                  fastcgi_pass unix:{socket_path};
                  fastcgi_param SCRIPT_FILENAME {backend};
                  fastcgi_param GIT_PROJECT_ROOT {base};
                  fastcgi_param GIT_HTTP_EXPORT_ALL "";
                  fastcgi_param GIT_PROTOCOL $http_git_protocol;
                  fastcgi_param REMOTE_USER $remote_user;
                  fastcgi_param PATH_INFO $uri;
                  fastcgi_param QUERY_STRING $query_string;
                  fastcgi_param REQUEST_METHOD $request_method;
                  fastcgi_param CONTENT_TYPE $content_type;
                  fastcgi_param CONTENT_LENGTH $content_length;
                }}
              }}
            }}
            """
    )


def install_human_commit_hook(remote: Path) -> Path:
    """A pre-receive hook that, on the first push only, lands a person's commit on main first.

    That commit edits the same values file (a comment) and another file, so the pushing deploy
    finds its branch moved between its fetch and its push, exactly as when a person pushes then.
    Returns the marker file that exists once the person's commit has landed.
    """
    return install_first_push_commit_hook(
        remote,
        "printf '# A person was here.\\n' >> gitops/dev/values.yaml\n"
        "printf 'edited by a person\\n' > PERSON.txt",
        "person: edit while a deploy runs",
    )


def install_first_push_commit_hook(remote: Path, edit: str, message: str) -> Path:
    """A pre-receive hook that, on the first push only, lands a commit made by the shell ``edit``
    (run in a clone of main) with ``message``, before that push is processed. The push is then
    refused by git itself (the branch moved), as in a real race. Returns the marker file that
    exists once the commit has landed."""
    marker = remote / "first-push-commit-landed"
    hook = remote / "hooks" / "pre-receive"
    git_path = shutil.which("git") or "git"
    message_file = remote / "first-push-message.txt"
    message_file.write_text(message)
    hook.write_text(
        textwrap.dedent(
            """\
            #!/bin/sh
            cat >/dev/null
            [ -e "{marker}" ] && exit 0
            touch "{marker}"
            work=$(mktemp -d)
            run() {{ env -i PATH="$PATH" HOME="$HOME" \\
                GIT_AUTHOR_NAME="A Person" GIT_AUTHOR_EMAIL=person@example.com \\
                GIT_COMMITTER_NAME="A Person" GIT_COMMITTER_EMAIL=person@example.com "$@"; }}
            run {git} clone -q "{remote}" "$work/repo" || exit 1
            cd "$work/repo" || exit 1
            {edit}
            run {git} add -A && run {git} commit -q -F "{message_file}"
            run {git} push -q origin HEAD:main || exit 1
            rm -rf "$work"
            exit 0
            """
        ).format(marker=marker, git=git_path, remote=remote, edit=edit, message_file=message_file)
    )
    hook.chmod(0o755)
    return marker


def install_hook(remote: Path, name: str, script: str) -> Path:
    """Install the shell ``script`` as the bare ``remote``'s hook ``name``."""
    hook = remote / "hooks" / name
    hook.write_text("#!/bin/sh\n" + textwrap.dedent(script))
    hook.chmod(0o755)
    return hook


def push_person_commit(
    remote: Path, files: dict[str, str | bytes | None], message: str, symlinks=None
) -> str:
    """A person's commit on the bare ``remote``'s main: ``files`` written as given (bytes kept
    as they are; None deletes), ``symlinks`` (path -> target) made. Returns the commit id."""
    work = Path(tempfile.mkdtemp(prefix="person-"))
    try:
        git("clone", "-q", str(remote), str(work / "repo"), cwd=work)
        repo = work / "repo"
        for path, content in files.items():
            target = repo / path
            if content is None:
                target.unlink()
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                target.write_bytes(content)
            else:
                target.write_bytes(content.encode())
        for path, link in (symlinks or {}).items():
            target = repo / path
            target.unlink(missing_ok=True)
            target.symlink_to(link)
        git("add", "-A", cwd=repo)
        git("commit", "-q", "-m", message, cwd=repo)
        git("push", "-q", "origin", "HEAD:main", cwd=repo)
        return git("rev-parse", "HEAD", cwd=repo).strip()
    finally:
        shutil.rmtree(work, ignore_errors=True)
