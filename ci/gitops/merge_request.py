"""Write-back by merge request (``deploy|promote|rollback --merge-request``), for projects whose
default branch nobody pushes to.

The write-back plans and builds its commit as always; instead of pushing it to the branch, this
pushes it to ``gitops/<env>/<tag>`` and opens a merge request into the branch through GitLab's
REST API (python-gitlab). The commit drops ``[skip ci]`` so that the merge request's pipeline
(``gitops-check``) and, after the merge, the default branch's gitops-only pipeline run.

Idempotent: a re-run for the same environment and tag reuses the branch (left as it is when it
already holds the same change on the current tip) and its open merge request. A newer change to
the same environment closes the older open ones with a note pointing at the new one: only its
own, those labelled ``gitops-writeback`` and authored by the token's user, never a person's
merge request that happens to use a ``gitops/<env>/`` branch.

The API calls (settings, rate limits, the deadline) are ``gitlab_api``. A cancelled job (SIGTERM)
says what reached the remote.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass

from ci.errors import CiError
from ci.gitlab import GitLabContext
from ci.gitops.gitlab_api import LABEL, GitLabProject, GitLabSettings, owned
from ci.gitops.message import SKIP_CI, Change
from ci.gitops.plans.action import Action
from ci.gitops.remote import Clone, GitTimeout, redact
from ci.gitops.tags import looks_like_commit
from ci.gitops.values import ValuesError, read_image

BRANCH_PREFIX = "gitops"
HOLD_BRANCH_PREFIX = "gitops-holds"
PIPELINE_ID = re.compile(r"/-/pipelines/(\d+)(?:[/?#]|$)")


# -- pure ------------------------------------------------------------------------------------


def branch_name(env: str, tag: str) -> str:
    """``gitops/<env>/<tag>``, made a valid ref name (no ``..``, no ``.lock`` ending)."""
    return f"{BRANCH_PREFIX}/{env}/{_safe(tag)}"


def _safe(tag: str) -> str:
    return re.sub(r"\.{2,}", ".", tag).removesuffix(".lock").strip(".") or "tag"


def branch_for(change: Change) -> str:
    """An image change's ``gitops/<env>/<tag>``; a hold's ``gitops-holds/<env>/<hold|unhold>``;
    a verdict's ``gitops-holds/<env>/record-<tag>``, a rejection's
    ``gitops-holds/builds/<reject|unreject>-<tag>`` (kept apart: they supersede no promotion,
    and no promotion supersedes them)."""
    if change.action in (Action.REJECT, Action.UNREJECT):
        return f"{HOLD_BRANCH_PREFIX}/builds/{change.action}-{_safe(change.tag or '')}"
    if change.action == Action.RECORD:
        return f"{HOLD_BRANCH_PREFIX}/{change.env}/record-{_safe(change.tag or '')}"
    if change.action in (Action.HOLD, Action.UNHOLD) or not change.tag:
        return f"{HOLD_BRANCH_PREFIX}/{change.env}/{change.action}"
    return branch_name(change.env, change.tag)


def without_skip_ci(message: str) -> str:
    subject, sep, rest = message.partition("\n")
    return subject.replace(f" {SKIP_CI}", "").replace(SKIP_CI, "").rstrip() + sep + rest


def title_of(message: str) -> str:
    return without_skip_ci(message).split("\n", 1)[0]


def pipeline_id(url: str | None) -> int | None:
    match = PIPELINE_ID.search(url or "")
    return int(match[1]) if match else None


def description(
    message: str,
    diff: str,
    context: GitLabContext,
    change: Change,
    build_pipeline: str | None,
    verification: str | None,
) -> str:
    """The merge request's description: what changes, the diff, where it came from."""
    body = without_skip_ci(message).split("\n\n", 1)
    lines = [body[1].strip() if len(body) > 1 else "", "", "```diff", diff.rstrip("\n"), "```", ""]
    facts = []
    # The build's commit: recorded by deploy, else the tag itself when it is a commit SHA.
    tag = change.tag or ""
    commit = change.source_commit or (tag if looks_like_commit(tag) else None)
    if commit:
        link = f"{context.project_url}/-/commit/{commit}" if context.project_url else ""
        facts.append(
            f"- Source commit: [`{commit[:12]}`]({link})"
            if link
            else f"- Source commit: `{commit}`"
        )
    if build_pipeline:
        facts.append(f"- Build pipeline: {build_pipeline}")
    if context.pipeline_url:
        facts.append(f"- Opened by pipeline: {context.pipeline_url}")
    if change.source_env:
        facts.append(f"- Verification in {change.source_env}: {verification or 'unknown'}")
    if facts:
        lines += [*facts, ""]
    lines += ["Opened by `python -m ci " + change.action + " --merge-request`."]
    return "\n".join(lines).strip() + "\n"


