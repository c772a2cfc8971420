"""``ci.gitops.tags``: image tags and environment names."""

import pytest

from ci.errors import UsageError
from ci.gitops.tags import environments_from_paths, looks_like_commit, validate_tag


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
