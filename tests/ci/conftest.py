"""Fixtures shared by the tests of ``ci``: a project-shaped gitops remote (``remote``), ``python -m
ci`` in this process (``ci``), the Argo CD API stand-in ``wait`` talks to (``argocd``, over TLS
``argocd_tls`` with its ``test_ca``), and the cosign key pairs of the signing tests (``keys``)."""

import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.ci.wait.fake_argocd import Authority, FakeArgoCD, make_test_ca, serve
from tests.support.git_remotes import Remote, copy_remote, make_remote, pack
from tests.support.in_process import ci  # noqa: F401  (a fixture: `python -m ci` in-process)
from tests.support.signing import KeyPair, generate_key_pair


@pytest.fixture(scope="session")
def remote_template(tmp_path_factory: pytest.TempPathFactory) -> Remote:
    """The remote every ``remote`` copies (made once: its thirty git commands per test add up)."""
    template = make_remote(tmp_path_factory.mktemp("remote"))
    pack(template.source.path, template.bare)
    return template


@pytest.fixture
def remote(remote_template: Remote, tmp_path: Path) -> Remote:
    return copy_remote(remote_template, tmp_path)


@pytest.fixture
def argocd() -> Iterator[FakeArgoCD]:
    yield from serve(FakeArgoCD())


@pytest.fixture
def test_ca(tmp_path: Path) -> Authority:
    return make_test_ca(tmp_path)


@pytest.fixture
def argocd_tls(test_ca: Authority) -> Iterator[FakeArgoCD]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(test_ca.cert, test_ca.key)
    yield from serve(FakeArgoCD(), context)


@pytest.fixture(scope="module")
def keys(tmp_path_factory) -> dict[str, KeyPair]:
    """Two cosign key pairs: the project's, and another that signs what must be refused."""
    folder = tmp_path_factory.mktemp("keys")
    return {name: generate_key_pair(folder / name) for name in ("project", "other")}
