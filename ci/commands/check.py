"""``python -m ci check``: the merge-request gate, decided from what Argo CD will run.

    python -m ci check [--target-branch BRANCH | --base REF] [--verify-image]

The MR (HEAD) is merged into the target branch's tip, fetched now from origin (``--base``: that
commit instead); both trees are rendered as Argo CD renders them (``ci.gitops.runs``), and
``ci.gitops.gate`` judges the difference of every environment's images: what it runs after the
merge must have run at a tip of the target branch in the environment before it in
``gitops/promotion.yaml``, no held environment may change, no environment may run a rejected
build (``gitops/rejected.yaml``; no trailer excuses it), and releasing a hold or a rejection,
changing the policy or moving an Application needs a ``Promotion-Override: <reason>`` trailer in
the MR's own commits; a build promoted without its source's evidence (a passed verdict, the
soak) needs it or an ``Evidence-Override: <reason>``. Holds, rejections, verdicts, the policy
and history are read from the target branch, never from the MR.
With ``--verify-image`` each new image must exist in its registry and, once the target branch
has ``gitops/cosign.pub``, be signed with its provenance (``ci.trust``). One line per problem on
stdout, exit 1; bad input exit 2.
"""

import argparse
import sys
from pathlib import Path

from ci.commands.flags import add_verify_image
from ci.gitops.checkout import Checkout
from ci.gitops.review import collect, target_tip
from ci.options import env_flag


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "check",
        help="judge HEAD as a merge request: what each environment will run, holds, promotion",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    env_flag(
        parser,
        "--target-branch",
        "CI_MERGE_REQUEST_TARGET_BRANCH_NAME",
        "CI_DEFAULT_BRANCH",
        default="main",
        help="the branch the merge request merges into, fetched from origin",
    )
    parser.add_argument(
        "--base", help="judge against this commit instead of the target branch's fetched tip"
    )
    add_verify_image(parser, what="each new image")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    checkout = Checkout(Path.cwd())
    head = checkout.resolve("HEAD", "HEAD")
    target = checkout.resolve(args.base) if args.base else target_tip(checkout, args.target_branch)
    violations, notices = collect(checkout, target, head, args.verify_image)
    for notice in notices:
        print(f"check: {notice}", file=sys.stderr)
    for violation in violations:
        print(violation.line())
    span = f"{target[:12]}..{head[:12]}"
    if violations:
        count = len(violations)
        print(f"check: {count} problem{'s' if count > 1 else ''} in {span}", file=sys.stderr)
        return 1
    print(f"check: {span} ok")
    return 0
