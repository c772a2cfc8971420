"""The real Dockerfile built with buildah by ``python -m ci build``, run, pushed and inspected.

One build for the whole module (vfs builds are slow): ECR is a local moto server, the registry a
real distribution registry whose htpasswd user is the one moto's ECR token names, so the real
login flow runs end to end. The base image is a local debootstrap (no registry can be pulled).
"""

import base64
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from app import SERVICE_NAME
from harness.image import (
    buildah,
    host_build_volumes,
    images_removed_afterwards,
    local_base_image,
    tool_env,
)
from harness.network import free_port, wait_for_port
from harness.tools import in_ci
from tests.support.moto import running_moto
from tests.support.registry import running_registry
from tests.support.tools import require_tools

pytestmark = [pytest.mark.image, pytest.mark.long]

ROOT = Path(__file__).resolve().parents[2]
NAME = SERVICE_NAME
TAG = "0a1b2c3d"
REVISION = TAG + "4e5f" * 8
SOURCE_URL = f"https://gitlab.example.com/team/{SERVICE_NAME}"
CREATED = "2026-11-25T00:00:00Z"
COMMIT_EPOCH = "1795564800"  # CREATED: the commit time is the build's time
CMD = [
    "uvicorn", "app.main:app", "--host", "0.0.0.0", "--port", "8080", "--loop", "uvloop",
    "--http", "httptools", "--proxy-headers", "--no-access-log",
    "--no-server-header", "--timeout-graceful-shutdown", "20",
]  # fmt: skip


