"""--verify-image against a real registry (the distribution registry, basic auth)."""

import base64
import hashlib
import json
import secrets
import urllib.request

import pytest

from app import SERVICE_NAME
from ci.errors import CiError
from ci.registry import verify_reference
from tests.support.cli import run_ci
from tests.support.git_remotes import show
from tests.support.registry import recording_server, running_registry

pytestmark = pytest.mark.integration

USER, PASSWORD = "ci", "registry-Secret-77"


def _request(
    method: str, url: str, data: bytes = b"", content_type: str = "", password: str = PASSWORD
) -> dict:
    token = base64.b64encode(f"{USER}:{password}".encode()).decode()
    request = urllib.request.Request(url, data=data or None, method=method)
    request.add_header("Authorization", f"Basic {token}")
    if content_type:
        request.add_header("Content-Type", content_type)
    with urllib.request.urlopen(request, timeout=10) as response:
        return dict(response.headers)


def push_image(host: str, name: str, tag: str, password: str = PASSWORD) -> str:
    """Upload a minimal OCI image (a config blob, no layers) through the distribution API;
    return the manifest's digest."""
    config = json.dumps(
        {"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}}
    ).encode()
    digest = "sha256:" + hashlib.sha256(config).hexdigest()
    location = _request("POST", f"http://{host}/v2/{name}/blobs/uploads/", password=password)[
        "Location"
    ]
    if location.startswith("/"):
        location = f"http://{host}{location}"
    separator = "&" if "?" in location else "?"
    _request(
        "PUT",
        f"{location}{separator}digest={digest}",
        config,
        "application/octet-stream",
        password,
    )
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": digest,
                "size": len(config),
            },
            "layers": [],
        }
    ).encode()
    _request(
        "PUT",
        f"http://{host}/v2/{name}/manifests/{tag}",
        manifest,
        "application/vnd.oci.image.manifest.v1+json",
        password,
    )
    return "sha256:" + hashlib.sha256(manifest).hexdigest()


@pytest.fixture
def registry(tmp_path):
    with running_registry(tmp_path / "registry", USER, PASSWORD) as running:
        yield running


def test_verify_image_commits_only_when_the_image_exists(remote, registry):
    present, missing = remote.source.short(5), remote.source.short(6)
    repository = f"{registry.host}/{SERVICE_NAME}"
    digest = push_image(registry.host, SERVICE_NAME, present)
    env = {
        "REGISTRY_INSECURE": "true",
        "ECR_REPOSITORY_URL": registry.host,
        "REGISTRY_USER": USER,
        "REGISTRY_PASSWORD": PASSWORD,
        "IMAGE_REPOSITORY": repository,
    }
    before = remote.tip()
    absent = run_ci(
        "deploy", "--repo", remote.url, "--env", "dev", "--tag", missing, "--verify-image", env=env
    )
    assert absent.returncode == 1
    assert absent.stderr == (
        f"error: image {repository}:{missing} not found in the registry: nothing committed\n"
    )
    assert remote.tip() == before

    result = run_ci(
        "deploy", "--repo", remote.url, "--env", "dev", "--tag", present, "--verify-image", env=env
    )
    assert result.returncode == 0, result.stderr
    text = show(remote.bare, "gitops/dev/values.yaml")
    assert f'  tag: "{present}"' in text
    assert f"  repository: {repository}  # where the build pushes" in text
    # The registry's digest for the tag is pinned next to it.
    assert f'  tag: "{present}"\n  digest: "{digest}"\n' in text
    assert PASSWORD not in result.stdout + result.stderr


def test_verify_image_refuses_a_digest_the_registry_does_not_have_for_the_tag(remote, registry):
    tag = remote.source.short(5)
    repository = f"{registry.host}/{SERVICE_NAME}"
    digest = push_image(registry.host, SERVICE_NAME, tag)
    wrong = "sha256:" + "0" * 64
    env = {
        "REGISTRY_INSECURE": "true",
        "ECR_REPOSITORY_URL": registry.host,
        "REGISTRY_USER": USER,
        "REGISTRY_PASSWORD": PASSWORD,
        "IMAGE_REPOSITORY": repository,
        "IMAGE_TAG": tag,
        "IMAGE_DIGEST": wrong,
    }
    before = remote.tip()
    args = ("deploy", "--repo", remote.url, "--env", "dev", "--verify-image")
    result = run_ci(*args, env=env)
    assert result.returncode == 1
    assert result.stderr == (
        f"error: the registry has {digest} for {repository}:{tag}, not the digest given"
        f" ({wrong}): nothing committed\n"
    )
    assert remote.tip() == before
    right = run_ci(*args, env={**env, "IMAGE_DIGEST": digest})
    assert right.returncode == 0, right.stderr
    assert f'  digest: "{digest}"' in show(remote.bare, "gitops/dev/values.yaml")


def test_verify_image_with_a_wrong_registry_password_fails_cleanly(remote, registry):
    env = {
        "REGISTRY_INSECURE": "true",
        "ECR_REPOSITORY_URL": registry.host,
        "REGISTRY_USER": USER,
        "REGISTRY_PASSWORD": "not-the-Password-55",
        "GITOPS_VERIFY_IMAGE": "true",
    }
    args = ["--repository", f"{registry.host}/{SERVICE_NAME}"]
    result = run_ci(
        "deploy",
        "--repo",
        remote.url,
        "--env",
        "dev",
        "--tag",
        remote.source.short(1),
        *args,
        env=env,
    )
    assert result.returncode == 1
    assert result.stderr.startswith("error: ")
    assert result.stderr.count("\n") == 1
    assert "not-the-Password-55" not in result.stdout + result.stderr


def test_the_registry_login_goes_to_the_configured_registry_and_nowhere_else(tmp_path):
    """A reference someone writes into a merge request may name any host: only the configured
    registry (ECR_REPOSITORY_URL) is sent REGISTRY_USER/REGISTRY_PASSWORD."""
    secret = secrets.token_hex(12)
    with (
        running_registry(tmp_path / "registry", USER, secret) as registry,
        recording_server(status=404) as other,
    ):
        env = {
            "REGISTRY_INSECURE": "true",
            "ECR_REPOSITORY_URL": registry.host,
            "REGISTRY_USER": USER,
            "REGISTRY_PASSWORD": secret,
        }
        digest = push_image(registry.host, SERVICE_NAME, "present", password=secret)
        assert verify_reference(f"{registry.host}/{SERVICE_NAME}:present@{digest}", env) is None
        assert verify_reference(f"{other.host}/{SERVICE_NAME}:present", env) == (
            f"image {other.host}/{SERVICE_NAME}:present not found in the registry"
        )
        # The same registry under another name is another host: asked anonymously, refused.
        alias = f"localhost:{registry.port}/{SERVICE_NAME}:present"
        with pytest.raises(CiError, match=rf"^registry localhost:{registry.port} requires cred"):
            verify_reference(alias, env)
    assert other.authorizations == [None]
