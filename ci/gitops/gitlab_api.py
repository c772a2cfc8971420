"""The GitLab REST API as the delivery tooling uses it (python-gitlab): the settings, one call
with its errors as one line; the project's merge requests, deploy freezes and deployments.

Rate limits (HTTP 429): ``Retry-After`` is obeyed in both forms (seconds or an HTTP-date, RFC 9110
10.2.3), each wait capped at 60 s, all of it within ``GITOPS_API_DEADLINE`` seconds (default 300)
of the start: past it, one line says so.
"""

import email.utils
import itertools
import re
import time
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from ci.errors import CiError, UsageError
from ci.gitops.credentials import redact

API_TIMEOUT_SECONDS = 30
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
    def from_environ(
        cls, environ: Mapping[str, str], purpose: str = "--merge-request"
    ) -> "GitLabSettings":
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
            raise UsageError(f"{purpose} needs {', '.join(missing)}")
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


# -- API edge --------------------------------------------------------------------------------


class _RateLimited(Exception):
    """HTTP 429 from the API (its Retry-After is in ``GitLabProject.retry_after``)."""


def _client(gitlab, settings: GitLabSettings, api: "GitLabProject"):
    """A python-gitlab client that leaves 429s to ``GitLabProject.call`` (python-gitlab's own
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


class GitLabProject:
    """The project through python-gitlab (merge requests, deploy freezes, deployments); errors
    become one-line CiErrors."""

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

    def freeze_periods(self) -> list:
        """The project's deploy freezes (``GET /projects/:id/freeze_periods``), every page
        (python-gitlab has no manager for them)."""
        project = urllib.parse.quote(str(self.settings.project), safe="")
        path = f"/projects/{project}/freeze_periods"
        return self.call(
            "reading the deploy freezes", lambda: self.client.http_list(path, get_all=True)
        )

    def running_deployment(self, env: str, sha: str) -> int | None:
        """The id of a running deployment of ``sha`` to ``env`` (a retried job's), if any."""
        found = self.call(
            f"listing the running deployments of {env}",
            lambda: self.project.deployments.list(environment=env, status="running", get_all=True),
        )
        return next((item.id for item in found if item.sha == sha), None)

    def start_deployment(self, env: str, sha: str, ref: str) -> int:
        """A running deployment of commit ``sha`` of branch ``ref`` to environment ``env``."""
        attributes = {"environment": env, "sha": sha, "ref": ref, "tag": False}
        created = self.call(
            f"creating a deployment of {env}",
            lambda: self.project.deployments.create({**attributes, "status": "running"}),
        )
        return created.id

    def finish_deployment(self, deployment: int, status: str) -> None:
        """Set the deployment's status: success, failed or canceled."""
        self.call(
            f"setting deployment {deployment} to {status}",
            lambda: self.project.deployments.update(deployment, {"status": status}),
        )

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