def superseded_note(new_url: str, title: str) -> str:
    return f"Superseded by {new_url} ({title}): closing."


@dataclass
class Progress:
    """How far a publish got, for an honest account when it is cut short."""

    branch: str
    pushing: str | None = None  # the commit whose push is under way
    pushed: str | None = None  # the commit the branch holds: pushed by this run, or already there
    reused: bool = False  # the branch already held this change
    merge_request: str | None = None  # its URL once opened or updated


# -- git edge --------------------------------------------------------------------------------


def _remote_branch(clone: Clone, branch: str) -> str | None:
    out = clone.git("ls-remote", "origin", f"refs/heads/{branch}").stdout.split()
    return out[0] if out else None


def _same_change(clone: Clone, existing: str, tip: str, commit: str) -> bool:
    """Whether the branch's commit already is this change on this tip (same parent and tree)."""
    clone.git("fetch", "--quiet", "--no-tags", "--depth=1", "--filter=tree:0", "origin", existing)
    header = clone.git("cat-file", "commit", existing).stdout.split("\n\n", 1)[0].splitlines()
    parents = [line.split()[1] for line in header if line.startswith("parent ")]
    tree = next((line.split()[1] for line in header if line.startswith("tree ")), "")
    ours = clone.git("rev-parse", f"{commit}^{{tree}}").stdout.strip()
    return parents == [tip] and tree == ours


def _push_branch(clone: Clone, commit: str, branch: str, existing: str | None) -> bool:
    """Set the branch to ``commit`` only if it is still what we saw (``--force-with-lease``);
    False when the push failed because the branch moved meanwhile (another run)."""
    lease = f"--force-with-lease=refs/heads/{branch}:{existing or ''}"
    result = clone.git(
        "push",
        "--porcelain",
        "--no-verify",
        lease,
        "origin",
        f"{commit}:refs/heads/{branch}",
        check=False,
    )
    status = [line for line in result.stdout.splitlines() if line.startswith(("!", " ", "+", "*"))]
    if result.returncode == 0 and status and not status[0].startswith("!"):
        return True
    if _remote_branch(clone, branch) != existing:
        return False  # moved under us (a concurrent run's push wins the race)
    if status and status[0].startswith("!"):
        reason = status[0].split("\t")[-1]
        raise CiError(f"push of {branch} refused: {redact(reason)}")
    raise clone.error("push", result.stderr)


def _publish_branch(clone: Clone, tip: str, commit: str, progress: Progress) -> str:
    """The branch's commit holding this change on ``tip``: the one there, or ``commit`` pushed."""
    branch = progress.branch
    for _ in range(3):
        existing = _remote_branch(clone, branch)
        if existing and _same_change(clone, existing, tip, commit):
            progress.pushed, progress.reused = existing, True
            return existing
        progress.pushing = commit
        if _push_branch(clone, commit, branch, existing):
            progress.pushed = commit
            return commit
        progress.pushing = None
    raise CiError(f"{branch} kept moving under us (other runs at once?): re-run the job")


@dataclass
class Opened:
    url: str
    state: str  # opened | updated | unchanged
    branch: str
    closed: list[str]


def open_merge_request(
    api: GitLabProject,
    target_branch: str,
    branch: str,
    env: str,
    title: str,
    body: str,
) -> Opened:
    """Create or update the merge request of ``branch``; close our older ones of the same env
    (``owned``: a person's merge request is never touched)."""
    open_ones = api.open_ones(target_branch)
    mine = [mr for mr in open_ones if owned(mr, api.user_id)]
    ours = [mr for mr in mine if mr.source_branch == branch]
    prefix = f"{BRANCH_PREFIX}/{env}/"
    older = [
        mr
        for mr in mine
        if branch.startswith(prefix) and mr.source_branch.startswith(prefix) and mr not in ours
    ]
    mr, state = _create_or_update(api, ours, target_branch, branch, title, body)
    closed = []
    note = superseded_note(mr.web_url, title)
    for old in older:
        api.call(f"commenting on !{old.iid}", lambda o=old: o.notes.create({"body": note}))
        old.state_event = "close"
        api.call(f"closing !{old.iid}", old.save)
        closed.append(old.web_url)
    return Opened(mr.web_url, state, branch, closed)


