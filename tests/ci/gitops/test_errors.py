"""Every bad input exits 2, every other failure 1; one `error:` line, remote untouched."""

import pytest

from harness.network import free_port
from tests.support.cli import run_ci
from tests.support.git_remotes import git, make_bare_remote, make_source_repo

pytestmark = pytest.mark.integration


def _tip(bare) -> str:
    return git("rev-parse", "main", cwd=bare).strip()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--env", "qa", "--tag", "abc"], "unknown environment 'qa' for --env (known: dev, prod)"),
        (["--env", "argocd", "--tag", "abc"], "invalid environment name 'argocd'"),
        (["--env", "../dev", "--tag", "abc"], "invalid environment name '../dev'"),
        (["--tag", "abc"], "--env is required"),
        (["--env", "dev"], "--tag is required"),
        (["--env", "dev", "--tag="], "--tag is required"),
        (
            ["--env", "dev", "--tag=-abc"],
            "malformed image tag '-abc': expected 1-128 characters of [A-Za-z0-9_.-],"
            " not starting with '.' or '-'",
        ),
        (
            ["--env", "dev", "--tag", "a/b"],
            "malformed image tag 'a/b': expected 1-128 characters of [A-Za-z0-9_.-],"
            " not starting with '.' or '-'",
        ),
        (
            ["--env", "dev", "--tag", "x" * 129],
            f"malformed image tag '{'x' * 129}': expected 1-128 characters of [A-Za-z0-9_.-],"
            " not starting with '.' or '-'",
        ),
        (["--env", "dev", "--tag", "abc", "--branch", "nope"], "branch 'nope' not found in {url}"),
    ],
)
def test_bad_deploy_input_exits_2_with_one_line(remote, args, message):
    before = _tip(remote.bare)
    result = run_ci("deploy", "--repo", remote.url, *args)
    assert result.returncode == 2
    assert result.stderr == f"error: {message.format(url=remote.url)}\n"
    assert result.stdout == ""
    assert _tip(remote.bare) == before


@pytest.mark.parametrize(
    ("command", "message"),
    [
        (["promote", "--from", "dev", "--to", "dev"], "--from and --to name the same environment"),
        (
            ["promote", "--from", "qa", "--to", "dev"],
            "unknown environment 'qa' for --from (known: dev, prod)",
        ),
        (["promote", "--to", "dev"], "--from is required"),
        (
            ["rollback", "--env", "dev", "--to", "bad tag"],
            "malformed image tag 'bad tag': expected"
            " 1-128 characters of [A-Za-z0-9_.-], not starting with '.' or '-'",
        ),
        (["status", "--env", "qa"], "unknown environment 'qa' for --env (known: dev, prod)"),
    ],
)
def test_bad_input_of_other_commands_exits_2(remote, command, message):
    result = run_ci(*command, "--repo", remote.url)
    assert result.returncode == 2
    assert result.stderr == f"error: {message}\n"


def test_bad_push_attempts_setting_exits_2(remote):
    result = run_ci(
        "deploy",
        "--repo",
        remote.url,
        "--env",
        "dev",
        "--tag",
        "abc",
        env={"GITOPS_PUSH_ATTEMPTS": "many"},
    )
    assert result.returncode == 2
    assert result.stderr == "error: GITOPS_PUSH_ATTEMPTS must be a positive integer, not 'many'\n"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            "image: [unclosed\n",
            "gitops/dev/values.yaml: not valid YAML (while parsing a flow sequence)",
        ),
        ("image: just-a-string\n", "gitops/dev/values.yaml: 'image' must be a mapping"),
        ("- a list\n", "gitops/dev/values.yaml: expected a mapping at the top level"),
    ],
)
def test_unreadable_values_file_exits_2(tmp_path, content, message):
    source = make_source_repo(tmp_path / "source", commits=1)
    (source.path / "gitops" / "dev" / "values.yaml").write_text(content)
    git("commit", "-q", "-am", "break the values file", cwd=source.path)
    bare = make_bare_remote(source.path, tmp_path / "remote.git")
    before = _tip(bare)
    result = run_ci("deploy", "--repo", str(bare), "--env", "dev", "--tag", "abc")
    assert result.returncode == 2
    assert result.stderr == f"error: {message}\n"
    assert _tip(bare) == before


def test_unreachable_remote_exits_1_with_one_line_after_bounded_retries():
    url = f"git://127.0.0.1:{free_port()}/project.git"
    result = run_ci("deploy", "--repo", url, "--env", "dev", "--tag", "abc")
    assert result.returncode == 1
    *warnings, last = result.stderr.splitlines()
    assert last.startswith(f"error: git clone failed for {url}: unable to connect to 127.0.0.1")
    assert len(warnings) == 2
    assert all(w.startswith("warning: ") and w.endswith("; retrying") for w in warnings)
    assert "Traceback" not in result.stderr


def test_missing_repository_exits_1(tmp_path):
    result = run_ci("status", "--repo", str(tmp_path / "absent.git"))
    assert result.returncode == 1
    assert result.stderr.startswith(
        f"error: git clone failed for {(tmp_path / 'absent.git').as_uri()}: "
    )
    assert result.stderr.count("\n") == 1


def test_refused_push_is_not_retried_and_says_why(remote):
    hook = remote.bare / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'protected branch: deploys need approval'\nexit 1\n")
    hook.chmod(0o755)
    before = _tip(remote.bare)
    result = run_ci("deploy", "--repo", remote.url, "--env", "dev", "--tag", remote.source.short(1))
    assert result.returncode == 1
    assert result.stderr == (
        f"error: push to {remote.url} refused: [remote rejected] (pre-receive hook declined):"
        " protected branch: deploys need approval\n"
    )
    assert _tip(remote.bare) == before
