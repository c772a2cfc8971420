"""Fixtures shared by the tests of ``ci``'s signing and its verification."""

import pytest

from tests.support.signing import KeyPair, generate_key_pair


@pytest.fixture(scope="module")
def keys(tmp_path_factory) -> dict[str, KeyPair]:
    """Two cosign key pairs: the project's, and another that signs what must be refused."""
    folder = tmp_path_factory.mktemp("keys")
    return {name: generate_key_pair(folder / name) for name in ("project", "other")}
