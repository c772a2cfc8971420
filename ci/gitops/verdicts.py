"""Verification verdicts: what ``python -m ci verify`` concluded about one build in one
environment, from the service's own metrics (``ci.slo``), as the write-back records it."""

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import StrEnum

from ci.gitops.holds import load_yaml, quoted
from ci.gitops.tags import DIGEST_PATTERN, TAG_PATTERN
from ci.gitops.values import ValuesError


class Outcome(StrEnum):
    PASSED = "passed"
    FAILED = "failed"  # a threshold broken: the build is rolled back and rejected
    INCONCLUSIVE = "inconclusive"  # too few requests: not verified, nothing rolled back


@dataclass(frozen=True)
class Verdict:
    """One verification: the build (``tag``, ``digest``), its numbers over the window from
    ``started`` to ``finished`` (ISO 8601, UTC), and ``reason``: the threshold broken, or why it
    was inconclusive ("" when it passed)."""

    env: str
    tag: str
    digest: str | None
    outcome: Outcome
    requests: int
    error_ratio: float | None  # None: no requests
    latency_p95: float | None  # seconds; None: no requests
    started: str
    finished: str
    reason: str = ""


# -- the record: gitops/<env>/verdicts.yaml ---------------------------------------------------
#
# One file per environment, beside its values file. Argo CD never reads it: the Application's
# valueFiles name only values.<env>.yaml and gitops/<env>/values.yaml, and the ApplicationSet's
# git files generator matches only gitops/*/values.yaml. Newest first (by ``finished``), one
# verdict per build (its digest, else its tag: the newest), at most MAX_VERDICTS.

VERDICTS_FILE = "verdicts.yaml"
MAX_VERDICTS = 20
REQUIRED = ("tag", "outcome", "requests", "started", "finished")
OPTIONAL = ("digest", "error_ratio", "latency_p95", "reason")


def verdicts_path(env: str) -> str:
    return f"gitops/{env}/{VERDICTS_FILE}"


def build_key(tag: str, digest: str | None) -> str:
    """What a verdict is kept under: the build's digest, else its tag."""
    return digest or tag


def key_of(verdict: Verdict) -> str:
    return build_key(verdict.tag, verdict.digest)


def parse_time(text: str) -> datetime:
    """An ISO 8601 time (``2026-01-02T03:04:05Z``; no zone: UTC) as an aware datetime in UTC;
    ValueError otherwise."""
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def normalized(verdict: Verdict) -> Verdict:
    """``verdict`` as the file keeps it: numbers that are not finite are unknown (None), the
    reason on one line; ValueError when a time is not ISO 8601 or the counts are negative."""
    for moment in (verdict.started, verdict.finished):
        parse_time(moment)
    if verdict.requests < 0:
        raise ValueError(f"requests is {verdict.requests}")
    return replace(
        verdict,
        outcome=Outcome(verdict.outcome),
        error_ratio=_finite(verdict.error_ratio),
        latency_p95=_finite(verdict.latency_p95),
        reason=" ".join(verdict.reason.split()),
    )


def _finite(value: float | None) -> float | None:
    return float(value) if value is not None and math.isfinite(value) else None


def latest(verdicts: Iterable[Verdict], tag: str, digest: str | None) -> Verdict | None:
    """The recorded verdict of the build ``tag``/``digest`` (by its key), or None."""
    wanted = build_key(tag, digest)
    return next((verdict for verdict in verdicts if key_of(verdict) == wanted), None)


def with_verdict(verdicts: Iterable[Verdict], new: Verdict) -> tuple[Verdict, ...]:
    """The record with ``new`` in it: replacing its build's older verdict, newest first, bounded."""
    kept = [verdict for verdict in verdicts if key_of(verdict) != key_of(new)]
    ordered = sorted([new, *kept], key=lambda verdict: parse_time(verdict.finished), reverse=True)
    return tuple(ordered[:MAX_VERDICTS])


def numbers(verdict: Verdict) -> str:
    """``812 requests, error ratio 0.0123, p95 0.412s`` (what ``verify`` measured)."""
    said = [f"{verdict.requests} request{'' if verdict.requests == 1 else 's'}"]
    if verdict.error_ratio is not None:
        said.append(f"error ratio {verdict.error_ratio:.4g}")
    if verdict.latency_p95 is not None:
        said.append(f"p95 {verdict.latency_p95:.3g}s")
    return ", ".join(said)


def describe(verdict: Verdict) -> str:
    """``failed verification of abc1234 in dev: <reason> (812 requests, ...)``."""
    why = f": {verdict.reason}" if verdict.reason else ""
    what = f"{verdict.outcome} verification of {verdict.tag} in {verdict.env}"
    return f"{what}{why} ({numbers(verdict)})"


