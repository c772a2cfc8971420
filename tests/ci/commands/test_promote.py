"""``python -m ci promote --from ENV --to ENV`` against a real bare remote: the image (tag,
pipeline link, digest) copied between environments, and bad input."""

import pytest

from app import SERVICE_NAME
from tests.ci.commands.writes import DEV, PROD, A, image, must_deploy, pipeline_env, pipeline_of
from tests.support.cli import run_ci
from tests.support.git_remotes import show

pytestmark = pytest.mark.integration


def test_promote_copies_the_tag_between_environments(remote):
    tag = remote.source.short(6)
    assert run_ci("deploy", "--repo", remote.url, "--env", "dev", "--tag", tag).returncode == 0
    result = run_ci("promote", "--repo", remote.url, "--from", "dev", "--to", "prod")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"promote(prod): {SERVICE_NAME} {tag} from dev [skip ci]")
    assert remote.tag(PROD) == tag
    again = run_ci("promote", "--repo", remote.url, "--from", "dev", "--to", "prod")
    assert again.stdout == f"prod already runs {SERVICE_NAME} {tag}: nothing to do\n"


def test_promote_copies_the_pipeline_url_or_its_absence(remote):
    first, second = remote.source.short(1), remote.source.short(2)
    assert (
        run_ci(
            "deploy",
            "--repo",
            remote.url,
            "--env",
            "dev",
            "--tag",
            first,
            env=pipeline_env(1, remote.source.commits[1]),
        ).returncode
        == 0
    )
    promoted = run_ci("promote", "--repo", remote.url, "--from", "dev", "--to", "prod")
    assert promoted.returncode == 0, promoted.stderr
    assert (remote.tag(PROD), pipeline_of(remote, PROD)) == (
        first,
        pipeline_env(1)["CI_PIPELINE_URL"],
    )

    assert run_ci("deploy", "--repo", remote.url, "--env", "dev", "--tag", second).returncode == 0
    promoted = run_ci("promote", "--repo", remote.url, "--from", "dev", "--to", "prod")
    assert promoted.returncode == 0, promoted.stderr
    assert (remote.tag(PROD), pipeline_of(remote, PROD)) == (second, None)
    assert show(remote.bare, PROD) == show(remote.bare, DEV).replace("dev", "prod")


def test_promote_copies_the_digest_or_its_absence(remote):
    first, second = remote.source.short(1), remote.source.short(2)
    must_deploy(remote, first, "--digest", A)
    promoted = run_ci("promote", "--repo", remote.url, "--from", "dev", "--to", "prod")
    assert promoted.returncode == 0, promoted.stderr
    assert (image(remote, PROD).tag, image(remote, PROD).digest) == (first, A)

    must_deploy(remote, second)
    promoted = run_ci("promote", "--repo", remote.url, "--from", "dev", "--to", "prod")
    assert promoted.returncode == 0, promoted.stderr
    assert (image(remote, PROD).tag, image(remote, PROD).digest) == (second, None)
    assert show(remote.bare, PROD) == show(remote.bare, DEV).replace("dev", "prod")


@pytest.mark.parametrize(
    ("command", "message"),
    [
        (["promote", "--from", "dev", "--to", "dev"], "--from and --to name the same environment"),
        (
            ["promote", "--from", "qa", "--to", "dev"],
            "unknown environment 'qa' for --from (known: dev, prod)",
        ),
        (["promote", "--to", "dev"], "--from is required"),
    ],
)
def test_bad_input_exits_2_with_one_line(remote, command, message):
    result = run_ci(*command, "--repo", remote.url)
    assert result.returncode == 2
    assert result.stderr == f"error: {message}\n"
