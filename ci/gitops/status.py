"""``status``: what each environment runs, since when, set by whom, built from which commit,
whether it is held, its build's verification verdict, the overrides the commit that set it
recorded (``Evidence-Override``, ``Freeze-Override``, ``Promotion-Override``), and the rejected
builds. An environment whose files cannot be read shows its problem in its row; the others are
listed all the same."""

import tempfile
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from ci.gitops import history
from ci.gitops.holds import Hold
from ci.gitops.message import EVIDENCE_OVERRIDE, FREEZE_OVERRIDE, parse_trailers
from ci.gitops.promotion import OVERRIDE_TRAILER
from ci.gitops.rejections import REJECTED_FILE, Rejection, parse_rejections, rejecting
from ci.gitops.remote import Clone
from ci.gitops.tags import values_path
from ci.gitops.values import ValuesError, read_image
from ci.gitops.verdicts import Verdict, describe, latest, parse_verdicts, verdicts_path
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
    digest: str | None = None
    verdict: Verdict | None = None  # the newest verdict on the build it runs
    overrides: tuple[tuple[str, str], ...] = ()  # (trailer, reason) of the commit that set it
    rejected: tuple[Rejection, ...] = ()  # every rejected build (the same in every row)


OVERRIDES = (EVIDENCE_OVERRIDE, FREEZE_OVERRIDE, OVERRIDE_TRAILER)


def collect(target: Target, only_env: str | None = None) -> list[EnvStatus]:
    with tempfile.TemporaryDirectory(prefix="ci-gitops-") as workdir:
        clone = target.clone(Path(workdir) / "repo")
        tip = clone.clone()
        known = environments(clone, tip)
        if only_env:
            _require_env(only_env, known)
        # File histories first (they need trees), then source commits (deepened commits-only).
        rows = [_env_status(clone, tip, env) for env in ([only_env] if only_env else known)]
        rows = [_with_records(clone, tip, row) for row in rows]
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
    trailers = parse_trailers(entry.message) if entry else {}
    if entry:
        set_by = trailers.get("Triggered-By") or f"{entry.author} <{entry.email}>"
        source = trailers.get("Source-Commit")
    return replace(
        row,
        tag=image.tag,
        repository=image.repository,
        digest=image.digest,
        set_at=entry.date if entry else None,
        set_by=set_by,
        commit=entry.commit if entry else None,
        source_commit=source or image.tag,
        overrides=tuple((key, trailers[key]) for key in OVERRIDES if key in trailers),
    )


def _with_records(clone: Clone, tip: str, row: EnvStatus) -> EnvStatus:
    """The row with its build's verdict and the rejected builds (a problem when unreadable)."""
    problems = [row.problem] if row.problem else []
    rejected: tuple[Rejection, ...] = ()
    verdict = None
    try:
        rejected = parse_rejections(clone.read_file(tip, REJECTED_FILE))
    except ValuesError as error:
        problems.append(str(error))
    try:
        path = verdicts_path(row.env)
        verdicts = parse_verdicts(clone.read_file(tip, path) or "", path)
        verdict = latest(verdicts, row.tag, row.digest) if row.tag else None
    except ValuesError as error:
        problems.append(str(error))
    return replace(row, rejected=rejected, verdict=verdict, problem="; ".join(problems) or None)


def _with_source(clone: Clone, row: EnvStatus) -> EnvStatus:
    if row.tag is None:
        return row
    source = history.find_commit(clone, row.source_commit or "")
    subject = clone.message(source).split("\n", 1)[0] if source else None
    return replace(row, source_commit=source, source_subject=subject)


def as_dicts(rows: list[EnvStatus]) -> list[dict]:
    """The rows as JSON data: the verdict with ``since`` (when it was reached), the overrides as
    ``{trailer, reason}``."""
    found = []
    for row in rows:
        data = asdict(row)
        if row.verdict is not None:
            data["verdict"]["since"] = row.verdict.finished
        data["overrides"] = [{"trailer": key, "reason": value} for key, value in row.overrides]
        data["rejected"] = [asdict(found) for found in row.rejected]
        found.append(data)
    return found


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
    return "\n".join(out + notes(rows))


def notes(rows: list[EnvStatus]) -> list[str]:
    """The lines under the table, only when there is something to say: each environment's
    verdict, overrides and rejected build, then the rejected builds."""
    lines = []
    for row in rows:
        if row.verdict is not None:
            lines.append(f"{row.env}: {describe(row.verdict)}, since {row.verdict.finished}")
        lines += [f"{row.env}: set with {key}: {value}" for key, value in row.overrides]
        found = rejecting(row.rejected, row.tag, row.digest) if row.tag else None
        if found is not None:
            lines.append(f"{row.env}: runs a rejected build: {found.describe()}")
    rejected = rows[0].rejected if rows else ()
    lines += [f"rejected: {found.describe()}" for found in rejected]
    return lines
