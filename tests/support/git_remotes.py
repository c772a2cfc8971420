"""Real git remotes for tests: a bare repository over file://, `git daemon` on 127.0.0.1, and smart
HTTP with basic auth (nginx + fcgiwrap + git http-backend). Every server is started and stopped by
PID, bound to loopback only.
"""

import contextlib
import os
import shutil
import signal
import subprocess
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.support.network import free_port, wait_for_port
from tests.support.tools import require_tools

VALUES = """\
# Owned by the pipeline: `python -m ci deploy|promote|rollback` commits here; people edit
# values.{env}.yaml at the repository root instead. Argo CD layers this file last.
image:
  repository: registry.example/python-microservice  # where the build pushes
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


def make_source_repo(
    path: Path, commits: int = 3, envs: tuple[str, ...] = ("dev", "prod")
) -> SourceRepo:
    """A repository with gitops/<env>/values.yaml, gitops/argocd/ and ``commits`` code commits."""
    path.mkdir(parents=True)
    git("init", "-q", "-b", "main", cwd=path)
    for env in envs:
        (path / "gitops" / env).mkdir(parents=True)
        (path / "gitops" / env / "values.yaml").write_text(VALUES.format(env=env))
    (path / "gitops" / "argocd").mkdir()
    (path / "gitops" / "argocd" / "values.yaml").write_text("# not an environment\n")
    (path / "app.py").write_text("VERSION = 0\n")
    git("add", "-A", cwd=path)
    git("commit", "-q", "-m", "initial layout", cwd=path)
    ids = []
    for number in range(1, commits + 1):
        (path / "app.py").write_text(f"VERSION = {number}\n")
        git("commit", "-q", "-am", f"feature {number}", cwd=path)
        ids.append(git("rev-parse", "HEAD", cwd=path).strip())
    return SourceRepo(path, ids)


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


@contextlib.contextmanager
def _process(command: list[str], **kwargs) -> Iterator[subprocess.Popen]:
    process = subprocess.Popen(
        command,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        **kwargs,
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)


@contextlib.contextmanager
def git_daemon(base: Path, port: int | None = None) -> Iterator[str]:
    """Serve every repository under ``base`` read-write over git://127.0.0.1:PORT/."""
    port = port or free_port()
    command = [
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
    with _process(command):
        wait_for_port(port)
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
    port = free_port()
    user_line = "user root;" if os.geteuid() == 0 else ""
    (workdir / "nginx.conf").write_text(
        textwrap.dedent(
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
    )
    with _process([tools["fcgiwrap"], "-s", f"unix:{socket_path}"]):
        deadline = time.monotonic() + 10
        while not socket_path.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        with _process([tools["nginx"], "-p", str(workdir), "-c", str(workdir / "nginx.conf")]):
            wait_for_port(port)
            yield f"http://127.0.0.1:{port}"


def install_human_commit_hook(remote: Path) -> Path:
    """A pre-receive hook that, on the first push only, lands a person's commit on main first.

    That commit edits the same values file (a comment) and another file, so the pushing deploy
    finds its branch moved between its fetch and its push, exactly as when a person pushes then.
    Returns the marker file that exists once the person's commit has landed.
    """
    marker = remote / "human-commit-landed"
    hook = remote / "hooks" / "pre-receive"
    git_path = shutil.which("git") or "git"
    hook.write_text(
        textwrap.dedent(
            f"""\
            #!/bin/sh
            cat >/dev/null
            [ -e "{marker}" ] && exit 0
            touch "{marker}"
            work=$(mktemp -d)
            run() {{ env -i PATH="$PATH" HOME="$HOME" \\
                GIT_AUTHOR_NAME="A Person" GIT_AUTHOR_EMAIL=person@example.com \\
                GIT_COMMITTER_NAME="A Person" GIT_COMMITTER_EMAIL=person@example.com "$@"; }}
            run {git_path} clone -q "{remote}" "$work/repo" || exit 1
            cd "$work/repo" || exit 1
            printf '# A person was here.\\n' >> gitops/dev/values.yaml
            printf 'edited by a person\\n' > PERSON.txt
            run {git_path} add -A && run {git_path} commit -q -m "person: edit while a deploy runs"
            run {git_path} push -q origin HEAD:main || exit 1
            rm -rf "$work"
            exit 0
            """
        )
    )
    hook.chmod(0o755)
    return marker
