"""``python -m ci deploy --env ENV --tag TAG``: commit an image tag into an environment."""

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
from ci.gitops import deploy_freezes
from ci.gitops.plans.action import Action, Override
from ci.gitops.plans.model import Request
from ci.gitops.tags import validate_digest, validate_env_name, validate_repository, validate_tag
from ci.options import env_flag, env_switch
from ci.trust import run_verified


def register(subparsers) -> None:
    parser = subparsers.add_parser("deploy", help="commit an image tag into an environment")
    env_flag(parser, "--env", "GITOPS_ENV", help="environment: a folder gitops/ENV/")
    env_flag(parser, "--tag", "IMAGE_TAG", help="image tag to deploy (the build's short SHA)")
    env_flag(
        parser,
        "--repository",
        "IMAGE_REPOSITORY",
        help="also set image.repository (REGISTRY/NAME, from the build's dotenv)",
    )
    parser.add_argument(
        "--digest",
        help="also pin image.digest (sha256:...; default: $IMAGE_DIGEST from the build's dotenv"
        " when --tag is $IMAGE_TAG; with --verify-image: read from the registry)",
    )
    env_switch(parser, "--force", "GITOPS_FORCE", help="deploy even when a newer build is live")
    add_verify_image(parser)
    add_override(parser, Override.FREEZE)
    add_write_flags(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    env = validate_env_name(required(args.env, "--env"))
    tag = validate_tag(required(args.tag, "--tag"))
    repository = validate_repository(args.repository) if args.repository else None
    overrides, reason = overrides_from_args(args)
    request = Request(
        action=Action.DEPLOY,
        env=env,
        tag=tag,
        repository=repository,
        digest=_digest(args.digest, tag),
        built_here=bool(os.environ.get("CI_PIPELINE_URL")) and os.environ.get("IMAGE_TAG") == tag,
        force=args.force,
        dry_run=args.dry_run,
        overrides=overrides,
        reason=reason,
    )
    freezes = deploy_freezes.from_gitlab(os.environ)
    return run_verified(lambda verify: run_write(args, request, verify, freezes), args.verify_image)


def _digest(flag: str | None, tag: str) -> str | None:
    """``--digest``, else the build dotenv's ``IMAGE_DIGEST`` when it is about this very tag."""
    if flag is not None:
        return validate_digest(flag)
    built = os.environ.get("IMAGE_DIGEST", "")
    if built and os.environ.get("IMAGE_TAG") == tag:
        return validate_digest(built)
    return None
