"""python -m ci COMMAND: the delivery tooling. Errors are mapped to exit codes here: 0 done,
1 failed, 2 bad input, 3 superseded (wait), 130 interrupted."""

import argparse
import importlib
import sys
from collections.abc import Sequence

from ci.aws import use_gitlab_oidc
from ci.commands import NAMES
from ci.errors import CiError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m ci",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in NAMES:
        importlib.import_module(f"ci.commands.{name}").register(subparsers)
    parser.set_defaults(commands=tuple(subparsers.choices))
    return parser


def command_names() -> tuple[str, ...]:
    """Every sub-command, in the order ``--help`` lists them."""
    return build_parser().get_default("commands")


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
