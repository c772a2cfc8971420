"""``ci.commands.flags``: the variables behind the write-back's flags (``GITOPS_PUSH_ATTEMPTS``,
``GITOPS_GIT_TIMEOUT``, ``--repo``), read as ``python -m ci deploy`` runs: a bad one is one line,
exit 2; and ``--override WHAT --reason TEXT`` of deploy and promote, parsed as the commands parse
them, from flags or variables: which overrides a command takes, the reason every override needs (it
goes in the commit's trailer)."""

import argparse

import pytest

from ci.commands.flags import add_override, overrides_from_args
from ci.errors import UsageError
from ci.gitops.plans.action import Override
from tests.support.cli import run_ci


@pytest.mark.integration
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


@pytest.mark.integration
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


# --- --override and --reason ----------------------------------------------------------------------


def parse(*args: str, environ: dict[str, str] | None = None, choices=tuple(Override)):
    parser = argparse.ArgumentParser()
    add_override(parser, *choices)
    return overrides_from_args(parser.parse_args(list(args)), environ or {})


@pytest.mark.parametrize(
    ("args", "environ", "expected"),
    [
        ((), {}, (frozenset(), None)),
        ((), {"GITOPS_REASON": "ignored without an override"}, (frozenset(), None)),
        (
            ("--override", "freeze", "--reason", " INC-7\n hotfix "),
            {},
            (frozenset({Override.FREEZE}), "INC-7 hotfix"),
        ),
        (
            ("--override", "freeze", "--override", "evidence", "--reason", "x"),
            {},
            (frozenset(Override), "x"),
        ),
        (("--reason", "x"), {"GITOPS_OVERRIDE": " evidence , freeze,"}, (frozenset(Override), "x")),
        (("--override", "evidence", "--reason", "flag wins"), {"GITOPS_OVERRIDE": "freeze"},
         (frozenset({Override.EVIDENCE}), "flag wins")),
    ],
)  # fmt: skip
def test_overrides_and_their_reason(args, environ, expected) -> None:
    assert parse(*args, environ=environ) == expected


NEEDS = "--override needs --reason"


@pytest.mark.parametrize(
    ("args", "environ", "error"),
    [
        (("--override", "freeze"), {}, f"{NEEDS} (it is recorded in the commit's trailer)"),
        (("--override", "freeze", "--reason", "  "), {}, NEEDS),
        (("--override", "freeze", "--reason", "x" * 501), {}, "--reason is 501 characters long"),
        (("--reason", "x"), {"GITOPS_OVERRIDE": "evidence"}, "--override 'evidence' is not one of"),
    ],
)  # fmt: skip
def test_bad_overrides_are_usage_errors(args, environ, error) -> None:
    with pytest.raises(UsageError) as raised:
        parse(*args, environ=environ, choices=(Override.FREEZE,))
    assert str(raised.value).startswith(error)


def test_argparse_refuses_an_override_the_command_does_not_take() -> None:
    with pytest.raises(SystemExit):
        parse("--override", "evidence", "--reason", "x", choices=(Override.FREEZE,))