def ci_build(env: dict[str, str], *argv: str, timeout: float = 480) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ci", "build", *argv],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """moto (ECR API) + registry with the ECR credentials + the local base image."""
    require_tools("buildah", "skopeo", "docker-registry", "debootstrap", "htpasswd", "unshare")
    work = tmp_path_factory.mktemp("image")
    base = local_base_image()
    with images_removed_afterwards(), running_moto(work) as moto:
        username, password = moto.ecr_credentials()
        with running_registry(work / "registry", username, password) as registry:
            env = {
                **tool_env(),
                **moto.env,
                "ECR_REPOSITORY_URL": registry.host,
                "PROJECT_NAME": NAME,
                "CI_COMMIT_SHORT_SHA": TAG,
                "CI_COMMIT_SHA": REVISION,
                "CI_PROJECT_URL": SOURCE_URL,
                "SOURCE_DATE_EPOCH": COMMIT_EPOCH,
                "IMAGE_CREATED": "",
                "REGISTRY_INSECURE": "true",
                "REGISTRY_AUTH_FILE": str(work / "auth.json"),
                "BASE_IMAGE": base,
                "BUILD_VOLUMES": " ".join(host_build_volumes()),
                "BUILD_DOTENV": str(work / "build.env"),
                # Whatever the surrounding job sets, this build uses the repository as it is.
                "BUILD_CONTEXT": str(ROOT),
                "DOCKERFILE": "",
                "BUILD_CACHE": "false",
            }
            yield {"env": env, "moto": moto, "registry": registry, "work": work}


@pytest.fixture(scope="module")
def built(stack):
    """The one real build: ``python -m ci build`` from the repository root."""
    started = time.monotonic()
    result = ci_build(stack["env"])
    assert result.returncode == 0, result.stderr[-3000:] + result.stdout[-3000:]
    image = f"{stack['registry'].host}/{NAME}:{TAG}"
    yield {"result": result, "image": image, "seconds": time.monotonic() - started}
    subprocess.run(buildah("rmi", image), env=tool_env(), capture_output=True, check=False)


def skopeo_inspect(stack, reference: str, *flags: str) -> subprocess.CompletedProcess:
    registry = stack["registry"]
    return subprocess.run(
        [
            "skopeo",
            "inspect",
            "--tls-verify=false",
            "--creds",
            f"{registry.username}:{registry.password}",
            *flags,
            f"docker://{reference}",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def catalog(registry) -> list[str]:
    request = urllib.request.Request(f"http://{registry.host}/v2/_catalog")
    token = f"{registry.username}:{registry.password}".encode()
    request.add_header("Authorization", "Basic " + base64.b64encode(token).decode())
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)["repositories"]


def test_build_pushes_and_writes_the_dotenv(stack, built):
    out = built["result"].stdout
    assert f"ECR repository {NAME}: created" in out
    assert f"logged in to {stack['registry'].host} as AWS" in out
    assert f"pushed {built['image']}" in out
    assert stack["registry"].password not in out + built["result"].stderr
    # The digest is the registry's own (what skopeo reports), so the chart can pin the exact build.
    digest = json.loads(skopeo_inspect(stack, built["image"]).stdout)["Digest"]
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", digest)
    assert Path(stack["env"]["BUILD_DOTENV"]).read_text() == (
        f"IMAGE={built['image']}\n"
        f"IMAGE_REPOSITORY={stack['registry'].host}/{NAME}\n"
        f"IMAGE_TAG={TAG}\n"
        f"IMAGE_DIGEST={digest}\n"
    )
    assert f"wrote {stack['env']['BUILD_DOTENV']}: IMAGE={built['image']}@{digest}" in out


def test_ecr_repository_settings(stack, built):
    (repo,) = stack["moto"].ecr().describe_repositories()["repositories"]
    assert repo["repositoryName"] == NAME
    assert repo["imageTagMutability"] == "IMMUTABLE_WITH_EXCLUSION"
    assert repo["imageScanningConfiguration"] == {"scanOnPush": True}
    assert repo["encryptionConfiguration"] == {"encryptionType": "AES256"}


def test_pushed_image_labels_and_config(stack, built):
    result = skopeo_inspect(stack, built["image"])
    assert result.returncode == 0, result.stderr
    labels = json.loads(result.stdout)["Labels"]
    assert labels["org.opencontainers.image.version"] == TAG
    assert labels["org.opencontainers.image.revision"] == REVISION
    assert labels["org.opencontainers.image.source"] == SOURCE_URL
    assert labels["org.opencontainers.image.created"] == CREATED
    assert json.loads(result.stdout)["Created"] == CREATED  # the image's date: the commit's
    config = json.loads(skopeo_inspect(stack, built["image"], "--config").stdout)["config"]
    assert config["User"] == "10001:10001"
    assert config["Cmd"] == CMD
    assert "8080/tcp" in config["ExposedPorts"]
    assert f"APP_VERSION={TAG}" in config["Env"]
    assert f"APP_REVISION={REVISION}" in config["Env"]
    assert "FORWARDED_ALLOW_IPS=127.0.0.1" in config["Env"]  # proxy headers: never from anyone


def test_second_run_skips_build_and_push(stack, built):
    started = time.monotonic()
    result = ci_build(stack["env"], timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[:2] == [
        f"ECR repository {NAME}: exists, left as it is",
        f"{built['image']} is already in the registry: build and push skipped",
    ]
    assert "STEP" not in result.stdout
    assert time.monotonic() - started < 30
    assert len(stack["moto"].ecr().describe_repositories()["repositories"]) == 1


def test_new_tag_with_the_same_code_gets_its_own_version(stack, built):
    """Only non-app files changed: the app layers are cached, the version metadata is not."""
    tag = "9f8e7d6c"
    env = {**stack["env"], "CI_COMMIT_SHORT_SHA": tag, "CI_COMMIT_SHA": tag * 5}
    result = ci_build(env, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    image = f"{stack['registry'].host}/{NAME}:{tag}"
    try:
        assert "Using cache" in result.stdout
        inspected = skopeo_inspect(stack, image)
        assert inspected.returncode == 0, inspected.stderr
        data = json.loads(inspected.stdout)
        assert data["Labels"]["org.opencontainers.image.version"] == tag
        assert f"APP_VERSION={tag}" in data["Env"]
        assert f"APP_REVISION={tag * 5}" in data["Env"]
    finally:
        subprocess.run(buildah("rmi", image), env=tool_env(), capture_output=True, check=False)


def test_wrong_password_fails_cleanly_and_pushes_nothing(stack, built):
    """A registry whose password is not the one ECR hands out: one error line, nothing pushed."""
    moto = stack["moto"]
    with running_registry(stack["work"] / "other-registry", "AWS", "not-the-token") as other:
        env = {**stack["env"], "ECR_REPOSITORY_URL": other.host, "CI_COMMIT_SHORT_SHA": "ffff0000"}
        result = ci_build(env, timeout=60)
        assert result.returncode == 1
        assert result.stderr == f"error: registry {other.host} rejected the credentials\n"
        assert "STEP" not in result.stdout
        assert catalog(other) == []
        assert moto.ecr_credentials()[1] not in result.stdout + result.stderr


def test_buildah_login_with_wrong_password_is_refused(stack):
    registry = stack["registry"]
    result = subprocess.run(
        [
            *buildah("login", "--tls-verify=false", "--username", "AWS", "--password-stdin"),
            registry.host,
        ],
        input="wrong",
        capture_output=True,
        text=True,
        env={**tool_env(), "REGISTRY_AUTH_FILE": str(stack["work"] / "wrong-auth.json")},
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert "wrong" not in result.stdout + result.stderr


def test_unreachable_registry_is_one_line(stack):
    host = f"127.0.0.1:{free_port()}"
    env = {**stack["env"], "ECR_REPOSITORY_URL": host}
    result = ci_build(env, timeout=60)
    assert result.returncode == 1
    assert result.stderr.startswith(f"error: registry {host} is unreachable: ")
    assert result.stderr.count("\n") == 1


# --- running the image ---------------------------------------------------------------------------


@contextlib.contextmanager
def container(image: str):
    ctr = subprocess.run(
        buildah("from", "--pull=false", image),
        env=tool_env(),
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    try:
        yield ctr
    finally:
        subprocess.run(buildah("rm", ctr), env=tool_env(), capture_output=True, check=False)


@contextlib.contextmanager
def process_group(argv: list[str], log: Path):
    """Start ``argv`` in its own process group; on exit signal that group (only it) and wait."""
    with open(log, "wb") as out:
        process = subprocess.Popen(
            argv, stdout=out, stderr=subprocess.STDOUT, env=tool_env(), start_new_session=True
        )
        try:
            yield process
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)


def serve_command(port: int) -> list[str]:
    """The image's own CMD, on a loopback port (buildah run shares the host network)."""
    cmd = list(CMD)
    cmd[cmd.index("--host") + 1] = "127.0.0.1"
    cmd[cmd.index("--port") + 1] = str(port)
    return cmd


