"""``python -m ci promote --from ENV --to ENV`` against a real bare remote: the image (tag,
pipeline link, digest) copied between environments, and bad input; and, on the real clock, the
evidence it waits for (its source's passed verification and soak: one line with the time left),
the freeze windows that stop deploy and promote (never rollback or hold), and ``--override
evidence|freeze --reason``, which leaves a trailer ``status`` reports."""

import json
import re
from datetime import UTC, datetime, timedelta

import pytest

from app import SERVICE_NAME
from ci.gitops.promotion import PROMOTION_FILE
from ci.gitops.verdicts import Outcome, Verdict, format_verdicts, verdicts_path
from tests.ci.commands.writes import DEV, PROD, A, image, must_deploy, pipeline_env, pipeline_of
from tests.support.cli import run_ci
from tests.support.git_remotes import git, push_person_commit, show

pytestmark = pytest.mark.integration


def test_promote_copies_the_tag_between_environments(remote):
    tag = remote.source.short(6)
    assert run_ci("deploy", "--repo", remote.url, "--env", "dev", "--tag", tag).returncode == 0
    result = run_ci("promote", "--repo", remote.url, "--from", "dev", "--to", "prod")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"promote(prod): {SERVICE_NAME} {tag} from dev [skip ci]")
    assert remote.tag(PROD) == tag
    again = run_ci("promote", "--repo", remote.url, "--from", "dev", "--to", "prod")
    assert again.stdout == f"prod already runs {SERVICE_NAME} {tag}: nothing to do\n"


def test_promote_copies_the_pipeline_url_or_its_absence(remote):
    first, second = remote.source.short(1), remote.source.short(2)
    assert (
        run_ci(
            "deploy",
            "--repo",
            remote.url,
            "--env",
            "dev",
            "--tag",
            first,
            env=pipeline_env(1, remote.source.commits[1]),
        ).returncode
        == 0
    )
    promoted = run_ci("promote", "--repo", remote.url, "--from", "dev", "--to", "prod")
    assert promoted.returncode == 0, promoted.stderr
    assert (remote.tag(PROD), pipeline_of(remote, PROD)) == (
        first,
        pipeline_env(1)["CI_PIPELINE_URL"],
    )

    assert run_ci("deploy", "--repo", remote.url, "--env", "dev", "--tag", second).returncode == 0
    promoted = run_ci("promote", "--repo", remote.url, "--from", "dev", "--to", "prod")
    assert promoted.returncode == 0, promoted.stderr
    assert (remote.tag(PROD), pipeline_of(remote, PROD)) == (second, None)
    assert show(remote.bare, PROD) == show(remote.bare, DEV).replace("dev", "prod")


def test_promote_copies_the_digest_or_its_absence(remote):
    first, second = remote.source.short(1), remote.source.short(2)
    must_deploy(remote, first, "--digest", A)
    promoted = run_ci("promote", "--repo", remote.url, "--from", "dev", "--to", "prod")
    assert promoted.returncode == 0, promoted.stderr
    assert (image(remote, PROD).tag, image(remote, PROD).digest) == (first, A)

    must_deploy(remote, second)
    promoted = run_ci("promote", "--repo", remote.url, "--from", "dev", "--to", "prod")
    assert promoted.returncode == 0, promoted.stderr
    assert (image(remote, PROD).tag, image(remote, PROD).digest) == (second, None)
    assert show(remote.bare, PROD) == show(remote.bare, DEV).replace("dev", "prod")


@pytest.mark.parametrize(
    ("command", "message"),
    [
        (["promote", "--from", "dev", "--to", "dev"], "--from and --to name the same environment"),
        (
            ["promote", "--from", "qa", "--to", "dev"],
            "unknown environment 'qa' for --from (known: dev, prod)",
        ),
        (["promote", "--to", "dev"], "--from is required"),
    ],
)
def test_bad_input_exits_2_with_one_line(remote, command, message):
    result = run_ci(*command, "--repo", remote.url)
    assert result.returncode == 2
    assert result.stderr == f"error: {message}\n"


# --- evidence and freeze windows ------------------------------------------------------------------

RULE = "{window: 5m, max_error_ratio: 0.01, max_latency_p95: 0.5, min_requests: 50}"
EVIDENCE = f"order: [dev, prod]\nverify:\n  dev: {RULE}\nsoak:\n  dev: 30m\n"
ALWAYS = "{environments: [prod], cron: '* * * * *', duration: 1h, timezone: UTC, reason: always}"
FROZEN = f"order: [dev, prod]\nfreeze:\n  - {ALWAYS}\n"


