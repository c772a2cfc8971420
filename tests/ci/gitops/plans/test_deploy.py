"""The deploy planner, table-driven and in memory (``fake.FakeBranch``): every combination of
hold, --force, build order, repository and digest, then the lines and edits one by one."""

import itertools

import pytest

from ci.errors import CiError, UsageError
from ci.gitlab import GitLabContext
from ci.gitops.message import parse_trailers
from ci.gitops.plans import deploy, registry
from ci.gitops.plans.action import Action, Status
from ci.gitops.plans.model import HeldError
from ci.gitops.values import read_image
from ci.project import service_name
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


ERRORS = [
    ("qa", UsageError, "unknown environment 'qa' for --env (known: dev, prod)"),
    ("", UsageError, "unknown environment '' for --env (known: dev, prod)"),
    ("gitops", UsageError, "unknown environment 'gitops' for --env (known: dev, prod)"),
]


@pytest.mark.parametrize(("env", "error", "line"), ERRORS)
def test_an_unknown_environment_is_refused(env, error, line) -> None:
    repo = branch({**envs(dev=A, prod=A), "gitops/qa/notes.md": "x"})
    with pytest.raises(error) as raised:
        registry.plan(state(repo), request(Action.DEPLOY, env=env, tag=B))
    assert str(raised.value) == line


def test_a_missing_values_file_is_refused() -> None:
    """Not reachable through the registry (an environment is a folder with values.yaml)."""
    with pytest.raises(UsageError, match=r"^gitops/dev/values.yaml is missing on the branch$"):
        deploy.plan(state(branch({"gitops/prod/values.yaml": values(A)})), request(Action.DEPLOY))


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


VERIFY = [
    # (verify answers, digest given, repository in values, expected digest or error)
    ("registry digest", DIGEST, None, REPOSITORY, DIGEST),
    ("registry none", None, None, REPOSITORY, None),
    ("given matches", DIGEST, DIGEST, REPOSITORY, DIGEST),
    ("given, registry silent", None, DIGEST, REPOSITORY, DIGEST),
    (
        "mismatch",
        OTHER_DIGEST,
        DIGEST,
        REPOSITORY,
        CiError(
            f"the registry has {OTHER_DIGEST} for {REPOSITORY}:{B}, not the digest given"
            f" ({DIGEST}): nothing committed"
        ),
    ),
    (
        "no repository",
        DIGEST,
        None,
        None,
        UsageError(f"--verify-image needs --repository or image.repository in {DEV}"),
    ),
    ("malformed digest not written", "sha256:short", None, REPOSITORY, None),
]


@pytest.mark.parametrize(
    ("name", "answer", "given", "repository", "want"), VERIFY, ids=[row[0] for row in VERIFY]
)
def test_verify_image(name, answer, given, repository, want) -> None:
    asked = []

    def verify(repo: str, tag: str) -> str | None:
        asked.append((repo, tag))
        return answer

    repo = branch({DEV: values(A, repository=repository)})
    ask = request(Action.DEPLOY, tag=B, digest=given)
    if isinstance(want, Exception):
        with pytest.raises(type(want)) as raised:
            registry.plan(state(repo, verify=verify), ask)
        assert str(raised.value) == str(want)
        return
    plan = registry.plan(state(repo, verify=verify), ask)
    assert read_image(plan.files[DEV] or "").digest == want
    assert asked == [(REPOSITORY, B)]


@pytest.mark.parametrize("url", ["ftp://x", "https://a b", "https://x|y", ""])
def test_a_malformed_pipeline_url_is_not_written(url) -> None:
    context = GitLabContext(pipeline_url=url)
    plan = registry.plan(
        state(branch(envs(dev=A)), context), request(Action.DEPLOY, tag=B, built_here=True)
    )
    assert read_image(plan.files[DEV] or "").pipeline_url is None


def test_the_service_is_named_after_the_repository() -> None:
    plan = registry.plan(
        state(branch(envs(dev=A))), request(Action.DEPLOY, tag=B, repository="r.example/x/api/")
    )
    assert plan.message.splitlines()[0] == f"deploy(dev): api {B} [skip ci]"
    assert "Set image.repository to r.example/x/api/." in plan.message


def test_without_a_repository_the_service_is_the_project() -> None:
    plan = registry.plan(
        state(branch({DEV: values(A, repository=None)})), request(Action.DEPLOY, tag=B)
    )
    assert plan.message.splitlines()[0] == f"deploy(dev): {service_name()} {B} [skip ci]"


def test_a_long_list_of_environments_is_cut_short() -> None:
    many = envs(**{f"env{n:02}": A for n in range(12)})
    with pytest.raises(UsageError) as raised:
        registry.plan(state(branch(many)), request(Action.DEPLOY, env="qa", tag=B))
    shown = ", ".join(f"env{n:02}" for n in range(10))
    assert str(raised.value) == f"unknown environment 'qa' for --env (known: {shown} and 2 more)"


def test_a_branch_without_environments_says_none() -> None:
    with pytest.raises(UsageError) as raised:
        registry.plan(state(branch({"README.md": "x"})), request(Action.DEPLOY, tag=B))
    assert str(raised.value) == "unknown environment 'dev' for --env (known: none)"
