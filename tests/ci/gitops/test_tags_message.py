"""Tag and environment validation, commit messages and their trailers."""

from dataclasses import replace

import pytest

from app import SERVICE_NAME
from ci.errors import UsageError
from ci.gitlab import GitLabContext
from ci.gitops.credentials import (
    credentials_from_environ,
    default_repo,
    normalize_url,
    redact,
)
from ci.gitops.message import Change, commit_message, parse_trailers
from ci.gitops.tags import environments_from_paths, looks_like_commit, validate_tag
from tests.support.git_remotes import git


@pytest.mark.parametrize("tag", ["abc12345", "1.2.3", "v1.2.3-rc.1", "_x", "A" * 128, "latest"])
def test_valid_tags(tag):
    assert validate_tag(tag) == tag


@pytest.mark.parametrize("tag", ["", "-x", ".x", "a b", "a/b", "a:b", "A" * 129, "ü"])
def test_invalid_tags(tag):
    with pytest.raises(UsageError):
        validate_tag(tag)


def test_commit_like_tags():
    assert looks_like_commit("abc1234")
    assert looks_like_commit("0" * 40)
    assert not looks_like_commit("abc123")
    assert not looks_like_commit("v1.2.3")
    assert not looks_like_commit("ABC12345")


def test_environments_are_folders_with_values_yaml_except_argocd():
    paths = [
        "gitops/dev/values.yaml",
        "gitops/prod/values.yaml",
        "gitops/argocd/values.yaml",
        "gitops/argocd/app.yaml",
        "gitops/empty/README.md",
        "gitops/dev/extra/values.yaml",
    ]
    assert environments_from_paths(paths) == ["dev", "prod"]


def test_message_subject_body_and_trailers():
    change = Change(
        action="deploy",
        env="dev",
        service=SERVICE_NAME,
        tag="abc12345",
        previous="0.0.0-bootstrap",
        path="gitops/dev/values.yaml",
        source_commit="abc12345" + "0" * 32,
        own_build=True,
    )
    context = GitLabContext(
        pipeline_url="https://gitlab.example/p/-/pipelines/1",
        user_login="alice",
        user_email="alice@example.com",
    )
    message = commit_message(change, context)
    assert message == (
        f"deploy(dev): {SERVICE_NAME} abc12345 [skip ci]\n"
        "\n"
        "Set image.tag in gitops/dev/values.yaml from 0.0.0-bootstrap to abc12345.\n"
        "\n"
        f"Source-Commit: abc12345{'0' * 32}\n"
        "Pipeline: https://gitlab.example/p/-/pipelines/1\n"
        "Triggered-By: alice <alice@example.com>\n"
    )
    assert parse_trailers(message)["Triggered-By"] == "alice <alice@example.com>"
    assert commit_message(change, GitLabContext()).count("\n\n") == 2
    # Another pipeline's build: the running pipeline is named, not credited with the build.
    other = parse_trailers(commit_message(replace(change, own_build=False), context))
    assert "Pipeline" not in other
    assert other["Run-By-Pipeline"] == "https://gitlab.example/p/-/pipelines/1"


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
