"""A real moto server on a free loopback port: the AWS endpoint (ECR) for tests.

Use ``running_moto()`` as a context manager; it yields a ``MotoServer`` with ``endpoint_url`` and
``env`` (fake credentials, region and AWS_ENDPOINT_URL for child processes such as ``python -m
ci build`` or ``aws``). Stopped by its PID on exit. Moto is the boundary here: ECR itself cannot
run on a test machine.
"""

import base64
import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from harness.network import listening

REGION = "eu-central-1"
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",  # moto accepts any value
    "AWS_SESSION_TOKEN": "testing",
}


@dataclass
class MotoServer:
    port: int
    region: str = REGION

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def env(self) -> dict[str, str]:
        """Variables that point AWS clients (boto3, awscli) at this server."""
        return {
            **FAKE_CREDENTIALS,
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_ENDPOINT_URL": self.endpoint_url,
        }

    def ecr(self):
        import boto3

        return boto3.client(
            "ecr",
            region_name=self.region,
            endpoint_url=self.endpoint_url,
            aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            aws_session_token=FAKE_CREDENTIALS["AWS_SESSION_TOKEN"],
        )

    def ecr_credentials(self) -> tuple[str, str]:
        """(username, password) from ECR GetAuthorizationToken (``aws ecr get-login-password``)."""
        token = self.ecr().get_authorization_token()["authorizationData"][0]["authorizationToken"]
        username, _, password = base64.b64decode(token).decode().partition(":")
        return username, password


@contextlib.contextmanager
def running_moto(log_dir: Path | None = None) -> Iterator[MotoServer]:
    """Start ``moto_server`` on 127.0.0.1 and a free port; stop its process group afterwards."""
    log = open(log_dir / "moto.log", "wb") if log_dir else subprocess.DEVNULL  # noqa: SIM115
    env = {**os.environ, **FAKE_CREDENTIALS}

    def moto(port: int) -> list[str]:
        return [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]

    try:
        with listening(moto, timeout=30, stdout=log, stderr=subprocess.STDOUT, env=env) as port:
            yield MotoServer(port=port)
    finally:
        if log_dir:
            log.close()
