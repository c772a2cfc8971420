"""``ci.commands.flags``: the variables behind the write-back's flags (``GITOPS_PUSH_ATTEMPTS``,
``GITOPS_GIT_TIMEOUT``, ``--repo``), read as ``python -m ci deploy`` runs: a bad one is one line,
exit 2."""

import pytest

from tests.support.cli import run_ci

pytestmark = pytest.mark.integration


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
