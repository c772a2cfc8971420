"""The gate's rule (``ci.gitops.gate.judge``), table-driven over what environments run before and
after a merge request: no git, no render. Also its rules on rejected builds and promotion evidence
(a rejected build after the merge is a violation whatever the trailers; a promotion without
evidence is a finding either override allows; record changes that loosen the rules are findings)."""

import pytest

from ci.gitops.gate import Change, Violation, judge
from ci.gitops.promotion import PromotionOrder
from ci.gitops.rejections import Rejection
from ci.gitops.runs import EnvRun, Runs

HERE = "repo@main -> cluster/ns (project p)"
ORDER = PromotionOrder(("dev", "prod"))
TARGET = "f" * 40
HELD = "prod is held by alice since today: bad"
OVERRIDE = [("c" * 40, "INC-1")]
DIGEST = "sha256:" + "1" * 64
GOOD, BAD = "registry.example/shop:good", "registry.example/shop:bad"
PINNED = f"registry.example/shop:renamed@{DIGEST}"


def runs(location: str = HERE, **images: set[str] | None) -> Runs:
    return Runs(
        {
            env: EnvRun(env, location, None if i is None else frozenset(i))
            for env, i in images.items()
        }
    )


# What dev and prod ran at tips of the target branch (GOOD, BAD and PINNED: the images of the
# tests on rejected builds and promotion evidence, below).
HISTORY = {("dev", "a"), ("dev", "b"), ("prod", "a"), ("prod", "old")}
HISTORY |= {("dev", GOOD), ("dev", BAD), ("dev", PINNED)}


def ran(env: str, image: str) -> bool:
    return (env, image) in HISTORY


def verdict(change: Change) -> tuple[list[str], list[str]]:
    violations, notices = judge(change, ran)
    return [v.line() for v in violations], notices


BEFORE = runs(dev={"b"}, prod={"a"})

CASES = [
    # (id, after, extra Change fields, expected violation prefixes, overridable)
    ("nothing changes", runs(dev={"b"}, prod={"a"}), {}, []),
    ("promote what dev ran", runs(dev={"b"}, prod={"b"}), {}, []),
    ("promote what dev ran before", runs(dev={"b"}, prod={"a"}), {}, []),
    ("rollback to what prod ran", runs(dev={"b"}, prod={"old"}), {}, []),
    ("dev takes a new build", runs(dev={"new"}, prod={"a"}), {}, []),
    (
        "prod gets a new build",
        runs(dev={"b"}, prod={"new"}),
        {},
        ["prod: image new never ran in dev"],
    ),
    ("prod gets a sidecar", runs(dev={"b"}, prod={"a", "side"}), {}, ["prod: image side never"]),
    ("prod loses an image", runs(dev={"b"}, prod=set()), {}, []),
    ("a new env not in the order", runs(dev={"b"}, prod={"a"}, qa={"x"}), {}, []),
    ("prod removed", runs(dev={"b"}), {}, ["prod: no Application deploys it"]),
    (
        "prod moved",
        Runs({**runs(dev={"b"}).envs, **runs("evil", prod={"a"}).envs}),
        {},
        ["prod: Argo CD would read evil instead of"],
    ),
    (
        "policy changed",
        runs(dev={"b"}, prod={"a"}),
        {"promotion_changed": True},
        ["gitops/promotion.yaml: this merge request changes"],
    ),
    (
        "hold released",
        runs(dev={"b"}, prod={"a"}),
        {"holds": {"prod": HELD}},
        [f"prod: this merge request releases the hold ({HELD})"],
    ),
]


@pytest.mark.parametrize(("name", "after", "extra", "expected"), CASES, ids=[c[0] for c in CASES])
def test_findings_fail_without_an_override_and_pass_with_one(name, after, extra, expected):
    change = Change(BEFORE, after, ORDER, TARGET, **extra)
    violations, notices = verdict(change)
    assert [v[: len(e)] for v, e in zip(violations, expected, strict=True)] == expected
    assert all(
        v.endswith("add a 'Promotion-Override: <reason>' commit trailer to allow it")
        for v in violations
    )
    assert notices == []
    violations, notices = verdict(Change(BEFORE, after, ORDER, TARGET, **extra, overrides=OVERRIDE))
    assert violations == []
    assert len(notices) == len(expected)
    assert all(
        n.startswith(
            (
                "prod: Promotion-Override (cccccccccccc) allows: ",
                "gitops/promotion.yaml: Promotion-Override",
            )
        )
        and n.endswith("reason: INC-1")
        for n in notices
    )


