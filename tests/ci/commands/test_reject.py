"""``python -m ci reject|unreject --tag TAG --reason TEXT`` against a real bare remote: the build
is written to gitops/rejected.yaml (nothing else changes: Argo CD's inputs stay as they were),
deploy and promote then refuse it in every environment with one line, whatever the flags, until
``unreject``; two operators at once; odd rejected files pushed by people."""

import pytest

from app import SERVICE_NAME
from ci.gitops.rejections import REJECTED_FILE, parse_rejections
from tests.ci.commands.writes import WHO
from tests.support.cli import start_ci
from tests.support.git_remotes import git, push_person_commit, show
from tests.support.gitlab_api import PROJECT_ID, running_gitlab

pytestmark = pytest.mark.integration
DIGEST, OTHER = "sha256:" + "a1" * 32, "sha256:" + "b2" * 32


def rejected(remote):
    try:
        return parse_rejections(show(remote.bare, REJECTED_FILE))
    except RuntimeError:
        return ()


def refusal(tag: str, reason: str, build: str | None = None) -> str:
    return (
        f"error: {build or tag} is rejected by alice <alice@example.com> since "
        f"{{since}}: {reason}: nothing pushed; `python -m ci unreject --tag {tag} --reason TEXT`"
        " allows it again\n"
    )


def test_a_rejected_build_is_refused_everywhere_until_unrejected(remote, ci):
    bad = remote.source.short(5)
    assert ci("deploy", "--repo", remote.url, "--env", "dev", "--tag", bad).returncode == 0
    result = ci("reject", "--repo", remote.url, "--tag", bad, "--reason", "eats data", env=WHO)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"reject: {SERVICE_NAME} {bad} [skip ci]: pushed ")
    assert result.stderr == "warning: dev runs it now: `python -m ci rollback --env dev`\n"
    changed = git("show", "--name-only", "--format=", "main", cwd=remote.bare).split()
    assert changed == [REJECTED_FILE]
    (entry,) = rejected(remote)
    assert (entry.tag, entry.digest, entry.reason, entry.by) == (
        bad, None, "eats data", "alice <alice@example.com>",
    )  # fmt: skip
    before = remote.tip()
    line = refusal(bad, "eats data").format(since=entry.since)
    for args in (
        ("deploy", "--env", "prod", "--tag", bad),
        ("deploy", "--env", "dev", "--tag", bad, "--force"),
        ("deploy", "--env", "prod", "--tag", bad, "--override", "freeze", "--reason", "x"),
        ("promote", "--from", "dev", "--to", "prod", "--force"),
    ):
        refused = ci(*args, "--repo", remote.url)
        assert (refused.returncode, refused.stderr) == (1, line), args
    assert remote.tip() == before

    again = ci("reject", "--repo", remote.url, "--tag", bad, "--reason", "other words")
    assert again.stdout == line.removeprefix("error: ").replace(
        ": nothing pushed; `python -m ci unreject --tag " + bad + " --reason TEXT` allows it again",
        ": nothing to do",
    )
    released = ci("unreject", "--repo", remote.url, "--tag", bad, "--reason", "fixed upstream")
    assert released.returncode == 0, released.stderr
    assert released.stdout.startswith(f"unreject: {SERVICE_NAME} {bad} [skip ci]: pushed ")
    message = git("log", "-1", "--format=%B", "main", cwd=remote.bare)
    assert "Promotion-Override: unreject " + bad + " by " in message
    assert rejected(remote) == ()
    assert ci("promote", "--repo", remote.url, "--from", "dev", "--to", "prod").returncode == 0
    gone = ci("unreject", "--repo", remote.url, "--tag", bad, "--reason", "again")
    assert gone.stdout == f"{bad} is not rejected: nothing to do\n"


def test_a_digest_is_refused_under_any_tag(remote, ci):
    bad = remote.source.short(3)
    args = ("--repo", remote.url, "--tag", bad, "--digest", DIGEST, "--reason", "bad numbers")
    assert ci("reject", *args, env=WHO).returncode == 0
    since = rejected(remote)[0].since
    renamed = ci(
        "deploy", "--repo", remote.url, "--env", "dev", "--tag", "v1.0", "--digest", DIGEST
    )
    assert renamed.returncode == 1
    assert renamed.stderr == refusal(bad, "bad numbers", f"{bad}@{DIGEST}").format(
        since=since
    ).replace("error: ", "error: v1.0 is the same build: ")
    other = ci("deploy", "--repo", remote.url, "--env", "dev", "--tag", "v1.0", "--digest", OTHER)
    assert other.returncode == 0, other.stderr


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (("reject", "--tag", "x"), "--reason is required (say why the build is rejected)"),
        (("unreject", "--tag", "x"), "--reason is required (say why the build may run again)"),
        (("reject", "--reason", "r"), "--tag is required"),
        (("reject", "--tag=-x", "--reason", "r"), "malformed image tag '-x'"),
        (("reject", "--tag", "x", "--digest", "sha256:1", "--reason", "r"), "malformed image"),
    ],
)
def test_bad_input_is_exit_2_nothing_pushed(remote, ci, args, error):
    before = remote.tip()
    result = ci(*args, "--repo", remote.url)
    assert result.returncode == 2
    assert result.stderr.startswith(f"error: {error}")
    assert remote.tip() == before


