"""Command-line entry point: one sub-command per module, errors mapped to exit codes here."""

import argparse
import importlib
import sys
from collections.abc import Sequence

from ci.aws import use_gitlab_oidc
from ci.errors import CiError

# Each module defines ``register(subparsers)``, which adds its sub-commands and sets ``run``
# (a function taking the parsed arguments and returning an exit code) as their default.
COMMAND_MODULES = (
    "ci.build",
    "ci.chart.commands",
    "ci.gitops.commands",
    "ci.gitops.check_command",
    "ci.gitops.wait_changed",
    "ci.verify",
    "ci.wait.commands",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m ci", description=__doc__)
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    use_gitlab_oidc()  # AWS access from the job's GitLab ID token, when configured
    try:
        return args.run(args)
    except CiError as error:
        print(f"error: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
