"""``python -m ci deploy|promote|rollback|hold|unhold|status``: the write-back commands."""

import argparse
import contextlib
import getpass
import json
import os
import re
import signal
import sys

from ci.errors import CiError, UsageError
from ci.gitlab import GitLabContext
from ci.gitops import status as status_module
from ci.gitops.message import DEFAULT_AUTHOR_EMAIL, DEFAULT_AUTHOR_NAME
from ci.gitops.remote import (
    GIT_TIMEOUT_SECONDS,
    Identity,
    credentials_from_environ,
    default_repo,
    normalize_url,
    redact,
)
from ci.gitops.tags import (
    validate_digest,
    validate_env_name,
    validate_repository,
    validate_tag,
)
from ci.gitops.writeback import Request, Retry, Target, apply
from ci.options import env_flag, env_switch


def _common(parser: argparse.ArgumentParser) -> None:
    env_flag(
        parser, "--repo", "GITOPS_REPO", help="remote URL or path (default: this checkout's origin)"
    )
    env_flag(
        parser,
        "--branch",
        "GITOPS_BRANCH",
        "CI_DEFAULT_BRANCH",
        default="main",
        help="branch holding gitops/",
    )


def register(subparsers) -> None:
    _register_writes(subparsers)
    _register_holds(subparsers)
    status = subparsers.add_parser("status", help="what each environment runs")
    env_flag(status, "--env", "GITOPS_ENV", help="only this environment")
    env_switch(status, "--json", "GITOPS_JSON", help="print JSON")
    _common(status)
    status.set_defaults(run=run_status)


def _register_writes(subparsers) -> None:
    """deploy, promote and rollback: the write-backs that change an image (and can --wait)."""
    from ci.wait.commands import add_wait_flag

    deploy = subparsers.add_parser("deploy", help="commit an image tag into an environment")
    env_flag(deploy, "--env", "GITOPS_ENV", help="environment: a folder gitops/ENV/")
    env_flag(deploy, "--tag", "IMAGE_TAG", help="image tag to deploy (the build's short SHA)")
    env_flag(
        deploy,
        "--repository",
        "IMAGE_REPOSITORY",
        help="also set image.repository (REGISTRY/NAME, from the build's dotenv)",
    )
    deploy.add_argument(
        "--digest",
        help="also pin image.digest (sha256:...; default: $IMAGE_DIGEST from the build's dotenv"
        " when --tag is $IMAGE_TAG; with --verify-image: read from the registry)",
    )
    env_switch(deploy, "--force", "GITOPS_FORCE", help="deploy even when a newer build is live")
    env_switch(
        deploy,
        "--verify-image",
        "GITOPS_VERIFY_IMAGE",
        help="check the registry has the image first",
    )
    _dry_run(deploy)
    add_wait_flag(deploy)
    _common(deploy)
    deploy.set_defaults(run=run_deploy)

    promote = subparsers.add_parser("promote", help="copy one environment's tag to another")
    env_flag(promote, "--from", "GITOPS_FROM", dest="source_env", help="environment to copy from")
    env_flag(promote, "--to", "GITOPS_TO", dest="env", help="environment to write")
    env_switch(promote, "--force", "GITOPS_FORCE", help="promote even into a held environment")
    _dry_run(promote)
    add_wait_flag(promote)
    _common(promote)
    promote.set_defaults(run=run_promote)

    rollback = subparsers.add_parser("rollback", help="set an environment back to its previous tag")
    env_flag(rollback, "--env", "GITOPS_ENV", help="environment to roll back")
    env_flag(rollback, "--to", "GITOPS_ROLLBACK_TO", dest="tag", help="tag to roll back to")
    env_flag(rollback, "--reason", "GITOPS_REASON", help="why (recorded in the hold)")
    _dry_run(rollback)
    add_wait_flag(rollback)
    _common(rollback)
    rollback.set_defaults(run=run_rollback)