def ago(minutes: int) -> str:
    return (datetime.now(UTC) - timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")


def verified(tag: str, started: int, outcome: Outcome = Outcome.PASSED) -> str:
    verdict = Verdict("dev", tag, None, outcome, 80, 0.0, 0.1, ago(started), ago(started - 5))
    return format_verdicts("dev", [verdict])


def promote(ci, remote, *args: str, env=None):
    return ci("promote", "--repo", remote.url, "--from", "dev", "--to", "prod", *args, env=env)


def test_promote_waits_for_a_passed_verification_and_its_soak(remote, ci):
    tag = remote.source.short(6)
    assert ci("deploy", "--repo", remote.url, "--env", "dev", "--tag", tag).returncode == 0
    push_person_commit(remote.bare, {PROMOTION_FILE: EVIDENCE}, "policy: verify dev, soak 30m")
    before = remote.tip()
    unverified = promote(ci, remote)
    assert (unverified.returncode, unverified.stderr) == (
        1,
        f"error: dev has no verdict on {tag}: its policy asks for a passed verification;"
        " nothing pushed\n",
    )
    push_person_commit(remote.bare, {verdicts_path("dev"): verified(tag, 12)}, "verified 12m ago")
    soaking = promote(ci, remote)
    assert soaking.returncode == 1
    assert re.fullmatch(
        rf"error: dev has run {tag} verified for 1[12]m of its 30m soak: 1[89]m left; nothing"
        r" pushed\n",
        soaking.stderr,
    ), soaking.stderr
    assert remote.tip() != before  # only the person's commits
    assert git("log", "-1", "--format=%s", "main", cwd=remote.bare).strip() == "verified 12m ago"
    push_person_commit(remote.bare, {verdicts_path("dev"): verified(tag, 40)}, "verified 40m ago")
    promoted = promote(ci, remote)
    assert promoted.returncode == 0, promoted.stderr
    assert remote.tag(PROD) == tag


def test_an_evidence_override_needs_a_reason_and_leaves_a_trailer_status_reports(remote, ci):
    tag = remote.source.short(6)
    assert ci("deploy", "--repo", remote.url, "--env", "dev", "--tag", tag).returncode == 0
    push_person_commit(remote.bare, {PROMOTION_FILE: EVIDENCE}, "policy")
    bare = promote(ci, remote, "--override", "evidence")
    assert (bare.returncode, bare.stderr) == (
        2,
        "error: --override needs --reason (it is recorded in the commit's trailer)\n",
    )
    wrong = promote(ci, remote, env={"GITOPS_OVERRIDE": "evidence,speed", "GITOPS_REASON": "x"})
    assert (wrong.returncode, wrong.stderr) == (
        2,
        "error: --override 'speed' is not one of evidence, freeze\n",
    )
    env = {"GITOPS_OVERRIDE": "evidence", "GITOPS_REASON": "INC-7: prod is down"}
    forced = promote(ci, remote, env=env)
    assert forced.returncode == 0, forced.stderr
    message = git("log", "-1", "--format=%B", "main", cwd=remote.bare)
    assert "Evidence-Override: INC-7: prod is down" in message.splitlines()
    rows = json.loads(ci("status", "--repo", remote.url, "--json").stdout)
    prod = next(row for row in rows if row["env"] == "prod")
    assert prod["overrides"] == [{"trailer": "Evidence-Override", "reason": "INC-7: prod is down"}]
    table = ci("status", "--repo", remote.url).stdout.splitlines()
    assert "prod: set with Evidence-Override: INC-7: prod is down" in table


FROZEN_LINE = re.compile(
    r"error: prod is frozen until \d{4}-\d\d-\d\d \d\d:\d\d UTC: always; nothing pushed\n"
)


def test_a_freeze_window_stops_deploy_and_promote_not_rollback_or_hold(remote, ci):
    first, second = remote.source.short(3), remote.source.short(4)
    for tag in (first, second):
        assert ci("deploy", "--repo", remote.url, "--env", "prod", "--tag", tag).returncode == 0
    assert ci("deploy", "--repo", remote.url, "--env", "dev", "--tag", first).returncode == 0
    push_person_commit(remote.bare, {PROMOTION_FILE: FROZEN}, "freeze prod")
    before = remote.tip()
    for result in (
        ci("deploy", "--repo", remote.url, "--env", "prod", "--tag", remote.source.short(5)),
        promote(ci, remote),
    ):
        assert result.returncode == 1
        assert FROZEN_LINE.fullmatch(result.stderr), result.stderr
    assert remote.tip() == before
    assert ci("deploy", "--repo", remote.url, "--env", "dev", "--tag", second).returncode == 0
    assert ci("rollback", "--repo", remote.url, "--env", "prod").returncode == 0
    assert remote.tag(PROD) == first
    assert ci("hold", "--repo", remote.url, "--env", "prod", "--reason", "x").returncode == 0
    assert ci("unhold", "--repo", remote.url, "--env", "prod").returncode == 0
    forced = promote(ci, remote, "--override", "freeze", "--reason", "hotfix")
    assert forced.returncode == 0, forced.stderr
    message = git("log", "-1", "--format=%B", "main", cwd=remote.bare)
    assert "Freeze-Override: hotfix" in message.splitlines()
    assert re.search(r"In a freeze window, with --override freeze: prod is frozen until ", message)
