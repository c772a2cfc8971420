"""Two no-cache builds of one commit give one digest.

The build that ``python -m ci build`` plans (its ``--dry-run``) as the pipeline's build job runs
it (one commit per stage, ``BUILD_LAYERS=false``: the image that ships), with the commit time of
this checkout's HEAD, run twice with ``--no-cache`` and pushed to a real distribution registry:
the registry reports one digest. The base image is the local debootstrap one (no registry can be
pulled here), so the production base's own reproducibility is not what this checks.
"""

import json
import shlex
import subprocess
import sys
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
from tests.support.registry import running_registry
from tests.support.tools import require_tools

pytestmark = [pytest.mark.image, pytest.mark.long]

ROOT = Path(__file__).resolve().parents[2]
TAG = "0a1b2c3d"


def run(argv: list[str], env: dict[str, str], timeout: float) -> subprocess.CompletedProcess:
    result = subprocess.run(
        argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert result.returncode == 0, (result.stderr or result.stdout)[-3000:]
    return result


def planned_build(env: dict[str, str]) -> list[str]:
    """The ``buildah bud`` command line ``ci build --dry-run`` prints."""
    out = run([sys.executable, "-m", "ci", "build", "--dry-run"], env, timeout=60).stdout
    return shlex.split(next(line for line in out.splitlines() if " bud " in line))


def test_two_no_cache_builds_of_one_commit_give_the_same_digest(tmp_path):
    require_tools("buildah", "skopeo", "docker-registry", "debootstrap", "git")
    base = local_base_image()
    commit_time = run(["git", "log", "-1", "--format=%ct", "HEAD"], tool_env(), 30).stdout.strip()
    with images_removed_afterwards(), running_registry(tmp_path / "registry") as registry:
        env = {
            **tool_env(),
            "ECR_REPOSITORY_URL": registry.host,
            "AWS_REGION": "eu-central-1",
            "PROJECT_NAME": SERVICE_NAME,
            "CI_COMMIT_SHORT_SHA": TAG,
            # The commit time from git, whatever the surrounding job sets.
            "SOURCE_DATE_EPOCH": "",
            "CI_COMMIT_TIMESTAMP": "",
            "IMAGE_CREATED": "",
            "BASE_IMAGE": base,
            "BUILD_VOLUMES": " ".join(host_build_volumes()),
            "BUILD_CONTEXT": str(ROOT),
            "DOCKERFILE": "",
            "BUILD_CACHE": "false",
            "BUILD_LAYERS": "false",
        }
        argv = planned_build(env)
        assert argv[argv.index("--timestamp") + 1] == commit_time
        assert "--layers" not in argv  # the pipeline's build
        argv.insert(argv.index("bud") + 1, "--no-cache")
        digests = []
        for number in (1, 2):
            image = f"{registry.host}/{SERVICE_NAME}-repro:{number}"
            argv[argv.index("--tag") + 1] = image
            run(argv, env, timeout=900)
            run(buildah("push", "--tls-verify=false", image, f"docker://{image}"), env, 300)
            inspect = ["skopeo", "inspect", "--tls-verify=false", f"docker://{image}"]
            digests.append(json.loads(run(inspect, env, 60).stdout)["Digest"])
    assert digests[0] == digests[1]
