"""``status``: what each environment runs, since when, set by whom, built from which commit,
whether it is held. An environment whose files cannot be read shows its problem in its row; the
others are listed all the same."""

import tempfile
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from ci.gitops import history
from ci.gitops.holds import Hold
from ci.gitops.message import parse_trailers
from ci.gitops.remote import Clone
from ci.gitops.tags import values_path
from ci.gitops.values import ValuesError, read_image
from ci.gitops.writeback import Target, _require_env, environments, read_hold


@dataclass(frozen=True)
class EnvStatus:
    env: str
    tag: str | None
    repository: str | None
    set_at: str | None
    set_by: str | None
    commit: str | None
    source_commit: str | None
    source_subject: str | None
    hold: Hold | None = None
    problem: str | None = None  # why the environment's files cannot be read


def collect(target: Target, only_env: str | None = None) -> list[EnvStatus]:
    with tempfile.TemporaryDirectory(prefix="ci-gitops-") as workdir:
        clone = target.clone(Path(workdir) / "repo")
        tip = clone.clone()
        known = environments(clone, tip)
        if only_env:
            _require_env(only_env, known)
        # File histories first (they need trees), then source commits (deepened commits-only).
        rows = [_env_status(clone, tip, env) for env in ([only_env] if only_env else known)]
        return [_with_source(clone, row) for row in rows]


def _env_status(clone: Clone, tip: str, env: str) -> EnvStatus:
    path = values_path(env)
    row = EnvStatus(env, None, None, None, None, None, None, None)
    try:
        row = replace(row, hold=read_hold(clone, tip, env))
    except ValuesError as error:
        row = replace(row, problem=str(error))
    try:
        image = read_image(clone.read_file(tip, path) or "", path)
    except ValuesError as error:
        return replace(row, problem=str(error))
    entry = history.setter(clone, tip, path, image.tag)
    set_by = source = None
    if entry:
        trailers = parse_trailers(entry.message)
        set_by = trailers.get("Triggered-By") or f"{entry.author} <{entry.email}>"
        source = trailers.get("Source-Commit")
    return replace(
        row,
        tag=image.tag,
        repository=image.repository,
        set_at=entry.date if entry else None,
        set_by=set_by,
        commit=entry.commit if entry else None,
        source_commit=source or image.tag,
    )


def _with_source(clone: Clone, row: EnvStatus) -> EnvStatus:
    if row.tag is None:
        return row
    source = history.find_commit(clone, row.source_commit or "")
    subject = clone.message(source).split("\n", 1)[0] if source else None
    return replace(row, source_commit=source, source_subject=subject)


def as_dicts(rows: list[EnvStatus]) -> list[dict]:
    return [asdict(row) for row in rows]


def _held(row: EnvStatus) -> str:
    if row.hold is None:
        return "-"
    return f"held by {row.hold.by} since {row.hold.since}: {row.hold.reason}"


def _source(row: EnvStatus) -> str:
    if row.problem:
        return f"error: {row.problem}"
    if row.source_commit:
        return f"{row.source_commit[:8]} {row.source_subject}"
    return "-"


def table(rows: list[EnvStatus]) -> str:
    header = ("ENVIRONMENT", "TAG", "SET AT", "SET BY", "HOLD", "SOURCE COMMIT")
    lines = [
        (
            row.env,
            row.tag or "-",
            row.set_at or "-",
            row.set_by or "-",
            _held(row),
            _source(row),
        )
        for row in rows
    ]
    widths = [max(len(line[i]) for line in [header, *lines]) for i in range(len(header) - 1)]
    out = []
    for line in [header, *lines]:
        cells = [cell.ljust(width) for cell, width in zip(line, widths, strict=False)]
        out.append("  ".join([*cells, line[-1]]).rstrip())
    return "\n".join(out)
