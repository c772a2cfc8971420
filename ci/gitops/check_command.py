"""``python -m ci check``: what the checkout's HEAD changes under gitops/ and in values.<env>.yaml,
checked before it merges.

    python -m ci check [--base REF] [--verify-image]

Base: ``--base``, else ``CI_MERGE_REQUEST_DIFF_BASE_SHA``, else the merge base with the default
branch. Each changed environment must render as Argo CD renders it; a pipeline-owned file may change
only the keys the pipeline owns; a new image.tag must have run in the environment before it in
``gitops/promotion.yaml`` (a ``Promotion-Override: <reason>`` commit trailer overrides, visibly)
and may not enter a held environment (``gitops/<env>/hold.yaml``, unless the change releases it);
with ``--verify-image`` each new image reference must exist in the registry. One line per
violation on stdout, exit 1; bad input exit 2.
"""

import argparse
import os
import sys
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from ci import chart
from ci.chart.argocd import one_line
from ci.errors import CiError, UsageError
from ci.gitops import check
from ci.gitops.checkout import Checkout
from ci.gitops.holds import hold_path
from ci.gitops.message import parse_trailers
from ci.gitops.promotion import OVERRIDE_TRAILER, PROMOTION_FILE, parse_order
from ci.gitops.tags import environments_from_paths, values_path
from ci.options import env_flag, env_switch


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "check",
        help="check HEAD's gitops change (render, owned keys, promotion order, images)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    env_flag(
        parser,
        "--base",
        "CI_MERGE_REQUEST_DIFF_BASE_SHA",
        help="commit to compare HEAD with (default: the merge base with the default branch)",
    )
    env_switch(
        parser,
        "--verify-image",
        "GITOPS_VERIFY_IMAGE",
        help="check each new image reference exists in the registry",
    )
    parser.set_defaults(run=run_check)


def default_base(checkout: Checkout, head: str, environ: Mapping[str, str]) -> str:
    """The merge base of HEAD with the default branch (``origin/<branch>``, else ``<branch>``)."""
    branch = environ.get("CI_DEFAULT_BRANCH") or "main"
    for ref in (f"refs/remotes/origin/{branch}", f"refs/heads/{branch}"):
        if checkout.git("rev-parse", "--verify", "--quiet", ref, check=False).strip():
            found = checkout.merge_base(ref, head)
            if found:
                return found
    raise UsageError(
        f"no --base given and no merge base with {branch} (set --base or "
        "CI_MERGE_REQUEST_DIFF_BASE_SHA, or fetch the default branch)"
    )


class History:
    """Which builds each environment ran: the versions of its values file up to ``base``."""

    def __init__(self, checkout: Checkout, base: str) -> None:
        self.checkout, self.base = checkout, base
        self._seen: dict[str, list[tuple[str, str | None]]] = {}

    def ran(self, env: str, tag: str, digest: str | None = None) -> bool:
        """Whether ``env`` ran ``tag`` (and, when given, this digest: a digest recorded with
        that tag must match; only history without any digest for the tag vouches by tag)."""
        versions = self._versions(env)
        recorded = [d for t, d in versions if t == tag]
        return bool(recorded) and (not digest or digest in recorded or not any(recorded))

    def _versions(self, env: str) -> list[tuple[str, str | None]]:
        if env not in self._seen:
            found = []
            for _, data in self.checkout.file_versions(self.base, values_path(env)):
                values, _ = check.read_values(data, values_path(env))
                if check.image_tag(values):
                    found.append((check.image_tag(values), check.image_digest(values)))
            self._seen[env] = found
        return self._seen[env]


def overrides(checkout: Checkout, base: str, head: str) -> list[tuple[str, str]]:
    """(commit, reason) of each ``Promotion-Override`` trailer in the commits under review."""
    found = []
    for commit, message in checkout.messages(base, head):
        reason = parse_trailers(message).get(OVERRIDE_TRAILER, "").strip()
        if reason:
            found.append((commit, reason))
    return found


def image_references(objects: Iterable[Mapping[str, Any]]) -> set[str]:
    """Every container image a render runs (containers, initContainers, ephemeralContainers)."""
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, Mapping):
            for key, value in node.items():
                if key in ("containers", "initContainers", "ephemeralContainers") and isinstance(
                    value, list
                ):
                    found.update(
                        c["image"] for c in value if isinstance(c, Mapping) and c.get("image")
                    )
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(list(objects))
    return found


def verify_reference(reference: str) -> str | None:
    """None when ``reference`` (REGISTRY/NAME[:TAG][@DIGEST]) is in its registry, else why not."""
    from ci.registry import ImageRef, auth_from_environ, insecure_from_env, manifest

    name, _, digest = reference.partition("@")
    repository, tag = name, ""
    if ":" in name.rsplit("/", 1)[-1]:
        repository, _, tag = name.rpartition(":")
    if "/" not in repository:
        return f"image {reference} has no registry host: cannot verify it"
    registry, _, short = repository.rpartition("/")
    image = ImageRef(registry=registry, name=short, tag=tag or "latest")
    auth = auth_from_environ(image)
    insecure = insecure_from_env()
    tagged = manifest(image, image.tag, auth, insecure) if tag or not digest else None
    if tagged is not None and not tagged.found:
        return f"image {repository}:{image.tag} not found in the registry"
    if digest:
        pinned = manifest(image, digest, auth, insecure)
        if not pinned.found:
            return f"image {repository}@{digest} not found in the registry"
        if tagged is not None and tagged.digest and tagged.digest != digest:
            return f"image {repository}:{tag} is {tagged.digest} in the registry, not {digest}"
    return None


def _text(data: bytes | None) -> str | None:
    return None if data is None else data.decode("utf-8", errors="replace")


