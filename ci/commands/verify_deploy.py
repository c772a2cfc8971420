"""``python -m ci verify-deploy --url URL [--version V]``: wait until the service's ``/-/health``
reports the version, several polls in a row (``ci.verify``)."""

import argparse

from ci import verify
from ci.errors import UsageError
from ci.gitlab import GitLabContext
from ci.options import env_flag
from ci.verify import health_url, positive_float, wait_for_version


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "verify-deploy",
        help="wait until the service's /-/health reports a version",
        description=verify.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    env_flag(parser, "--url", "VERIFY_URL", help="the service's base URL")
    env_flag(
        parser,
        "--version",
        "VERIFY_VERSION",
        "IMAGE_TAG",
        help="the version to wait for (default: the commit's short SHA)",
    )
    env_flag(
        parser,
        "--timeout",
        "VERIFY_TIMEOUT",
        default="300",
        type=positive_float,
        help="give up after this many seconds",
    )
    env_flag(
        parser,
        "--interval",
        "VERIFY_INTERVAL",
        default="5",
        type=positive_float,
        help="seconds between polls",
    )
    env_flag(
        parser,
        "--successes",
        "VERIFY_SUCCESSES",
        default="3",
        type=int,
        help="consecutive polls that must report the version",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if not args.url:
        raise UsageError("no URL to verify: pass --url or set $VERIFY_URL")
    version = args.version or GitLabContext.from_environ().commit_short_sha
    if not version:
        raise UsageError("no version to wait for: pass --version or set $VERIFY_VERSION")
    if args.successes < 1:
        raise UsageError(f"--successes must be at least 1, got {args.successes}")
    url = health_url(args.url)
    waited = wait_for_version(
        url,
        version,
        timeout=args.timeout,
        interval=args.interval,
        successes=args.successes,
    )
    print(f"{url} reports version {version} (after {waited:.1f}s)")
    return 0
