"""``ci.gitops.credentials``: the credentials a write-back uses, and what git may see of the job's
environment."""

import pytest

from app import SERVICE_NAME
from ci.gitops.credentials import (
    credentials_from_environ,
    default_repo,
    git_environment,
    normalize_url,
    redact,
)
from tests.support.cli import deploy_args, run_ci
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


@pytest.mark.parametrize(
    ("environ", "url"),
    [
        (
            {"CI_PROJECT_URL": "https://git.example.com:8443/gitlab/acme/app"},
            "https://git.example.com:8443/gitlab/acme/app.git",
        ),
        (
            {
                "CI_SERVER_URL": "https://git.example.com:8443/gitlab",
                "CI_SERVER_HOST": "git.example.com",
                "CI_PROJECT_PATH": "acme/app",
            },
            "https://git.example.com:8443/gitlab/acme/app.git",
        ),
        (
            {"CI_SERVER_HOST": "gitlab.example", "CI_PROJECT_PATH": "acme/app"},
            "https://gitlab.example/acme/app.git",
        ),
    ],
)
def test_the_default_remote_keeps_a_self_hosted_gitlabs_port_and_sub_path(environ, url):
    assert default_repo(environ) == url


@pytest.mark.integration
@pytest.mark.parametrize(
    "userinfo",
    [
        "deployer:Zq#9 xY",  # "#" ends the authority: the rest would look like a fragment
        "deployer:p%zzass",  # not a percent-encoding
        "deployer:pa ss",  # a raw space
        'deployer:pa"ss',  # a raw quote
    ],
)
def test_malformed_user_info_is_refused_without_echoing_it(remote, userinfo):
    secret = userinfo.split(":", 1)[1]
    result = run_ci(*deploy_args(f"https://{userinfo}@gitlab.example:8443/acme/app.git", "abc"))
    assert result.returncode == 2
    assert result.stderr.startswith("error: --repo: the URL's user:password part is malformed")
    assert len(result.stderr.splitlines()) == 1
    for fragment in (secret, secret[:4], secret[-4:]):
        assert fragment not in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.integration
def test_a_password_in_an_ssh_url_is_refused_not_passed_to_git(remote):
    result = run_ci(*deploy_args("ssh://deployer:Zq9xY@gitlab.example:2222/acme/app.git", "abc"))
    assert result.returncode == 2
    assert result.stderr == (
        "error: --repo: a password in a ssh URL is not supported (not shown); use an https URL"
        " or GITOPS_TOKEN\n"
    )
