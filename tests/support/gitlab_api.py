"""A small stand-in for GitLab's REST API (v4), for the write-back by merge request.

GitLab itself cannot run here. This server answers the endpoints python-gitlab calls for
``python -m ci deploy|promote|rollback --merge-request``, with the shapes GitLab documents
(docs.gitlab.com/api/projects, /api/merge_requests, /api/notes, /api/jobs): the fields python-gitlab
and ``ci.gitops.merge_request`` read, in GitLab's names and types, and GitLab's status codes.

- ``GET  /api/v4/user``: the token's user (``USER``, a project access token's bot)
- ``GET  /api/v4/projects/:id`` (numeric id or URL-encoded path)
- ``GET  /api/v4/projects/:id/merge_requests`` (``state``, ``target_branch``, ``source_branch``;
  one page, with GitLab's ``X-Page``/``X-Total`` headers)
- ``POST /api/v4/projects/:id/merge_requests``: 201; 409 when an open merge request already has
  the same source and target branch; 422-like 400 when the source branch is not in the repository
- ``PUT  /api/v4/projects/:id/merge_requests/:iid``: title, description, ``state_event``
- ``POST /api/v4/projects/:id/merge_requests/:iid/notes``: 201
- ``GET  /api/v4/projects/:id/pipelines/:pipeline_id/jobs``: jobs a test registers
- ``GET  /api/v4/projects/:id/deployments`` (``environment``, ``status``), ``POST`` (environment,
  sha, ref, tag, status: 201), ``PUT /api/v4/projects/:id/deployments/:deployment_id`` (status;
  400 for a status GitLab does not take)
- ``GET  /api/v4/projects/:id/freeze_periods``: the deploy freezes a test sets in
  ``freeze_periods`` (GitLab's fields: id, freeze_start, freeze_end, cron_timezone, created_at,
  updated_at)
- anything else: 404 ``{"message": "404 Not Found"}``

Authentication: the ``PRIVATE-TOKEN`` header must be the configured token (else 401
``{"message": "401 Unauthorized"}``). Branch existence is read from the real bare git repository
the test pushes to, so the stand-in is fed by the real parts.

Rate limits: ``throttle(*retry_after)`` answers the next requests 429, one per value, with that
``Retry-After`` header (seconds or an HTTP-date; None: no header). ``stall(method, path)`` holds
the first matching request until ``release()`` (to cancel a job at a known step).
``open_by(person, ...)`` opens a merge request as someone else (a person's, not the bot's).

Not covered: approvals, pipelines of merge requests, merge itself, pagination past one page,
webhooks, permissions beyond the one token.
"""

import contextlib
import json
import re
import subprocess
import threading
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from app import SERVICE_NAME
from harness.network import serving_thread

PROJECT_ID = 42
USER = {
    "id": 7,
    "username": "project_42_bot",
    "name": "gitops bot token",
    "state": "active",
    "web_url": "",
}
# What a deployment created or updated through the API may be set to (GitLab's docs).
DEPLOYMENT_STATUSES = ("running", "success", "failed", "canceled")
PERSON = {"id": 3, "username": "alice", "name": "Alice", "state": "active", "web_url": ""}


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


