"""``ci.gitops.records``: the record files as ``check`` reads them from a real git repository:
the rejections in force are the target branch's (an MR that deletes or empties the file gets
around nothing, and what it releases is a finding); a record file an MR leaves unreadable is a
violation; a passed verdict written by hand is a finding; the evidence of a source environment
is read from the target branch."""

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from ci.gitops.checkout import Checkout
from ci.gitops.promotion import parse_policy
from ci.gitops.records import evidence, read_records
from ci.gitops.rejections import REJECTED_FILE, Rejection, format_rejections
from ci.gitops.verdicts import Outcome, Verdict, format_verdicts
from tests.support.git_remotes import git

VERDICTS = "gitops/dev/verdicts.yaml"
DIGEST = "sha256:" + "1" * 64
BAD = Rejection("bad", None, "failed verification", "vera", "2026-01-02T00:00:00Z")
WORSE = Rejection("worse", DIGEST, "by hand", "ann", "2026-01-03T00:00:00Z")
PASSED = Verdict(
    "dev", "good", None, Outcome.PASSED, 80, 0.0, 0.1, "2026-01-02T02:00:00Z",
    "2026-01-02T02:05:00Z",
)  # fmt: skip
FAILED = replace(PASSED, tag="bad", outcome=Outcome.FAILED, reason="p95")
RULE = "{window: 5m, max_error_ratio: 0.01, max_latency_p95: 0.5, min_requests: 50}"
POLICY = parse_policy(f"order: [dev, prod]\nverify:\n  dev: {RULE}\nsoak:\n  dev: 30m\n")
NOW = datetime(2026, 1, 2, 3, 0, tzinfo=UTC)


