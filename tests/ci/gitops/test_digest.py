"""image.digest travels with the tag: deploy writes it, promote copies it, rollback restores it."""

import pytest

from app import SERVICE_NAME
from ci.gitops.values import read_image
from tests.support.cli import run_ci
from tests.support.git_remotes import git, show

pytestmark = pytest.mark.integration

DEV = "gitops/dev/values.yaml"
PROD = "gitops/prod/values.yaml"
A, B = "sha256:" + "a1" * 32, "sha256:" + "b2" * 32


def image(remote, path: str = DEV):
    return read_image(show(remote.bare, path))


def deploy(remote, tag: str, *args: str, env: dict[str, str] | None = None):
    result = run_ci("deploy", "--repo", remote.url, "--env", "dev", "--tag", tag, *args, env=env)
    assert result.returncode == 0, result.stderr
    return result


def test_deploy_pins_the_build_dotenv_digest_only_for_the_build_tag(remote):
    first, second = remote.source.short(1), remote.source.short(2)
    deploy(remote, first, env={"IMAGE_TAG": first, "IMAGE_DIGEST": A})
    assert (image(remote).tag, image(remote).digest) == (first, A)
    assert f"Pinned image.digest {A}." in git("log", "-1", "--format=%B", cwd=remote.bare)

    # IMAGE_DIGEST describes IMAGE_TAG's build: deploying another tag must not pin it.
    deploy(remote, second, env={"IMAGE_TAG": first, "IMAGE_DIGEST": A})
    assert (image(remote).tag, image(remote).digest) == (second, None)
    # The file is back to its original shape: no digest line left behind.
    assert show(remote.bare, DEV) == show(remote.bare, PROD).replace("prod", "dev").replace(
        '"0.0.0-bootstrap"', f'"{second}"'
    )


def test_an_explicit_digest_wins_and_a_known_digest_for_the_same_tag_is_written(remote):
    first = remote.source.short(1)
    deploy(remote, first)
    assert image(remote).digest is None
    # Same tag, digest now known: a commit that pins it (the tag alone is not the whole build).
    result = deploy(remote, first, "--digest", B, env={"IMAGE_TAG": first, "IMAGE_DIGEST": A})
    assert "pushed" in result.stdout
    assert image(remote).digest == B
    again = deploy(remote, first, "--digest", B)
    assert again.stdout == f"dev already runs {SERVICE_NAME} {first}: nothing to do\n"


def test_a_malformed_digest_is_refused_before_anything_is_pushed(remote):
    before = git("rev-parse", "main", cwd=remote.bare)
    for digest in ("sha256:abc", "sha512:" + "a" * 128, "SHA256:" + "A" * 64, "sha256:" + "g" * 64):
        result = run_ci(
            "deploy", "--repo", remote.url, "--env", "dev", "--tag", "abc1234", "--digest", digest
        )
        assert result.returncode == 2
        assert result.stderr == (
            f"error: malformed image digest {digest!r}: expected sha256: and 64 hex digits\n"
        )
    bad_env = run_ci(
        "deploy",
        "--repo",
        remote.url,
        "--env",
        "dev",
        "--tag",
        "abc1234",
        env={"IMAGE_TAG": "abc1234", "IMAGE_DIGEST": "latest"},
    )
    assert bad_env.returncode == 2
    assert git("rev-parse", "main", cwd=remote.bare) == before


def test_promote_copies_the_digest_or_its_absence(remote):
    first, second = remote.source.short(1), remote.source.short(2)
    deploy(remote, first, "--digest", A)
    promoted = run_ci("promote", "--repo", remote.url, "--from", "dev", "--to", "prod")
    assert promoted.returncode == 0, promoted.stderr
    assert (image(remote, PROD).tag, image(remote, PROD).digest) == (first, A)

    deploy(remote, second)
    promoted = run_ci("promote", "--repo", remote.url, "--from", "dev", "--to", "prod")
    assert promoted.returncode == 0, promoted.stderr
    assert (image(remote, PROD).tag, image(remote, PROD).digest) == (second, None)
    assert show(remote.bare, PROD) == show(remote.bare, DEV).replace("dev", "prod")


def test_rollback_restores_the_digest_recorded_with_the_tag(remote):
    first, second, third = (remote.source.short(n) for n in (1, 2, 3))
    deploy(remote, first, "--digest", A)
    deploy(remote, second, "--digest", B)
    deploy(remote, third)

    back = run_ci("rollback", "--repo", remote.url, "--env", "dev")
    assert back.returncode == 0, back.stderr
    assert (image(remote).tag, image(remote).digest) == (second, B)

    explicit = run_ci("rollback", "--repo", remote.url, "--env", "dev", "--to", first)
    assert explicit.returncode == 0, explicit.stderr
    assert (image(remote).tag, image(remote).digest) == (first, A)

    # A tag that ran without a digest: the stale one goes. (A tag dev never ran is refused.)
    bare = run_ci("rollback", "--repo", remote.url, "--env", "dev", "--to", third)
    assert bare.returncode == 0, bare.stderr
    assert (image(remote).tag, image(remote).digest) == (third, None)
