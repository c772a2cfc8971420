"""``python -m ci reject --tag TAG --reason TEXT [--digest sha256:...]``: reject a build:
``deploy`` and ``promote`` refuse it in every environment from then on, and ``check`` refuses a
merge request after which an environment would run it (``gitops/rejected.yaml``). A rejected tag
is refused whatever its digest; with ``--digest``, that digest is refused under any tag too. It
rolls nothing back: the environments that run the build are named."""

import argparse

from ci.commands.flags import add_write_flags, required
from ci.commands.write_back import reason, run_write, who
from ci.gitlab import GitLabContext
from ci.gitops.plans.action import Action
from ci.gitops.plans.model import Request
from ci.gitops.tags import validate_digest, validate_tag
from ci.options import env_flag


def add_build_flags(parser: argparse.ArgumentParser, why: str) -> None:
    """--tag, --digest and --reason of reject and unreject."""
    env_flag(parser, "--tag", "GITOPS_REJECT_TAG", help="the build's image tag")
    env_flag(parser, "--digest", "GITOPS_REJECT_DIGEST", help="its image digest (sha256:...)")
    env_flag(parser, "--reason", "GITOPS_REASON", help=why)
    add_write_flags(parser, wait=False)


def request_from_args(args: argparse.Namespace, action: Action, why: str) -> Request:
    return Request(
        action=action,
        env="",
        tag=validate_tag(required(args.tag, "--tag")),
        digest=validate_digest(args.digest) if args.digest else None,
        reason=reason(args.reason, required=True, why=why),
        by=who(GitLabContext.from_environ()),
        dry_run=args.dry_run,
    )


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "reject",
        help="reject a build: deploy, promote and check refuse it in every environment",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_build_flags(parser, "why (shown to whoever is refused)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    return run_write(args, request_from_args(args, Action.REJECT, "say why the build is rejected"))