HELD_CASES = [
    ("new build", runs(dev={"b"}, prod={"b"})),
    ("image removed", runs(dev={"b"}, prod=set())),
    ("moved", Runs({**runs(dev={"b"}).envs, **runs("evil", prod={"a"}).envs})),
    ("removed", runs(dev={"b"})),
]


@pytest.mark.parametrize(("name", "after"), HELD_CASES, ids=[c[0] for c in HELD_CASES])
def test_a_held_environment_that_keeps_its_hold_never_changes(name, after):
    change = Change(
        BEFORE, after, ORDER, TARGET, {"prod": HELD}, frozenset({"prod"}), overrides=OVERRIDE
    )
    violations, _ = verdict(change)
    assert violations == [
        f"prod: {HELD}; release it with `python -m ci unhold --env prod` "
        "(pipeline job unhold-prod) first"
    ]


def test_a_held_environment_that_does_not_change_passes_and_others_may():
    change = Change(
        BEFORE, runs(dev={"new"}, prod={"a"}), ORDER, TARGET, {"prod": HELD}, frozenset({"prod"})
    )
    assert verdict(change) == ([], [])


def test_a_released_hold_lets_the_environment_change_with_an_override():
    after = runs(dev={"b"}, prod={"b"})
    assert (
        verdict(Change(BEFORE, after, ORDER, TARGET, {"prod": HELD}, overrides=OVERRIDE))[0] == []
    )


def test_render_failures_are_violations_no_override_excuses():
    after = Runs(
        {
            "dev": EnvRun("dev", HERE, frozenset({"b"})),
            "prod": EnvRun("prod", HERE, None, "boom [values.prod.yaml: x]"),
        }
    )
    violations, _ = verdict(Change(BEFORE, after, ORDER, TARGET, overrides=OVERRIDE))
    assert violations == ["prod: does not render as Argo CD renders it: boom [values.prod.yaml: x]"]
    violations, _ = verdict(
        Change(BEFORE, Runs(error="no manifests"), ORDER, TARGET, overrides=OVERRIDE)
    )
    assert violations == ["gitops/argocd: Argo CD cannot generate the Applications: no manifests"]


def test_an_environment_that_did_not_render_before_is_judged_on_all_its_images():
    before = Runs(
        {"dev": EnvRun("dev", HERE, frozenset({"b"})), "prod": EnvRun("prod", HERE, None, "broken")}
    )
    assert verdict(Change(before, runs(dev={"b"}, prod={"a"}), ORDER, TARGET)) == ([], [])
    violations, _ = verdict(Change(before, runs(dev={"b"}, prod={"zzz"}), ORDER, TARGET))
    assert violations[0].startswith("prod: image zzz never ran in dev")


def test_without_an_order_only_holds_and_policy_count():
    assert verdict(Change(BEFORE, runs(dev={"x"}, prod={"y"}), PromotionOrder(), TARGET)) == (
        [],
        [],
    )


def test_each_new_image_is_one_line_in_order():
    violations, _ = verdict(Change(BEFORE, runs(dev={"b"}, prod={"z", "y"}), ORDER, TARGET))
    assert [v.split(" never")[0] for v in violations] == ["prod: image y", "prod: image z"]


# --- rejected builds and promotion evidence -------------------------------------------------------

REJECTED = (
    Rejection("bad", None, "failed verification", "vera", "2026-01-02T00:00:00Z"),
    Rejection("x", DIGEST, "by digest", "ann", "2026-01-03T00:00:00Z"),
)
SOAKING = "dev has run good verified for 12m of its 30m soak: 18m left"
PROMOTION = [("c" * 40, "INC-1")]
EVIDENCE = [("e" * 40, "hotfix")]
BOTH = {"overrides": PROMOTION, "evidence_overrides": EVIDENCE}