def _render(env: str, root: Path) -> tuple[list[dict[str, Any]] | None, str | None]:
    try:
        return chart.render_env(env, repo_root=root), None
    except CiError as error:
        return None, str(error)


def collect(
    checkout: Checkout, base: str, head: str, workdir: Path, verify_image: bool
) -> tuple[list[check.Violation], list[str]]:
    """(violations, notices) of the change ``base..head``."""
    affected = check.affected(checkout.changed_paths(base, head))
    if not affected.envs and not affected.argocd:
        return [], ["no change under gitops/ or in values.<env>.yaml"]
    violations: list[check.Violation] = []
    notices: list[str] = []
    head_root = checkout.extract(head, workdir / "head")
    folders = environments_from_paths(
        [p.relative_to(head_root).as_posix() for p in head_root.glob("gitops/*/values.yaml")]
    )
    envs = set(folders) if affected.argocd else set(affected.envs)

    order_text = checkout.read(base, PROMOTION_FILE)
    order = parse_order(order_text.decode(errors="replace") if order_text is not None else None)
    history = History(checkout, base)
    reasons = overrides(checkout, base, head)
    unreadable: set[str] = set()

    for env in sorted(envs & set(folders)):
        readable, problems, notes = _env_violations(
            checkout, base, head, env, affected, order.source_of(env), history, reasons
        )
        violations += problems
        notices += notes
        if not readable:
            unreadable.add(env)

    try:
        known = chart.environments(head_root)
    except (CiError, UnicodeDecodeError, yaml.YAMLError) as error:
        # Argo CD's generator reads every gitops/*/values.yaml: one bad file breaks them all.
        if not unreadable:
            detail = one_line(str(error))
            violations.append(
                check.Violation(
                    "gitops/argocd", f"Argo CD cannot generate the Applications: {detail}"
                )
            )
        return violations, notices
    for env in sorted(envs - set(folders)):
        if (head_root / f"values.{env}.yaml").exists():
            violations.append(check.unknown_env_violation(env, known))

    rendered = _rendered(sorted(envs & set(known) - unreadable), head_root, violations)

    if verify_image and rendered:
        base_root = checkout.extract(base, workdir / "base")
        problems, notes = _verify_new_images(rendered, base_root)
        violations += problems
        notices += notes
    return violations, notices


def _env_violations(
    checkout: Checkout,
    base: str,
    head: str,
    env: str,
    affected: check.Affected,
    source_env: str | None,
    history: History,
    reasons: list[tuple[str, str]],
) -> tuple[bool, list[check.Violation], list[str]]:
    """(readable, violations, notices) of one environment's values files."""
    path = values_path(env)
    after, problem = check.read_values(checkout.read(head, path), path)
    before, _ = check.read_values(checkout.read(base, path), path)
    if problem or after is None:
        return False, [problem or check.Violation(path, "missing")], []
    violations: list[check.Violation] = []
    if path in affected.pipeline_files:
        found = check.owned_keys_violation(path, env, before, after)
        if found:
            violations.append(found)
    if check.image_changes(before, after):
        held = check.hold_violation(
            env,
            _text(checkout.read(base, hold_path(env))),
            _text(checkout.read(head, hold_path(env))),
        )
        if held:
            violations.append(held)
    promoted = check.promotion(env, before, after, source_env)
    broken = check.promotion_violation(promoted, history.ran, base) if promoted else None
    if broken and reasons:
        commit, reason = reasons[0]
        notice = (
            f"{env}: {OVERRIDE_TRAILER} ({commit[:12]}): {promoted.reference} never ran in "
            f"{promoted.source_env}; allowed: {reason}"
        )
        return True, violations, [notice]
    if broken:
        violations.append(broken)
    return True, violations, []


def _rendered(
    envs: list[str], root: Path, violations: list[check.Violation]
) -> dict[str, list[dict[str, Any]]]:
    """Each environment's objects as Argo CD renders them; one violation per one that does not."""
    rendered: dict[str, list[dict[str, Any]]] = {}
    for env in envs:
        objects, error = _render(env, root)
        if error is not None:
            violations.append(
                check.Violation(env, f"does not render as Argo CD renders it: {error}")
            )
        else:
            rendered[env] = objects or []
    return rendered


def _verify_new_images(
    rendered: dict[str, list[dict[str, Any]]], base_root: Path
) -> tuple[list[check.Violation], list[str]]:
    """Each image reference a change adds must be in the registry (digest included)."""
    violations: list[check.Violation] = []
    notices: list[str] = []
    for env in sorted(rendered):
        before_objects, _ = _render(env, base_root)
        new = image_references(rendered[env]) - image_references(before_objects or [])
        for reference in sorted(new):
            problem_line = verify_reference(reference)
            if problem_line:
                violations.append(check.Violation(env, problem_line))
            else:
                notices.append(f"{env}: image {reference} is in the registry")
    return violations, notices


def run_check(args: argparse.Namespace) -> int:
    checkout = Checkout(Path.cwd())
    head = checkout.resolve("HEAD", "HEAD")
    base = checkout.resolve(args.base) if args.base else default_base(checkout, head, os.environ)
    with tempfile.TemporaryDirectory(prefix="ci-check-") as workdir:
        violations, notices = collect(checkout, base, head, Path(workdir), args.verify_image)
    for notice in notices:
        print(f"check: {notice}", file=sys.stderr)
    for violation in violations:
        print(violation.line())
    if violations:
        count = len(violations)
        print(
            f"check: {count} problem{'s' if count > 1 else ''} in {base[:12]}..{head[:12]}",
            file=sys.stderr,
        )
        return 1
    print(f"check: {base[:12]}..{head[:12]} ok")
    return 0
