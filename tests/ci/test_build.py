"""``python -m ci build`` without buildah: inputs, the plan, --dry-run, errors, and ECR on moto."""

import os
import subprocess
from pathlib import Path

import pytest

from app import SERVICE_NAME
from ci import build, cli
from ci.aws import IMAGE_REPOSITORY_SETTINGS
from ci.build import BuildInputs, ensure_ecr_repository, plan
from ci.registry import ImageRef
from tests.support.moto import running_moto

GITLAB_ENV = {
    "CI_PROJECT_NAME": SERVICE_NAME,
    "CI_COMMIT_SHORT_SHA": "0123abcd",
    "CI_COMMIT_SHA": "0123abcd" + "e" * 32,
    "CI_PROJECT_URL": f"https://gitlab.example.com/team/{SERVICE_NAME}",
    "CI_COMMIT_TIMESTAMP": "2026-01-02T04:04:05+01:00",
}
COMMIT_EPOCH = "1767323045"  # 2026-01-02T03:04:05Z
LOCAL_BASE = f"localhost/{SERVICE_NAME}-base:test"
REGISTRY = "123456789012.dkr.ecr.eu-central-1.amazonaws.com"
ALL_VARIABLES = (
    *GITLAB_ENV,
    "ECR_REPOSITORY_URL",
    "PROJECT_NAME",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ENDPOINT_URL",
    "STORAGE_DRIVER",
    "BUILDAH_ISOLATION",
    "BUILD_VOLUMES",
    "BUILD_CACHE",
    "BUILD_LAYERS",
    "BASE_IMAGE",
    "REGISTRY_INSECURE",
    "IMAGE_CREATED",
    "SOURCE_DATE_EPOCH",
    "BUILD_DOTENV",
    "BUILD_CONTEXT",
    "DOCKERFILE",
)


@pytest.fixture
def env(monkeypatch):
    """A clean GitLab-like environment; tests set what they need on top."""
    for name in ALL_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    for name, value in GITLAB_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("ECR_REPOSITORY_URL", REGISTRY)
    monkeypatch.setenv("AWS_REGION", "eu-central-1")
    monkeypatch.setenv("BASE_IMAGE", LOCAL_BASE)  # the repository's Dockerfile may be unpinned
    monkeypatch.setattr(cli, "NAMES", ("build",))
    return monkeypatch


def run_cli(*argv: str) -> int:
    return cli.main(["build", *argv])


def test_dry_run_prints_the_plan_from_gitlab_variables(env, capsys):
    env.setenv("STORAGE_DRIVER", "vfs")
    env.setenv("BUILDAH_ISOLATION", "chroot")
    assert run_cli("--dry-run") == 0
    out = capsys.readouterr().out
    image = f"{REGISTRY}/{SERVICE_NAME}:0123abcd"
    assert f"ensure ECR repository {SERVICE_NAME} in eu-central-1 (scanOnPush, IMMUTABLE" in out
    assert f"skip the build and push if {image} is already in the registry" in out
    assert (
        "<registry password> | buildah --storage-driver vfs login --username AWS "
        f"--password-stdin {REGISTRY}"
    ) in out
    assert (
        f"buildah --storage-driver vfs bud --layers --timestamp {COMMIT_EPOCH} --file Dockerfile "
        f"--tag {image} --isolation chroot --build-arg VERSION=0123abcd "
        f"--build-arg REVISION={GITLAB_ENV['CI_COMMIT_SHA']} "
        f"--build-arg SOURCE_URL={GITLAB_ENV['CI_PROJECT_URL']} "
        f"--build-arg CREATED=2026-01-02T03:04:05Z --build-arg BASE_IMAGE={LOCAL_BASE} ."
    ) in out
    assert f"buildah --storage-driver vfs push {image} docker://{image}" in out
    assert f"  IMAGE={image}\n  IMAGE_REPOSITORY={REGISTRY}/{SERVICE_NAME}\n" in out
    assert "  IMAGE_TAG=0123abcd" in out


