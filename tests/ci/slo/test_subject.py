"""Which build ``verify`` judges and by which rule (``ci.slo.subject``), read from a real gitops
remote (a bare repository shaped like this project's)."""

from datetime import timedelta
from pathlib import Path

import pytest

from ci.errors import UsageError
from ci.gitops.promotion import Traffic, VerifyRule
from ci.gitops.values import set_image
from ci.gitops.writeback import Target
from ci.slo.subject import PolicySource, Subject, read_subject
from tests.support.git_remotes import git, make_bare_remote
from tests.support.gitops_project import Project, make_project

DIGEST = "sha256:" + "c" * 64
POLICY = """order: [dev, prod]
verify:
  dev: {window: 2m, max_error_ratio: 0.02, max_latency_p95: 0.25, min_requests: 10,
        traffic: {paths: ["/api/echo?text=verify"], rate: 2}}
"""
DEV_RULE = VerifyRule(
    timedelta(minutes=2), 0.02, 0.25, 10, Traffic(("/api/echo?text=verify",), 2.0)
)


@pytest.fixture
def project(tmp_path: Path) -> Project:
    project = make_project(tmp_path / "project")
    project.write("gitops/promotion.yaml", POLICY)
    project.commit("policy")
    return project


def remote_of(project: Project) -> Target:
    bare = project.path.parent / "remote.git"
    if bare.exists():
        git("push", "--quiet", "--force", str(bare), "main", cwd=project.path)
    else:
        make_bare_remote(project.path, bare)
    return Target(bare.as_uri(), "main")


def with_digest(project: Project, tag: str, digest: str) -> str:
    """Deploy ``tag`` pinned to ``digest``, as the write-back edits the file."""
    path = "gitops/dev/values.yaml"
    project.write(path, set_image(project.read(path), tag, name=path, digest=digest))
    return project.commit(f"deploy(dev): {tag}")


def test_the_build_dev_runs_at_the_tip_and_its_rule(project):
    deployed = with_digest(project, "1111aaaa", DIGEST)
    expected = Subject("dev", "1111aaaa", DIGEST, DEV_RULE, deployed, "main")
    assert read_subject(remote_of(project), "dev") == expected


def test_a_revision_names_the_build_at_that_commit(project):
    first = project.set_tag("dev", "1111aaaa")
    project.set_tag("dev", "2222bbbb")
    subject = read_subject(remote_of(project), "dev", revision=first[:10])
    assert (subject.tag, subject.digest, subject.commit) == ("1111aaaa", None, first)


def test_a_tag_is_the_newest_record_of_it_with_its_digest(project):
    deployed = with_digest(project, "1111aaaa", DIGEST)
    project.set_tag("dev", "2222bbbb")
    subject = read_subject(remote_of(project), "dev", tag="1111aaaa")
    assert (subject.tag, subject.digest, subject.commit) == ("1111aaaa", DIGEST, deployed)


def test_a_policy_file_replaces_the_branchs(project):
    project.set_tag("dev", "1111aaaa")
    rule = "{window: 5s, max_error_ratio: 0, max_latency_p95: 1, min_requests: 1}"
    text = f"order: [dev]\nverify:\n  dev: {rule}\n"
    subject = read_subject(remote_of(project), "dev", policy=PolicySource(text, "local.yaml"))
    assert subject.rule == VerifyRule(timedelta(seconds=5), 0.0, 1.0, 1)


@pytest.mark.parametrize(
    ("env", "kwargs", "message"),
    [
        ("qa", {}, "unknown environment 'qa' for --env (known: dev, prod)"),
        (
            "prod",
            {},
            "gitops/promotion.yaml has no verify rule for prod (verify: {prod: {window: 5m,"
            " max_error_ratio: 0.01, max_latency_p95: 0.5, min_requests: 50}})",
        ),
        (
            "dev",
            {"tag": "9999ffff"},
            "dev never ran 9999ffff (gitops/dev/values.yaml on branch main)",
        ),
        ("dev", {"revision": "deadbeef"}, "--revision 'deadbeef' is not a commit of branch main"),
        (
            "dev",
            {"policy": PolicySource("order: [dev]\nverify: {dev: {window: 5}}\n", "mine.yaml")},
            "mine.yaml: verify.dev.max_error_ratio is missing",
        ),
    ],
)
def test_what_cannot_be_verified_is_bad_input(project, env, kwargs, message):
    project.set_tag("dev", "1111aaaa")
    with pytest.raises(UsageError) as error:
        read_subject(remote_of(project), env, **kwargs)
    assert str(error.value) == message


def test_an_environment_without_a_tag_has_nothing_to_verify(project):
    project.write("gitops/dev/values.yaml", "image:\n  repository: r\n")
    project.commit("no tag")
    with pytest.raises(
        UsageError,
        match=r"^gitops/dev/values.yaml has no image.tag at [0-9a-f]{12}: nothing to verify$",
    ):
        read_subject(remote_of(project), "dev")
