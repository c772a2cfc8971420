"""A merge request read from git for the gate (``python -m ci check``): the target branch's tip
(fetched now), the merged tree, what each environment runs in both (renders cached by tree id),
the target's holds and policy, the MR's own trailers, and which builds ran at the target's tips.
``ci.gitops.gate`` decides; ``collect`` returns its violations and notices.
"""

import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from ci.errors import CiError
from ci.gitops import check, gate
from ci.gitops.checkout import Checkout
from ci.gitops.holds import HOLD_FILE, describe, parse_hold
from ci.gitops.message import EVIDENCE_OVERRIDE, parse_trailers
from ci.gitops.promotion import OVERRIDE_TRAILER, PROMOTION_FILE, PromotionOrder, parse_policy
from ci.gitops.records import Records, evidence, read_records
from ci.gitops.runs import EnvRun, Runs, what_runs
from ci.gitops.tags import values_path
from ci.gitops.values import ValuesError
from ci.provenance import PUBLIC_KEY_PATH

# How many of an environment's changes on the target branch "ran it" looks back through.
MAX_HISTORY = 500


def target_tip(checkout: Checkout, branch: str) -> str:
    """The target branch's tip: fetched from origin now, else the local branch."""
    fetched = checkout.fetch_branch(branch)
    return fetched or checkout.resolve(f"refs/heads/{branch}", "--target-branch")


# Renders by tree id (and by commit id, once looked up): an object id names its content, so two
# commits (or two repositories) with the same tree render once. Bounded: cleared when full.
_RUNS: dict[str, Runs] = {}
_RUNS_KEPT = 512


def runs_at(checkout: Checkout, commit: str) -> Runs:
    """What each environment runs at ``commit`` (or a tree id): rendered once per tree, and a
    commit looked up once (history walks ask for the same commits for every image)."""
    if commit not in _RUNS:
        tree = checkout.git("rev-parse", "--verify", f"{commit}^{{tree}}").decode().strip()
        if tree not in _RUNS:
            if len(_RUNS) >= _RUNS_KEPT:
                _RUNS.clear()
            _RUNS[tree] = _render_tree(checkout, tree)
        _RUNS[commit] = _RUNS[tree]
    return _RUNS[commit]


def _render_tree(checkout: Checkout, tree: str) -> Runs:
    with tempfile.TemporaryDirectory(prefix="ci-check-") as scratch:
        try:
            root = checkout.extract(tree, Path(scratch))
        except CiError as error:
            return Runs(error=str(error))
        return what_runs(root)


@dataclass(frozen=True)
class TipHistory:
    """Which images each environment ran at a tip of the target branch: the renders of its
    first-parent commits that touched what the environment renders, newest first."""

    checkout: Checkout
    target: str

    def ran(self, env: str, image: str) -> bool:
        if image in runs_at(self.checkout, self.target).images(env):
            return True
        return any(
            image in runs_at(self.checkout, commit).images(env) for commit in self._tips(env)
        )

    def set_at(self, env: str, image: str) -> datetime | None:
        """When the target branch's first-parent commit that set ``image`` in ``env`` (the oldest
        of the newest run of commits rendering it there) landed; None if none did."""
        found = None
        for commit in self._tips(env):
            if image in runs_at(self.checkout, commit).images(env):
                found = commit
            elif found is not None:
                break
        if found is None:
            return None
        date = self.checkout.git("show", "--no-patch", "--format=%cI", found).decode().strip()
        return datetime.fromisoformat(date)

    def _tips(self, env: str) -> list[str]:
        paths = ["gitops/argocd", f"gitops/{env}", "helm-chart", f"values.{env}.yaml"]
        return self.checkout.first_parent_commits(self.target, paths, MAX_HISTORY)


def held(checkout: Checkout, target: str) -> dict[str, str]:
    """Environment -> its hold as people read it, from the target branch's hold files."""
    holds = {}
    for path in checkout.paths(target, "gitops"):
        parts = path.split("/")
        if len(parts) == 3 and parts[2] == HOLD_FILE:
            data = checkout.read(target, path) or b""
            try:
                holds[parts[1]] = describe(parse_hold(data.decode("utf-8"), path))
            except (ValuesError, UnicodeDecodeError):
                holds[parts[1]] = f"{parts[1]} is held ({path} is unreadable)"
    return holds


def overrides(
    checkout: Checkout, target: str, head: str, trailer: str = OVERRIDE_TRAILER
) -> list[tuple[str, str]]:
    """(commit, reason) of each ``trailer`` (``Promotion-Override``) in the MR's own commits."""
    found = []
    for commit, message in checkout.messages(target, head):
        reason = parse_trailers(message).get(trailer, "").strip()
        if reason:
            found.append((commit, " ".join(reason.split())))
    return found


