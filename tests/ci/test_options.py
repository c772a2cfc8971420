"""``ci.options``: every flag can be set by its variable (the first one set wins, the flag beats
them all) and ``--help`` names the variables; a switch's variable reads 1, true or yes as on."""

import argparse

import pytest

from ci.options import env_flag, env_switch, is_true


def parser_with_flags() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="test")
    env_flag(parser, "--region", "AWS_REGION", "AWS_DEFAULT_REGION", help="AWS region")
    env_flag(parser, "--context", "BUILD_CONTEXT", default=".", help="build context")
    env_switch(parser, "--cache", "BUILD_CACHE", help="use the layer cache")
    return parser


@pytest.mark.parametrize(
    ("environ", "argv", "region"),
    [
        ({}, [], None),
        ({"AWS_DEFAULT_REGION": "eu-west-1"}, [], "eu-west-1"),
        ({"AWS_REGION": "eu-central-1", "AWS_DEFAULT_REGION": "eu-west-1"}, [], "eu-central-1"),
        ({"AWS_REGION": "", "AWS_DEFAULT_REGION": "eu-west-1"}, [], "eu-west-1"),  # set but empty
        ({"AWS_REGION": "eu-central-1"}, ["--region", "us-east-1"], "us-east-1"),
    ],
)
def test_the_flag_then_the_first_variable_set(monkeypatch, environ, argv, region) -> None:
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "BUILD_CONTEXT", "BUILD_CACHE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    args = parser_with_flags().parse_args(argv)
    assert (args.region, args.context, args.cache) == (region, ".", False)


def test_help_names_each_flags_variables(monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    help_text = " ".join(parser_with_flags().format_help().split())
    assert "--region REGION AWS region (env: $AWS_REGION or $AWS_DEFAULT_REGION)" in help_text
    assert "--cache use the layer cache (env: $BUILD_CACHE)" in help_text


@pytest.mark.parametrize(
    ("value", "on"),
    [("1", True), ("true", True), (" Yes ", True), ("TRUE", True), ("0", False), ("no", False),
     ("", False), (None, False), ("on", False)],
)  # fmt: skip
def test_a_switch_variable_is_on_for_1_true_or_yes(monkeypatch, value, on) -> None:
    assert is_true(value) is on
    monkeypatch.delenv("BUILD_CACHE", raising=False)
    if value is not None:
        monkeypatch.setenv("BUILD_CACHE", value)
    assert parser_with_flags().parse_args([]).cache is on