def test_two_operators_rejecting_at_once_land_one_rejection_each_time(remote):
    tag = remote.source.short(4)
    runs = [
        start_ci("reject", "--repo", remote.url, "--tag", tag, "--reason", f"by {who}",
                 env={"GITLAB_USER_LOGIN": who})
        for who in ("ann", "bob")
    ]  # fmt: skip
    outputs = [run.communicate(timeout=120) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    (entry,) = rejected(remote)
    first = next(out for out, _ in outputs if "pushed" in out)
    second = next(out for out, _ in outputs if "pushed" not in out)
    assert first.startswith(f"reject: {SERVICE_NAME} {tag} [skip ci]: pushed ")
    assert second == f"{entry.describe()}: nothing to do\n"
    other = remote.source.short(6)
    runs = [
        start_ci("reject", "--repo", remote.url, "--tag", tag_, "--reason", "x")
        for tag_ in (other, remote.source.short(7))
    ]
    assert [run.communicate(timeout=120) and run.returncode for run in runs] == [0, 0]
    assert {entry.tag for entry in rejected(remote)} == {tag, other, remote.source.short(7)}


ENTRY = "{tag: bad0001, reason: r, by: p, since: s%s}"
REFUSED = "error: bad0001 is rejected by p"
ODD_ENTRY = f"error: {REJECTED_FILE}: rejected[0]:"
ODD = [
    # (the file a person pushed, deploy's exit code, its stderr's start)
    ("rejected:\r\n  - " + ENTRY % "" + "\r\n", 1, REFUSED),  # CRLF
    ('{"rejected": [{"tag": "bad0001", "reason": "r", "by": "p", "since": "s"}]}', 1, REFUSED),
    (b"rejected: [] # caf\xe9\n", 2, f"error: {REJECTED_FILE} is not UTF-8 (byte 18: 0xe9)"),
    ("rejected:\n  - " + ENTRY % ", '': x", 2, f"{ODD_ENTRY} unknown key ''"),
    ("rejected:\n  - " + ENTRY % ", digets: x", 2, f"{ODD_ENTRY} unknown key 'digets'"),
    ("rejected:\n  - " + ENTRY.replace("r,", "'',") % "", 2, f"{ODD_ENTRY} 'reason' is missing"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "code", "start"), ODD)
def test_odd_rejected_files_are_read_strictly_or_refused_with_one_line(
    remote, ci, text, code, start
):
    push_person_commit(remote.bare, {REJECTED_FILE: text}, "a person edits the rejections")
    before = remote.tip()
    result = ci("deploy", "--repo", remote.url, "--env", "dev", "--tag", "bad0001")
    assert (result.returncode, result.stderr.count("\n")) == (code, 1)
    assert result.stderr.startswith(start)
    assert remote.tip() == before
    # Another build is refused only when the file cannot be read; a rollback never is.
    other = ci("deploy", "--repo", remote.url, "--env", "prod", "--tag", "good001")
    assert other.returncode == (0 if code == 1 else 2)
    assert (
        ci("rollback", "--repo", remote.url, "--env", "dev", "--to", "0.0.0-bootstrap").returncode
        == 0
    )


def test_reject_and_unreject_by_merge_request_have_branches_of_their_own(remote, ci):
    """Through the GitLab API stand-in: the branch gitops-holds/builds/<action>-<tag> (it
    supersedes no promotion), the commit without [skip ci], only gitops/rejected.yaml."""
    tag, token = remote.source.short(4), "glpat-test"
    with running_gitlab(remote.bare, token) as api:
        env = {"CI_SERVER_URL": api.base_url, "CI_PROJECT_ID": str(PROJECT_ID),
               "GITOPS_TOKEN": token, "GITOPS_MERGE_REQUEST": "true"}  # fmt: skip
        before = remote.tip()
        result = ci("reject", "--repo", remote.url, "--tag", tag, "--reason", "bad", env=env)
        assert result.returncode == 0, result.stderr
        branch = f"gitops-holds/builds/reject-{tag}"
        assert result.stdout.endswith(f"(opened, branch {branch})\n")
        assert remote.tip() == before
        assert git("log", "-1", "--format=%s", branch, cwd=remote.bare).strip() == (
            f"reject: {SERVICE_NAME} {tag}"
        )
        assert git("show", "--name-only", "--format=", branch, cwd=remote.bare).split() == [
            REJECTED_FILE
        ]
        assert [mr["source_branch"] for mr in api.merge_requests] == [branch]
