"""The deploy planner, table-driven and in memory (``fake.FakeBranch``): every combination of
hold, --force, build order, repository and digest, then the lines and edits one by one."""

import itertools

import pytest

from ci.gitlab import GitLabContext
from ci.gitops.message import parse_trailers
from ci.gitops.plans import registry
from ci.gitops.plans.action import Action, Status
from ci.gitops.plans.model import HeldError
from ci.gitops.values import read_image
from tests.ci.gitops.plans.fake import (
    DIGEST,
    OTHER_DIGEST,
    PIPELINE,
    REPOSITORY,
    A,
    B,
    branch,
    envs,
    held,
    request,
    state,
    values,
)

DEV = "gitops/dev/values.yaml"
RELATIONS = ("older", "newer", "same", "unrelated", "unknown")
REPOSITORIES = (None, REPOSITORY, "registry.example/acme/other")
DIGESTS = (None, DIGEST, OTHER_DIGEST)


def expected(is_held: bool, force: bool, same: bool, kind: str, repository, digest) -> str:
    """The rules of docs/gitops.md: a hold refuses unless forced; a build, repository and
    digest already live is nothing to do; an older build is stale unless forced."""
    if is_held and not force:
        return "held"
    changes = repository not in (None, REPOSITORY) or digest not in (None, DIGEST)
    if same and not changes:
        return "unchanged"
    if kind == "older" and not same and not force:
        return "stale"
    return "commit"


MATRIX = list(
    itertools.product((False, True), (False, True), (False, True), RELATIONS, REPOSITORIES, DIGESTS)
)


@pytest.mark.parametrize(("is_held", "force", "same", "kind", "repository", "digest"), MATRIX)
def test_the_decision_matrix(is_held, force, same, kind, repository, digest) -> None:
    target = A if same else B
    first = {DEV: values(A, digest=DIGEST), "gitops/prod/values.yaml": values(A)}
    repo = branch({**first, **(held("dev") if is_held else {})}, relations={(B, A): kind})
    ask = request(Action.DEPLOY, tag=target, repository=repository, digest=digest, force=force)
    want = expected(is_held, force, same, kind, repository, digest)
    if want == "held":
        with pytest.raises(HeldError, match=r"^dev is held by ann .*or pass --force$"):
            registry.plan(state(repo), ask)
        return
    plan = registry.plan(state(repo), ask)
    assert plan.status == {"unchanged": Status.UNCHANGED, "stale": Status.STALE}.get(want)
    if want != "commit":
        assert plan.files == {}
        return
    image = read_image(plan.files[DEV] or "")
    assert (image.tag, image.repository) == (target, repository or REPOSITORY)
    assert image.digest == digest  # the digest given, or none: never a stale one
    forced = is_held or (kind == "older" and not same)
    assert plan.message.splitlines()[0].endswith(
        "(forced) [skip ci]" if forced else f"{target} [skip ci]"
    )
    assert plan.render == ("dev",)
    assert list(plan.files) == [DEV]


LINES = [
    ("unchanged", {}, f"dev already runs shop {A}: nothing to do"),
    (
        "stale",
        {"tag": B},
        f"dev already runs {A}, a newer build than {B}: nothing to do (--force deploys it anyway)",
    ),
]


@pytest.mark.parametrize(("name", "fields", "line"), LINES, ids=[row[0] for row in LINES])
def test_nothing_to_do_says_why(name, fields, line) -> None:
    repo = branch(envs(dev=A), relations={(B, A): "older"})
    plan = registry.plan(state(repo), request(Action.DEPLOY, **{"tag": A, **fields}))
    assert (plan.status, plan.line) == (Status[name.upper()], line)


OWN = GitLabContext(commit_sha=B + "f" * 33, commit_short_sha=B, pipeline_url=PIPELINE)
TRAILERS = [
    # (context, request fields, relation, expected trailers)
    ("laptop", GitLabContext(), {}, "unknown", {"Source-Commit": B}),
    ("resolved", GitLabContext(), {}, "newer", {"Source-Commit": B + "0" * 33}),
    ("own build", OWN, {}, "unknown", {"Source-Commit": OWN.commit_sha, "Pipeline": PIPELINE}),
    (
        "built here",
        GitLabContext(pipeline_url=PIPELINE),
        {"built_here": True},
        "unknown",
        {"Source-Commit": B, "Pipeline": PIPELINE},
    ),
    (
        "other pipeline",
        GitLabContext(pipeline_url=PIPELINE),
        {},
        "unknown",
        {"Source-Commit": B, "Run-By-Pipeline": PIPELINE},
    ),
]


@pytest.mark.parametrize(
    ("name", "context", "fields", "kind", "trailers"), TRAILERS, ids=[row[0] for row in TRAILERS]
)
def test_trailers_credit_the_build(name, context, fields, kind, trailers) -> None:
    repo = branch(envs(dev=A), relations={(B, A): kind})
    plan = registry.plan(state(repo, context), request(Action.DEPLOY, tag=B, **fields))
    assert parse_trailers(plan.message) == trailers
    linked = read_image(plan.files[DEV] or "").pipeline_url
    assert linked == (PIPELINE if "Pipeline" in trailers else None)


def test_a_tag_that_is_not_a_commit_names_no_source() -> None:
    plan = registry.plan(state(branch(envs(dev=A))), request(Action.DEPLOY, tag="v1.2.3"))
    assert parse_trailers(plan.message) == {}
    assert plan.message.startswith("deploy(dev): shop v1.2.3 [skip ci]\n\nSet image.tag in")


def test_the_message_says_what_was_forced() -> None:
    repo = branch({**envs(dev=A), **held("dev", reason="incident 7")}, relations={(B, A): "older"})
    plan = registry.plan(state(repo), request(Action.DEPLOY, tag=B, force=True))
    body = plan.message.split("\n\n")[1].splitlines()
    assert body == [
        f"Set image.tag in {DEV} from {A} to {B}.",
        f"Forced with --force over {A}, a newer build that was deployed.",
        "Forced with --force over a hold:"
        " dev is held by ann since 2026-01-01T00:00:00Z: incident 7.",
    ]
