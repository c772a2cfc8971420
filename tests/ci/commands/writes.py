"""What the tests of the write-back commands (deploy, promote, rollback, hold, unhold, status)
share: the pipeline's values files, a pipeline's variables, and ``python -m ci deploy`` run as the
pipeline runs it, against a ``tests.support.git_remotes.Remote``."""

from app import SERVICE_NAME
from ci.gitops.holds import Hold, hold_path, parse_hold
from ci.gitops.values import Image, read_image
from tests.support.cli import run_ci
from tests.support.git_remotes import Remote, show

DEV = "gitops/dev/values.yaml"
PROD = "gitops/prod/values.yaml"
HOLD = "gitops/dev/hold.yaml"
WHO = {"GITLAB_USER_LOGIN": "alice", "GITLAB_USER_EMAIL": "alice@example.com"}


def deploy(remote: Remote, tag: str, *args: str, env: dict[str, str] | None = None):
    """``python -m ci deploy --env dev --tag TAG ARGS`` against ``remote``; the process."""
    return run_ci("deploy", "--repo", remote.url, "--env", "dev", "--tag", tag, *args, env=env)


def must_deploy(remote: Remote, tag: str, *args: str, env: dict[str, str] | None = None):
    """``deploy``, which must succeed."""
    result = deploy(remote, tag, *args, env=env)
    assert result.returncode == 0, result.stderr
    return result


def image(remote: Remote, path: str = DEV) -> Image:
    """The image the values file at ``path`` sets on main."""
    return read_image(show(remote.bare, path))


def pipeline_of(remote: Remote, path: str = DEV) -> str | None:
    return image(remote, path).pipeline_url


def pipeline_env(number: int, commit: str = "") -> dict[str, str]:
    """The variables of pipeline ``number``, which built ``commit`` (its own build)."""
    return {
        "CI_PIPELINE_URL": f"https://gitlab.example/group/{SERVICE_NAME}/-/pipelines/{number}",
        "CI_COMMIT_SHA": commit,
    }


# Two image digests.
A, B = "sha256:" + "a1" * 32, "sha256:" + "b2" * 32
GITLAB = {
    "CI_COMMIT_SHA": "",
    "CI_PIPELINE_URL": f"https://gitlab.example/group/{SERVICE_NAME}/-/pipelines/42",
    "GITLAB_USER_LOGIN": "alice",
    "GITLAB_USER_EMAIL": "alice@example.com",
}


def hold_of(remote: Remote, env: str = "dev") -> Hold | None:
    try:
        text = show(remote.bare, hold_path(env))
    except RuntimeError:
        return None
    return parse_hold(text, hold_path(env))