def soaking(source: str, image: str) -> str | None:
    return SOAKING if (source, image) == ("dev", GOOD) else None


def lines(after: Runs, evidence=soaking, **fields) -> tuple[list[str], list[str]]:
    change = Change(runs(dev={GOOD}, prod={"old"}), after, ORDER, TARGET, **fields)
    violations, notices = judge(change, ran, evidence)
    return [v.line() for v in violations], notices


RUNS_BAD = (
    "runs registry.example/shop:bad: bad is rejected by vera since 2026-01-02T00:00:00Z: failed"
    " verification; roll {env} back, or `python -m ci unreject --tag bad --reason TEXT` allows it"
    " again"
)


@pytest.mark.parametrize("fields", [{}, {"overrides": PROMOTION}, {"evidence_overrides": EVIDENCE}])
def test_a_rejected_build_after_the_merge_is_a_violation_whatever_the_trailers(fields) -> None:
    violations, _ = lines(runs(dev={BAD}, prod={"old"}), rejections=REJECTED, **fields)
    assert violations == ["dev: " + RUNS_BAD.format(env="dev")]


def test_a_rejected_digest_under_another_tag_and_a_build_already_running() -> None:
    violations, _ = lines(runs(dev={PINNED}, prod={BAD}), rejections=REJECTED, overrides=PROMOTION)
    assert violations == [
        f"dev: runs {PINNED}: x@{DIGEST} is rejected by ann since 2026-01-03T00:00:00Z: by digest;"
        " roll dev back, or `python -m ci unreject --tag x --reason TEXT` allows it again",
        "prod: " + RUNS_BAD.format(env="prod"),
    ]


def test_nothing_rejected_runs() -> None:
    assert lines(runs(dev={GOOD}, prod={"old"}), rejections=REJECTED) == ([], [])


EVIDENCE_HINT = (
    "add an 'Evidence-Override: <reason>' (or a 'Promotion-Override: <reason>') commit trailer"
    " to allow it"
)


def test_a_promotion_without_evidence_is_a_finding() -> None:
    violations, notices = lines(runs(dev={GOOD}, prod={GOOD}))
    assert violations == [f"prod: image {GOOD}: {SOAKING}; {EVIDENCE_HINT}"]
    assert notices == []


@pytest.mark.parametrize(
    ("fields", "trailer", "commit", "reason"),
    [
        ({"evidence_overrides": EVIDENCE}, "Evidence-Override", "e" * 12, "hotfix"),
        ({"overrides": PROMOTION}, "Promotion-Override", "c" * 12, "INC-1"),
        (BOTH, "Promotion-Override", "c" * 12, "INC-1"),
    ],
)  # fmt: skip
def test_either_override_allows_it_and_is_reported(fields, trailer, commit, reason) -> None:
    violations, notices = lines(runs(dev={GOOD}, prod={GOOD}), **fields)
    assert violations == []
    assert notices == [
        f"prod: {trailer} ({commit}) allows: image {GOOD}: {SOAKING}; reason: {reason}"
    ]


def test_an_evidence_override_allows_nothing_else() -> None:
    loosened = (Violation("gitops/rejected.yaml", "this merge request releases a rejection: x"),)
    violations, _ = lines(
        runs(dev={GOOD}, prod={"new"}), loosened=loosened, evidence_overrides=EVIDENCE
    )
    assert [v.split(";")[0] for v in violations] == [
        "prod: image new never ran in dev (at a tip of the target branch up to ffffffffffff)",
        "gitops/rejected.yaml: this merge request releases a rejection: x",
    ]


def test_no_evidence_is_asked_of_a_rollback_or_of_the_first_environment() -> None:
    assert lines(runs(dev={"fresh"}, prod={"old"}), evidence=lambda *_: "never") == ([], [])


def test_without_rules_the_evidence_is_not_asked() -> None:
    change = Change(runs(dev={GOOD}, prod={"old"}), runs(dev={GOOD}, prod={GOOD}), ORDER, TARGET)
    assert judge(change, ran) == ([], [])