@pytest.mark.parametrize(
    ("unset", "argv", "message"),
    [
        ("ECR_REPOSITORY_URL", (), "registry is not set (--registry or ECR_REPOSITORY_URL)"),
        (
            "CI_PROJECT_NAME",
            (),
            "image name is not set (--name, PROJECT_NAME or CI_PROJECT_NAME)",
        ),
        ("CI_COMMIT_SHORT_SHA", (), "image tag is not set (--tag or CI_COMMIT_SHORT_SHA)"),
        ("AWS_REGION", (), "AWS region is not set (--region or AWS_REGION)"),
        (None, ("--tag", "bad tag"), "image tag 'bad tag' is not a valid tag"),
        (
            None,
            ("--name", "Upper"),
            "image name 'Upper' is not a valid repository name (lowercase)",
        ),
        (
            None,
            ("--registry", "https://r.io"),
            "registry 'https://r.io' is not HOST[:PORT][/PATH] (no scheme)",
        ),
    ],
)
def test_bad_inputs_fail_with_one_line(env, capsys, unset, argv, message):
    if unset:
        env.delenv(unset)
    assert run_cli("--dry-run", *argv) == 2
    captured = capsys.readouterr()
    assert captured.err == f"error: {message}\n"
    assert captured.out == ""


def test_missing_dockerfile_is_named(env, tmp_path, capsys):
    assert run_cli("--context", str(tmp_path)) == 2
    assert capsys.readouterr().err == f"error: Dockerfile not found: {tmp_path / 'Dockerfile'}\n"


def build_line(capsys) -> str:
    return next(line for line in capsys.readouterr().out.splitlines() if " bud " in line)


@pytest.mark.parametrize(
    ("variables", "argv", "timestamp", "created"),
    [
        ({}, (), COMMIT_EPOCH, "2026-01-02T03:04:05Z"),
        ({"SOURCE_DATE_EPOCH": "1700000000"}, (), "1700000000", "2023-11-14T22:13:20Z"),
        ({}, ("--source-date-epoch", "2025-06-01T00:00:00Z"), "1748736000", "2025-06-01T00:00:00Z"),
        ({"IMAGE_CREATED": "2030-01-01T00:00:00Z"}, (), COMMIT_EPOCH, "2030-01-01T00:00:00Z"),
    ],
)
def test_build_time_and_created_come_from_the_commit(
    env, capsys, variables, argv, timestamp, created
):
    """SOURCE_DATE_EPOCH, else GitLab's CI_COMMIT_TIMESTAMP: --timestamp and the created label."""
    for name, value in variables.items():
        env.setenv(name, value)
    assert run_cli("--dry-run", *argv) == 0
    line = build_line(capsys)
    assert f" --timestamp {timestamp} " in line
    assert f" --build-arg CREATED={created} " in line


def test_without_a_commit_time_the_checkout_is_asked(env, capsys):
    """No commit time given: HEAD's commit time from git (a fake here: a unit test runs no git)."""
    env.delenv("CI_COMMIT_TIMESTAMP")
    asked = []
    env.setattr(build, "git_commit_time", lambda context: asked.append(context) or 1700000000)
    assert run_cli("--dry-run", "--context", "ctx") == 0
    assert " --timestamp 1700000000 " in build_line(capsys)
    assert asked == ["ctx"]


def test_unknown_or_bad_commit_time_is_one_line(env, capsys):
    env.delenv("CI_COMMIT_TIMESTAMP")
    env.setattr(build, "git_commit_time", lambda context: None)
    assert run_cli("--dry-run") == 2
    assert capsys.readouterr().err == (
        "error: commit time unknown: set SOURCE_DATE_EPOCH (. is not in git)\n"
    )
    assert run_cli("--dry-run", "--source-date-epoch", "yesterday") == 2
    assert capsys.readouterr().err == (
        "error: commit time 'yesterday' is not epoch seconds or ISO 8601 with an offset\n"
    )


PINNED = "python:3.11-slim-bookworm@sha256:" + "0" * 64  # test data, not a real digest


