"""``python -m ci wait-changed``: wait, with ``python -m ci wait --env ENV --revision HEAD``, for
every environment the pushed commits change (the default branch's gitops-only pipeline, so that
a merged promotion shows whether Argo CD runs it); with ``--verify``, then judge each one whose
build or settings changed and that has a verify rule, with ``python -m ci verify --env ENV
--revision HEAD`` (a merged promotion verified, and reported to GitLab, as a pipeline's deploy is).

    python -m ci wait-changed [--base REF] [--verify] [--dry-run]

Base: ``--base``, else ``CI_COMMIT_BEFORE_SHA`` (the branch before the push), else ``HEAD^``.
Changed environments: ``gitops/<env>/...`` and ``values.<env>.yaml``; a change to
``gitops/argocd/`` means all of them. The waits run side by side; each one's output is printed
when it ends; the verifications follow, side by side, for the environments whose wait ended
deployed. A change of only a record (a verdict, a hold) is waited for, never verified again. The
exit code is the first failure's, else 3 when a wait was superseded, else 0. On SIGTERM or
SIGINT each running wait or verify is sent SIGTERM and waited for (it ends its git processes and
removes its clone), then exit 130.
"""

import argparse
import os
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ci.errors import UsageError
from ci.gitops.check import affected
from ci.gitops.checkout import Checkout
from ci.gitops.processes import terminate_as_interrupt
from ci.gitops.promotion import PROMOTION_FILE, parse_policy
from ci.gitops.tags import environments_from_paths, values_path
from ci.options import env_flag, env_switch
from ci.wait.loop import EXIT_DEPLOYED, EXIT_SUPERSEDED


@dataclass(frozen=True)
class Step:
    command: str  # python -m ci COMMAND --env ENV --revision HEAD
    doing: str
    states: dict[int, str]  # exit code: the word printed (others: FAILED)


WAIT = Step("wait", "waiting for", {EXIT_DEPLOYED: "done", EXIT_SUPERSEDED: "superseded"})
VERIFY = Step("verify", "verifying", {0: "verified"})

NO_COMMIT = "0" * 40


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "wait-changed",
        help="python -m ci wait for each environment the pushed commits change",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    env_flag(parser, "--base", "GITOPS_WAIT_BASE", help="commit before the change")
    env_switch(
        parser,
        "--verify",
        "GITOPS_VERIFY",
        help="then verify each one whose build or settings changed and that has a verify rule",
    )
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


def verified_environments(checkout: Checkout, base: str, head: str, envs: list[str]) -> list[str]:
    """Those of ``envs`` whose build or settings base..head changes (their values files, or the
    Argo CD manifests) and that ``gitops/promotion.yaml`` at ``head`` gives a verify rule."""
    paths = set(checkout.changed_paths(base, head))
    data = checkout.read(head, PROMOTION_FILE)
    try:
        text = None if data is None else data.decode("utf-8")
    except UnicodeDecodeError:
        raise UsageError(f"{PROMOTION_FILE} at {head[:12]} is not UTF-8") from None
    policy = parse_policy(text, PROMOTION_FILE)
    everything = affected(paths).argocd
    return [
        env
        for env in envs
        if env in policy.verify and (everything or {values_path(env), f"values.{env}.yaml"} & paths)
    ]


def run(args: argparse.Namespace) -> int:
    checkout = Checkout(Path.cwd())
    head = checkout.resolve("HEAD", "HEAD")
    base = checkout.resolve(args.base) if args.base else default_base(checkout, os.environ)
    envs = changed_environments(checkout, base, head)
    if not envs:
        print(f"wait-changed: {base[:12]}..{head[:12]} changes no environment: nothing to wait for")
        return 0
    to_verify = verified_environments(checkout, base, head, envs) if args.verify else []
    if args.dry_run:
        verifying = f"; would verify {', '.join(to_verify)}" if to_verify else ""
        print(f"wait-changed: would wait for {', '.join(envs)}{verifying}")
        return 0
    if not os.environ.get("ARGOCD_SERVER"):
        raise UsageError("ARGOCD_SERVER is not set: nothing to wait with")
    with terminate_as_interrupt():  # SIGTERM unwinds too: the waits end (and clean up) first
        waited = _run_all(WAIT, envs, head)
        deployed = [env for env in to_verify if waited[env] == EXIT_DEPLOYED]
        verified = _run_all(VERIFY, deployed, head) if deployed else {}
    return combined_exit_code([*waited.values(), *verified.values()])


def _run_all(step: Step, envs: list[str], head: str) -> dict[str, int]:
    """``python -m ci COMMAND --env ENV --revision HEAD`` for each environment side by side;
    each one's output when it ends; their exit codes."""
    started = {
        env: subprocess.Popen(
            [sys.executable, "-m", "ci", step.command, "--env", env, "--revision", head],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for env in envs
    }
    print(f"wait-changed: {step.doing} {', '.join(envs)}", flush=True)
    codes = {}
    try:
        for env, process in started.items():
            output, _ = process.communicate()
            for line in output.splitlines():
                print(f"{env}: {line}")
            state = step.states.get(process.returncode, "FAILED")
            print(f"wait-changed: {env}: {state}", flush=True)
            codes[env] = process.returncode
    finally:
        for process in started.values():  # interrupted: none outlives us (each one ends its
            if process.poll() is None:  # git processes and removes its clone on SIGTERM)
                process.terminate()
                process.wait()
    return codes


def combined_exit_code(codes: list[int]) -> int:
    """One exit code for several waits: failure outranks superseded, which outranks success."""
    failures = [code for code in codes if code not in (EXIT_DEPLOYED, EXIT_SUPERSEDED)]
    if failures:
        return failures[0]
    return EXIT_SUPERSEDED if EXIT_SUPERSEDED in codes else 0
