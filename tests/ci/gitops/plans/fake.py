"""An in-memory branch for the planners (``ci.gitops.plans.model.Repository``).

A fake at a boundary, on purpose: planners are pure functions of what the protocol returns, so a
dict of commit -> files answers every question they ask. The clone's side of the protocol (real
git, shallow history, deepening) is tested against real repositories in tests/ci/gitops/.
"""

from collections.abc import Iterator
from dataclasses import dataclass, field

from ci.gitlab import GitLabContext
from ci.gitops.history import Relation, TagChange
from ci.gitops.holds import Hold, format_hold, hold_path
from ci.gitops.plans.model import Request, State
from ci.gitops.remote import LogEntry
from ci.gitops.tags import values_path
from ci.gitops.values import Image, ValuesError, read_image

NOW = "2026-01-02T03:04:05Z"
REPOSITORY = "registry.example/acme/shop"
PIPELINE = "https://gitlab.example/acme/shop/-/pipelines/7"
# Tags that look like commits (the order relation is git ancestry of such tags).
A, B, C, D = "aaaaaaa", "bbbbbbb", "ccccccc", "ddddddd"
DIGEST = "sha256:" + "1" * 64
OTHER_DIGEST = "sha256:" + "2" * 64


def values(
    tag: str | None,
    repository: str | None = REPOSITORY,
    digest: str | None = None,
    url: str | None = None,
) -> str:
    lines = ["# owned by the pipeline", "image:"]
    if repository is not None:
        lines.append(f"  repository: {repository}")
    if tag is not None:
        lines.append(f'  tag: "{tag}"')
    if digest is not None:
        lines.append(f"  digest: {digest}")
    if url is not None:
        lines.append(f"  pipelineUrl: {url}")
    return "\n".join(lines) + "\n"


def held(env: str, reason: str = "broken", by: str = "ann", rolled_back_from: str | None = None):
    """The files of a hold on ``env``."""
    hold = Hold(env, by, "2026-01-01T00:00:00Z", reason, rolled_back_from)
    return {hold_path(env): format_hold(hold)}


@dataclass
class Commit:
    files: dict[str, str | bytes]
    message: str = "change"
    id: str = ""


@dataclass
class FakeBranch:
    """First-parent commits, oldest first; ``relations[(candidate, deployed)]`` is their git
    ancestry ("unknown" when not given)."""

    commits: list[Commit]
    relations: dict[tuple[str, str | None], str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for index, commit in enumerate(self.commits):
            commit.id = commit.id or f"{index + 1:040x}"
        self.by_id = {commit.id: commit for commit in self.commits}

    @property
    def tip(self) -> str:
        return self.commits[-1].id

    def read_blob(self, commit: str, path: str) -> tuple[str, bytes] | None:
        found = self.by_id[commit].files.get(path)
        if found is None:
            return None
        return "100644", found if isinstance(found, bytes) else found.encode()

    def read_file(self, commit: str, path: str) -> str | None:
        found = self.read_blob(commit, path)
        if found is None:
            return None
        try:
            return found[1].decode("utf-8")
        except UnicodeDecodeError:
            raise ValuesError(f"{path}: not UTF-8 text") from None

    def list_paths(self, commit: str, prefix: str) -> list[str]:
        return sorted(path for path in self.by_id[commit].files if path.startswith(prefix))

    def history(self, tip: str, path: str) -> Iterator[TagChange]:
        chain = self.commits[: self.commits.index(self.by_id[tip]) + 1]
        for index in range(len(chain) - 1, -1, -1):
            text = chain[index].files.get(path)
            if index and chain[index - 1].files.get(path) == text:
                continue
            entry = LogEntry(chain[index].id, "bot", "bot@x", NOW, chain[index].message)
            image = read_image(text, path) if isinstance(text, str) else Image(None, None)
            yield TagChange(entry, image.tag, image.pipeline_url, image.digest, image.reference)

    def relation(self, candidate: str, deployed: str | None) -> Relation:
        kind = self.relations.get((candidate, deployed), "unknown")
        if kind == "unknown":
            return Relation(kind)
        return Relation(kind, candidate + "0" * 33, (deployed or "") + "0" * 33)


def branch(
    *steps: dict[str, str | bytes | None],
    messages: tuple[str, ...] = (),
    relations: dict[tuple[str, str | None], str] | None = None,
) -> FakeBranch:
    """Commits whose files are each step laid over the one before (a value None deletes)."""
    files: dict[str, str | bytes] = {}
    commits = []
    for index, step in enumerate(steps):
        laid = {**files, **step}
        files = {path: text for path, text in laid.items() if text is not None}
        message = messages[index] if index < len(messages) else f"change {index}"
        commits.append(Commit(files, message))
    return FakeBranch(commits, relations or {})


def envs(**tags: str | None) -> dict[str, str]:
    """``values.yaml`` of each environment, with the tag given."""
    return {values_path(env): values(tag) for env, tag in tags.items()}


def state(repo: FakeBranch, context: GitLabContext | None = None, verify=None) -> State:
    return State(repo, repo.tip, context or GitLabContext(), NOW, verify)


def request(action: str, env: str = "dev", **fields) -> Request:
    return Request(action=action, env=env, **fields)
