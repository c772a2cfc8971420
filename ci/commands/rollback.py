"""``python -m ci rollback --env ENV [--to TAG]``: an environment back to a build it ran, held."""

import argparse

from ci.commands.flags import add_write_flags, required
from ci.commands.write_back import reason, run_write, who
from ci.gitlab import GitLabContext
from ci.gitops.plans.action import Action
from ci.gitops.plans.model import Request
from ci.gitops.tags import validate_env_name, validate_tag
from ci.options import env_flag


def register(subparsers) -> None:
    parser = subparsers.add_parser("rollback", help="set an environment back to its previous tag")
    env_flag(parser, "--env", "GITOPS_ENV", help="environment to roll back")
    env_flag(parser, "--to", "GITOPS_ROLLBACK_TO", dest="tag", help="tag to roll back to")
    env_flag(parser, "--reason", "GITOPS_REASON", help="why (recorded in the hold)")
    add_write_flags(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    env = validate_env_name(required(args.env, "--env"))
    tag = validate_tag(args.tag) if args.tag else None
    request = Request(
        action=Action.ROLLBACK,
        env=env,
        tag=tag,
        reason=reason(args.reason, required=False),
        by=who(GitLabContext.from_environ()),
        dry_run=args.dry_run,
    )
    return run_write(args, request)
