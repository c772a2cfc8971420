"""ci.aws: GitLab OIDC -> AWS (the SDK assumes the role from the ID token) and the settings of the
ECR repositories the build creates, against a real moto server.

Moto stands in for AWS STS (it does not check the JWT's signature: that is AWS's side) and for
ECR (its tag-mutability rules; ECR's own scan on push does not run there).
"""

import fnmatch
import hashlib
import json
import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import botocore.session
import pytest
from botocore.validate import validate_parameters

from app import SERVICE_NAME
from ci.aws import (
    CACHE_REPOSITORY_SETTINGS,
    IMAGE_REPOSITORY_SETTINGS,
    TOKEN_VARIABLE,
    use_gitlab_oidc,
)
from tests.support.moto import running_moto

ROLE = f"arn:aws:iam::123456789012:role/gitlab-{SERVICE_NAME}"
# A JWT-shaped token (header.payload.signature); its content is not checked by moto.
TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJwcm9qZWN0X3BhdGg6Z3JvdXAvcHJvamVjdCJ9.c2ln"
ROOT = Path(__file__).resolve().parents[2]
CALLER = (
    "from ci.aws import use_gitlab_oidc; import boto3; use_gitlab_oidc(); "
    "print(boto3.client('sts').get_caller_identity()['Arn'])"
)


def aws_free_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", TOKEN_VARIABLE))}


@pytest.mark.integration
def test_the_sdk_assumes_the_role_from_the_gitlab_id_token(tmp_path: Path) -> None:
    with running_moto() as moto:
        env = {
            **aws_free_env(),
            "AWS_REGION": moto.region,
            "AWS_DEFAULT_REGION": moto.region,
            "AWS_ENDPOINT_URL": moto.endpoint_url,
            "AWS_ROLE_ARN": ROLE,
            TOKEN_VARIABLE: TOKEN,
            "TMPDIR": str(tmp_path),
            "HOME": str(tmp_path),
        }
        result = subprocess.run(
            [sys.executable, "-c", CALLER],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(
        f"arn:aws:sts::123456789012:assumed-role/gitlab-{SERVICE_NAME}/"
    )


def test_writes_a_private_token_file(tmp_path: Path) -> None:
    env = {"AWS_ROLE_ARN": ROLE, TOKEN_VARIABLE: TOKEN}
    path = use_gitlab_oidc(env, directory=str(tmp_path))
    assert path is not None
    assert env["AWS_WEB_IDENTITY_TOKEN_FILE"] == str(path)
    assert path.read_text() == TOKEN
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_changes_nothing_without_role_or_token_or_with_a_file_set(tmp_path: Path) -> None:
    cases = [
        {TOKEN_VARIABLE: TOKEN},
        {"AWS_ROLE_ARN": ROLE},
        {"AWS_ROLE_ARN": ROLE, TOKEN_VARIABLE: TOKEN, "AWS_WEB_IDENTITY_TOKEN_FILE": "/run/t"},
    ]
    for env in cases:
        before = dict(env)
        assert use_gitlab_oidc(env, directory=str(tmp_path)) is None
        assert env == before
    assert list(tmp_path.iterdir()) == []


# --- the ECR repositories' settings -------------------------------------------------------------

COMMIT_TAG = "0123abcd"
IMMUTABLE_TAG_ERRORS = {"ImageTagAlreadyExistsException", "ImageAlreadyExistsException"}
HEX = "ab" * 32


def ecr_wildcard(pattern: str, tag: str) -> bool:
    """ECR's WILDCARD exclusion filter: ``*`` matches any run of characters, nothing else is
    special (the filter's alphabet is ``[0-9a-zA-Z._*-]``)."""
    return fnmatch.fnmatchcase(tag, pattern)


def excluded(settings: dict, tag: str) -> bool:
    filters = settings.get("imageTagMutabilityExclusionFilters", [])
    return any(ecr_wildcard(f["filter"], tag) for f in filters if f["filterType"] == "WILDCARD")


@pytest.mark.parametrize(
    ("settings", "operation"),
    [
        (IMAGE_REPOSITORY_SETTINGS, "CreateRepository"),
        (CACHE_REPOSITORY_SETTINGS, "CreateRepository"),
    ],
)
def test_the_settings_are_a_valid_request_for_the_pinned_sdk(settings, operation):
    """botocore's own model of the ECR API (the pinned boto3's): names, enums and the filter's
    length and pattern; validated before anything is sent."""
    shape = botocore.session.get_session().get_service_model("ecr").operation_model(operation)
    validate_parameters({"repositoryName": SERVICE_NAME, **settings}, shape.input_shape)
    filters = shape.input_shape.members["imageTagMutabilityExclusionFilters"].member
    allowed = re.compile(filters.members["filter"].metadata["pattern"])
    for item in settings.get("imageTagMutabilityExclusionFilters", []):
        assert allowed.fullmatch(item["filter"])


@pytest.mark.parametrize(
    ("tag", "mutable"),
    [
        (f"sha256-{HEX}.sig", True),  # cosign sign
        (f"sha256-{HEX}.att", True),  # cosign attest (SBOM, provenance)
        (f"sha256-{HEX}", True),  # the OCI referrers fallback tag
        (COMMIT_TAG, False),  # what ci build pushes: the commit's short SHA
        ("0123abcd0123abcd0123abcd0123abcd0123abcd", False),
        ("latest", False),
    ],
)
def test_only_cosigns_tags_stay_mutable(tag, mutable):
    assert IMAGE_REPOSITORY_SETTINGS["imageTagMutability"] == "IMMUTABLE_WITH_EXCLUSION"
    assert excluded(IMAGE_REPOSITORY_SETTINGS, tag) is mutable


def test_the_cache_repository_is_mutable_without_filters():
    assert CACHE_REPOSITORY_SETTINGS["imageTagMutability"] == "MUTABLE"
    assert "imageTagMutabilityExclusionFilters" not in CACHE_REPOSITORY_SETTINGS
    for settings in (IMAGE_REPOSITORY_SETTINGS, CACHE_REPOSITORY_SETTINGS):
        assert settings["imageScanningConfiguration"] == {"scanOnPush": True}
        assert settings["encryptionConfiguration"] == {"encryptionType": "AES256"}


def manifest(layer: str) -> str:
    """A distinct image manifest per ``layer`` (ECR's digest is the sha256 of these bytes)."""
    return json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": "sha256:" + hashlib.sha256(b"{}").hexdigest(),
                "size": 2,
            },
            "layers": [
                {
                    "mediaType": "application/vnd.dev.cosign.simplesigning.v1+json",
                    "digest": "sha256:" + hashlib.sha256(layer.encode()).hexdigest(),
                    "size": len(layer),
                }
            ],
        }
    )


