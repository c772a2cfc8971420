"""The actions `ci/` performs against AWS, recorded, against what aws/ci-role-policy.json grants.

`python -m ci build --cache` runs against a real moto server (ECR's API; its recorder logs every
request) and, as registry, a recording HTTP server (ci.registry's manifest checks). buildah is a
stand-in on PATH that succeeds: its own registry traffic (push, cache pull) is not ci/'s code,
so its actions are AWS's documented ones (ECR user guide, "IAM permissions for pushing an
image"; pulling layers needs GetDownloadUrlForLayer). The deploy and check paths reach AWS only
through ci.registry's ECR login (GetAuthorizationToken) before the same manifest check. cosign
(the sign job; signature checks before deploy, promote and check) is likewise not ci/'s code: it
pushes ``sha256-<hex>.sig``/``.att`` manifests, reads the ones there to add to them, and reads
their layers to verify, i.e. the push actions and the pull ones on the image's repository.
"""

import base64
import json
import os
import urllib.request
from pathlib import Path

import pytest

from app import SERVICE_NAME
from ci import registry
from tests.support import iam
from tests.support.cli import run_ci
from tests.support.moto import running_moto
from tests.support.registry import recording_server

pytestmark = pytest.mark.integration

NAME = SERVICE_NAME
ARN = "arn:aws:ecr:eu-central-1:123456789012:repository/"
PUSH = {
    "ecr:BatchCheckLayerAvailability",
    "ecr:InitiateLayerUpload",
    "ecr:UploadLayerPart",
    "ecr:CompleteLayerUpload",
    "ecr:PutImage",
    "ecr:BatchGetImage",
}
PULL = {"ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"}
COSIGN = PUSH | PULL  # sign and attest (push, read to append), verify (read the layers)
TARGET = "AmazonEC2ContainerRegistry_V20150921."


def recorded_actions(endpoint: str) -> list[tuple[str, str]]:
    """(action, repositoryName or '*') of each ECR request the moto server recorded."""
    with urllib.request.urlopen(f"{endpoint}/moto-api/recorder/download-recording") as answer:
        lines = answer.read().decode().splitlines()
    found = []
    for line in filter(None, lines):
        entry = json.loads(line)
        target = entry["headers"].get("X-Amz-Target", "")
        if target.startswith(TARGET):
            raw = entry.get("body") or ""
            raw = base64.b64decode(raw).decode() if entry.get("body_encoded") else raw
            body = json.loads(raw or "{}")
            names = body.get("repositoryNames") or [body.get("repositoryName", "*")]
            found += [(f"ecr:{target.removeprefix(TARGET)}", name) for name in names]
    return found


def fake_buildah(folder: Path) -> str:
    folder.mkdir()
    script = folder / "buildah"
    script.write_text("#!/bin/sh\ncat >/dev/null 2>&1 || true\nexit 0\n")
    script.chmod(0o755)
    return f"{folder}:{os.environ['PATH']}"


def used_by_build_deploy_and_check(tmp_path: Path, monkeypatch) -> dict[str, set[str]]:
    monkeypatch.setenv("MOTO_RECORDER_FILEPATH", str(tmp_path / "recording"))
    with running_moto() as moto, recording_server() as oci:
        start = urllib.request.Request(
            f"{moto.endpoint_url}/moto-api/recorder/start-recording", method="POST"
        )
        urllib.request.urlopen(start).close()
        env = {
            **moto.env,
            "PATH": fake_buildah(tmp_path / "bin"),
            "ECR_REPOSITORY_URL": oci.host,
            "REGISTRY_INSECURE": "true",
            "BUILD_CACHE": "true",
            "BUILD_DOTENV": str(tmp_path / "build.env"),
        }
        done = run_ci("build", "--name", NAME, "--tag", "0123abcd", env=env)
        # The stand-in pushed nothing, so the digest lookup after the push ends the run: every
        # AWS call (repositories, login) and both manifest checks came before it.
        assert "0123abcd not found in the registry" in done.stderr, done.stderr
        for name, value in moto.env.items():
            monkeypatch.setenv(name, value)
        registry.ecr_auth(moto.region, moto.endpoint_url)  # deploy/check --verify-image on ECR
        manifest_checks = len(oci.authorizations)
        recorded = recorded_actions(moto.endpoint_url)
    used: dict[str, set[str]] = {"*": set()}
    for action, name in recorded:
        key = "*" if name == "*" else ARN + name
        used.setdefault(key, set()).add(action)
    assert manifest_checks > 0  # HEAD manifests: ECR authorizes them as BatchGetImage
    used[ARN + NAME] |= PUSH | COSIGN
    used[ARN + NAME + "-cache"] |= PUSH | PULL
    return used


def test_the_policy_grants_exactly_what_the_code_uses(tmp_path: Path, monkeypatch):
    used = used_by_build_deploy_and_check(tmp_path, monkeypatch)
    assert used["*"] == {"ecr:GetAuthorizationToken"}
    assert iam.granted(iam.load("ci-role-policy.json")) == used
