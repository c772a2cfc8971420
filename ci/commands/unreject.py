"""``python -m ci unreject --tag TAG --reason TEXT [--digest sha256:...]``: allow a rejected
build again (its entries in ``gitops/rejected.yaml``: the tag's, and the digest's when given).
The commit carries the ``Promotion-Override`` trailer ``check`` asks of a merge request that
releases a rejection."""

import argparse

from ci.commands.reject import add_build_flags, request_from_args
from ci.commands.write_back import run_write
from ci.gitops.plans.action import Action


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "unreject",
        help="allow a rejected build again",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_build_flags(parser, "why it may run again (recorded in the commit)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    why = "say why the build may run again"
    return run_write(args, request_from_args(args, Action.UNREJECT, why))