def put(client, name: str, tag: str, layer: str) -> str:
    answer = client.put_image(repositoryName=name, imageManifest=manifest(layer), imageTag=tag)
    return answer["image"]["imageId"]["imageDigest"]


def tagged(client, name: str, tag: str) -> str:
    (image,) = client.batch_get_image(repositoryName=name, imageIds=[{"imageTag": tag}])["images"]
    return image["imageId"]["imageDigest"]


@pytest.mark.integration
def test_ecr_keeps_commit_tags_and_lets_cosign_update_its_own():
    """A real moto server (5.2.5 models IMMUTABLE_WITH_EXCLUSION and its filters) stands in for
    ECR: the build's tag cannot be re-pointed, a signature tag can, twice."""
    from botocore.exceptions import ClientError

    with running_moto() as moto:
        client = moto.ecr()
        client.create_repository(repositoryName=SERVICE_NAME, **IMAGE_REPOSITORY_SETTINGS)
        (repo,) = client.describe_repositories(repositoryNames=[SERVICE_NAME])["repositories"]
        assert repo["imageTagMutability"] == "IMMUTABLE_WITH_EXCLUSION"
        assert repo["imageTagMutabilityExclusionFilters"] == [
            {"filterType": "WILDCARD", "filter": "sha256-*"}
        ]

        built = put(client, SERVICE_NAME, COMMIT_TAG, "build 1")
        with pytest.raises(ClientError) as refused:
            put(client, SERVICE_NAME, COMMIT_TAG, "build 2")
        # AWS answers ImageTagAlreadyExistsException; moto 5.2.5 names it ImageAlreadyExists.
        assert refused.value.response["Error"]["Code"] in IMMUTABLE_TAG_ERRORS
        assert tagged(client, SERVICE_NAME, COMMIT_TAG) == built

        signatures = f"sha256-{HEX}.sig"
        first = put(client, SERVICE_NAME, signatures, "one signature")
        second = put(client, SERVICE_NAME, signatures, "two signatures")
        assert first != second
        assert tagged(client, SERVICE_NAME, signatures) == second

        cache = f"{SERVICE_NAME}-cache"
        client.create_repository(repositoryName=cache, **CACHE_REPOSITORY_SETTINGS)
        put(client, cache, "buildcache", "layers 1")
        moved = put(client, cache, "buildcache", "layers 2")
        assert tagged(client, cache, "buildcache") == moved