def get_json(port: int, path: str) -> dict:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as response:
        assert response.status == 200
        return json.load(response)


def test_runs_as_its_numeric_user_without_pip(built):
    with container(built["image"]) as ctr:
        probe = (
            "import importlib.util, os, sys; "
            "print(os.getuid(), os.getgid(), sys.prefix, "
            "[m for m in ('pip', 'setuptools', 'wheel') if importlib.util.find_spec(m)])"
        )
        result = subprocess.run(
            buildah("run", "--isolation", "chroot", ctr, "--", "python3", "-c", probe),
            env=tool_env(),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["10001", "10001", "/opt/venv", "[]"]


def test_serves_health_with_the_build_version_and_echo(built, tmp_path):
    port = free_port()
    with (
        container(built["image"]) as ctr,
        process_group(
            buildah("run", "--isolation", "chroot", ctr, "--", *serve_command(port)),
            tmp_path / "serve.log",
        ),
    ):
        wait_for_port(port, timeout=60)
        health = get_json(port, "/-/health")
        echo = get_json(port, "/api/echo?text=hello%20image")
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/-/metrics", timeout=10) as reply:
            metrics = reply.read().decode()
    assert f'app_build_info{{revision="{REVISION}",version="{TAG}"}} 1.0' in metrics
    assert health["status"] == "ok"
    assert health["version"] == TAG
    assert health["revision"] == REVISION
    assert echo == {"text": "hello image"}


def test_serves_from_a_read_only_root_filesystem(built, tmp_path):
    """buildah run has no --read-only (and fails on a read-only rootfs: it creates mount points),
    so the image's root filesystem is bind-mounted read-only in a private mount namespace and the
    image's CMD runs there as its user with the image's environment; /tmp is a tmpfs."""
    if os.geteuid() != 0:
        reason = "mounting a read-only root needs root"
        if in_ci():
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    config = json.loads(
        subprocess.run(
            buildah("inspect", "--type", "image", built["image"]),
            env=tool_env(),
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )["OCIv1"]["config"]
    port = free_port()
    root = tmp_path / "rootfs"
    root.mkdir()
    with container(built["image"]) as ctr:
        mnt = subprocess.run(
            buildah("mount", ctr), env=tool_env(), capture_output=True, text=True, check=True
        ).stdout.strip()
        try:
            user = config["User"]
            env_args = " ".join(f"'{item}'" for item in config["Env"])
            server = " ".join(f"'{arg}'" for arg in serve_command(port))
            script = f"""
set -e
mount --bind {mnt} {root}
mount -o remount,bind,ro {root}
mount -t tmpfs -o size=16m,mode=1777 tmpfs {root}/tmp
mount -t proc proc {root}/proc
mount --rbind /dev {root}/dev
if chroot {root} /bin/sh -c 'touch /probe' 2>/dev/null; then echo ROOT-WRITABLE; exit 3; fi
echo ROOT-READ-ONLY
chroot --userspec={user} {root} /bin/sh -c 'touch /tmp/probe' && echo TMP-WRITABLE
exec chroot --userspec={user} {root} /usr/bin/env -i {env_args} \
    /bin/sh -c 'cd {config["WorkingDir"]} && exec "$@"' sh {server}
"""
            log = tmp_path / "ro.log"
            argv = ["unshare", "--mount", "--pid", "--fork", "--propagation", "private"]
            with process_group([*argv, "sh", "-c", script], log):
                wait_for_port(port, timeout=60)
                health = get_json(port, "/-/health")
                output = log.read_text()
        finally:
            subprocess.run(buildah("umount", ctr), env=tool_env(), capture_output=True, check=False)
    assert "ROOT-READ-ONLY" in output
    assert "TMP-WRITABLE" in output
    assert health["version"] == TAG
