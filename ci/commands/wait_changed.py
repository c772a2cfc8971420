"""``python -m ci wait-changed``: wait, with ``python -m ci wait --env ENV --revision HEAD``, for
every environment the pushed commits change (the default branch's gitops-only pipeline, so that
a merged promotion shows whether Argo CD runs it).

    python -m ci wait-changed [--base REF] [--dry-run]

Base: ``--base``, else ``CI_COMMIT_BEFORE_SHA`` (the branch before the push), else ``HEAD^``.
Changed environments: ``gitops/<env>/...`` and ``values.<env>.yaml``; a change to
``gitops/argocd/`` means all of them. The waits run side by side; each one's output is printed
when it ends; the exit code is the first non-zero one. On SIGTERM or SIGINT each wait is sent
SIGTERM and waited for (it ends its git processes and removes its clone), then exit 130.
"""

import argparse
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from ci.errors import UsageError
from ci.gitops.check import affected
from ci.gitops.checkout import Checkout
from ci.gitops.processes import terminate_as_interrupt
from ci.gitops.tags import environments_from_paths
from ci.options import env_flag, env_switch
from ci.wait.loop import EXIT_DEPLOYED, EXIT_SUPERSEDED

WAIT_STATES = {EXIT_DEPLOYED: "done", EXIT_SUPERSEDED: "superseded"}

NO_COMMIT = "0" * 40


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "wait-changed",
        help="python -m ci wait for each environment the pushed commits change",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    env_flag(parser, "--base", "GITOPS_WAIT_BASE", help="commit before the change")
    env_switch(parser, "--dry-run", "GITOPS_DRY_RUN", help="print the environments; wait for none")
    parser.set_defaults(run=run)


def default_base(checkout: Checkout, environ: Mapping[str, str]) -> str:
    before = environ.get("CI_COMMIT_BEFORE_SHA", "")
    if before and before != NO_COMMIT:
        return checkout.resolve(before, "CI_COMMIT_BEFORE_SHA")
    return checkout.resolve("HEAD^", "HEAD^ (no CI_COMMIT_BEFORE_SHA)")


def changed_environments(checkout: Checkout, base: str, head: str) -> list[str]:
    """The environments of ``head`` (folders gitops/<env>/values.yaml) that base..head changes."""
    paths = checkout.changed_paths(base, head)
    found = affected(paths)
    listing = checkout.git("ls-tree", "-r", "--name-only", head, "--", "gitops/").decode()
    present = environments_from_paths(listing.splitlines())
    if found.argocd:
        return present
    return sorted(set(found.envs) & set(present))


def run(args: argparse.Namespace) -> int:
    checkout = Checkout(Path.cwd())
    head = checkout.resolve("HEAD", "HEAD")
    base = checkout.resolve(args.base) if args.base else default_base(checkout, os.environ)
    envs = changed_environments(checkout, base, head)
    if not envs:
        print(f"wait-changed: {base[:12]}..{head[:12]} changes no environment: nothing to wait for")
        return 0
    if args.dry_run:
        print(f"wait-changed: would wait for {', '.join(envs)}")
        return 0
    if not os.environ.get("ARGOCD_SERVER"):
        raise UsageError("ARGOCD_SERVER is not set: nothing to wait with")
    with terminate_as_interrupt():  # SIGTERM unwinds too: the waits end (and clean up) first
        return _wait_all(envs, head)


def _wait_all(envs: list[str], head: str) -> int:
    """``python -m ci wait`` for each environment side by side; the combined exit code."""
    waits = {
        env: subprocess.Popen(
            [sys.executable, "-m", "ci", "wait", "--env", env, "--revision", head],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for env in envs
    }
    print(f"wait-changed: waiting for {', '.join(envs)}", flush=True)
    codes = []
    try:
        for env, process in waits.items():
            output, _ = process.communicate()
            for line in output.splitlines():
                print(f"{env}: {line}")
            state = WAIT_STATES.get(process.returncode, "FAILED")
            print(f"wait-changed: {env}: {state}", flush=True)
            codes.append(process.returncode)
    finally:
        for process in waits.values():  # interrupted: no wait outlives us (each one ends its
            if process.poll() is None:  # git processes and removes its clone on SIGTERM)
                process.terminate()
                process.wait()
    return combined_exit_code(codes)


def combined_exit_code(codes: list[int]) -> int:
    """One exit code for several waits: failure outranks superseded, which outranks success."""
    failures = [code for code in codes if code not in (EXIT_DEPLOYED, EXIT_SUPERSEDED)]
    if failures:
        return failures[0]
    return EXIT_SUPERSEDED if EXIT_SUPERSEDED in codes else 0
