"""The gate's rules on rejected builds and promotion evidence (``ci.gitops.gate.judge``),
table-driven over what environments run before and after a merge request: a rejected build
running anywhere after the merge is a violation whatever the trailers; a build promoted without
its source's evidence is a finding a ``Promotion-Override`` or an ``Evidence-Override`` allows;
record changes that loosen the rules are findings."""

import pytest

from ci.gitops.gate import Change, Violation, judge
from ci.gitops.promotion import PromotionOrder
from ci.gitops.rejections import Rejection
from ci.gitops.runs import EnvRun, Runs

HERE = "repo@main -> cluster/ns (project p)"
ORDER = PromotionOrder(("dev", "prod"))
TARGET = "f" * 40
DIGEST = "sha256:" + "1" * 64
GOOD, BAD = "registry.example/shop:good", "registry.example/shop:bad"
PINNED = f"registry.example/shop:renamed@{DIGEST}"
REJECTED = (
    Rejection("bad", None, "failed verification", "vera", "2026-01-02T00:00:00Z"),
    Rejection("x", DIGEST, "by digest", "ann", "2026-01-03T00:00:00Z"),
)
HISTORY = {("dev", GOOD), ("dev", BAD), ("dev", PINNED), ("prod", "old")}
SOAKING = "dev has run good verified for 12m of its 30m soak: 18m left"
PROMOTION = [("c" * 40, "INC-1")]
EVIDENCE = [("e" * 40, "hotfix")]
BOTH = {"overrides": PROMOTION, "evidence_overrides": EVIDENCE}


def runs(**images: set[str]) -> Runs:
    return Runs({env: EnvRun(env, HERE, frozenset(found)) for env, found in images.items()})


def ran(env: str, image: str) -> bool:
    return (env, image) in HISTORY


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
