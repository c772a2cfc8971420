"""The promote planner, table-driven and in memory: the source's image (tag, link, digest) copied
into the target, holds refused unless forced, the source checked."""

import itertools

import pytest

from ci.errors import UsageError
from ci.gitops.plans import registry
from ci.gitops.plans.action import Action, Status
from ci.gitops.plans.model import HeldError
from ci.gitops.values import read_image
from tests.ci.gitops.plans.fake import (
    DIGEST,
    OTHER_DIGEST,
    PIPELINE,
    A,
    B,
    branch,
    held,
    request,
    state,
    values,
)

DEV, PROD = "gitops/dev/values.yaml", "gitops/prod/values.yaml"
MATRIX = list(
    itertools.product(
        (False, True),  # prod held
        (False, True),  # --force
        (A, B),  # the tag dev runs (prod runs A)
        (None, DIGEST, OTHER_DIGEST),  # dev's digest (prod pins DIGEST)
        (None, PIPELINE, "not a url"),  # dev's pipeline link
    )
)


@pytest.mark.parametrize(("is_held", "force", "tag", "digest", "url"), MATRIX)
def test_the_decision_matrix(is_held, force, tag, digest, url) -> None:
    files = {DEV: values(tag, digest=digest, url=url), PROD: values(A, digest=DIGEST)}
    repo = branch({**files, **(held("prod") if is_held else {})})
    ask = request(Action.PROMOTE, env="prod", source_env="dev", force=force)
    if is_held and not force:
        with pytest.raises(HeldError, match=r"^prod is held by ann .*, or pass --force$"):
            registry.plan(state(repo), ask)
        return
    plan = registry.plan(state(repo), ask)
    if tag == A and digest in (None, DIGEST):
        assert (plan.status, plan.line) == (
            Status.UNCHANGED,
            f"prod already runs shop {A}: nothing to do",
        )
        return
    image = read_image(plan.files[PROD] or "")
    assert (image.tag, image.digest) == (tag, digest)
    assert image.pipeline_url == (PIPELINE if url == PIPELINE else None)
    forced = " (forced)" if is_held else ""
    assert plan.message.splitlines()[0] == f"promote(prod): shop {tag} from dev{forced} [skip ci]"
    assert (list(plan.files), plan.render) == ([PROD], ("prod",))


ERRORS = [
    ("qa", "unknown environment 'qa' for --from (known: dev, prod)"),
    ("", "unknown environment '' for --from (known: dev, prod)"),
]


@pytest.mark.parametrize(("source", "line"), ERRORS)
def test_an_unknown_source_is_refused(source, line) -> None:
    repo = branch({DEV: values(A), PROD: values(A)})
    with pytest.raises(UsageError) as raised:
        registry.plan(state(repo), request(Action.PROMOTE, env="prod", source_env=source))
    assert str(raised.value) == line


@pytest.mark.parametrize("text", [values(None), "image: {}\n", "{}\n", ""])
def test_a_source_without_a_tag_is_refused(text) -> None:
    repo = branch({DEV: text, PROD: values(A)})
    with pytest.raises(UsageError, match=r"^gitops/dev/values.yaml has no image.tag to promote$"):
        registry.plan(state(repo), request(Action.PROMOTE, env="prod", source_env="dev"))


def test_a_hold_on_the_source_does_not_matter() -> None:
    repo = branch({DEV: values(B), PROD: values(A), **held("dev")})
    plan = registry.plan(state(repo), request(Action.PROMOTE, env="prod", source_env="dev"))
    assert plan.commits
    assert "Forced" not in plan.message
