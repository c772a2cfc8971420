"""The unreject planner, table-driven and in memory: a build's rejections (its tag's, and its
digest's when given) removed from gitops/rejected.yaml, the others kept; the commit says who and
why, with the Promotion-Override trailer check asks of an MR that releases a rejection."""

import pytest

from ci.gitops.message import parse_trailers
from ci.gitops.plans import registry
from ci.gitops.plans.action import Action, Status
from ci.gitops.rejections import REJECTED_FILE, parse_rejections
from ci.project import service_name
from tests.ci.gitops.plans.fake import DIGEST, OTHER_DIGEST, A, B, C, request, state
from tests.ci.gitops.plans.test_reject import EARLIER, PINNED, repo


def unreject(branch_, tag, digest=None):
    ask = request(Action.UNREJECT, env="", tag=tag, digest=digest, reason="fixed  now", by="cy")
    return registry.plan(state(branch_), ask)


UNREJECTS = [
    # (rejected before, tag, digest, kept (None: nothing to do))
    ((PINNED, EARLIER), B, None, [EARLIER]),
    ((PINNED, EARLIER), "renamed", DIGEST, [EARLIER]),  # by its digest
    ((PINNED, EARLIER), C, None, [PINNED]),
    ((PINNED, EARLIER), A, None, None),
    ((), B, None, None),
    ((PINNED,), B, OTHER_DIGEST, []),  # the tag's rejection goes, whatever its digest
]


@pytest.mark.parametrize(("before", "tag", "digest", "kept"), UNREJECTS)
def test_unreject(before, tag, digest, kept) -> None:
    plan = unreject(repo(*before), tag, digest)
    if kept is None:
        assert (plan.status, plan.line) == (
            Status.UNCHANGED,
            f"{tag} is not rejected: nothing to do",
        )
        return
    assert parse_rejections(plan.files[REJECTED_FILE]) == tuple(kept)
    released = [item for item in before if item not in kept]
    body = ["Unrejected by cy: fixed now."] + [
        f"It was rejected: {item.describe()}." for item in released
    ]
    assert plan.message.split("\n\n")[1].splitlines() == body
    assert plan.message.startswith(f"unreject: {service_name()} {tag} [skip ci]\n")
    assert parse_trailers(plan.message)["Promotion-Override"] == f"unreject {tag} by cy: fixed now"
