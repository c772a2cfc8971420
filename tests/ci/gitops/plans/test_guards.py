"""What deploy and promote check before they change what runs (``plans.guards``), table-driven
on a fixed clock: a rejected build is refused whatever the flags (by its tag, or by its digest
under another tag, the registry's included); a freeze window (the policy's, or another source's
through ``State.freezes``) and missing evidence are refused unless overridden, and an override
leaves its reason in a trailer. rollback, hold, unhold, record, reject and unreject are allowed
in a freeze."""

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from ci.errors import UsageError
from ci.gitlab import GitLabContext
from ci.gitops.freeze import Frozen
from ci.gitops.message import parse_trailers
from ci.gitops.plans import registry
from ci.gitops.plans.action import Action, Override, Status
from ci.gitops.plans.guards import RefusedError
from ci.gitops.plans.model import State
from ci.gitops.promotion import PROMOTION_FILE
from ci.gitops.rejections import REJECTED_FILE, Rejection, format_rejections
from ci.gitops.values import ValuesError, read_image
from ci.gitops.verdicts import Outcome, Verdict, format_verdicts
from tests.ci.gitops.plans.fake import (
    DIGEST,
    NOW,
    OTHER_DIGEST,
    A,
    B,
    C,
    branch,
    held,
    request,
    values,
)

DEV, PROD, VERDICTS = (
    "gitops/dev/values.yaml",
    "gitops/prod/values.yaml",
    "gitops/dev/verdicts.yaml",
)
RULE = "{window: 5m, max_error_ratio: 0.01, max_latency_p95: 0.5, min_requests: 50}"
NIGHTLY = (
    "{environments: [dev, prod], cron: '0 3 * * *', duration: 1h, timezone: UTC, reason: nightly}"
)
POLICY = f"order: [dev, prod]\nverify:\n  dev: {RULE}\nsoak:\n  dev: 30m\n"
FROZEN = f"order: [dev, prod]\nfreeze:\n  - {NIGHTLY}\n"
SOAK_ONLY = "order: [dev, prod]\nsoak:\n  dev: 30m\n"
PASSED = Verdict(
    "dev", B, DIGEST, Outcome.PASSED, 80, 0.0, 0.1, "2026-01-02T02:00:00Z", "2026-01-02T02:05:00Z"
)
SOAKING = replace(PASSED, started="2026-01-02T02:52:05Z")  # 12m before NOW
REJECTED = Rejection(B, DIGEST, "failed verification", "vera", "2026-01-02T00:00:00Z")
REFUSED = (
    f"{B}@{DIGEST} is rejected by vera since 2026-01-02T00:00:00Z: failed verification: nothing"
    f" pushed; `python -m ci unreject --tag {B} --reason TEXT` allows it again"
)
NIGHT = "is frozen until 2026-01-02 04:00 UTC: nightly; nothing pushed"


DEV_B, PROD_A = values(B, digest=DIGEST), values(A)


def repo(policy: str = "", dev: str = DEV_B, prod: str = PROD_A, **files):
    base = {DEV: dev, PROD: prod, **({PROMOTION_FILE: policy} if policy else {})}
    return branch({**base, **files})


def at(branch_, now: str = NOW, freezes=None, verify=None) -> State:
    return State(branch_, branch_.tip, GitLabContext(), now, verify, freezes)


def deploy(branch_, tag=C, digest=None, now=NOW, freezes=None, verify=None, **fields):
    ask = request(Action.DEPLOY, tag=tag, digest=digest, **fields)
    return registry.plan(at(branch_, now, freezes, verify), ask)


def promote(branch_, now=NOW, freezes=None, **fields):
    ask = request(Action.PROMOTE, env="prod", source_env="dev", **fields)
    return registry.plan(at(branch_, now, freezes), ask)


REJECTS = [
    # (tag, digest given to deploy)
    (B, None),  # the tag
    (B, OTHER_DIGEST),  # the tag, whatever its digest
    ("renamed", DIGEST),  # the digest under another tag
]


@pytest.mark.parametrize(("tag", "digest"), REJECTS)
@pytest.mark.parametrize("force", [False, True])
def test_a_rejected_build_is_refused_whatever_the_flags(tag, digest, force) -> None:
    branch_ = repo(dev=values(A), **{REJECTED_FILE: format_rejections([REJECTED])})
    overrides = frozenset(Override)
    with pytest.raises(RefusedError) as raised:
        deploy(branch_, tag, digest, force=force, overrides=overrides, reason="x")
    named = "" if tag == B else f"{tag} is the same build: "
    assert str(raised.value) == named + REFUSED


