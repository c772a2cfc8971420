"""``python -m ci status [--env ENV] [--json]``: what each environment runs, its holds, its
build's verdict and the overrides that set it, and the rejected builds."""

import argparse
import json

from ci.commands.flags import add_target_flags, target_from_args
from ci.gitops import status
from ci.gitops.processes import terminate_as_interrupt
from ci.gitops.tags import validate_env_name
from ci.options import env_flag, env_switch


def register(subparsers) -> None:
    parser = subparsers.add_parser("status", help="what each environment runs")
    env_flag(parser, "--env", "GITOPS_ENV", help="only this environment")
    env_switch(parser, "--json", "GITOPS_JSON", help="print JSON")
    add_target_flags(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    env = validate_env_name(args.env) if args.env else None
    with terminate_as_interrupt():
        rows = status.collect(target_from_args(args), env)
    if args.json:
        print(json.dumps(status.as_dicts(rows), indent=2))
    else:
        print(status.table(rows))
    return 0