def file_violations(
    checkout: Checkout, target: str, merged: str, after: Runs
) -> list[gate.Violation]:
    """The file-level rules: pipeline-owned keys, a people's values file no Application reads."""
    violations = []
    for path in sorted(checkout.changed_paths(target, merged)):
        parts = path.split("/")
        if len(parts) == 3 and path == values_path(parts[1]):
            violations += _owned_keys(checkout, target, merged, path, parts[1])
        match = check.PEOPLE_VALUES.fullmatch(path)
        unread = match and after.error is None and match["env"] not in after.envs
        if unread and checkout.read(merged, path) is not None:
            violations.append(check.unknown_env_violation(match["env"], after.envs))
    return violations


def _owned_keys(
    checkout: Checkout, target: str, merged: str, path: str, env: str
) -> list[gate.Violation]:
    before, _ = check.read_values(checkout.read(target, path), path)
    after, problem = check.read_values(checkout.read(merged, path), path)
    if problem or after is None:
        return []  # the render says why
    found = check.owned_keys_violation(path, env, before, after)
    return [found] if found else []


def collect(
    checkout: Checkout, target: str, head: str, verify_image: bool, now: datetime | None = None
) -> tuple[list[gate.Violation], list[str]]:
    """(violations, notices) of merging ``head`` into ``target`` (``now``: the clock soak times
    are judged at)."""
    merged = checkout.merged_tree(target, head)
    if merged is None:
        return [gate.Violation(head[:12], f"conflicts with {target[:12]}: rebase it")], []
    before, after = runs_at(checkout, target), runs_at(checkout, merged)
    policy = parse_policy(_text(checkout.read(target, PROMOTION_FILE)))
    records = read_records(checkout, target, merged)
    change = _change(checkout, target, head, merged, (before, after), policy.order, records)
    history = TipHistory(checkout, target)
    proof = evidence(checkout, target, policy, history.set_at, now or datetime.now(UTC))
    violations, notices = gate.judge(change, history.ran, proof)
    violations = (
        file_violations(checkout, target, merged, after) + list(records.violations) + violations
    )
    if verify_image:
        key = _text(checkout.read(target, PUBLIC_KEY_PATH))
        problems, found = _verify_new_images(before, after, os.environ, key)
        violations += problems
        notices += found
    return violations, notices


def _change(
    checkout: Checkout,
    target: str,
    head: str,
    merged: str,
    runs: tuple[Runs, Runs],
    order: PromotionOrder,
    records: Records,
) -> gate.Change:
    """The gate's view of the merge: what runs before and after, holds, trailers, records."""
    holds = held(checkout, target)
    return gate.Change(
        before=runs[0],
        after=runs[1],
        order=order,
        target=target,
        holds=holds,
        holds_kept=frozenset(
            env for env in holds if checkout.read(merged, f"gitops/{env}/{HOLD_FILE}") is not None
        ),
        promotion_changed=checkout.read(target, PROMOTION_FILE)
        != checkout.read(merged, PROMOTION_FILE),
        overrides=overrides(checkout, target, head),
        rejections=records.rejections,
        loosened=records.loosened,
        evidence_overrides=overrides(checkout, target, head, EVIDENCE_OVERRIDE),
    )


def _text(data: bytes | None) -> str | None:
    return None if data is None else data.decode("utf-8", errors="replace")


def _verify_new_images(
    before: Runs, after: Runs, environ: Mapping[str, str], committed_key: str | None = None
) -> tuple[list[gate.Violation], list[str]]:
    """Each image a merge adds to an environment must be in its registry (digest included);
    with a public key (the target branch's ``gitops/cosign.pub``, or COSIGN_PUBLIC_KEY_FILE),
    signed with it and with the provenance of its tag's commit (``ci.trust``)."""
    from ci.registry import verify_reference
    from ci.trust import configured_key, unverified_line

    key = configured_key(environ, committed_key)
    violations, notices = [], []
    for env, run in sorted(after.envs.items()):
        for reference in sorted(_new(run, before.envs.get(env))):
            problem = verify_reference(reference, environ) or _signature(reference, key, environ)
            if problem:
                violations.append(gate.Violation(env, problem))
            elif key is None:
                notices.append(f"{env}: image {reference} is in the registry")
                notices.append(unverified_line(reference).removeprefix("warning: "))
            else:
                notices.append(f"{env}: image {reference} is in the registry, signed")
    return violations, notices


def _signature(reference: str, key, environ: Mapping[str, str]) -> str | None:
    """Why ``reference`` (in its registry: checked first) is not signed with ``key`` as
    expected, or None (also when there is no key)."""
    from ci.registry import auth_from_environ, insecure_from_env, manifest, split_reference
    from ci.trust import verify_image

    parts = split_reference(reference)
    if key is None or isinstance(parts, str):
        return None
    image, _, digest = parts
    if not digest:
        auth = auth_from_environ(image, environ)
        digest = manifest(image, image.tag, auth, insecure_from_env(environ)).digest or ""
    if not digest:
        return f"the registry sent no digest for {reference}: cannot verify its signature"
    try:
        verify_image(image, digest, key, environ)
    except CiError as error:
        return str(error)
    return None


def _new(run: EnvRun, old: EnvRun | None) -> frozenset[str]:
    return (run.images or frozenset()) - ((old.images if old else None) or frozenset())
