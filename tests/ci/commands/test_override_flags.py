"""``--override WHAT --reason TEXT`` of deploy and promote (``ci.commands.flags``), parsed as the
commands parse them, from flags or variables: which overrides a command takes, the reason every
override needs (it goes in the commit's trailer)."""

import argparse

import pytest

from ci.commands.flags import add_override, overrides_from_args
from ci.errors import UsageError
from ci.gitops.plans.action import Override


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
