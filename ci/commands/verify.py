"""``python -m ci verify --env ENV [--revision SHA | --tag TAG] [--no-rollback]``: watch the
environment's build for its rule's window through Prometheus and judge it by the service's own
metrics (``ci.slo``): exit 0 passed; 1 failed (the numbers and the threshold broken); 1
inconclusive (fewer than min_requests: not verified, nothing rolled back); 2 bad input; 130
interrupted. The verdict is then recorded through the write-back (``Action.RECORD``).

``--if-configured`` (the pipeline's verify-dev): without $PROMETHEUS_URL, or without a verify
rule for ENV, one line says the build was not judged, and the exit is 0."""

import argparse
import os
from dataclasses import dataclass
from pathlib import Path

from ci.chart.argocd import application_for
from ci.commands.flags import add_dry_run, add_target_flags, required, target_from_args
from ci.commands.write_back import run_write
from ci.deadline import seconds
from ci.errors import UsageError
from ci.gitops import deployments
from ci.gitops.plans.action import Action
from ci.gitops.plans.model import Request
from ci.gitops.processes import terminate_as_interrupt
from ci.gitops.tags import validate_env_name
from ci.gitops.verdicts import Outcome, Verdict
from ci.options import env_flag, env_switch
from ci.slo import judge, queries
from ci.slo.prometheus import Prometheus
from ci.slo.subject import NoRule, PolicySource, Subject, read_subject
from ci.slo.traffic import Synthetic, check_base_url
from ci.slo.watch import Watch

EPILOG = (
    "Prometheus: $PROMETHEUS_URL (base URL of its HTTP API), $PROMETHEUS_TOKEN (bearer token,"
    " optional), $PROMETHEUS_CA_FILE (PEM of a private CA)."
)


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "verify",
        help="judge an environment's build by its SLO in Prometheus (exit 0 passed, 1 not)",
        description=__doc__,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _build_flags(parser)
    _judging_flags(parser)
    add_dry_run(parser)
    add_target_flags(parser)
    parser.set_defaults(run=run)


def _build_flags(parser: argparse.ArgumentParser) -> None:
    """Which environment and build, and where its traffic goes."""
    env_flag(parser, "--env", "GITOPS_ENV", help="environment: a folder gitops/ENV/")
    env_flag(
        parser,
        "--revision",
        "VERIFY_REVISION",
        help="verify the build gitops/ENV/values.yaml names at this gitops commit of the branch"
        " (default: at its tip)",
    )
    env_flag(parser, "--tag", "VERIFY_TAG", help="verify this image tag, one ENV ran")
    env_flag(
        parser, "--url", "VERIFY_URL", help="the environment's base URL, for the rule's traffic"
    )


def _judging_flags(parser: argparse.ArgumentParser) -> None:
    """By which rule, over which series, and what follows a verdict."""
    env_flag(parser, "--policy", "VERIFY_POLICY", help="read the rule from this file instead")
    env_flag(
        parser,
        "--selector",
        "VERIFY_SELECTOR",
        help="label matchers of ENV's scrape targets (default: namespace=\"<the namespace"
        " gitops/argocd/ deploys ENV to>\"; '' for none)",
    )
    env_flag(
        parser,
        "--progress-interval",
        "VERIFY_PROGRESS_INTERVAL",
        default="30",
        help="seconds between progress lines",
    )
    env_switch(parser, "--no-rollback", "VERIFY_NO_ROLLBACK", help="record a failure only")
    env_switch(
        parser,
        "--if-configured",
        "VERIFY_IF_CONFIGURED",
        help="without $PROMETHEUS_URL or a verify rule for ENV: say so and exit 0",
    )


@dataclass(frozen=True)
class Settings:
    """Everything checked before the branch is cloned."""

    client: Prometheus
    matchers: tuple[str, ...]
    every: float
    url: str | None
    policy: PolicySource | None


