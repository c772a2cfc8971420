"""``python -m ci promote --from dev --to prod``: copy one environment's image to another."""

import argparse
import os

from ci.commands.flags import (
    add_override,
    add_verify_image,
    add_write_flags,
    overrides_from_args,
    required,
)
from ci.commands.write_back import run_write
from ci.errors import UsageError
from ci.gitops import deploy_freezes
from ci.gitops.plans.action import Action, Override
from ci.gitops.plans.model import Request
from ci.gitops.tags import validate_env_name
from ci.options import env_flag, env_switch
from ci.trust import run_verified


def register(subparsers) -> None:
    parser = subparsers.add_parser("promote", help="copy one environment's tag to another")
    env_flag(parser, "--from", "GITOPS_FROM", dest="source_env", help="environment to copy from")
    env_flag(parser, "--to", "GITOPS_TO", dest="env", help="environment to write")
    env_switch(parser, "--force", "GITOPS_FORCE", help="promote even into a held environment")
    add_verify_image(parser)
    add_override(parser, Override.EVIDENCE, Override.FREEZE)
    add_write_flags(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    source = validate_env_name(required(args.source_env, "--from"))
    env = validate_env_name(required(args.env, "--to"))
    if source == env:
        raise UsageError("--from and --to name the same environment")
    overrides, reason = overrides_from_args(args)
    request = Request(
        action=Action.PROMOTE,
        env=env,
        source_env=source,
        force=args.force,
        dry_run=args.dry_run,
        overrides=overrides,
        reason=reason,
    )
    freezes = deploy_freezes.from_gitlab(os.environ)
    return run_verified(lambda verify: run_write(args, request, verify, freezes), args.verify_image)