def parse_verdicts(text: str, path: str) -> tuple[Verdict, ...]:
    """The verdicts recorded in ``text`` (the file at ``path``, ``gitops/<env>/verdicts.yaml``);
    ValuesError naming the file and entry when it is malformed. Empty: none."""
    data = load_yaml(text, path)
    if data is None:
        return ()
    if not isinstance(data, dict) or set(data) != {"verdicts"}:
        raise ValuesError(f"{path}: expected a mapping with one key, 'verdicts'")
    entries = [] if data["verdicts"] is None else data["verdicts"]
    if not isinstance(entries, list):
        raise ValuesError(f"{path}: 'verdicts' must be a list")
    env = path.split("/")[1] if path.count("/") == 2 else path
    return tuple(_entry(item, env, f"{path}: verdicts[{i}]") for i, item in enumerate(entries))


def _entry(item: object, env: str, where: str) -> Verdict:
    fields = entry_fields(item, REQUIRED, OPTIONAL, where)
    tag, digest = fields["tag"], fields.get("digest")
    if not isinstance(tag, str) or not TAG_PATTERN.fullmatch(tag):
        raise ValuesError(f"{where}: 'tag' must be an image tag, not {tag!r}")
    if digest is not None and (not isinstance(digest, str) or not DIGEST_PATTERN.fullmatch(digest)):
        raise ValuesError(f"{where}: 'digest' must be sha256: and 64 hex digits, not {digest!r}")
    if fields["outcome"] not in [str(outcome) for outcome in Outcome]:
        raise ValuesError(f"{where}: 'outcome' must be one of {', '.join(Outcome)}")
    requests = fields["requests"]
    if not isinstance(requests, int) or isinstance(requests, bool) or requests < 0:
        raise ValuesError(f"{where}: 'requests' must be a whole number, not {requests!r}")
    return Verdict(
        env=env,
        tag=tag,
        digest=digest,
        outcome=Outcome(fields["outcome"]),
        requests=requests,
        error_ratio=_ratio(fields.get("error_ratio"), f"{where}: 'error_ratio'"),
        latency_p95=_ratio(fields.get("latency_p95"), f"{where}: 'latency_p95'"),
        started=_time(fields["started"], f"{where}: 'started'"),
        finished=_time(fields["finished"], f"{where}: 'finished'"),
        reason=_text(fields.get("reason") or "", f"{where}: 'reason'"),
    )


def entry_fields(
    item: object, required: tuple[str, ...], optional: tuple[str, ...], where: str
) -> dict:
    """The keys of one entry of a record file: a mapping with every ``required`` key (not null,
    not empty) and no key but those and ``optional``; ValuesError naming what is wrong."""
    if not isinstance(item, dict):
        raise ValuesError(f"{where}: expected a mapping with {', '.join(required)}")
    unknown = sorted(str(key) for key in item if key not in (*required, *optional))
    if unknown:
        raise ValuesError(f"{where}: unknown key {unknown[0]!r}")
    missing = [key for key in required if item.get(key) in (None, "")]
    if missing:
        raise ValuesError(f"{where}: {missing[0]!r} is missing")
    return item


def _ratio(value: object, where: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValuesError(f"{where} must be a number or null, not {value!r}")
    return float(value)


def _time(value: object, where: str) -> str:
    text = _text(value, where)
    try:
        parse_time(text)
    except ValueError:
        raise ValuesError(f"{where} must be an ISO 8601 time, not {text!r}") from None
    return text


def _text(value: object, where: str) -> str:
    if not isinstance(value, str):
        raise ValuesError(f"{where} must be a string, not {value!r}")
    return " ".join(value.split())


def format_verdicts(env: str, verdicts: Iterable[Verdict]) -> str:
    """The file's text: a comment saying what it is, then the verdicts (JSON scalars are YAML)."""
    lines = [
        f"# Verification verdicts of {env} (`python -m ci verify`): newest first, one per build",
        f"# (by digest, else tag), the last {MAX_VERDICTS}. Written by the write-back; read by",
        "# `promote`, `check` and `status`. Argo CD does not read this file.",
        "verdicts:",
    ]
    for verdict in verdicts:
        lines += [
            f"  - tag: {quoted(verdict.tag)}",
            f"    digest: {quoted(verdict.digest)}",
            f"    outcome: {quoted(str(verdict.outcome))}",
            f"    requests: {verdict.requests}",
            f"    error_ratio: {json.dumps(_finite(verdict.error_ratio))}",
            f"    latency_p95: {json.dumps(_finite(verdict.latency_p95))}",
            f"    started: {quoted(verdict.started)}",
            f"    finished: {quoted(verdict.finished)}",
            f"    reason: {quoted(' '.join(verdict.reason.split()))}",
        ]
    if lines[-1] == "verdicts:":
        lines[-1] = "verdicts: []"
    return "\n".join(lines) + "\n"