@pytest.mark.parametrize(
    ("dockerfile_base", "flag", "error"),
    [
        (PINNED, None, None),
        ("python:3.11-slim-bookworm", LOCAL_BASE, None),
        ("python:3.11-slim-bookworm", PINNED, None),
        (
            "python:3.11-slim-bookworm",
            None,
            "warning: base image python:3.11-slim-bookworm ({dockerfile}'s ARG) is not pinned by "
            "digest: run `python scripts/lock.py base` (make lock LOCK_ARGS=base)",
        ),
        (
            PINNED,
            "python:3.11-slim",
            "error: base image python:3.11-slim (--base-image) is not pinned by digest: "
            "give NAME@sha256:...",
        ),
    ],
)
def test_a_registry_base_image_must_be_pinned_by_digest(
    env, tmp_path, capsys, dockerfile_base, flag, error
):
    """An unpinned --base-image is refused; the Dockerfile's own unpinned default is a warning
    (a fresh copy's first build still runs until `make lock` pins it)."""
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(f"ARG BASE_IMAGE={dockerfile_base}\nFROM ${{BASE_IMAGE}}\n")
    env.delenv("BASE_IMAGE")
    argv = ("--dry-run", "--file", str(dockerfile), *(("--base-image", flag) if flag else ()))
    assert run_cli(*argv) == (2 if error and error.startswith("error:") else 0)
    err = capsys.readouterr().err
    assert err == (f"{error.format(dockerfile=dockerfile)}\n" if error else "")


@pytest.mark.xfail(
    strict=True,
    reason="Docker Hub is unreachable where this was written: run `python scripts/lock.py base` "
    "and drop this marker",
)
def test_the_dockerfile_pins_its_base_image_by_digest():
    text = (Path(__file__).resolve().parents[2] / "Dockerfile").read_text()
    assert build.DIGEST_PINNED_RE.search(build.BASE_ARG_RE.search(text)[1])


def inputs(**overrides) -> BuildInputs:
    values = {
        "image": ImageRef("127.0.0.1:5000", SERVICE_NAME, "0123abcd"),
        "region": "eu-central-1",
        "created": "2026-01-02T03:04:05Z",
    }
    return BuildInputs(**{**values, **overrides})


def test_plan_insecure_registry_volumes_base_image_and_cache():
    p = plan(
        inputs(
            insecure=True,
            volumes=("/etc/pip.conf:/etc/pip.conf:ro",),
            base_image="localhost/base:1",
            cache=True,
        )
    )
    assert p.login.argv == (
        "buildah",
        "login",
        "--tls-verify=false",
        "--username",
        "AWS",
        "--password-stdin",
        "127.0.0.1:5000",
    )
    assert p.login.secret_stdin
    build_argv = p.build.argv
    assert build_argv[:3] == ("buildah", "bud", "--layers")
    assert "--build-arg" in build_argv
    assert "BASE_IMAGE=localhost/base:1" in build_argv
    assert build_argv[build_argv.index("--volume") + 1] == "/etc/pip.conf:/etc/pip.conf:ro"
    cache = f"127.0.0.1:5000/{SERVICE_NAME}-cache"
    assert build_argv[build_argv.index("--cache-from") + 1] == cache
    assert build_argv[build_argv.index("--cache-to") + 1] == cache
    assert p.push.argv == (
        "buildah",
        "push",
        "--tls-verify=false",
        f"127.0.0.1:5000/{SERVICE_NAME}:0123abcd",
        f"docker://127.0.0.1:5000/{SERVICE_NAME}:0123abcd",
    )
    assert [name for name, _ in p.ecr_repositories] == [
        SERVICE_NAME,
        f"{SERVICE_NAME}-cache",
    ]


def test_plan_without_cache_has_no_cache_flags():
    p = plan(inputs())
    assert "--cache-from" not in p.build.argv
    assert "--cache-to" not in p.build.argv
    assert p.ecr_repositories == ((SERVICE_NAME, IMAGE_REPOSITORY_SETTINGS),)


def test_a_plain_http_registry_is_named_to_bud_too():
    """bud pulls from the registry too (a base image pinned there, the cache): no TLS."""
    assert "--tls-verify=false" in plan(inputs(insecure=True)).build.argv
    assert "--tls-verify=false" not in plan(inputs()).build.argv


@pytest.mark.parametrize(
    ("variables", "argv", "layers"),
    [
        ({}, (), True),
        ({"BUILD_LAYERS": "false"}, (), False),
        ({"BUILD_LAYERS": "false"}, ("--layers",), True),
        ({}, ("--no-layers",), False),
        ({"BUILD_LAYERS": "false", "BUILD_CACHE": "true"}, (), True),  # the cache needs them
    ],
)
def test_layers_by_default_no_layers_on_request(env, capsys, variables, argv, layers):
    """The pipeline builds with --no-layers (one commit per stage: faster on vfs than any
    cache); a laptop keeps each step as a cached layer; --cache needs the layers."""
    for name, value in variables.items():
        env.setenv(name, value)
    assert run_cli("--dry-run", *argv) == 0
    bud = next(line for line in capsys.readouterr().out.splitlines() if " bud " in line)
    assert ("bud --layers --timestamp" in bud) is layers
    assert ("bud --timestamp" in bud) is not layers


