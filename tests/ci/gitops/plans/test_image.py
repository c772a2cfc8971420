"""What deploy, promote and rollback share (``ci.gitops.plans.image``), planned in memory
(``fake.FakeBranch``): the values file must be there, ``--verify-image`` (the registry's digest,
or a mismatch refused), a malformed pipeline link never written, the service named after the
repository."""

import pytest

from ci.errors import CiError, UsageError
from ci.gitlab import GitLabContext
from ci.gitops.plans import deploy, registry
from ci.gitops.plans.action import Action
from ci.gitops.values import read_image
from ci.project import service_name
from ci.provenance import PUBLIC_KEY_PATH
from tests.ci.gitops.plans.fake import (
    DIGEST,
    OTHER_DIGEST,
    REPOSITORY,
    A,
    B,
    branch,
    envs,
    request,
    state,
    values,
)

DEV = "gitops/dev/values.yaml"


def test_a_missing_values_file_is_refused() -> None:
    """Not reachable through the registry (an environment is a folder with values.yaml)."""
    with pytest.raises(UsageError, match=r"^gitops/dev/values.yaml is missing on the branch$"):
        deploy.plan(state(branch({"gitops/prod/values.yaml": values(A)})), request(Action.DEPLOY))


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


def test_a_committed_public_key_goes_to_the_verifier_with_the_digest() -> None:
    """With the branch's gitops/cosign.pub, the verifier checks the digest given with that key
    (the signature and provenance check of ``ci.trust``), read from the branch written to."""
    asked = []

    def verify(repo: str, tag: str, *, public_key: str, digest: str | None) -> str | None:
        asked.append((repo, tag, public_key, digest))
        return DIGEST

    key = "-----BEGIN PUBLIC KEY-----\nthe branch's key\n-----END PUBLIC KEY-----\n"
    repo = branch({DEV: values(A, repository=REPOSITORY), PUBLIC_KEY_PATH: key})
    plan = registry.plan(state(repo, verify=verify), request(Action.DEPLOY, tag=B, digest=DIGEST))
    assert read_image(plan.files[DEV] or "").digest == DIGEST
    assert asked == [(REPOSITORY, B, key, DIGEST)]
