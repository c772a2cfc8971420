"""Odd values files deploy (CRLF, empty tag, JSON, flow style, anchors); unreadable ones and
malformed options are one `error:` line with exit 2, and `status` still lists the others."""

import pytest

from ci.gitops.values import _plain_safe
from tests.support.cli import run_ci
from tests.support.git_remotes import (
    git,
    make_bare_remote,
    make_source_repo,
    push_person_commit,
    show,
)

pytestmark = pytest.mark.integration

DEV = "gitops/dev/values.yaml"
URL = "https://gitlab.example/acme/app/-/pipelines/5"


def tip(remote) -> str:
    return git("rev-parse", "main", cwd=remote.bare).strip()


def raw(remote, path: str = DEV) -> bytes:
    import subprocess

    return subprocess.run(
        ["git", "cat-file", "blob", f"main:{path}"],
        cwd=remote.bare,
        capture_output=True,
        check=True,
    ).stdout


def own_pipeline(remote, index: int) -> dict[str, str]:
    return {"CI_PIPELINE_URL": URL, "CI_COMMIT_SHA": remote.source.commits[index]}


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (
            b"# crlf\r\nimage:\r\n  repository: registry.example/app  # r\r\n"
            b'  tag: "0.0.0-bootstrap"\r\n',
            b"# crlf\r\nimage:\r\n  repository: registry.example/app  # r\r\n"
            b'  tag: "{tag}"\r\n  pipelineUrl: "{url}"\r\n',
        ),
        (
            b"image:\n  repository: registry.example/app\n  tag:",
            b'image:\n  repository: registry.example/app\n  tag: {ptag}\n  pipelineUrl: "{url}"\n',
        ),
        (
            b"image:\n  tag: # set by the pipeline\n  repository: registry.example/app\n",
            b'image:\n  tag: {ptag} # set by the pipeline\n  pipelineUrl: "{url}"\n'
            b"  repository: registry.example/app\n",
        ),
        (
            b'{"image": {"repository": "registry.example/app", "tag": "0.0.0-bootstrap"}}\n',
            b'{"image": {"repository": "registry.example/app", "tag": "{tag}", "pipelineUrl":'
            b' "{url}"}}\n',
        ),
        (
            b"image: {\n  repository: registry.example/app,\n  tag: old\n}\n",
            b"image: {\n  repository: registry.example/app,\n"
            b'  tag: {ptag}, "pipelineUrl": "{url}"\n}\n',
        ),
        (
            b"image:\n  repository: &repo registry.example/app\n  tag: old\n"
            b"podLabels:\n  repo-name: app\n",
            b"image:\n  repository: &repo registry.example/app\n  tag: {ptag}\n"
            b'  pipelineUrl: "{url}"\npodLabels:\n  repo-name: app\n',
        ),
    ],
    ids=["crlf", "empty-tag-last-line", "empty-tag-comment", "json", "flow-multiline", "anchor"],
)
def test_odd_but_valid_files_deploy_changing_only_the_owned_scalars(remote, content, expected):
    push_person_commit(remote.bare, {DEV: content}, "dev: an odd file")
    tag = remote.source.short(4)
    result = run_ci(
        "deploy", "--repo", remote.url, "--env", "dev", "--tag", tag, env=own_pipeline(remote, 4)
    )
    assert result.returncode == 0, result.stderr
    # A plain (unquoted or empty) tag stays plain where Helm and YAML 1.2 read it as the string.
    plain = tag if _plain_safe(tag) else f'"{tag}"'
    want = expected.replace(b"{tag}", tag.encode()).replace(b"{ptag}", plain.encode())
    want = want.replace(b"{url}", URL.encode())
    assert raw(remote) == want