def test_dotenv_text():
    image = ImageRef("r.io/team", "svc", "abc")
    assert build.dotenv_text(image) == (
        "IMAGE=r.io/team/svc:abc\nIMAGE_REPOSITORY=r.io/team/svc\nIMAGE_TAG=abc\n"
    )
    digest = "sha256:" + "a" * 64
    assert build.dotenv_text(image, digest).endswith(f"IMAGE_TAG=abc\nIMAGE_DIGEST={digest}\n")


@pytest.mark.integration
def test_ecr_repository_created_once_with_the_settings(monkeypatch):
    """ECR runs on a real moto server (ECR itself cannot run here)."""
    with running_moto() as moto:
        for name, value in moto.env.items():
            monkeypatch.setenv(name, value)
        client = moto.ecr()
        assert ensure_ecr_repository(client, SERVICE_NAME, IMAGE_REPOSITORY_SETTINGS) is True
        assert ensure_ecr_repository(client, SERVICE_NAME, IMAGE_REPOSITORY_SETTINGS) is False
        (repo,) = client.describe_repositories()["repositories"]
        assert repo["repositoryName"] == SERVICE_NAME
        assert repo["imageTagMutability"] == "IMMUTABLE_WITH_EXCLUSION"
        assert repo["imageScanningConfiguration"] == {"scanOnPush": True}
        assert repo["encryptionConfiguration"] == {"encryptionType": "AES256"}


@pytest.mark.integration
def test_existing_repository_is_left_alone(monkeypatch):
    with running_moto() as moto:
        for name, value in moto.env.items():
            monkeypatch.setenv(name, value)
        client = moto.ecr()
        client.create_repository(repositoryName=SERVICE_NAME)
        assert ensure_ecr_repository(client, SERVICE_NAME, IMAGE_REPOSITORY_SETTINGS) is False
        (repo,) = client.describe_repositories()["repositories"]
        assert repo["imageTagMutability"] == "MUTABLE"


def test_unreachable_aws_endpoint_is_one_line(env, capsys):
    from harness.network import free_port

    env.setenv("AWS_ACCESS_KEY_ID", "testing")
    env.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    env.setenv("AWS_MAX_ATTEMPTS", "1")
    endpoint = f"http://127.0.0.1:{free_port()}"
    assert run_cli("--endpoint-url", endpoint, "--context", ".", "--file", __file__) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: ECR describe-repositories {SERVICE_NAME} failed: ")
    assert "AWS endpoint unreachable" in err
    assert err.count("\n") == 1


def test_missing_aws_credentials_is_one_line(env, tmp_path, capsys):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        env.delenv(name, raising=False)
    env.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    env.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    env.setenv("AWS_EC2_METADATA_DISABLED", "true")
    assert run_cli("--file", __file__) == 1
    assert capsys.readouterr().err == (
        f"error: ECR describe-repositories {SERVICE_NAME} failed: "
        "no AWS credentials (set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)\n"
    )


@pytest.mark.integration
def test_git_commit_time_is_heads_committer_time(tmp_path):
    """A real git checkout: the committer time of HEAD; outside a checkout, None."""
    env = {"GIT_COMMITTER_DATE": "2026-03-04T05:06:07Z", "GIT_AUTHOR_DATE": "2020-01-01T00:00:00Z"}
    identity = ["-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run(["git", "init", "-q", str(tmp_path / "repo")], check=True)
    subprocess.run(
        [
            "git",
            *identity,
            "-C",
            str(tmp_path / "repo"),
            "commit",
            "-q",
            "--allow-empty",
            "-m",
            "x",
        ],
        env={**os.environ, **env},
        check=True,
    )
    assert build.git_commit_time(str(tmp_path / "repo")) == 1772600767
    assert build.git_commit_time(str(tmp_path)) is None
