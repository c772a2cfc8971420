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

Rate limits (HTTP 429): ``Retry-After`` is obeyed in both forms (seconds or an HTTP-date, RFC 9110
10.2.3), each wait capped at 60 s, all of it within ``GITOPS_API_DEADLINE`` seconds (default 300)
of the start: past it, one line says so. A cancelled job (SIGTERM) says what reached the remote.
"""

import email.utils
import itertools
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from ci.errors import CiError, UsageError
from ci.gitlab import GitLabContext
from ci.gitops.message import SKIP_CI, Change
from ci.gitops.remote import Clone, GitTimeout, redact
from ci.gitops.tags import looks_like_commit
from ci.gitops.values import ValuesError, read_image

BRANCH_PREFIX = "gitops"
HOLD_BRANCH_PREFIX = "gitops-holds"
API_TIMEOUT_SECONDS = 30
PIPELINE_ID = re.compile(r"/-/pipelines/(\d+)(?:[/?#]|$)")
# Marks the merge requests this tool opens: the only ones it ever updates or closes.
LABEL = "gitops-writeback"
RETRY_AFTER_CAP_SECONDS = 60.0
DEADLINE_VARIABLE = "GITOPS_API_DEADLINE"
DEFAULT_DEADLINE_SECONDS = 300.0


@dataclass(frozen=True)
class GitLabSettings:
    """Where the API is, which project, and the token (a project access token: api and
    write_repository; the job token cannot open merge requests)."""

    url: str
    project: str  # numeric id or full path
    token: str = field(repr=False)
    deadline_seconds: float = DEFAULT_DEADLINE_SECONDS  # all API work, rate-limit waits included

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> "GitLabSettings":
        url = environ.get("CI_SERVER_URL") or environ.get("GITLAB_URL") or ""
        project = environ.get("CI_PROJECT_ID") or environ.get("CI_PROJECT_PATH") or ""
        token = environ.get("GITOPS_TOKEN") or ""
        missing = [
            name
            for name, value in (
                ("CI_SERVER_URL or GITLAB_URL", url),
                ("CI_PROJECT_ID or CI_PROJECT_PATH", project),
                ("GITOPS_TOKEN", token),
            )
            if not value
        ]
        if missing:
            raise UsageError(f"--merge-request needs {', '.join(missing)}")
        if not re.fullmatch(r"https?://[^\s/@]+(/[^\s@]*)?", url):
            raise UsageError("CI_SERVER_URL/GITLAB_URL must be an http(s) URL without user-info")
        return cls(url.rstrip("/"), project, token, _deadline(environ.get(DEADLINE_VARIABLE)))


def _deadline(value: str | None) -> float:
    if not (value or "").strip():
        return DEFAULT_DEADLINE_SECONDS
    try:
        seconds = float(value or "")
    except ValueError:
        seconds = -1.0
    if not 0 < seconds <= 86400:
        raise UsageError(f"{DEADLINE_VARIABLE} must be seconds between 1 and 86400, not {value!r}")
    return seconds


# -- pure ------------------------------------------------------------------------------------


def branch_name(env: str, tag: str) -> str:
    """``gitops/<env>/<tag>``, made a valid ref name (no ``..``, no ``.lock`` ending)."""
    safe = re.sub(r"\.{2,}", ".", tag).removesuffix(".lock").strip(".") or "tag"
    return f"{BRANCH_PREFIX}/{env}/{safe}"


def branch_for(change: Change) -> str:
    """An image change's ``gitops/<env>/<tag>``; a hold's ``gitops-holds/<env>/<hold|unhold>``
    (kept apart: it supersedes no promotion, and no promotion supersedes it)."""
    if change.action in ("hold", "unhold") or not change.tag:
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


def retry_after_seconds(value: str | None, now: datetime) -> float | None:
    """``Retry-After`` (RFC 9110 10.2.3): delay-seconds or an HTTP-date, as seconds from ``now``
    (a date in the past: 0); None when absent or neither."""
    text = (value or "").strip()
    if re.fullmatch(r"[0-9]{1,12}", text):
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def rate_limit_wait(value: str | None, now: datetime, attempt: int) -> float:
    """How long to wait after a 429: what ``Retry-After`` says (else 1, 2, 4 ... s), at most
    RETRY_AFTER_CAP_SECONDS."""
    asked = retry_after_seconds(value, now)
    wait = float(2 ** min(attempt, 10)) if asked is None else asked
    return min(RETRY_AFTER_CAP_SECONDS, wait)


def owned(mr, user_id: int | None) -> bool:
    """Whether this tool opened ``mr``: labelled LABEL and authored by the token's user."""
    author = getattr(mr, "author", None) or {}
    return LABEL in (getattr(mr, "labels", None) or []) and author.get("id") == user_id


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


# -- API edge --------------------------------------------------------------------------------


class _RateLimited(Exception):
    """HTTP 429 from the API (its Retry-After is in ``MergeRequests.retry_after``)."""


def _client(gitlab, settings: GitLabSettings, api: "MergeRequests"):
    """A python-gitlab client that leaves 429s to ``MergeRequests.call`` (python-gitlab's own
    wait parses only numeric Retry-After, uncapped) and keeps each request within the deadline."""
    import requests

    def remember(response, *args, **kwargs):
        api.retry_after = response.headers.get("Retry-After")

    class Client(gitlab.Gitlab):
        def http_request(self, *args, **kwargs):
            kwargs["obey_rate_limit"] = False
            kwargs["timeout"] = max(1.0, min(API_TIMEOUT_SECONDS, api.remaining()))
            return super().http_request(*args, **kwargs)

    session = requests.Session()
    session.hooks["response"].append(remember)
    return Client(
        settings.url, private_token=settings.token, timeout=API_TIMEOUT_SECONDS, session=session
    )


