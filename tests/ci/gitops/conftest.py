"""Fixtures of the write-back's I/O tests: a secret of the test's own (the scans of /proc must not
see another test's processes), and the remote served over smart HTTP with it (nginx, basic auth)."""

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.git_remotes import Remote, http_git_server

# Every character the issue names, and then some: / # ? \ % $ " ' spaces, a colon, non-ASCII.
SECRET = "p/#?\\ %$\"' x:é\\n@&+=t0ken"


@pytest.fixture
def secret() -> str:
    return f"{SECRET}-{secrets.token_hex(8)}"


@pytest.fixture
def deployer_remote(remote: Remote, tmp_path: Path, secret: str) -> Iterator[tuple[Remote, str]]:
    """``remote`` over http://127.0.0.1 for the user ``deployer`` with the password ``secret``."""
    with http_git_server(remote.bare.parent, "deployer", secret, tmp_path / "nginx") as base:
        yield remote, f"{base}/{remote.bare.name}"
