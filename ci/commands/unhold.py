"""``python -m ci unhold --env ENV``: release a held environment (whatever its hold file holds)."""

import argparse

from ci.commands.flags import add_write_flags, required
from ci.commands.write_back import run_write, who
from ci.gitlab import GitLabContext
from ci.gitops.plans.action import Action
from ci.gitops.plans.model import Request
from ci.gitops.tags import validate_env_name
from ci.options import env_flag


def register(subparsers) -> None:
    parser = subparsers.add_parser("unhold", help="release a held environment")
    env_flag(parser, "--env", "GITOPS_ENV", help="environment to release")
    add_write_flags(parser, wait=False)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    env = validate_env_name(required(args.env, "--env"))
    by = who(GitLabContext.from_environ())
    return run_write(args, Request(action=Action.UNHOLD, env=env, by=by, dry_run=args.dry_run))
