"""GitLab OIDC -> AWS: the SDK assumes the role from the ID token, against a real moto server.

Moto stands in for AWS STS (it does not check the JWT's signature: that is AWS's side).
"""

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from app import SERVICE_NAME
from ci.aws import TOKEN_VARIABLE, use_gitlab_oidc
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