def test_a_rejected_build_already_running_is_refused_not_nothing_to_do() -> None:
    branch_ = repo(**{REJECTED_FILE: format_rejections([REJECTED])})
    with pytest.raises(RefusedError, match="is rejected by vera"):
        deploy(branch_, B, DIGEST)
    with pytest.raises(RefusedError, match="is rejected by vera"):
        promote(branch_)


def test_the_digest_the_registry_names_is_checked_too() -> None:
    branch_ = repo(dev=values(A), **{REJECTED_FILE: format_rejections([REJECTED])})
    with pytest.raises(RefusedError) as raised:
        deploy(branch_, "renamed", verify=lambda repository, tag: DIGEST)
    assert str(raised.value) == f"renamed is the same build: {REFUSED}"
    plan = deploy(branch_, C, verify=lambda repository, tag: OTHER_DIGEST)
    assert read_image(plan.files[DEV] or "").digest == OTHER_DIGEST


@pytest.mark.parametrize("odd", ["rejected: [", b"\xff", "rejected:\n  - tag: x\n"])
def test_an_unreadable_rejected_file_stops_deploy_and_promote(odd) -> None:
    branch_ = repo(**{REJECTED_FILE: odd})
    with pytest.raises(ValuesError, match=rf"^{REJECTED_FILE}"):
        deploy(branch_)
    with pytest.raises(ValuesError, match=rf"^{REJECTED_FILE}"):
        promote(branch_)


@pytest.mark.parametrize("action", [deploy, promote])
def test_a_freeze_window_is_refused(action) -> None:
    env = "dev" if action is deploy else "prod"
    with pytest.raises(RefusedError) as raised:
        action(repo(FROZEN))
    assert str(raised.value) == f"{env} {NIGHT}"
    assert action(repo(FROZEN), now="2026-01-02T04:00:00Z").commits  # the window is over


@pytest.mark.parametrize("action", [deploy, promote])
def test_an_override_goes_through_a_freeze_and_says_so(action) -> None:
    env = "dev" if action is deploy else "prod"
    plan = action(repo(FROZEN), overrides=frozenset({Override.FREEZE}), reason="INC-7 hotfix")
    assert parse_trailers(plan.message)["Freeze-Override"] == "INC-7 hotfix"
    note = f"In a freeze window, with --override freeze: {env} {NIGHT[:-16]}."
    assert note in plan.message.splitlines()


def test_an_override_nothing_needed_leaves_no_trailer() -> None:
    plan = deploy(repo(), overrides=frozenset({Override.FREEZE}), reason="just in case")
    assert "Freeze-Override" not in plan.message


def test_nothing_to_do_is_said_in_a_freeze() -> None:
    plan = deploy(repo(FROZEN), B, DIGEST)
    assert (plan.status, plan.line) == (
        Status.UNCHANGED,
        f"dev already runs shop {B}: nothing to do",
    )


def gitlab(env: str, now: datetime) -> Frozen | None:
    """A fake of the other freeze source (GitLab's deploy freezes): prod, the whole day."""
    until = datetime(2026, 1, 2, 23, 0, tzinfo=UTC)
    return Frozen(env, until, "GitLab deploy freeze") if env == "prod" and now < until else None


def test_another_freeze_source_counts_and_the_later_end_is_said() -> None:
    with pytest.raises(RefusedError) as raised:
        promote(repo(FROZEN), freezes=gitlab)
    assert str(raised.value) == (
        "prod is frozen until 2026-01-02 23:00 UTC: GitLab deploy freeze; nothing pushed"
    )
    with pytest.raises(RefusedError, match=f"^dev {NIGHT}$"):
        deploy(repo(FROZEN), freezes=gitlab)
    assert deploy(repo(), freezes=gitlab).commits


@pytest.mark.parametrize(
    ("action", "fields"),
    [
        (Action.ROLLBACK, {}),
        (Action.HOLD, {"reason": "stop"}),
        (Action.UNHOLD, {}),
        (Action.REJECT, {"env": "", "tag": C, "reason": "bad"}),
        (Action.UNREJECT, {"env": "", "tag": B, "reason": "ok"}),
        (Action.RECORD, {"tag": B, "digest": DIGEST, "verdict": SOAKING}),
    ],
)
def test_what_stops_the_bleeding_is_allowed_in_a_freeze(action, fields) -> None:
    files = {**held("dev"), REJECTED_FILE: format_rejections([REJECTED])}
    branch_ = branch(
        {DEV: values(A), PROD: values(A), PROMOTION_FILE: FROZEN},
        {**files, DEV: values(B, digest=DIGEST)},
    )
    plan = registry.plan(at(branch_, freezes=gitlab), request(action, **{"env": "dev", **fields}))
    assert plan.commits


def evidence(*verdicts: Verdict, policy: str = POLICY):
    return repo(policy, **({VERDICTS: format_verdicts("dev", verdicts)} if verdicts else {}))


