"""What the write-back commands (deploy, promote, rollback, hold, unhold, reject, unreject;
verify's record) share: running a request through ``ci.gitops.writeback.apply`` (by push or
merge request), then ``--wait``."""

import argparse
import contextlib
import getpass
import os
import sys

from ci.commands.flags import retry, target_from_args
from ci.errors import CiError, UsageError
from ci.gitlab import GitLabContext
from ci.gitops.credentials import redact
from ci.gitops.plans.model import Request
from ci.gitops.processes import terminate_as_interrupt
from ci.gitops.writeback import apply
from ci.wait.loop import plan_wait, wait_after_write


def run_write(args: argparse.Namespace, request: Request, verify=None, freezes=None) -> int:
    """Apply ``request`` and print what happened; then wait for Argo CD when asked.
    ``freezes``: freeze windows beside the branch's policy (``ci.gitops.plans.model.Freezes``)."""
    target = target_from_args(args)
    context = GitLabContext.from_environ()
    publish = None
    if getattr(args, "merge_request", False):
        from ci.gitops.gitlab_api import GitLabSettings
        from ci.gitops.merge_request import publisher

        publish = publisher(GitLabSettings.from_environ(os.environ), context, target.branch)
    # bad settings: nothing pushed (hold and unhold have no --wait)
    wait = None if request.dry_run else plan_wait(getattr(args, "wait", ""), request.env)
    attempts = retry()
    with terminate_as_interrupt():
        outcome = apply(
            target,
            request,
            context,
            verify=verify,
            retry=attempts,
            log=lambda line: print(redact(line), file=sys.stderr),
            publish=publish,
            freezes=freezes,
        )
    if outcome.diff:
        print(outcome.diff, end="")
    print(outcome.line, flush=True)
    return wait_after_write(wait, target, request.env, outcome)


def who(context: GitLabContext) -> str:
    """Who acts: the GitLab user who ran the job, else the local user."""
    if context.user_login:
        email = f" <{context.user_email}>" if context.user_email else ""
        return context.user_login + email
    with contextlib.suppress(Exception):
        return getpass.getuser()
    return "unknown"


def reason(
    value: str | None, required: bool, why: str = "say why the environment is held"
) -> str | None:
    text = " ".join((value or "").split())
    if required and not text:
        raise UsageError(f"--reason is required ({why})")
    if len(text) > 500:
        raise UsageError(f"--reason is {len(text)} characters long; at most 500")
    return text or None


def registry_verifier():
    """``verify(repository, tag) -> digest``: the image must be in its registry."""
    from ci.registry import ImageRef, auth_from_environ, image_digest, insecure_from_env

    def verify(repository: str, tag: str) -> str | None:
        image = ImageRef.parse(f"{repository}:{tag}")
        auth = auth_from_environ(image)
        try:
            return image_digest(image, auth, insecure=insecure_from_env())
        except CiError as error:
            raise CiError(f"{error}: nothing committed") from None

    return verify
