"""Verified before every write (ci.trust): ``deploy --verify-image`` and ``promote
--verify-image`` against the real registry, signed with the real cosign, with the public key
committed on the gitops branch. What fails is refused in one line, and nothing is pushed."""

import json
import os
from pathlib import Path

import pytest

from app import SERVICE_NAME
from ci import provenance, signing
from ci.errors import CiError
from ci.gitlab import GitLabContext
from ci.registry import ImageRef
from ci.signing import SigningKey
from ci.trust import configured_key
from tests.support.cli import run_ci
from tests.support.git_remotes import Remote, git, make_bare_remote, make_source_repo, show
from tests.support.registry import running_registry
from tests.support.signing import (
    SOURCE,
    pipeline_env,
    push_image,
    registry_env,
)

USER, PASSWORD = "ci", "registry-Secret-41"
DENIED = ": nothing committed\n"


def test_the_configured_key_file_wins_over_the_committed_one(tmp_path: Path) -> None:
    path = tmp_path / "other.pub"
    path.write_text("other key")
    assert configured_key({"COSIGN_PUBLIC_KEY_FILE": str(path)}, "committed").text == "other key"
    assert configured_key({}, "committed").origin == "gitops/cosign.pub"
    assert configured_key({}, None) is None
    assert configured_key({}, "  \n") is None
    with pytest.raises(CiError, match=r"^COSIGN_PUBLIC_KEY_FILE: cannot read"):
        configured_key({"COSIGN_PUBLIC_KEY_FILE": str(tmp_path / "missing.pub")}, None)


@pytest.fixture
def registry(tmp_path):
    with running_registry(tmp_path / "registry", USER, PASSWORD) as running:
        yield running


def signed_remote(tmp_path: Path, public_key: Path | None, repository: str = "") -> Remote:
    """A project-shaped remote whose main has ``gitops/cosign.pub`` (when given), and whose
    environments name ``repository`` (when given) as their image repository."""
    source = make_source_repo(tmp_path / "source", commits=6)
    for values in (source.path / "gitops").glob("*/values.yaml"):
        if repository:
            old = f"registry.example/{SERVICE_NAME}"
            values.write_text(values.read_text().replace(old, repository))
    if public_key is not None:
        (source.path / "gitops" / "cosign.pub").write_text(public_key.read_text())
    git("add", "-A", cwd=source.path)
    git("commit", "-q", "--allow-empty", "-m", "the project's signing key", cwd=source.path)
    return Remote(source, make_bare_remote(source.path, tmp_path / "remotes" / "project.git"))


