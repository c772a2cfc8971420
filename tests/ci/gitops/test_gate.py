"""The gate's rule (``ci.gitops.gate.judge``), table-driven over what environments run before and
after a merge request: no git, no render."""

import pytest

from ci.gitops.gate import Change, judge
from ci.gitops.promotion import PromotionOrder
from ci.gitops.runs import EnvRun, Runs

HERE = "repo@main -> cluster/ns (project p)"
ORDER = PromotionOrder(("dev", "prod"))
TARGET = "f" * 40
HELD = "prod is held by alice since today: bad"
OVERRIDE = [("c" * 40, "INC-1")]


def runs(location: str = HERE, **images: set[str] | None) -> Runs:
    return Runs(
        {
            env: EnvRun(env, location, None if i is None else frozenset(i))
            for env, i in images.items()
        }
    )


# What dev and prod ran at tips of the target branch.
HISTORY = {("dev", "a"), ("dev", "b"), ("prod", "a"), ("prod", "old")}


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
