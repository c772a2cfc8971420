"""``python -m ci wait --env ENV [--revision SHA]``: wait until Argo CD runs the environment's
build healthy (exit 0), or say why not: 1 failed or timed out, 2 bad input, 3 superseded or
rolled back, 130 interrupted. The loop is ``ci.wait.loop``; the exit codes are documented there."""

import argparse

from ci.commands.flags import add_target_flags, target_from_args
from ci.deadline import seconds
from ci.errors import UsageError
from ci.gitops.tags import validate_env_name
from ci.options import env_flag
from ci.wait import loop


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "wait",
        help="wait until Argo CD runs an environment's build healthy (exit 0/1/2/3, 130)",
        description=loop.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    env_flag(parser, "--env", "GITOPS_ENV", help="environment: a folder gitops/ENV/")
    parser.add_argument(
        "--revision",
        help="gitops commit to wait for (default: the newest commit that changed ENV's image)",
    )
    # Durations are checked in run(): one line naming the flag, not argparse's usage text.
    timeout_help = "give up after this many seconds (the whole command, the clone included)"
    env_flag(parser, "--timeout", "WAIT_TIMEOUT", default="600", help=timeout_help)
    env_flag(parser, "--interval", "WAIT_INTERVAL", default="5", help="seconds between polls")
    add_target_flags(parser, branch_help="branch Argo CD follows")
    parser.epilog = (
        "Argo CD: $ARGOCD_SERVER (base URL), $ARGOCD_AUTH_TOKEN (read-only project token),"
        " $ARGOCD_CA_FILE (PEM of a private CA), $ARGOCD_APP (default: the Application"
        " gitops/argocd/ generates for ENV)."
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if not args.env:
        raise UsageError("--env is required")
    env = validate_env_name(args.env)
    timeout = seconds(args.timeout, "--timeout ($WAIT_TIMEOUT)")
    interval = seconds(args.interval, "--interval ($WAIT_INTERVAL)")
    settings = loop.settings_from_environ(env, timeout, interval)
    return loop.wait_for(target_from_args(args), env, args.revision, settings)
