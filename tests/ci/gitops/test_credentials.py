"""``ci.gitops.credentials``: the credentials a write-back uses, and what git may see of the job's
environment."""

from app import SERVICE_NAME
from ci.gitops.credentials import (
    credentials_from_environ,
    default_repo,
    git_environment,
    normalize_url,
    redact,
)
from tests.support.git_remotes import git


def test_git_inherits_no_credential_meant_for_another_host():
    environ = {
        "PATH": "/usr/bin",
        "HOME": "/root",
        "https_proxy": "http://proxy:3128",
        "SSL_CERT_FILE": "/ca.pem",
        "ARGOCD_AUTH_TOKEN": "argo",
        "REGISTRY_PASSWORD": "registry",
        "GITOPS_TOKEN": "gitlab",
        "GITLAB_OIDC_TOKEN": "oidc",
        "AWS_SECRET_ACCESS_KEY": "aws",
        "CI_JOB_TOKEN": "job",
        "GIT_DIR": "/elsewhere",
        "GITOPS_GIT_PASSWORD": "stale",
    }
    assert git_environment(environ) == {
        "PATH": "/usr/bin",
        "HOME": "/root",
        "https_proxy": "http://proxy:3128",
        "SSL_CERT_FILE": "/ca.pem",
    }


def test_urls_lose_their_credentials():
    url, creds = normalize_url("https://user:p%40ss@gitlab.example/group/project.git")
    assert url == "https://gitlab.example/group/project.git"
    assert (creds.username, creds.password) == ("user", "p@ss")
    assert "p@ss" not in repr(creds)
    assert redact("fatal: https://user:pw@host/x failed pw", ("pw",)) == (
        "fatal: https://host/x failed ***"
    )


def test_credentials_precedence():
    assert credentials_from_environ({"CI_JOB_TOKEN": "j"}).username == "gitlab-ci-token"
    token = credentials_from_environ({"CI_JOB_TOKEN": "j", "GITOPS_TOKEN": "t"})
    assert (token.username, token.password) == ("oauth2", "t")
    assert credentials_from_environ({}) is None


def test_default_repo_in_gitlab_is_the_projects_https_url():
    environ = {"CI_SERVER_HOST": "gitlab.example", "CI_PROJECT_PATH": f"group/{SERVICE_NAME}"}
    assert default_repo(environ) == f"https://gitlab.example/group/{SERVICE_NAME}.git"


def test_default_repo_elsewhere_is_the_checkouts_origin(tmp_path):
    git("init", "-q", cwd=tmp_path)
    git("remote", "add", "origin", "https://git.example/x.git", cwd=tmp_path)
    assert default_repo({}, cwd=str(tmp_path)) == "https://git.example/x.git"
