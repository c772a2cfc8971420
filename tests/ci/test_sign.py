"""``ci.sign``'s checks before anything is signed, with no signing tool (in this process): the
image must be in the registry, a commit-like tag must be the commit this pipeline built, the
committed public key is read from the checkout. ``python -m ci sign`` against the real registry
with the real cosign and syft: tests/ci/commands/test_sign.py."""

from pathlib import Path

import pytest

from ci.errors import CiError, UsageError
from ci.gitlab import GitLabContext
from ci.provenance import PUBLIC_KEY_PATH
from ci.registry import ImageRef
from ci.sign import build_facts, committed_key, pushed_digest
from tests.support.registry import recording_server

DIGEST = "sha256:" + "ab" * 32
PIPELINE = GitLabContext(
    project_url="https://gitlab.example/acme/shop", commit_sha="0123abcd" + "5" * 32
)


def test_an_image_the_registry_does_not_have_is_not_signed() -> None:
    with recording_server(status=404) as registry:
        image = ImageRef.parse(f"{registry.host}/shop:0123abcd")
        with pytest.raises(CiError) as raised:
            pushed_digest(image, DIGEST, {"REGISTRY_INSECURE": "true"})
    assert str(raised.value) == f"image {image.reference} not found in the registry: nothing signed"


def test_a_commit_like_tag_must_be_the_commit_the_pipeline_built() -> None:
    ours = ImageRef.parse("registry.example/shop:0123abcd")
    facts = build_facts(ours, DIGEST, PIPELINE)
    assert (facts.digest, facts.commit) == (DIGEST, PIPELINE.commit_sha)
    other = ImageRef.parse("registry.example/shop:99998888")
    with pytest.raises(UsageError) as raised:
        build_facts(other, DIGEST, PIPELINE)
    assert str(raised.value) == (
        f"tag 99998888 is not the commit {PIPELINE.commit_sha} this pipeline built"
    )
    assert build_facts(ImageRef.parse("registry.example/shop:v1.2"), DIGEST, PIPELINE)


def test_the_committed_public_key_is_read_from_the_checkout(tmp_path: Path) -> None:
    assert committed_key(tmp_path) is None
    key = tmp_path / PUBLIC_KEY_PATH
    key.parent.mkdir(parents=True)
    key.write_text("-----BEGIN PUBLIC KEY-----\n...\n")
    assert committed_key(tmp_path) == "-----BEGIN PUBLIC KEY-----\n...\n"