@pytest.mark.parametrize(
    ("files", "symlinks", "message"),
    [
        ({DEV: b"image:\n  tag: caf\xe9\n"}, None, f"{DEV} is not UTF-8 (byte 17: 0xe9)"),
        ({DEV: None}, {DEV: "../prod/values.yaml"}, f"{DEV} is a symlink; expected a regular file"),
        ({DEV: b"image: {tag: [\n"}, None, f"{DEV}: not valid YAML"),
        ({DEV: b"image:\n  tag: .nan\n"}, None, f"{DEV}: Helm cannot read it"),
    ],
    ids=["not-utf8", "symlink", "unparseable", "helm-unreadable"],
)
def test_unreadable_files_are_one_line_exit_2_and_status_lists_the_others(
    remote, files, symlinks, message
):
    push_person_commit(remote.bare, files, "dev: a broken file", symlinks=symlinks)
    before = tip(remote)
    result = run_ci("deploy", "--repo", remote.url, "--env", "dev", "--tag", "abc")
    assert result.returncode == 2
    assert result.stderr.startswith(f"error: {message}")
    assert len(result.stderr.splitlines()) == 1
    assert tip(remote) == before
    status = run_ci("status", "--repo", remote.url)
    assert status.returncode == 0, status.stderr
    dev, prod = status.stdout.splitlines()[1:]
    assert dev.startswith("dev ")
    assert f"error: {message}" in dev
    assert prod.split()[:2] == ["prod", "0.0.0-bootstrap"]


def test_another_environments_unreadable_file_does_not_block_a_deploy(remote):
    """Each Application is generated from its own gitops/<env>/values.yaml: prod renders (in Argo
    CD too) whatever dev's file holds."""
    push_person_commit(remote.bare, {DEV: b"image: {tag: [\n"}, "dev: a broken file")
    result = run_ci("deploy", "--repo", remote.url, "--env", "prod", "--tag", "abc")
    assert result.returncode == 0, result.stderr


def test_a_persons_non_utf8_values_file_fails_the_render_in_one_line(remote):
    push_person_commit(remote.bare, {"values.dev.yaml": b"replicaCount: 1 # \xff\n"}, "oops")
    result = run_ci("deploy", "--repo", remote.url, "--env", "dev", "--tag", "abc")
    assert result.returncode == 1
    assert (
        result.stderr
        == "error: dev would not render: values.dev.yaml is not UTF-8: nothing pushed\n"
    )


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (
            ["--repository", "Registry.example/App"],
            {},
            "--repository 'Registry.example/App' is not an OCI repository",
        ),
        (["--repository", "registry.example/app:v1"], {}, "--repository 'registry.example/app:v1'"),
        ([], {"GITOPS_PUSH_ATTEMPTS": "\uff13"}, "GITOPS_PUSH_ATTEMPTS must be a positive integer"),
        ([], {"GITOPS_PUSH_ATTEMPTS": "0"}, "GITOPS_PUSH_ATTEMPTS must be a positive integer"),
        ([], {"GITOPS_GIT_TIMEOUT": "soon"}, "GITOPS_GIT_TIMEOUT must be a positive number"),
        (
            ["--repo", "https://gitlab.example:99999/acme/app.git"],
            {},
            "--repo: invalid host or port in the https URL (host: gitlab.example)",
        ),
        (["--repo", "https://gitlab.example:x/a.git"], {}, "--repo: invalid host or port"),
        (["--repo", "ftp://gitlab.example/a.git"], {}, "--repo: unsupported URL scheme 'ftp'"),
    ],
)
def test_malformed_options_and_variables_are_one_line_exit_2(remote, args, env, message):
    command = ["deploy", "--repo", remote.url, "--env", "dev", "--tag", "abc", *args]
    result = run_ci(*command, env=env)
    assert result.returncode == 2
    assert result.stderr.startswith(f"error: {message}")
    assert len(result.stderr.splitlines()) == 1
    assert "Traceback" not in result.stderr


def test_an_unknown_environment_among_thousands_is_one_readable_line(tmp_path):
    envs = tuple(f"e{number:04d}" for number in range(2000))
    source = make_source_repo(tmp_path / "source", commits=1, envs=envs)
    bare = make_bare_remote(source.path, tmp_path / "remote.git")
    result = run_ci("deploy", "--repo", bare.as_uri(), "--env", "qa", "--tag", "abc")
    assert result.returncode == 2
    assert result.stderr == (
        "error: unknown environment 'qa' for --env (known: e0000, e0001, e0002, e0003, e0004,"
        " e0005, e0006, e0007, e0008, e0009 and 1990 more)\n"
    )
    assert show(bare, "gitops/e0000/values.yaml")