def run(args: argparse.Namespace) -> int:
    env = validate_env_name(required(args.env, "--env"))
    if args.revision and args.tag:
        raise UsageError("--revision and --tag name the build each: give one")
    if args.if_configured and not os.environ.get("PROMETHEUS_URL"):
        print(f"verify: PROMETHEUS_URL is not set: {env}'s build not judged by its SLO")
        return 0
    settings = settings_from_args(args, env)
    with terminate_as_interrupt():
        try:
            subject = read_subject(
                target_from_args(args), env, args.revision, args.tag, settings.policy
            )
        except NoRule as missing:
            if not args.if_configured:
                raise
            print(f"verify: {missing}: {env}'s build not judged by its SLO")
            return 0
        deployment = (
            None if args.dry_run else deployments.start(env, subject.commit, subject.branch)
        )
        try:
            verdict, seconds_watched = watch(settings, subject)
        except KeyboardInterrupt:  # a newer pipeline cancelled the job: superseded
            if deployment is not None:
                print(deployment.finish(None), flush=True)
            raise
    print(judge.final_line(verdict, seconds_watched), flush=True)
    if deployment is not None:
        print(deployment.finish(verdict.outcome), flush=True)
    recorded = record(args, verdict)
    return recorded or (0 if verdict.outcome is Outcome.PASSED else 1)


def settings_from_args(args: argparse.Namespace, env: str) -> Settings:
    client = Prometheus.from_settings(
        os.environ.get("PROMETHEUS_URL"),
        os.environ.get("PROMETHEUS_TOKEN"),
        os.environ.get("PROMETHEUS_CA_FILE"),
    )
    if args.selector is None:
        namespace = application_for(env).namespace
        matchers = (f"namespace={queries.quote(namespace)}",) if namespace else ()
    else:
        matchers = queries.parse_selector(args.selector)
    policy = None
    if args.policy:
        try:
            policy = PolicySource(Path(args.policy).read_text(encoding="utf-8"), args.policy)
        except (OSError, UnicodeDecodeError) as error:
            raise UsageError(f"--policy {args.policy}: cannot read it ({error})") from None
    url = check_base_url(args.url) if args.url else None
    every = seconds(args.progress_interval, "--progress-interval")
    return Settings(client, matchers, every, url, policy)


def watch(settings: Settings, subject: Subject) -> tuple[Verdict, float]:
    """Watch the build for the rule's window, driving the rule's traffic meanwhile; the verdict
    and the seconds its numbers cover."""
    watcher, traffic = _watcher(settings, subject)
    print(_opening(subject, settings, watcher.seconds, traffic is not None), flush=True)
    if traffic is not None:
        traffic.start()
    try:
        start = watcher.window()
    finally:
        if traffic is not None:
            traffic.stop()
    look = watcher.final(start)
    window = (look.start, look.end)
    found = judge.verdict(
        subject.env, subject.tag, subject.digest, subject.rule, look.numbers, window
    )
    return found, look.end - look.start


def _watcher(settings: Settings, subject: Subject) -> tuple[Watch, Synthetic | None]:
    rule = subject.rule
    window = rule.window.total_seconds()
    traffic = None
    if rule.traffic:
        if not settings.url:
            raise UsageError(
                f"the verify rule of {subject.env} sends traffic: pass --url or set $VERIFY_URL"
            )
        traffic = Synthetic(settings.url, rule.traffic, window)
    paths = rule.traffic.paths if rule.traffic else ()
    build = queries.Build(subject.tag, settings.matchers, queries.excluded_routes(paths))
    label = f"{subject.env} {subject.tag}"
    summary = traffic.summary if traffic else (lambda: "")
    watcher = Watch(settings.client, build, window, settings.every, label, progress_suffix=summary)
    return watcher, traffic


def _opening(subject: Subject, settings: Settings, window: float, sending: bool) -> str:
    where = ", ".join(settings.matchers) or "every target"
    traffic = subject.rule.traffic
    if sending and traffic:
        sending_to = f"; sending {traffic.rate:g} requests a second to {settings.url}"
    else:
        sending_to = ""
    return (
        f"verifying {subject.env} {subject.tag} for {window:g}s through {settings.client.url}"
        f" (app_build_info version={subject.tag}, {where}){sending_to}"
    )


def record(args: argparse.Namespace, verdict: Verdict) -> int:
    """Record ``verdict`` through the write-back (``Action.RECORD``): a failed build is also
    rejected and, unless --no-rollback, rolled back while the environment still runs it."""
    request = Request(
        action=Action.RECORD,
        env=verdict.env,
        tag=verdict.tag,
        digest=verdict.digest,
        verdict=verdict,
        rollback=not args.no_rollback,
        dry_run=args.dry_run,
    )
    return run_write(args, request)