class MergeRequests:
    """The project's merge requests through python-gitlab; errors become one-line CiErrors."""

    def __init__(self, settings: GitLabSettings) -> None:
        import gitlab  # imported here: only this mode needs it

        self.settings = settings
        self._gitlab = gitlab
        self.started = time.monotonic()
        self.retry_after: str | None = None  # of the last response
        self.client = _client(gitlab, settings, self)
        self._project = None
        self._user_id: int | None = None

    def remaining(self) -> float:
        return self.settings.deadline_seconds - (time.monotonic() - self.started)

    def call(self, what: str, step: Callable):
        """``step()``; a 429 is waited out (``rate_limit_wait``) and retried within the
        deadline; any other failure is one line."""
        for attempt in itertools.count():
            try:
                return self._once(what, step)
            except _RateLimited:
                wait = rate_limit_wait(self.retry_after, datetime.now(UTC), attempt)
                if wait > self.remaining():
                    raise self._too_late(what) from None
                time.sleep(wait)
        raise AssertionError("unreachable")

    def _too_late(self, what: str) -> CiError:
        said = " ".join((self.retry_after or "none").split())[:40]
        return CiError(
            f"GitLab API: {what} rate-limited (HTTP 429, Retry-After: {said}) past the "
            f"{self.settings.deadline_seconds:g} s deadline ({DEADLINE_VARIABLE}): re-run the job"
        )

    def _once(self, what: str, step: Callable):
        import requests

        if self.remaining() <= 0:
            raise CiError(
                f"GitLab API: {what} not done within {self.settings.deadline_seconds:g} s "
                f"({DEADLINE_VARIABLE}): re-run the job"
            )
        try:
            return step()
        except self._gitlab.exceptions.GitlabAuthenticationError:
            raise CiError(
                f"GitLab API at {self.settings.url} refused GITOPS_TOKEN ({what}); it needs the "
                "api scope"
            ) from None
        except self._gitlab.exceptions.GitlabError as error:
            code = getattr(error, "response_code", None)
            if code == 429:
                raise _RateLimited() from None
            detail = redact(
                str(getattr(error, "error_message", "") or error), (self.settings.token,)
            )
            raise CiError(f"GitLab API: {what} failed (HTTP {code}): {detail}") from None
        except requests.RequestException as error:
            detail = redact(type(error).__name__, (self.settings.token,))
            raise CiError(
                f"GitLab API at {self.settings.url} unreachable ({what}): {detail}"
            ) from None

    @property
    def user_id(self) -> int | None:
        """The id of the token's user (a project access token's bot)."""
        if self._user_id is None:
            user = self.call("reading the token's user", lambda: self.client.http_get("/user"))
            self._user_id = user.get("id") if isinstance(user, dict) else None
        return self._user_id

    @property
    def project(self):
        if self._project is None:
            self._project = self.call(
                f"reading project {self.settings.project}",
                lambda: self.client.projects.get(self.settings.project),
            )
        return self._project

    def open_ones(self, target_branch: str) -> list:
        return self.call(
            "listing open merge requests",
            lambda: self.project.mergerequests.list(
                state="opened", target_branch=target_branch, get_all=True
            ),
        )

    def create(self, attributes: dict):
        """(merge request, True) for a new one; when another run opened the same one meanwhile
        (HTTP 409), (that one, False)."""
        try:
            created = self.call(
                "creating the merge request",
                lambda: self.project.mergerequests.create(attributes),
            )
            return created, True
        except CiError as error:
            if "(HTTP 409)" not in str(error):
                raise
        for mr in self.open_ones(attributes["target_branch"]):
            if mr.source_branch == attributes["source_branch"]:
                return mr, False
        raise CiError("GitLab API: the merge request was opened and closed meanwhile: re-run")

    def verification(self, pipeline: int, env: str) -> str | None:
        """The state of the newest ``verify-<env>`` job of a pipeline (None when unknown)."""
        try:
            jobs = self.call(
                "reading the build pipeline's jobs",
                lambda: self.project.pipelines.get(pipeline, lazy=True).jobs.list(get_all=True),
            )
        except CiError:
            return None
        found = [job for job in jobs if job.name == f"verify-{env}"]
        if not found:
            return None
        job = max(found, key=lambda j: j.id)
        return f"`verify-{env}` {job.status} in pipeline #{pipeline} ({job.web_url})"


@dataclass
class Opened:
    url: str
    state: str  # opened | updated | unchanged
    branch: str
    closed: list[str]


def open_merge_request(
    api: MergeRequests,
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
    api: MergeRequests, ours: list, target_branch: str, branch: str, title: str, body: str
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
    api = MergeRequests(settings)

    def publish(clone: Clone, tip: str, commit: str, change: Change) -> tuple[str, str]:
        progress = Progress(branch_for(change))
        try:
            return _publish(api, context, target_branch, clone, tip, commit, change, progress)
        except (KeyboardInterrupt, GitTimeout) as error:
            raise _cut_short(clone, progress, error) from None

    return publish


def _publish(
    api: MergeRequests,
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