def _register_holds(subparsers) -> None:
    hold = subparsers.add_parser("hold", help="hold an environment: deploy and promote refuse it")
    env_flag(hold, "--env", "GITOPS_ENV", help="environment to hold")
    env_flag(hold, "--reason", "GITOPS_REASON", help="why (shown to whoever is refused)")
    _dry_run_only(hold)
    _merge_request(hold)
    _common(hold)
    hold.set_defaults(run=run_hold)

    unhold = subparsers.add_parser("unhold", help="release a held environment")
    env_flag(unhold, "--env", "GITOPS_ENV", help="environment to release")
    _dry_run_only(unhold)
    _merge_request(unhold)
    _common(unhold)
    unhold.set_defaults(run=run_unhold)


def _dry_run_only(parser: argparse.ArgumentParser) -> None:
    env_switch(
        parser,
        "--dry-run",
        "GITOPS_DRY_RUN",
        help="print the diff that would be committed; push nothing",
    )


def _dry_run(parser: argparse.ArgumentParser) -> None:
    _dry_run_only(parser)
    _merge_request(parser)


def _merge_request(parser: argparse.ArgumentParser) -> None:
    env_switch(
        parser,
        "--merge-request",
        "GITOPS_MERGE_REQUEST",
        help="push the commit to a branch (gitops/ENV/TAG, gitops-holds/ENV/ACTION) and open a"
        " merge request into --branch",
    )


def target_from_args(args: argparse.Namespace) -> Target:
    repo = args.repo or default_repo(os.environ)
    if not repo:
        raise UsageError("no --repo given and this checkout has no origin remote")
    url, embedded = normalize_url(repo)
    if not args.branch:
        raise UsageError("--branch is empty")
    identity = Identity(
        os.environ.get("GITOPS_AUTHOR_NAME") or DEFAULT_AUTHOR_NAME,
        os.environ.get("GITOPS_AUTHOR_EMAIL") or DEFAULT_AUTHOR_EMAIL,
    )
    credentials = credentials_from_environ(os.environ, embedded)
    return Target(url, args.branch, credentials, identity, timeout=_git_timeout())


def _retry() -> Retry:
    raw = os.environ.get("GITOPS_PUSH_ATTEMPTS", "")
    if not raw:
        return Retry()
    if not re.fullmatch(r"[0-9]{1,4}", raw) or int(raw) < 1:
        raise UsageError(f"GITOPS_PUSH_ATTEMPTS must be a positive integer, not {raw!r}")
    return Retry(attempts=int(raw))


def _git_timeout() -> float:
    raw = os.environ.get("GITOPS_GIT_TIMEOUT", "")
    if not raw:
        return GIT_TIMEOUT_SECONDS
    if not re.fullmatch(r"[0-9]{1,5}(\.[0-9]{1,3})?", raw) or float(raw) <= 0:
        raise UsageError(f"GITOPS_GIT_TIMEOUT must be a positive number of seconds, not {raw!r}")
    return float(raw)


def _who(context: GitLabContext) -> str:
    """Who holds: the GitLab user who ran the job, else the local user."""
    if context.user_login:
        email = f" <{context.user_email}>" if context.user_email else ""
        return context.user_login + email
    with contextlib.suppress(Exception):
        return getpass.getuser()
    return "unknown"


def _reason(value: str | None, required: bool) -> str | None:
    text = " ".join((value or "").split())
    if required and not text:
        raise UsageError("--reason is required (say why the environment is held)")
    if len(text) > 500:
        raise UsageError(f"--reason is {len(text)} characters long; at most 500")
    return text or None


def _required(value: str | None, flag: str) -> str:
    if not value:
        raise UsageError(f"{flag} is required")
    return value


def _verifier():
    from ci.registry import ImageRef, auth_from_environ, image_digest, insecure_from_env

    def verify(repository: str, tag: str) -> str | None:
        image = ImageRef.parse(f"{repository}:{tag}")
        auth = auth_from_environ(image)
        try:
            return image_digest(image, auth, insecure=insecure_from_env())
        except CiError as error:
            raise CiError(f"{error}: nothing committed") from None

    return verify


