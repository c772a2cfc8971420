"""``python -m ci hold --env ENV --reason TEXT``: deploy and promote refuse the environment."""

import argparse

from ci.commands.flags import add_write_flags, required
from ci.commands.write_back import reason, run_write, who
from ci.gitlab import GitLabContext
from ci.gitops.plans.action import Action
from ci.gitops.plans.model import Request
from ci.gitops.tags import validate_env_name
from ci.options import env_flag


def register(subparsers) -> None:
    parser = subparsers.add_parser("hold", help="hold an environment: deploy and promote refuse it")
    env_flag(parser, "--env", "GITOPS_ENV", help="environment to hold")
    env_flag(parser, "--reason", "GITOPS_REASON", help="why (shown to whoever is refused)")
    add_write_flags(parser, wait=False)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    env = validate_env_name(required(args.env, "--env"))
    request = Request(
        action=Action.HOLD,
        env=env,
        reason=reason(args.reason, required=True),
        by=who(GitLabContext.from_environ()),
        dry_run=args.dry_run,
    )
    return run_write(args, request)
