"""Flags several commands share, and what they turn into: the gitops target (``--repo``,
``--branch``), ``--dry-run``, ``--merge-request``, ``--wait``. Every flag has a variable."""

import argparse
import os
import re
from collections.abc import Mapping

from ci.errors import UsageError
from ci.gitops.credentials import Identity, credentials_from_environ, default_repo, normalize_url
from ci.gitops.message import DEFAULT_AUTHOR_EMAIL, DEFAULT_AUTHOR_NAME
from ci.gitops.plans.action import Override
from ci.gitops.remote import GIT_TIMEOUT_SECONDS
from ci.gitops.writeback import Retry, Target
from ci.options import env_flag, env_switch


def add_target_flags(parser: argparse.ArgumentParser, branch_help: str = "branch holding gitops/"):
    env_flag(
        parser, "--repo", "GITOPS_REPO", help="remote URL or path (default: this checkout's origin)"
    )
    env_flag(
        parser, "--branch", "GITOPS_BRANCH", "CI_DEFAULT_BRANCH", default="main", help=branch_help
    )


def add_dry_run(parser: argparse.ArgumentParser) -> None:
    env_switch(
        parser,
        "--dry-run",
        "GITOPS_DRY_RUN",
        help="print the diff that would be committed; push nothing",
    )


def add_merge_request(parser: argparse.ArgumentParser) -> None:
    env_switch(
        parser,
        "--merge-request",
        "GITOPS_MERGE_REQUEST",
        help="push the commit to a branch (gitops/ENV/TAG, gitops-holds/ENV/ACTION) and open a"
        " merge request into --branch",
    )


def add_wait_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--wait",
        action="store_const",
        const="true",
        default=os.environ.get("GITOPS_WAIT", ""),
        help="after pushing, wait until Argo CD runs the commit healthy, as `wait` does"
        " (env: $GITOPS_WAIT: true, or auto: only when $ARGOCD_SERVER is set)",
    )


def add_verify_image(parser: argparse.ArgumentParser, what: str = "the image") -> None:
    """--verify-image (env: $GITOPS_VERIFY_IMAGE): the registry and signature check of
    deploy, promote and check (ci.trust)."""
    env_switch(
        parser,
        "--verify-image",
        "GITOPS_VERIFY_IMAGE",
        help=f"check the registry has {what} first, and, with gitops/cosign.pub on the branch"
        " (or COSIGN_PUBLIC_KEY_FILE), its signature and provenance",
    )


def add_override(parser: argparse.ArgumentParser, *overrides: Override) -> None:
    """--override WHAT (repeatable; env: $GITOPS_OVERRIDE, comma-separated) and --reason."""
    names = ", ".join(overrides)
    parser.add_argument(
        "--override",
        action="append",
        choices=list(overrides),
        help=f"go past {names} ({'; '.join(OVERRIDE_HELP[o] for o in overrides)}), with --reason,"
        " recorded in the commit's trailer (env: $GITOPS_OVERRIDE, comma-separated)",
    )
    env_flag(parser, "--reason", "GITOPS_REASON", help="why the override (with --override)")
    parser.set_defaults(override_choices=overrides)


OVERRIDE_HELP = {
    Override.EVIDENCE: "the source's verification and soak",
    Override.FREEZE: "a freeze window",
}


def overrides_from_args(
    args: argparse.Namespace, environ: Mapping[str, str] = os.environ
) -> tuple[frozenset[Override], str | None]:
    """The overrides asked for and their reason (required with any: it goes in the trailer)."""
    given = args.override or [
        word.strip() for word in environ.get("GITOPS_OVERRIDE", "").split(",") if word.strip()
    ]
    unknown = [word for word in given if word not in args.override_choices]
    if unknown:
        known = ", ".join(args.override_choices)
        raise UsageError(f"--override {unknown[0]!r} is not one of {known}")
    if not given:
        return frozenset(), None
    why = " ".join((args.reason or "").split())
    if not why:
        raise UsageError("--override needs --reason (it is recorded in the commit's trailer)")
    if len(why) > 500:
        raise UsageError(f"--reason is {len(why)} characters long; at most 500")
    return frozenset(Override(word) for word in given), why


def add_write_flags(parser: argparse.ArgumentParser, wait: bool = True) -> None:
    """The flags of every write-back: --dry-run, --merge-request, --wait (when it changes an
    image), --repo and --branch."""
    add_dry_run(parser)
    add_merge_request(parser)
    if wait:
        add_wait_flag(parser)
    add_target_flags(parser)


def required(value: str | None, flag: str) -> str:
    if not value:
        raise UsageError(f"{flag} is required")
    return value


def target_from_args(args: argparse.Namespace, environ: Mapping[str, str] = os.environ) -> Target:
    """The gitops remote and branch of ``--repo``/``--branch``, with credentials and identity
    from the environment (GITOPS_TOKEN..., GITOPS_AUTHOR_*, GITOPS_GIT_TIMEOUT)."""
    repo = args.repo or default_repo(environ)
    if not repo:
        raise UsageError("no --repo given and this checkout has no origin remote")
    url, embedded = normalize_url(repo)
    if not args.branch:
        raise UsageError("--branch is empty")
    identity = Identity(
        environ.get("GITOPS_AUTHOR_NAME") or DEFAULT_AUTHOR_NAME,
        environ.get("GITOPS_AUTHOR_EMAIL") or DEFAULT_AUTHOR_EMAIL,
    )
    credentials = credentials_from_environ(environ, embedded)
    return Target(url, args.branch, credentials, identity, timeout=git_timeout(environ))


def retry(environ: Mapping[str, str] = os.environ) -> Retry:
    raw = environ.get("GITOPS_PUSH_ATTEMPTS", "")
    if not raw:
        return Retry()
    if not re.fullmatch(r"[0-9]{1,4}", raw) or int(raw) < 1:
        raise UsageError(f"GITOPS_PUSH_ATTEMPTS must be a positive integer, not {raw!r}")
    return Retry(attempts=int(raw))


def git_timeout(environ: Mapping[str, str] = os.environ) -> float:
    raw = environ.get("GITOPS_GIT_TIMEOUT", "")
    if not raw:
        return GIT_TIMEOUT_SECONDS
    if not re.fullmatch(r"[0-9]{1,5}(\.[0-9]{1,3})?", raw) or float(raw) <= 0:
        raise UsageError(f"GITOPS_GIT_TIMEOUT must be a positive number of seconds, not {raw!r}")
    return float(raw)