class _Terminated(KeyboardInterrupt):
    """SIGTERM (a cancelled job): unwound like Ctrl-C, so git's process group ends and temp
    clones are removed."""


@contextlib.contextmanager
def _terminate_as_interrupt():
    def handler(signum, frame):
        raise _Terminated()

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _run(args: argparse.Namespace, request: Request, verify=None) -> int:
    from ci.wait.commands import plan_wait, wait_after_write

    target = target_from_args(args)
    context = GitLabContext.from_environ()
    publish = None
    if getattr(args, "merge_request", False):
        from ci.gitops.merge_request import GitLabSettings, publisher

        publish = publisher(GitLabSettings.from_environ(os.environ), context, target.branch)
    # bad settings: nothing pushed (hold and unhold have no --wait)
    wait = None if request.dry_run else plan_wait(getattr(args, "wait", ""), request.env)
    retry = _retry()
    with _terminate_as_interrupt():
        outcome = apply(
            target,
            request,
            context,
            verify=verify,
            retry=retry,
            log=lambda line: print(redact(line), file=sys.stderr),
            publish=publish,
        )
    if outcome.diff:
        print(outcome.diff, end="")
    print(outcome.line, flush=True)
    return wait_after_write(wait, target, request.env, outcome)


def run_deploy(args: argparse.Namespace) -> int:
    env = validate_env_name(_required(args.env, "--env"))
    tag = validate_tag(_required(args.tag, "--tag"))
    repository = validate_repository(args.repository) if args.repository else None
    request = Request(
        action="deploy",
        env=env,
        tag=tag,
        repository=repository,
        digest=_digest(args.digest, tag),
        built_here=bool(os.environ.get("CI_PIPELINE_URL")) and os.environ.get("IMAGE_TAG") == tag,
        force=args.force,
        dry_run=args.dry_run,
    )
    return _run(args, request, _verifier() if args.verify_image else None)


def _digest(flag: str | None, tag: str) -> str | None:
    """``--digest``, else the build dotenv's ``IMAGE_DIGEST`` when it is about this very tag."""
    if flag is not None:
        return validate_digest(flag)
    built = os.environ.get("IMAGE_DIGEST", "")
    if built and os.environ.get("IMAGE_TAG") == tag:
        return validate_digest(built)
    return None


def run_promote(args: argparse.Namespace) -> int:
    source = validate_env_name(_required(args.source_env, "--from"))
    env = validate_env_name(_required(args.env, "--to"))
    if source == env:
        raise UsageError("--from and --to name the same environment")
    request = Request(
        action="promote", env=env, source_env=source, force=args.force, dry_run=args.dry_run
    )
    return _run(args, request)


def run_rollback(args: argparse.Namespace) -> int:
    env = validate_env_name(_required(args.env, "--env"))
    tag = validate_tag(args.tag) if args.tag else None
    request = Request(
        action="rollback",
        env=env,
        tag=tag,
        reason=_reason(args.reason, required=False),
        by=_who(GitLabContext.from_environ()),
        dry_run=args.dry_run,
    )
    return _run(args, request)


def run_hold(args: argparse.Namespace) -> int:
    env = validate_env_name(_required(args.env, "--env"))
    request = Request(
        action="hold",
        env=env,
        reason=_reason(args.reason, required=True),
        by=_who(GitLabContext.from_environ()),
        dry_run=args.dry_run,
    )
    return _run(args, request)


def run_unhold(args: argparse.Namespace) -> int:
    env = validate_env_name(_required(args.env, "--env"))
    who = _who(GitLabContext.from_environ())
    return _run(args, Request(action="unhold", env=env, by=who, dry_run=args.dry_run))


def run_status(args: argparse.Namespace) -> int:
    env = validate_env_name(args.env) if args.env else None
    with _terminate_as_interrupt():
        rows = status_module.collect(target_from_args(args), env)
    if args.json:
        print(json.dumps(status_module.as_dicts(rows), indent=2))
    else:
        print(status_module.table(rows))
    return 0