NO_VERDICT = f"dev has no verdict on {B}: its policy asks for a passed verification"
SOAKING_LINE = f"dev has run {B} verified for 12m of its 30m soak: 18m left"
JUST_SET = f"dev has run {B} for 0s of its 30m soak: 30m left"
EVIDENCE = [
    # (name, branch, now, the refusal (None: promoted))
    ("no verdict", evidence(), NOW, NO_VERDICT),
    ("another build's", evidence(replace(PASSED, digest=OTHER_DIGEST)), NOW, NO_VERDICT),
    (
        "failed",
        evidence(replace(PASSED, outcome=Outcome.FAILED, reason="p95 above 0.5s")),
        NOW,
        f"dev has no passed verification of {B}: failed verification of {B} in dev: p95 above"
        " 0.5s (80 requests, error ratio 0, p95 0.1s)",
    ),
    (
        "inconclusive",
        evidence(replace(PASSED, outcome=Outcome.INCONCLUSIVE)),
        NOW,
        f"dev has no passed verification of {B}: inconclusive verification of {B} in dev (80"
        " requests, error ratio 0, p95 0.1s)",
    ),
    ("soaking", evidence(SOAKING), NOW, SOAKING_LINE),
    ("soaked", evidence(SOAKING), "2026-01-02T03:22:05Z", None),
    ("passed long ago", evidence(PASSED), NOW, None),
    ("soak from the commit", evidence(policy=SOAK_ONLY), NOW, JUST_SET),
    ("soak from the commit, over", evidence(policy=SOAK_ONLY), "2026-01-02T03:34:05Z", None),
    ("no policy for dev", evidence(policy="order: [dev, prod]\nsoak:\n  prod: 1h\n"), NOW, None),
]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "branch_", "now", "refusal"), EVIDENCE, ids=[case[0] for case in EVIDENCE]
)
def test_promote_asks_for_the_evidence(name, branch_, now, refusal) -> None:
    if refusal is None:
        assert promote(branch_, now).commits
        return
    with pytest.raises(RefusedError) as raised:
        promote(branch_, now)
    assert str(raised.value) == f"{refusal}; nothing pushed"
    plan = promote(branch_, now, overrides=frozenset({Override.EVIDENCE}), reason="INC-7")
    assert parse_trailers(plan.message)["Evidence-Override"] == "INC-7"
    note = f"Without the evidence dev's policy asks for, with --override evidence: {refusal}."
    assert note in plan.message.splitlines()


def test_evidence_is_not_asked_when_nothing_changes() -> None:
    plan = (
        promote(evidence(), prod=None)
        if False
        else promote(repo(POLICY, prod=values(B, digest=DIGEST)))
    )
    assert plan.status == Status.UNCHANGED


def test_soak_counts_from_the_newest_run_of_the_build() -> None:
    """dev ran B, then A, then B again: the soak counts from B's return (the fake's commits all
    say NOW: the walk stops at A, so B has run since NOW)."""
    branch_ = branch(
        {DEV: values(B, digest=DIGEST), PROD: values(A), PROMOTION_FILE: SOAK_ONLY},
        {DEV: values(A)},
        {DEV: values(B, digest=DIGEST)},
    )
    with pytest.raises(RefusedError, match="for 10m of its 30m soak: 20m left"):
        promote(branch_, "2026-01-02T03:14:05Z")


@pytest.mark.parametrize("odd", ["verdicts: [", b"\xff"])
def test_an_unreadable_verdicts_file_is_bad_input_unless_overridden(odd) -> None:
    branch_ = repo(POLICY, **{VERDICTS: odd})
    with pytest.raises(ValuesError, match=f"^{VERDICTS}"):
        promote(branch_)
    plan = promote(branch_, overrides=frozenset({Override.EVIDENCE}), reason="INC-7")
    assert parse_trailers(plan.message)["Evidence-Override"] == "INC-7"


def test_a_malformed_policy_is_bad_input_for_deploy_and_promote() -> None:
    branch_ = repo("order: [dev, prod]\nsoak:\n  dev: forever\n")
    with pytest.raises(UsageError, match=r"^gitops/promotion.yaml: soak.dev: 'forever' is not"):
        promote(branch_)
    with pytest.raises(UsageError, match=r"^gitops/promotion.yaml: soak.dev"):
        deploy(branch_)


def test_without_history_the_soak_cannot_be_counted() -> None:
    class Forgetful(type(repo())):
        def history(self, tip, path):
            return iter(())

    branch_ = Forgetful(repo(SOAK_ONLY).commits)
    with pytest.raises(RefusedError, match=f"^dev cannot tell since when it runs {B}: its policy"):
        promote(branch_)
