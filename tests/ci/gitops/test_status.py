"""``ci.gitops.status``: the table ``python -m ci status`` prints, from rows (pure): aligned
columns, the hold and the source commit of each environment, an unreadable one's problem in its
row; the record files (verdicts, overrides, rejections) of each row, in lines under the table only
when there is something to say, and in the JSON rows. Collected from a real remote:
tests/ci/commands/test_status.py."""

import re
from dataclasses import replace

from ci.gitops.holds import Hold
from ci.gitops.rejections import REJECTED_FILE, Rejection, format_rejections
from ci.gitops.status import EnvStatus, _with_records, as_dicts, notes, table
from ci.gitops.values import ValuesError
from ci.gitops.verdicts import Outcome, Verdict, format_verdicts

DEV = EnvStatus(
    env="dev",
    tag="1a2b3c4d",
    repository="registry.example/shop",
    set_at="2026-01-02T03:04:05+00:00",
    set_by="alice <alice@example.com>",
    commit="c" * 40,
    source_commit="1a2b3c4d" + "e" * 32,
    source_subject="feature 8",
)
PRODUCTION = EnvStatus(
    env="production",
    tag=None,
    repository=None,
    set_at=None,
    set_by=None,
    commit=None,
    source_commit=None,
    source_subject=None,
    hold=Hold("production", "bob", "2026-01-01T00:00:00Z", "freeze"),
    problem="gitops/production/values.yaml: not valid YAML",
)


def test_the_table_aligns_every_column_but_the_last() -> None:
    lines = table([DEV, PRODUCTION]).splitlines()
    assert [re.split(r"\s{2,}", line) for line in lines] == [
        ["ENVIRONMENT", "TAG", "SET AT", "SET BY", "HOLD", "SOURCE COMMIT"],
        ["dev", "1a2b3c4d", DEV.set_at, DEV.set_by, "-", "1a2b3c4d feature 8"],
        [
            "production",
            "-",
            "-",
            "-",
            "held by bob since 2026-01-01T00:00:00Z: freeze",
            "error: gitops/production/values.yaml: not valid YAML",
        ],
    ]
    starts = {line.index(line.split()[1]) for line in lines[:2]}
    assert len(starts) == 1  # the second column starts at the same place on every line
    assert all(line == line.rstrip() for line in lines)


def test_the_json_rows_carry_every_field() -> None:
    (row,) = as_dicts([PRODUCTION])
    hold = {key: row["hold"][key] for key in ("env", "by", "since", "reason")}
    assert hold == {
        "env": "production",
        "by": "bob",
        "since": "2026-01-01T00:00:00Z",
        "reason": "freeze",
    }
    assert row["problem"] == PRODUCTION.problem


# --- the record files -----------------------------------------------------------------------------

DIGEST = "sha256:" + "1" * 64
ROW = EnvStatus("dev", "abc1234", "r/shop", "t", "ann", "c" * 40, None, None, digest=DIGEST)
VERDICT = Verdict(
    "dev", "abc1234", DIGEST, Outcome.PASSED, 80, 0.0, 0.1, "2026-01-02T03:00:00Z",
    "2026-01-02T03:05:00Z",
)  # fmt: skip
REJECTED = Rejection("abc1234", None, "leaks", "vera", "2026-01-03T00:00:00Z")


class Files:
    """What ``_with_records`` asks of the clone: a file's text at the tip (ValuesError for
    bytes that are not UTF-8, as the clone says)."""

    def __init__(self, files: dict[str, str | bytes]) -> None:
        self.files = files

    def read_file(self, commit: str, path: str) -> str | None:
        found = self.files.get(path)
        if isinstance(found, bytes):
            raise ValuesError(f"{path} is not UTF-8")
        return found


def test_nothing_to_say_adds_no_line() -> None:
    assert notes([ROW]) == []
    assert notes([]) == []
    assert len(table([ROW]).splitlines()) == 2


def test_the_lines_under_the_table() -> None:
    row = replace(
        ROW,
        verdict=VERDICT,
        overrides=(("Evidence-Override", "INC-7"), ("Freeze-Override", "hotfix")),
        rejected=(REJECTED,),
    )
    other = replace(ROW, env="prod", tag="0ld0001", digest=None, rejected=(REJECTED,))
    assert notes([row, other]) == [
        "dev: passed verification of abc1234 in dev (80 requests, error ratio 0, p95 0.1s), since"
        " 2026-01-02T03:05:00Z",
        "dev: set with Evidence-Override: INC-7",
        "dev: set with Freeze-Override: hotfix",
        f"dev: runs a rejected build: {REJECTED.describe()}",
        f"rejected: {REJECTED.describe()}",
    ]
    assert table([row, other]).splitlines()[3:] == notes([row, other])


def test_the_json_rows() -> None:
    row = replace(ROW, verdict=VERDICT, overrides=(("Freeze-Override", "hotfix"),))
    (data,) = as_dicts([replace(row, rejected=(REJECTED,))])
    assert data["verdict"]["outcome"] == "passed"
    assert data["verdict"]["since"] == VERDICT.finished
    assert data["overrides"] == [{"trailer": "Freeze-Override", "reason": "hotfix"}]
    assert data["rejected"] == [
        {"tag": "abc1234", "digest": None, "reason": "leaks", "by": "vera", "since": REJECTED.since}
    ]
    assert as_dicts([ROW])[0]["verdict"] is None


def test_the_records_of_a_row() -> None:
    files = Files(
        {
            REJECTED_FILE: format_rejections([REJECTED]),
            "gitops/dev/verdicts.yaml": format_verdicts(
                "dev", [replace(VERDICT, tag="other", digest=None), VERDICT]
            ),
        }
    )
    found = _with_records(files, "tip", ROW)
    assert (found.verdict, found.rejected, found.problem) == (VERDICT, (REJECTED,), None)
    untagged = _with_records(files, "tip", replace(ROW, tag=None))
    assert untagged.verdict is None


def test_unreadable_records_are_the_row_problem_after_its_own() -> None:
    files = Files({REJECTED_FILE: b"\xff", "gitops/dev/verdicts.yaml": "verdicts: ["})
    found = _with_records(files, "tip", replace(ROW, problem="values: bad"))
    assert found.problem.startswith(
        f"values: bad; {REJECTED_FILE} is not UTF-8; gitops/dev/verdicts.yaml: not valid YAML"
    )
    assert (found.verdict, found.rejected) == (None, ())
