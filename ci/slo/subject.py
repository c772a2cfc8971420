"""Which build ``verify`` judges in an environment, and by which rule, read from the gitops branch.

In the write-back's partial clone of the branch (``ci.gitops.remote``): the environment must be
a folder of the branch; the rule is ``verify.<env>`` of ``gitops/promotion.yaml`` at the tip (or
of a local file, ``--policy``); the build is the image in ``gitops/<env>/values.yaml``: at the
tip, at ``--revision`` (a gitops commit of the branch, as for ``wait``), or the newest version of
the file that held ``--tag`` (its digest with it).
"""

import tempfile
from dataclasses import dataclass
from pathlib import Path

from ci.errors import UsageError
from ci.gitops import history
from ci.gitops.plans.model import environments, require_env
from ci.gitops.promotion import PROMOTION_FILE, Policy, VerifyRule, parse_policy
from ci.gitops.remote import Clone
from ci.gitops.tags import values_path
from ci.gitops.values import Image, read_image
from ci.gitops.writeback import Target
from ci.wait.revisions import resolve_revision


class NoRule(UsageError):
    """The policy has no verify rule for the environment."""


@dataclass(frozen=True)
class PolicySource:
    """The policy's text and where it came from (``--policy FILE``, else the branch's file)."""

    text: str | None
    name: str = PROMOTION_FILE


@dataclass(frozen=True)
class Subject:
    env: str
    tag: str
    digest: str | None
    rule: VerifyRule
    commit: str = ""  # the gitops commit whose values file names the build
    branch: str = ""


def read_subject(
    target: Target,
    env: str,
    revision: str | None = None,
    tag: str | None = None,
    policy: PolicySource | None = None,
) -> Subject:
    """The build ``env`` runs (or ran, at ``revision`` or as ``tag``) and its verify rule."""
    with tempfile.TemporaryDirectory(prefix="ci-verify-") as workdir:
        clone = target.clone(Path(workdir) / "repo")
        tip = clone.clone()
        require_env(env, environments(clone, tip))
        if policy is None:
            policy = PolicySource(clone.read_file(tip, PROMOTION_FILE))
        rule = rule_for(parse_policy(policy.text, policy.name), env, policy.name)
        image, commit = _image(clone, tip, env, revision, tag)
        return Subject(env, image.tag or "", image.digest, rule, commit, clone.branch)


def rule_for(policy: Policy, env: str, name: str = PROMOTION_FILE) -> VerifyRule:
    rule = policy.verify.get(env)
    if rule is None:
        raise NoRule(
            f"{name} has no verify rule for {env} (verify: {{{env}: {{window: 5m,"
            " max_error_ratio: 0.01, max_latency_p95: 0.5, min_requests: 50}})"
        )
    return rule


def _image(
    clone: Clone, tip: str, env: str, revision: str | None, tag: str | None
) -> tuple[Image, str]:
    """The build, and the commit of the values file that names it."""
    path = values_path(env)
    if tag:
        change = history.recorded(clone, tip, path, tag)
        if change is None:
            raise UsageError(f"{env} never ran {tag} ({path} on branch {clone.branch})")
        return Image(None, change.tag, digest=change.digest), change.entry.commit
    commit = resolve_revision(clone, tip, revision, clone.branch) if revision else tip
    image = read_image(clone.read_file(commit, path) or "", path)
    if not image.tag:
        raise UsageError(f"{path} has no image.tag at {commit[:12]}: nothing to verify")
    return image, commit