@dataclass
class FakeGitLab:
    """The state behind the server: one project, its merge requests, notes and jobs."""

    repo: Path  # the bare repository the project's git remote is
    token: str
    path_with_namespace: str = f"acme/{SERVICE_NAME}"
    base_url: str = ""
    merge_requests: list[dict[str, Any]] = field(default_factory=list)
    notes: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    jobs: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    freeze_periods: list[dict[str, Any]] = field(default_factory=list)
    deployments: list[dict[str, Any]] = field(default_factory=list)
    requests: list[tuple[str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    throttled: list[str | None] = field(default_factory=list)
    stalled: tuple[str, str] | None = None
    arrived: threading.Event = field(default_factory=threading.Event)
    released: threading.Event = field(default_factory=threading.Event)

    def throttle(self, *retry_after: str | None) -> None:
        self.throttled.extend(retry_after)

    def stall(self, method: str, path_pattern: str) -> threading.Event:
        """Hold the first ``method`` request whose path matches until ``release()``; the event
        returned is set when it arrives."""
        self.stalled = (method, path_pattern)
        return self.arrived

    def release(self) -> None:
        self.released.set()

    def held(self, method: str, path: str) -> bool:
        """Whether this request is the one to stall (only the first match is)."""
        with self.lock:
            stalled = self.stalled
            if stalled and method == stalled[0] and re.fullmatch(stalled[1], path):
                self.stalled = None
                return True
        return False

    def open_by(self, author: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
        """Open a merge request as ``author`` (a person's, say); its source branch must exist."""
        with self.lock:
            status, mr = self._create(body, author)
        assert status == 201, mr
        return mr

    @property
    def web_url(self) -> str:
        return f"{self.base_url}/{self.path_with_namespace}"

    def project(self) -> dict[str, Any]:
        return {
            "id": PROJECT_ID,
            "name": self.path_with_namespace.rsplit("/", 1)[-1],
            "path": self.path_with_namespace.rsplit("/", 1)[-1],
            "path_with_namespace": self.path_with_namespace,
            "default_branch": "main",
            "web_url": self.web_url,
            "http_url_to_repo": f"{self.web_url}.git",
        }

    def branch_sha(self, branch: str) -> str | None:
        result = subprocess.run(
            ["git", "rev-parse", "--verify", "--quiet", f"refs/heads/{branch}"],
            cwd=self.repo,
            capture_output=True,
            text=True,
            check=False,
        )
        return result.stdout.strip() or None

    def add_freeze(self, start: str, end: str, timezone: str = "UTC") -> None:
        """A deploy freeze as Settings > CI/CD > Deploy freezes adds it."""
        self.freeze_periods.append(
            {
                "id": len(self.freeze_periods) + 1,
                "freeze_start": start,
                "freeze_end": end,
                "cron_timezone": timezone,
                "created_at": _now(),
                "updated_at": _now(),
            }
        )

    def add_job(self, pipeline_id: int, name: str, status: str) -> None:
        jobs = self.jobs.setdefault(pipeline_id, [])
        jobs.append(
            {
                "id": 1000 + sum(len(j) for j in self.jobs.values()),
                "name": name,
                "status": status,
                "stage": "deploy",
                "ref": "main",
                "web_url": f"{self.web_url}/-/jobs/{1000 + len(jobs)}",
                "pipeline": {"id": pipeline_id, "project_id": PROJECT_ID, "status": status},
            }
        )

    def open_requests(self) -> list[dict[str, Any]]:
        return [mr for mr in self.merge_requests if mr["state"] == "opened"]

    # -- the endpoints -----------------------------------------------------------------------

    def handle(self, method: str, path: str, query: dict[str, str], body: dict) -> tuple[int, Any]:
        if method == "GET" and path == "/api/v4/user":
            return 200, USER
        match = re.fullmatch(r"/api/v4/projects/([^/]+)(/.*)?", path)
        if not match:
            return 404, {"message": "404 Not Found"}
        project = urllib.parse.unquote(match[1])
        if project not in (str(PROJECT_ID), self.path_with_namespace):
            return 404, {"message": "404 Project Not Found"}
        rest = match[2] or ""
        if method == "GET" and rest == "":
            return 200, self.project()
        if rest == "/merge_requests":
            if method == "GET":
                return 200, self._list(query)
            if method == "POST":
                return self._create(body)
        if found := re.fullmatch(r"/merge_requests/(\d+)", rest):
            mr = self._find(int(found[1]))
            if mr is None:
                return 404, {"message": "404 Not found"}
            if method == "GET":
                return 200, mr
            if method == "PUT":
                return self._update(mr, body)
        if (found := re.fullmatch(r"/merge_requests/(\d+)/notes", rest)) and method == "POST":
            mr = self._find(int(found[1]))
            if mr is None:
                return 404, {"message": "404 Not found"}
            return self._note(mr, body)
        if (found := re.fullmatch(r"/pipelines/(\d+)/jobs", rest)) and method == "GET":
            if int(found[1]) not in self.jobs:
                return 404, {"message": "404 Not found"}
            return 200, list(reversed(self.jobs[int(found[1])]))  # newest first, as GitLab
        if rest == "/deployments" or rest.startswith("/deployments/"):
            return self._deployments(method, rest, query, body)
        if rest == "/freeze_periods" and method == "GET":
            return 200, self.freeze_periods
        return 404, {"message": "404 Not Found"}

    def _deployments(
        self, method: str, rest: str, query: dict[str, str], body: dict
    ) -> tuple[int, Any]:
        if method == "GET" and rest == "/deployments":
            found = [
                item
                for item in self.deployments
                if query.get("environment") in (None, item["environment"]["name"])
                and query.get("status") in (None, item["status"])
            ]
            return 200, found
        if method == "POST" and rest == "/deployments":
            missing = [
                key for key in ("environment", "sha", "ref", "tag", "status") if key not in body
            ]
            if missing:
                return 400, {"error": f"{missing[0]} is missing"}
            if body["status"] not in DEPLOYMENT_STATUSES:
                return 400, {"error": "status does not have a valid value"}
            item = {
                "id": 100 + len(self.deployments),
                "iid": len(self.deployments) + 1,
                "ref": body["ref"],
                "sha": body["sha"],
                "status": body["status"],
                "created_at": _now(),
                "updated_at": _now(),
                "user": USER,
                "deployable": None,
                "environment": {"id": 1, "name": body["environment"], "external_url": None},
            }
            self.deployments.append(item)
            return 201, item
        found = re.fullmatch(r"/deployments/(\d+)", rest)
        item = next((d for d in self.deployments if found and d["id"] == int(found[1])), None)
        if item is None:
            return 404, {"message": "404 Not found"}
        if method == "PUT":
            if body.get("status") not in DEPLOYMENT_STATUSES:
                return 400, {"error": "status does not have a valid value"}
            item.update(status=body["status"], updated_at=_now())
        return 200, item

    def _find(self, iid: int) -> dict[str, Any] | None:
        mr = next((mr for mr in self.merge_requests if mr["iid"] == iid), None)
        return self._refreshed(mr) if mr else None

    def _refreshed(self, mr: dict[str, Any]) -> dict[str, Any]:
        """An open merge request follows its source branch (GitLab updates ``sha`` on push)."""
        if mr["state"] == "opened":
            mr["sha"] = self.branch_sha(mr["source_branch"])
        return mr

    def _list(self, query: dict[str, str]) -> list[dict[str, Any]]:
        found = [self._refreshed(mr) for mr in self.merge_requests]
        for key in ("state", "target_branch", "source_branch"):
            if query.get(key) and query[key] != "all":
                found = [mr for mr in found if mr[key] == query[key]]
        return sorted(found, key=lambda mr: mr["created_at"], reverse=True)

    def _create(self, body: dict, author: dict[str, Any] = USER) -> tuple[int, Any]:
        missing = [k for k in ("source_branch", "target_branch", "title") if not body.get(k)]
        if missing:
            return 400, {"error": f"{missing[0]} is missing"}
        source, target = body["source_branch"], body["target_branch"]
        if self.branch_sha(source) is None:
            return 400, {"message": ["Source branch is invalid"]}
        if self.branch_sha(target) is None:
            return 400, {"message": ["Target branch is invalid"]}
        for mr in self.open_requests():
            if (mr["source_branch"], mr["target_branch"]) == (source, target):
                return 409, {
                    "message": [
                        "Another open merge request already exists for this source branch: "
                        f"!{mr['iid']}"
                    ]
                }
        iid = len(self.merge_requests) + 1
        now = _now()
        mr = {
            "id": 5000 + iid,
            "iid": iid,
            "project_id": PROJECT_ID,
            "title": body["title"],
            "description": body.get("description") or "",
            "state": "opened",
            "created_at": now,
            "updated_at": now,
            "closed_at": None,
            "merged_at": None,
            "target_branch": target,
            "source_branch": source,
            "source_project_id": PROJECT_ID,
            "target_project_id": PROJECT_ID,
            "author": author,
            "labels": _labels(body.get("labels")),
            "draft": False,
            "work_in_progress": False,
            "merge_status": "can_be_merged",
            "detailed_merge_status": "mergeable",
            "sha": self.branch_sha(source),
            "force_remove_source_branch": bool(body.get("remove_source_branch")),
            "references": {"short": f"!{iid}", "full": f"{self.path_with_namespace}!{iid}"},
            "web_url": f"{self.web_url}/-/merge_requests/{iid}",
        }
        self.merge_requests.append(mr)
        return 201, mr

    def _update(self, mr: dict[str, Any], body: dict) -> tuple[int, Any]:
        for key in ("title", "description", "target_branch"):
            if key in body:
                mr[key] = body[key]
        event = body.get("state_event")
        if event == "close" and mr["state"] == "opened":
            mr["state"], mr["closed_at"] = "closed", _now()
        elif event == "reopen" and mr["state"] == "closed":
            mr["state"], mr["closed_at"] = "opened", None
        mr["sha"] = self.branch_sha(mr["source_branch"])
        mr["updated_at"] = _now()
        return 200, mr

    def _note(self, mr: dict[str, Any], body: dict) -> tuple[int, Any]:
        if not body.get("body"):
            return 400, {"error": "body is missing"}
        notes = self.notes.setdefault(mr["iid"], [])
        note = {
            "id": 9000 + sum(len(n) for n in self.notes.values()),
            "type": None,
            "body": body["body"],
            "author": USER,
            "created_at": _now(),
            "updated_at": _now(),
            "system": False,
            "noteable_id": mr["id"],
            "noteable_type": "MergeRequest",
            "noteable_iid": mr["iid"],
            "project_id": PROJECT_ID,
            "resolvable": False,
            "confidential": False,
            "internal": False,
        }
        notes.append(note)
        return 201, note


def _labels(value: Any) -> list[str]:
    """GitLab takes labels as a comma-separated string or an array; it answers an array."""
    if isinstance(value, str):
        return [label.strip() for label in value.split(",") if label.strip()]
    return list(value or [])


def _handler(api: FakeGitLab) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

        def _serve(self, method: str) -> None:
            parsed = urllib.parse.urlsplit(self.path)
            query = dict(urllib.parse.parse_qsl(parsed.query))
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            if api.held(method, parsed.path):
                api.arrived.set()
                api.released.wait(timeout=60)
            headers: dict[str, str] = {}
            with api.lock:
                api.requests.append((method, parsed.path))
                if api.throttled:
                    retry_after = api.throttled.pop(0)
                    status, payload = 429, {"message": "429 Too Many Requests"}
                    headers = {"Retry-After": retry_after} if retry_after is not None else {}
                elif self.headers.get("PRIVATE-TOKEN") != api.token:
                    status, payload = 401, {"message": "401 Unauthorized"}
                else:
                    try:
                        body = json.loads(raw) if raw else {}
                    except ValueError:
                        status, payload = 400, {"error": "invalid JSON"}
                    else:
                        status, payload = api.handle(method, parsed.path, query, body)
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in headers.items():
                self.send_header(name, value)
            if isinstance(payload, list):
                self.send_header("X-Page", "1")
                self.send_header("X-Per-Page", "20")
                self.send_header("X-Total", str(len(payload)))
                self.send_header("X-Total-Pages", "1")
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            self._serve("POST")

        def do_PUT(self) -> None:
            self._serve("PUT")

    return Handler


@contextlib.contextmanager
def running_gitlab(repo: Path, token: str) -> Iterator[FakeGitLab]:
    """Serve a FakeGitLab for the bare repository ``repo`` on 127.0.0.1 and a free port."""
    api = FakeGitLab(repo=repo, token=token)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(api))
    api.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = serving_thread(server)
    thread.start()
    try:
        yield api
    finally:
        api.release()
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
