"""``ci.gitops.status``: the table ``python -m ci status`` prints, from rows (pure): aligned
columns, the hold and the source commit of each environment, an unreadable one's problem in its
row. Collected from a real remote: tests/ci/commands/test_status.py."""

import re

from ci.gitops.holds import Hold
from ci.gitops.status import EnvStatus, as_dicts, table

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