class Repo:
    """A git repository: ``target`` and ``merged`` commits of files written as given."""

    def __init__(self, path) -> None:
        self.path = path
        path.mkdir(parents=True, exist_ok=True)
        git("init", "--quiet", "--initial-branch", "main", cwd=path)

    def commit(self, files: dict[str, str | bytes | None]) -> str:
        for rel, text in files.items():
            target = self.path / rel
            if text is None:
                target.unlink(missing_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(text if isinstance(text, bytes) else text.encode())
        git("add", "--all", cwd=self.path)
        git("commit", "--quiet", "--allow-empty", "-m", "change", cwd=self.path)
        return git("rev-parse", "HEAD", cwd=self.path).strip()


def records(tmp_path, before: dict, after: dict):
    repo = Repo(tmp_path)
    target = repo.commit({"README": "x\n", **before})
    merged = repo.commit(after)
    return read_records(Checkout(tmp_path), target, merged)


BOTH = {REJECTED_FILE: format_rejections([BAD, WORSE])}
NEW = Rejection("new", None, "r", "b", "s")
RELEASED = "gitops/rejected.yaml: this merge request releases a rejection: "


@pytest.mark.parametrize(
    ("after", "loosened"),
    [
        ({}, []),
        ({REJECTED_FILE: format_rejections([NEW, BAD, WORSE])}, []),
        ({REJECTED_FILE: format_rejections([WORSE])}, [BAD]),
        ({REJECTED_FILE: format_rejections([])}, [BAD, WORSE]),
        ({REJECTED_FILE: None}, [BAD, WORSE]),  # deleted
        ({REJECTED_FILE: "# nothing\n"}, [BAD, WORSE]),
    ],
)  # fmt: skip
def test_the_target_rejections_count_and_what_an_mr_releases_is_found(
    tmp_path, after, loosened
) -> None:
    found = records(tmp_path, BOTH, after)
    assert found.rejections == (BAD, WORSE)
    assert found.violations == ()
    assert [v.line() for v in found.loosened] == [RELEASED + r.describe() for r in loosened]


@pytest.mark.parametrize("odd", ["rejected: [", b"\xff\xfe", '{"rejected": [{"tag": "x"}]}'])
def test_an_unreadable_rejected_file_after_the_merge_is_a_violation(tmp_path, odd) -> None:
    for before in (BOTH, {REJECTED_FILE: odd}):
        found = records(tmp_path / str(len(before[REJECTED_FILE])), before, {REJECTED_FILE: odd})
        assert [v.line().split(": ")[:2] for v in found.violations] == [
            [REJECTED_FILE, "unreadable after this merge request"]
        ]
        assert found.loosened == ()  # what it releases cannot be told: the violation says why


@pytest.mark.parametrize("odd", ["rejected: [", b"\xff\xfe"])
def test_an_mr_may_fix_an_unreadable_file_with_an_override(tmp_path, odd) -> None:
    found = records(tmp_path, {REJECTED_FILE: odd}, BOTH)
    assert found.rejections == (BAD, WORSE)  # what it says is in force at once
    assert found.violations == ()
    assert [v.line().split(": ")[:2] for v in found.loosened] == [
        [REJECTED_FILE, "this merge request replaces it, unreadable on the target branch"]
    ]


@pytest.mark.parametrize(
    ("before", "after", "found"),
    [
        ([], [PASSED], ["good"]),
        ([], [FAILED], []),
        ([PASSED], [FAILED, PASSED], []),
        ([PASSED], [replace(PASSED, requests=9000)], ["good"]),  # changed by hand
        ([PASSED], [], []),
        ("verdicts: [", [PASSED], ["good"]),  # a fixed file: what it says now is new
    ],
)
def test_a_passed_verdict_written_by_an_mr_is_a_finding(tmp_path, before, after, found) -> None:
    old = before if isinstance(before, str) else format_verdicts("dev", before)
    result = records(tmp_path, {VERDICTS: old}, {VERDICTS: format_verdicts("dev", after)})
    assert [v.line() for v in result.loosened] == [
        f"{VERDICTS}: this merge request records a passed verification of {tag}" for tag in found
    ]
    assert result.violations == ()


def test_a_verdicts_file_an_mr_leaves_unreadable_is_a_violation(tmp_path) -> None:
    result = records(tmp_path, {VERDICTS: format_verdicts("dev", [PASSED])}, {VERDICTS: b"\xff"})
    assert [v.line() for v in result.violations] == [
        f"{VERDICTS}: unreadable after this merge request: {VERDICTS} is not UTF-8 (byte 0)"
    ]


def proof(tmp_path, files: dict, policy=POLICY, set_at=None):
    repo = Repo(tmp_path)
    target = repo.commit({"README": "x\n", **files})
    return evidence(Checkout(tmp_path), target, policy, set_at or (lambda env, image: None), NOW)


def test_the_evidence_is_the_target_branch_verdicts(tmp_path) -> None:
    soaking = replace(PASSED, started="2026-01-02T02:48:00Z")
    missing = proof(tmp_path, {VERDICTS: format_verdicts("dev", [soaking])})
    assert missing("dev", "registry.example/shop:good") == (
        "dev has run good verified for 12m of its 30m soak: 18m left"
    )
    assert missing("dev", "registry.example/shop:other") == (
        "dev has no verdict on other: its policy asks for a passed verification"
    )
    assert missing("prod", "registry.example/shop:good") is None  # no rules for prod


def test_unreadable_target_verdicts_are_said(tmp_path) -> None:
    missing = proof(tmp_path, {VERDICTS: "verdicts: ["})
    assert missing("dev", "x:good").startswith(
        f"dev's verdicts cannot be read on the target branch: {VERDICTS}: not valid YAML"
    )


def test_without_a_verify_rule_the_soak_counts_from_the_setting_commit(tmp_path) -> None:
    asked = []

    def set_at(env: str, image: str) -> datetime:
        asked.append((env, image))
        return datetime(2026, 1, 2, 2, 50, tzinfo=UTC)

    policy = parse_policy("order: [dev, prod]\nsoak:\n  dev: 30m\n")
    missing = proof(tmp_path, {}, policy, set_at)
    assert missing("dev", f"r.example/shop@{DIGEST}") == (
        f"dev has run r.example/shop@{DIGEST} for 10m of its 30m soak: 20m left"
    )
    assert asked == [("dev", f"r.example/shop@{DIGEST}")]