def _create_or_update(
    api: GitLabProject, ours: list, target_branch: str, branch: str, title: str, body: str
):
    """(merge request, opened | updated | unchanged)."""
    if ours:
        mr = ours[0]
        if (mr.title, mr.description) == (title, body):
            return mr, "unchanged"
        mr.title, mr.description = title, body
        api.call(f"updating !{mr.iid}", mr.save)
        return mr, "updated"
    mr, created = api.create(
        {
            "source_branch": branch,
            "target_branch": target_branch,
            "title": title,
            "description": body,
            "remove_source_branch": True,
            "labels": LABEL,
        }
    )
    return mr, "opened" if created else "unchanged"


# -- the hook --------------------------------------------------------------------------------


def cut_short_line(what: str, progress: Progress, remote_tip: str | None) -> str:
    """The one line for a publish interrupted (``what``) at ``progress``; ``remote_tip`` is the
    branch's commit on the remote as asked afterwards (None: could not ask)."""
    branch = progress.branch
    if progress.merge_request:
        return f"{what} after merge request {progress.merge_request} was opened or updated"
    if progress.pushed:
        how = (
            "already held the change" if progress.reused else f"was pushed ({progress.pushed[:12]})"
        )
        return f"{what}: branch {branch} {how}, no merge request opened or updated: re-run the job"
    if progress.pushing is None:
        return f"{what}: nothing pushed, no merge request opened"
    if remote_tip == progress.pushing:
        return (
            f"{what}, but branch {branch} had been pushed ({progress.pushing[:12]}); no merge"
            " request opened: re-run the job"
        )
    if remote_tip is None:
        return (
            f"{what} during the push of branch {branch}: could not ask the remote whether it"
            f" landed; no merge request opened: re-run the job"
        )
    return f"{what} during the push of branch {branch}: it did not land; nothing pushed"


def _cut_short(clone: Clone, progress: Progress, error: BaseException) -> CiError:
    interrupted = isinstance(error, KeyboardInterrupt)
    remote_tip = None
    if progress.pushing and not progress.pushed:
        try:
            remote_tip = _remote_branch(clone, progress.branch)
        except (CiError, KeyboardInterrupt):
            remote_tip = None
    result = CiError(
        cut_short_line("interrupted" if interrupted else str(error), progress, remote_tip)
    )
    result.exit_code = 130 if interrupted else 1
    return result


def publisher(
    settings: GitLabSettings, context: GitLabContext, target_branch: str
) -> Callable[[Clone, str, str, Change], tuple[str, str]]:
    """What ``writeback.apply`` calls instead of pushing: returns (commit, one-line outcome)."""
    api = GitLabProject(settings)

    def publish(clone: Clone, tip: str, commit: str, change: Change) -> tuple[str, str]:
        progress = Progress(branch_for(change))
        try:
            return _publish(api, context, target_branch, clone, tip, commit, change, progress)
        except (KeyboardInterrupt, GitTimeout) as error:
            raise _cut_short(clone, progress, error) from None

    return publish


def _publish(
    api: GitLabProject,
    context: GitLabContext,
    target_branch: str,
    clone: Clone,
    tip: str,
    commit: str,
    change: Change,
    progress: Progress,
) -> tuple[str, str]:
    api.project  # fail on settings or token before anything is pushed  # noqa: B018
    api.user_id  # noqa: B018
    message = without_skip_ci(clone.message(commit))
    commit = clone.git(
        "commit-tree", f"{commit}^{{tree}}", "-p", tip, "-F", "-", input=message
    ).stdout.strip()
    branch = progress.branch
    commit = _publish_branch(clone, tip, commit, progress)
    diff = clone.git("diff", "--no-color", "--no-renames", tip, commit).stdout
    build_pipeline = _pipeline_url(clone, commit, change.path)
    verification = None
    if change.source_env and pipeline_id(build_pipeline) is not None:
        verification = api.verification(pipeline_id(build_pipeline), change.source_env)
    body = description(message, diff, context, change, build_pipeline, verification)
    opened = open_merge_request(api, target_branch, branch, change.env, title_of(message), body)
    progress.merge_request = opened.url
    line = f"{title_of(message)}: merge request {opened.url} ({opened.state}, branch {branch})"
    if opened.closed:
        line += f"; closed {len(opened.closed)} older: {', '.join(opened.closed)}"
    return commit, line


def _pipeline_url(clone: Clone, commit: str, path: str) -> str | None:
    try:
        return read_image(clone.read_file(commit, path) or "", path).pipeline_url
    except ValuesError:
        return None