@pytest.mark.integration
class TestDeploy:
    @pytest.fixture(autouse=True)
    def setup(self, tmp_path, keys, registry) -> None:
        self.keys, self.registry = keys, registry
        self.repository = f"{registry.host}/{SERVICE_NAME}"
        self.remote = signed_remote(tmp_path, keys["project"].public, self.repository)
        self.tag = self.remote.source.short(4)
        self.commit = self.remote.source.commits[4]
        self.digest = push_image(registry, SERVICE_NAME, self.tag, {"app/v": self.tag.encode()})
        self.scratch = tmp_path

    def env(self, **extra: str) -> dict[str, str]:
        return {
            **registry_env(self.registry),
            "CI_PROJECT_URL": SOURCE,
            "IMAGE_REPOSITORY": self.repository,
            "IMAGE_TAG": self.tag,
            "IMAGE_DIGEST": self.digest,
            **extra,
        }

    def sign(self, digest: str, key: str = "project", commit: str = "", source: str = SOURCE):
        """Sign ``digest`` and attest a provenance of ``commit`` from ``source`` (cosign)."""
        pair = self.keys[key]
        environ = {**os.environ, **registry_env(self.registry), "COSIGN_PASSWORD": pair.password}
        image = ImageRef.parse(f"{self.repository}:{self.tag}")
        reference = f"{self.repository}@{digest}"
        context = GitLabContext.from_environ(pipeline_env(commit or self.commit, source))
        facts = provenance.facts_from_gitlab(context, image.reference, digest)
        path = self.scratch / "provenance.json"
        path.write_text(json.dumps(provenance.predicate(facts)))
        with signing.registry_access(image, environ) as access:
            signing.sign(reference, access, SigningKey(str(pair.private)))
            signing.attest(
                reference, access, SigningKey(str(pair.private)), "slsaprovenance1", path
            )

    def deploy(self, **extra: str):
        before = git("rev-parse", "main", cwd=self.remote.bare).strip()
        args = ("deploy", "--repo", self.remote.url, "--env", "dev", "--verify-image")
        result = run_ci(*args, env=self.env(**extra))
        pushed = git("rev-parse", "main", cwd=self.remote.bare).strip() != before
        return result, pushed

    def refused(self, why: str) -> None:
        result, pushed = self.deploy()
        assert (result.returncode, pushed) == (1, False), result.stderr
        assert result.stderr == f"error: {why}{DENIED}"

    def test_a_signed_image_with_its_provenance_deploys(self) -> None:
        self.sign(self.digest)
        result, pushed = self.deploy()
        assert (result.returncode, pushed) == (0, True), result.stderr
        assert f'  digest: "{self.digest}"' in show(self.remote.bare, "gitops/dev/values.yaml")
        assert PASSWORD not in result.stdout + result.stderr

    def test_an_unsigned_digest_is_refused(self) -> None:
        self.refused(
            f"image {self.repository}@{self.digest} is not signed with gitops/cosign.pub:"
            " no signatures found"
        )

    def test_a_digest_signed_by_another_key_is_refused(self) -> None:
        self.sign(self.digest, key="other")
        self.refused(
            f"image {self.repository}@{self.digest} is not signed with gitops/cosign.pub:"
            " no matching signatures: invalid signature when validating ASN.1 encoded signature"
        )

    def test_provenance_from_another_commit_is_refused(self) -> None:
        other = self.remote.source.commits[2]
        self.sign(self.digest, commit=other)
        self.refused(
            f"image {self.repository}@{self.digest} provenance does not match: commit is"
            f" '{other}', not the commit of tag {self.tag}"
        )

    def test_provenance_from_another_repository_is_refused(self) -> None:
        fork = "https://gitlab.example.com/someone/fork"
        self.sign(self.digest, source=fork)
        self.refused(
            f"image {self.repository}@{self.digest} provenance does not match: source"
            f" repository is '{fork}', not {SOURCE}"
        )

    def test_a_tag_re_pointed_to_another_digest_is_refused(self) -> None:
        self.sign(self.digest)
        moved = push_image(self.registry, SERVICE_NAME, self.tag, {"app/v": b"someone else's"})
        self.refused(
            f"the registry has {moved} for {self.repository}:{self.tag}, not the digest given"
            f" ({self.digest})"
        )

    def test_a_signature_without_provenance_is_refused(self) -> None:
        pair = self.keys["project"]
        environ = {**os.environ, **registry_env(self.registry), "COSIGN_PASSWORD": pair.password}
        image = ImageRef.parse(f"{self.repository}:{self.tag}")
        with signing.registry_access(image, environ) as access:
            signing.sign(f"{self.repository}@{self.digest}", access, SigningKey(str(pair.private)))
        result, pushed = self.deploy()
        assert (result.returncode, pushed) == (1, False)
        assert result.stderr.startswith(
            f"error: image {self.repository}@{self.digest} has no SLSA provenance signed with"
            " gitops/cosign.pub: "
        )
        assert result.stderr.endswith(DENIED)

    def test_promote_verifies_what_it_copies(self) -> None:
        self.sign(self.digest, key="other")
        deployed, _ = self.deploy(COSIGN_PUBLIC_KEY_FILE=str(self.keys["other"].public))
        assert deployed.returncode == 0, deployed.stderr
        before = git("rev-parse", "main", cwd=self.remote.bare).strip()
        args = ("promote", "--repo", self.remote.url, "--from", "dev", "--to", "prod")
        result = run_ci(*args, "--verify-image", env=self.env())
        assert result.returncode == 1
        assert result.stderr.startswith(
            f"error: image {self.repository}@{self.digest} is not signed"
        )
        assert git("rev-parse", "main", cwd=self.remote.bare).strip() == before


@pytest.mark.integration
def test_without_a_committed_key_the_registry_check_alone_runs_and_says_so(tmp_path, registry):
    remote = signed_remote(tmp_path, None)
    tag = remote.source.short(3)
    repository = f"{registry.host}/{SERVICE_NAME}"
    push_image(registry, SERVICE_NAME, tag, {"app/v": b"1"})
    args = ("deploy", "--repo", remote.url, "--env", "dev", "--tag", tag, "--verify-image")
    result = run_ci(*args, env={**registry_env(registry), "IMAGE_REPOSITORY": repository})
    assert result.returncode == 0, result.stderr
    assert (
        f"warning: signature of {repository}:{tag} not verified: no gitops/cosign.pub on the"
        " branch and COSIGN_PUBLIC_KEY_FILE is not set\n"
    ) in result.stderr


@pytest.mark.integration
def test_check_verifies_each_new_image_with_the_target_branch_key(tmp_path, keys, registry):
    """``check --verify-image`` (ci.gitops.review): an image a merge request adds must be signed
    with the key committed on the target branch; one violation line per image that is not."""
    from ci.gitops.review import _verify_new_images
    from ci.gitops.runs import EnvRun, Runs

    tag = "0123abcd"
    repository = f"{registry.host}/{SERVICE_NAME}"
    digest = push_image(registry, SERVICE_NAME, tag, {"app/v": b"1"})
    reference = f"{repository}:{tag}@{digest}"
    before = Runs({"prod": EnvRun("prod", "", frozenset())})
    after = Runs({"prod": EnvRun("prod", "", frozenset({reference}))})
    environ = {**os.environ, **registry_env(registry), "CI_PROJECT_URL": SOURCE}
    committed = keys["project"].public.read_text()
    violations, _ = _verify_new_images(before, after, environ, committed)
    assert [v.line() for v in violations] == [
        f"prod: image {repository}@{digest} is not signed with gitops/cosign.pub:"
        " no signatures found"
    ]
    violations, notices = _verify_new_images(before, after, environ, None)
    assert violations == []
    assert notices[-1].startswith(f"signature of {reference} not verified: no gitops/cosign.pub")
