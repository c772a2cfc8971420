"""``python -m ci build``: build the image with buildah and push it to ECR, once per tag
(``ci.build``: the inputs, the plan, the build and the push)."""

import argparse
import os

from ci import build
from ci.build import execute, plan, resolve_inputs
from ci.gitlab import GitLabContext
from ci.options import env_flag, env_switch, is_true


def run(args: argparse.Namespace) -> int:
    inputs = resolve_inputs(args, GitLabContext.from_environ())
    build_plan = plan(inputs)
    if args.dry_run:
        print(build_plan.describe(inputs.region))
        return 0
    return execute(inputs, build_plan)


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "build",
        help="build the image with buildah and push it to ECR (once per tag)",
        description=build.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    env_flag(parser, "--registry", "ECR_REPOSITORY_URL", help="registry host[/path]")
    env_flag(parser, "--name", "PROJECT_NAME", help="image name; else $CI_PROJECT_NAME")
    parser.add_argument("--tag", help="image tag (default: $CI_COMMIT_SHORT_SHA)")
    env_flag(parser, "--region", "AWS_REGION", "AWS_DEFAULT_REGION", help="AWS region of ECR")
    env_flag(parser, "--endpoint-url", "AWS_ENDPOINT_URL", help="AWS API endpoint override")
    parser.add_argument("--revision", help="full commit SHA label (default: $CI_COMMIT_SHA)")
    parser.add_argument("--source-url", help="source URL label (default: $CI_PROJECT_URL)")
    env_flag(
        parser,
        "--source-date-epoch",
        "SOURCE_DATE_EPOCH",
        "CI_COMMIT_TIMESTAMP",
        help="commit time, seconds since the epoch or ISO 8601: file mtimes and image dates "
        "(default: HEAD's commit time from git)",
    )
    env_flag(parser, "--created", "IMAGE_CREATED", help="created label (default: the commit time)")
    env_flag(parser, "--context", "BUILD_CONTEXT", default=".", help="build context directory")
    env_flag(parser, "--file", "DOCKERFILE", help="Dockerfile (default: CONTEXT/Dockerfile)")
    env_flag(parser, "--base-image", "BASE_IMAGE", help="override the Dockerfile's BASE_IMAGE")
    parser.add_argument(
        "--build-volume",
        action="append",
        metavar="SRC:DST[:ro]",
        help="mount for RUN steps only, repeatable (env: $BUILD_VOLUMES, space-separated)",
    )
    _layer_flags(parser)
    env_flag(parser, "--dotenv", "BUILD_DOTENV", default="build.env", help="dotenv file to write")
    parser.add_argument("--dry-run", action="store_true", help="print the plan, change nothing")
    parser.set_defaults(run=run)


def _layer_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--layers",
        action=argparse.BooleanOptionalAction,
        default=is_true(os.environ.get("BUILD_LAYERS", "true")),
        help="keep each step as a cached layer (buildah --layers; --cache implies it);"
        " --no-layers commits once per stage, faster on vfs (env: $BUILD_LAYERS, default true)",
    )
    env_switch(
        parser, "--cache", "BUILD_CACHE", help="use the registry as layer cache (NAME-cache)"
    )
